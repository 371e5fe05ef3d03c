"""Writing output files safely: never over the project's own files, never half a file, one overwrite rule.

Every file qcassist writes for the user (exports, reports, sheets) goes through
``write_output`` or ``write_output_file``:

- the target's folder must exist (one line if it does not);
- the project's own files are refused whatever the path: the database and its
  ``-wal``/``-shm``/``-journal`` files, anything under ``classifiers/``, ``encoders/`` or
  ``.qcassist-cache/`` of a project, any SQLite database, and any hard link or symlink
  to one of these (compared by device and inode after resolving links);
- an existing file is refused unless ``force`` (or ``owned``: a file qcassist itself
  places inside the project, such as the default ``report.html``);
- the content goes to a temporary file in the target's folder, is fsynced, and is then
  renamed over the target, so a full disk or a crash leaves the previous file whole.

CSV rows go through ``write_rows``, which neutralises spreadsheet formulas (OWASP's
rule: a text cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets
a leading single quote) unless ``raw``.
"""

from __future__ import annotations

import csv
import json
import os
import re
import stat
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import IO, TypeVar

from .errors import OS_REASONS, QcaError

DB_NAME = "qcassist.db"
PROJECT_FILES = (DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm", f"{DB_NAME}-journal")
PROJECT_FOLDERS = ("classifiers", "encoders", ".qcassist-cache")
SQLITE_MAGIC = b"SQLite format 3\x00"

# A text cell a spreadsheet would read as a formula (OWASP CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A plain number written as text ("-3", "+0.5") is read as that number, not a formula: left alone.
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?\Z")

T = TypeVar("T")

__all__ = ["write_output", "write_output_file", "write_rows", "neutralise_cell", "check_output_path"]


# --- where a file may be written ---------------------------------------------------


def check_output_path(path: str | Path, *, force: bool = False, store_dir: str | Path | None = None,
                      owned: bool = False) -> Path:
    """The resolved place to write ``path``, or a QcaError saying in one line why not.

    A terminal, pipe or device (``-o /dev/stdout``) is written to as it is, without ``force``.
    """
    path = Path(path)
    if _is_stream(path):
        return path
    target = Path(os.path.realpath(path))  # follows symlinks: a link is replaced where it points
    if not target.parent.is_dir():
        raise QcaError(f"cannot write {path}: {path.parent} is not a directory; create it or choose another output file.")
    if target.is_dir():
        raise QcaError(f"{path} is a folder; give a file name for the output.")
    _refuse_project_file(path, target, store_dir)
    if target.exists() and not (force or owned):
        raise QcaError(f"{path} already exists; pass --force to replace it.")
    return target


def _refuse_project_file(path: Path, target: Path, store_dir: str | Path | None) -> None:
    reason = _project_file_reason(target, store_dir)
    if reason:
        raise QcaError(f"{path}: refusing to write there, {reason}; choose another output file.")


def _project_file_reason(target: Path, store_dir: str | Path | None) -> str | None:
    if target.name in PROJECT_FILES:
        return "it is (or would be) a qcassist project database file"
    for folder in target.parents:
        if folder.name in PROJECT_FOLDERS and (folder.parent / DB_NAME).exists():
            return f"it is inside the project's {folder.name}/ folder"
    if store_dir is not None and _same_file_as_project_file(target, Path(store_dir)):
        return "it is a link to one of the project's own files"
    if _is_sqlite(target):
        return "it is an SQLite database"
    return None


def _same_file_as_project_file(target: Path, store_dir: Path) -> bool:
    """A hard link to the database (or to a model or cache file) has another name but the same inode."""
    try:
        found = os.stat(target)
    except OSError:
        return False
    key = (found.st_dev, found.st_ino)
    candidates = [store_dir / name for name in PROJECT_FILES]
    for folder in PROJECT_FOLDERS:
        if (store_dir / folder).is_dir():
            candidates.extend(p for p in (store_dir / folder).rglob("*") if p.is_file())
    for candidate in candidates:
        try:
            info = os.stat(candidate)
        except OSError:
            continue
        if (info.st_dev, info.st_ino) == key:
            return True
    return False


def _is_sqlite(target: Path) -> bool:
    try:
        with open(target, "rb") as handle:
            return handle.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


# --- writing -----------------------------------------------------------------------


def write_output_file(path: str | Path, write: Callable[[Path], T], *, force: bool = False,
                      store_dir: str | Path | None = None, owned: bool = False) -> T:
    """Call ``write(temporary_path)``, move the finished file to ``path`` atomically, and return what ``write`` returned.

    For writers that want a file name (python-docx, zipfile). See the module docstring for what is refused.
    """
    target = check_output_path(path, force=force, store_dir=store_dir, owned=owned)
    if _is_stream(target):
        return _write_stream(path, target, write)
    try:
        handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    except OSError as exc:
        raise QcaError(_write_failure(path, exc)) from None
    os.close(handle)
    temporary = Path(name)
    try:
        result = write(temporary)
        _fsync_file(temporary)
        os.chmod(temporary, _mode_for(target))
        _move_into_place(temporary, target, path, replace=force or owned)
    except BaseException as exc:
        temporary.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise QcaError(_write_failure(path, exc)) from None
        raise
    _fsync_folder(target.parent)
    return result


def write_output(path: str | Path, write: Callable[[IO], T], *, binary: bool = False, force: bool = False,
                 store_dir: str | Path | None = None, owned: bool = False) -> T:
    """Call ``write(stream)`` on a temporary file (UTF-8 text, or bytes if ``binary``), move it to ``path``,
    and return what ``write`` returned."""

    def to_stream(temporary: Path) -> T:
        if binary:
            with open(temporary, "wb") as stream:
                return write(stream)
        with open(temporary, "w", encoding="utf-8", newline="") as stream:
            return write(stream)

    return write_output_file(path, to_stream, force=force, store_dir=store_dir, owned=owned)


def _is_stream(target: Path) -> bool:
    """A character device or pipe: nothing to replace, and no folder to put a temporary file in."""
    try:
        mode = os.stat(target).st_mode
    except OSError:
        return False
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)


