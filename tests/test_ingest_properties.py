"""Invariants of the readers, over generated transcripts.

Every turn is a stripped span of the stored text, holds the generated utterance and
nothing else (no label, no edge timestamp), turns are in order and never overlap,
and roles follow the interviewer label or the --interviewer names.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from qcassist.ingest import parse_labelled_text, read_transcripts
from qcassist.ingest.turns import TIMESTAMP
from qcassist.model import Transcript

SETTINGS = settings(max_examples=150, deadline=None)

# Names that are speakers by their form (role words) and names that must occur twice.
ROLE_NAMES = ["Interviewer", "P1", "P2", "Participant 3", "Respondent"]
PLAIN_NAMES = ["Anna Berg", "Ole", "Dr. Kari Nordmann", "Ærlig Øystein", "O’Brien"]
WORDS = [
    "yes", "no", "the", "nurse", "came", "every", "week", "I", "did", "not", "expect", "much",
    "blåbær", "naïve", "don’t", "it's", "well,", "really?", "fine.", "3", "2023", "e-mail", "—", "so", "(sighs)",
]
SPACE = st.text(alphabet=" \t", max_size=3)


@dataclass
class Utterance:
    speaker: str
    lines: list[str]
    start_time: float | None


def clock(seconds: int, style: int) -> str:
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return [f"#{h:02}:{m:02}:{s:02}#", f"[{h:02}:{m:02}:{s:02}]", f"({h:02}:{m:02}:{s:02})", f"[{m}:{s:02}]", f"#{h:02}:{m:02}:{s:02}-5#"][style]


def clock_value(seconds: int, style: int) -> float:
    if style == 3:
        return float(seconds % 3600)
    return seconds + (0.5 if style == 4 else 0.0)


timestamps = st.tuples(st.integers(0, 3 * 3600 - 1), st.integers(0, 4))
sentences = st.lists(st.sampled_from(WORDS), min_size=1, max_size=8).map(" ".join)


@st.composite
def labelled_transcripts(draw, *, with_interviewer: bool = True):
    """A transcript text and the utterances (speaker, lines, start time) it was written from."""
    names = draw(st.lists(st.sampled_from(ROLE_NAMES[1:] + PLAIN_NAMES), min_size=1, max_size=4, unique=True))
    if with_interviewer:
        names = ["Interviewer", *names]
    order = draw(st.lists(st.sampled_from(names), min_size=1, max_size=10))
    missing = [n for n in names if n not in order]
    order += missing
    counts = Counter(order)
    # a plain name used once is not a speaker (it could be "So I said: ..."), so say it again
    order += [n for n in names if n in PLAIN_NAMES and counts[n] == 1]
    if with_interviewer:
        assume(any(n != "Interviewer" for n in order))

    out: list[str] = []
    if draw(st.booleans()):
        out.append(draw(sentences) + "\n" + "\n" * draw(st.integers(0, 2)))
    utterances: list[Utterance] = []
    for speaker in order:
        lines = draw(st.lists(sentences, min_size=1, max_size=3))
        lead = draw(st.none() | timestamps)
        after = draw(st.none() | timestamps)
        trail = draw(st.none() | timestamps)
        label_style = draw(st.integers(0, 3))
        label = [f"{speaker}:", f"{speaker} :", f"[{speaker}]", f"[{speaker}]:"][label_style]
        head = draw(SPACE)
        if lead:
            head += clock(*lead) + draw(SPACE) + " "
        head += label + " "
        if after:
            head += clock(*after) + " "
        alone = draw(st.booleans())  # label on its own line, speech below
        body = []
        for i, line in enumerate(lines):
            separator = "\n" + "".join(draw(SPACE) + "\n" for _ in range(draw(st.integers(0, 2))))
            body.append((separator if i or alone else "") + draw(SPACE) + line + draw(SPACE))
        if trail:
            body[-1] += " " + clock(*trail) + draw(SPACE)
        out.append(head + draw(SPACE) + "".join(body) + "\n" + "\n" * draw(st.integers(0, 2)))
        start = clock_value(*lead) if lead else clock_value(*after) if after else None
        utterances.append(Utterance(speaker, lines, start))
    return "".join(out), utterances


def assert_spans_are_clean(transcript: Transcript) -> None:
    previous_end = 0
    for turn in transcript.turns:
        span = transcript.text[turn.start : turn.end]
        assert transcript.turn_text(turn) == span
        assert previous_end <= turn.start < turn.end <= len(transcript.text)
        assert span == span.strip()
        assert not span.startswith((f"{turn.speaker}:", f"[{turn.speaker}]", f"{turn.speaker} :"))
        assert not TIMESTAMP.match(span)
        assert not re.search(rf"(?:{TIMESTAMP.pattern})$", span)
        previous_end = turn.end


def assert_turns_hold_the_utterances(transcript: Transcript, utterances: list[Utterance]) -> None:
    assert [t.speaker for t in transcript.turns] == [u.speaker for u in utterances]
    for turn, utterance in zip(transcript.turns, utterances):
        span = transcript.turn_text(turn)
        for line in utterance.lines:
            assert line in span
        assert span.split() == " ".join(utterance.lines).split()
        assert turn.start_time == utterance.start_time


@SETTINGS
@given(labelled_transcripts())
def test_parsed_turns_are_clean_spans_holding_each_utterance(case):
    text, utterances = case
    transcript, warnings = parse_labelled_text(text, name="t", path="t.txt")
    assert warnings == ()
    assert transcript.text == text
    assert_spans_are_clean(transcript)
    assert_turns_hold_the_utterances(transcript, utterances)


@SETTINGS
@given(labelled_transcripts())
def test_the_interviewer_label_is_the_only_interviewer(case):
    text, _ = case
    transcript, _ = parse_labelled_text(text, name="t", path="t.txt")
    for turn in transcript.turns:
        assert turn.role == ("interviewer" if turn.speaker == "Interviewer" else "participant")
    assert transcript.participant_turns


@SETTINGS
@given(labelled_transcripts(with_interviewer=False), st.data())
def test_named_interviewers_and_only_they_are_interviewers(case, data):
    text, utterances = case
    speakers = sorted({u.speaker for u in utterances})
    assume(len(speakers) >= 2)
    named = data.draw(st.lists(st.sampled_from(speakers), min_size=1, max_size=len(speakers) - 1, unique=True))
    given_names = tuple(data.draw(st.sampled_from([n, n.upper(), n.casefold(), f" {n} "])) for n in named)
    transcript, _ = parse_labelled_text(text, name="t", path="t.txt", interviewers=given_names)
    assert_spans_are_clean(transcript)
    assert_turns_hold_the_utterances(transcript, utterances)
    for turn in transcript.turns:
        assert turn.role == ("interviewer" if turn.speaker in named else "participant")


@SETTINGS
@given(labelled_transcripts(), st.sampled_from(["\n", "\r\n", "\r"]), st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]))
def test_files_in_any_encoding_and_line_ending_give_the_same_turns(case, newline, encoding):
    text, utterances = case
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "interview.txt"
        path.write_bytes(text.replace("\n", newline).encode(encoding))
        [transcript] = read_transcripts(path).transcripts
    assert transcript.text == text
    assert_spans_are_clean(transcript)
    assert_turns_hold_the_utterances(transcript, utterances)


# --- subtitles ----------------------------------------------------------------------------

SUBTITLE_SPEAKERS = ["Interviewer", "Anna Berg", "P1", "Ole"]


@st.composite
def cue_lists(draw):
    """(speaker or None, words, start, end) per cue, in time order."""
    count = draw(st.integers(1, 12))
    cues, clock_ms = [], 0
    for _ in range(count):
        speaker = draw(st.none() | st.sampled_from(SUBTITLE_SPEAKERS))
        words = draw(sentences)
        clock_ms += draw(st.integers(0, 5000))
        start = clock_ms
        clock_ms += draw(st.integers(1, 8000))
        cues.append((speaker, words, start, clock_ms))
    return cues


def vtt_time(ms: int, sep: str) -> str:
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02}:{m:02}:{s:02}{sep}{ms:03}"


def expected_turns(cues):
    """Consecutive cues by one speaker (a cue without one continues) merge into one turn."""
    turns: list[list] = []
    speaker = None
    for cue_speaker, words, start, end in cues:
        cue_speaker = cue_speaker or speaker or "Speaker"
        if turns and cue_speaker == speaker:
            turns[-1][1].append(words)
            turns[-1][3] = end
        else:
            turns.append([cue_speaker, [words], start, end])
        speaker = cue_speaker
    return [(s, " ".join(w), start / 1000, end / 1000) for s, w, start, end in turns]


@SETTINGS
@given(cue_lists(), st.sampled_from(["teams", "zoom", "srt"]))
def test_subtitle_cues_merge_into_turns_by_speaker_with_first_start_and_last_end(cues, style):
    expected = expected_turns(cues)
    assume(any(s != "Interviewer" for s, *_ in expected))
    blocks = ["WEBVTT\n"] if style != "srt" else []
    for number, (speaker, words, start, end) in enumerate(cues, start=1):
        sep = "," if style == "srt" else "."
        if speaker is None:
            body = words
        elif style == "teams":
            body = f"<v {speaker}>{words}</v>"
        else:
            body = f"{speaker}: {words}"
        blocks.append(f"{number}\n{vtt_time(start, sep)} --> {vtt_time(end, sep)}\n{body}\n")
    suffix = ".srt" if style == "srt" else ".vtt"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"call{suffix}"
        path.write_text("\n".join(blocks), encoding="utf-8")
        [transcript] = read_transcripts(path).transcripts
    assert_spans_are_clean(transcript)
    got = [(t.speaker, transcript.turn_text(t), t.start_time, t.end_time) for t in transcript.turns]
    assert got == expected


# --- tables ------------------------------------------------------------------------------

CELL_TEXT = st.text(alphabet="abcæøå XYZ,;\"'\n.?!–", min_size=0, max_size=40)


@SETTINGS
@given(
    st.lists(st.tuples(st.sampled_from(["A", "B", "C"]), st.sampled_from(["Interviewer", "P1", "P2"]), CELL_TEXT), min_size=1, max_size=15),
    st.sampled_from([",", ";", "\t"]),
)
def test_table_rows_round_trip_into_turns_whatever_their_quoting(rows, delimiter):
    kept = [(name, speaker, words.strip()) for name, speaker, words in rows if words.strip()]
    by_name: dict[str, list[tuple[str, str]]] = {}
    for name, speaker, words in kept:
        by_name.setdefault(name, []).append((speaker, words))
    # a transcript with nothing said, or only said by the interviewer, is an error (tested elsewhere)
    assume(set(by_name) == {name for name, _, _ in rows})
    assume(all(any(s != "Interviewer" for s, _ in turns) for turns in by_name.values()))
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(["transcript", "speaker", "text"])
    writer.writerows(rows)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "turns.csv"
        path.write_text(buffer.getvalue(), encoding="utf-8", newline="")
        transcripts = read_transcripts(path).transcripts
    assert {t.name: [(turn.speaker, t.turn_text(turn)) for turn in t.turns] for t in transcripts} == by_name
    for transcript in transcripts:
        assert_spans_are_clean(transcript)
