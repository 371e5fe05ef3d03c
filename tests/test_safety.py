"""Hostile and unlucky invocations: outputs that must not destroy anything, formulas in CSV, busy, read-only,
corrupt and full projects, interrupted commands. Each failure is one `Error:` line, exit code 2, the project unchanged."""

from __future__ import annotations

import csv
import errno
import hashlib
import io
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from qcassist.cli import main
from qcassist.embed import CachedEncoder, TfidfEncoder
from qcassist.errors import QcaError
from qcassist.project import import_files, segment_project
from qcassist.safe_output import neutralise_cell, write_output
from qcassist.seed import import_codebook
from qcassist.segment import SegmentOptions
from qcassist.store import Store

from .conftest import HashEncoder, dump_database

EVIL_TRANSCRIPT = """Interviewer: What did you type?
P1: =cmd|' /C calc'!A0
Interviewer: And then?
P1: @SUM(1+1) and -2+3 and also =HYPERLINK("http://x","y")
"""
EVIL_CODE = '=HYPERLINK("http://evil","click")'
DB_FILES = ("qcassist.db", "qcassist.db-wal", "qcassist.db-shm")


@pytest.fixture
def evil_project(tmp_path):
    """A project whose units and codes start with spreadsheet formulas."""
    directory = tmp_path / "project"
    source = tmp_path / "evil.txt"
    source.write_text(EVIL_TRANSCRIPT, encoding="utf-8")
    codebook = tmp_path / "codebook.csv"
    codebook.write_text(f'code,parent,description\n"{EVIL_CODE.replace(chr(34), chr(34) * 2)}",,-1 is a description\n',
                        encoding="utf-8")
    with Store.create(directory) as store:
        import_files(store, [source])
        segment_project(store, options=SegmentOptions(strategy="turn"))
        import_codebook(store, codebook)
    return directory


def _files(directory: Path) -> dict[str, str]:
    """sha256 of every file in the project (the database, its WAL, models, cache)."""
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def _one_error_line(result, code: int = 2) -> str:
    assert result.exit_code == code, result.output
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1, result.output
    return result.output


def _run(runner, *args):
    return runner.invoke(main, [str(a) for a in args])


# --- outputs: never over the project's files ---------------------------------------


@pytest.mark.parametrize("command", [
    ["export", "units", "--format", "csv"], ["export", "codings"], ["export", "decisions"],
    ["export", "suggestions"], ["export", "codebook", "--format", "yaml"], ["units", "--format", "csv"],
    ["decisions", "export"], ["report"],
])
@pytest.mark.parametrize("target", ["qcassist.db", "qcassist.db-wal", "qcassist.db-shm"])
def test_no_output_is_written_over_the_project_database(runner, evil_project, command, target):
    (evil_project / target).touch(exist_ok=True)
    before, files = dump_database(evil_project), _files(evil_project)
    result = _run(runner, *command, "-p", evil_project, "-o", evil_project / target, "--force")
    assert "refusing to write there" in _one_error_line(result)
    assert dump_database(evil_project) == before and _files(evil_project) == files


def test_links_to_the_database_are_refused_even_with_force(runner, evil_project, tmp_path):
    before = dump_database(evil_project)
    (tmp_path / "symlink.csv").symlink_to(evil_project / "qcassist.db")
    os.link(evil_project / "qcassist.db", tmp_path / "hardlink.csv")
    for name in ("symlink.csv", "hardlink.csv"):
        result = _run(runner, "export", "units", "-p", evil_project, "-o", tmp_path / name, "--force")
        assert "refusing to write there" in _one_error_line(result)
    assert dump_database(evil_project) == before


def test_project_folders_and_other_sqlite_files_are_refused(runner, evil_project, tmp_path):
    (evil_project / "classifiers" / "v1").mkdir(parents=True)
    (evil_project / ".qcassist-cache").mkdir()
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    for target, reason in [(evil_project / "classifiers" / "v1" / "x.csv", "classifiers/ folder"),
                           (evil_project / ".qcassist-cache" / "embeddings.sqlite", ".qcassist-cache/ folder"),
                           (other, "SQLite database")]:
        result = _run(runner, "export", "units", "-p", evil_project, "-o", target, "--force")
        assert reason in _one_error_line(result)


