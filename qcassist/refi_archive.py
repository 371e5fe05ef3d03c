"""The inside of a .qdpx as a project file someone sent you: bounded reads, sources found only where they may be.

A .qdpx is a zip that names its sources by path (``plainTextPath``). Tools write
those paths differently (``internal://x.txt`` for ``sources/x.txt``, a bare
``x.txt``, other case, URL escapes); ``SourceFiles`` finds each one inside the
archive. A path that points outside it (``/etc/shadow``, ``file://``,
``relative://``) is never read from the disk unless the user named a folder for
external sources, and then only files inside that folder.

Sizes are checked from the zip directory before anything is decompressed, and every
read stops at the declared size, so a small file that expands to gigabytes is
refused quickly and in little memory. Limits (``ArchiveLimits``) can be raised with
environment variables, for projects that really are that big.
"""

from __future__ import annotations

import os
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

from .errors import InputError

MB = 1024 * 1024
_ENV = {"member_mb": "QCASSIST_QDPX_MAX_MEMBER_MB", "total_mb": "QCASSIST_QDPX_MAX_TOTAL_MB",
        "ratio": "QCASSIST_QDPX_MAX_RATIO"}
_RATIO_FLOOR = MB  # small members may compress extremely well (a run of spaces); only big ones can be bombs


@dataclass(frozen=True, slots=True)
class ArchiveLimits:
    """How much a .qdpx may expand to: per file read, in all, and how far one member may be compressed."""

    member_mb: int = 256  # project.qde or one source (a long interview is well under 1 MB of text)
    total_mb: int = 1024  # everything qcassist reads from one .qdpx
    ratio: int = 200  # expanded / compressed, for members over 1 MB (text compresses 3-10x)

    @classmethod
    def from_env(cls) -> ArchiveLimits:
        """The defaults, overridden by QCASSIST_QDPX_MAX_MEMBER_MB, QCASSIST_QDPX_MAX_TOTAL_MB, QCASSIST_QDPX_MAX_RATIO."""
        values = {}
        for key, variable in _ENV.items():
            raw = os.environ.get(variable)
            if raw is None or not raw.strip():
                continue
            try:
                values[key] = int(raw)
            except ValueError:
                raise InputError(variable, f"must be a whole number, not {raw!r}.") from None
            if values[key] <= 0:
                raise InputError(variable, f"must be positive, not {raw!r}.")
        return cls(**values)


def _override(variable: str) -> str:
    return f"set {variable} to allow more"


