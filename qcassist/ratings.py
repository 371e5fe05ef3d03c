"""Who coded what: each coder's codes on the project's meaning units, lined up for agreement.

Any coders in the project can be compared: people, an adjudicated reference, and the
model (coder name ``model``, or ``model:VERSION``), whose codes are its stored
suggestions. Items are the project's meaning units. A coding made on the coder's own
span (another tool's cut) counts on every unit it overlaps by at least ``min_overlap``
of the unit or of the span (MAXQDA-style alignment); a span that reaches no unit is
counted as unaligned, never silently dropped.

A person who coded anything in a transcript has judged every unit there: a unit they left
uncoded is the category "(none)". In a transcript they never touched they are missing
data. The model judged exactly the units ``suggest`` ran on (a unit it ran on without
suggesting anything is "(none)"); elsewhere it is missing. By default only units a person
coded are items (uncoded text is not free agreement, and the model's suggestions alone do
not pick the items it is judged on); ``include_uncoded`` counts every unit some coder judged.

``origin`` chooses which of a person's codings count: ``human`` (the default of ``agree``)
those they made directly — imported or hand-coded, and adjudication settlements — so
units reached only by reviewing the model's suggestions do not count against the other
coders; ``review`` only the reviewed ones; ``any`` all.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .codebook import did_you_mean
from .decisions import standing
from .errors import QcaError
from .model import MIN_SPAN_OVERLAP, Codebook, Coding, MeaningUnit, span_codes_unit
from .store import Store

MODEL_CODER = "model"
ADJUDICATOR = "adjudicated"  # adjudication's default coder name (qcassist.adjudication.ADJUDICATED)
DEFAULT_MIN_OVERLAP = MIN_SPAN_OVERLAP
ORIGINS = ("human", "review", "any")
DEFAULT_ORIGIN = "human"


class AgreementError(QcaError):
    """The comparison asked for cannot be made (unknown coder, nothing in common)."""


def is_model(coder: str) -> bool:
    return coder == MODEL_CODER or coder.startswith(MODEL_CODER + ":")


def derived_coders(store: Store) -> set[str]:
    """Coders whose codes are derived from other coders': the adjudicators (``adjudicated``, or any coder
    with an adjudication settlement, which 'review --adjudicate' records with a memo 'adjudicated ...')."""
    found = {ADJUDICATOR} & {c["coder"] for c in store.coders()}
    return found | {d.coder for d in store.decisions() if _is_settlement(d)}


def _is_settlement(decision) -> bool:
    """The shape 'adjudicate' gives a settlement: add/reject of no suggestion, memo 'adjudicated: …' or 'adjudicated by …:'."""
    memo = decision.memo or ""
    return (decision.action in ("add", "reject") and decision.suggested_code is None
            and (memo.startswith(f"{ADJUDICATOR}: ") or memo.startswith(f"{ADJUDICATOR} by ")))


# --- who coded what ------------------------------------------------------------------


@dataclass(frozen=True)
class Ratings:
    """Each coder's code set on each item (None: the coder did not judge that item)."""

    coders: tuple[str, ...]
    units: tuple[MeaningUnit, ...]
    labels: dict[str, tuple[frozenset[str] | None, ...]]
    unaligned: dict[str, int]
    codes: tuple[str, ...]  # the codes compared (leaves), in codebook order
    model_version: str | None = None  # the model version whose judgements are compared, when the model is a coder

    @property
    def transcripts(self) -> np.ndarray:
        return np.array([u.transcript_id for u in self.units], dtype=np.int64)

    @property
    def multi_label(self) -> bool:
        return any(len(label) > 1 for labels in self.labels.values() for label in labels if label is not None)


