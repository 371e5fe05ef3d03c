"""Plain-text transcripts (.txt/.md) with speaker labels, parsed in place.

The stored text is the file's text (newlines normalized); turns are spans of it that
leave out the speaker label and edge timestamps, so offsets match the user's file.

Recognised line starts, in this order: an optional timestamp (``#00:01:02#``,
``[00:01:02]``, ``(00:01:02)``), a speaker label (``Interviewer:``, ``P1:``,
``Anna Berg:``, ``[Anna]``), another optional timestamp. A label must occur at the
start of at least two lines, or be a known label (interviewer names, role words,
speakers from a .docx table), so a stray "Note: ..." in the middle of an answer
does not become a speaker. Lines without a label continue the current turn; text
before the first label (a header) belongs to no turn.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from ..model import Transcript
from .decode import read_text
from .roles import _INTERVIEWER
from .turns import TIMESTAMP, RawTurn, build_transcript, parse_clock

_LEAD_TS = re.compile(rf"\s*({TIMESTAMP.pattern})\s*")
_COLON_LABEL = re.compile(r"([^\W\d_][\w.'’()\- ]{0,38}?)\s*:(?=\s|$)\s*")
_BRACKET_LABEL = re.compile(r"\[([^\]\n]{1,40})\]\s*:?\s*")
_TRAIL_TS = re.compile(rf"\s*({TIMESTAMP.pattern})\s*$")
_NOT_SPEAKERS = re.compile(
    r"^(inaudible|unclear|laughs?|laughter|pause|crosstalk|silence|music|overlapping|sighs?|coughs?|break|end|end of interview|note|http|https)$",
    re.IGNORECASE,
)
_PARTICIPANT_WORD = re.compile(r"^(p|participant|respondent|r|a|interviewee|informant|ip|deltaker|patient|client|pt)\s*\d*$", re.IGNORECASE)
MAX_LABEL_WORDS = 4


@dataclass(frozen=True, slots=True)
class _Line:
    text_start: int  # first character after leading space and timestamp
    label: str | None
    content_start: int
    content_end: int
    time: float | None


def read_text_transcript(path: str | Path, *, interviewers: tuple[str, ...] = ()) -> tuple[Transcript, tuple[str, ...]]:
    """Read a .txt/.md transcript; returns the transcript and any warnings."""
    decoded = read_text(path)
    transcript, warnings = parse_labelled_text(
        decoded.text, name=Path(path).stem, path=path, interviewers=interviewers
    )
    meta = dict(transcript.metadata, encoding=decoded.encoding, format="text")
    return replace(transcript, metadata=meta), decoded.warnings + warnings


def parse_labelled_text(
    text: str,
    *,
    name: str,
    path: str | Path,
    interviewers: tuple[str, ...] = (),
    known_labels: Iterable[str] = (),
) -> tuple[Transcript, tuple[str, ...]]:
    """Split labelled text into speaker turns; offsets index ``text`` itself."""
    lines = list(_scan_lines(text))
    counts = Counter(line.label for line in lines if line.label)
    known = {label.casefold() for label in (*known_labels, *interviewers)}
    speakers = {label for label, n in counts.items() if is_speaker_label(label, n, known)}
    warnings: tuple[str, ...] = ()
    if speakers:
        raw_turns = _group_turns(lines, speakers)
    else:
        warnings = (f"{path}: no speaker labels found; all its text is treated as one participant's speech.",)
        raw_turns = _paragraph_turns(text)
    transcript = build_transcript(name, text, raw_turns, path=path, interviewers=interviewers)
    return transcript, warnings


def is_speaker_label(label: str, count: int, known: set[str]) -> bool:
    if _NOT_SPEAKERS.match(label) or len(label.split()) > MAX_LABEL_WORDS:
        return False
    folded = label.casefold()
    return count >= 2 or folded in known or bool(_INTERVIEWER.match(label)) or bool(_PARTICIPANT_WORD.match(label))


def _scan_lines(text: str) -> Iterable[_Line]:
    offset = 0
    for raw in text.split("\n"):
        yield _scan_line(raw, offset)
        offset += len(raw) + 1


def _scan_line(raw: str, offset: int) -> _Line:
    pos = len(raw) - len(raw.lstrip())  # an indented label is still a label
    time = None
    label = None
    lead = _LEAD_TS.match(raw)
    if lead:
        time = parse_clock(lead.group(1))
        pos = lead.end()
    text_start = pos  # where the words start when the label turns out not to be a speaker
    label_match = _BRACKET_LABEL.match(raw, pos) if raw.startswith("[", pos) else _COLON_LABEL.match(raw, pos)
    if label_match and not TIMESTAMP.fullmatch(f"[{label_match.group(1)}]"):
        label = label_match.group(1).strip()
        pos = label_match.end()
        after = _LEAD_TS.match(raw, pos)
        if after:
            time = parse_clock(after.group(1)) if time is None else time
            pos = after.end()
    end = len(raw)
    trail = _TRAIL_TS.search(raw, pos)
    if trail:
        end = trail.start()
    while pos < end and raw[pos].isspace():
        pos += 1
    while end > pos and raw[end - 1].isspace():
        end -= 1
    return _Line(offset + text_start, label, offset + pos, offset + end, time)


def _group_turns(lines: list[_Line], speakers: set[str]) -> list[RawTurn]:
    turns: list[RawTurn] = []
    current: RawTurn | None = None
    for line in lines:
        if line.label in speakers:
            current = RawTurn(line.label, line.content_start, line.content_end, line.time)
            turns.append(current)
        elif current is not None and line.content_end > line.content_start:
            # an unconfirmed label ("Note: ...") is part of the speech, so take the whole line
            start = line.content_start if line.label is None else line.text_start
            if current.end <= current.start:  # label alone on its line: speech starts here
                current.start = start
            current.end = line.content_end
    return turns


def _paragraph_turns(text: str) -> list[RawTurn]:
    start = len(text) - len(text.lstrip())
    end = len(text.rstrip())
    return [RawTurn("Participant", start, end)] if end > start else []