def test_an_existing_output_needs_force(runner, evil_project, tmp_path):
    out = tmp_path / "units.csv"
    out.write_text("mine\n", encoding="utf-8")
    result = _run(runner, "export", "units", "-p", evil_project, "-o", out)
    assert _one_error_line(result) == f"Error: {out} already exists; pass --force to replace it.\n"
    assert out.read_text(encoding="utf-8") == "mine\n"
    result = _run(runner, "export", "units", "-p", evil_project, "-o", out, "--force")
    assert result.exit_code == 0 and out.read_text(encoding="utf-8").startswith("unit_id,")


def test_the_default_report_is_replaced_without_force_but_another_needs_it(runner, evil_project, tmp_path):
    for _ in range(2):  # report.html in the project is qcassist's own
        assert _run(runner, "report", "-p", evil_project, "--bootstrap", "0").exit_code == 0
    out = tmp_path / "r.html"
    out.write_text("keep", encoding="utf-8")
    assert "--force" in _one_error_line(_run(runner, "report", "-p", evil_project, "-o", out, "--bootstrap", "0"))
    assert out.read_text(encoding="utf-8") == "keep"


def test_condense_refuses_before_set_changes_anything(runner, evil_project, tmp_path):
    out = tmp_path / "sheet.md"
    out.write_text("keep", encoding="utf-8")
    before = dump_database(evil_project)
    result = _run(runner, "condense", "-p", evil_project, "--set", EVIL_CODE, "--text", "x", "-o", out)
    assert "already exists" in _one_error_line(result)
    assert dump_database(evil_project) == before and out.read_text(encoding="utf-8") == "keep"


@pytest.mark.parametrize("command", [["export", "units"], ["export", "codebook", "--format", "json"],
                                     ["condense", "--docx"], ["report"]])
def test_an_output_in_a_missing_folder_is_one_line(runner, evil_project, tmp_path, command):
    option = [] if command[-1] == "--docx" else ["-o"]
    result = _run(runner, *command, *option, tmp_path / "missing" / "out.file", "-p", evil_project)
    assert "is not a directory" in _one_error_line(result)
    assert not (tmp_path / "missing").exists()


