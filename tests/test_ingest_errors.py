"""Every kind of bad input raises InputError with one line naming the file (and line/field)."""

from __future__ import annotations

import codecs

import docx
import pytest

from qcassist.errors import InputError, QcaError
from qcassist.ingest import ColumnMap, read_transcripts


def read_error(path, **kwargs) -> InputError:
    with pytest.raises(InputError) as info:
        read_transcripts(path, **kwargs)
    error = info.value
    message = str(error)
    assert isinstance(error, QcaError)
    assert "\n" not in message and "\r" not in message
    assert message.startswith(str(path))
    assert error.path == str(path)
    return error


def write(tmp_path, name: str, data: str | bytes):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


# --- the file itself --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a.txt", "a.md", "a.vtt", "a.srt", "a.csv", "a.tsv", "a.jsonl", "a.docx"])
def test_empty_file_of_any_format_is_an_input_error(tmp_path, name):
    error = read_error(write(tmp_path, name, b""))
    assert "empty" in str(error)


@pytest.mark.parametrize("name", ["a.txt", "a.vtt", "a.srt", "a.csv", "a.jsonl", "a.docx"])
def test_binary_file_of_any_format_is_an_input_error(tmp_path, name):
    error = read_error(write(tmp_path, name, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4))
    assert "binary" in str(error) or "not a readable .docx" in str(error)


@pytest.mark.parametrize("name", ["notes.pdf", "notes.doc", "notes", "notes.txt.bak"])
def test_unknown_extension_is_an_input_error_listing_what_is_read(tmp_path, name):
    error = read_error(write(tmp_path, name, "Interviewer: How?\nP1: Fine.\n"))
    assert "unknown file type" in str(error)
    assert ".txt" in str(error) and ".docx" in str(error)


def test_missing_file_is_an_input_error(tmp_path):
    error = read_error(tmp_path / "gone.txt")
    assert "does not exist" in str(error)


def test_directory_is_an_input_error(tmp_path):
    folder = tmp_path / "interviews.txt"
    folder.mkdir()
    assert "directory" in str(read_error(folder))


def test_undecodable_bytes_are_an_input_error_naming_the_line(tmp_path):
    error = read_error(write(tmp_path, "bad.txt", b"Interviewer: How?\nP1: \x81\n"))
    assert error.line == 2
    assert str(error).startswith(f"{tmp_path / 'bad.txt'}, line 2:")


def test_undecodable_bytes_in_a_table_are_an_input_error_naming_the_line(tmp_path):
    error = read_error(write(tmp_path, "bad.csv", b"speaker,text\nP1,ok\nP1,\x9d\n"))
    assert error.line == 3


def test_undecodable_bytes_after_a_bom_are_an_input_error_naming_the_line(tmp_path):
    error = read_error(write(tmp_path, "bad.srt", codecs.BOM_UTF8 + b"1\n00:00:01,000 --> 00:00:02,000\nP1: \xc3\n"))
    assert error.line == 3


# --- tables ------------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["speaker", "text"])
def test_csv_missing_a_default_column_names_the_field(tmp_path, missing):
    header = ",".join(c for c in ("transcript", "speaker", "text") if c != missing)
    error = read_error(write(tmp_path, "turns.csv", f"{header}\nA,x\n"))
    assert error.field == missing
    assert f"field {missing!r}" in str(error)
    assert "--speaker-column" in str(error)


def test_csv_missing_a_mapped_column_names_the_mapped_field(tmp_path):
    path = write(tmp_path, "turns.csv", "who,text\nP1,Fine.\n")
    error = read_error(path, columns=ColumnMap(speaker="person"))
    assert error.field == "person"
    assert "who, text" in str(error)


def test_jsonl_missing_a_mapped_column_names_the_field(tmp_path):
    error = read_error(write(tmp_path, "turns.jsonl", '{"speaker": "P1", "words": "Fine."}\n'))
    assert error.field == "text"


def test_csv_with_a_header_but_no_rows_is_an_input_error(tmp_path):
    assert "no rows" in str(read_error(write(tmp_path, "turns.csv", "speaker,text\n")))


def test_csv_row_with_more_fields_than_the_header_names_the_line(tmp_path):
    error = read_error(write(tmp_path, "turns.csv", "speaker,text\nInterviewer,How?\nP1,Fine,really,yes\n"))
    assert error.line == 3


