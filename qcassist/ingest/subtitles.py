"""WebVTT and SubRip transcripts from Zoom, Teams, Otter and similar.

Speakers come from ``<v Name>`` voice tags (Teams) or a ``Name:`` prefix (Zoom,
Otter); a cue without one continues the previous speaker. Consecutive cues by the
same speaker are merged into one turn that keeps the first cue's start time and the
last cue's end time. The stored text is rebuilt as "Speaker: words" paragraphs.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from pathlib import Path

from ..errors import InputError
from ..model import Transcript
from .decode import read_text
from .labels import colon_label_at, is_plain_label, looks_like_a_name
from .turns import TextBuilder, build_transcript, parse_clock

_TIMING = re.compile(
    r"^\s*((?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})\s*-->\s*((?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})(?:\s+.*)?$"
)
# a tag cannot contain "<", so each tag search stops at the next one: linear on "<<<<…" and "<v.a.a.a…"
_TAG = re.compile(r"<[^<>]*>")
_VOICE = re.compile(r"v(?:\.[^\s.]+)*\s+(.+)", re.DOTALL)  # inside a tag: v, classes, whitespace, the name
_SPACES = re.compile(r"\s+")


def read_subtitles(path: str | Path, *, interviewers: tuple[str, ...] = ()) -> tuple[Transcript, tuple[str, ...]]:
    """Read a .vtt or .srt file into one transcript with merged speaker turns."""
    decoded = read_text(path)
    cues = _confirm_prefix_speakers(list(_parse_cues(decoded.text, str(path))))
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


def _confirm_prefix_speakers(cues: list[tuple]) -> list[tuple]:
    """A "Name: " prefix is a speaker if it looks like a name (capitalised words, a title, a role
    word: see labels.py) or is short and starts two or more cues (Zoom repeats display names,
    lowercase ones too); otherwise, as in "and I said: yes", the colon belongs to the words."""
    counts = Counter(prefix[0] for _, _, _, _, prefix in cues if prefix)
    confirmed = []
    for voice, words, start, end, prefix in cues:
        if prefix and voice is None and (
            looks_like_a_name(prefix[0]) or (counts[prefix[0]] >= 2 and is_plain_label(prefix[0]))
        ):
            voice, words = prefix[0], words[prefix[1] :].lstrip()
        confirmed.append((voice, words, start, end))
    return confirmed


def _parse_cues(text: str, path: str):
    """Yield (speaker or None, text, start seconds, end seconds) per cue."""
    lines = text.split("\n")
    i = 0
    if lines and lines[0].lstrip("\ufeff").startswith("WEBVTT"):
        i = _skip_block(lines, 0)  # the header may go on with lines like "Kind: captions"
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
        speaker, words, prefix = _speaker_and_words(body)
        if words:
            yield speaker, words, start, end, prefix
        i = body_end


def _skip_block(lines: list[str], i: int) -> int:
    while i < len(lines) and lines[i].strip():
        i += 1
    return i


def _speaker_and_words(body: str) -> tuple[str | None, str, tuple[str, int] | None]:
    """(voice-tag speaker, words, a "Name:" prefix candidate and where the words after it start);
    the prefix stays in the words until it is confirmed."""
    speaker = None
    for tag in _TAG.finditer(body):
        voice = _VOICE.fullmatch(tag.group()[1:-1])
        if voice:
            speaker = html.unescape(voice.group(1)).strip() or None
            break
    words = html.unescape(_TAG.sub("", body)).strip()  # WebVTT escapes &, < and > as &amp; &lt; &gt;
    words = _SPACES.sub(" ", words).strip()
    prefix = colon_label_at(words, 0) if speaker is None else None
    if prefix and prefix[1] >= len(words):
        prefix = None  # "Anna:" and nothing said: the words are the label itself
    return speaker, words, prefix
