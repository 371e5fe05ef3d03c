"""Plain-text transcripts: speaker labels, timestamps, paragraphs, roles."""

from __future__ import annotations


import pytest

from qcassist.ingest import parse_labelled_text, read_transcripts
from qcassist.ingest.roles import assign_roles
from qcassist.ingest.turns import parse_clock
from qcassist.model import Transcript
from tests.conftest import assert_turns_are_clean_spans, write


def parse(text: str, **kwargs) -> Transcript:
    transcript, _ = parse_labelled_text(text, name="t", path="t.txt", **kwargs)
    assert_turns_are_clean_spans(transcript)
    return transcript


def turns_of(transcript: Transcript) -> list[tuple[str, str]]:
    return [(turn.speaker, transcript.turn_text(turn)) for turn in transcript.turns]






# --- speaker labels -------------------------------------------------------------------


def test_six_turn_fixture_reads_as_alternating_interviewer_and_participant(six_turns_file):
    result = read_transcripts(six_turns_file)
    [transcript] = result.transcripts
    assert transcript.name == "six_turns"
    assert transcript.text == six_turns_file.read_text(encoding="utf-8")
    assert [t.speaker for t in transcript.turns] == ["Interviewer", "P1"] * 3
    assert [t.role for t in transcript.turns] == ["interviewer", "participant"] * 3
    assert transcript.turn_text(transcript.turns[0]) == "How did you first meet the team?"
    assert transcript.turn_text(transcript.turns[-1]) == "I have hope now."
    assert result.warnings == ()


def test_colon_labels_with_role_words_numbers_and_full_names_become_speakers():
    transcript = parse(
        "Interviewer: How was it?\n"
        "P1: Fine.\n"
        "Anna Berg: I agree.\n"
        "Interviewer: Both of you?\n"
        "Anna Berg: Yes.\n"
    )
    assert turns_of(transcript) == [
        ("Interviewer", "How was it?"),
        ("P1", "Fine."),
        ("Anna Berg", "I agree."),
        ("Interviewer", "Both of you?"),
        ("Anna Berg", "Yes."),
    ]


def test_bracket_labels_with_or_without_colon_become_speakers():
    transcript = parse("[Interviewer] How was it?\n[Anna]: Fine.\n[Interviewer]: And then?\n[Anna] Better.\n")
    assert turns_of(transcript) == [
        ("Interviewer", "How was it?"),
        ("Anna", "Fine."),
        ("Interviewer", "And then?"),
        ("Anna", "Better."),
    ]


def test_space_before_the_colon_is_still_a_label():
    transcript = parse("Interviewer : How?\nP1 : Fine.\n")
    assert turns_of(transcript) == [("Interviewer", "How?"), ("P1", "Fine.")]


def test_indented_labels_are_still_labels():
    transcript = parse("  Interviewer: How?\n\tP1: Fine.\n")
    assert turns_of(transcript) == [("Interviewer", "How?"), ("P1", "Fine.")]


def test_a_name_used_only_once_is_part_of_the_speech_not_a_speaker():
    transcript = parse("Interviewer: How?\nP1: My neighbour said it best.\nSo I said: no thanks.\nInterviewer: Ok.\n")
    assert turns_of(transcript) == [
        ("Interviewer", "How?"),
        ("P1", "My neighbour said it best.\nSo I said: no thanks."),
        ("Interviewer", "Ok."),
    ]


def test_a_name_used_once_is_a_speaker_when_named_as_interviewer():
    transcript = parse("Kari: How did it go?\nP1: Fine.\n", interviewers=("Kari",))
    assert turns_of(transcript) == [("Kari", "How did it go?"), ("P1", "Fine.")]
    assert [t.role for t in transcript.turns] == ["interviewer", "participant"]


def test_a_stray_note_in_an_answer_stays_in_the_speech():
    transcript = parse("Interviewer: How?\nP1: It was hard.\nNote: participant pauses.\nThen it got better.\n")
    assert turns_of(transcript)[1] == ("P1", "It was hard.\nNote: participant pauses.\nThen it got better.")


def test_stage_directions_in_brackets_are_not_speakers():
    transcript = parse("Interviewer: How?\nP1: Well.\n[laughs] It was odd.\nInterviewer: Why?\nP1: [pause] I do not know.\n")
    assert {t.speaker for t in transcript.turns} == {"Interviewer", "P1"}
    assert turns_of(transcript)[1] == ("P1", "Well.\n[laughs] It was odd.")
    assert turns_of(transcript)[3] == ("P1", "[pause] I do not know.")


def test_a_clock_time_at_line_start_is_not_a_label():
    transcript = parse("Interviewer: When?\nP1: In the morning.\n10:30 is when I go.\n")
    assert turns_of(transcript)[1] == ("P1", "In the morning.\n10:30 is when I go.")


