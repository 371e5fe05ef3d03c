from __future__ import annotations

import csv
import io
import json

import pytest

from qcassist.cli import main
from qcassist.store import Store
from tests.conftest import dump_database

COMMANDS = ["init", "import", "segment", "units", "status", "demo"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(runner, command):
    result = runner.invoke(main, [command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output and len(result.output.splitlines()) > 4


@pytest.mark.parametrize("command", ["import", "segment", "units", "status"])
def test_every_project_command_takes_project_option(runner, command):
    assert "--project" in runner.invoke(main, [command, "--help"]).output


def test_init_import_segment_units_status(runner, tmp_path, six_turns_file):
    project = str(tmp_path / "p")
    assert runner.invoke(main, ["init", "-p", project]).exit_code == 0
    result = runner.invoke(main, ["import", "-p", project, str(six_turns_file), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["added"] == ["six_turns"]
    result = runner.invoke(main, ["segment", "-p", project, "--strategy", "sentence"])
    assert result.output == "six_turns: 6 meaning units\n"
    result = runner.invoke(main, ["units", "-p", project, "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert [r["text"] for r in rows][:2] == ["My doctor sent a referral.", "I did not expect much at first."]
    assert set(rows[0]) == {"unit_id", "transcript", "order", "speaker", "role", "start", "end", "start_time", "text"}
    status = json.loads(runner.invoke(main, ["status", "-p", project, "--json"]).output)
    assert status["totals"] == {"turns": 6, "participant_turns": 3, "units": 6, "codings": 0, "transcripts": 1}
    assert "six_turns" in runner.invoke(main, ["status", "-p", project]).output


def test_units_export_to_jsonl_file(runner, project, six_turns_file, tmp_path):
    runner.invoke(main, ["import", "-p", str(project), str(six_turns_file)])
    runner.invoke(main, ["segment", "-p", str(project), "--strategy", "turn"])
    out = tmp_path / "units.jsonl"
    result = runner.invoke(main, ["units", "-p", str(project), "--format", "jsonl", "-o", str(out)])
    assert result.exit_code == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["text"] for r in rows][-1] == "I have hope now."


def test_not_a_project_is_one_line_and_exit_2(runner, tmp_path):
    result = runner.invoke(main, ["status", "-p", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1
    assert "not a qcassist project" in result.output


def _bad_files(tmp_path):
    files = {
        "empty.txt": b"",
        "binary.txt": b"\x00\x01\x02\x03PNG\x00\x00" * 50,
        "notes.pdf": b"%PDF-1.4",
        "undecodable.txt": b"Interviewer: hi\nP1: caf\x81 ok\n",
        "turns.csv": b"who,words\nP1,hello\n",
        "only_interviewer.txt": b"Interviewer: Anyone there?\nInterviewer: Hello?\n",
    }
    paths = {}
    for name, data in files.items():
        path = tmp_path / name
        path.write_bytes(data)
        paths[name] = path
    return paths


@pytest.mark.parametrize(
    "name, expected",
    [
        ("empty.txt", "empty"),
        ("binary.txt", "binary"),
        ("notes.pdf", "unknown file type"),
        ("undecodable.txt", "line 2"),
        ("turns.csv", "field 'speaker'"),
        ("only_interviewer.txt", "no participant turns"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_store_unchanged(runner, project, six_turns_file, tmp_path, name, expected):
    runner.invoke(main, ["import", "-p", str(project), str(six_turns_file)])
    before = dump_database(project)
    bad = _bad_files(tmp_path)[name]
    result = runner.invoke(main, ["import", "-p", str(project), str(bad)])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1
    assert name in result.output and expected in result.output
    assert dump_database(project) == before


def test_bad_segment_option_is_exit_2(runner, project):
    result = runner.invoke(main, ["segment", "-p", str(project), "--min-chars", "900"])
    assert result.exit_code == 2 and "min-chars" in result.output


def test_cp1252_file_imports_with_a_warning(runner, project, tmp_path):
    path = tmp_path / "legacy.txt"
    path.write_bytes("Interviewer: Hvordan?\nP1: Det var bra, caf\u00e9 og s\u00f8ster.\n".encode("cp1252"))
    result = runner.invoke(main, ["import", "-p", str(project), str(path)])
    assert result.exit_code == 0
    assert "Warning:" in result.output and "cp1252" in result.output


def test_units_takes_transcripts_like_the_other_commands(runner, project, six_turns_file, tmp_path):
    other = tmp_path / "other.txt"
    other.write_text("Interviewer: Hi?\nP2: Fine thanks.\n", encoding="utf-8")
    runner.invoke(main, ["import", "-p", str(project), str(six_turns_file), str(other)])
    runner.invoke(main, ["segment", "-p", str(project), "--strategy", "turn"])

    def transcripts(*args):
        result = runner.invoke(main, ["units", "-p", str(project), "--format", "csv", *args])
        assert result.exit_code == 0, result.output
        return {row["transcript"] for row in csv.DictReader(io.StringIO(result.output))}

    assert transcripts("--transcripts", "other") == {"other"}
    assert transcripts("--transcripts", "other,six_turns") == {"other", "six_turns"}
    assert transcripts("--transcript", "six_turns") == {"six_turns"}  # the old spelling still works
    assert "--transcript " not in runner.invoke(main, ["units", "--help"]).output


def test_segment_speakers_and_review_take_transcripts_too(runner, project, six_turns_file, tmp_path):
    # on QMSum meetings 'segment --transcripts education_11' was refused ("Did you mean '--transcript'?")
    # while units, exports and agree take --transcripts A,B
    p = str(project)
    for name in ("a", "b", "c"):
        (tmp_path / f"{name}.txt").write_text("Interviewer: Hi?\nP2: Fine thanks, and you?\n", encoding="utf-8")
    runner.invoke(main, ["import", "-p", p, *(str(tmp_path / f"{n}.txt") for n in "abc")])
    result = runner.invoke(main, ["segment", "-p", p, "--strategy", "turn", "--transcripts", "a,b"])
    assert result.exit_code == 0 and "c:" not in result.output
    with Store.open(project) as store:
        assert {t.name for t in store.transcripts() if store.units(t.id)} == {"a", "b"}
    listed = runner.invoke(main, ["speakers", "-p", p, "--json", "--transcripts", "b,c"])
    assert {row["transcript"] for row in json.loads(listed.output)} == {"b", "c"}
    assert runner.invoke(main, ["segment", "-p", p, "--strategy", "turn", "--transcript", "c"]).exit_code == 0
    assert "--transcripts" in runner.invoke(main, ["review", "--help"]).output


def test_next_command_works_without_qcassist_on_path(monkeypatch, tmp_path):
    from qcassist.cli.corpus import qcassist_command

    script = tmp_path / "venv bin" / "qcassist"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\n", encoding="utf-8")
    monkeypatch.setattr("sys.argv", [str(script), "demo"])
    assert qcassist_command(which=lambda name: None) == f"'{script}'"
    assert qcassist_command(which=lambda name: str(script)) == "qcassist"
    monkeypatch.setattr("sys.argv", [str(tmp_path / "__main__.py"), "demo"])  # python -m qcassist
    monkeypatch.setattr("sys.executable", str(tmp_path / "venv bin" / "python"))
    assert qcassist_command(which=lambda name: "/usr/bin/qcassist") == f"'{script}'"
    monkeypatch.setattr("sys.executable", str(tmp_path / "python3"))
    assert qcassist_command(which=lambda name: None) == f"{tmp_path / 'python3'} -m qcassist"


def test_demo_run_again_says_what_the_project_already_holds(runner, tmp_path):
    project = tmp_path / "demo"
    first = runner.invoke(main, ["demo", "-p", str(project), "--encoder", "tfidf"])
    assert first.exit_code == 0, first.output
    assert "Seeded 12 human codings" in first.output
    again = runner.invoke(main, ["demo", "-p", str(project), "--encoder", "tfidf"])
    assert again.exit_code == 0, again.output
    assert "Seeded 0" not in again.output
    assert "already set up here: kept its 12 seed codings" in again.output
    assert "review -p" in again.output.splitlines()[-1]


@pytest.mark.parametrize("args", [["--help"], ["codebook", "--help"]])
def test_help_loads_no_machine_learning_library(args):
    """--help stays quick: torch, scikit-learn and sentence-transformers load only in the commands that use them."""
    import subprocess
    import sys
    from pathlib import Path

    heavy = ("torch", "sklearn", "sentence_transformers", "transformers")
    code = (
        "import sys\nfrom qcassist.cli import main\n"
        f"try:\n    main({args!r}, prog_name='qcassist')\nexcept SystemExit:\n    pass\n"
        f"print('LOADED:' + ','.join(m for m in {heavy!r} if m in sys.modules))\n"
    )
    root = str(Path(__file__).resolve().parents[1])
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=root,
                            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": root, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr
    assert "Usage: qcassist" in result.stdout
    assert result.stdout.splitlines()[-1] == "LOADED:"
