"""The data model: plain dataclasses, no I/O.

Offsets are half-open character offsets into ``Transcript.text`` (like spaCy's
``Doc.char_span``): a unit's text is always ``transcript.text[start:end]`` and is
never stored twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Role = Literal["interviewer", "participant", "other"]
ROLES: tuple[str, ...] = ("interviewer", "participant", "other")

Origin = Literal["human", "model", "review"]
ORIGINS: tuple[str, ...] = ("human", "model", "review")


@dataclass(frozen=True, slots=True)
class Turn:
    """One speaker's uninterrupted talk, as a span of the transcript text."""

    speaker: str
    role: Role
    start: int
    end: int
    start_time: float | None = None  # seconds from the start of the recording
    end_time: float | None = None


@dataclass(frozen=True, slots=True)
class Transcript:
    """One interview: its normalized text and the speaker turns inside it."""

    name: str
    text: str
    turns: tuple[Turn, ...]
    source_path: str = ""
    content_hash: str = ""
    metadata: dict = field(default_factory=dict, hash=False, compare=False)
    id: int | None = None  # assigned by the store

    def turn_text(self, turn: Turn) -> str:
        return self.text[turn.start : turn.end]

    @property
    def participant_turns(self) -> tuple[Turn, ...]:
        return tuple(t for t in self.turns if t.role == "participant")


@dataclass(frozen=True, slots=True)
class MeaningUnit:
    """A passage that says one thing; its text is ``transcript.text[start:end]``."""

    transcript_id: int
    start: int
    end: int  # exclusive
    turn_index: int | None = None
    speaker: str | None = None
    id: int | None = None  # assigned by the store
    external_id: str | None = None  # an id from the source data (e.g. a coded CSV), kept verbatim

    def text_in(self, transcript: Transcript) -> str:
        return transcript.text[self.start : self.end]


MIN_SPAN_OVERLAP = 0.5  # a span codes a unit when it covers half the unit, or the unit half the span


def span_codes_unit(unit: MeaningUnit, start: int, end: int, min_overlap: float = MIN_SPAN_OVERLAP) -> bool:
    """Whether a coder's span ``[start, end)`` codes ``unit``: the characters they share are at least
    ``min_overlap`` of the unit or of the span (MAXQDA-style; one rule for import-spans, .qdpx and agree)."""
    shared = min(unit.end, end) - max(unit.start, start)
    return shared > 0 and (shared >= min_overlap * (unit.end - unit.start) or shared >= min_overlap * (end - start))


@dataclass(frozen=True, slots=True)
class Code:
    """A node of the codebook: a code group, a subgroup or a code."""

    name: str
    parent: str | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class Codebook:
    """Codes in a hierarchy (code group → subgroup → code).

    ``exclusive``: each unit gets at most one leaf code (single-label); otherwise a
    unit may carry several (multi-label).
    """

    codes: tuple[Code, ...] = ()
    exclusive: bool = False

    def __post_init__(self) -> None:
        names = [c.name for c in self.codes]
        if len(set(names)) != len(names):
            dupes = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"duplicate code names: {', '.join(dupes)}")

    def get(self, name: str) -> Code | None:
        return next((c for c in self.codes if c.name == name), None)

    def children(self, name: str | None) -> tuple[Code, ...]:
        return tuple(c for c in self.codes if c.parent == name)

    @property
    def leaves(self) -> tuple[Code, ...]:
        """Codes that can be assigned to units: those without children."""
        parents = {c.parent for c in self.codes}
        return tuple(c for c in self.codes if c.name not in parents)

    def path(self, name: str) -> tuple[str, ...]:
        """Names from the top group down to ``name``."""
        by_name = {c.name: c for c in self.codes}
        path: list[str] = []
        seen: set[str] = set()
        current: str | None = name
        while current is not None:
            if current in seen:
                raise ValueError(f"the codebook has a cycle through {current!r}")
            seen.add(current)
            path.append(current)
            current = by_name[current].parent if current in by_name else None
        return tuple(reversed(path))


SuggestionSource = Literal["classifier", "exemplar", "description", "theme"]  # theme: an adopted theme's unit (themes/adopt.py)


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A code proposed for a unit by a model, with the coded units that justify it.

    ``source``: ``classifier`` sets ``probability`` (calibrated: of suggestions at 0.8,
    about 8 in 10 are right); ``exemplar`` (few examples: cosine similarity to the nearest
    of them) and ``description`` (no examples: similarity to the code's description) set
    ``score`` instead, which is not a probability. Exactly one of the two is set.
    """

    unit_id: int
    code: str
    probability: float | None
    model_version: str
    source: SuggestionSource = "classifier"
    rationale: tuple[int, ...] = ()  # ids of the most similar human-coded units
    created_at: str = ""
    id: int | None = None
    score: float | None = None

    @property
    def strength(self) -> float:
        """The probability, else the similarity score: for ranking a unit's suggestions, not for reading as a probability."""
        return self.probability if self.probability is not None else (self.score or 0.0)

    @property
    def shown(self) -> str:
        """How sure the model is, in a few characters: ``p=0.83`` or ``sim=0.41``."""
        return f"p={self.probability:.2f}" if self.probability is not None else f"sim={self.strength:.2f}"


Action = Literal["accept", "reject", "recode", "add", "skip", "undo"]
ACTIONS: tuple[str, ...] = ("accept", "reject", "recode", "add", "skip", "undo")


@dataclass(frozen=True, slots=True)
class Decision:
    """What a reviewer did with one suggestion; decisions are append-only history.

    accept: ``final_codes`` is (suggested code,); reject: () — an explicit negative for
    the suggested code; recode: the new code(s), a negative for the suggested one;
    add: an extra code for the unit; skip: nothing; undo: reverses decision ``reverses``.
    """

    unit_id: int
    action: Action
    coder: str
    suggested_code: str | None = None
    probability: float | None = None
    model_version: str | None = None
    final_codes: tuple[str, ...] = ()
    memo: str = ""
    reverses: int | None = None
    created_at: str = ""
    id: int | None = None


@dataclass(frozen=True, slots=True)
class Coding:
    """One code assigned to one meaning unit by one coder.

    ``start``/``end``: the coder's own span when it differs from the unit's (codings
    imported by character span or from another QDA tool); None means the whole unit.
    Kept so agreement can align differently cut units and exports return the exact span.
    """

    unit_id: int
    code: str
    coder: str
    origin: Origin = "human"
    created_at: str = ""  # ISO 8601, UTC
    id: int | None = None
    start: int | None = None
    end: int | None = None  # exclusive


@dataclass(frozen=True, slots=True)
class Condensate:
    """The analyst's condensation of one code group or subgroup (systematic text condensation).

    ``text`` is the analyst's own artificial quotation; qcassist never writes it.
    ``quote_unit``: the unit the analyst picked as the illustrative quotation (None: the
    most central unit is proposed).
    """

    code: str
    text: str = ""
    quote_unit: int | None = None
    updated_at: str = ""