def collect_ratings(
    store: Store,
    coders: Sequence[str],
    *,
    codes: Sequence[str] = (),
    transcripts: Sequence[str] = (),
    min_overlap: float = DEFAULT_MIN_OVERLAP,
    include_uncoded: bool = False,
    origin: str = "any",
) -> Ratings:
    """Line the coders' work up on the project's units."""
    if len(coders) < 2:
        raise AgreementError("agreement needs at least two coders (--coders A,B).")
    if len(set(coders)) != len(coders):
        raise AgreementError(f"a coder is named twice in {', '.join(coders)}.")
    if not 0 < min_overlap <= 1:
        raise AgreementError(f"--min-overlap {min_overlap} must be above 0 and at most 1.")
    if origin not in ORIGINS:
        raise AgreementError(f"--origin {origin!r} must be one of {', '.join(ORIGINS)}.")
    codebook = store.codebook()
    compared_codes = tuple(_compared_codes(codebook, codes))
    compared = set(compared_codes)
    units = _units_in(store, transcripts)
    unit_by_id = {u.id: u for u in units}
    by_transcript: dict[int, list[MeaningUnit]] = defaultdict(list)
    for unit in units:
        by_transcript[unit.transcript_id].append(unit)
    known = {c["coder"] for c in store.coders()}
    coded: dict[str, dict[int, set[str]]] = {}
    judged: dict[str, Callable[[MeaningUnit], bool]] = {}
    unaligned: dict[str, int] = {}
    version = None
    for coder in coders:
        if is_model(coder):
            coded[coder], model_units, version = _model_codes(store, coder, codebook)
            judged[coder] = lambda u, mine=model_units: u.id in mine
            unaligned[coder] = 0
        elif coder in known:
            coded[coder], covered, unaligned[coder] = _coder_codes(
                _codings_of(store, coder, origin), by_transcript, min_overlap, unit_by_id
            )
            judged[coder] = lambda u, mine=covered: u.transcript_id in mine
        else:
            raise AgreementError(
                f"no coder {coder!r} in this project.{did_you_mean(coder, sorted(known) + [MODEL_CODER])} "
                "Coders: " + (", ".join(sorted(known)) or "none") + "; the model is 'model'."
            )
        coded[coder] = {unit: kept for unit, found in coded[coder].items() if (kept := found & compared)}
    people = [c for c in coders if not is_model(c)]
    items = [
        u for u in units
        if any(u.id in coded[c] for c in people) or (include_uncoded and any(judged[c](u) for c in coders))
    ]
    # a unit only one coder judged compares nothing: it is not counted among the units compared
    items = [u for u in items if sum(judged[c](u) for c in coders) >= 2]
    if not items or any(is_model(c) and not any(judged[c](u) for u in items) for c in coders):
        raise AgreementError(_nothing_shared(coders, origin))
    labels = {
        coder: tuple(frozenset(coded[coder].get(u.id, ())) if judged[coder](u) else None for u in items)
        for coder in coders
    }
    return Ratings(tuple(coders), tuple(items), labels, unaligned, compared_codes, version)


def _nothing_shared(coders: Sequence[str], origin: str) -> str:
    """What to do when the coders judged no unit in common."""
    people = [c for c in coders if not is_model(c)]
    if len(people) < len(coders):
        return (f"the model judged none of the units {' or '.join(people)} coded ('qcassist suggest' skips coded units): "
                "run 'qcassist suggest --all' to score them too (in-sample figures), or 'qcassist evaluate' for "
                "cross-validated ones.")
    hint = " (only direct codings count; --origin any counts reviewed ones too)" if origin == "human" else ""
    return f"{' and '.join(coders)} coded no units in common transcripts{hint}; nothing to compare."


def _codings_of(store: Store, coder: str, origin: str) -> list[Coding]:
    """The coder's codings of the chosen origin.

    Direct ("human") codings are the ones a person made themselves: imported or hand-coded,
    and review codings whose decision answered no suggestion (adjudication settlements).
    """
    codings = store.codings(coders=[coder])
    if origin == "any":
        return codings
    unprompted = {d.unit_id for d in standing(store.decisions(coder=coder))
                  if d.model_version is None and d.suggested_code is None}
    if origin == "human":
        return [c for c in codings if c.origin == "human" or (c.origin == "review" and c.unit_id in unprompted)]
    return [c for c in codings if c.origin == "review" and c.unit_id not in unprompted]


