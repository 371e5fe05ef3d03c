"""Workflows over a project: what each CLI command does, callable from Python.

Each function does its slow, fallible work (reading files, encoding) first and then
writes everything in one transaction, so a failure leaves the store as it was. Another
command may write between the planning and that transaction, so each write first
re-checks, under the write lock, what its plan assumed (``_unchanged_since``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from dataclasses import replace as _dataclass_replace
from itertools import chain
from pathlib import Path
from weakref import WeakKeyDictionary

from .embed import DEFAULT_ENCODER, TFIDF_ENCODER, CachedEncoder, Encoder, SentenceTransformerEncoder, TfidfEncoder
from .engine import EngineOptions, encode_sentences_with_engine
from .errors import ConflictError, QcaError
from .ingest import ColumnMap, read_transcripts
from .ingest.roles import consistent_roles, interviewers_of, names_a_person, person_key, with_roles
from .model import Transcript
from .reconcile import compare_turns
from .resegment import (
    Change, UnitPlan, apply_plan, change_roles, encoder_spec, held_work, moved_decisions, plan_units, stored_options,
    stored_state, transcript_state, turn_roles,
)
from .safe_output import write_rows  # also imported from here by cli/coding.py
from .segment import SegmentOptions
from .static_encoder import STATIC_ENCODER, StaticEncoder
from .store import Store

Progress = Callable[[str], None]


# --- import ------------------------------------------------------------------------


ROLE_SETTING = "speakers.roles"


def project_roles(store: Store) -> dict[str, str]:
    """Roles set for the whole project with 'speakers set': person key → role."""
    return json.loads(store.setting(ROLE_SETTING) or "{}")


@dataclass
class ImportReport:
    added: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    same_turns: list[str] = field(default_factory=list)  # unchanged although the file renders them differently
    roles_changed: dict[str, list[str]] = field(default_factory=dict)  # transcript -> speakers with a new role
    speakers: dict[str, dict] = field(default_factory=dict)  # transcript -> speakers, turns, interviewers
    notes: list[str] = field(default_factory=list)
    carried: list[dict] = field(default_factory=list)  # codings moved to units of a replaced transcript
    moved_decisions: int = 0
    found: list[str] = field(default_factory=list)  # per transcript read: "name: N speakers, M turns"

    def as_dict(self) -> dict:
        return {"added": self.added, "unchanged": self.unchanged, "replaced": self.replaced, "warnings": self.warnings,
                "same_turns": self.same_turns, "roles_changed": self.roles_changed, "speakers": self.speakers,
                "notes": self.notes, "carried_codings": self.carried, "moved_decisions": self.moved_decisions,
                "found": self.found}


def import_files(
    store: Store,
    paths: Sequence[str | Path],
    *,
    interviewers: Sequence[str] = (),
    columns: ColumnMap = ColumnMap(),
    replace: bool = False,
    encoder: str = DEFAULT_ENCODER,
) -> ImportReport:
    """Import transcript files; a transcript already in the project is compared turn by turn.

    The same turns again (from any format) change nothing, except roles named with
    ``interviewers``. Other turns are refused unless ``replace``: then the new turns are
    adopted, the transcript is re-segmented with its recorded options, and codings and
    review decisions move to the new units (or nothing changes if one would be lost).
    """
    report = ImportReport()
    incoming = _read_all(paths, interviewers, columns, report)
    if not interviewers:
        incoming, notes = _project_roles_applied(store, incoming)
        report.notes.extend(notes)
    added, role_updates, replacements, planned_on = [], {}, [], {}
    for transcript in incoming:
        existing = store.transcript_by_name(transcript.name)
        if existing is None:
            added.append(transcript)
            continue
        planned_on[existing.id] = (existing, transcript_state(store, existing))
        comparison = compare_turns(existing, transcript)
        if comparison.same:
            _note_unchanged(report, existing, transcript)
            if interviewers:
                role_updates[existing.id] = (existing, _roles_onto(existing, transcript))
        elif not replace:
            raise ConflictError(
                f"{transcript.source_path}: transcript {transcript.name!r} is already in the project with other turns "
                f"({comparison.summary()}); pass --replace to adopt this file's turns (codings and review decisions "
                "move to the new units), or import it under another name."
            )
        else:
            replacements.append((existing, _dataclass_replace(transcript, id=existing.id)))
    plans = _replacement_plans(store, replacements, encoder)
    with store.transaction():
        added = _still_new(store, added, report)
        for existing, state in planned_on.values():
            _unchanged_since(store, existing, state)
        for plan in plans:
            _work_unchanged_since(store, plan)
        for transcript in added:
            store.add_transcript(transcript)
            report.added.append(transcript.name)
        for existing, transcript in replacements:
            store.replace_transcript(existing.id, transcript)
            report.replaced.append(transcript.name)
        for plan in plans:
            report.carried.extend(apply_plan(store, plan))
            report.moved_decisions += moved_decisions(plan)
        if role_updates:  # re-cuts inside the transaction: a refusal rolls the whole import back
            roles_report = change_roles(
                store, [old for old, _ in role_updates.values()], {tid: new for tid, (_, new) in role_updates.items()},
                encoder_for=lambda spec: project_encoder(store, spec), encoder=encoder,
            )
            report.roles_changed = roles_report.changed
            report.carried.extend(roles_report.carried)
            report.moved_decisions += roles_report.moved_decisions
    for transcript in [*added, *(t for _, t in replacements)]:
        report.speakers[transcript.name] = {
            "speakers": len({t.speaker for t in transcript.turns}), "turns": len(transcript.turns),
            "interviewers": interviewers_of(transcript),
        }
    return report


# --- re-checks under the write lock ----------------------------------------------------
# Planning (reading files, cutting units) runs outside the write transaction so that other
# commands are not kept waiting; these checks, run inside it, refuse a plan whose
# premises another command changed meanwhile, before anything is written.

_MEANWHILE = "while this command was running; nothing was changed. Run the command again"


def _unchanged_since(store: Store, transcript: Transcript, state: tuple) -> None:
    """ConflictError unless the stored transcript is still as it was when the plan was made."""
    if stored_state(store, transcript.id) != state:
        raise ConflictError(f"transcript {transcript.name!r}: another qcassist command changed its text, roles or "
                            f"units {_MEANWHILE}.")


def _work_unchanged_since(store: Store, plan: UnitPlan) -> None:
    """ConflictError if codings or review decisions on the transcript's units came or went since the plan."""
    if held_work(store, plan.transcript.id) != plan.held:
        raise ConflictError(f"transcript {plan.transcript.name!r}: another qcassist command changed the codings or "
                            f"review decisions on its units {_MEANWHILE}.")


