"""Hostile and broken input files: one `Error:` line naming the file, exit code 2, the project unchanged, quickly.

Every file is made here (no binaries committed). Bombs are small compressed and large expanded.
"""

from __future__ import annotations

import io
import json
import os
import threading
import time
import zipfile

import docx
import pytest

from qcassist.cli import main
from tests.conftest import dump_database

MAX_SECONDS = 20  # generous: the failures these guard against run for minutes or forever


def assert_refused(runner, project, path, *, expect: str = "") -> str:
    """Import ``path``: exit 2, one line 'Error: <path>...', the database as it was, in bounded time."""
    before = dump_database(project)
    started = time.monotonic()
    result = runner.invoke(main, ["import", "-p", str(project), str(path)])
    elapsed = time.monotonic() - started
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.output.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {path}"), result.output
    assert expect in lines[0]
    assert dump_database(project) == before
    assert elapsed < MAX_SECONDS
    return lines[0]


@pytest.fixture
def imported(runner, project, six_turns_file):
    """A project that already holds a transcript, so 'unchanged' means something."""
    assert runner.invoke(main, ["import", "-p", str(project), str(six_turns_file)]).exit_code == 0
    return project


# --- what kind of file it is ------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_named_txt_is_refused_without_waiting_for_a_writer(runner, imported, tmp_path):
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)

    def unblock():  # were the reader to wait for a writer, this ends the wait (and the test fails on time)
        time.sleep(MAX_SECONDS)
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            os.close(fd)
        except OSError:
            pass

    threading.Thread(target=unblock, daemon=True).start()
    assert_refused(runner, imported, fifo, expect="not a regular file")


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero on this system")
@pytest.mark.parametrize("suffix", [".txt", ".csv", ".docx", ".vtt"])
def test_a_link_to_dev_zero_is_refused_not_read_forever(runner, imported, tmp_path, suffix):
    link = tmp_path / f"zero{suffix}"
    link.symlink_to("/dev/zero")
    assert_refused(runner, imported, link, expect="not a regular file")


def test_a_file_over_the_size_limit_is_refused_naming_the_limit(runner, imported, tmp_path, monkeypatch):
    monkeypatch.setenv("QCASSIST_MAX_INPUT_MB", "0.001")  # about 1 KB
    big = tmp_path / "big.txt"
    big.write_text("Interviewer: How?\nP1: " + "words " * 400 + "\n", encoding="utf-8")
    line = assert_refused(runner, imported, big, expect="limit")
    assert "QCASSIST_MAX_INPUT_MB" in line


# --- times and tables -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "expect"),
    [
        ("nan.csv", "speaker,text,start\nP1,Fine.,nan\n", "line 2, field 'start'"),
        ("inf.csv", "speaker,text,start\nP1,Fine.,Infinity\n", "line 2, field 'start'"),
        ("huge.csv", "speaker,text,start\nP1,Fine.,1e999\n", "line 2, field 'start'"),
        ("negative.csv", "speaker,text,start\nP1,Fine.,-3\n", "line 2, field 'start'"),
        ("reversed.csv", "speaker,text,start,end\nP1,Fine.,10,00:00:04\n", "line 2, field 'end'"),
        ("nan.jsonl", '{"speaker": "P1", "text": "Fine.", "start": NaN}\n', "line 1"),
        ("inf.jsonl", '{"speaker": "P1", "text": "Fine.", "end": -Infinity}\n', "line 1"),
        ("reversed.jsonl", '{"speaker": "P1", "text": "Fine.", "start": 5, "end": 2}\n', "line 1, field 'end'"),
        ("unterminated.csv", 'speaker,text\nP1,Fine.\nP1,"It was\nP2,Ok.\n', "line 3"),
        ("bad_quote.csv", 'speaker,text\nP1,"Fine" he said\n', "line 2"),
        ("duplicate.csv", "speaker,text,text\nP1,Fine.,Ok.\n", "field 'text'"),
        ("surrogate.jsonl", '{"speaker": "P1", "text": "\\ud800 lone"}\n', "line 1"),
        ("digits.jsonl", '{"speaker": "P1", "text": "Fine.", "start": ' + "9" * 5000 + "}\n", "line 1"),
        ("deep.jsonl", '{"speaker": "P1", "text": "Fine.", "x": ' + "[" * 100_000 + "]" * 100_000 + "}\n", "line 1"),
        ("list.jsonl", '["P1", "Fine."]\n', "line 1"),
        ("object_text.jsonl", '{"speaker": "P1", "text": {"a": 1}}\n', "line 1, field 'text'"),
    ],
)
def test_malformed_times_and_tables_are_one_line_naming_file_and_line(runner, imported, tmp_path, name, content, expect):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    assert_refused(runner, imported, path, expect=expect)


# --- .docx --------------------------------------------------------------------------------------


def _docx_bytes() -> bytes:
    document = docx.Document()
    document.add_paragraph("Interviewer: How?")
    document.add_paragraph("P1: Fine.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _with_member(data: bytes, name: str, content: bytes, *, declared: int | None = None) -> bytes:
    """The zip ``data`` with member ``name`` replaced; ``declared`` overrides the size its directory states."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, content if info.filename == name else source.read(info.filename))
        if declared is not None:
            next(i for i in target.infolist() if i.filename == name).file_size = declared
    return out.getvalue()


def test_a_docx_with_malformed_xml_is_one_line(runner, imported, tmp_path):
    path = tmp_path / "broken.docx"
    path.write_bytes(_with_member(_docx_bytes(), "word/document.xml", b"<w:document><w:body><w:p>unclosed"))
    assert_refused(runner, imported, path, expect="malformed")


def test_a_docx_bomb_is_refused_by_its_compression_ratio_before_expanding(runner, imported, tmp_path):
    # 20 MB of XML that deflates to about 20 KB
    bomb = b'<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
    bomb += b"<w:p/>" * (20 * 1024 * 1024 // 6)
    path = tmp_path / "bomb.docx"
    path.write_bytes(_with_member(_docx_bytes(), "word/document.xml", bomb))
    assert path.stat().st_size < 200_000
    assert_refused(runner, imported, path, expect="zip bomb")


def test_a_docx_member_declaring_a_huge_size_is_refused_before_reading(runner, imported, tmp_path):
    path = tmp_path / "declared.docx"
    data = _docx_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        xml = source.read("word/document.xml")
    path.write_bytes(_with_member(data, "word/document.xml", xml, declared=3 * 1024**3))
    assert_refused(runner, imported, path, expect="zip bomb")


def test_a_docx_with_too_many_parts_is_refused(runner, imported, tmp_path, monkeypatch):
    monkeypatch.setattr("qcassist.ingest.docx.MAX_DOCX_MEMBERS", 20)
    data = _docx_bytes()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            target.writestr(info.filename, source.read(info.filename))
        for i in range(30):
            target.writestr(f"extra/part{i}.xml", b"<a/>")
    path = tmp_path / "parts.docx"
    path.write_bytes(out.getvalue())
    assert_refused(runner, imported, path, expect="parts")


def test_hostile_jsonl_rows_never_reach_a_traceback_through_the_library(tmp_path):
    # the same files through the library: InputError, never RecursionError/ValueError/UnicodeError
    from qcassist.errors import InputError
    from qcassist.ingest import read_transcripts

    for i, row in enumerate(['{"speaker": "P1", "text": "\\udfff"}', "[" * 50_000, json.dumps([1, 2])]):
        path = tmp_path / f"r{i}.jsonl"
        path.write_text(row + "\n", encoding="utf-8")
        with pytest.raises(InputError):
            read_transcripts(path)
