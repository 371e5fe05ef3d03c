"""A transcript's turns against another rendering of it, and carrying work to new units.

Two pure pieces used by import, ``segment --resegment`` and ``speakers set``:

- ``compare_turns``: are two transcripts the same conversation (same speakers saying
  the same words, turn by turn), whatever the file format? If not, a summary of what
  differs, for one line of an error message.
- ``plan_carry_over``: when a transcript's units are re-made (new segmentation, new
  roles, or a new rendering of its text), each old unit that holds work (codings,
  review decisions) goes to the new unit that overlaps it most. Offsets of the old
  text are first mapped onto the new text word by word, so a .vtt replacing a .txt
  keeps its codings where the words are the same.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from .model import MeaningUnit, Transcript

_SPACE = re.compile(r"\s+")
_TOKEN = re.compile(r"\S+")
_EDGE_PUNCTUATION = "\"'“”‘’.,;:!?()[]…-–—"
MAX_DIFF_EXAMPLES = 3


def normalise(text: str) -> str:
    """Whitespace collapsed and trimmed: what differs only in rendering compares equal."""
    return _SPACE.sub(" ", text).strip()


def turn_keys(transcript: Transcript) -> list[tuple[str, str]]:
    """(speaker, normalised text) of each turn, in order; one speaker's consecutive turns count as one.

    Captions (.vtt/.srt) merge a speaker's consecutive cues, so a table's two rows in a
    row by one speaker are the same turn as far as any format can tell.
    """
    keys: list[tuple[str, str]] = []
    for turn in transcript.turns:
        speaker, text = normalise(turn.speaker), normalise(transcript.turn_text(turn))
        if keys and keys[-1][0] == speaker:
            keys[-1] = (speaker, f"{keys[-1][1]} {text}")
        else:
            keys.append((speaker, text))
    return keys


@dataclass(frozen=True)
class TurnComparison:
    """How a new rendering's turns differ from the stored ones."""

    stored_turns: int  # after joining one speaker's consecutive turns
    new_turns: int
    differing: int  # turns on either side that have no equal partner
    same_words: bool  # the words agree; only who said them or where turns break differs
    examples: tuple[str, ...]

    @property
    def same(self) -> bool:
        return self.differing == 0

    def summary(self) -> str:
        words = "same words" if self.same_words else "different words"
        shown = "; ".join(self.examples)
        more = f"; and {self.differing - len(self.examples)} more" if self.differing > len(self.examples) else ""
        return (f"{words}, {self.differing} turns differ ({self.stored_turns} turns stored, {self.new_turns} in this file): "
                f"{shown}{more}")


def compare_turns(stored: Transcript, new: Transcript) -> TurnComparison:
    """Compare turn by turn (speaker and normalised text), aligning the two sequences."""
    old_keys, new_keys = turn_keys(stored), turn_keys(new)
    matcher = SequenceMatcher(None, old_keys, new_keys, autojunk=False)
    differing = 0
    examples: list[str] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        differing += max(i2 - i1, j2 - j1)
        for offset in range(max(i2 - i1, j2 - j1)):
            if len(examples) >= MAX_DIFF_EXAMPLES:
                break
            old = old_keys[i1 + offset] if i1 + offset < i2 else None
            now = new_keys[j1 + offset] if j1 + offset < j2 else None
            examples.append(_describe(i1 + offset + 1, j1 + offset + 1, old, now))
    old_words = " ".join(text for _, text in old_keys).split()
    new_words = " ".join(text for _, text in new_keys).split()
    return TurnComparison(len(old_keys), len(new_keys), differing, old_words == new_words, tuple(examples))


def _describe(old_number: int, new_number: int, old, now) -> str:
    if old is None:
        return f"turn {new_number} only in this file ({now[0]}: {_clip(now[1])!r})"
    if now is None:
        return f"turn {old_number} only in the project ({old[0]}: {_clip(old[1])!r})"
    if old[1] == now[1]:
        return f"turn {old_number} speaker {old[0]!r} vs {now[0]!r}"
    if old[0] == now[0]:
        at = _first_difference(old[1], now[1])
        return f"turn {old_number} ({old[0]}) text {_clip(old[1], at)!r} vs {_clip(now[1], at)!r}"
    return f"turn {old_number} {old[0]!r} {_clip(old[1])!r} vs {now[0]!r} {_clip(now[1])!r}"


