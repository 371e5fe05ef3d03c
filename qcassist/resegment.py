"""Re-making a transcript's meaning units without losing the work on them.

Units are re-made when a transcript is segmented again, when a speaker's role changes
(other turns yield units) and when a transcript is replaced by another rendering.
Each time, every old unit holding codings or review decisions goes to the new unit
that overlaps it most (``reconcile.plan_carry_over``): codings, decisions (append-only
history: moving points them at the new unit), a condensate's quotation and suggestion
rationales follow. If something would have no unit, the whole change is refused
before anything is written, naming what blocks it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from itertools import islice

import numpy as np

from .embed import Encoder
from .errors import ConflictError
from .model import MeaningUnit, Transcript
from .reconcile import CarryPlan, Held, TextMap, plan_carry_over
from .segment import SegmentOptions, load_nlp, segment, unit_sentences
from .store import Store

MAX_NAMED = 3


@dataclass(frozen=True)
class Change:
    """One transcript's units to re-make: its stored version, its new version (same id), how to cut it."""

    old: Transcript
    new: Transcript
    options: SegmentOptions


@dataclass
class UnitPlan:
    transcript: Transcript
    old_units: dict[int, MeaningUnit]
    units: list[MeaningUnit]
    segmentation: dict
    carry: CarryPlan
    held: list[Held]


def stored_options(segmentation: dict | None) -> SegmentOptions | None:
    """The options a transcript was last segmented with; None if never, or cut by another tool."""
    if not segmentation or segmentation.get("strategy") not in ("cohesive", "sentence", "turn"):
        return None
    known = {f.name for f in fields(SegmentOptions)}
    values = {k: v for k, v in segmentation.items() if k in known}
    if "roles" in values:
        values["roles"] = tuple(values["roles"])
    return SegmentOptions(**values)


def encoder_spec(segmentation: dict | None, fallback: str) -> str:
    """The --encoder value that reproduces a recorded segmentation's encoder (TF-IDF is per project)."""
    recorded = (segmentation or {}).get("encoder") or ""
    if recorded.startswith("static-m2v"):
        return "static"
    return "tfidf" if recorded.startswith("tfidf-lsa") else fallback


def held_work(store: Store, transcript_id: int) -> list[Held]:
    """Codings and review decisions on a transcript's units, in the order they were made."""
    unit_ids = {u.id for u in store.units(transcript_id)}
    held = [
        Held(c.unit_id, f"coding {c.code!r} by {c.coder}", (c.start, c.end) if c.start is not None else None, c.id)
        for c in store.codings(transcript_id)
    ]
    held += [Held(d.unit_id, f"decision {d.id} ({d.action} by {d.coder})") for d in store.decisions() if d.unit_id in unit_ids]
    return held


def plan_units(
    store: Store,
    changes: Sequence[Change],
    *,
    encoder: Encoder | None,
    why: str,
    hint: str,
    progress: Callable[[str], None] | None = None,
) -> list[UnitPlan]:
    """Cut each changed transcript and plan where its work goes; ConflictError if some would be lost.

    ``why`` names the change in the error ("segmentation", "roles", "turns"); ``hint`` says what to do.
    """
    plans = []
    nlps: dict = {}
    replaced = {c.new.id: c.new for c in changes}
    centres: dict = {}
    for change in changes:
        options = change.options
        nlp = None
        if options.strategy != "turn":
            key = (options.language, options.spacy_model)
            if key not in nlps:
                nlps[key] = load_nlp(*key)
            nlp = nlps[key]
        centre = None
        if options.strategy == "cohesive":
            if encoder is None:
                raise ValueError("the cohesive strategy needs an encoder")
            if options not in centres:
                centres[options] = _project_centre(store, replaced, options, nlp, encoder)
            centre = centres[options]
        units = segment(change.new, options=options, nlp=nlp, encoder=encoder, centre=centre)
        old_units = {u.id: u for u in store.units(change.old.id)}
        held = held_work(store, change.old.id)
        carry = plan_carry_over(list(old_units.values()), units, held, TextMap(change.old.text, change.new.text))
        if carry.homeless:
            raise ConflictError(_homeless_message(change.old.name, carry.homeless, why, hint))
        recorded = dict(options.as_dict(), encoder=encoder.id if encoder is not None and options.strategy == "cohesive" else None)
        plans.append(UnitPlan(change.new, old_units, units, recorded, carry, held))
        if progress:
            progress(change.new.name)
    return plans


CENTRE_BLOCK = 8192  # sentences encoded at once for the centre


def _project_centre(store: Store, replaced: dict, options: SegmentOptions, nlp, encoder: Encoder):
    """Mean sentence vector over the whole project's speech, with the changed transcripts as they will be.

    Encoded a block at a time: all the project's vectors at once grow with the corpus (~2M
    sentences at 1M units: GBs). A project of one block gets the plain mean, as before blocks.
    """
    texts = (text for t in store.iter_transcripts() for text in unit_sentences(replaced.get(t.id, t), options, nlp))
    blocks = iter(lambda: list(islice(texts, CENTRE_BLOCK)), [])
    first = next(blocks, None)
    if first is None:
        return None
    vectors = encoder.encode(first)
    total, count = vectors.sum(axis=0, dtype=np.float64), len(first)
    for block in blocks:
        total += encoder.encode(block).sum(axis=0, dtype=np.float64)
        count += len(block)
    return vectors.mean(axis=0) if count == len(first) else (total / count).astype(np.float32)


def _homeless_message(name: str, homeless: Sequence[str], why: str, hint: str) -> str:
    named = "; ".join(homeless[:MAX_NAMED])
    more = f"; and {len(homeless) - MAX_NAMED} more" if len(homeless) > MAX_NAMED else ""
    return (f"transcript {name!r}: {named}{more} would have no unit under the new {why}; nothing was changed. {hint}")


