"""Bringing human work in: a codebook, data already coded by unit, and codings by character span."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .codebook import did_you_mean, read_codebook
from .errors import ConflictError, InputError
from .ingest.coded import CodedColumns, read_coded_units
from .ingest.spans import read_span_codings
from .model import Code, Codebook, Coding, MeaningUnit, Transcript, span_codes_unit
from .store import Store



@dataclass
class CodebookReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    exclusive: bool = False

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def import_codebook(store: Store, path: str | Path, *, exclusive: bool | None = None) -> CodebookReport:
    """Add or update codes from a CSV/JSON/YAML codebook; codes not in the file are kept."""
    codebook = read_codebook(path, exclusive=exclusive)
    existing = store.codebook()
    known = {c.name: c for c in existing.codes}
    merged = list(codebook.codes) + [c for c in existing.codes if c.name not in {x.name for x in codebook.codes}]
    store.save_codebook(Codebook(tuple(merged), exclusive=codebook.exclusive))
    return CodebookReport(
        added=[c.name for c in codebook.codes if c.name not in known],
        updated=[c.name for c in codebook.codes if c.name in known and known[c.name] != c],
        exclusive=codebook.exclusive,
    )


@dataclass
class CodedReport:
    transcripts_added: list[str] = field(default_factory=list)
    transcripts_reused: list[str] = field(default_factory=list)
    units: int = 0
    coded_units: int = 0
    uncoded_units: int = 0
    codings_added: int = 0
    context_turns: int = 0
    codes_created: list[str] = field(default_factory=list)
    exclusive: bool = False

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def import_coded(
    store: Store,
    path: str | Path,
    *,
    coder: str,
    columns: CodedColumns = CodedColumns(),
    where: Sequence[tuple[str, str]] = (),
    code_separator: str | None = None,
    exclusive: bool | None = None,
) -> CodedReport:
    """Import units that are already cut and coded (one row a unit) with their human codings.

    A transcript already imported with the same content keeps its units, and this
    coder's codings are added to them (so a second coder's file can be compared).
    Without a codebook in the project, one flat codebook is made from the codes found;
    it is exclusive (one code per unit) unless ``exclusive`` is False or a
    ``code_separator`` allows several codes per unit.
    """
    data = read_coded_units(path, columns=columns, where=where, code_separator=code_separator)
    codebook = store.codebook()
    found = list(dict.fromkeys(code for row in data.rows for code in row.codes))
    report = CodedReport(context_turns=data.context_rows)
    if not codebook.codes:
        if exclusive is None:
            exclusive = code_separator is None
        codebook = Codebook(tuple(Code(name) for name in found), exclusive=exclusive)
        report.codes_created = found
    else:
        leaves = [c.name for c in codebook.leaves]
        for row in data.rows:
            for code in row.codes:
                if code not in leaves:
                    kind = "a code group, not a code" if codebook.get(code) else "unknown code"
                    raise InputError(
                        str(path), f"{kind} {code!r}.{did_you_mean(code, leaves)} Add it to the codebook or fix the row.",
                        line=row.line, field=columns.codes,
                    )
    report.exclusive = codebook.exclusive
    if codebook.exclusive:
        several = next((row for row in data.rows if len(row.codes) > 1), None)
        if several is not None:
            raise InputError(str(path), f"the codebook is exclusive but this row has {len(several.codes)} codes.",
                             line=several.line, field=columns.codes)
    plan = []
    for transcript in data.transcripts:
        existing = store.transcript_by_name(transcript.name)
        if existing is not None and existing.content_hash != transcript.content_hash:
            raise ConflictError(
                f"{path}: a different transcript named {transcript.name!r} is already in the project; "
                "import this file into another project, or rename the transcript."
            )
        plan.append((transcript, existing))
    rows_by_transcript: dict[str, list] = {}
    for row in data.rows:
        rows_by_transcript.setdefault(row.transcript, []).append(row)
    with store.transaction():
        if report.codes_created:
            store.save_codebook(codebook)
        for transcript, existing in plan:
            rows = rows_by_transcript.get(transcript.name, [])
            if existing is None:
                stored = store.add_transcript(transcript)
                units = store.add_units(
                    [MeaningUnit(stored.id, *_turn_span(stored, row.turn_index), row.turn_index,
                                 stored.turns[row.turn_index].speaker, external_id=row.external_id) for row in rows],
                    {"strategy": "imported", "source": str(path)},
                )
                report.transcripts_added.append(transcript.name)
            else:
                units = _units_for_rows(store, existing, rows, path)
                report.transcripts_reused.append(transcript.name)
            report.units += len(units)
            codings = [Coding(unit.id, code, coder, "human") for unit, row in zip(units, rows) for code in row.codes]
            report.coded_units += sum(1 for row in rows if row.codes)
            report.uncoded_units += sum(1 for row in rows if not row.codes)
            report.codings_added += store.add_codings(codings)
    return report


def _turn_span(transcript, turn_index: int) -> tuple[int, int]:
    turn = transcript.turns[turn_index]
    return turn.start, turn.end


def _units_for_rows(store: Store, transcript, rows, path) -> list[MeaningUnit]:
    by_span = {(u.start, u.end): u for u in store.units(transcript.id)}
    units = []
    for row in rows:
        unit = by_span.get(_turn_span(transcript, row.turn_index))
        if unit is None:
            raise ConflictError(
                f"{path}, line {row.line}: transcript {transcript.name!r} is in the project but was cut into other "
                "units; import this coder's work by character span (qcassist import-spans) instead."
            )
        units.append(unit)
    return units


@dataclass
class SpanReport:
    codings_added: int = 0
    spans: int = 0
    units_coded: int = 0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def import_spans(store: Store, path: str | Path, *, coder: str | None = None) -> SpanReport:
    """Attach codings given as character spans (transcript, start, end, code) to the units they overlap."""
    spans = read_span_codings(path)
    leaves = [c.name for c in store.codebook().leaves]
    read = _TranscriptReader(store)
    codings = []
    for span in spans:
        transcript, transcript_units = read(span.transcript)
        if transcript is None:
            known = store.transcript_names()
            raise InputError(str(path), f"no transcript named {span.transcript!r} in the project.{did_you_mean(span.transcript, known)}",
                             line=span.line, field="transcript")
        if span.end > len(transcript.text):
            raise InputError(str(path), f"end {span.end} is past the end of transcript {span.transcript!r} ({len(transcript.text)} characters).",
                             line=span.line, field="end")
        if span.code not in leaves:
            raise InputError(str(path), f"unknown code {span.code!r}.{did_you_mean(span.code, leaves)}", line=span.line, field="code")
        who = span.coder or coder
        if not who:
            raise InputError(str(path), "no coder: add a 'coder' column or pass --coder NAME.", line=span.line, field="coder")
        units = [u for u in transcript_units if span_codes_unit(u, span.start, span.end)]
        if not units:
            raise InputError(str(path), f"characters {span.start}-{span.end} of {span.transcript!r} overlap no meaning unit; "
                             "segment the transcript first (qcassist segment).", line=span.line)
        codings.extend(_span_coding(u, span, who) for u in units)
    with store.transaction():
        added = store.add_codings(codings)
    return SpanReport(codings_added=added, spans=len(spans), units_coded=len({c.unit_id for c in codings}))


class _TranscriptReader:
    """A transcript and its units by name, read from the store when the name changes.

    Holds one transcript rather than the whole corpus; span files list a transcript's spans
    together, so each is usually read once (and the units once per transcript, not per span).
    """

    def __init__(self, store: Store):
        self.store = store
        self.name: str | None = None
        self.found: tuple[Transcript | None, list[MeaningUnit]] = (None, [])

    def __call__(self, name: str) -> tuple[Transcript | None, list[MeaningUnit]]:
        if name != self.name:
            transcript = self.store.transcript_by_name(name)
            self.name, self.found = name, (transcript, self.store.units(transcript.id) if transcript else [])
        return self.found


def _span_coding(unit: MeaningUnit, span, coder: str) -> Coding:
    """A coding of ``unit`` that keeps the coder's own span when it differs from the unit's."""
    if (span.start, span.end) == (unit.start, unit.end):
        return Coding(unit.id, span.code, coder, "human")
    return Coding(unit.id, span.code, coder, "human", start=span.start, end=span.end)
