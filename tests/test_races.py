"""Two commands at once on one project (issue 15): each plans outside the write transaction,
so another command may write in between; the write re-checks its plan under the lock and
either finds the work already done (unchanged / skipped) or refuses with one line."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import qcassist.project as project_module
from qcassist.errors import ConflictError
from qcassist.model import Code, Codebook, Coding
from qcassist.project import import_files, segment_project
from qcassist.segment import SegmentOptions
from qcassist.store import Store
from tests.conftest import SIX_TURNS, dump_database

SENTENCES = SegmentOptions(strategy="sentence")


def _meanwhile(monkeypatch, name: str, other_command) -> list[list[str]]:
    """Run ``other_command(store)`` on a second connection right after ``name`` (a planning step) first returns.

    Returns a list that then holds the database dump as the other command left it.
    """
    real = getattr(project_module, name)
    pending = [other_command]
    left = []

    def planned_then_other_command(store, *args, **kwargs):
        result = real(store, *args, **kwargs)
        if pending:  # the other command's own planning steps run unpatched
            with Store.open(store.directory) as other:
                pending.pop()(other)
            left.append(dump_database(store.directory))
        return result

    monkeypatch.setattr(project_module, name, planned_then_other_command)
    return left


def test_import_meets_the_same_transcript_imported_meanwhile_as_unchanged(project, six_turns_file, monkeypatch):
    _meanwhile(monkeypatch, "_replacement_plans", lambda other: import_files(other, [six_turns_file]))
    with Store.open(project) as store:
        report = import_files(store, [six_turns_file])
        assert report.added == [] and report.unchanged == ["six_turns"]
        assert [t.name for t in store.transcripts()] == ["six_turns"]


def test_import_meets_other_turns_imported_meanwhile_with_one_line_and_no_change(project, six_turns_file, tmp_path,
                                                                                  monkeypatch):
    other_file = tmp_path / "elsewhere" / "six_turns.txt"
    other_file.parent.mkdir()
    other_file.write_text(SIX_TURNS.replace("I have hope now.", "I am tired now."), encoding="utf-8")
    left = _meanwhile(monkeypatch, "_replacement_plans", lambda other: import_files(other, [other_file]))
    with Store.open(project) as store:
        with pytest.raises(ConflictError, match="another qcassist command imported a transcript named 'six_turns'") as info:
            import_files(store, [six_turns_file])
        assert "\n" not in str(info.value)
        assert store.transcript_by_name("six_turns").source_path == str(other_file)
    assert dump_database(project) == left[0]


def test_replacing_import_refuses_when_the_transcript_was_segmented_meanwhile(project, six_turns_file, tmp_path,
                                                                            monkeypatch):
    with Store.open(project) as store:
        import_files(store, [six_turns_file])
    changed = tmp_path / "changed" / "six_turns.txt"
    changed.parent.mkdir()
    changed.write_text(SIX_TURNS.replace("I have hope now.", "I am tired now."), encoding="utf-8")
    left = _meanwhile(monkeypatch, "_replacement_plans", lambda other: segment_project(other, options=SENTENCES))
    with Store.open(project) as store:
        with pytest.raises(ConflictError, match="changed its text, roles or units while this command was running"):
            import_files(store, [changed], replace=True)
        assert "hope" in store.transcript_by_name("six_turns").text and len(store.units()) == 6
    assert dump_database(project) == left[0]


def test_segment_skips_a_transcript_segmented_meanwhile(project, six_turns_file, monkeypatch):
    with Store.open(project) as store:
        import_files(store, [six_turns_file])
    _meanwhile(monkeypatch, "plan_units", lambda other: segment_project(other, options=SegmentOptions(strategy="turn")))
    with Store.open(project) as store:
        report = segment_project(store, options=SENTENCES)
        assert report.segmented == {} and report.skipped == ["six_turns"]
        assert store.segmentation(store.transcripts()[0].id)["strategy"] == "turn"


def test_resegment_refuses_when_another_command_resegmented_meanwhile(project, six_turns_file, monkeypatch):
    with Store.open(project) as store:
        import_files(store, [six_turns_file])
        segment_project(store, options=SENTENCES)
    left = _meanwhile(monkeypatch, "plan_units",
                      lambda other: segment_project(other, options=SegmentOptions(strategy="turn"), resegment=True))
    with Store.open(project) as store:
        with pytest.raises(ConflictError, match="transcript 'six_turns': another qcassist command changed"):
            segment_project(store, options=SENTENCES, resegment=True)
        assert store.segmentation(store.transcripts()[0].id)["strategy"] == "turn"
    assert dump_database(project) == left[0]


def test_resegment_refuses_when_a_coding_was_added_meanwhile(project, six_turns_file, monkeypatch):
    with Store.open(project) as store:
        import_files(store, [six_turns_file])
        segment_project(store, options=SENTENCES)
        store.save_codebook(Codebook((Code("hope"),)))
        last_unit = store.units()[-1].id
    left = _meanwhile(monkeypatch, "plan_units", lambda other: other.add_coding(Coding(last_unit, "hope", "anna")))
    with Store.open(project) as store:
        with pytest.raises(ConflictError, match="changed the codings or review decisions on its units"):
            segment_project(store, options=SegmentOptions(strategy="turn"), resegment=True)
    assert dump_database(project) == left[0]


def _two_at_once(args: list[str]) -> list[tuple[int, str]]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    command = [sys.executable, "-m", "qcassist", *args]
    both = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    return [(p.wait(timeout=120), p.stderr.read().decode()) for p in both]


def _exit_cleanly(results: list[tuple[int, str]]) -> None:
    """Both succeed, or one fails with one Error line; never a traceback."""
    assert all(code == 0 or (code == 2 and stderr.startswith("Error: ") and stderr.count("\n") == 1)
               for code, stderr in results), results
    assert not any("Traceback" in stderr for _, stderr in results), results


@pytest.mark.parametrize("attempt", range(3))
def test_two_imports_of_one_file_at_once_leave_one_transcript(tmp_path, six_turns_file, attempt):
    project = tmp_path / f"race{attempt}"
    Store.create(project).close()
    _exit_cleanly(_two_at_once(["import", "-p", str(project), str(six_turns_file)]))
    with Store.open(project) as store:
        assert [t.name for t in store.transcripts()] == ["six_turns"]
        assert len(store.transcripts()[0].turns) == 6


@pytest.mark.parametrize("attempt", range(2))
def test_two_segments_at_once_leave_one_set_of_units(tmp_path, six_turns_file, attempt):
    project = tmp_path / f"race{attempt}"
    Store.create(project).close()
    with Store.open(project) as store:
        import_files(store, [six_turns_file])
    _exit_cleanly(_two_at_once(["segment", "-p", str(project), "--strategy", "sentence", "--json"]))
    with Store.open(project) as store:
        transcript = store.transcripts()[0]
        units = store.units(transcript.id)
        assert store.segmentation(transcript.id)["strategy"] == "sentence"
        assert [u.text_in(transcript) for u in units] == [
            "My doctor sent a referral.", "I did not expect much at first.", "The nurse listened to me.",
            "She came back every week, even when I cancelled.", "Later we talked about money problems and the rent.",
            "I have hope now.",
        ]


def _then_resegmented(monkeypatch, module, name: str, project) -> None:
    """Right after ``module.name`` (a planning step) first returns, another command re-cuts six_turns into turns."""
    real = getattr(module, name)

    def planned_then_resegmented(*args, **kwargs):
        result = real(*args, **kwargs)
        monkeypatch.setattr(module, name, real)  # the other command's own planning runs unpatched
        with Store.open(project) as other:
            segment_project(other, options=SegmentOptions(strategy="turn"), resegment=True)
        return result

    monkeypatch.setattr(module, name, planned_then_resegmented)


def test_speakers_set_refuses_when_the_units_were_re_cut_meanwhile(project, six_turns_file, monkeypatch):
    import qcassist.resegment as resegment_module
    from qcassist.speakers import set_role

    with Store.open(project) as store:
        import_files(store, [six_turns_file])
        segment_project(store, options=SENTENCES)
    _then_resegmented(monkeypatch, resegment_module, "plan_units", project)
    with Store.open(project) as store:
        with pytest.raises(ConflictError, match="another qcassist command changed") as info:
            set_role(store, "Interviewer", "participant")
        assert "nothing was changed" in str(info.value)
    with Store.open(project) as store:  # the other command's turn units stand, roles untouched
        transcript = store.transcripts()[0]
        assert store.segmentation(transcript.id)["strategy"] == "turn"
        assert {t.role for t in transcript.turns if t.speaker == "Interviewer"} == {"interviewer"}


def test_suggest_refuses_when_the_units_it_judged_were_re_cut_meanwhile(project, six_turns_file, tmp_path,
                                                                          fake_encoder, monkeypatch):
    import qcassist.suggest as suggest_module
    from qcassist.ingest.coded import CodedColumns
    from qcassist.seed import import_coded
    from tests.conftest import coded_rows, write_coded_csv

    seed = tmp_path / "seed.csv"
    write_coded_csv(seed, coded_rows(n_transcripts=3, per_code=5))
    with Store.open(project) as store:
        import_coded(store, seed, coder="anna", columns=CodedColumns(order="order"))
        suggest_module.train(store)
        import_files(store, [six_turns_file])
        segment_project(store, options=SENTENCES)
    _then_resegmented(monkeypatch, suggest_module, "_encode_by_transcript", project)
    with Store.open(project) as store:
        with pytest.raises(ConflictError, match="re-cut or removed 6 of the units") as info:
            suggest_module.suggest(store)
        assert "nothing was changed" in str(info.value)
        assert store.suggestions() == []
