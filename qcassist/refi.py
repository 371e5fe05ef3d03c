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

from dataclasses import dataclass, field
from pathlib import Path

from .embed import DEFAULT_ENCODER
from .errors import ConflictError
from .model import Code, Codebook, Coding, MeaningUnit, Transcript, span_codes_unit
from .project import segment_project
from .refi_read import RefiProject, Source, Span, read_qdc, read_qdpx
from .refi_write import (
    CODEBOOK_NS,
    MODEL_USER_PREFIX,
    PROJECT_NS,
    ExportReport,
    export_qdc,
    export_qdpx,
)
from .segment import SegmentOptions
from .store import Store

__all__ = [
    "CODEBOOK_NS", "MODEL_USER_PREFIX", "PROJECT_NS", "ExportReport", "QdcImportReport", "RefiImportReport",
    "attach_spans", "export_qdc", "export_qdpx", "import_qdc", "import_qdpx",
]


@dataclass
class RefiImportReport:
    path: str
    sources_added: list[str] = field(default_factory=list)
    sources_reused: list[str] = field(default_factory=list)
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
) -> RefiImportReport:
    """Import a REFI-QDA project (sources, codebook, users, codings) into the project, all or nothing.

    Sources are segmented like ``qcassist segment`` (``options``, ``encoder``); a source
    already in the project with the same text keeps its units. ``coder_prefix`` is put
    before every User name, to keep imported coders apart from the project's own.
    """
    parsed = read_qdpx(path, coder_prefix=coder_prefix or "", interviewers=tuple(interviewers))
    report = RefiImportReport(str(path), selections=parsed.selections, warnings=list(parsed.warnings))
    report.offsets = {s.transcript.name: s.convention for s in parsed.sources if s.convention != "characters"}
    _write(store, parsed, report, options=options, encoder=encoder)
    return report


def import_qdc(store: Store, path: str | Path) -> QdcImportReport:
    """Import a REFI-QDA codebook (.qdc): codes are added or updated, codes not in the file are kept."""
    codes = read_qdc(path)
    report = QdcImportReport(str(path))
    with store.transaction():
        _merge_codebook(store, codes, report)
    return report


def _write(store: Store, parsed: RefiProject, report: RefiImportReport, *, options: SegmentOptions, encoder: str) -> None:
    plan = _plan_sources(store, parsed.sources, report.path)
    with store.transaction():
        _merge_codebook(store, parsed.codes, report)
        stored: list[tuple[Transcript, list[Span]]] = []
        for source, existing in plan:
            if existing is None:
                stored.append((store.add_transcript(source.transcript), source.spans))
                report.sources_added.append(source.transcript.name)
            else:
                stored.append((existing, source.spans))
                report.sources_reused.append(existing.name)
        unsegmented = [t.name for t, _ in stored if not store.units(t.id)]
        if unsegmented:
            segment_project(store, options=options, encoder=encoder, transcripts=unsegmented)
        codings: list[Coding] = []
        for transcript, spans in stored:
            attached, extra = attach_spans(store, transcript, spans)
            codings.extend(attached)
            report.extra_units += extra
        report.codings_added = store.add_codings(codings)
    report.users = sorted({span.coder for _, spans in stored for span in spans})
    leaves = {c.name for c in store.codebook().leaves}
    grouped = sorted({span.code for _, spans in stored for span in spans} - leaves)
    if grouped:
        report.warnings.append(f"codings on code groups (kept, but not used to train suggestions): {', '.join(grouped)}.")


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


def attach_spans(store: Store, transcript: Transcript, spans: list[Span]) -> tuple[list[Coding], int]:
    """Codings for spans on the transcript's units (as import-spans attaches them) and how many units had to be added.

    A span that no unit overlaps enough goes to the unit it overlaps most; one that
    overlaps none (a coded question, a header) gets a unit of its own: its speaker
    turn, or just the span where that turn already has units.
    """
    units = store.units(transcript.id)
    codings: list[Coding] = []
    homeless: list[Span] = []
    for span in spans:
        hits = [u for u in units if span_codes_unit(u, span.start, span.end)]
        if not hits:
            best = max(units, key=lambda u: _shared(u, span.start, span.end), default=None)
            hits = [best] if best is not None and _shared(best, span.start, span.end) > 0 else []
        codings.extend(_coding(unit, span) for unit in hits)
        if not hits:
            homeless.append(span)
    if not homeless:
        return codings, 0
    homes = {span: _home(transcript, units, span) for span in homeless}
    new_units = list(dict.fromkeys(homes.values()))
    stored = dict(zip(new_units, store.add_units(new_units, store.segmentation(transcript.id) or {"strategy": "imported"})))
    codings.extend(_coding(stored[homes[span]], span) for span in homeless)
    return codings, len(new_units)


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