def test_consecutive_labels_of_one_speaker_stay_separate_turns():
    transcript = parse("Interviewer: How?\nP1: First.\nP1: Second.\n")
    assert turns_of(transcript) == [("Interviewer", "How?"), ("P1", "First."), ("P1", "Second.")]


# --- paragraphs, headers, empty labels --------------------------------------------------


def test_unlabelled_lines_and_blank_line_paragraphs_continue_the_turn():
    text = "Interviewer: Tell me.\n\nP1: First paragraph.\n\nSecond paragraph,\nstill mine.\n\n\nInterviewer: Thanks.\n"
    transcript = parse(text)
    assert turns_of(transcript)[1] == ("P1", "First paragraph.\n\nSecond paragraph,\nstill mine.")


def test_a_header_before_the_first_label_belongs_to_no_turn():
    transcript = parse("Interview 4, 12 May 2023\nLocation kitchen\n\nInterviewer: How?\nP1: Fine.\n")
    assert turns_of(transcript) == [("Interviewer", "How?"), ("P1", "Fine.")]
    assert transcript.turns[0].start == transcript.text.index("How?")


def test_a_label_alone_on_its_line_takes_the_speech_from_the_next_lines():
    transcript = parse("Interviewer:\nHow was it?\n\nP1:\n\n  It was fine.  \nReally.\n")
    assert turns_of(transcript) == [("Interviewer", "How was it?"), ("P1", "It was fine.  \nReally.")]


def test_a_label_with_nothing_said_makes_no_turn():
    transcript = parse("Interviewer: How?\nP1:\nInterviewer: Hello?\nP1: Sorry, yes.\n")
    assert turns_of(transcript) == [("Interviewer", "How?"), ("Interviewer", "Hello?"), ("P1", "Sorry, yes.")]


def test_text_without_labels_is_one_participant_turn_with_a_warning():
    transcript, warnings = parse_labelled_text("\n  I grew up by the sea.\n\nThen I moved.\n", name="t", path="memo.txt")
    assert turns_of(transcript) == [("Participant", "I grew up by the sea.\n\nThen I moved.")]
    assert transcript.turns[0].role == "participant"
    assert len(warnings) == 1 and "memo.txt" in warnings[0] and "\n" not in warnings[0]


# --- timestamps -----------------------------------------------------------------------


@pytest.mark.parametrize("stamp", ["#00:01:02#", "[00:01:02]", "(00:01:02)"])
def test_a_leading_timestamp_is_left_out_of_the_turn_and_kept_as_its_start_time(stamp):
    transcript = parse(f"{stamp} Interviewer: How?\n{stamp} P1: Fine.\n")
    assert turns_of(transcript) == [("Interviewer", "How?"), ("P1", "Fine.")]
    assert [t.start_time for t in transcript.turns] == [62.0, 62.0]


@pytest.mark.parametrize("stamp", ["#00:01:02#", "[00:01:02]", "(00:01:02)"])
def test_a_timestamp_after_the_label_is_left_out_of_the_turn(stamp):
    transcript = parse(f"Interviewer: {stamp} How?\n[P1] {stamp} Fine.\n")
    assert turns_of(transcript) == [("Interviewer", "How?"), ("P1", "Fine.")]
    assert transcript.turns[1].start_time == 62.0


@pytest.mark.parametrize("stamp", ["#00:01:02#", "[00:01:02]", "(00:01:02)"])
def test_a_trailing_timestamp_is_left_out_of_the_turn(stamp):
    transcript = parse(f"Interviewer: How? {stamp}\nP1: Fine.\nMore. {stamp}  \n")
    assert turns_of(transcript) == [("Interviewer", "How?"), ("P1", "Fine.\nMore.")]


def test_the_leading_timestamp_wins_over_one_after_the_label():
    transcript = parse("[00:00:05] Interviewer: [00:00:09] How?\nP1: Fine.\n")
    assert transcript.turns[0].start_time == 5.0
    assert transcript.turns[1].start_time is None


def test_a_timestamp_inside_a_turn_stays_in_its_text():
    transcript = parse("Interviewer: How?\nP1: First.\n[00:02:00] Second.\n")
    assert turns_of(transcript)[1] == ("P1", "First.\n[00:02:00] Second.")


def test_an_unconfirmed_label_line_starting_a_turn_leaves_out_its_timestamp():
    transcript = parse("Interviewer: How?\nP1:\n[00:01:02] Note: I mean this.\nInterviewer: Ok.\n")
    assert turns_of(transcript)[1] == ("P1", "Note: I mean this.")


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("00:01:02", 62.0),
        ("1:02", 62.0),
        ("01:00:00", 3600.0),
        ("00:01:02.5", 62.5),
        ("00:01:02,250", 62.25),
        ("#00:01:02-5#", 62.5),
        ("[00:00:07]", 7.0),
    ],
)
def test_clock_values_in_every_transcription_style_parse_to_seconds(value, seconds):
    assert parse_clock(value) == pytest.approx(seconds)


