"""Shared pieces of every reader: raw turns, timestamps, and the final Transcript."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..model import Transcript, Turn
from .roles import assign_roles

# 00:01:02, 1:02, 00:01:02.5, 00:01:02,500, 00:01:02-5 (f4 transcription style)
_CLOCK = r"(?:\d{1,2}:)?\d{1,2}:\d{2}(?:[.,-]\d{1,3})?"
TIMESTAMP = re.compile(rf"#{_CLOCK}#|\[{_CLOCK}\]|\({_CLOCK}\)")


@dataclass(slots=True)
class RawTurn:
    """A turn before roles are known."""

    speaker: str
    start: int
    end: int
    start_time: float | None = None
    end_time: float | None = None


def parse_clock(value: str) -> float:
    """'01:02:03.5' / '1:02' / '00:01:02,500' / '00:01:02-5' → seconds."""
    value = value.strip().strip("#[]()")
    match = re.match(r"^([\d:]+)(?:[.,-](\d+))?$", value)
    if not match:
        raise ValueError(f"not a time: {value!r}")
    parts = [int(p) for p in match.group(1).split(":")]
    seconds = 0
    for part in parts:
        seconds = seconds * 60 + part
    # f4's "-5" means tenths and ".500" milliseconds: both are decimal digits, read as written
    # (1 + 503 / 1000 would give 1.5030000000000001)
    return float(f"{seconds}.{match.group(2) or 0}")


class TextBuilder:
    """Builds a readable transcript text ("Speaker: words" blocks) while recording turn offsets."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._length = 0
        self.turns: list[RawTurn] = []

    def add_turn(self, speaker: str, text: str, start_time: float | None = None, end_time: float | None = None) -> None:
        text = text.strip()
        if not text:
            return
        if self._parts:
            self._append("\n\n")
        self._append(f"{speaker}: " if speaker else "")
        start = self._length
        self._append(text)
        self.turns.append(RawTurn(speaker, start, self._length, start_time, end_time))

    def _append(self, piece: str) -> None:
        self._parts.append(piece)
        self._length += len(piece)

    @property
    def text(self) -> str:
        return "".join(self._parts) + "\n" if self._parts else ""


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def build_transcript(
    name: str,
    text: str,
    raw_turns: list[RawTurn],
    *,
    path: str | Path,
    interviewers: tuple[str, ...] = (),
    metadata: dict | None = None,
) -> Transcript:
    """Assign roles and check that there is something a participant said."""
    raw_turns = [t for t in raw_turns if text[t.start : t.end].strip()]
    if not raw_turns:
        raise InputError(str(path), f"transcript {name!r} has no speech to import.")
    roles = assign_roles([(t.speaker, text[t.start : t.end]) for t in raw_turns], interviewers)
    turns = tuple(Turn(t.speaker, roles[t.speaker], t.start, t.end, t.start_time, t.end_time) for t in raw_turns)
    if not any(t.role == "participant" for t in turns):
        speakers = ", ".join(sorted(roles))
        raise InputError(
            str(path),
            f"transcript {name!r} has no participant turns (speakers: {speakers} are all interviewers or notes); "
            "check the --interviewer names.",
        )
    return Transcript(
        name=name,
        text=text,
        turns=turns,
        source_path=str(path),
        content_hash=content_hash(text),
        metadata=dict(metadata or {}),
    )
