"""REFI-QDA exchange (QDA-XML 1.0): .qdpx projects and .qdc codebooks, to and from NVivo, ATLAS.ti, MAXQDA, QualCoder.

``refi_write`` writes the files, ``refi_read`` reads them into model objects; this
module brings a read project into the store. Import the public functions from here.

Offsets: ``PlainTextSelection`` positions written by qcassist are character offsets
(Unicode code points, start inclusive, end exclusive) into the transcript's stored
text, which has ``\\n`` line endings and is written byte for byte (UTF-8, no BOM) as
the source's ``sources/<guid>.txt``. On import, the positions of tools that count a
line break as two characters (CR LF, e.g. MAXQDA) or count in UTF-16 units (NVivo)
are detected per source and converted (``refi_read.choose_convention``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from .embed import DEFAULT_ENCODER, TFIDF_ENCODER, Encoder, EncoderError, TfidfEncoder
from .errors import ConflictError, QcaError
from .model import Code, Codebook, Coding, MeaningUnit, Transcript, span_codes_unit
from .project import project_encoder
from .refi_archive import ArchiveLimits
from .refi_read import RefiProject, Source, Span, read_qdc, read_qdpx
from .refi_write import (
    CODEBOOK_NS,
    MODEL_USER_PREFIX,
    PROJECT_NS,
    ExportReport,
    export_qdc,
    export_qdpx,
)
from .segment import SegmentOptions, load_nlp, segment, unit_sentences
from .store import Store

__all__ = [
    "CODEBOOK_NS", "MODEL_USER_PREFIX", "PROJECT_NS", "ArchiveLimits", "ExportReport", "QdcImportReport", "RefiImportReport",
    "export_qdc", "export_qdpx", "import_qdc", "import_qdpx",
]


@dataclass
class RefiImportReport:
    path: str
    sources_added: list[str] = field(default_factory=list)
    sources_reused: list[str] = field(default_factory=list)
    sources_missing: list[str] = field(default_factory=list)  # their text was not in the .qdpx: skipped, with a warning
    codes_added: list[str] = field(default_factory=list)
    codes_updated: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)  # the coders the codings were attributed to
    selections: int = 0
    codings_added: int = 0
    extra_units: int = 0  # coded spans outside every meaning unit got a unit of their own
    offsets: dict[str, str] = field(default_factory=dict)  # source -> how its tool counted positions, when not in characters
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class QdcImportReport:
    path: str
    codes_added: list[str] = field(default_factory=list)
    codes_updated: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def import_qdpx(
    store: Store,
    path: str | Path,
    *,
    coder_prefix: str | None = None,
    options: SegmentOptions = SegmentOptions(),
    encoder: str = DEFAULT_ENCODER,
    interviewers: tuple[str, ...] = (),
    sources_dir: str | Path | None = None,
    limits: ArchiveLimits | None = None,
) -> RefiImportReport:
    """Import a REFI-QDA project (sources, codebook, users, codings) into the project, all or nothing.

    Sources are segmented like ``qcassist segment`` (``options``, ``encoder``); a source
    already in the project with the same text keeps its units. ``coder_prefix`` is put
    before every User name, to keep imported coders apart from the project's own.
    Sources are read from inside the file only, or from ``sources_dir`` when given.
    Reading, encoding and segmenting happen first; the write transaction only inserts,
    so other commands wait for the database for moments, not minutes.
    """
    parsed = read_qdpx(path, coder_prefix=coder_prefix or "", interviewers=tuple(interviewers),
                       sources_dir=sources_dir, limits=limits)
    report = RefiImportReport(str(path), selections=parsed.selections, warnings=list(parsed.warnings),
                              sources_missing=list(parsed.missing))
    report.offsets = {s.transcript.name: s.convention for s in parsed.sources if s.convention != "characters"}
    planned = _plan(store, parsed, report.path, options=options, encoder=encoder)
    _write(store, parsed, planned, report)
    return report


def import_qdc(store: Store, path: str | Path) -> QdcImportReport:
    """Import a REFI-QDA codebook (.qdc): codes are added or updated, codes not in the file are kept."""
    codes = read_qdc(path)
    report = QdcImportReport(str(path))
    with store.transaction():
        _merge_codebook(store, codes, report)
    return report


@dataclass
class _Planned:
    """One source, ready to insert: its transcript, all its units (new ones without ids) and which unit each span codes."""

    transcript: Transcript  # the stored one, or the incoming one under a stand-in id (negative) until inserted
    new: bool
    units: list[MeaningUnit]
    segmentation: dict | None  # how units without ids were cut; None: only homes for coded spans were added
    links: list[tuple[int, Span]]  # (index into units, span)
    extra: int = 0


def _plan(store: Store, parsed: RefiProject, path: str, *, options: SegmentOptions, encoder: str) -> list[_Planned]:
    """Everything slow (segmenting, encoding, matching spans to units) done before the write transaction."""
    planned: list[_Planned] = []
    for index, (source, existing) in enumerate(_plan_sources(store, parsed.sources, path)):
        transcript = existing if existing is not None else replace(source.transcript, id=-1 - index)
        units = store.units(existing.id) if existing is not None else []
        planned.append(_Planned(transcript, existing is None, units, None, []))
    unsegmented = [p for p in planned if not p.units]
    if unsegmented:
        cut, recorded = _segment([p.transcript for p in unsegmented], store, options, encoder)
        for item, units in zip(unsegmented, cut):
            item.units, item.segmentation = units, recorded
    for item, source in zip(planned, parsed.sources):
        item.links, homes = _attach(item.transcript, item.units, source.spans)
        item.extra = len(homes)
        item.units = item.units + homes
    return planned


def _segment(transcripts: list[Transcript], store: Store, options: SegmentOptions,
             encoder: str) -> tuple[list[list[MeaningUnit]], dict]:
    """Units for transcripts as 'qcassist segment' cuts them, centred on the project's speech and theirs."""
    nlp = load_nlp(options.language, options.spacy_model) if options.strategy != "turn" else None
    encoder_obj = _encoder(store, encoder, transcripts) if options.strategy == "cohesive" else None
    centre = None
    if encoder_obj is not None:
        known = {t.id for t in transcripts}
        everyone = [t for t in store.transcripts() if t.id not in known] + transcripts
        texts = [text for t in everyone for text in unit_sentences(t, options, nlp)]
        centre = encoder_obj.encode(texts).mean(axis=0) if texts else None
    recorded = dict(options.as_dict(), encoder=encoder_obj.id if encoder_obj else None)
    cut = [segment(t, options=options, nlp=nlp, encoder=encoder_obj, centre=centre) for t in transcripts]
    return cut, recorded


