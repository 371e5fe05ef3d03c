"""Plain-text transcripts (.txt/.md) with speaker labels, parsed in place.

The stored text is the file's text (newlines normalized); turns are spans of it that
leave out the speaker label and edge timestamps, so offsets match the user's file.

Recognised line starts, in this order: an optional timestamp (``#00:01:02#``,
``[00:01:02]``, ``(00:01:02)``), a speaker label (``Interviewer:``, ``P1:``,
``Hon. Anna Berg (Minister of Health):``, ``[Anna]``), another optional timestamp.

Which label lines start turns is decided for the whole document (see ``_turn_starts``).
A short label that starts two or more lines is a speaker however it is written ("anna:",
"jsmith:"); a label that looks like a name starts a turn if it occurs twice, is a known label
(interviewer names, role words, speakers from a .docx table) or carries a title, a
parenthesis or two or more words; a one-word label said once ("Example:") starts a turn
only where the document's own layout says it is one (a new paragraph in a file of
paragraphs, or a file that is all label lines). A file with fewer than two such lines is
not labelled: all its text is one participant's speech. Lines without a label continue
the current turn; text before the first label (a header) belongs to no turn. Label-like
lines that were kept as speech are named in a warning.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from ..model import Transcript
from .decode import read_text
from .labels import bracket_label_at, colon_label_at, is_plain_label, is_role_label, is_strong_label, looks_like_a_name
from .turns import TIMESTAMP, RawTurn, build_transcript, parse_clock

_LEAD_TS = re.compile(rf"[ \t]*({TIMESTAMP.pattern})[ \t]*")
# the longest timestamp is "[00:00:00.000]": a trailing one is looked for in that many characters only
_TRAIL_TS = re.compile(rf"({TIMESTAMP.pattern})$")
_MAX_TS_CHARS = 16
PARAGRAPH_STYLE_SHARE = 0.8  # of certain label lines that start a paragraph, for a file of paragraphs
LABEL_LINE_SHARE = 0.5  # of lines (or paragraphs) that start with a label, for a file of label lines
MAX_WARNED_LINES = 3


@dataclass(frozen=True, slots=True)
class _Line:
    number: int  # 1-based
    text_start: int  # first character after leading space and timestamp
    label: str | None
    content_start: int
    content_end: int
    time: float | None
    blank: bool


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
    known = {label.strip().casefold() for label in (*known_labels, *interviewers)}
    starts, unused = _turn_starts(lines, known)
    warnings: list[str] = []
    if starts:
        raw_turns = _group_turns(lines, starts)
    else:
        warnings.append(f"{path}: no speaker labels found; all its text is treated as one participant's speech.")
        raw_turns = _paragraph_turns(text)
    if unused:
        shown = ", ".join(f"line {line.number} {line.label + ':'!r}" for line in unused[:MAX_WARNED_LINES])
        more = f" and {len(unused) - MAX_WARNED_LINES} more" if len(unused) > MAX_WARNED_LINES else ""
        warnings.append(
            f"{path}: {len(unused)} line(s) look like speaker labels but were read as speech ({shown}{more}): "
            "each is used once and not where this file's turns start; if they are speakers, "
            "start each on a new paragraph."
        )
    transcript = build_transcript(name, text, raw_turns, path=path, interviewers=interviewers)
    return transcript, tuple(warnings)


def _turn_starts(lines: list[_Line], known: set[str]) -> tuple[set[int], list[_Line]]:
    """Line numbers that start turns, and label lines that do not (for a warning).

    A document-level decision: certain labels (see the module docstring) decide whether
    the file is labelled at all and how its turns are laid out; one-word labels said once
    are judged against that layout.
    """
    counts = Counter(line.label for line in lines if line.label)
    kinds = {label: _label_kind(label, n, known) for label, n in counts.items()}
    labelled = [line for line in lines if line.label and kinds[line.label]]
    labelled_set = set(labelled)

    def certain(line: _Line) -> bool:
        return kinds[line.label] != "name" or counts[line.label] >= 2 or is_strong_label(line.label)

    sure = [line for line in labelled if certain(line)]
    at_paragraph = {line.number for line in lines if not line.blank and _starts_paragraph(lines, line)}
    opening_paragraphs = sum(line.number in at_paragraph for line in labelled)
    is_labelled = (
        len(sure) >= 2
        or any(kinds[line.label] == "known" or is_role_label(line.label) for line in sure)
        or (len(labelled) >= 2 and opening_paragraphs >= LABEL_LINE_SHARE * len(at_paragraph))
    )
    if not is_labelled:
        return set(), labelled
    evidence = sure or labelled
    paragraph_style = sum(line.number in at_paragraph for line in evidence) >= PARAGRAPH_STYLE_SHARE * len(evidence)
    non_blank = sum(not line.blank for line in lines)
    all_labels = len(labelled) >= LABEL_LINE_SHARE * non_blank
    starts, unused = set(), []
    awaiting_speech = False  # after a label alone on its line
    for line in lines:
        if line.blank:
            continue
        is_start = line in labelled_set and (
            certain(line) or (line.number in at_paragraph if paragraph_style else all_labels)
        )
        if is_start and awaiting_speech and _may_be_speech(line.label, kinds[line.label], counts[line.label]):
            is_start = False
        if is_start:
            starts.add(line.number)
        elif line in labelled_set:
            unused.append(line)
        awaiting_speech = is_start and line.content_end <= line.content_start
    return starts, unused


def _label_kind(label: str, count: int, known: set[str]) -> str | None:
    """'known' (an interviewer name, a .docx table speaker), 'name' (looks like one), 'repeated'
    (a short label that starts two or more lines, however written: 'anna', 'jsmith'), or None."""
    if label.casefold() in known:
        return "known"
    if looks_like_a_name(label):
        return "name"
    if count >= 2 and is_plain_label(label):
        return "repeated"
    return None


def _may_be_speech(label: str, kind: str | None, count: int) -> bool:
    """After a label alone on its line, the next line is its speech unless it is surely a label:
    "Member:" then "The Healthy Weight: Healthy Wales plan ..." is what the member said."""
    return kind != "known" and not is_role_label(label) and (count == 1 or kind == "repeated")


def _starts_paragraph(lines: list[_Line], line: _Line) -> bool:
    index = line.number - 1
    return index == 0 or lines[index - 1].blank


def _scan_lines(text: str) -> Iterable[_Line]:
    offset = 0
    for number, raw in enumerate(text.split("\n"), start=1):
        yield _scan_line(raw, offset, number)
        offset += len(raw) + 1


def _scan_line(raw: str, offset: int, number: int) -> _Line:
    pos = len(raw) - len(raw.lstrip())  # an indented label is still a label
    time = None
    label = None
    lead = _LEAD_TS.match(raw, pos)
    if lead:
        time = parse_clock(lead.group(1))
        pos = lead.end()
    text_start = pos  # where the words start when the label turns out not to be a speaker
    found = bracket_label_at(raw, pos) if raw.startswith("[", pos) else colon_label_at(raw, pos)
    if found and not TIMESTAMP.fullmatch(f"[{found[0]}]"):
        label, pos = found
        after = _LEAD_TS.match(raw, pos)
        if after:
            time = parse_clock(after.group(1)) if time is None else time
            pos = after.end()
    end = len(raw.rstrip())
    trail = _TRAIL_TS.search(raw, max(pos, end - _MAX_TS_CHARS), end)
    if trail:
        end = trail.start()
    while pos < end and raw[pos].isspace():
        pos += 1
    while end > pos and raw[end - 1].isspace():
        end -= 1
    return _Line(number, offset + text_start, label, offset + pos, offset + end, time, not raw.strip())


def _group_turns(lines: list[_Line], starts: set[int]) -> list[RawTurn]:
    turns: list[RawTurn] = []
    current: RawTurn | None = None
    for line in lines:
        if line.number in starts:
            current = RawTurn(line.label, line.content_start, line.content_end, line.time)
            turns.append(current)
            continue
        # a label that is not a speaker ("Note: ...") is part of the speech, so take the whole line
        start = line.content_start if line.label is None else line.text_start
        if current is not None and line.content_end > start:
            if current.end <= current.start:  # label alone on its line: speech starts here
                current.start = start
            current.end = line.content_end
    return turns


def _paragraph_turns(text: str) -> list[RawTurn]:
    start = len(text) - len(text.lstrip())
    end = len(text.rstrip())
    return [RawTurn("Participant", start, end)] if end > start else []
