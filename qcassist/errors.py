"""Errors a user can fix. The CLI prints them as one line and exits with code 2."""

from __future__ import annotations


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
