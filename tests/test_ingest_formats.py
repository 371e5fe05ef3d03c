"""Word documents, subtitles (.vtt/.srt) and turn tables (.csv/.tsv/.jsonl)."""

from __future__ import annotations

import csv
import json

import docx

from qcassist.ingest import ColumnMap, read_transcripts
from qcassist.model import Transcript
from tests.conftest import assert_turns_are_clean_spans, write


def read_one(path, **kwargs) -> Transcript:
    [transcript] = read_transcripts(path, **kwargs).transcripts
    assert_turns_are_clean_spans(transcript)
    return transcript


def turns_of(transcript: Transcript) -> list[tuple[str, str]]:
    return [(turn.speaker, transcript.turn_text(turn)) for turn in transcript.turns]


def times_of(transcript: Transcript) -> list[tuple[float | None, float | None]]:
    return [(turn.start_time, turn.end_time) for turn in transcript.turns]






def add_table(document, rows) -> None:
    table = document.add_table(rows=0, cols=len(rows[0]))
    for values in rows:
        cells = table.add_row().cells
        for cell, value in zip(cells, values):
            cell.text = value


# --- .docx ------------------------------------------------------------------------------


def test_docx_paragraphs_with_speaker_labels_become_turns(tmp_path):
    document = docx.Document()
    document.add_paragraph("Interview 3, 12 May")
    document.add_paragraph("Interviewer: How did it start?")
    document.add_paragraph("P1: [00:00:04] With a letter.")
    document.add_paragraph("It came in March.")
    document.add_paragraph("[Interviewer] And then?")
    document.add_paragraph("[P1] I called them.")
    document.save(tmp_path / "doc.docx")
    transcript = read_one(tmp_path / "doc.docx")
    assert transcript.name == "doc"
    assert transcript.metadata["format"] == "docx"
    assert turns_of(transcript) == [
        ("Interviewer", "How did it start?"),
        ("P1", "With a letter.\nIt came in March."),
        ("Interviewer", "And then?"),
        ("P1", "I called them."),
    ]
    assert transcript.turns[1].start_time == 4.0
    assert [t.role for t in transcript.turns] == ["interviewer", "participant"] * 2


def test_docx_speaker_text_table_rows_become_turns_and_header_rows_are_skipped(tmp_path):
    document = docx.Document()
    add_table(document, [("Speaker", "Text"), ("Kari", "How did it start?"), ("Anna", "With a letter."), ("Kari", "Why?")])
    document.save(tmp_path / "table.docx")
    transcript = read_one(tmp_path / "table.docx", interviewers=("Kari",))
    assert turns_of(transcript) == [("Kari", "How did it start?"), ("Anna", "With a letter."), ("Kari", "Why?")]
    assert [t.role for t in transcript.turns] == ["interviewer", "participant", "interviewer"]


def test_docx_table_speakers_are_known_even_when_they_speak_once(tmp_path):
    document = docx.Document()
    add_table(document, [("Interviewer", "How?"), ("Anna Berg", "Fine.")])
    document.save(tmp_path / "once.docx")
    assert turns_of(read_one(tmp_path / "once.docx")) == [("Interviewer", "How?"), ("Anna Berg", "Fine.")]


def test_docx_paragraphs_and_tables_are_read_in_document_order(tmp_path):
    document = docx.Document()
    document.add_paragraph("Interviewer: First question?")
    add_table(document, [("P1", "First answer."), ("Interviewer", "Second question?")])
    document.add_paragraph("P1: Second answer.")
    document.save(tmp_path / "mixed.docx")
    transcript = read_one(tmp_path / "mixed.docx")
    assert turns_of(transcript) == [
        ("Interviewer", "First question?"),
        ("P1", "First answer."),
        ("Interviewer", "Second question?"),
        ("P1", "Second answer."),
    ]