def _encoder(store: Store, spec: str, incoming: list[Transcript]) -> Encoder:
    """The project's encoder; a TF-IDF one for a project with no transcripts yet is fitted on the incoming ones.

    It is not saved: 'qcassist segment' or 'suggest' fit the same one on the same
    transcripts later, so a failed import leaves no encoder folder behind.
    """
    try:
        return project_encoder(store, spec)
    except EncoderError:
        raise
    except QcaError:
        texts = [t.turn_text(turn) for t in incoming for turn in t.participant_turns]
        if spec != TFIDF_ENCODER or not texts:
            raise
        return TfidfEncoder().fit(texts)


def _write(store: Store, parsed: RefiProject, planned: list[_Planned], report: RefiImportReport) -> None:
    """The one short write transaction: codebook, transcripts, units, codings."""
    with store.transaction():
        _merge_codebook(store, parsed.codes, report)
        codings: list[Coding] = []
        for item in planned:
            _check_unchanged(store, item, report.path)
            transcript = store.add_transcript(item.transcript) if item.new else item.transcript
            (report.sources_added if item.new else report.sources_reused).append(transcript.name)
            fresh = [replace(u, transcript_id=transcript.id) for u in item.units if u.id is None]
            if fresh:
                segmentation = item.segmentation or store.segmentation(transcript.id) or {"strategy": "imported"}
                inserted = iter(store.add_units(fresh, segmentation))
                item.units = [u if u.id is not None else next(inserted) for u in item.units]
            codings.extend(_coding(item.units[index], span) for index, span in item.links)
            report.extra_units += item.extra
        report.codings_added = store.add_codings(codings)
    report.users = sorted({span.coder for item in planned for _, span in item.links})
    leaves = {c.name for c in store.codebook().leaves}
    grouped = sorted({span.code for item in planned for _, span in item.links} - leaves)
    if grouped:
        report.warnings.append(f"codings on code groups (kept, but not used to train suggestions): {', '.join(grouped)}.")


