"""The README's main job, end to end with the real packaged encoder."""

from __future__ import annotations

import csv
import json

import pytest

from qcassist.cli import main
from qcassist.demo import demo_files
from qcassist.store import Store


def test_demo_corpus_ships_inside_the_package():
    assert [p.name for p in demo_files()] == ["interview_01.txt", "interview_02.txt", "interview_03.vtt"]


def test_demo_imports_segments_and_exports_units(runner, tmp_path):
    project = tmp_path / "demo"
    result = runner.invoke(main, ["demo", "-p", str(project)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(open(project / "units.csv", encoding="utf-8")))
    assert {r["transcript"] for r in rows} == {"interview_01", "interview_02", "interview_03"}
    with Store.open(project) as store:
        texts = {t.name: t.text for t in store.transcripts()}
        segmentation = store.segmentation(store.transcripts()[0].id)
    for row in rows:
        assert texts[row["transcript"]][int(row["start"]) : int(row["end"])] == row["text"]
        assert row["role"] == "participant"
    assert segmentation["strategy"] == "cohesive" and segmentation["encoder"].startswith("all-MiniLM-L6-v2@sha256:")
    assert "Seeded 12 human codings" in result.output and "qcassist review" in result.output
    with Store.open(project) as store:
        assert len(store.codebook().leaves) == 7
        suggestions = store.suggestions()
    assert suggestions and all(s.rationale for s in suggestions if s.source != "description")
    again = runner.invoke(main, ["demo", "-p", str(project), "--json"])
    assert json.loads(again.output)["import"]["unchanged"] == ["interview_01", "interview_02", "interview_03"]


def test_demo_seed_spans_quote_the_demo_texts():
    import csv as _csv

    from qcassist.demo import _folder
    from qcassist.ingest import read_transcripts

    texts = {t.name: t.text for f in demo_files() for t in read_transcripts(f).transcripts}
    for row in _csv.DictReader(open(_folder() / "seed_spans.csv", encoding="utf-8")):
        assert texts[row["transcript"]][int(row["start"]) : int(row["end"])] == row["quote"]


def test_demo_files_are_replaced_whole_and_never_through_a_link_to_the_database(tmp_path):
    """units.csv and condensation.md go through safe_output: a re-run replaces them atomically, but a
    units.csv turned into a link to the project's database is refused, the database unchanged."""
    from qcassist.demo import run_demo
    from qcassist.errors import QcaError
    from tests.conftest import dump_database

    project = tmp_path / "demo"
    run_demo(project, encoder="tfidf")
    run_demo(project, encoder="tfidf")  # the demo's own files are replaced without --force
    assert not list(project.glob(".*.partial"))
    (project / "units.csv").unlink()
    (project / "units.csv").symlink_to(project / "qcassist.db")
    before = dump_database(project)
    with pytest.raises(QcaError, match="project database"):
        run_demo(project, encoder="tfidf")
    assert dump_database(project) == before