def test_docx_time_speaker_text_table_keeps_the_time_as_turn_start(tmp_path):
    document = docx.Document()
    add_table(
        document,
        [("Time", "Speaker", "Text"), ("00:00:05", "Interviewer", "How?"), ("00:01:02.5", "P1", "Fine, thanks."), ("1:10", "P1", "Really.")],
    )
    document.save(tmp_path / "timed.docx")
    transcript = read_one(tmp_path / "timed.docx")
    assert turns_of(transcript) == [("Interviewer", "How?"), ("P1", "Fine, thanks."), ("P1", "Really.")]
    assert [t.start_time for t in transcript.turns] == [5.0, 62.5, 70.0]


def test_docx_time_column_already_in_brackets_is_still_a_time(tmp_path):
    document = docx.Document()
    add_table(document, [("[00:00:05]", "Interviewer", "How?"), ("#00:00:09-5#", "Anna", "Fine.")])
    document.save(tmp_path / "bracketed.docx")
    transcript = read_one(tmp_path / "bracketed.docx")
    assert turns_of(transcript) == [("Interviewer", "How?"), ("Anna", "Fine.")]
    assert [t.start_time for t in transcript.turns] == [5.0, 9.5]


def test_docx_table_row_with_a_speaker_but_no_text_adds_nothing(tmp_path):
    document = docx.Document()
    add_table(document, [("Interviewer", "How?"), ("Anna", "Fine."), ("Anna", ""), ("Interviewer", "Ok.")])
    document.save(tmp_path / "gap.docx")
    transcript = read_one(tmp_path / "gap.docx")
    assert turns_of(transcript) == [("Interviewer", "How?"), ("Anna", "Fine."), ("Interviewer", "Ok.")]


def test_docx_merged_cells_are_read_once(tmp_path):
    document = docx.Document()
    table = document.add_table(rows=3, cols=3)
    for row, (speaker, text) in zip(table.rows, [("Interviewer", "How?"), ("Anna", "Fine."), ("Interviewer", "Ok.")]):
        row.cells[0].text = speaker
        row.cells[1].text = text
    table.rows[1].cells[1].merge(table.rows[1].cells[2])
    table.rows[0].cells[1].merge(table.rows[0].cells[2])
    table.rows[2].cells[1].merge(table.rows[2].cells[2])
    document.save(tmp_path / "merged.docx")
    assert turns_of(read_one(tmp_path / "merged.docx")) == [("Interviewer", "How?"), ("Anna", "Fine."), ("Interviewer", "Ok.")]


# --- .vtt / .srt ------------------------------------------------------------------------

TEAMS_VTT = """WEBVTT

a1b2c3/11-0
00:00:01.000 --> 00:00:03.500
<v Kari Nordmann>How did it start?</v>

a1b2c3/12-0
00:00:04.000 --> 00:00:06.000
<v Anna Berg>With a letter.</v>

a1b2c3/12-1
00:00:06.000 --> 00:00:09.250
<v Anna Berg>It came in March.</v>

a1b2c3/13-0
00:00:10.000 --> 00:00:11.000
<v Kari Nordmann>And then?</v>
"""

ZOOM_VTT = """WEBVTT

1
00:00:01.000 --> 00:00:03.000
Kari Nordmann: How did it start?

2
00:00:04.000 --> 00:00:06.000
Anna Berg: With a letter.

3
00:00:06.500 --> 00:00:08.000
It came in March.

4
00:00:08.000 --> 00:00:09.000
Anna Berg: I was worried.

5
00:00:10.000 --> 00:00:11.000
Kari Nordmann: Why?
"""


def test_teams_voice_tags_name_the_speakers(tmp_path):
    transcript = read_one(write(tmp_path, "teams.vtt", TEAMS_VTT))
    assert [t.speaker for t in transcript.turns] == ["Kari Nordmann", "Anna Berg", "Kari Nordmann"]
    assert transcript.metadata == {"encoding": "utf-8", "format": "vtt", "cues": 4}


def test_consecutive_cues_by_one_speaker_merge_into_one_turn(tmp_path):
    transcript = read_one(write(tmp_path, "teams.vtt", TEAMS_VTT))
    assert turns_of(transcript)[1] == ("Anna Berg", "With a letter. It came in March.")