def test_csv_row_with_an_empty_transcript_name_names_line_and_field(tmp_path):
    error = read_error(write(tmp_path, "turns.csv", "transcript,speaker,text\nA,Interviewer,How?\n,P1,Fine.\n"))
    assert (error.line, error.field) == (3, "transcript")
    assert str(error).startswith(f"{tmp_path / 'turns.csv'}, line 3, field 'transcript':")


def test_csv_time_that_is_not_a_time_names_line_and_field(tmp_path):
    error = read_error(write(tmp_path, "turns.csv", "speaker,text,start\nInterviewer,How?,0\nP1,Fine.,soon\n"))
    assert (error.line, error.field) == (3, "start")
    assert "'soon'" in str(error)


def test_jsonl_line_that_is_not_json_names_the_line(tmp_path):
    error = read_error(write(tmp_path, "turns.jsonl", '{"speaker": "P1", "text": "Fine."}\n\n{"speaker": "P1", "text": \n'))
    assert error.line == 3
    assert "not valid JSON" in str(error)


def test_jsonl_line_that_is_not_an_object_names_the_line(tmp_path):
    error = read_error(write(tmp_path, "turns.jsonl", '{"speaker": "P1", "text": "Fine."}\n["P1", "Fine."]\n'))
    assert error.line == 2


def test_table_whose_rows_have_no_text_has_no_speech(tmp_path):
    assert "no speech" in str(read_error(write(tmp_path, "turns.csv", "speaker,text\nP1,\nP2,  \n")))


# --- subtitles ---------------------------------------------------------------------------


def test_subtitle_file_without_cues_is_an_input_error(tmp_path):
    assert "no subtitle cues" in str(read_error(write(tmp_path, "a.vtt", "WEBVTT\n\nNOTE nothing here\n")))


def test_subtitle_block_without_a_timing_line_names_the_line(tmp_path):
    text = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v Anna>Hi.\n\njust some words\nand more\n"
    error = read_error(write(tmp_path, "a.vtt", text))
    assert error.line == 6
    assert "timing" in str(error)


def test_subtitle_cue_ending_before_it_starts_names_the_line(tmp_path):
    text = "1\n00:00:01,000 --> 00:00:02,000\nP1: Hi.\n\n2\n00:00:05,000 --> 00:00:04,000\nP1: Bye.\n"
    error = read_error(write(tmp_path, "a.srt", text))
    assert error.line == 6


# --- docx ---------------------------------------------------------------------------------


def test_docx_that_is_not_a_zip_is_an_input_error(tmp_path):
    error = read_error(write(tmp_path, "a.docx", "Interviewer: How?\nP1: Fine.\n"))
    assert "not a readable .docx" in str(error)


def test_docx_zip_without_a_document_is_an_input_error(tmp_path):
    import zipfile

    path = tmp_path / "a.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "hi")
    assert "not a readable .docx" in str(read_error(path))


def test_docx_without_text_is_an_input_error(tmp_path):
    document = docx.Document()
    document.add_paragraph("   ")
    document.save(tmp_path / "blank.docx")
    assert "empty" in str(read_error(tmp_path / "blank.docx"))


# --- no participant ------------------------------------------------------------------------


def test_text_with_only_interviewer_turns_has_no_participant(tmp_path):
    error = read_error(write(tmp_path, "a.txt", "Interviewer: How?\nInterviewer: Hello?\n"))
    assert "no participant turns" in str(error)
    assert "--interviewer" in str(error)


def test_naming_every_speaker_as_interviewer_leaves_no_participant(tmp_path):
    error = read_error(write(tmp_path, "a.txt", "Kari: How?\nAnna: Fine.\nKari: Ok.\nAnna: Yes.\n"), interviewers=("Kari", "Anna"))
    assert "no participant turns" in str(error)


def test_subtitles_with_only_an_interviewer_have_no_participant(tmp_path):
    text = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v Interviewer>Hello?\n"
    assert "no participant turns" in str(read_error(write(tmp_path, "a.vtt", text)))


def test_one_transcript_without_participants_in_a_table_fails_the_file(tmp_path):
    path = write(tmp_path, "all.csv", "transcript,speaker,text\nA,Interviewer,How?\nA,P1,Fine.\nB,Interviewer,Hello?\n")
    error = read_error(path)
    assert "'B'" in str(error) and "no participant turns" in str(error)


def test_labels_with_nothing_said_are_no_speech(tmp_path):
    assert "no speech" in str(read_error(write(tmp_path, "a.txt", "Interviewer:\nP1:\nInterviewer:\nP1:\n")))
