"""Where an export may be written, and writing it whole: never over the project's own files, never half a file.

A local version of the check every output will get from one shared helper (issue 15):
the same files and folders are protected, so switching to it changes no behaviour here.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from .errors import QcaError
from .store import CACHE_DIR, DB_NAME, Store


PROJECT_FILES = (DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm", f"{DB_NAME}-journal")
PROJECT_FOLDERS = ("classifiers", "encoders", CACHE_DIR)


def check_target(store: Store, path: str | Path) -> None:
    """Refuse, in one line, an export that would land on the project's own files or in a missing folder."""
    path = Path(path)
    target = Path(os.path.realpath(path))  # a symlink is judged by where it points
    if not target.parent.is_dir():
        raise QcaError(f"cannot write {path}: {path.parent} is not a folder; create it or choose another file.")
    if target.is_dir():
        raise QcaError(f"{path} is a folder; give a file name for the export.")
    project = Path(os.path.realpath(store.directory))
    inside = [folder.name for folder in target.parents if folder.parent == project and folder.name in PROJECT_FOLDERS]
    own = target.name in PROJECT_FILES or inside or _same_as_a_project_file(target, project)
    if own:
        raise QcaError(f"{path}: refusing to write over the project's own files (its database, models or cache); "
                       "choose another file.")


def _same_as_a_project_file(target: Path, project: Path) -> bool:
    """A hard link to the database is the database, whatever its name."""
    if not target.exists():
        return False
    return any((project / name).exists() and os.path.samefile(target, project / name) for name in PROJECT_FILES)


def write_atomically(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write to a temporary file beside ``path``, fsync it and rename it over ``path``: never half a file."""
    target = Path(os.path.realpath(path))
    try:
        handle, partial = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    except OSError as exc:
        raise QcaError(f"{path}: cannot write the export ({exc.strerror or exc}); check the folder exists and is writable.") from None
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        mask = os.umask(0)  # mkstemp makes the file private; give it the mode a plain open() would
        os.umask(mask)
        os.chmod(partial, 0o666 & ~mask)
        os.replace(partial, target)
        _fsync_folder(target.parent)  # the rename itself survives a crash
    except OSError as exc:
        Path(partial).unlink(missing_ok=True)
        raise QcaError(f"{path}: cannot write the export ({exc.strerror or exc}); the previous file, if any, is "
                       "unchanged.") from None
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


def _fsync_folder(folder: Path) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # some systems cannot open folders; the file itself is synced
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