def test_a_merged_turn_keeps_the_first_start_and_the_last_end_time(tmp_path):
    transcript = read_one(write(tmp_path, "teams.vtt", TEAMS_VTT))
    assert times_of(transcript) == [(1.0, 3.5), (4.0, 9.25), (10.0, 11.0)]


def test_zoom_name_prefixes_name_the_speakers_and_are_left_out_of_the_text(tmp_path):
    transcript = read_one(write(tmp_path, "zoom.vtt", ZOOM_VTT))
    assert turns_of(transcript) == [
        ("Kari Nordmann", "How did it start?"),
        ("Anna Berg", "With a letter. It came in March. I was worried."),
        ("Kari Nordmann", "Why?"),
    ]
    assert times_of(transcript) == [(1.0, 3.0), (4.0, 9.0), (10.0, 11.0)]


def test_a_cue_without_a_speaker_continues_the_previous_speaker(tmp_path):
    text = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v Kari>How?\n\n00:00:02.000 --> 00:00:03.000\n<v Anna>Well.\n\n00:00:03.000 --> 00:00:04.000\nIt was fine.\n"
    transcript = read_one(write(tmp_path, "cont.vtt", text))
    assert turns_of(transcript) == [("Kari", "How?"), ("Anna", "Well. It was fine.")]
    assert times_of(transcript)[1] == (2.0, 4.0)


def test_cues_before_any_speaker_belong_to_a_generic_speaker(tmp_path):
    text = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHello and welcome.\n\n00:00:02.000 --> 00:00:03.000\nInterviewer: How?\n"
    transcript = read_one(write(tmp_path, "anon.vtt", text))
    assert turns_of(transcript) == [("Speaker", "Hello and welcome."), ("Interviewer", "How?")]


def test_the_stored_subtitle_text_is_rebuilt_as_speaker_paragraphs(tmp_path):
    transcript = read_one(write(tmp_path, "teams.vtt", TEAMS_VTT))
    assert transcript.text == (
        "Kari Nordmann: How did it start?\n\nAnna Berg: With a letter. It came in March.\n\nKari Nordmann: And then?\n"
    )


def test_vtt_header_lines_notes_styles_and_cue_settings_are_skipped(tmp_path):
    text = (
        "WEBVTT - exported\nKind: captions\nLanguage: en\n\n"
        "NOTE exported by a tool\nover two lines\n\n"
        "STYLE\n::cue { color: white }\n\n"
        "00:01.000 --> 00:02.000 align:start position:10%\n<v.loud Kari>How <i>exactly</i>?</v>\n\n"
        "00:02.000 --> 00:04.000\n<v Anna>Slowly,\nthen fast.</v>\n"
    )
    transcript = read_one(write(tmp_path, "header.vtt", text))
    assert turns_of(transcript) == [("Kari", "How exactly?"), ("Anna", "Slowly, then fast.")]
    assert times_of(transcript) == [(1.0, 2.0), (2.0, 4.0)]


def test_vtt_character_references_are_unescaped(tmp_path):
    text = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v Kari>Q&amp;A first?</v>\n\n00:00:02.000 --> 00:00:03.000\n<v Anna>Fine &lt;laughs&gt;</v>\n"
    transcript = read_one(write(tmp_path, "entities.vtt", text))
    assert turns_of(transcript) == [("Kari", "Q&A first?"), ("Anna", "Fine <laughs>")]


def test_srt_cues_with_numbers_and_comma_milliseconds_become_turns(tmp_path):
    text = (
        "1\n00:00:01,000 --> 00:00:02,500\nInterviewer: How?\n\n"
        "2\n00:00:03,000 --> 00:00:04,000\nP1: Fine.\nReally fine.\n\n"
        "3\n00:00:04,000 --> 00:00:06,000\nP1: Thanks.\n\n"
        "4\n01:00:00,000 --> 01:00:01,000\nInterviewer: Bye?\n"
    )
    transcript = read_one(write(tmp_path, "a.srt", text))
    assert turns_of(transcript) == [("Interviewer", "How?"), ("P1", "Fine. Really fine. Thanks."), ("Interviewer", "Bye?")]
    assert times_of(transcript) == [(1.0, 2.5), (3.0, 6.0), (3600.0, 3601.0)]
    assert transcript.metadata["format"] == "srt"
    assert [t.role for t in transcript.turns] == ["interviewer", "participant", "interviewer"]


