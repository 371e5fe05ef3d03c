"""Data already cut into units and coded (.csv/.tsv/.jsonl), one row a unit.

Every row becomes a turn of its transcript, whose text is rebuilt as "Speaker: words"
paragraphs (as for turn tables), so that a unit is a whole turn. Rows that match all
the ``where`` filters are the units (role ``participant``); the other rows stay as
context turns (role ``other``): in a therapy corpus coded for what the therapist does,
``where=[("interlocutor", "therapist")]`` keeps the client's turns as context.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..model import Transcript, Turn
from .decode import read_text
from .table import _cell, _csv_rows, _jsonl_rows
from .turns import TextBuilder, content_hash


@dataclass(frozen=True, slots=True)
class CodedColumns:
    """Which column holds what. ``transcript`` and ``speaker`` may be absent from the file
    when left at their defaults; ``order`` and ``external_id`` are used only when named."""

    text: str = "text"
    codes: str = "code"
    transcript: str | None = "transcript"
    order: str | None = None
    speaker: str | None = "speaker"
    external_id: str | None = None


@dataclass(frozen=True, slots=True)
class CodedRow:
    """A unit row: the whole of turn ``turn_index`` of its transcript, with its codes."""

    transcript: str
    turn_index: int
    external_id: str | None
    codes: tuple[str, ...]  # () for a unit left uncoded
    line: int  # in the source file, for error messages


@dataclass(frozen=True, slots=True)
class CodedImport:
    transcripts: list[Transcript]
    rows: list[CodedRow]  # the unit rows, by transcript and then in turn order
    context_rows: int  # rows kept as context turns only


@dataclass(slots=True)
class _Row:
    line: int
    order: float | None
    order_text: str
    speaker: str
    text: str
    is_unit: bool
    codes: tuple[str, ...] = ()
    external_id: str | None = None
    filter_values: tuple[str, ...] = ()


def read_coded_units(
    path: str | Path,
    *,
    columns: CodedColumns = CodedColumns(),
    where: Sequence[tuple[str, str]] = (),
    code_separator: str | None = None,
) -> CodedImport:
    """Read a table of coded units (one row a unit) into transcripts and the rows' codes."""
    path = Path(path)
    decoded = read_text(path)
    fmt = "jsonl" if path.suffix.lower() in (".jsonl", ".ndjson") else "csv"
    header, rows = (_jsonl_rows if fmt == "jsonl" else _csv_rows)(decoded.text, str(path))
    if not rows:
        raise InputError(str(path), "has a header but no rows; nothing to import.")
    find = _ColumnFinder(header, str(path))
    text_column = find.required(columns.text, "the unit text")
    codes_column = find.required(columns.codes, "the codes")
    defaults = CodedColumns()
    transcript_column = find.optional(columns.transcript, defaults.transcript, "the transcript names")
    speaker_column = find.optional(columns.speaker, defaults.speaker, "the speakers")
    order_column = find.required(columns.order, "the order of the rows") if columns.order else None
    id_column = find.required(columns.external_id, "the unit ids") if columns.external_id else None
    filters = [(find.required(column, "a --where filter"), value) for column, value in where]

    by_transcript: dict[str, list[_Row]] = {}
    for line, raw in rows:
        name = _cell(raw, transcript_column) if transcript_column else path.stem
        if not name:
            raise InputError(str(path), "empty transcript name.", line=line, field=transcript_column)
        is_unit = all(_cell(raw, column) == value for column, value in filters)
        text = _cell(raw, text_column)
        if is_unit and not text:
            raise InputError(str(path), "a unit row with no text; remove the row or fill in its text.", line=line, field=text_column)
        row = _Row(
            line=line,
            order=_order(raw, order_column, str(path), line) if order_column else None,
            order_text=_cell(raw, order_column),
            speaker=(_cell(raw, speaker_column) if speaker_column else "") or "Speaker",
            text=text,
            is_unit=is_unit,
            filter_values=tuple(_cell(raw, column) for column, _ in filters),
        )
        if is_unit:
            row.codes = _codes(raw.get(codes_column), code_separator)
            row.external_id = (_cell(raw, id_column) or None) if id_column else None
        by_transcript.setdefault(name, []).append(row)

    transcripts: list[Transcript] = []
    units: list[CodedRow] = []
    context_rows = 0
    for name, transcript_rows in by_transcript.items():
        _check_rows(name, transcript_rows, filters, order_column, id_column, str(path))
        if order_column:
            transcript_rows.sort(key=lambda r: r.order)  # stable: ties are already rejected
        builder = TextBuilder()
        roles: list[str] = []
        for row in transcript_rows:
            if not row.text:
                continue  # an empty context row has nothing to show
            if row.is_unit:
                units.append(CodedRow(name, len(builder.turns), row.external_id, row.codes, row.line))
            else:
                context_rows += 1
            builder.add_turn(row.speaker, row.text)
            roles.append("participant" if row.is_unit else "other")
        text = builder.text
        turns = tuple(Turn(t.speaker, role, t.start, t.end) for t, role in zip(builder.turns, roles))  # type: ignore[arg-type]
        transcripts.append(Transcript(
            name=name, text=text, turns=turns, source_path=str(path), content_hash=content_hash(text),
            metadata={"encoding": decoded.encoding, "format": fmt},
        ))
    return CodedImport(transcripts, units, context_rows)


