""".qdpx export: memos and condensates as REFI Notes, and a file that is whole and never lands on the project's own files."""

from __future__ import annotations

import os
import zipfile

import pytest
from lxml import etree

from qcassist.cli import main
from qcassist.errors import QcaError
from qcassist.model import Condensate, Decision
from qcassist.refi import export_qdpx, import_qdpx
from qcassist.store import Store
from tests.conftest import dump_database
from tests.test_refi import SENTENCES, built, project_schema  # noqa: F401 (built is a fixture)

NS = {"q": "urn:QDA-XML:project:1.0"}


def _with_memos(directory) -> None:
    """Two memos (one later undone) and a condensate with its quotation."""
    with Store.open(directory) as store:
        units = store.units()
        store.record_decision(Decision(units[1].id, "add", "anna", final_codes=("trust",), memo="Må sjekkes – æøå",
                                       created_at="2026-01-06T09:00:00+00:00"))
        undone = store.record_decision(Decision(units[2].id, "add", "bo", final_codes=("access",), memo="drop this"))
        store.record_decision(Decision(units[2].id, "undo", "bo", reverses=undone.id))
        store.save_condensate(Condensate("Practical", "We worried about money until help came.", units[-1].id))


def _qde(path):
    return etree.fromstring(zipfile.ZipFile(path).read("project.qde"))


def test_memos_and_condensates_are_notes_linked_from_their_unit_and_code_group(built, tmp_path):
    _with_memos(built)
    with Store.open(built) as store:
        report = export_qdpx(store, tmp_path / "out.qdpx")
        units = store.units()
        text = store.transcripts()[0].text
    root = _qde(tmp_path / "out.qdpx")
    assert project_schema().validate(root), project_schema().error_log
    assert report.notes == 2
    notes = {n.get("name"): n for n in root.iterfind("q:Notes/q:Note", NS)}
    memo = notes[f"Memo on unit {units[1].id} of one"]
    assert memo.findtext("q:PlainTextContent", namespaces=NS) == "Må sjekkes – æøå"
    assert not any("drop this" in (n.findtext("q:PlainTextContent", namespaces=NS) or "") for n in notes.values())
    [anchor] = [s for s in root.iterfind(".//q:PlainTextSelection", NS)
                if s.find("q:NoteRef", NS) is not None and s.find("q:NoteRef", NS).get("targetGUID") == memo.get("guid")]
    assert (int(anchor.get("startPosition")), int(anchor.get("endPosition"))) == (units[1].start, units[1].end)
    assert text[units[1].start:units[1].end].startswith(anchor.get("name"))
    condensate = notes["Condensate: Practical"]
    assert condensate.findtext("q:PlainTextContent", namespaces=NS).startswith("We worried about money until help came.")
    assert "Illustrative quotation (two): The rent and the bills" in condensate.findtext("q:PlainTextContent", namespaces=NS)
    [group] = [c for c in root.iterfind(".//q:Code", NS) if c.get("name") == "Practical"]
    assert group.find("q:NoteRef", NS).get("targetGUID") == condensate.get("guid")
    anna = {u.get("name"): u.get("guid") for u in root.iterfind("q:Users/q:User", NS)}["anna"]
    assert memo.get("creatingUser") == anna


def test_a_project_with_notes_imports_again_with_its_codings_and_a_warning_for_the_notes(built, tmp_path, project):
    _with_memos(built)
    with Store.open(built) as store:
        export_qdpx(store, tmp_path / "out.qdpx")
        expected = len(store.codings())
    with Store.open(project) as store:
        report = import_qdpx(store, tmp_path / "out.qdpx", options=SENTENCES)
        assert len(store.codings()) == expected
    assert any("not imported: 2 Notes" in w for w in report.warnings)


def test_the_cli_counts_notes(built, runner, tmp_path):
    _with_memos(built)
    result = runner.invoke(main, ["export", "qdpx", "-p", str(built), str(tmp_path / "out.qdpx")])
    assert result.exit_code == 0, result.output
    assert "2 notes (memos and condensates)" in result.output


# --- where and how the file is written ----------------------------------------------------------


def _targets(project) -> dict[str, object]:
    (project / "classifiers" / "v1").mkdir(parents=True, exist_ok=True)
    os.link(project / "qcassist.db", project.parent / "hardlink.qdpx")
    (project.parent / "symlink.qdpx").symlink_to(project / "qcassist.db")
    return {
        "the database": project / "qcassist.db",
        "its WAL": project / "qcassist.db-wal",
        "its shared memory": project / "qcassist.db-shm",
        "a model folder": project / "classifiers" / "v1" / "model.qdpx",
        "the cache": project / ".qcassist-cache" / "out.qdpx",
        "a hard link to the database": project.parent / "hardlink.qdpx",
        "a symlink to the database": project.parent / "symlink.qdpx",
    }


@pytest.mark.parametrize("case", ["the database", "its WAL", "its shared memory", "a model folder", "the cache",
                                  "a hard link to the database", "a symlink to the database"])
@pytest.mark.parametrize("kind", ["qdpx", "qdc"])
def test_an_export_over_the_projects_own_files_is_refused(case, kind, built, runner):
    target = _targets(built)[case]
    (built / ".qcassist-cache").mkdir(exist_ok=True)
    before = dump_database(built)
    size = os.path.getsize(built / "qcassist.db")
    result = runner.invoke(main, ["export", kind, "-p", str(built), str(target)])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {target}: refusing to write there")
    assert dump_database(built) == before and os.path.getsize(built / "qcassist.db") == size


def test_an_export_into_a_missing_folder_is_one_line(built, runner, tmp_path):
    result = runner.invoke(main, ["export", "qdpx", "-p", str(built), str(tmp_path / "nowhere" / "out.qdpx")])
    assert result.exit_code == 2 and result.output.startswith("Error: cannot write") and "is not a directory" in result.output


def test_a_failed_write_leaves_the_previous_export_whole_and_no_temporary_file(built, tmp_path, monkeypatch):
    target = tmp_path / "out.qdpx"
    with Store.open(built) as store:
        export_qdpx(store, target)
        previous = target.read_bytes()

        def full_disk(descriptor):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(os, "fsync", full_disk)
        with pytest.raises(QcaError, match="the disk is full"):
            export_qdpx(store, target, include_suggestions=True, force=True)
    assert target.read_bytes() == previous
    assert sorted(p.name for p in tmp_path.iterdir() if "out.qdpx" in p.name) == ["out.qdpx"]


def test_the_export_is_synced_before_it_is_renamed_into_place(built, tmp_path, monkeypatch):
    events = []
    real_fsync, real_link = os.fsync, os.link
    monkeypatch.setattr(os, "fsync", lambda fd: events.append("fsync") or real_fsync(fd))
    monkeypatch.setattr(os, "link", lambda a, b: events.append("link") or real_link(a, b))  # a new file is linked into place
    with Store.open(built) as store:
        export_qdpx(store, tmp_path / "out.qdpx")
    assert events[:2] == ["fsync", "link"]
    assert zipfile.ZipFile(tmp_path / "out.qdpx").testzip() is None