def _compared_codes(codebook: Codebook, requested: Sequence[str]) -> list[str]:
    """Leaf codes to compare; a group stands for all codes under it."""
    leaves = [c.name for c in codebook.leaves]
    if not requested:
        return leaves
    chosen: set[str] = set()
    for name in requested:
        if codebook.get(name) is None:
            raise AgreementError(f"unknown code {name!r} in --codes.{did_you_mean(name, [c.name for c in codebook.codes])}")
        chosen.update(leaf for leaf in leaves if name in codebook.path(leaf))
    return [leaf for leaf in leaves if leaf in chosen]


def _units_in(store: Store, names: Sequence[str]) -> list[MeaningUnit]:
    if not names:
        return store.units()
    by_name = {t.name: t.id for t in store.transcripts()}
    units = []
    for name in names:
        if name not in by_name:
            raise AgreementError(f"no transcript named {name!r} in the project.{did_you_mean(name, list(by_name))}")
        units.extend(store.units(by_name[name]))
    return units


def _coder_codes(
    codings: list[Coding], by_transcript: dict[int, list[MeaningUnit]], min_overlap: float, units: dict[int, MeaningUnit]
) -> tuple[dict[int, set[str]], set[int], int]:
    """A person's codes per unit; codings on their own span are aligned to the units they overlap."""
    coded: dict[int, set[str]] = defaultdict(set)
    covered: set[int] = set()
    unaligned = 0
    for coding in codings:
        home = units.get(coding.unit_id)
        if home is None:  # a transcript left out of the comparison
            continue
        covered.add(home.transcript_id)
        if coding.start is None:
            coded[home.id].add(coding.code)
            continue
        hits = [u for u in by_transcript[home.transcript_id] if span_codes_unit(u, coding.start, coding.end, min_overlap)]
        unaligned += not hits
        for unit in hits:
            coded[unit.id].add(coding.code)
    return coded, covered, unaligned


def _model_codes(store: Store, coder: str, codebook: Codebook) -> tuple[dict[int, set[str]], set[int], str | None]:
    """The model's codes per unit (its stored suggestions; the top one for an exclusive codebook),
    the units it judged, and the model version.

    ``model`` is the latest ``suggest`` run: it judged the units it ran on, suggested or not,
    and not the coded units it skipped. ``model:VERSION`` judged the units it left suggestions on.
    """
    version = coder.partition(":")[2] or None
    suggestions = [s for s in store.suggestions() if version is None or s.model_version == version]
    if not suggestions:
        which = f"model version {version!r}" if version else "the model"
        raise AgreementError(f"{which} has no stored suggestions; run 'qcassist suggest --all' first.")
    run = json.loads(store.setting("suggest.skipped_units") or "{}")
    if version is None and run.get("version"):
        version = run["version"]
        if "judged" in run:
            judged = set(run["judged"])
        else:  # projects from before suggest recorded what it judged: every unit it did not skip
            judged = {u.id for u in store.units()} - set(run.get("units", ()))
        suggestions = [s for s in suggestions if s.unit_id in judged]
    else:
        judged = {s.unit_id for s in suggestions}
        version = version or max(s.model_version for s in suggestions)
    best: dict[int, tuple[float, str]] = {}
    coded: dict[int, set[str]] = defaultdict(set)
    for s in suggestions:
        if codebook.exclusive:
            if s.unit_id not in best or s.strength > best[s.unit_id][0]:
                best[s.unit_id] = (s.strength, s.code)
        else:
            coded[s.unit_id].add(s.code)
    for unit_id, (_, code) in best.items():
        coded[unit_id].add(code)
    return coded, judged, version


def training_units(store: Store, version: str | None) -> set[int] | None:
    """The units whose codings trained this model version (None when its files are unreadable)."""
    if version is None:
        return None
    try:
        with np.load(store.directory / "classifiers" / version / "arrays.npz") as arrays:
            return set(arrays["exemplar_unit_ids"].tolist())
    except (OSError, KeyError, ValueError):
        return None