def test_a_full_disk_leaves_the_previous_output_whole(runner, evil_project, tmp_path, monkeypatch):
    out = tmp_path / "units.csv"
    out.write_text("the previous export\n", encoding="utf-8")

    def full(_fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    result = _run(runner, "export", "units", "-p", evil_project, "-o", out, "--force")
    assert "the disk is full" in _one_error_line(result)
    assert out.read_text(encoding="utf-8") == "the previous export\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".units")) == []  # no temp file left


def test_a_full_tmpfs_leaves_the_previous_output_whole(runner, evil_project, tmp_path):
    """The real thing where we may mount a tiny tmpfs (root on Linux); skipped elsewhere."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12k", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        out = mount / "units.csv"
        out.write_text("previous\n", encoding="utf-8")
        _fill(mount / "filler")
        result = _run(runner, "export", "units", "-p", evil_project, "-o", out, "--force")
        assert "the disk is full" in _one_error_line(result)
        assert out.read_text(encoding="utf-8") == "previous\n"
    finally:
        subprocess.run(["umount", str(mount)], check=False)


@pytest.fixture
def tiny_disk(tmp_path):
    """A 400 KB tmpfs (root on Linux); skipped where it cannot be mounted."""
    mount = tmp_path / "tiny-disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


@pytest.mark.parametrize("room_kb", [0, 120])
def test_an_import_on_a_full_disk_is_one_line_and_changes_nothing(runner, evil_project, tiny_disk, tmp_path, room_kb):
    """No room at all (SQLite cannot even map its -shm file) or too little for the new transcript's WAL pages."""
    project = tiny_disk / "project"
    shutil.copytree(evil_project, project)
    big = tmp_path / "big.txt"
    big.write_text("".join(f"Interviewer: q{i}?\nP1: answer {i} {'word ' * 40}\n" for i in range(2000)), encoding="utf-8")
    _fill(tiny_disk / "filler")
    if room_kb:
        with open(tiny_disk / "filler", "r+b") as filler:
            filler.truncate(max(0, os.path.getsize(tiny_disk / "filler") - room_kb * 1024))
    before = _files(project)
    result = _run(runner, "import", "-p", project, big)
    line = _one_error_line(result)
    assert "the disk is full" in line and "restore it from a backup" not in line
    assert _files(project)["qcassist.db"] == before["qcassist.db"]
    (tiny_disk / "filler").unlink()
    assert dump_database(project) == dump_database(evil_project)


def _fill(path: Path) -> None:
    with open(path, "wb", buffering=0) as filler:
        try:
            while True:
                filler.write(b"x" * 1024)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC


def test_write_output_is_atomic_for_library_callers(tmp_path):
    out = tmp_path / "x.txt"
    out.write_text("old", encoding="utf-8")

    def half_then_fail(stream):
        stream.write("new and half")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_output(out, half_then_fail, force=True)
    assert out.read_text(encoding="utf-8") == "old" and [p.name for p in tmp_path.iterdir()] == ["x.txt"]
    with pytest.raises(QcaError, match="already exists"):
        write_output(out, lambda s: s.write("new"))


# --- CSV formula injection ---------------------------------------------------------


@pytest.mark.parametrize("value, expected", [
    ("=1+1", "'=1+1"), ("+1+1", "'+1+1"), ("-1+1", "'-1+1"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"),
    ("\rx", "'\rx"), ("plain", "plain"), ("-3", "-3"), ("+0.5", "+0.5"), (-3, -3), (-0.5, -0.5), (None, None),
    ("a=b", "a=b"),
])
def test_neutralise_cell_follows_owasp_and_keeps_numbers(value, expected):
    assert neutralise_cell(value) == expected


@pytest.mark.parametrize("command", [["export", "units"], ["export", "codebook"], ["units", "--format", "csv"]])
def test_csv_exports_neutralise_formulas_unless_raw(runner, evil_project, command):
    result = _run(runner, *command, "-p", evil_project)
    assert result.exit_code == 0, result.output
    cells = [cell for row in csv.reader(io.StringIO(result.output)) for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r") or (c[:1] == "-" and not c[1:].isdigit())]
    assert any(c.startswith("'=") for c in cells)
    raw = _run(runner, *command, "-p", evil_project, "--raw")
    raw_cells = [cell for row in csv.reader(io.StringIO(raw.output)) for cell in row]
    assert any(c.startswith("=") for c in raw_cells)


def test_numbers_stay_numbers_in_csv(runner, evil_project):
    result = _run(runner, "export", "units", "-p", evil_project)
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert all(row["start"].isdigit() and row["unit_id"].isdigit() for row in rows)
    assert rows[0]["text"] == "'=cmd|' /C calc'!A0"


def test_jsonl_is_left_as_data(runner, evil_project):
    result = _run(runner, "export", "units", "-p", evil_project, "--format", "jsonl")
    assert '"=cmd|' in result.output


# --- one error path ----------------------------------------------------------------


def _flip_bytes(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for i in range(100, min(len(data), 4096), 7):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_byte_flipped_database_is_one_line(runner, evil_project):
    Store.open(evil_project).close()  # checkpoint: everything in qcassist.db
    for extra in ("qcassist.db-wal", "qcassist.db-shm"):
        (evil_project / extra).unlink(missing_ok=True)
    _flip_bytes(evil_project / "qcassist.db")
    files = _files(evil_project)
    started = time.monotonic()
    result = _run(runner, "units", "-p", evil_project)
    assert "not a readable qcassist database" in _one_error_line(result) and "qcassist.db" in result.output
    assert time.monotonic() - started < 10 and _files(evil_project) == files


def _immutable(path: Path) -> bool:
    return shutil.which("chattr") is not None and subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0


@pytest.fixture
def immutable_project(evil_project):
    """The database made immutable (root ignores chmod, not chattr +i); skipped where chattr is unavailable."""
    Store.open(evil_project).close()
    if not _immutable(evil_project / "qcassist.db"):
        pytest.skip("chattr +i is not available here")
    yield evil_project
    subprocess.run(["chattr", "-i", str(evil_project / "qcassist.db")], check=False)


def test_an_immutable_database_is_reported_as_read_only_not_corrupt(runner, immutable_project, tmp_path):
    before = dump_database(immutable_project)
    source = tmp_path / "more.txt"
    source.write_text("Interviewer: Hi?\nP2: Hello there.\n", encoding="utf-8")
    result = _run(runner, "import", "-p", immutable_project, source)
    line = _one_error_line(result)
    assert "read-only" in line and "restore it from a backup" not in line and "qcassist.db" in line
    assert dump_database(immutable_project) == before


def test_an_immutable_database_can_still_be_exported(runner, immutable_project):
    result = _run(runner, "export", "units", "-p", immutable_project)
    assert result.exit_code == 0 and result.output.startswith("unit_id,")


def test_a_read_only_connection_is_reported_as_read_only(runner, evil_project, monkeypatch, tmp_path):
    """Where chattr is missing: the sqlite file opened read-only through its URI."""
    real_connect = sqlite3.connect

    def read_only(path, *args, **kwargs):
        return real_connect(f"file:{path}?mode=ro", *args, uri=True, **kwargs)

    monkeypatch.setattr("qcassist.store.sqlite3.connect", read_only)
    before = dump_database(evil_project)
    result = _run(runner, "segment", "-p", evil_project, "--strategy", "turn", "--resegment")
    line = _one_error_line(result)
    assert "read-only" in line and "restore it from a backup" not in line
    assert dump_database(evil_project) == before


def test_a_busy_database_waits_with_a_message_then_proceeds(evil_project, capsys, monkeypatch):
    monkeypatch.setattr("qcassist.store.LOCK_WAIT_S", 60)  # a failure here must not hang the suite
    monkeypatch.setattr("qcassist.store.WAIT_NOTICE_S", 0.2)
    holder = sqlite3.connect(evil_project / "qcassist.db", isolation_level=None, check_same_thread=False)
    with Store.open(evil_project) as store:
        holder.execute("BEGIN IMMEDIATE")  # another command is writing
        timer = threading.Timer(2.0, lambda: holder.execute("COMMIT"))
        timer.start()
        try:
            with store.transaction():
                store.db.execute("UPDATE transcripts SET metadata = '{}'")
        finally:
            timer.join()
            holder.close()
    assert "waiting for another qcassist command to finish" in capsys.readouterr().err
    with Store.open(evil_project) as store:
        assert store.db.execute("SELECT metadata FROM transcripts").fetchone()[0] == "{}"


def test_a_database_busy_for_too_long_is_one_line(runner, evil_project, monkeypatch):
    monkeypatch.setattr("qcassist.store.LOCK_WAIT_S", 0.5)
    monkeypatch.setattr("qcassist.store.WAIT_NOTICE_S", 0.2)
    before = dump_database(evil_project)
    holder = sqlite3.connect(evil_project / "qcassist.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        result = _run(runner, "segment", "-p", evil_project, "--strategy", "turn", "--resegment")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.exit_code == 2
    lines = result.output.splitlines()  # CliRunner mixes stderr in: the notice, then the error
    assert lines[-1].startswith("Error: ") and "is busy" in lines[-1] and "database is locked" not in result.output
    assert dump_database(evil_project) == before


def test_a_full_disk_in_a_write_is_one_accurate_line(runner, evil_project, monkeypatch):
    before = dump_database(evil_project)
    real = Store.transaction

    def full(self):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(Store, "_begin", full)
    result = _run(runner, "segment", "-p", evil_project, "--strategy", "turn", "--resegment")
    line = _one_error_line(result)
    assert "the disk is full" in line and "restore it from a backup" not in line
    assert real is Store.transaction and dump_database(evil_project) == before


def test_a_bug_is_one_line_and_exit_1_unless_debug(runner, evil_project, monkeypatch):
    def bug(*_args, **_kwargs):
        raise AttributeError("'NoneType' object has no attribute 'x'")

    monkeypatch.setattr("qcassist.cli.corpus.iter_unit_rows", bug)  # what 'units' calls
    result = _run(runner, "units", "-p", evil_project)
    assert "internal error" in _one_error_line(result, code=1) and "--debug" in result.output
    debug = _run(runner, "--debug", "units", "-p", evil_project)
    assert isinstance(debug.exception, AttributeError)


def test_ctrl_c_is_one_line_and_exit_130(runner, evil_project, monkeypatch):
    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("qcassist.cli.corpus.iter_unit_rows", interrupted)
    assert "interrupted" in _one_error_line(_run(runner, "units", "-p", evil_project), code=130)


def test_sigint_at_start_up_is_one_line(tmp_path):
    """A SIGINT while Python imports qcassist: the entry point catches it before click runs."""
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1]))
    # Ctrl-C as a terminal delivers it: a child inherits an ignored or blocked SIGINT from the thread that starts it
    # (multiprocessing blocks SIGINT while it starts its resource tracker for other tests' worker processes), and
    # then no KeyboardInterrupt comes at all
    code = ("import signal, os, threading, builtins\n"
            "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
            "signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT])\n"
            "real = builtins.__import__\n"
            "def slow(name, *a, **k):\n"
            "    if name == 'cli' or name.endswith('.cli'):\n"
            "        os.kill(os.getpid(), signal.SIGINT)\n"
            "    return real(name, *a, **k)\n"
            "builtins.__import__ = slow\n"
            "from qcassist.__main__ import run\n"
            "run()\n")
    done = subprocess.run([sys.executable, "-c", code, "--help"], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 130 and done.stderr.count("\n") == 1 and done.stderr.startswith("Error: interrupted")


def test_importing_the_package_imports_nothing_else(tmp_path):
    """`import qcassist` runs before the entry point can catch Ctrl-C, so it must be near-instant: its
    re-exports load on first use (a SIGINT in the first ~100 ms once gave a traceback)."""
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1]))
    code = ("import sys, qcassist\n"
            "print(sorted(m for m in sys.modules if m.startswith('qcassist')))\n"
            "from qcassist import Store, QcaError, segment, SegmentOptions\n"
            "print(Store.__module__, QcaError.__module__, segment.__module__, callable(segment))\n"
            "import qcassist.segment, qcassist.project\n"  # the submodule imported: the name stays the function
            "print(callable(qcassist.segment), qcassist.segment is segment)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert done.stdout.splitlines() == ["['qcassist']", "qcassist.store qcassist.errors qcassist.segment True",
                                        "True True"], done.stderr