def _first_difference(a: str, b: str) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def _clip(text: str, at: int = 0, width: int = 40) -> str:
    """About ``width`` characters of ``text`` from a little before ``at`` (where two texts part)."""
    start = max(0, at - 10)
    piece = text[start : start + width]
    return ("…" if start else "") + piece + ("…" if start + width < len(text) else "")


# --- carrying work from old units to new ones ----------------------------------------


class TextMap:
    """Maps character spans of an old text onto a new text through the words they share."""

    def __init__(self, old: str, new: str):
        self.identical = old == new
        if self.identical:
            return
        old_tokens = [(m.start(), m.end(), _word(m.group())) for m in _TOKEN.finditer(old)]
        new_tokens = [(m.start(), m.end(), _word(m.group())) for m in _TOKEN.finditer(new)]
        matcher = SequenceMatcher(None, [t[2] for t in old_tokens], [t[2] for t in new_tokens], autojunk=False)
        self._old = old_tokens
        self._target: dict[int, tuple[int, int]] = {}
        for block in matcher.get_matching_blocks():
            for k in range(block.size):
                start, end, _ = new_tokens[block.b + k]
                self._target[block.a + k] = (start, end)
        self._starts = [t[0] for t in old_tokens]

    def span(self, start: int, end: int) -> tuple[int, int] | None:
        """The new span covering the words of ``[start, end)`` that the new text kept, or None."""
        if self.identical:
            return start, end
        first = max(0, bisect_right(self._starts, start) - 1)
        last = bisect_left(self._starts, end)
        hits = [self._target[i] for i in range(first, last)
                if i in self._target and self._old[i][1] > start and self._old[i][0] < end]
        if not hits:
            return None
        return hits[0][0], hits[-1][1]


def _word(token: str) -> str:
    return token.strip(_EDGE_PUNCTUATION).casefold() or token


@dataclass(frozen=True)
class Held:
    """Work that sits on an old unit and must not be lost: a coding or a review decision."""

    unit_id: int
    description: str  # e.g. "coding 'trust' by anna"
    span: tuple[int, int] | None = None  # a coding's own span, mapped like the unit
    coding_id: int | None = None


@dataclass(frozen=True)
class CarryPlan:
    moves: dict[int, int]  # old unit id -> index of its new unit
    spans: dict[int, tuple[int, int]]  # coding id -> its own span in the new text
    homeless: tuple[str, ...]  # what would be lost, described


def plan_carry_over(
    old_units: Sequence[MeaningUnit],
    new_units: Sequence[MeaningUnit],
    held: Sequence[Held],
    text_map: TextMap,
) -> CarryPlan:
    """Each old unit holding work goes to the new unit overlapping (the image of) it most.

    Ties go to the earlier new unit. What has no overlapping new unit is listed in
    ``homeless``: the caller refuses rather than lose it.
    """
    by_id = {u.id: u for u in old_units}
    moves: dict[int, int] = {}
    spans: dict[int, tuple[int, int]] = {}
    homeless: list[str] = []
    for item in held:
        old = by_id[item.unit_id]
        where = f"characters {old.start}-{old.end}"
        if item.unit_id not in moves:
            target = _best_unit(text_map.span(old.start, old.end), new_units)
            if target is None:
                homeless.append(f"{item.description} on {where}")
                continue
            moves[item.unit_id] = target
        if item.span is not None and not text_map.identical:
            mapped = text_map.span(*item.span)
            if mapped is None:
                homeless.append(f"{item.description} on {where} (its span's words are gone)")
            else:
                spans[item.coding_id] = mapped
    return CarryPlan(moves, spans, tuple(homeless))


def _best_unit(span: tuple[int, int] | None, new_units: Sequence[MeaningUnit]) -> int | None:
    if span is None:
        return None
    start, end = span
    best, best_overlap = None, 0
    for index, unit in enumerate(new_units):
        overlap = min(end, unit.end) - max(start, unit.start)
        if overlap > best_overlap:
            best, best_overlap = index, overlap
    return best
