"""Readers: a transcript file as analysts have it → Transcript objects.

Every reader keeps exact character offsets into the stored (newline-normalized)
text and raises ``InputError`` naming the file, and the line or field where known.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..model import Transcript
from .decode import check_input_file
from .docx import read_docx
from .subtitles import read_subtitles
from .table import ColumnMap, read_table
from .text import parse_labelled_text, read_text_transcript

SUFFIXES: dict[str, str] = {
    ".txt": "text", ".md": "text", ".text": "text",
    ".docx": "docx",
    ".vtt": "subtitles", ".srt": "subtitles",
    ".csv": "table", ".tsv": "table", ".jsonl": "table", ".ndjson": "table",
}

__all__ = ["SUFFIXES", "ColumnMap", "ReadResult", "describe_turns", "parse_labelled_text", "read_transcripts"]


@dataclass(frozen=True, slots=True)
class ReadResult:
    transcripts: list[Transcript]
    warnings: tuple[str, ...]

    @property
    def found(self) -> tuple[str, ...]:
        """One line per transcript saying what the reader found: 'name: 3 speakers, 42 turns'."""
        return tuple(describe_turns(t) for t in self.transcripts)


def describe_turns(transcript: Transcript) -> str:
    """'name: 3 speakers, 42 turns', for import summaries."""
    speakers = len({turn.speaker for turn in transcript.turns})
    turns = len(transcript.turns)
    return f"{transcript.name}: {speakers} speaker{'s' * (speakers != 1)}, {turns} turn{'s' * (turns != 1)}"


def read_transcripts(
    path: str | Path,
    *,
    interviewers: tuple[str, ...] = (),
    columns: ColumnMap = ColumnMap(),
) -> ReadResult:
    """Read one file of any supported format into one or more transcripts."""
    path = Path(path)
    if path.is_dir():
        raise InputError(str(path), "is a directory; pass the transcript files (e.g. DIR/*.txt).")
    if not path.exists():
        raise InputError(str(path), "does not exist.")
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        known = ", ".join(sorted(SUFFIXES))
        raise InputError(str(path), f"unknown file type {path.suffix or '(none)'!r}; qcassist reads {known}.")
    check_input_file(path)
    if kind == "table":
        transcripts, warnings = read_table(path, columns=columns, interviewers=interviewers)
        return ReadResult(transcripts, warnings)
    reader = {"text": read_text_transcript, "docx": read_docx, "subtitles": read_subtitles}[kind]
    transcript, warnings = reader(path, interviewers=interviewers)
    return ReadResult([transcript], warnings)