def _int_too_long() -> ValueError:
    try:
        int("9" * 5000)
    except ValueError as exc:
        return exc
    raise AssertionError("this Python reads 5,000-digit integers")


def test_recursion_and_unicode_errors_are_one_line(runner, evil_project, monkeypatch):
    for exc, words in [(RecursionError("maximum recursion depth exceeded"), "nested too deeply"),
                       (UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"), "not valid Unicode"),
                       (_int_too_long(), "a number too long to read")]:
        def fail(*_args, exc=exc, **_kwargs):
            raise exc

        monkeypatch.setattr("qcassist.cli.corpus.iter_unit_rows", fail)
        assert words in _one_error_line(_run(runner, "units", "-p", evil_project))


def test_a_250_deep_codebook_exports_to_yaml_or_says_why(runner, project, tmp_path):
    with Store.open(project) as store, store.transaction():
        parent = None
        for depth in range(250):
            store.db.execute("INSERT INTO codes (name, parent, position) VALUES (?, ?, ?)", (f"c{depth}", parent, depth))
            parent = f"c{depth}"
    result = _run(runner, "export", "codebook", "-p", project, "--format", "yaml", "-o", tmp_path / "deep.yaml")
    assert result.exit_code == 0 or _one_error_line(result)
    assert result.exit_code == 0 or not (tmp_path / "deep.yaml").exists()


# --- the embedding cache and the TF-IDF encoder -------------------------------------


def test_a_corrupt_embedding_cache_is_rebuilt_with_a_warning(tmp_path, capsys):
    path = tmp_path / "cache" / "embeddings.sqlite"
    path.parent.mkdir()
    path.write_bytes(b"this is not a database at all" * 100)
    encoder = CachedEncoder(HashEncoder(), path)
    vectors = encoder.encode(["one text", "another"])
    assert vectors.shape == (2, 64) and "rebuilding it" in capsys.readouterr().err
    again = CachedEncoder(HashEncoder(), path)
    np.testing.assert_array_equal(again.encode(["one text", "another"]), vectors)
    assert again.hits == 2 and capsys.readouterr().err == ""


def test_tampered_cache_vectors_are_rebuilt(tmp_path, capsys):
    path = tmp_path / "embeddings.sqlite"
    encoder = CachedEncoder(HashEncoder(), path)
    expected = encoder.encode(["a b", "c d"])
    db = sqlite3.connect(path)
    with db:
        db.execute("UPDATE embeddings SET vector = ? WHERE text_sha256 = (SELECT MIN(text_sha256) FROM embeddings)", (b"\x00" * 12,))
    db.close()
    np.testing.assert_array_equal(CachedEncoder(HashEncoder(), path).encode(["a b", "c d"]), expected)
    assert "rebuilding it" in capsys.readouterr().err


def test_a_tfidf_save_that_fails_leaves_no_folder(tmp_path, monkeypatch):
    encoder = TfidfEncoder(dimension=4).fit(["one two three", "two three four", "four five six", "six seven"])
    target = tmp_path / "encoders" / "tfidf-lsa"

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "save", full)
    with pytest.raises(QcaError, match="cannot save the TF-IDF encoder .the disk is full"):
        encoder.save(target)
    assert not target.exists() and list((tmp_path / "encoders").iterdir()) == []
    monkeypatch.undo()
    encoder.save(target)
    assert TfidfEncoder.load(target).id == encoder.id


