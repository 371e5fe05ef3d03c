"""Speaker labels as real transcripts have them, and the document-level decision on which start turns."""

from __future__ import annotations

import pytest

from qcassist.ingest import describe_turns, parse_labelled_text, read_transcripts
from qcassist.ingest.labels import colon_label_at, looks_like_a_name, outside_parentheses
from qcassist.model import Transcript
from tests.conftest import assert_turns_are_clean_spans, write


def parse(text: str, **kwargs) -> tuple[Transcript, tuple[str, ...]]:
    transcript, warnings = parse_labelled_text(text, name="t", path="t.txt", **kwargs)
    assert_turns_are_clean_spans(transcript)
    return transcript, warnings


def turns_of(transcript: Transcript) -> list[tuple[str, str]]:
    return [(turn.speaker, transcript.turn_text(turn)) for turn in transcript.turns]


COMMITTEE = """House of Commons, Special Committee, meeting 14

The Acting Chair (Mr. Bruce Stanton (Simcoe North, CPC)): We resume. Mr. Poilievre is next.

Hon. Pierre Poilievre (Carleton, CPC): Thank you, Mr. Chair. How much has been spent?

Hon. Bill Morneau (Minister of Finance): We have committed to transparency: the figures are online.

Dr. Jane O'Brien-Smith: A point of order.

Darren Millar AM: Thank you, Chair. My question is this: will you publish it?

The Acting Chair (Mr. Bruce Stanton (Simcoe North, CPC)): Thank you. We'll now go to Mr. d'Entremont.

Mr. Chris d'Entremont (West Nova, CPC): Thank you.
"""


def test_long_labels_with_nested_parentheses_titles_and_single_use_are_speakers():
    transcript, warnings = parse(COMMITTEE)
    assert turns_of(transcript) == [
        ("The Acting Chair (Mr. Bruce Stanton (Simcoe North, CPC))", "We resume. Mr. Poilievre is next."),
        ("Hon. Pierre Poilievre (Carleton, CPC)", "Thank you, Mr. Chair. How much has been spent?"),
        ("Hon. Bill Morneau (Minister of Finance)", "We have committed to transparency: the figures are online."),
        ("Dr. Jane O'Brien-Smith", "A point of order."),
        ("Darren Millar AM", "Thank you, Chair. My question is this: will you publish it?"),
        ("The Acting Chair (Mr. Bruce Stanton (Simcoe North, CPC))", "Thank you. We'll now go to Mr. d'Entremont."),
        ("Mr. Chris d'Entremont (West Nova, CPC)", "Thank you."),
    ]
    assert warnings == ()


def test_labels_after_a_timestamp_are_speakers_even_when_said_once():
    transcript, _ = parse("[00:00:01] Hon. Anita Anand: Yes.\n[00:00:05] Ms. Rachel Blaney (North Island, NDP): Why?\n")
    assert turns_of(transcript) == [("Hon. Anita Anand", "Yes."), ("Ms. Rachel Blaney (North Island, NDP)", "Why?")]
    assert [t.start_time for t in transcript.turns] == [1.0, 5.0]


def test_one_word_labels_said_once_start_turns_in_a_file_of_paragraphs():
    transcript, warnings = parse("Anna: How was it?\n\nBob: Fine, thanks.\n\nClara: Same here.\n")
    assert turns_of(transcript) == [("Anna", "How was it?"), ("Bob", "Fine, thanks."), ("Clara", "Same here.")]
    assert warnings == ()


def test_a_stray_one_word_label_inside_a_paragraph_stays_in_the_speech_with_a_warning():
    text = "Interviewer: How?\n\nP1: It was hard.\nExample: the bus.\nMeanwhile: nothing changed.\n\nInterviewer: Ok.\n"
    transcript, warnings = parse(text)
    assert turns_of(transcript) == [
        ("Interviewer", "How?"),
        ("P1", "It was hard.\nExample: the bus.\nMeanwhile: nothing changed."),
        ("Interviewer", "Ok."),
    ]
    [warning] = warnings
    assert warning.startswith("t.txt: 1 line(s) look like speaker labels") and "line 5 'Meanwhile:'" in warning


def test_one_word_labels_said_once_start_turns_in_a_file_that_is_all_label_lines():
    transcript, _ = parse("Interviewer: How?\nAnna: Fine.\nBob: Also fine.\nInterviewer: Good.\n")
    assert [t.speaker for t in transcript.turns] == ["Interviewer", "Anna", "Bob", "Interviewer"]


def test_a_sentence_with_a_colon_is_never_a_label():
    transcript, warnings = parse("Chair: Go on.\nMember: The question is this: will you?\nSo I said: no.\nChair: Next.\n")
    assert turns_of(transcript)[1] == ("Member", "The question is this: will you?\nSo I said: no.")
    assert warnings == ()


def test_a_label_said_once_right_after_a_label_alone_on_its_line_is_that_speakers_speech():
    text = "Chair:\nGo on.\n\nMember:\nThe Healthy Weight: Healthy Wales plan.\n\nChair:\nThanks.\n"
    transcript, _ = parse(text)
    assert turns_of(transcript)[1] == ("Member", "The Healthy Weight: Healthy Wales plan.")


def test_a_file_with_one_stray_label_is_not_labelled():
    transcript, warnings = parse("I grew up by the sea.\nNote: the recorder was off.\nThen I moved.\n")
    assert turns_of(transcript) == [("Participant", "I grew up by the sea.\nNote: the recorder was off.\nThen I moved.")]
    assert len(warnings) == 1 and "no speaker labels" in warnings[0]