class _ColumnFinder:
    """Columns by name: exactly, else the one column that differs only in case."""

    def __init__(self, header: list[str], path: str):
        self.header = header
        self.path = path

    def find(self, name: str) -> str | None:
        if name in self.header:
            return name
        same = [h for h in self.header if h.lower() == name.lower()]
        return same[0] if len(same) == 1 else None

    def required(self, name: str, holds: str) -> str:
        found = self.find(name)
        if found is None:
            from ..codebook import did_you_mean  # the codebook module imports ingest; import late

            raise InputError(
                self.path,
                f"has no column {name!r} for {holds} (columns: {', '.join(self.header) or 'none'}).{did_you_mean(name, self.header)}",
                field=name,
            )
        return found

    def optional(self, name: str | None, default: str | None, holds: str) -> str | None:
        # a column left at its default may be absent; one the user named must be there
        if name is None:
            return None
        found = self.find(name)
        if found is None and name != default:
            return self.required(name, holds)
        return found


def _order(raw: dict, column: str, path: str, line: int) -> float:
    value = raw.get(column)
    try:
        if isinstance(value, bool):
            raise ValueError
        number = float(value) if isinstance(value, (int, float)) else float(str(value).strip())
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise InputError(path, f"order value {_cell(raw, column)!r} is not a number.", line=line, field=column)
    return number


def _codes(value: object, separator: str | None) -> tuple[str, ...]:
    """The codes in one cell: all of it, or its parts split on ``separator``, or a JSON list."""
    if value is None:
        return ()
    if isinstance(value, list):
        parts = ["" if v is None else str(v) for v in value]
    else:
        parts = str(value).split(separator) if separator else [str(value)]
    return tuple(dict.fromkeys(p.strip() for p in parts if p.strip()))


def _check_rows(
    name: str, rows: list[_Row], filters: list[tuple[str, str]], order_column: str | None, id_column: str | None, path: str
) -> None:
    if not any(row.is_unit for row in rows):
        wanted = " and ".join(f"{column}={value!r}" for column, value in filters)
        found = "; ".join(
            f"{column} has {', '.join(repr(v) for v in sorted({row.filter_values[i] for row in rows})[:5])}"
            for i, (column, _) in enumerate(filters)
        )
        raise InputError(
            path, f"transcript {name!r} has no rows that match --where {wanted} ({found}); check the --where values.",
            field=filters[0][0] if filters else None,
        )
    if order_column:
        first: dict[float, _Row] = {}
        for row in rows:
            if row.order in first:
                raise InputError(
                    path,
                    f"transcript {name!r} has order {row.order_text!r} twice (also on line {first[row.order].line}); "
                    "each row of a transcript needs its own order value.",
                    line=row.line, field=order_column,
                )
            first[row.order] = row  # type: ignore[index]
    if id_column:
        seen: dict[str, _Row] = {}
        for row in rows:
            if row.external_id is None:
                continue
            if row.external_id in seen:
                raise InputError(
                    path,
                    f"transcript {name!r} has unit id {row.external_id!r} twice (also on line {seen[row.external_id].line}).",
                    line=row.line, field=id_column,
                )
            seen[row.external_id] = row
