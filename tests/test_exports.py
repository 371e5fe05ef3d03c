from __future__ import annotations

import csv
import io
import json

import pytest

from qcassist.cli import main
from qcassist.codebook import read_codebook
from qcassist.demo import _folder, demo_files
from qcassist.model import Decision
from qcassist.project import import_files, segment_project
from qcassist.seed import import_codebook, import_spans
from qcassist.segment import SegmentOptions
from qcassist.store import Store

# the columns the README documents for each export
UNIT_COLUMNS = ["unit_id", "transcript", "order", "speaker", "role", "start", "end", "start_time", "text"]
CODING_COLUMNS = ["coding_id", "unit_id", "external_id", "transcript", "speaker", "start", "end", "text", "code",
                  "code_path", "coder", "origin", "created_at", "decision_id"]
DECISION_COLUMNS = ["decision_id", "unit_id", "external_id", "transcript", "action", "suggested_code", "probability",
                    "model_version", "final_codes", "coder", "memo", "reverses", "created_at"]
CODEBOOK_COLUMNS = ["code", "parent", "level", "description", "path"]


@pytest.fixture
def demo_project(project):
    """The demo interviews, one unit per turn, the demo codebook and seed spans, and two review decisions."""
    with Store.open(project) as store:
        import_files(store, demo_files())
        segment_project(store, options=SegmentOptions(strategy="turn"))
        import_codebook(store, _folder() / "codebook.yaml")
        import_spans(store, _folder() / "seed_spans.csv", coder="seed")
        unit = store.units(store.transcript_by_name("interview_03").id)[0]
        store.record_decision(Decision(unit.id, "add", "anna", final_codes=("hope and own goals",)))
        store.record_decision(Decision(unit.id, "skip", "bo"))
    return project


def _export(runner, project, *args) -> str:
    result = runner.invoke(main, ["export", *args, "-p", str(project)])
    assert result.exit_code == 0, result.output
    return result.output


def _read(text: str, fmt: str) -> tuple[list[str], list[dict]]:
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(text))
        return list(reader.fieldnames or []), list(reader)
    rows = [json.loads(line) for line in text.splitlines()]
    return list(rows[0]), rows


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_units_export_round_trips(runner, demo_project, fmt):
    header, rows = _read(_export(runner, demo_project, "units", "--format", fmt), fmt)
    assert header == UNIT_COLUMNS
    with Store.open(demo_project) as store:
        texts = {t.name: t.text for t in store.transcripts()}
        assert len(rows) == len(store.units())
    for row in rows:
        assert texts[row["transcript"]][int(row["start"]) : int(row["end"])] == row["text"]
    _, only = _read(_export(runner, demo_project, "units", "--format", fmt, "--transcripts", "interview_02"), fmt)
    assert only and {r["transcript"] for r in only} == {"interview_02"}


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_codings_export_gives_the_exact_span_texts(runner, demo_project, fmt):
    header, rows = _read(_export(runner, demo_project, "codings", "--format", fmt), fmt)
    assert header == CODING_COLUMNS
    seed = [r for r in rows if r["coder"] == "seed"]
    with open(_folder() / "seed_spans.csv", encoding="utf-8") as file:
        spans = list(csv.DictReader(file))
    assert sorted((r["transcript"], int(r["start"]), int(r["end"]), r["code"], r["text"]) for r in seed) == sorted(
        (s["transcript"], int(s["start"]), int(s["end"]), s["code"], s["quote"]) for s in spans)
    first = next(r for r in seed if r["code"] == "listened to")
    assert first["code_path"] == "Relationship with helpers > Being seen > listened to" and first["origin"] == "human"
    assert first["decision_id"] in ("", None)
    review = next(r for r in rows if r["coder"] == "anna")
    assert (review["origin"], str(review["decision_id"]), review["code_path"]) == ("review", "1", "Recovery > hope and own goals")


def test_codings_export_filters_by_coder_and_transcript(runner, demo_project, tmp_path):
    out = tmp_path / "codings.csv"
    result = runner.invoke(main, ["export", "codings", "-p", str(demo_project), "-o", str(out),
                                  "--coders", "seed", "--transcripts", "interview_01,interview_03"])
    assert result.exit_code == 0 and "Wrote " in result.output
    with open(out, encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert rows and {r["coder"] for r in rows} == {"seed"}
    assert {r["transcript"] for r in rows} == {"interview_01", "interview_03"}


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_decisions_export_round_trips_and_filters(runner, demo_project, fmt):
    header, rows = _read(_export(runner, demo_project, "decisions", "--format", fmt), fmt)
    assert header == DECISION_COLUMNS and [r["action"] for r in rows] == ["add", "skip"]
    assert rows[0]["final_codes"] == "hope and own goals" and rows[0]["transcript"] == "interview_03"
    _, only = _read(_export(runner, demo_project, "decisions", "--format", fmt, "--coders", "bo"), fmt)
    assert [r["coder"] for r in only] == ["bo"]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_codebook_export_rows(runner, demo_project, fmt):
    header, rows = _read(_export(runner, demo_project, "codebook", "--format", fmt), fmt)
    assert header == CODEBOOK_COLUMNS and len(rows) == 12
    assert rows[1] == {"code": "Being seen", "parent": "Relationship with helpers", "level": "subgroup",
                       "description": "Being treated as a person rather than a case.",
                       "path": "Relationship with helpers > Being seen"}


@pytest.mark.parametrize("fmt", ["json", "yaml", "csv"])
def test_codebook_export_is_reimportable(runner, demo_project, tmp_path, fmt):
    out = tmp_path / f"codebook.{fmt}"
    result = runner.invoke(main, ["export", "codebook", "-p", str(demo_project), "--format", fmt, "-o", str(out)])
    assert result.exit_code == 0, result.output
    with Store.open(demo_project) as store:
        assert read_codebook(out, exclusive=store.codebook().exclusive) == store.codebook()


@pytest.mark.parametrize("args, message", [
    (["codings", "--coders", "sead"], "Error: no coder 'sead' in the project (coders: anna, seed). Did you mean 'seed'?"),
    (["units", "--transcripts", "interview_4"], "Error: no transcript 'interview_4' in the project"),
    (["decisions", "--transcripts", "nope"], "Error: no transcript 'nope'"),
])
def test_unknown_filter_values_are_one_line_exit_2(runner, demo_project, args, message):
    result = runner.invoke(main, ["export", *args, "-p", str(demo_project)])
    assert result.exit_code == 2 and message in result.output


@pytest.mark.parametrize("command", ["units", "codings", "decisions", "codebook"])
def test_every_export_has_help_and_the_project_option(runner, command):
    result = runner.invoke(main, ["export", command, "--help"])
    assert result.exit_code == 0 and "--project" in result.output and "--format" in result.output
