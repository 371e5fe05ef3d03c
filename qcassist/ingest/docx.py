"""Word (.docx) transcripts: paragraphs with speaker labels, and speaker/text tables.

The stored text is the document's paragraphs joined by newlines; a table row
becomes the line "Speaker: text" (a leading time column is kept as a timestamp).
The text is then parsed like a plain-text transcript, with table speakers known.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import replace
from pathlib import Path

from ..errors import InputError
from ..model import Transcript
from .decode import read_input_bytes
from .text import parse_labelled_text
from .turns import TIMESTAMP

_HEADER_WORDS = {"speaker", "name", "person", "text", "transcript", "utterance", "time", "timestamp"}
MAX_SPEAKER_CHARS = 40
# a .docx is a zip: these are checked on the declared sizes before anything is decompressed
# (reading stops at the declared size, so a member cannot expand past it)
MAX_DOCX_MEMBER_MB = 50
MAX_DOCX_TOTAL_MB = 200
MAX_DOCX_RATIO = 100  # expanded / compressed, for members over 1 MB
MAX_DOCX_MEMBERS = 10_000
_MB = 1024 * 1024


def read_docx(path: str | Path, *, interviewers: tuple[str, ...] = ()) -> tuple[Transcript, tuple[str, ...]]:
    """Read a .docx transcript."""
    import docx  # python-docx; imported here so other formats do not pay for it
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    from lxml import etree

    path = Path(path)
    data = read_input_bytes(path)
    if not data:
        raise InputError(str(path), "the file is empty; nothing to import.")
    check_zip_sizes(data, path)
    try:
        document = docx.Document(io.BytesIO(data))
    except etree.LxmlError as exc:
        raise InputError(str(path), f"is not a readable .docx file (its XML is malformed: {_one_line(exc)}).") from None
    except (zipfile.BadZipFile, PackageNotFoundError, KeyError, ValueError, OSError, EOFError) as exc:
        raise InputError(str(path), f"is not a readable .docx file ({type(exc).__name__}: {_one_line(exc)}).") from None
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


def check_zip_sizes(data: bytes, path: str | Path) -> None:
    """Refuse a zip bomb: too many members, or members (or all of them) that expand too far."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise InputError(str(path), f"is not a readable .docx file ({type(exc).__name__}: {_one_line(exc)}).") from None
    if len(members) > MAX_DOCX_MEMBERS:
        raise InputError(str(path), f"has {len(members)} parts, more than the {MAX_DOCX_MEMBERS} a .docx may have.")
    total = 0
    for member in members:
        total += member.file_size
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > MAX_DOCX_MEMBER_MB * _MB or (member.file_size > _MB and ratio > MAX_DOCX_RATIO):
            raise InputError(
                str(path),
                f"part {member.filename!r} expands to {member.file_size / _MB:.0f} MB from {member.compress_size / _MB:.1f} MB "
                f"(limits: {MAX_DOCX_MEMBER_MB} MB a part, {MAX_DOCX_RATIO}:1 compression); refused as a possible zip bomb.",
            )
    if total > MAX_DOCX_TOTAL_MB * _MB:
        raise InputError(str(path), f"expands to {total / _MB:.0f} MB, over the {MAX_DOCX_TOTAL_MB} MB limit for a .docx.")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
