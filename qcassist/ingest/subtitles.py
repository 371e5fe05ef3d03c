"""WebVTT and SubRip transcripts from Zoom, Teams, Otter and similar.

Speakers come from ``<v Name>`` voice tags (Teams) or a ``Name:`` prefix (Zoom,
Otter); a cue without one continues the previous speaker. Consecutive cues by the
same speaker are merged into one turn that keeps the first cue's start time and the
last cue's end time. The stored text is rebuilt as "Speaker: words" paragraphs.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import InputError
from ..model import Transcript
from .decode import read_text
from .turns import TextBuilder, build_transcript, parse_clock

_TIMING = re.compile(
    r"^\s*((?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})\s*-->\s*((?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})(?:\s+.*)?$"
)
_VOICE = re.compile(r"<v(?:\.[^\s>]+)*\s+([^>]+)>")
_TAG = re.compile(r"</?[^>]+>")
_PREFIX = re.compile(r"^([^\W\d_][\w.'’()\- ]{0,40}?)\s*:\s+")
MAX_LABEL_WORDS = 5


def read_subtitles(path: str | Path, *, interviewers: tuple[str, ...] = ()) -> tuple[Transcript, tuple[str, ...]]:
    """Read a .vtt or .srt file into one transcript with merged speaker turns."""
    decoded = read_text(path)
    cues = list(_parse_cues(decoded.text, str(path)))
    if not cues:
        raise InputError(str(path), "contains no subtitle cues (no 'start --> end' timing lines).")
    builder = TextBuilder()
    speaker, words, start, end = None, [], None, None
    for cue_speaker, text, cue_start, cue_end in cues:
        cue_speaker = cue_speaker or speaker or "Speaker"
        if cue_speaker != speaker and words:
            builder.add_turn(speaker, " ".join(words), start, end)
            words = []
        if not words:
            start = cue_start
        speaker, end = cue_speaker, cue_end
        words.append(text)
    builder.add_turn(speaker, " ".join(words), start, end)
    fmt = "vtt" if Path(path).suffix.lower() == ".vtt" else "srt"
    transcript = build_transcript(
        Path(path).stem, builder.text, builder.turns, path=path, interviewers=interviewers,
        metadata={"encoding": decoded.encoding, "format": fmt, "cues": len(cues)},
    )
    return transcript, decoded.warnings


def _parse_cues(text: str, path: str):
    """Yield (speaker or None, text, start seconds, end seconds) per cue."""
    lines = text.split("\n")
    i = 0
    if lines and lines[0].lstrip("\ufeff").startswith("WEBVTT"):
        i = 1
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if line.startswith(("NOTE", "STYLE", "REGION")):
            i = _skip_block(lines, i)
            continue
        timing = _TIMING.match(line)
        if timing is None and i + 1 < len(lines) and "-->" in lines[i + 1]:
            i += 1  # a cue identifier (SRT's number, or a VTT id) precedes the timing line
            line = lines[i]
            timing = _TIMING.match(line)
        if timing is None:
            raise InputError(path, f"expected a cue timing line like '00:00:01.000 --> 00:00:04.000', found {line.strip()[:40]!r}.", line=i + 1)
        start, end = parse_clock(timing.group(1)), parse_clock(timing.group(2))
        if end < start:
            raise InputError(path, "cue ends before it starts.", line=i + 1)
        body_end = _skip_block(lines, i + 1)
        body = " ".join(part.strip() for part in lines[i + 1 : body_end] if part.strip())
        speaker, words = _speaker_and_words(body)
        if words:
            yield speaker, words, start, end
        i = body_end


def _skip_block(lines: list[str], i: int) -> int:
    while i < len(lines) and lines[i].strip():
        i += 1
    return i


def _speaker_and_words(body: str) -> tuple[str | None, str]:
    speaker = None
    voice = _VOICE.search(body)
    if voice:
        speaker = voice.group(1).strip()
    words = _TAG.sub("", body).strip()
    if speaker is None:
        prefix = _PREFIX.match(words)
        if prefix and len(prefix.group(1).split()) <= MAX_LABEL_WORDS:
            speaker = prefix.group(1).strip()
            words = words[prefix.end() :]
    return speaker, re.sub(r"\s+", " ", words).strip()