def _still_new(store: Store, added: list[Transcript], report: ImportReport) -> list[Transcript]:
    """The planned additions still absent from the project; one imported meanwhile as the same turns is unchanged."""
    still = []
    for transcript in added:
        stored = store.transcript_by_name(transcript.name)
        if stored is None:
            still.append(transcript)
        elif compare_turns(stored, transcript).same and turn_roles(stored) == turn_roles(transcript):
            _note_unchanged(report, stored, transcript)
        else:
            raise ConflictError(
                f"{transcript.source_path}: another qcassist command imported a transcript named {transcript.name!r}, "
                f"with other turns or roles, {_MEANWHILE} to compare them (--replace adopts this file's turns)."
            )
    return still


def _note_unchanged(report: ImportReport, stored: Transcript, read: Transcript) -> None:
    """Report ``read`` as unchanged, and as the same turns rendered differently when its bytes differ."""
    report.unchanged.append(read.name)
    if stored.content_hash != read.content_hash:
        report.same_turns.append(read.name)


def _read_all(paths, interviewers, columns, report: ImportReport) -> list[Transcript]:
    incoming: dict[str, Transcript] = {}
    for path in paths:
        result = read_transcripts(path, interviewers=tuple(interviewers), columns=columns)
        report.warnings.extend(result.warnings)
        report.found.extend(result.found)
        for transcript in result.transcripts:
            if transcript.name in incoming:
                raise ConflictError(
                    f"{path}: transcript name {transcript.name!r} is also given by {incoming[transcript.name].source_path}; rename one file."
                )
            incoming[transcript.name] = transcript
    return list(incoming.values())