def test_an_unlabelled_file_with_one_name_like_line_warns_about_it():
    transcript, warnings = parse("My story.\nAnna Berg: said once.\nThe end.\n")
    assert len(transcript.turns) == 1
    assert "no speaker labels" in warnings[0] and "line 2 'Anna Berg:'" in warnings[1]


@pytest.mark.parametrize(
    ("line", "label"),
    [
        ("The Acting Chair (Mr. Bruce Stanton (Simcoe North, CPC)): Thanks", "The Acting Chair (Mr. Bruce Stanton (Simcoe North, CPC))"),
        ("Hon. Chrystia Freeland (Deputy Prime Minister and Minister of Intergovernmental Affairs): Yes", None),
        ("P1 : Fine", "P1"),
        ("10:30 is when", None),
        ("see http://example.org: x", None),
        ("Anna (unbalanced: x", None),
        ("Anna): x", None),
    ],
)
def test_colon_labels_are_found_up_to_the_first_colon_outside_parentheses(line, label):
    found = colon_label_at(line, 0)
    if line.startswith("Hon. Chrystia"):
        label = line[: line.index("):") + 1]  # 94 characters, the longest in QMSum
    assert (found[0] if found else None) == label


@pytest.mark.parametrize(
    ("label", "is_name"),
    [
        ("Hon. Pierre Poilievre (Carleton, CPC)", True),
        ("Mr. Chris d'Entremont", True),
        ("Ursula von der Leyen", True),
        ("Grad A", True),
        ("PhD F", True),
        ("Interviewer 2", True),
        ("The Chair", True),
        ("Дмитрий", True),
        ("So I said", False),
        ("The 'Healthy Weight", False),
        ("Note", False),
        ("Inaudible.", False),
        ("of Finance", False),
    ],
)
def test_a_name_is_capitalised_words_with_particles_titles_and_numbers(label, is_name):
    assert looks_like_a_name(label) is is_name


def test_parenthesised_parts_are_left_out_of_the_name_check():
    assert outside_parentheses("The Chair (Hon. A (B, Lib.))") == "The Chair"


def test_the_reader_result_says_how_many_speakers_and_turns_each_transcript_has(tmp_path):
    result = read_transcripts(write(tmp_path, "meeting.txt", COMMITTEE))
    assert result.found == ("meeting: 6 speakers, 7 turns",)
    assert describe_turns(parse("Interviewer: How?\nP1: Fine.\n")[0]) == "t: 2 speakers, 2 turns"


def test_import_prints_speakers_and_turns_per_transcript_and_warns_about_unused_labels(runner, project, tmp_path):
    from qcassist.cli import main

    meeting = write(tmp_path, "meeting.txt", COMMITTEE)
    memo = write(tmp_path, "memo.txt", "Interviewer: How?\n\nP1: It was hard.\nMeanwhile: nothing.\n\nInterviewer: Ok.\n")
    result = runner.invoke(main, ["import", "-p", str(project), str(meeting), str(memo)])
    assert result.exit_code == 0, result.output
    assert "  meeting: 6 speakers, 7 turns; interviewer:" in result.output
    assert "  memo: 2 speakers, 3 turns; interviewer: Interviewer\n" in result.output
    assert f"{memo}: 1 line(s) look like speaker labels but were read as speech (line 4 'Meanwhile:')" in result.output


def test_short_labels_written_in_lowercase_are_speakers_when_they_repeat():
    transcript, _ = parse("jsmith: how was it?\nanna: fine.\njsmith: and then?\nanna: better.\n")
    assert [t.speaker for t in transcript.turns] == ["jsmith", "anna", "jsmith", "anna"]


def test_lowercase_zoom_prefixes_that_repeat_name_the_speakers(tmp_path):
    cues = "".join(
        f"{i}\n00:00:0{i},000 --> 00:00:0{i},500\n{who}: {said}\n\n"
        for i, (who, said) in enumerate([("jsmith", "How?"), ("anna", "Fine."), ("jsmith", "Why?"), ("anna", "Because.")], 1)
    )
    [transcript] = read_transcripts(write(tmp_path, "zoom.srt", cues)).transcripts
    assert turns_of(transcript) == [("jsmith", "How?"), ("anna", "Fine."), ("jsmith", "Why?"), ("anna", "Because.")]


def test_a_repeated_phrase_after_a_label_alone_on_its_line_is_still_the_speech():
    text = "Chair:\nLast question: why?\n\nMember:\nBecause.\n\nChair:\nLast question: when?\n\nMember:\nSoon.\n"
    transcript, _ = parse(text)
    assert turns_of(transcript) == [
        ("Chair", "Last question: why?"), ("Member", "Because."), ("Chair", "Last question: when?"), ("Member", "Soon."),
    ]


def test_header_fields_before_the_first_turn_are_not_speakers():
    text = "Title: Interview 4\nDate: 12 May 2023\nLocation: kitchen\nAttendees: Kari, Anna\n\nKari: How?\n\nAnna: Fine.\n\nKari: Ok.\n"
    transcript, warnings = parse(text)
    assert turns_of(transcript) == [("Kari", "How?"), ("Anna", "Fine."), ("Kari", "Ok.")]
    assert warnings == ()
