"""Codings given as character spans (.csv/.tsv/.jsonl): transcript, start, end, code, coder.

Offsets are half-open, like everywhere in qcassist: ``end`` is the first character
after the span. Whether they fit a transcript is checked where the transcripts are.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from .decode import read_text
from .table import _cell, _csv_rows, _jsonl_rows

REQUIRED_COLUMNS: tuple[str, ...] = ("transcript", "start", "end", "code")


@dataclass(frozen=True, slots=True)
class SpanCoding:
    """One code on ``transcript.text[start:end]``, as a row of a span file."""

    transcript: str
    start: int
    end: int  # exclusive
    code: str
    coder: str | None
    line: int  # in the source file, for error messages


def read_span_codings(path: str | Path) -> list[SpanCoding]:
    """Read span codings, one a row; column names are matched whatever their case."""
    path = Path(path)
    text = read_text(path).text
    is_jsonl = path.suffix.lower() in (".jsonl", ".ndjson")
    header, rows = (_jsonl_rows if is_jsonl else _csv_rows)(text, str(path))
    by_lower = {h.lower(): h for h in reversed(header)}  # the first of two same-named columns wins
    missing = [name for name in REQUIRED_COLUMNS if name not in by_lower]
    if missing:
        raise InputError(
            str(path),
            f"has no column {missing[0]!r} (columns: {', '.join(header) or 'none'}); "
            f"a span file needs {', '.join(REQUIRED_COLUMNS)} and may have coder.",
            field=missing[0],
        )
    if not rows:
        raise InputError(str(path), "has a header but no rows; nothing to import.")
    transcript, start, end, code = (by_lower[name] for name in REQUIRED_COLUMNS)
    coder = by_lower.get("coder")
    codings = []
    for line, row in rows:
        for column in (transcript, code):
            if not _cell(row, column):
                raise InputError(str(path), f"empty {column}.", line=line, field=column)
        first = _offset(row, start, str(path), line)
        last = _offset(row, end, str(path), line)
        if first >= last:
            raise InputError(
                str(path), f"start {first} is not before end {last}; end is the first character after the span.",
                line=line, field=start,
            )
        codings.append(SpanCoding(_cell(row, transcript), first, last, _cell(row, code), _cell(row, coder) or None, line))
    return codings


def _offset(row: dict, column: str, path: str, line: int) -> int:
    value = row.get(column)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    try:
        if isinstance(value, bool) or isinstance(value, float):
            raise ValueError
        number = value if isinstance(value, int) else int(str(value).strip())
    except (TypeError, ValueError):
        raise InputError(path, f"{column} {_cell(row, column)!r} is not a whole number of characters.", line=line, field=column) from None
    if number < 0:
        raise InputError(path, f"{column} {number} is negative; offsets count characters from 0.", line=line, field=column)
    return number
