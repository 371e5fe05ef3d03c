"""Turn tables (.csv/.tsv/.jsonl): one row a turn, columns named by a mapping.

A file may hold several transcripts (a ``transcript`` column); without one the file
is one transcript named after the file. The stored text of each transcript is
rebuilt as "Speaker: words" paragraphs, one per row.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..model import Transcript
from .decode import read_text
from .turns import TextBuilder, build_transcript, parse_clock


@dataclass(frozen=True, slots=True)
class ColumnMap:
    """Which column holds what. ``transcript``, ``start`` and ``end`` are optional."""

    speaker: str = "speaker"
    text: str = "text"
    transcript: str | None = "transcript"
    start: str | None = "start"
    end: str | None = "end"


def read_table(
    path: str | Path, *, columns: ColumnMap = ColumnMap(), interviewers: tuple[str, ...] = ()
) -> tuple[list[Transcript], tuple[str, ...]]:
    """Read a CSV/TSV/JSONL table of turns into one or more transcripts."""
    path = Path(path)
    decoded = read_text(path)
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        header, rows = _jsonl_rows(decoded.text, str(path))
    else:
        header, rows = _csv_rows(decoded.text, str(path))
    for required in (columns.speaker, columns.text):
        if required not in header:
            raise InputError(
                str(path),
                f"has no column {required!r} (columns: {', '.join(header) or 'none'}); map it with --speaker-column/--text-column.",
                field=required,
            )
    by_transcript: dict[str, TextBuilder] = {}
    has_transcript = bool(columns.transcript) and columns.transcript in header
    for line_no, row in rows:
        name = _cell(row, columns.transcript) if has_transcript else path.stem
        if not name:
            raise InputError(str(path), "empty transcript name.", line=line_no, field=columns.transcript)
        builder = by_transcript.setdefault(name, TextBuilder())
        builder.add_turn(
            _cell(row, columns.speaker) or "Speaker",
            _cell(row, columns.text),
            _time(row, columns.start, str(path), line_no),
            _time(row, columns.end, str(path), line_no),
        )
    if not by_transcript:
        raise InputError(str(path), "has a header but no rows; nothing to import.")
    fmt = "jsonl" if path.suffix.lower() in (".jsonl", ".ndjson") else "csv"
    transcripts = [
        build_transcript(
            name, builder.text, builder.turns, path=path, interviewers=interviewers,
            metadata={"encoding": decoded.encoding, "format": fmt},
        )
        for name, builder in by_transcript.items()
    ]
    return transcripts, decoded.warnings


def _cell(row: dict, column: str | None) -> str:
    # a JSON 0 is a name or a word, not a missing value
    value = row.get(column) if column else None
    return "" if value is None else str(value).strip()


def _time(row: dict, column: str | None, path: str, line_no: int) -> float | None:
    if not column or row.get(column) in (None, ""):
        return None
    value = row[column]
    try:
        return float(value) if isinstance(value, (int, float)) or ":" not in str(value) else parse_clock(str(value))
    except ValueError:
        raise InputError(path, f"{value!r} is not a time (use seconds or HH:MM:SS).", line=line_no, field=column) from None


def _csv_rows(text: str, path: str) -> tuple[list[str], list[tuple[int, dict]]]:
    first_line = text.split("\n", 1)[0]
    try:
        delimiter = csv.Sniffer().sniff(first_line, delimiters=",;\t").delimiter
    except csv.Error:
        delimiter = ","
    # only the delimiter is sniffed: a header line says nothing about quoting ("" inside quotes)
    reader = csv.DictReader(io.StringIO(text), dialect=csv.excel, delimiter=delimiter)
    header = [h.strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    rows = []
    try:
        for row in reader:
            if None in row:
                raise InputError(path, f"has more fields than the header's {len(header)}.", line=reader.line_num)
            rows.append((reader.line_num, row))
    except csv.Error as exc:
        raise InputError(path, f"is not valid CSV ({exc}).", line=reader.line_num) from None
    return header, rows


def _jsonl_rows(text: str, path: str) -> tuple[list[str], list[tuple[int, dict]]]:
    rows = []
    header: dict[str, None] = {}
    for line_no, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(path, f"is not valid JSON ({exc.msg}).", line=line_no) from None
        if not isinstance(row, dict):
            raise InputError(path, "each line must be a JSON object.", line=line_no)
        header.update(dict.fromkeys(row))
        rows.append((line_no, row))
    return list(header), rows
