"""Workflows over a project: what each CLI command does, callable from Python.

Each function does its slow, fallible work (reading files, encoding) first and then
writes everything in one transaction, so a failure leaves the store as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .embed import DEFAULT_ENCODER, TFIDF_ENCODER, CachedEncoder, Encoder, SentenceTransformerEncoder, TfidfEncoder
from .errors import ConflictError, QcaError
from .ingest import ColumnMap, read_transcripts
from .model import Transcript
from .segment import SegmentOptions, load_nlp, segment, unit_sentences
from .store import Store

Progress = Callable[[str], None]


# --- import ------------------------------------------------------------------------


@dataclass
class ImportReport:
    added: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"added": self.added, "unchanged": self.unchanged, "replaced": self.replaced, "warnings": self.warnings}


def import_files(
    store: Store,
    paths: Sequence[str | Path],
    *,
    interviewers: Sequence[str] = (),
    columns: ColumnMap = ColumnMap(),
    replace: bool = False,
) -> ImportReport:
    """Import transcript files. The same content again is a no-op; changed content needs ``replace``."""
    report = ImportReport()
    incoming: dict[str, Transcript] = {}
    for path in paths:
        result = read_transcripts(path, interviewers=tuple(interviewers), columns=columns)
        report.warnings.extend(result.warnings)
        for transcript in result.transcripts:
            if transcript.name in incoming:
                raise ConflictError(
                    f"{path}: transcript name {transcript.name!r} is also given by {incoming[transcript.name].source_path}; rename one file."
                )
            incoming[transcript.name] = transcript
    plan = [(t, store.transcript_by_name(t.name)) for t in incoming.values()]
    for transcript, existing in plan:
        if existing is None or existing.content_hash == transcript.content_hash:
            continue
        if not replace:
            raise ConflictError(
                f"{transcript.source_path}: a different transcript named {transcript.name!r} is already in the project; "
                "pass --replace to replace it (its meaning units are re-made)."
            )
        coded = len(store.codings(existing.id))
        if coded:
            raise ConflictError(
                f"{transcript.source_path}: transcript {transcript.name!r} has {coded} codings on its current text; "
                "replacing it would lose them. Import the new version under another file name."
            )
    with store.transaction():
        for transcript, existing in plan:
            if existing is not None and existing.content_hash == transcript.content_hash:
                report.unchanged.append(transcript.name)
                continue
            if existing is not None:
                store.delete_transcript(existing.id)
                report.replaced.append(transcript.name)
            else:
                report.added.append(transcript.name)
            store.add_transcript(transcript)
    return report


# --- encoders ----------------------------------------------------------------------


def project_encoder(store: Store, spec: str = DEFAULT_ENCODER) -> Encoder:
    """The encoder named by ``spec`` ('default', 'tfidf', or a sentence-transformers name/path), cached on disk."""
    if spec == TFIDF_ENCODER:
        encoder: Encoder = _project_tfidf(store)
    else:
        encoder = SentenceTransformerEncoder(spec)
    return CachedEncoder(encoder, store.cache_dir / "embeddings.sqlite")


def _project_tfidf(store: Store) -> TfidfEncoder:
    """TF-IDF/LSA fitted once on the project's participant speech and kept in the project."""
    directory = store.directory / "encoders" / "tfidf-lsa"
    if (directory / "encoder.json").exists():
        return TfidfEncoder.load(directory)
    texts = [t.turn_text(turn) for t in store.transcripts() for turn in t.participant_turns]
    if not texts:
        raise QcaError("the TF-IDF encoder is fitted on the project's transcripts; import some first.")
    encoder = TfidfEncoder().fit(texts)
    encoder.save(directory)
    return encoder


# --- segment -----------------------------------------------------------------------


@dataclass
class SegmentReport:
    segmented: dict[str, int] = field(default_factory=dict)  # transcript name -> units
    skipped: list[str] = field(default_factory=list)  # already segmented, not asked to redo
    carried: list[dict] = field(default_factory=list)  # codings moved to a new unit

    def as_dict(self) -> dict:
        return {"segmented": self.segmented, "skipped": self.skipped, "carried_codings": self.carried}