def _project_roles_applied(store: Store, incoming: list[Transcript]) -> tuple[list[Transcript], list[str]]:
    """Heuristic roles made consistent with the project: one person, one role; roles set by the user win."""
    names = {t.name for t in incoming}
    stored = [t for t in store.speaker_summaries() if t.name not in names]  # speakers and roles only, not every text
    consistent, notes = consistent_roles(incoming, stored)
    known = project_roles(store)
    consistent = [with_roles(t, known) if known else t for t in consistent]
    return consistent, notes + _stored_role_mismatches(consistent, stored)


def _stored_role_mismatches(incoming: list[Transcript], stored: list[Transcript]) -> list[str]:
    """Interviewers of the new transcripts who are participants in stored ones: say so, change nothing stored."""
    notes = []
    for transcript in incoming:
        for speaker in interviewers_of(transcript):
            key = person_key(speaker)
            elsewhere = sorted({t.name for t in stored for turn in t.turns
                                if turn.role == "participant" and person_key(turn.speaker) == key})
            if elsewhere and names_a_person(speaker):
                notes.append(f"{speaker} is interviewer in {transcript.name} but a participant in {', '.join(elsewhere)}; "
                             f"make it one role with: qcassist speakers set {speaker!r} --role interviewer|participant")
    return notes


def _roles_onto(existing: Transcript, read: Transcript) -> Transcript:
    """The stored transcript with the roles the file was read with (same turns, so turn by turn)."""
    turns = tuple(_dataclass_replace(old, role=new.role) for old, new in zip(existing.turns, read.turns))
    return _dataclass_replace(existing, turns=turns)


def _replacement_plans(store: Store, replacements, encoder: str) -> list:
    """Re-cut each replaced transcript that had units, with its recorded options, carrying the work over."""
    plans = []
    for existing, transcript in replacements:
        segmentation = store.segmentation(existing.id)
        if not store.units(existing.id):
            continue
        options = stored_options(segmentation)
        if options is None:
            raise ConflictError(
                f"{transcript.source_path}: the units of transcript {transcript.name!r} came from another tool "
                f"({(segmentation or {}).get('source', 'an import')}); re-import that file instead of replacing the text."
            )
        spec = encoder_spec(segmentation, encoder)
        plans += plan_units(
            store, [Change(existing, transcript, options)],
            encoder=project_encoder(store, spec) if options.strategy == "cohesive" else None, why="turns",
            hint="Keep the stored turns, or import the file under another name.",
        )
    return plans


# --- encoders ----------------------------------------------------------------------


def project_encoder(store: Store, spec: str = DEFAULT_ENCODER) -> Encoder:
    """The encoder named by ``spec`` ('default', 'tfidf', 'static', or a sentence-transformers name/path), cached on disk.

    The static encoder is not cached: it encodes faster than the cache reads, and its vectors took ~10 GB
    of cache at 1M units.
    """
    if spec == TFIDF_ENCODER:
        encoder: Encoder = _project_tfidf(store)
    elif spec == STATIC_ENCODER:
        return StaticEncoder()
    else:
        encoder = SentenceTransformerEncoder(spec)
    return CachedEncoder(encoder, store.cache_dir / "embeddings.sqlite")


# Fitted in this process and not saved yet, per open store (see _project_tfidf).
_unsaved_tfidf: WeakKeyDictionary[Store, TfidfEncoder] = WeakKeyDictionary()


