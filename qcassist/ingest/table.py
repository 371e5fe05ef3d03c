"""Turn tables (.csv/.tsv/.jsonl): one row a turn, columns named by a mapping.

A file may hold several transcripts (a ``transcript`` column); without one the file
is one transcript named after the file. The stored text of each transcript is
rebuilt as "Speaker: words" paragraphs, one per row.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter
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
        for column in (columns.speaker, columns.text):
            if isinstance(row.get(column), (dict, list)):
                raise InputError(str(path), "holds a JSON object or list where a text is expected.", line=line_no, field=column)
        start = _time(row, columns.start, str(path), line_no)
        end = _time(row, columns.end, str(path), line_no)
        if start is not None and end is not None and end < start:
            raise InputError(str(path), f"the turn ends ({end:g} s) before it starts ({start:g} s).", line=line_no, field=columns.end)
        builder = by_transcript.setdefault(name, TextBuilder())
        builder.add_turn(_cell(row, columns.speaker) or "Speaker", _cell(row, columns.text), start, end)
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
        if isinstance(value, (bool, dict, list)):
            raise ValueError
        seconds = float(value) if isinstance(value, (int, float)) or ":" not in str(value) else parse_clock(str(value))
    except (ValueError, OverflowError):
        seconds = math.nan
    if not 0 <= seconds < math.inf:  # NaN, Infinity and negative times would poison every later sort and export
        shown = _cell(row, column)
        shown = shown if len(shown) <= 40 else shown[:40] + "…"
        raise InputError(path, f"{shown!r} is not a time (use seconds from 0, or HH:MM:SS).", line=line_no, field=column)
    return seconds


def _csv_rows(text: str, path: str) -> tuple[list[str], list[tuple[int, dict]]]:
    delimiter = _delimiter(text.split("\n", 1)[0])
    # strict: an unterminated quote is an error, not a field that swallows the rest of the file
    reader = csv.DictReader(io.StringIO(text), dialect=csv.excel, delimiter=delimiter, strict=True)
    rows = []
    row_start = 1  # the line the row being read starts on: where a runaway quote opened
    try:
        header = [h.strip() for h in (reader.fieldnames or [])]
        repeated = sorted(h for h, n in Counter(header).items() if n > 1 and h)  # unnamed spare columns are harmless
        if repeated:
            raise InputError(path, f"has the column {repeated[0]!r} twice; rename one of them.", line=1, field=repeated[0])
        reader.fieldnames = header
        row_start = reader.line_num + 1
        for row in reader:
            if None in row:
                raise InputError(path, f"has more fields than the header's {len(header)}.", line=reader.line_num)
            rows.append((reader.line_num, row))
            row_start = reader.line_num + 1
    except csv.Error as exc:
        if "unexpected end of data" in str(exc):
            raise InputError(path, "has a quote (\") that is never closed; the row starting here runs to the end of the file.", line=row_start) from None
        raise InputError(path, f"is not valid CSV ({exc}).", line=max(row_start, reader.line_num)) from None
    return header, rows


def _delimiter(header_line: str) -> str:
    """The most frequent of comma, semicolon and tab in the header (outside quotes); comma on a tie.

    Counted by hand: csv.Sniffer's regexes are slow on long lines of quotes."""
    counts = {",": 0, ";": 0, "\t": 0}
    quoted = False
    for ch in header_line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    return max(counts, key=lambda d: (counts[d], d == ","))


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def _jsonl_rows(text: str, path: str) -> tuple[list[str], list[tuple[int, dict]]]:
    rows = []
    header: dict[str, None] = {}
    for line_no, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line, parse_constant=_refuse_constant)
            # a lone surrogate ("\ud800") decodes but cannot be stored as UTF-8
            json.dumps(row, ensure_ascii=False).encode("utf-8")
        except json.JSONDecodeError as exc:
            raise InputError(path, f"is not valid JSON ({exc.msg}).", line=line_no) from None
        except UnicodeEncodeError:
            raise InputError(path, "holds a lone surrogate escape (like \\ud800), which is not text.", line=line_no) from None
        except RecursionError:
            raise InputError(path, "is nested too deeply to be a row of turns.", line=line_no) from None
        except ValueError as exc:  # NaN/Infinity, or an integer past Python's 4,300 digits
            raise InputError(path, f"is not valid JSON ({' '.join(str(exc).split())[:120]}).", line=line_no) from None
        if not isinstance(row, dict):
            raise InputError(path, "each line must be a JSON object.", line=line_no)
        header.update(dict.fromkeys(row))
        rows.append((line_no, row))
    return list(header), rows