def apply_plan(store: Store, plan: UnitPlan) -> list[dict]:
    """Write a planned re-cut (inside the caller's transaction); returns one record per moved coding."""
    codings = {h.coding_id: h for h in plan.held if h.coding_id is not None}
    before = {c.id: c for c in store.codings(plan.transcript.id) if c.id in codings}
    stored = store.replace_units(plan.transcript.id, plan.units, plan.segmentation, plan.carry.moves, plan.carry.spans)
    carried = []
    for coding in before.values():
        old, new = plan.old_units[coding.unit_id], stored[plan.carry.moves[coding.unit_id]]
        carried.append({
            "transcript": plan.transcript.name, "code": coding.code, "coder": coding.coder,
            "old_unit": [old.start, old.end], "new_unit_id": new.id, "new_unit": [new.start, new.end],
        })
    return carried


def moved_decisions(plan: UnitPlan) -> int:
    """How many review decisions a plan points at new units."""
    return sum(1 for h in plan.held if h.coding_id is None)


def turn_roles(transcript: Transcript) -> tuple[tuple[str, str], ...]:
    """(speaker, role) of each turn, in order."""
    return tuple((turn.speaker, turn.role) for turn in transcript.turns)


def transcript_state(store: Store, transcript: Transcript) -> tuple:
    """What a plan over a stored transcript rests on: its text, its speakers' roles, its units."""
    return transcript.content_hash, turn_roles(transcript), tuple(sorted(u.id for u in store.units(transcript.id)))


def stored_state(store: Store, transcript_id: int) -> tuple | None:
    """The state of a transcript as stored now; None once deleted."""
    try:
        return transcript_state(store, store.transcript(transcript_id))
    except KeyError:
        return None


def _state(store: Store, transcript: Transcript) -> tuple:
    """What a role change rests on: the transcript's text and roles, its units and the work held on them."""
    return (*transcript_state(store, transcript), held_work(store, transcript.id))


def _unchanged_since(store: Store, transcript: Transcript, state: tuple) -> None:
    """ConflictError (inside the write) unless another command left the transcript as the plan found it."""
    now = stored_state(store, transcript.id)
    if now is not None:  # None: removed meanwhile
        now = (*now, held_work(store, transcript.id))
    if now != state:
        raise ConflictError(f"transcript {transcript.name!r}: another qcassist command changed its text, roles, units, "
                            "codings or review decisions while this command was running; nothing was changed. "
                            "Run the command again.")


@dataclass
class RoleReport:
    changed: dict[str, list[str]] = field(default_factory=dict)  # transcript -> speaker labels whose role changed
    segmented: dict[str, int] = field(default_factory=dict)  # transcript -> units after re-segmenting
    kept_units: list[str] = field(default_factory=list)  # units from another tool: roles changed, units kept
    carried: list[dict] = field(default_factory=list)
    moved_decisions: int = 0

    def as_dict(self) -> dict:
        return {"changed": self.changed, "segmented": self.segmented, "kept_units": self.kept_units,
                "carried_codings": self.carried, "moved_decisions": self.moved_decisions}


def change_roles(
    store: Store,
    stored: Sequence[Transcript],
    updated: Mapping[int, Transcript],
    *,
    encoder_for: Callable[[str], Encoder],
    encoder: str,
    progress: Callable[[str], None] | None = None,
    settings: Callable[[], Mapping[str, str]] | None = None,
) -> RoleReport:
    """Store new turn roles (``updated``: transcript id → same transcript with new roles) and re-cut their units.

    ``encoder_for`` makes the encoder for an --encoder value (``encoder``, unless the
    recorded segmentation used the project's TF-IDF encoder). ``settings``, called inside
    the write, gives project settings to store in the same transaction (remembered roles),
    so a crash cannot leave new roles on the turns but not in the project's memory.
    """
    report = RoleReport()
    changes, touched = [], []
    planned_on = {old.id: _state(store, old) for old in stored}
    for old in stored:
        new = updated[old.id]
        differ = sorted({n.speaker for o, n in zip(old.turns, new.turns) if o.role != n.role})
        if not differ:
            continue
        touched.append((old, new, differ))
        segmentation = store.segmentation(old.id)
        options = stored_options(segmentation)
        # a segmented transcript left with no units (its participants made interviewers, say) is cut
        # again too: else swapping two people's roles, one 'speakers set' at a time, leaves it empty
        if options is not None:
            changes.append((encoder_spec(segmentation, encoder), Change(old, new, options)))
        elif store.units(old.id):
            report.kept_units.append(old.name)
    plans: list[UnitPlan] = []
    for spec in dict.fromkeys(spec for spec, _ in changes):
        group = [change for s, change in changes if s == spec]
        cohesive = any(c.options.strategy == "cohesive" for c in group)
        plans += plan_units(store, group, encoder=encoder_for(spec) if cohesive else None, why="roles",
                            hint="Keep that speaker's role, or include that role's turns (segment --role) first.",
                            progress=progress)
    with store.transaction():
        for old, _, _ in touched:
            _unchanged_since(store, old, planned_on[old.id])
        for old, new, differ in touched:
            store.set_turn_roles(old.id, {t.speaker: t.role for t in new.turns})
            report.changed[old.name] = differ
        for plan in plans:
            report.carried.extend(apply_plan(store, plan))
            report.moved_decisions += moved_decisions(plan)
            report.segmented[plan.transcript.name] = len(plan.units)
        for key, value in (settings() if settings else {}).items():
            store.set_setting(key, value)
    return report
