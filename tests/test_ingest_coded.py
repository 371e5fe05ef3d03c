"""Tables of units that are already coded: one row a unit, context rows kept as turns."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path

import pytest

from qcassist.errors import InputError
from qcassist.ingest.coded import CodedColumns, CodedImport, read_coded_units
from qcassist.ingest.decode import normalize_newlines
from tests.conftest import expect_input_error, write

_RELATIVE = Path("shared") / "datasets" / "annomi" / "AnnoMI-simple.dev.csv"
# beside the checkout (../shared), or the workplace's shared folder when CI clones elsewhere
ANNOMI = next((p for p in (Path(__file__).resolve().parents[2] / _RELATIVE, Path("/work") / _RELATIVE) if p.exists()),
              Path(__file__).resolve().parents[2] / _RELATIVE)

SESSIONS = """session,turn,who,utterance,behaviour
s1,0,therapist,How are you today?,question
s1,1,client,Not great.,
s1,2,therapist,  It sounds like a hard week.  ,reflection
s2,0,therapist,Shall we start?,
s2,1,client,Sure.,
"""
SESSION_COLUMNS = CodedColumns(text="utterance", codes="behaviour", transcript="session", order="turn", speaker="who")




def read_error(path, **kwargs) -> InputError:
    return expect_input_error(read_coded_units, path, **kwargs)


def unit_texts(result: CodedImport) -> list[str]:
    by_name = {t.name: t for t in result.transcripts}
    return [by_name[r.transcript].turn_text(by_name[r.transcript].turns[r.turn_index]) for r in result.rows]


def test_rows_matching_where_are_units_and_the_rest_context_turns(tmp_path):
    result = read_coded_units(
        write(tmp_path, "mi.csv", SESSIONS), columns=SESSION_COLUMNS, where=[("who", "therapist")]
    )
    assert [t.name for t in result.transcripts] == ["s1", "s2"]
    s1 = result.transcripts[0]
    assert s1.text == "therapist: How are you today?\n\nclient: Not great.\n\ntherapist: It sounds like a hard week.\n"
    assert [(t.speaker, t.role) for t in s1.turns] == [
        ("therapist", "participant"), ("client", "other"), ("therapist", "participant"),
    ]
    assert [(r.transcript, r.turn_index, r.codes, r.line) for r in result.rows] == [
        ("s1", 0, ("question",), 2), ("s1", 2, ("reflection",), 4), ("s2", 0, (), 5),
    ]
    assert unit_texts(result) == ["How are you today?", "It sounds like a hard week.", "Shall we start?"]
    assert result.context_rows == 2


def test_without_where_every_row_is_a_unit(tmp_path):
    result = read_coded_units(write(tmp_path, "mi.csv", SESSIONS), columns=SESSION_COLUMNS)
    assert len(result.rows) == 5
    assert result.context_rows == 0
    assert all(t.role == "participant" for tr in result.transcripts for t in tr.turns)


def test_turn_offsets_slice_the_transcript_text(tmp_path):
    result = read_coded_units(write(tmp_path, "mi.csv", SESSIONS), columns=SESSION_COLUMNS)
    for transcript in result.transcripts:
        for turn in transcript.turns:
            assert transcript.text[turn.start : turn.end] == transcript.turn_text(turn).strip()
        assert transcript.content_hash


def test_rows_are_ordered_numerically_by_the_order_column(tmp_path):
    text = "transcript,n,speaker,text,code\nt,10,A,ten,x\nt,9,A,nine,y\nt,-1.5,B,first,\n"
    result = read_coded_units(write(tmp_path, "t.csv", text), columns=CodedColumns(order="n"))
    assert unit_texts(result) == ["first", "nine", "ten"]
    assert [r.line for r in result.rows] == [4, 3, 2]


def test_without_an_order_column_rows_keep_file_order(tmp_path):
    text = "transcript,speaker,text,code\nt,A,one,x\nu,A,other,x\nt,B,two,y\n"
    result = read_coded_units(write(tmp_path, "t.csv", text))
    assert [(r.transcript, r.turn_index) for r in result.rows] == [("t", 0), ("t", 1), ("u", 0)]
    assert unit_texts(result) == ["one", "two", "other"]


def test_without_transcript_or_speaker_columns_the_file_is_one_transcript(tmp_path):
    result = read_coded_units(write(tmp_path, "interview_3.csv", "text,code\nI trust her.,trust\nMoney is short.,money\n"))
    assert [t.name for t in result.transcripts] == ["interview_3"]
    assert result.transcripts[0].text == "Speaker: I trust her.\n\nSpeaker: Money is short.\n"


def test_column_names_match_whatever_their_case(tmp_path):
    result = read_coded_units(write(tmp_path, "t.csv", "Transcript,Speaker,TEXT,Code\nt,A,hi,x\n"))
    assert result.rows[0].codes == ("x",)
    assert result.transcripts[0].turns[0].speaker == "A"


def test_code_separator_splits_strips_dedupes_and_keeps_order(tmp_path):
    path = write(tmp_path, "t.csv", 'text,code\nhi,"trust; hope;;trust ; "\nbye,\n')
    assert [r.codes for r in read_coded_units(path, code_separator=";").rows] == [("trust", "hope"), ()]
    assert read_coded_units(path).rows[0].codes == ("trust; hope;;trust ;",)


def test_jsonl_rows_may_hold_a_list_of_codes(tmp_path):
    lines = [
        {"transcript": "t", "speaker": "A", "text": "hi", "code": ["trust", "hope", "trust"], "id": 7},
        {"transcript": "t", "speaker": "B", "text": "yes", "code": None, "id": 8},
    ]
    path = write(tmp_path, "t.jsonl", "\n".join(json.dumps(line) for line in lines) + "\n")
    result = read_coded_units(path, columns=CodedColumns(external_id="id"))
    assert [(r.codes, r.external_id, r.line) for r in result.rows] == [(("trust", "hope"), "7", 1), ((), "8", 2)]
    assert result.transcripts[0].metadata["format"] == "jsonl"


def test_tsv_is_read(tmp_path):
    result = read_coded_units(write(tmp_path, "t.tsv", "text\tcode\nhi, there\tx\n"))
    assert unit_texts(result) == ["hi, there"]


def test_empty_context_rows_are_dropped_and_turn_indexes_still_point_at_units(tmp_path):
    text = "speaker,text,code\nclient,,\ntherapist,Hello.,question\nclient,  ,\ntherapist,Go on.,other\n"
    result = read_coded_units(write(tmp_path, "t.csv", text), where=[("speaker", "therapist")])
    assert unit_texts(result) == ["Hello.", "Go on."]
    assert [r.turn_index for r in result.rows] == [0, 1]


# --- mistakes ----------------------------------------------------------------------------


def test_missing_text_column_names_the_field_and_lists_the_columns(tmp_path):
    path = write(tmp_path, "mi.csv", SESSIONS)
    error = read_error(path, columns=CodedColumns(text="utterance_txt", codes="behaviour"))
    assert error.field == "utterance_txt"
    assert "(columns: session, turn, who, utterance, behaviour)" in str(error)


def test_missing_code_column_suggests_a_close_one(tmp_path):
    error = read_error(write(tmp_path, "mi.csv", SESSIONS), columns=CodedColumns(text="utterance", codes="behavior"))
    assert error.field == "behavior"
    assert "Did you mean 'behaviour'?" in str(error)


def test_where_on_a_missing_column_is_an_error_naming_it(tmp_path):
    error = read_error(write(tmp_path, "mi.csv", SESSIONS), columns=SESSION_COLUMNS, where=[("interlocutor", "therapist")])
    assert error.field == "interlocutor"


def test_a_named_transcript_column_must_exist(tmp_path):
    error = read_error(write(tmp_path, "t.csv", "text,code\nhi,x\n"), columns=CodedColumns(transcript="session"))
    assert error.field == "session"


def test_non_numeric_order_names_line_and_field(tmp_path):
    text = "transcript,n,text,code\nt,1,a,x\nt,two,b,x\n"
    error = read_error(write(tmp_path, "t.csv", text), columns=CodedColumns(order="n"))
    assert (error.line, error.field) == (3, "n")
    assert "'two' is not a number" in str(error)


def test_empty_order_is_not_a_number(tmp_path):
    error = read_error(write(tmp_path, "t.csv", "n,text,code\n,a,x\n"), columns=CodedColumns(order="n"))
    assert error.line == 2


def test_duplicate_order_in_a_transcript_names_both_lines(tmp_path):
    text = "transcript,n,text,code\nt,1,a,x\nu,1,b,x\nt,1.0,c,x\n"
    error = read_error(write(tmp_path, "t.csv", text), columns=CodedColumns(order="n"))
    assert error.line == 4
    assert "also on line 2" in str(error)


def test_transcript_without_matching_rows_is_an_error_showing_what_is_there(tmp_path):
    text = "transcript,speaker,text,code\nt,therapist,a,x\nu,client,b,\n"
    error = read_error(write(tmp_path, "t.csv", text), where=[("speaker", "therapist")])
    assert "transcript 'u' has no rows that match --where speaker='therapist'" in str(error)
    assert "speaker has 'client'" in str(error)


def test_where_values_are_case_sensitive(tmp_path):
    text = "speaker,text,code\nTherapist,a,x\n"
    assert "no rows that match" in str(read_error(write(tmp_path, "t.csv", text), where=[("speaker", "therapist")]))


def test_unit_row_without_text_is_an_error(tmp_path):
    error = read_error(write(tmp_path, "t.csv", "text,code\nhi,x\n ,y\n"))
    assert (error.line, error.field) == (3, "text")


def test_duplicate_unit_id_in_a_transcript_is_an_error(tmp_path):
    text = "id,text,code\na1,hi,x\na1,bye,y\n"
    error = read_error(write(tmp_path, "t.csv", text), columns=CodedColumns(external_id="id"))
    assert error.line == 3


def test_header_without_rows_is_an_error(tmp_path):
    assert "no rows" in str(read_error(write(tmp_path, "t.csv", "text,code\n")))


# --- a real coded corpus -----------------------------------------------------------------


@pytest.mark.skipif(not ANNOMI.exists(), reason=f"the AnnoMI file is not at {ANNOMI} (it lives in the shared datasets folder)")
def test_annomi_therapist_behaviour_imports_as_units_with_client_context():
    result = read_coded_units(
        ANNOMI,
        columns=CodedColumns(
            text="utterance_text", codes="main_therapist_behaviour", transcript="transcript_id",
            order="utterance_id", speaker="interlocutor",
        ),
        where=[("interlocutor", "therapist")],
    )
    with ANNOMI.open(encoding="utf-8", newline="") as stream:
        source = list(csv.DictReader(io.StringIO(normalize_newlines(stream.read()))))
    therapist = [r for r in source if r["interlocutor"] == "therapist"]

    assert len(result.transcripts) == 99 == len({r["transcript_id"] for r in source})
    assert len(result.rows) == len(therapist) == 3701
    assert result.context_rows == len(source) - len(therapist) == 3644
    assert Counter(c for r in result.rows for c in r.codes) == Counter(
        {"other": 1236, "reflection": 1007, "question": 972, "therapist_input": 486}
    )
    assert all(len(r.codes) == 1 for r in result.rows)
    # file order is utterance order in AnnoMI, so the units line up with the therapist rows
    assert unit_texts(result) == [r["utterance_text"].strip() for r in therapist]
    assert [r.codes[0] for r in result.rows] == [r["main_therapist_behaviour"] for r in therapist]