def test_a_tampered_tfidf_encoder_is_one_error(tmp_path):
    encoder = TfidfEncoder(dimension=4).fit(["one two three", "two three four", "four five six", "six seven"])
    encoder.save(tmp_path / "enc")
    np.save(tmp_path / "enc" / "idf.npy", np.zeros(3, dtype=np.float32))
    with pytest.raises(QcaError, match="idf has shape"):
        TfidfEncoder.load(tmp_path / "enc")


def test_a_device_or_pipe_is_written_as_it_is(runner, evil_project):
    """-o /dev/null or a pipe (/dev/stdout, <(…)) has nothing to replace: written without --force."""
    result = _run(runner, "export", "units", "-p", evil_project, "-o", os.devnull)
    assert result.exit_code == 0, result.output



def test_a_read_only_project_folder_is_read_and_a_write_is_named_as_such(runner, evil_project, tmp_path):
    """SQLite cannot create qcassist.db-wal/-shm in an immutable folder; as nobody can write there, read-only
    commands read the file as it is (units, export, report elsewhere), and a write is one line, not 'corrupt'."""
    Store.open(evil_project).close()  # the last close removes -wal and -shm
    before = dump_database(evil_project)
    if not _immutable(evil_project):
        pytest.skip("chattr +i is not available here")
    try:
        listed = _run(runner, "units", "-p", evil_project)
        exported = _run(runner, "export", "units", "-p", evil_project, "-o", tmp_path / "units.csv")
        reported = _run(runner, "report", "-p", evil_project, "-o", tmp_path / "report.html")
        line = _one_error_line(_run(runner, "codebook", "import", "-p", evil_project, evil_project.parent / "codebook.csv"))
    finally:
        subprocess.run(["chattr", "-i", str(evil_project)], check=False)
    assert listed.exit_code == 0 and "=cmd" in listed.output, listed.output
    assert exported.exit_code == 0 and (tmp_path / "units.csv").read_text(encoding="utf-8").count("\n") == 3
    assert reported.exit_code == 0, reported.output
    assert "is read-only" in line and "restore it from a backup" not in line
    assert dump_database(evil_project) == before and not (evil_project / "qcassist.db-wal").exists()


