"""Errors a user can fix. The CLI prints them as one line and exits with code 2."""

from __future__ import annotations

import errno
import os
import sys


class QcaError(Exception):
    """A user-facing error: one sentence saying what is wrong and what to do."""


class InputError(QcaError):
    """A file that cannot be read as what the user said it is."""

    def __init__(self, path: str, message: str, *, line: int | None = None, field: str | None = None):
        self.path = str(path)
        self.line = line
        self.field = field
        where = self.path
        if line is not None:
            where += f", line {line}"
        if field is not None:
            where += f", field {field!r}"
        super().__init__(f"{where}: {message}")


class ProjectError(QcaError):
    """The project directory or its database is missing, corrupt or from a newer qcassist."""


class ConflictError(QcaError):
    """The operation would overwrite or lose something the user made."""


class BusyError(ProjectError):
    """Another command held the project's database for longer than we wait."""


# --- anticipated failures that are not QcaErrors -------------------------------------
# The CLI's one error path turns these into one accurate line. Each message says what
# happened and what to do, and never advises discarding a database that is only
# read-only, busy or on a full disk.

OS_REASONS = {
    errno.ENOSPC: "the disk is full; free some space and run the command again",
    errno.EDQUOT: "the disk quota is exceeded; free some space and run the command again",
    errno.EACCES: "permission denied; check the file's and its folder's permissions",
    errno.EPERM: "operation not permitted (is the file or its folder immutable?)",
    errno.EROFS: "the file system is read-only; copy the project somewhere writable",
    errno.ENOENT: "no such file or folder",
    errno.EISDIR: "is a folder, not a file",
    errno.ENOTDIR: "a part of the path is not a folder",
}


def sqlite_failure(exc: Exception, database: str | os.PathLike | None) -> str:
    """One sentence for an sqlite3 error on ``database`` (the project's, unless another file is named)."""
    where = str(database) if database is not None else "the project database"
    text = str(exc)
    lowered = text.lower()
    if "locked" in lowered or "busy" in lowered:
        return (f"{where} is busy: another qcassist command is writing to it; "
                "try again when it has finished.")
    if "readonly" in lowered or "read-only" in lowered:
        return (f"{where} is read-only (the file, its folder or the file system); nothing was changed. "
                "Make them writable, or copy the project somewhere writable.")
    if "disk is full" in lowered or ("disk i/o error" in lowered and _disk_full(database)):
        return f"{where}: the disk is full; nothing was changed. Free some space and run the command again."
    if "unable to open" in lowered and database is not None and not _writable_folder(database):
        return (f"{where}: its folder is read-only, and SQLite needs to create {os.path.basename(where)}-wal and -shm "
                "beside the database; nothing was changed. Make the folder writable, or copy the project somewhere writable.")
    if "unable to open" in lowered:
        return (f"{where}: cannot open the database ({text}); check that the file and its folder exist and "
                "are readable and writable.")
    if "disk i/o error" in lowered:
        return (f"{where}: disk I/O error; nothing was changed. Check that the disk is not full, read-only or "
                "removed, then run the command again.")
    if "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
        return f"{where}: not a readable qcassist database ({text}); restore it from a backup or move it away."
    return f"{where}: database error ({text})."


def _writable_folder(database) -> bool:
    folder = os.path.dirname(os.path.abspath(database))
    return not os.path.isdir(folder) or os.access(folder, os.W_OK)


def _disk_full(database) -> bool:
    """SQLite reports a full disk as an I/O error when it cannot grow its shared-memory file."""
    if database is None:
        return False
    try:
        return os.statvfs(os.path.dirname(os.path.abspath(database))).f_bavail == 0
    except OSError:
        return False


def os_failure(exc: OSError) -> str:
    """One sentence for an OSError, naming its file."""
    names = [n for n in (exc.filename, exc.filename2) if n is not None]
    where = " → ".join(os.fsdecode(n) if isinstance(n, bytes) else str(n) for n in names)
    reason = OS_REASONS.get(exc.errno, exc.strerror or str(exc))
    return f"{where}: {reason}." if where else f"{reason[0].upper()}{reason[1:]}."


def describe_failure(exc: BaseException, *, database: str | os.PathLike | None = None) -> str | None:
    """One line for an anticipated failure that is not a QcaError; None for a bug."""
    import sqlite3  # stdlib, already loaded by the store

    if isinstance(exc, QcaError):
        return str(exc)
    if isinstance(exc, sqlite3.DatabaseError):
        return sqlite_failure(exc, database)
    if isinstance(exc, OSError):
        return os_failure(exc)
    if isinstance(exc, RecursionError):
        return ("the data are nested too deeply for Python (a file or codebook hundreds of levels deep); "
                "nothing was changed.")
    if isinstance(exc, UnicodeError):
        return f"text that is not valid Unicode ({_short(exc)}); nothing was changed."
    if isinstance(exc, ValueError) and "integer string conversion" in str(exc):
        return f"a number too long to read ({_short(exc)}); nothing was changed."
    if isinstance(exc, MemoryError):
        return "out of memory (a file far larger than it looks?); nothing was changed."
    for kind, what in _parser_errors():
        if isinstance(exc, kind):
            return f"{what} ({_short(exc)}); nothing was changed."
    return None


def _parser_errors() -> list[tuple[type, str]]:
    """Parser errors of the libraries we read files with, where they are installed."""
    import json
    import xml.etree.ElementTree
    import zipfile

    found: list[tuple[type, str]] = [
        (json.JSONDecodeError, "invalid JSON"),
        (xml.etree.ElementTree.ParseError, "malformed XML"),
        (zipfile.BadZipFile, "not a valid zip archive"),
        (zipfile.LargeZipFile, "zip archive too large"),
    ]
    try:
        from lxml import etree
    except ImportError:
        pass
    else:
        found.append((etree.LxmlError, "malformed XML"))
    try:
        import yaml
    except ImportError:
        pass
    else:
        found.append((yaml.YAMLError, "invalid YAML"))
    return found


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


def warn_user(message: str) -> None:
    """A one-line notice on standard error, for things the library recovers from (a rebuilt cache)."""
    sys.stderr.write(f"Warning: {message}\n")
    sys.stderr.flush()