class SourceFiles:
    """Reads members of one open .qdpx (and, only when given, files of one external folder) within limits."""

    def __init__(self, archive: zipfile.ZipFile, path: Path, *, limits: ArchiveLimits,
                 sources_dir: Path | None = None):
        self.archive, self.path, self.limits = archive, path, limits
        self.sources_dir = sources_dir.resolve() if sources_dir is not None else None
        self.read_bytes = 0
        infos = archive.infolist()
        self.members = {}  # lower-case name -> ZipInfo; names are matched without case
        for info in infos:
            self._check_ratio(info)
            if not info.is_dir():
                self.members.setdefault(_normal(info.filename).lower(), info)
        self.by_basename: dict[str, list[zipfile.ZipInfo]] = {}
        for key, info in self.members.items():
            self.by_basename.setdefault(PurePosixPath(key).name, []).append(info)

    def project_member(self) -> str:
        """The project.qde (or the one .qde at the top); two are refused, as which one counts would be a guess."""
        names = [i.filename for i in self.archive.infolist() if _normal(i.filename).lower() == "project.qde"]
        if len(names) > 1:
            raise InputError(str(self.path), f"has {len(names)} project.qde members ({', '.join(map(repr, names))}); "
                             "a .qdpx has one. Export the project again from its tool.")
        if names:
            return names[0]
        qde = [i.filename for i in self.archive.infolist()
               if i.filename.lower().endswith(".qde") and "/" not in _normal(i.filename)]
        if len(qde) == 1:
            return qde[0]
        raise InputError(str(self.path), "has no project.qde inside; it is a zip but not a REFI-QDA project (.qdpx).")

    def read_member(self, name: str) -> bytes:
        """One member's bytes, refused before decompressing when over the limits."""
        return self._read(self.archive.getinfo(name))

    def find(self, reference: str) -> zipfile.ZipInfo | Path | None:
        """Where a source path points: a member inside the archive, a file in the sources folder, or None."""
        member = self._member_for(reference)
        return member if member is not None else self._external_for(reference)

    def read(self, found: zipfile.ZipInfo | Path) -> bytes:
        """The bytes of what ``find`` returned."""
        if isinstance(found, Path):
            return self._read_external(found)
        return self._read(found)

    # --- inside the archive ---------------------------------------------------------

    def _member_for(self, reference: str) -> zipfile.ZipInfo | None:
        """internal://x, x, sources/x, in any case, escaped or not; else a unique member with the same file name."""
        inner = _strip_scheme(reference)
        if inner is not None:
            for candidate in dict.fromkeys((inner, unquote(inner))):
                candidate = _normal(candidate).lower()
                for key in (f"sources/{candidate}", candidate):
                    if key in self.members:
                        return self.members[key]
        name = PurePosixPath(_normal(unquote(reference.removeprefix("file://")))).name.lower()
        same = self.by_basename.get(name, [])
        return same[0] if len(same) == 1 else None

    def _check_ratio(self, info: zipfile.ZipInfo) -> None:
        if info.file_size > _RATIO_FLOOR and info.file_size > self.limits.ratio * max(info.compress_size, 1):
            raise InputError(str(self.path), f"member {info.filename!r} expands {info.compress_size} bytes to "
                             f"{info.file_size} (more than {self.limits.ratio} times); refused as a possible zip bomb "
                             f"({_override(_ENV['ratio'])}).")

    def _read(self, info: zipfile.ZipInfo) -> bytes:
        self._budget(info.filename, info.file_size)
        try:
            with self.archive.open(info) as stream:
                data = stream.read(info.file_size + 1)  # zipfile stops at the declared size; +1 would show a lie
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise InputError(str(self.path), f"member {info.filename!r} cannot be read ({exc}); the file is damaged. "
                             "Export the project again from its tool.") from None
        except (RuntimeError, NotImplementedError) as exc:  # encrypted, or a compression zipfile does not know
            raise InputError(str(self.path), f"member {info.filename!r} cannot be read ({exc}).") from None
        if len(data) > info.file_size:
            raise InputError(str(self.path), f"member {info.filename!r} is larger than its zip entry says; the file is damaged.")
        return data

    def _budget(self, name: str, size: int) -> None:
        limit = self.limits.member_mb * MB
        if size > limit:
            raise InputError(str(self.path), f"{name!r} is {size // MB} MB expanded, over the {self.limits.member_mb} MB "
                             f"limit for one file ({_override(_ENV['member_mb'])}).")
        self.read_bytes += size
        if self.read_bytes > self.limits.total_mb * MB:
            raise InputError(str(self.path), f"expands to more than the {self.limits.total_mb} MB limit for one project "
                             f"({_override(_ENV['total_mb'])}).")

    # --- the external sources folder -----------------------------------------------------

    def _external_for(self, reference: str) -> Path | None:
        """A file in the user's sources folder: the path relative to it, or else the file name; never outside it."""
        if self.sources_dir is None:
            return None
        raw = unquote(reference)
        for prefix in ("relative://", "file://", "internal://"):
            raw = raw.removeprefix(prefix)
        relative = raw.replace("\\", "/").lstrip("/")
        for candidate in (self.sources_dir / relative, self.sources_dir / PurePosixPath(relative).name):
            resolved = candidate.resolve()
            if resolved.is_relative_to(self.sources_dir) and resolved.is_file():
                return resolved
        return None

    def _read_external(self, file: Path) -> bytes:
        info = file.stat()
        if not stat.S_ISREG(info.st_mode):  # a FIFO or device would hang or never end
            raise InputError(str(file), "is not a regular file.")
        self._budget(str(file), info.st_size)
        with open(file, "rb") as stream:
            return stream.read(info.st_size)


def points_outside(reference: str) -> bool:
    """Whether a source path names a file on the disk (file://, relative://, absolute) rather than one in the archive."""
    return _strip_scheme(reference) is None


def _strip_scheme(reference: str) -> str | None:
    """The archive path of an internal or bare relative reference; None for paths that point at the disk."""
    if reference.startswith("internal://"):
        return reference[len("internal://"):]
    if "://" in reference or reference.startswith(("/", "\\")) or (len(reference) > 1 and reference[1] == ":"):
        return None  # file://, relative://, absolute or drive paths: outside the archive
    return reference


def _normal(name: str) -> str:
    """A zip path as compared here: forward slashes, no leading ./ or /."""
    name = name.replace("\\", "/")
    while name.startswith(("./", "/")):
        name = name[2:] if name.startswith("./") else name[1:]
    return name
