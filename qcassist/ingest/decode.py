"""Bytes → normalized text, with the encodings transcripts really come in."""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError

# (mark, codec that keeps error positions relative to the whole file, name we report)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8", "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16", "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "utf-16"),
)


@dataclass(frozen=True, slots=True)
class DecodedText:
    text: str
    encoding: str
    warnings: tuple[str, ...] = field(default=())


def normalize_newlines(text: str) -> str:
    """CRLF and lone CR become LF; offsets always index the normalized text."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def decode_bytes(data: bytes, path: str | Path) -> DecodedText:
    """Decode transcript bytes: BOM-marked UTF-8/UTF-16, then UTF-8, then cp1252 with a warning."""
    path = str(path)
    if not data.strip():
        raise InputError(path, "the file is empty; nothing to import.")
    for bom, codec, encoding in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(codec)
            except UnicodeDecodeError as exc:
                raise InputError(
                    path,
                    f"has a {encoding} byte-order mark but undecodable bytes at byte {exc.start}; re-save the file as UTF-8.",
                    line=_line_at(data, exc.start, codec),
                ) from None
            return DecodedText(_check_text(text.lstrip("\ufeff"), path), encoding)
    if b"\x00" in data:
        raise InputError(path, "looks like a binary file (it contains NUL bytes), not a text transcript.")
    try:
        return DecodedText(_check_text(data.decode("utf-8"), path), "utf-8")
    except UnicodeDecodeError as exc:
        utf8_error = exc
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError as exc:
        line = _line_at(data, exc.start, "cp1252")
        raise InputError(
            path,
            f"undecodable byte 0x{data[exc.start]:02x} (neither UTF-8 nor cp1252); re-save the file as UTF-8.",
            line=line,
        ) from None
    line = _line_at(data, utf8_error.start, "utf-8")
    warning = f"{path}: not valid UTF-8 (first bad byte on line {line}); read as Windows-1252 (cp1252). Check accented letters."
    return DecodedText(_check_text(text, path), "cp1252", (warning,))


def _line_at(data: bytes, index: int, codec: str) -> int:
    """The 1-based line (of the normalized text) that byte ``index`` falls on."""
    return normalize_newlines(data[:index].decode(codec, errors="replace")).count("\n") + 1


def _check_text(text: str, path: str) -> str:
    text = normalize_newlines(text)
    if not text.strip():
        raise InputError(path, "the file is empty; nothing to import.")
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\n\t\f\v")
    if controls > max(8, len(text) // 100):
        raise InputError(path, "looks like a binary file (many control characters), not a text transcript.")
    return text


def read_text(path: str | Path) -> DecodedText:
    """Read and decode a text file, raising InputError naming the file on any failure."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(str(path), f"cannot be read ({exc.strerror}).") from None
    return decode_bytes(data, path)
