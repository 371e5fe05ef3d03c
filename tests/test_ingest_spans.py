"""Codings given as character spans: one row a coded span."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qcassist.errors import InputError
from qcassist.ingest.spans import SpanCoding, read_span_codings


def write(tmp_path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def read_error(path) -> InputError:
    with pytest.raises(InputError) as info:
        read_span_codings(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    return info.value


def test_csv_spans_are_read_with_their_coder_and_line(tmp_path):
    text = "transcript,start,end,code,coder\nint1,0,12,trust,anna\nint1, 40 ,55,money,\n"
    assert read_span_codings(write(tmp_path, "spans.csv", text)) == [
        SpanCoding("int1", 0, 12, "trust", "anna", 2),
        SpanCoding("int1", 40, 55, "money", None, 3),
    ]


def test_column_names_match_whatever_their_case_and_coder_is_optional(tmp_path):
    text = "Code;END;Start;Transcript\ntrust;12;0;int1\n"
    assert read_span_codings(write(tmp_path, "spans.csv", text)) == [SpanCoding("int1", 0, 12, "trust", None, 2)]


def test_jsonl_spans_are_read(tmp_path):
    lines = [{"transcript": "int1", "start": 3, "end": 9.0, "code": "hope", "coder": "ole"}]
    path = write(tmp_path, "spans.jsonl", "\n".join(json.dumps(line) for line in lines) + "\n")
    assert read_span_codings(path) == [SpanCoding("int1", 3, 9, "hope", "ole", 1)]


def test_missing_column_names_it_and_lists_the_columns(tmp_path):
    error = read_error(write(tmp_path, "spans.csv", "transcript,begin,end,code\nint1,0,4,x\n"))
    assert error.field == "start"
    assert "(columns: transcript, begin, end, code)" in str(error)


@pytest.mark.parametrize("value", ["four", "", "2.5", "1e3"])
def test_non_integer_offset_names_line_and_field(tmp_path, value):
    error = read_error(write(tmp_path, "spans.csv", f"transcript,start,end,code\nint1,0,4,x\nint1,{value},9,x\n"))
    assert (error.line, error.field) == (3, "start")
    assert "whole number" in str(error)


def test_boolean_offset_in_jsonl_is_not_a_number(tmp_path):
    path = write(tmp_path, "spans.jsonl", json.dumps({"transcript": "t", "start": True, "end": 4, "code": "x"}) + "\n")
    assert read_error(path).field == "start"


def test_negative_offset_is_an_error(tmp_path):
    error = read_error(write(tmp_path, "spans.csv", "transcript,start,end,code\nint1,-3,4,x\n"))
    assert (error.line, error.field) == (2, "start")
    assert "negative" in str(error)


@pytest.mark.parametrize("start,end", [(4, 4), (9, 4)])
def test_start_not_before_end_is_an_error(tmp_path, start, end):
    error = read_error(write(tmp_path, "spans.csv", f"transcript,start,end,code\nint1,{start},{end},x\n"))
    assert error.line == 2
    assert "is not before end" in str(error)


@pytest.mark.parametrize("row,field", [(",0,4,x", "transcript"), ("int1,0,4, ", "code")])
def test_empty_transcript_or_code_is_an_error(tmp_path, row, field):
    error = read_error(write(tmp_path, "spans.csv", f"transcript,start,end,code\n{row}\n"))
    assert (error.line, error.field) == (2, field)


def test_header_without_rows_is_an_error(tmp_path):
    assert "no rows" in str(read_error(write(tmp_path, "spans.csv", "transcript,start,end,code\n")))
