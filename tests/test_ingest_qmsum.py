"""Real committee and project meetings (QMSum train): every rendering finds the JSON's turns.

Skipped where the shared datasets folder is absent. Each meeting is read in one text
rendering (rotating, so every rendering meets every kind of meeting) and the
committee meetings (covid_*, education_*: long labels, titles, speakers said once) in all.
"""

from __future__ import annotations

import docx
import pytest

from qcassist.ingest import parse_labelled_text, read_transcripts
from tests.qmsum import (
    QMSUM, TEXT_RENDERINGS, as_csv, as_paragraphs, as_srt, as_vtt, meeting_paths, meeting_turns, merged_turns,
)

pytestmark = pytest.mark.skipif(not meeting_paths(), reason=f"the QMSum meetings are not at {QMSUM} (shared datasets folder)")
RENDERINGS = list(TEXT_RENDERINGS)


def _cases() -> list[tuple[str, str]]:
    cases = []
    for i, path in enumerate(meeting_paths()):
        committee = path.name.startswith(("covid_", "education_"))
        cases += [(path.name, name) for j, name in enumerate(RENDERINGS) if committee or j == i % len(RENDERINGS)]
    return cases


def test_every_train_meeting_in_every_text_rendering_has_the_json_turns():
    wrong = []
    for meeting, rendering in _cases():
        turns = meeting_turns(QMSUM / meeting)
        transcript, warnings = parse_labelled_text(TEXT_RENDERINGS[rendering](turns), name=meeting, path=meeting)
        found = [(turn.speaker, transcript.turn_text(turn)) for turn in transcript.turns]
        if found != turns:
            wrong.append(f"{meeting} as {rendering}: {len(found)} turns, the JSON has {len(turns)}")
    assert len(_cases()) >= len(meeting_paths())
    assert wrong == []


def test_a_meeting_reads_the_same_from_txt_vtt_srt_csv_and_docx(tmp_path):
    # subtitle cues of one speaker merge into one turn, and cue lines are joined with single
    # spaces, so the meeting is given with those turns merged and compared with spaces collapsed
    turns = merged_turns(meeting_turns(QMSUM / "covid_0.json"))
    read = {}
    for suffix, render in ((".txt", as_paragraphs), (".vtt", as_vtt), (".srt", as_srt), (".csv", as_csv)):
        path = tmp_path / f"covid_0{suffix}"
        path.write_text(render(turns), encoding="utf-8")
        [transcript] = read_transcripts(path).transcripts
        read[suffix] = [(turn.speaker, " ".join(transcript.turn_text(turn).split())) for turn in transcript.turns]
    document = docx.Document()
    for speaker, text in turns:
        document.add_paragraph(f"{speaker}: {text}")
    document.save(tmp_path / "covid_0.docx")
    [transcript] = read_transcripts(tmp_path / "covid_0.docx").transcripts
    read[".docx"] = [(turn.speaker, " ".join(transcript.turn_text(turn).split())) for turn in transcript.turns]
    expected = [(speaker, " ".join(text.split())) for speaker, text in turns]
    assert read[".txt"] == expected
    assert read[".vtt"] == read[".srt"] == read[".csv"] == read[".docx"] == read[".txt"]
    assert len({speaker for speaker, _ in expected}) > 30