def test_subtitle_interviewer_names_set_the_roles(tmp_path):
    transcript = read_one(write(tmp_path, "zoom.vtt", ZOOM_VTT), interviewers=("kari nordmann",))
    assert [t.role for t in transcript.turns] == ["interviewer", "participant", "interviewer"]


# --- .csv / .tsv / .jsonl ---------------------------------------------------------------


def test_csv_with_default_columns_is_one_transcript_named_after_the_file(tmp_path):
    path = write(tmp_path, "turns.csv", "speaker,text\nInterviewer,How?\nP1,\"Fine, thanks.\"\n")
    transcript = read_one(path)
    assert transcript.name == "turns"
    assert turns_of(transcript) == [("Interviewer", "How?"), ("P1", "Fine, thanks.")]
    assert transcript.text == "Interviewer: How?\n\nP1: Fine, thanks.\n"
    assert transcript.metadata == {"encoding": "utf-8", "format": "csv"}


def test_csv_start_and_end_columns_accept_seconds_and_clock_times(tmp_path):
    path = write(tmp_path, "timed.csv", "speaker,text,start,end\nInterviewer,How?,1.5,3\nP1,Fine.,00:00:04,00:01:02.5\nP1,More.,,\n")
    assert times_of(read_one(path)) == [(1.5, 3.0), (4.0, 62.5), (None, None)]


def test_csv_with_custom_columns_is_read_through_the_mapping(tmp_path):
    path = write(tmp_path, "custom.csv", "interview,who,said,from,to,extra\nA,Kari,How?,1,2,x\nA,Anna,Fine.,2,3,y\n")
    columns = ColumnMap(speaker="who", text="said", transcript="interview", start="from", end="to")
    [transcript] = read_transcripts(path, columns=columns, interviewers=("Kari",)).transcripts
    assert transcript.name == "A"
    assert turns_of(transcript) == [("Kari", "How?"), ("Anna", "Fine.")]
    assert times_of(transcript) == [(1.0, 2.0), (2.0, 3.0)]


def test_csv_without_a_transcript_column_mapping_ignores_that_column(tmp_path):
    path = write(tmp_path, "flat.csv", "transcript,speaker,text\nA,Interviewer,How?\nB,P1,Fine.\n")
    [transcript] = read_transcripts(path, columns=ColumnMap(transcript=None)).transcripts
    assert transcript.name == "flat"
    assert len(transcript.turns) == 2


def test_semicolon_delimited_csv_is_detected(tmp_path):
    path = write(tmp_path, "semi.csv", "speaker;text\nInterviewer;How, then?\nP1;Fine, thanks.\n")
    assert turns_of(read_one(path)) == [("Interviewer", "How, then?"), ("P1", "Fine, thanks.")]


def test_tab_separated_file_is_read(tmp_path):
    path = write(tmp_path, "turns.tsv", "speaker\ttext\nInterviewer\tHow, then?\nP1\tFine; thanks.\n")
    assert turns_of(read_one(path)) == [("Interviewer", "How, then?"), ("P1", "Fine; thanks.")]


def test_csv_quoted_fields_with_doubled_quotes_and_newlines_are_one_cell(tmp_path):
    path = tmp_path / "quoted.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["speaker", "text"])
        writer.writerow(["Interviewer", "How?"])
        writer.writerow(["P1", 'She said "hi", then left.\nNext day, too.'])
    assert turns_of(read_one(path)) == [("Interviewer", "How?"), ("P1", 'She said "hi", then left.\nNext day, too.')]