def _project_tfidf(store: Store) -> TfidfEncoder:
    """TF-IDF/LSA fitted once on the project's participant speech and kept in the project.

    A new fit is saved with the command's next write, just before it commits: a command
    that fails before then leaves no encoders/ folder behind, and nothing the project
    records (units' encoder, a model's manifest) names an encoder it does not hold.
    """
    directory = store.directory / "encoders" / "tfidf-lsa"
    if store in _unsaved_tfidf:
        return _unsaved_tfidf[store]
    if (directory / "encoder.json").exists():
        return TfidfEncoder.load(directory)
    texts = (t.turn_text(turn) for t in store.iter_transcripts() for turn in t.participant_turns)
    first = next(texts, None)
    if first is None:
        raise QcaError("the TF-IDF encoder is fitted on the project's transcripts; import some first.")
    encoder = TfidfEncoder().fit(chain([first], texts))  # reads the turns once, holding only its bounded sample
    _unsaved_tfidf[store] = encoder
    store.before_commit("tfidf-encoder", lambda: _save_tfidf(store, encoder, directory))
    return encoder


def _save_tfidf(store: Store, encoder: TfidfEncoder, directory: Path) -> None:
    """Save the fitted encoder, unless another command saved the same one meanwhile; ConflictError if theirs differs."""
    # if another command renames its folder into place first, theirs is kept; only then is it loaded to compare
    # (loading a second copy of a just-saved encoder cost its whole size again at 1M units)
    if not (directory / "encoder.json").exists() and encoder.save(directory):
        _unsaved_tfidf.pop(store, None)
        return
    if TfidfEncoder.load(directory).id != encoder.id:
        raise ConflictError(
            f"{directory}: another qcassist command saved the project's TF-IDF encoder, fitted on other transcripts, "
            "while this one was running; nothing was changed. Run the command again."
        )
    _unsaved_tfidf.pop(store, None)


# --- segment -----------------------------------------------------------------------


@dataclass
class SegmentReport:
    segmented: dict[str, int] = field(default_factory=dict)  # transcript name -> units
    skipped: list[str] = field(default_factory=list)  # already segmented, not asked to redo
    carried: list[dict] = field(default_factory=list)  # codings moved to a new unit
    moved_decisions: int = 0  # review decisions pointed at a new unit

    def as_dict(self) -> dict:
        return {"segmented": self.segmented, "skipped": self.skipped, "carried_codings": self.carried,
                "moved_decisions": self.moved_decisions}


def segment_project(
    store: Store,
    *,
    options: SegmentOptions = SegmentOptions(),
    encoder: str = DEFAULT_ENCODER,
    transcripts: Sequence[str] = (),
    resegment: bool = False,
    progress: Progress | None = None,
    engine: EngineOptions | None = None,
) -> SegmentReport:
    """Segment transcripts into meaning units.

    Already segmented transcripts are skipped unless ``resegment``; then the codings and
    review decisions on each old unit move to the new unit that overlaps it most, and the
    report says so. If any would have no unit, nothing is changed (ConflictError).
    """
    chosen = select_transcripts(store, transcripts) if transcripts else store.iter_transcripts()
    report = SegmentReport()
    due, planned_on = [], {}
    for transcript in chosen:
        state = transcript_state(store, transcript)
        if state[2] and not resegment:
            report.skipped.append(transcript.name)
        else:
            due.append((transcript.id, transcript.name))
            planned_on[transcript.id] = state
    # Fitted (TF-IDF: ~1.4 GB at its caps) before the transcripts to cut are read back, not beside them;
    # one changed in between fails the re-check under the write lock, as one changed later does.
    encoder_obj = project_encoder(store, encoder) if options.strategy == "cohesive" and due else None
    todo = [Change(t, t, options) for t in (_read_again(store, tid, name) for tid, name in due)]
    if engine is not None and encoder_obj is not None:  # EngineOptions: a Dask cluster fills the embedding cache
        encode_sentences_with_engine(encoder_obj, store.iter_transcripts(), options, options=engine)
    plans = plan_units(store, todo, encoder=encoder_obj, why="segmentation", progress=progress,
                       hint="Include those speakers' turns (--role) or keep the current units.")
    with store.transaction():
        plans = _segment_plans_still_due(store, plans, planned_on, resegment, report)
        for plan in plans:
            report.carried.extend(apply_plan(store, plan))
            report.moved_decisions += moved_decisions(plan)
            report.segmented[plan.transcript.name] = len(plan.units)
    return report