def _check_unchanged(store: Store, item: _Planned, path: str) -> None:
    """Another command may have written between planning and now; then the plan is stale and nothing is written."""
    if item.new:
        changed = store.transcript_by_name(item.transcript.name) is not None
    else:
        planned_ids = {u.id for u in item.units if u.id is not None}
        changed = planned_ids != {u.id for u in store.units(item.transcript.id)}
    if changed:
        raise ConflictError(f"{path}: transcript {item.transcript.name!r} changed in the project while the import "
                            "was being prepared; nothing was imported. Run the import again.")


def _plan_sources(store: Store, sources: list[Source], path: str) -> list[tuple[Source, Transcript | None]]:
    plan = []
    for source in sources:
        name, text = source.transcript.name, source.transcript.text
        existing = store.transcript_by_name(name)
        if existing is not None and existing.text != text:
            raise ConflictError(
                f"{path}: a different transcript named {name!r} is already in the project; "
                "import into another project, or rename the source in the tool and export again."
            )
        plan.append((source, existing))
    return plan


def _merge_codebook(store: Store, codes: list[Code], report) -> None:
    """Add the file's codes and update changed ones; codes only in the project are kept (as codebook import does)."""
    if not codes:
        return
    existing = store.codebook()
    known = {c.name: c for c in existing.codes}
    incoming = {c.name for c in codes}
    merged = list(codes) + [c for c in existing.codes if c.name not in incoming]
    store.save_codebook(Codebook(tuple(merged), exclusive=existing.exclusive))
    report.codes_added.extend(c.name for c in codes if c.name not in known)
    report.codes_updated.extend(c.name for c in codes if c.name in known and known[c.name] != c)


def _attach(transcript: Transcript, units: list[MeaningUnit], spans: list[Span]) -> tuple[list[tuple[int, Span]], list[MeaningUnit]]:
    """Which unit each span codes, as (index, span), and the units to add for spans no unit covers (pure).

    A span codes the units it overlaps enough (as import-spans attaches them); one no
    unit overlaps enough goes to the unit it overlaps most; one that overlaps none (a
    coded question, a header) gets a unit of its own: its speaker turn, or just the
    span where that turn already has units. Indexes past ``units`` point into the new units.
    """
    links: list[tuple[int, Span]] = []
    homeless: list[Span] = []
    for span in spans:
        hits = [i for i, u in enumerate(units) if span_codes_unit(u, span.start, span.end)]
        if not hits:
            best = max(range(len(units)), key=lambda i: _shared(units[i], span.start, span.end), default=None)
            hits = [best] if best is not None and _shared(units[best], span.start, span.end) > 0 else []
        links.extend((i, span) for i in hits)
        if not hits:
            homeless.append(span)
    homes = {span: _home(transcript, units, span) for span in homeless}
    new_units = list(dict.fromkeys(homes.values()))
    position = {unit: len(units) + i for i, unit in enumerate(new_units)}
    links.extend((position[homes[span]], span) for span in homeless)
    return links, new_units


def _home(transcript: Transcript, units: list[MeaningUnit], span: Span) -> MeaningUnit:
    overlaps = [(min(t.end, span.end) - max(t.start, span.start), i) for i, t in enumerate(transcript.turns)]
    shared, index = max(overlaps, default=(0, None))
    if shared > 0:
        turn = transcript.turns[index]
        if not any(_shared(u, turn.start, turn.end) > 0 for u in units):
            return MeaningUnit(transcript.id, turn.start, turn.end, index, turn.speaker)
        return MeaningUnit(transcript.id, span.start, span.end, index, turn.speaker)
    return MeaningUnit(transcript.id, span.start, span.end)


def _shared(unit: MeaningUnit, start: int, end: int) -> int:
    return min(unit.end, end) - max(unit.start, start)


def _coding(unit: MeaningUnit, span: Span) -> Coding:
    """A coding of ``unit`` that keeps the coder's own span when it differs from the unit's."""
    own = (span.start, span.end) != (unit.start, unit.end)
    return Coding(unit.id, span.code, span.coder, span.origin, span.created_at,
                  start=span.start if own else None, end=span.end if own else None)