def test_a_read_only_folder_with_unsaved_wal_changes_is_not_read_without_them(runner, evil_project):
    """A -wal holding changes not yet in the database file: reading the file alone would miss them, so refuse."""
    Store.open(evil_project).close()
    (evil_project / "qcassist.db-wal").write_bytes(b"\0" * 32)  # any content: changes SQLite would need -shm for
    if not _immutable(evil_project):
        pytest.skip("chattr +i is not available here")
    try:
        line = _one_error_line(_run(runner, "units", "-p", evil_project))
    finally:
        subprocess.run(["chattr", "-i", str(evil_project)], check=False)
    assert "its folder is read-only" in line and "restore it from a backup" not in line


def test_a_train_that_fails_after_fitting_tfidf_leaves_no_encoder_folder(runner, project, tmp_path, monkeypatch):
    """Failed commands leave no encoders/tfidf-lsa/ behind (issue 15): the encoder is saved with the write."""
    from qcassist.ingest.coded import CodedColumns
    from qcassist.seed import import_coded

    from .conftest import coded_rows, write_coded_csv

    path = tmp_path / "seed.csv"
    write_coded_csv(path, coded_rows(n_transcripts=3, per_code=4))
    with Store.open(project) as store:
        import_coded(store, path, coder="anna", columns=CodedColumns(order="order"))
    before = dump_database(project)

    def refused(*_args, **_kwargs):
        raise QcaError("refused after the encoder was fitted")

    monkeypatch.setattr("qcassist.train_methods.train_model", refused)
    line = _one_error_line(_run(runner, "train", "-p", project, "--encoder", "tfidf"))
    assert "refused after" in line
    assert not (project / "encoders").exists() and dump_database(project) == before
    assert not (project / "classifiers").exists() or not any((project / "classifiers").iterdir())
    monkeypatch.undo()
    assert _run(runner, "train", "-p", project, "--encoder", "tfidf").exit_code == 0
    assert (project / "encoders" / "tfidf-lsa" / "encoder.json").exists()