def test_a_non_clock_value_is_not_a_time():
    with pytest.raises(ValueError):
        parse_clock("soon")


# --- roles ----------------------------------------------------------------------------


@pytest.mark.parametrize("label", ["Interviewer", "I", "Q", "Int", "Moderator", "Facilitator", "Researcher", "Intervjuer", "Interviewer 2"])
def test_interviewer_role_words_make_a_speaker_the_interviewer(label):
    transcript = parse(f"{label}: How?\nAnna: Fine.\n{label}: Ok.\nAnna: Yes.\n")
    roles = {t.speaker: t.role for t in transcript.turns}
    assert roles == {label: "interviewer", "Anna": "participant"}


def test_interviewer_names_are_matched_ignoring_case_and_may_be_repeated():
    text = "Kari: How?\nOle: And why?\nAnna: Because.\nKari: Ok.\nOle: Right.\nAnna: Yes.\n"
    transcript = parse(text, interviewers=("kari", " OLE "))
    roles = {t.speaker: t.role for t in transcript.turns}
    assert roles == {"Kari": "interviewer", "Ole": "interviewer", "Anna": "participant"}


def test_named_interviewers_replace_the_heuristic():
    transcript = parse("Interviewer: How?\nP1: Fine.\n", interviewers=("P1",))
    roles = {t.speaker: t.role for t in transcript.turns}
    assert roles == {"Interviewer": "participant", "P1": "interviewer"}


def test_without_role_words_the_speaker_who_asks_most_is_the_interviewer():
    text = "Kari: How did it start?\nAnna: With a letter.\nKari: And then?\nAnna: I called them.\nKari: Why?\nAnna: I was worried.\n"
    roles = {t.speaker: t.role for t in parse(text).turns}
    assert roles == {"Kari": "interviewer", "Anna": "participant"}


def test_without_a_clear_asker_everyone_is_a_participant():
    turns = [("Kari", "How?"), ("Anna", "Why?"), ("Kari", "Fine."), ("Anna", "Ok.")]
    assert assign_roles(turns) == {"Kari": "participant", "Anna": "participant"}


def test_the_question_heuristic_does_not_run_when_a_role_word_names_the_interviewer():
    turns = [("Interviewer", "Hello."), ("Kari", "How?"), ("Anna", "Fine."), ("Kari", "Why?"), ("Anna", "Ok.")]
    assert assign_roles(turns) == {"Interviewer": "interviewer", "Kari": "participant", "Anna": "participant"}


def test_transcriber_notes_get_the_other_role_and_are_not_participant_turns():
    transcript = parse("Interviewer: How?\nTranscriber: recording starts late\nP1: Fine.\nTranscriber: noise\n")
    roles = {t.speaker: t.role for t in transcript.turns}
    assert roles == {"Interviewer": "interviewer", "Transcriber": "other", "P1": "participant"}
    assert [t.speaker for t in transcript.participant_turns] == ["P1"]


def test_participant_turns_are_the_turns_meaning_units_come_from(six_turns_file):
    transcript = parse(six_turns_file.read_text(encoding="utf-8"))
    assert [transcript.turn_text(t) for t in transcript.participant_turns] == [
        "My doctor sent a referral. I did not expect much at first.",
        "The nurse listened to me. She came back every week, even when I cancelled. Later we talked about money problems and the rent.",
        "I have hope now.",
    ]


# --- files ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["interview.txt", "interview.md", "interview.TXT", "interview.text"])
def test_txt_and_md_files_are_read_as_labelled_text(tmp_path, name):
    path = write(tmp_path, name, "Interviewer: How?\nP1: Fine.\n")
    [transcript] = read_transcripts(str(path)).transcripts
    assert transcript.name == "interview"
    assert transcript.source_path == str(path)
    assert transcript.metadata == {"encoding": "utf-8", "format": "text"}
    assert turns_of(transcript) == [("Interviewer", "How?"), ("P1", "Fine.")]


def test_the_stored_text_is_the_file_text_so_offsets_match_the_users_file(tmp_path):
    text = "Intro\n\n#00:00:01# Interviewer: Hi?\nP1: (00:00:02) Hello there. [00:00:03]\n"
    path = write(tmp_path, "a.txt", text)
    [transcript] = read_transcripts(path).transcripts
    assert transcript.text == text
    assert turns_of(transcript) == [("Interviewer", "Hi?"), ("P1", "Hello there.")]


def test_the_content_hash_follows_the_stored_text(tmp_path):
    first = read_transcripts(write(tmp_path, "a.txt", "Interviewer: How?\nP1: Fine.\n")).transcripts[0]
    same = read_transcripts(write(tmp_path, "b.txt", "Interviewer: How?\r\nP1: Fine.\r\n")).transcripts[0]
    other = read_transcripts(write(tmp_path, "c.txt", "Interviewer: How?\nP1: Good.\n")).transcripts[0]
    assert first.content_hash == same.content_hash != other.content_hash
    assert len(first.content_hash) == 64