def test_several_transcripts_in_one_csv_are_split_by_the_transcript_column(tmp_path):
    path = write(
        tmp_path,
        "all.csv",
        "transcript,speaker,text\nA,Interviewer,How?\nB,Interviewer,Hello?\nA,P1,Fine.\nB,P2,Hi.\nB,P2,Bye.\n",
    )
    transcripts = read_transcripts(path).transcripts
    assert [t.name for t in transcripts] == ["A", "B"]
    assert turns_of(transcripts[0]) == [("Interviewer", "How?"), ("P1", "Fine.")]
    assert turns_of(transcripts[1]) == [("Interviewer", "Hello?"), ("P2", "Hi."), ("P2", "Bye.")]
    for transcript in transcripts:
        assert_turns_are_clean_spans(transcript)
        assert transcript.source_path == str(path)


def test_csv_rows_with_empty_text_make_no_turn_and_empty_speaker_is_generic(tmp_path):
    path = write(tmp_path, "gaps.csv", "speaker,text\nInterviewer,How?\nP1,\n,Fine.\n")
    assert turns_of(read_one(path)) == [("Interviewer", "How?"), ("Speaker", "Fine.")]


def test_jsonl_rows_become_turns_and_blank_lines_are_skipped(tmp_path):
    rows = [
        {"transcript": "A", "speaker": "Interviewer", "text": "How?", "start": 1, "end": 2.5},
        {"transcript": "A", "speaker": "P1", "text": "Fine.", "start": "00:00:03", "end": None},
        {"transcript": "B", "speaker": "P2", "text": "Hi."},
    ]
    path = write(tmp_path, "turns.jsonl", "\n".join(json.dumps(r) for r in rows[:2]) + "\n\n" + json.dumps(rows[2]) + "\n")
    transcripts = read_transcripts(path).transcripts
    assert [t.name for t in transcripts] == ["A", "B"]
    assert turns_of(transcripts[0]) == [("Interviewer", "How?"), ("P1", "Fine.")]
    assert times_of(transcripts[0]) == [(1.0, 2.5), (3.0, None)]
    assert transcripts[0].metadata == {"encoding": "utf-8", "format": "jsonl"}


def test_jsonl_with_custom_columns_and_numeric_values(tmp_path):
    path = write(tmp_path, "n.ndjson", '{"id": 0, "who": "P1", "said": 42}\n{"id": 0, "who": "Interviewer", "said": "Why?"}\n')
    columns = ColumnMap(speaker="who", text="said", transcript="id")
    [transcript] = read_transcripts(path, columns=columns).transcripts
    assert transcript.name == "0"
    assert turns_of(transcript) == [("P1", "42"), ("Interviewer", "Why?")]


def test_a_colon_inside_a_zoom_cue_does_not_make_a_speaker(tmp_path):
    path = tmp_path / "zoom.vtt"
    path.write_text(
        "WEBVTT\n\n1\n00:00:01.000 --> 00:00:02.000\nAnna: How was it?\n\n"
        "2\n00:00:02.000 --> 00:00:04.000\nBo: It was fine.\n\n"
        "3\n00:00:04.000 --> 00:00:06.000\nand then I said: yes, please\n\n"
        "4\n00:00:06.000 --> 00:00:07.000\nAnna: Why?\n\n"
        "5\n00:00:07.000 --> 00:00:08.000\nBo: Because.\n",
        encoding="utf-8",
    )
    from qcassist.ingest import read_transcripts

    transcript = read_transcripts(path).transcripts[0]
    assert [t.speaker for t in transcript.turns] == ["Anna", "Bo", "Anna", "Bo"]
    assert transcript.turn_text(transcript.turns[1]) == "It was fine. and then I said: yes, please"


def test_note_speakers_stay_other_when_interviewers_are_named():
    from qcassist.ingest.roles import assign_roles

    roles = assign_roles([("Kari", "Hva?"), ("P1", "Ja."), ("Note", "laughs"), ("Note", "pause")], ["kari"])
    assert roles == {"Kari": "interviewer", "P1": "participant", "Note": "other"}