def _read_again(store: Store, transcript_id: int, name: str) -> Transcript:
    try:
        return store.transcript(transcript_id)
    except KeyError:
        raise ConflictError(f"transcript {name!r}: another qcassist command removed it {_MEANWHILE}.") from None


def _segment_plans_still_due(store: Store, plans: list[UnitPlan], planned_on: dict, resegment: bool,
                             report: SegmentReport) -> list[UnitPlan]:
    """Under the write lock: a transcript another command segmented meanwhile is skipped, as it would have been a
    moment later (unless ``resegment``); one changed otherwise is refused."""
    due = []
    for plan in plans:
        now = stored_state(store, plan.transcript.id)
        if not resegment and now is not None and now[2]:
            report.skipped.append(plan.transcript.name)
            continue
        _unchanged_since(store, plan.transcript, planned_on[plan.transcript.id])
        _work_unchanged_since(store, plan)
        due.append(plan)
    return due


def select_transcripts(store: Store, names: Sequence[str]) -> list[Transcript]:
    if not names:
        return store.transcripts()
    chosen = []
    for name in names:
        transcript = store.transcript_by_name(name)
        if transcript is None:
            known = ", ".join(t.name for t in store.transcripts()) or "none"
            raise QcaError(f"no transcript named {name!r} in the project (transcripts: {known}).")
        chosen.append(transcript)
    return chosen


# --- units and status --------------------------------------------------------------

UNIT_FIELDS = ("unit_id", "transcript", "order", "speaker", "role", "start", "end", "start_time", "text")
UNIT_FORMATS = ("table", "csv", "jsonl")


def unit_rows(store: Store, transcripts: Sequence[str] = ()) -> list[dict]:
    """Meaning units as plain rows, in transcript order, with their text sliced from the transcript."""
    return list(iter_unit_rows(store, transcripts))


def iter_unit_rows(store: Store, transcripts: Sequence[str] = ()) -> Iterator[dict]:
    """``unit_rows`` read one transcript at a time, for writing as they come: memory stays bounded on any corpus.

    Unknown transcript names raise here, before the first row; consume the rows while the store is open.
    """
    chosen = select_transcripts(store, transcripts) if transcripts else store.iter_transcripts()
    return (row for transcript in chosen for row in _transcript_unit_rows(store, transcript))


def _transcript_unit_rows(store: Store, transcript: Transcript) -> list[dict]:
    rows = []
    for order, unit in enumerate(store.units(transcript.id), start=1):
        turn = transcript.turns[unit.turn_index] if unit.turn_index is not None else None
        rows.append({
            "unit_id": unit.id, "transcript": transcript.name, "order": order, "speaker": unit.speaker,
            "role": turn.role if turn else None, "start": unit.start, "end": unit.end,
            "start_time": turn.start_time if turn else None, "text": unit.text_in(transcript),
        })
    return rows


def write_units(rows: Iterable[dict], fmt: str, out) -> None:
    """Write unit rows as CSV or JSON lines."""
    write_rows(rows, UNIT_FIELDS, fmt, out)


def project_status(store: Store) -> dict:
    """Counts per transcript and in total."""
    rows = store.counts()
    totals = {key: sum(r[key] for r in rows) for key in ("turns", "participant_turns", "units", "codings")}
    return {"project": str(store.directory.resolve()), "transcripts": rows, "totals": dict(totals, transcripts=len(rows))}
