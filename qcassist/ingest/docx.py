"""Word (.docx) transcripts: paragraphs with speaker labels, and speaker/text tables.

The stored text is the document's paragraphs joined by newlines; a table row
becomes the line "Speaker: text" (a leading time column is kept as a timestamp).
The text is then parsed like a plain-text transcript, with table speakers known.
"""

from __future__ import annotations

import zipfile
from dataclasses import replace
from pathlib import Path

from ..errors import InputError
from ..model import Transcript
from .text import parse_labelled_text
from .turns import TIMESTAMP

_HEADER_WORDS = {"speaker", "name", "person", "text", "transcript", "utterance", "time", "timestamp"}
MAX_SPEAKER_CHARS = 40


def read_docx(path: str | Path, *, interviewers: tuple[str, ...] = ()) -> tuple[Transcript, tuple[str, ...]]:
    """Read a .docx transcript."""
    import docx  # python-docx; imported here so other formats do not pay for it
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    path = Path(path)
    if path.stat().st_size == 0:
        raise InputError(str(path), "the file is empty; nothing to import.")
    try:
        document = docx.Document(str(path))
    except (zipfile.BadZipFile, PackageNotFoundError, KeyError, ValueError, OSError) as exc:
        raise InputError(str(path), f"is not a readable .docx file ({type(exc).__name__}: {exc}).") from None
    lines: list[str] = []
    speakers: set[str] = set()
    for block in document.element.body.iterchildren():
        tag = block.tag.rsplit("}", 1)[-1]
        if tag == "p":
            lines.append(Paragraph(block, document).text)
        elif tag == "tbl":
            lines.extend(_table_lines(Table(block, document), speakers))
    text = "\n".join(line.replace("\r\n", "\n").replace("\r", "\n") for line in lines).strip("\n")
    if not text.strip():
        raise InputError(str(path), "the document is empty; nothing to import.")
    transcript, warnings = parse_labelled_text(
        text + "\n", name=path.stem, path=path, interviewers=interviewers, known_labels=speakers
    )

    return replace(transcript, metadata={"format": "docx"}), warnings


def _table_lines(table, speakers: set[str]) -> list[str]:
    lines = []
    for row in table.rows:
        cells = []
        for cell in row.cells:  # merged cells repeat; keep each once
            value = cell.text.strip()
            if not cells or value != cells[-1]:
                cells.append(value)
        if len(cells) >= 2 and not cells[-1] and len(cells[-2]) <= MAX_SPEAKER_CHARS:
            continue  # a speaker with nothing said: the name must not join the previous turn
        cells = [c for c in cells if c]
        if not cells:
            continue
        if all(c.casefold() in _HEADER_WORDS for c in cells):
            continue
        stamp = ""
        if len(cells) >= 3 and TIMESTAMP.fullmatch(cells[0]):
            stamp, cells = f"{cells[0]} ", cells[1:]
        elif len(cells) >= 3 and TIMESTAMP.fullmatch(f"[{cells[0]}]"):
            stamp, cells = f"[{cells[0]}] ", cells[1:]
        if len(cells) >= 2 and len(cells[0]) <= MAX_SPEAKER_CHARS and ":" not in cells[0]:
            speakers.add(cells[0])
            lines.append(f"{stamp}{cells[0]}: {' '.join(cells[1:])}")
        else:
            lines.append(stamp + " ".join(cells))
    return lines