def segment_project(
    store: Store,
    *,
    options: SegmentOptions = SegmentOptions(),
    encoder: str = DEFAULT_ENCODER,
    transcripts: Sequence[str] = (),
    resegment: bool = False,
    progress: Progress | None = None,
) -> SegmentReport:
    """Segment transcripts into meaning units.

    Already segmented transcripts are skipped unless ``resegment``; then each existing
    coding moves to the new unit that overlaps its old unit most, and the report says so.
    """
    chosen = _select_transcripts(store, transcripts)
    report = SegmentReport()
    todo = []
    for transcript in chosen:
        if store.units(transcript.id) and not resegment:
            report.skipped.append(transcript.name)
        else:
            todo.append(transcript)
    nlp = load_nlp(options.language, options.spacy_model) if options.strategy != "turn" else None
    encoder_obj = project_encoder(store, encoder) if options.strategy == "cohesive" and todo else None
    recorded = dict(options.as_dict(), encoder=encoder_obj.id if encoder_obj else None)
    centre = _project_centre(store, options, nlp, encoder_obj) if encoder_obj else None
    planned = []
    for transcript in todo:
        units = segment(transcript, options=options, nlp=nlp, encoder=encoder_obj, centre=centre)
        planned.append((transcript, units))
        if progress:
            progress(transcript.name)
    with store.transaction():
        for transcript, units in planned:
            old_units = {u.id: u for u in store.units(transcript.id)}
            moves = _plan_carry_over(transcript, old_units, units, store.codings(transcript.id))
            stored = store.replace_units(
                transcript.id, units, recorded, {coding.id: index for coding, index in moves}
            )
            for coding, index in moves:
                old, new = old_units[coding.unit_id], stored[index]
                report.carried.append({
                    "transcript": transcript.name, "code": coding.code, "coder": coding.coder,
                    "old_unit": [old.start, old.end], "new_unit_id": new.id, "new_unit": [new.start, new.end],
                })
            report.segmented[transcript.name] = len(units)
    return report


def _project_centre(store: Store, options: SegmentOptions, nlp, encoder: Encoder):
    """Mean sentence vector over the whole project's speech (cached embeddings make this cheap)."""
    texts = [text for t in store.transcripts() for text in unit_sentences(t, options, nlp)]
    return encoder.encode(texts).mean(axis=0) if texts else None


def _select_transcripts(store: Store, names: Sequence[str]) -> list[Transcript]:
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


def _plan_carry_over(transcript, old_units, new_units, codings):
    """Each coding goes to the new unit overlapping its old unit most; refuse if none overlaps."""
    moves = []
    for coding in codings:
        old = old_units[coding.unit_id]
        overlaps = [(min(old.end, n.end) - max(old.start, n.start), i) for i, n in enumerate(new_units)]
        best = max(overlaps, default=(0, None))
        if best[0] <= 0:
            raise ConflictError(
                f"transcript {transcript.name!r}: coding {coding.code!r} by {coding.coder} on characters "
                f"{old.start}-{old.end} would have no unit under the new segmentation; nothing was changed. "
                "Include those speakers' turns (--role) or keep the current units."
            )
        moves.append((coding, best[1]))
    return moves


# --- units and status --------------------------------------------------------------

UNIT_FIELDS = ("unit_id", "transcript", "order", "speaker", "role", "start", "end", "start_time", "text")
UNIT_FORMATS = ("table", "csv", "jsonl")


def unit_rows(store: Store, transcripts: Sequence[str] = ()) -> list[dict]:
    """Meaning units as plain rows, in transcript order, with their text sliced from the transcript."""
    rows = []
    for transcript in _select_transcripts(store, transcripts):
        for order, unit in enumerate(store.units(transcript.id), start=1):
            turn = transcript.turns[unit.turn_index] if unit.turn_index is not None else None
            rows.append({
                "unit_id": unit.id, "transcript": transcript.name, "order": order, "speaker": unit.speaker,
                "role": turn.role if turn else None, "start": unit.start, "end": unit.end,
                "start_time": turn.start_time if turn else None, "text": unit.text_in(transcript),
            })
    return rows


# write_rows lives in safe_output (CSV formula neutralising); kept importable from here.
from .safe_output import write_rows  # noqa: E402


def write_units(rows: Iterable[dict], fmt: str, out) -> None:
    """Write unit rows as CSV or JSON lines."""
    write_rows(rows, UNIT_FIELDS, fmt, out)


def project_status(store: Store) -> dict:
    """Counts per transcript and in total."""
    rows = store.counts()
    totals = {key: sum(r[key] for r in rows) for key in ("turns", "participant_turns", "units", "codings")}
    return {"project": str(store.directory.resolve()), "transcripts": rows, "totals": dict(totals, transcripts=len(rows))}
