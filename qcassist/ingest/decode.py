"""Bytes → normalized text, with the encodings transcripts really come in."""

from __future__ import annotations

import codecs
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError

DEFAULT_MAX_INPUT_MB = 200
MAX_INPUT_ENV = "QCASSIST_MAX_INPUT_MB"

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
    return decode_bytes(read_input_bytes(path), path)


def max_input_bytes() -> int:
    """The largest input file read: ``QCASSIST_MAX_INPUT_MB`` megabytes, 200 unless set."""
    value = os.environ.get(MAX_INPUT_ENV, "").strip()
    try:
        megabytes = float(value) if value else DEFAULT_MAX_INPUT_MB
    except ValueError:
        megabytes = -1.0
    if not 0 < megabytes < float("inf"):
        raise InputError(MAX_INPUT_ENV, f"{value!r} is not a positive number of megabytes.")
    return int(megabytes * 1024 * 1024)


def check_input_file(path: str | Path) -> None:
    """Refuse what is not a regular file of readable size, before any reader opens it.

    A FIFO would block the reader forever and a link to /dev/zero would read until memory
    runs out, so only regular files (or links to them) are read, up to ``max_input_bytes``.
    """
    try:
        info = os.stat(path)
    except OSError as exc:
        raise InputError(str(path), f"cannot be read ({exc.strerror}).") from None
    _check_stat(info, path)


def read_input_bytes(path: str | Path) -> bytes:
    """The bytes of a regular file, refusing pipes, devices and files over the size limit."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused just below
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise InputError(str(path), f"cannot be read ({exc.strerror}).") from None
    with os.fdopen(fd, "rb") as file:
        limit = _check_stat(os.fstat(file.fileno()), path)
        try:
            data = file.read(limit + 1)
        except OSError as exc:
            raise InputError(str(path), f"cannot be read ({exc.strerror}).") from None
    if len(data) > limit:  # it grew after the size check
        raise _too_large(path, limit)
    return data


def _check_stat(info: os.stat_result, path: str | Path) -> int:
    if stat.S_ISDIR(info.st_mode):
        raise InputError(str(path), "is a directory; pass the transcript files (e.g. DIR/*.txt).")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(str(path), "is not a regular file (a pipe, device or socket); qcassist reads only regular files.")
    limit = max_input_bytes()
    if info.st_size > limit:
        raise _too_large(path, limit)
    return limit


def _too_large(path: str | Path, limit: int) -> InputError:
    return InputError(
        str(path),
        f"is larger than the {limit / 1024 / 1024:g} MB limit for one input file; "
        f"split it, or raise the limit with the environment variable {MAX_INPUT_ENV}.",
    )