def _write_stream(path: str | Path, target: Path, write: Callable[[Path], T]) -> T:
    try:
        return write(target)
    except OSError as exc:
        raise QcaError(_write_failure(Path(path), exc)) from None


def _move_into_place(temporary: Path, target: Path, shown: Path, *, replace: bool) -> None:
    if replace:
        os.replace(temporary, target)
        return
    try:
        os.link(temporary, target)  # fails if another process made the file since the check: never clobbers
    except FileExistsError:
        raise QcaError(f"{shown} already exists; pass --force to replace it.") from None
    except OSError:  # a file system without hard links: the check above is the best there is
        if target.exists():
            raise QcaError(f"{shown} already exists; pass --force to replace it.") from None
        os.replace(temporary, target)
        return
    temporary.unlink()


def _mode_for(target: Path) -> int:
    """An existing file keeps its permissions; a new one gets the usual ones (0666 less the umask)."""
    try:
        return os.stat(target).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def flush_folder(folder: Path) -> None:
    """fsync every file in a folder just written, then the folder itself.

    For a saved model: its folder is new and this process's own (nothing is replaced), but the
    files must be on disk before the database names the model, or a crash could leave a
    registered model with empty arrays.
    """
    for path in sorted(folder.iterdir()):
        if path.is_file():
            _fsync_file(path)
    _fsync_folder(folder)


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable; some file systems cannot fsync a folder, which is harmless here."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def _write_failure(path: Path, exc: OSError) -> str:
    reason = OS_REASONS.get(exc.errno, exc.strerror or str(exc))
    return f"cannot write {path}: {reason}. Nothing was written; any previous file is unchanged."


# --- rows --------------------------------------------------------------------------


def neutralise_cell(value):
    """``value`` made safe for a spreadsheet: text that would start a formula gets a leading single quote.

    Numbers (int, float) are written as numbers, and text that is a plain number ("-3",
    "+0.5") is read as that number by spreadsheets, so both are left as they are.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def write_rows(rows: Iterable[dict], fields: Sequence[str], fmt: str, out, *, raw: bool = False) -> int:
    """Write rows to a text stream as CSV (with header) or JSON lines, keeping only ``fields``; returns how many.

    CSV cells are neutralised against formula injection unless ``raw``; JSON lines are data, left as they are.
    """
    written = 0
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(list(fields) if raw else [neutralise_cell(f) for f in fields])
        for written, row in enumerate(rows, start=1):
            cells = [row.get(f) for f in fields]
            writer.writerow(cells if raw else [neutralise_cell(c) for c in cells])
    elif fmt == "jsonl":
        for written, row in enumerate(rows, start=1):
            out.write(json.dumps({k: row.get(k) for k in fields}, ensure_ascii=False) + "\n")
    else:
        raise QcaError(f"unknown format {fmt!r}; choose csv or jsonl.")
    return written
