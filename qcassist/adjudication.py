"""Disagreements between coders, and adjudication: a person settles each one.

The settled codes are stored as codings of their own coder (``adjudicated`` unless
named otherwise), made through review decisions, so they are durable once shown as
recorded, can be undone, and can serve as the reference in ``agree``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .agreement import DEFAULT_MIN_OVERLAP, collect_ratings
from .codebook import did_you_mean
from .decisions import decision_file_rows, row_unit_id, settled_units, standing
from .errors import InputError, QcaError
from .model import Decision
from .review.context import ContextTurn, UnitContext, context_turns, unit_context
from .store import Store

ADJUDICATED = "adjudicated"
DISAGREEMENT_FIELDS = ("unit_id", "transcript", "speaker", "start", "end", "text", "codes", "adjudicated", "before", "after")


@dataclass(frozen=True)
class Disagreement:
    """One unit where the chosen coders gave different codes (coders who did not judge it are left out)."""

    unit_id: int
    transcript: str
    speaker: str | None
    start: int
    end: int
    text: str
    codes: dict[str, tuple[str, ...]]  # coder → codes, () for "no code"
    before: tuple[ContextTurn, ...]
    after: tuple[ContextTurn, ...]
    adjudicated: tuple[str, ...] | None = None  # the settled codes, when already adjudicated
    context: UnitContext | None = None  # the whole turn and its neighbours, for the screen

    def as_row(self) -> dict:
        return {
            "unit_id": self.unit_id, "transcript": self.transcript, "speaker": self.speaker or "",
            "start": self.start, "end": self.end, "text": self.text,
            "codes": json.dumps({c: list(v) for c, v in self.codes.items()}, ensure_ascii=False),
            "adjudicated": "" if self.adjudicated is None else ";".join(self.adjudicated),
            "before": " / ".join(f"{t.speaker}: {t.text}" for t in self.before),
            "after": " / ".join(f"{t.speaker}: {t.text}" for t in self.after),
        }


def disagreements(
    store: Store,
    coders: Sequence[str],
    *,
    codes: Sequence[str] = (),
    transcripts: Sequence[str] = (),
    min_overlap: float = DEFAULT_MIN_OVERLAP,
    include_uncoded: bool = False,
    adjudicator: str = ADJUDICATED,
) -> list[Disagreement]:
    """Units where at least two of the coders judged differently, in transcript order."""
    ratings = collect_ratings(store, coders, codes=codes, transcripts=transcripts, min_overlap=min_overlap,
                              include_uncoded=include_uncoded)
    settled = _adjudicated_codes(store, adjudicator)
    transcript, around = None, []  # the units come in transcript order: their transcripts are read one at a time
    found = []
    for column, unit in enumerate(ratings.units):
        judged = {c: ratings.labels[c][column] for c in coders if ratings.labels[c][column] is not None}
        if len(set(judged.values())) < 2:
            continue
        if transcript is None or transcript.id != unit.transcript_id:
            transcript = store.transcript(unit.transcript_id)
            around = context_turns(transcript)
        turn = unit.turn_index if unit.turn_index is not None else 0
        found.append(Disagreement(
            unit.id, transcript.name, unit.speaker, unit.start, unit.end, unit.text_in(transcript),
            {c: tuple(sorted(v)) for c, v in judged.items()},
            tuple(ContextTurn(t.speaker, transcript.turn_text(t)) for t in transcript.turns[max(0, turn - 2):turn]),
            tuple(ContextTurn(t.speaker, transcript.turn_text(t)) for t in transcript.turns[turn + 1:turn + 3]),
            settled.get(unit.id),
            unit_context(transcript, unit, around=around),
        ))
    return found


def copy_agreed(
    store: Store, coders: Sequence[str], *, adjudicator: str = ADJUDICATED, codes: Sequence[str] = (),
    transcripts: Sequence[str] = (), min_overlap: float = DEFAULT_MIN_OVERLAP,
) -> int:
    """Give the adjudicator the codes the coders already agree on, so it is a complete reference.

    Units where every coder who judged them (at least two) gave the same codes get those
    codes as the adjudicator's codings; disagreements are left for a person. Idempotent.
    Returns how many codings were new.
    """
    from .model import Coding

    ratings = collect_ratings(store, coders, codes=codes, transcripts=transcripts, min_overlap=min_overlap)
    agreed = []
    for column, unit in enumerate(ratings.units):
        judged = [ratings.labels[c][column] for c in coders if ratings.labels[c][column] is not None]
        if len(judged) >= 2 and len(set(judged)) == 1:
            agreed += [Coding(unit.id, code, adjudicator, "human") for code in sorted(judged[0])]
    return store.add_codings(agreed)


def _adjudicated_codes(store: Store, adjudicator: str) -> dict[int, tuple[str, ...]]:
    """Unit → codes the adjudicator settled on (their latest standing decision per unit)."""
    settled = settled_units(store, adjudicator)
    latest: dict[int, Decision] = {}
    for decision in store.decisions(coder=adjudicator):
        if decision.unit_id in settled and decision.action in ("add", "reject"):
            latest[decision.unit_id] = decision
    return {unit: tuple(d.final_codes) for unit, d in latest.items()}


def adjudicate(
    store: Store, disagreement: Disagreement, codes: Sequence[str], *, adjudicator: str = ADJUDICATED, person: str = "",
    memo: str = "",
) -> Decision:
    """Settle one disagreement: ``codes`` (possibly none) become the adjudicator's coding of the unit.

    Committed before it returns. A unit adjudicated before is re-settled: the earlier
    decision is reversed in the same transaction.
    """
    codebook = store.codebook()
    leaves = [c.name for c in codebook.leaves]
    for code in codes:
        if code not in leaves:
            raise QcaError(f"unknown code {code!r}.{did_you_mean(code, leaves)}")
    if codebook.exclusive and len(codes) > 1:
        raise QcaError(f"the codebook is exclusive: settle unit {disagreement.unit_id} on one code, not {len(codes)}.")
    said = "; ".join(f"{c}={'+'.join(v) or '(none)'}" for c, v in disagreement.codes.items())
    note = f"adjudicated{f' by {person}' if person else ''}: {said}" + (f" — {memo}" if memo else "")
    with store.transaction():
        for earlier in _standing_decisions(store, adjudicator, disagreement.unit_id):
            store.record_decision(Decision(unit_id=earlier.unit_id, action="undo", coder=adjudicator, reverses=earlier.id))
        return store.record_decision(Decision(
            unit_id=disagreement.unit_id, action="add" if codes else "reject", coder=adjudicator,
            final_codes=tuple(codes), memo=note,
        ))


def _standing_decisions(store: Store, adjudicator: str, unit_id: int) -> list[Decision]:
    decisions = [d for d in store.decisions(coder=adjudicator) if d.unit_id == unit_id]  # an undo has its decision's unit
    return [d for d in standing(decisions) if d.action in ("add", "reject")]


@dataclass
class AdjudicationReport:
    settled: int
    remaining: int

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def apply_adjudication_file(
    store: Store, path: str | Path, items: list[Disagreement], *, adjudicator: str = ADJUDICATED, person: str = ""
) -> AdjudicationReport:
    """Settle disagreements from a CSV/JSONL with unit_id, codes (';'-separated, empty for none), memo; all or nothing."""
    by_unit = {d.unit_id: d for d in items}
    rows = decision_file_rows(path, required=("unit_id",))
    applied: set[int] = set()
    with store.transaction():
        for line, row in rows:
            unit_id = row_unit_id(row, path, line)
            if unit_id not in by_unit:
                raise InputError(str(path), f"unit {unit_id} is not a disagreement between these coders.", line=line, field="unit_id")
            raw = row.get("codes") or ""
            codes = raw if isinstance(raw, list) else [c.strip() for c in str(raw).split(";") if c.strip()]
            try:
                adjudicate(store, by_unit[unit_id], codes, adjudicator=adjudicator, person=person, memo=str(row.get("memo") or ""))
            except QcaError as exc:
                raise InputError(str(path), str(exc), line=line, field="codes") from None
            applied.add(unit_id)
    pending = {d.unit_id for d in items if d.adjudicated is None}
    return AdjudicationReport(settled=len(applied), remaining=len(pending - applied))
