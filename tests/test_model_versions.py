from __future__ import annotations

import json
import os
import shutil
import time

import pytest

from qcassist import model_versions
from qcassist.cli import main
from qcassist.decisions import decide, review_queue
from qcassist.errors import QcaError
from qcassist.ingest.coded import CodedColumns
from qcassist.model_versions import folder_bytes, list_orphans, list_versions, plan_prune, prune
from qcassist.report import write_report
from qcassist.seed import import_coded
from qcassist.store import Store
from qcassist.suggest import load_latest_model, suggest, train
from tests.conftest import coded_rows, dump_database, write_coded_csv

LATER = time.time() + 3600  # "now" for prune, past the orphan grace period of folders made by the test


@pytest.fixture
def three_versions(tmp_path):
    """v1 (no suggestions), v2 (suggestions on every unit, from 'suggest --all'), v3 (active, no suggestions)."""
    rows = coded_rows(n_transcripts=4, per_code=6)
    for row in rows[::3]:
        row["code"] = ""
    path = tmp_path / "seed.csv"
    write_coded_csv(path, rows)
    directory = tmp_path / "project"
    with Store.create(directory) as store:
        import_coded(store, path, coder="seed", columns=CodedColumns(order="order"))
        versions = [train(store, encoder="tfidf").version]
        versions.append(train(store, encoder="tfidf").version)
        suggest(store, include_coded=True)
        versions.append(train(store, encoder="tfidf").version)
    return directory, versions


def test_list_shows_every_version_newest_first_with_its_size_and_the_active_one(three_versions):
    directory, (v1, v2, v3) = three_versions
    with Store.open(directory) as store:
        listed = list_versions(store)
        manifest = store.latest_classifier()[1]
    assert [v.version for v in listed] == [v3, v2, v1]
    assert [v.active for v in listed] == [True, False, False]
    assert all(v.method == "fast" for v in listed)  # manifests from before --method are fast models
    assert listed[0].kappa == pytest.approx(manifest["cv"]["kappa"]) and listed[0].units == manifest["units"] == 48
    folder = directory / "classifiers" / v3
    assert listed[0].bytes == sum(f.stat().st_size for f in folder.iterdir()) > 0
    assert listed[1].suggestions == 72 and listed[0].suggestions == listed[2].suggestions == 0


def test_a_fine_tuned_version_says_so(three_versions):
    directory, (v1, v2, v3) = three_versions
    with Store.open(directory) as store:
        manifest = dict(store.latest_classifier()[1], method="finetuned")
        store.db.execute("UPDATE classifiers SET manifest = ? WHERE version = ?", (json.dumps(manifest), v3))
        assert [v.method for v in list_versions(store)] == ["finetuned", "fast", "fast"]


def test_prune_keeps_the_active_version_and_those_suggestions_come_from(three_versions):
    directory, (v1, v2, v3) = three_versions
    before = folder_bytes(directory / "classifiers" / v1)
    with Store.open(directory) as store:
        report = prune(store, keep=1, now=LATER)
        assert report.removed == [v1] and report.freed_bytes == before
        assert set(report.kept) == {v2, v3} and "72 stored suggestions" in report.kept[v2]
        assert store.classifier_versions() == {v2, v3}
    assert sorted(p.name for p in (directory / "classifiers").iterdir()) == sorted([v2, v3])


def test_after_a_prune_suggestions_review_agree_and_report_still_work(three_versions, runner, tmp_path):
    directory, (v1, v2, v3) = three_versions
    with Store.open(directory) as store:
        prune(store, keep=1, now=LATER)
        assert load_latest_model(store).manifest["version"] == v3
        item = review_queue(store, coder="ann")[0]
        assert item.top.model_version == v2
        decide(store, item.unit_id, "accept", coder="ann", suggestion=item.top)
        write_report(store, tmp_path / "report.html", bootstrap=0)
    for coders in ("seed,model", f"seed,model:{v2}"):
        result = runner.invoke(main, ["agree", "-p", str(directory), "--coders", coders, "--bootstrap", "0"])
        assert result.exit_code == 0, result.output
    with Store.open(directory) as store:
        suggest(store, include_coded=True)  # v3's suggestions replace v2's: v2 can go now
        assert prune(store, keep=1, now=LATER).removed == [v2]
        assert store.classifier_versions() == {v3}
        assert review_queue(store, coder="bo")[0].top.model_version == v3
        assert [d.model_version for d in store.decisions()] == [v2]  # history keeps the pruned version's name
        write_report(store, tmp_path / "again.html", bootstrap=0)
    for args in (["agree", "--coders", "seed,model", "--bootstrap", "0"], ["decisions", "export", "--format", "csv"]):
        result = runner.invoke(main, [*args, "-p", str(directory)])
        assert result.exit_code == 0, result.output


def test_keep_counts_the_newest_versions(three_versions):
    directory, (v1, v2, v3) = three_versions
    with Store.open(directory) as store:
        remove, kept = plan_prune(store, keep=3)
        assert remove == [] and list(kept) == [v3, v2, v1]
        with pytest.raises(QcaError, match="--keep must be at least 1"):
            plan_prune(store, keep=0)


def test_a_killed_prune_leaves_an_orphan_folder_the_next_prune_removes(three_versions, monkeypatch):
    directory, (v1, v2, v3) = three_versions

    def killed(path):
        raise KeyboardInterrupt  # after the registry forgot the version, before its folder went

    monkeypatch.setattr(model_versions, "_remove_folder", killed)
    with Store.open(directory) as store, pytest.raises(KeyboardInterrupt):
        prune(store, keep=1, now=LATER)
    monkeypatch.undo()
    with Store.open(directory) as store:
        assert store.classifier_versions() == {v2, v3}
        assert load_latest_model(store).manifest["version"] == v3  # the store does not trip on it
        [orphan] = list_orphans(store, now=LATER)
        assert orphan.name == v1 and not orphan.recent
        report = prune(store, keep=1, now=LATER)
        assert report.removed == [] and report.orphans_removed == [v1] and report.freed_bytes == orphan.bytes
    assert not (directory / "classifiers" / v1).exists()


def test_a_folder_killed_mid_removal_is_an_orphan_too(three_versions, monkeypatch):
    directory, (v1, v2, v3) = three_versions
    real_rmtree = shutil.rmtree

    def killed(path, *args, **kwargs):
        os.remove(next(p for p in path.iterdir()))  # one file gone, then the process dies
        raise KeyboardInterrupt

    monkeypatch.setattr(model_versions.shutil, "rmtree", killed)
    with Store.open(directory) as store, pytest.raises(KeyboardInterrupt):
        prune(store, keep=1, now=LATER)
    monkeypatch.setattr(model_versions.shutil, "rmtree", real_rmtree)
    with Store.open(directory) as store:
        [orphan] = list_orphans(store)  # renamed aside: an orphan at once, whatever its age
        assert orphan.name == f".pruned-{v1}" and not orphan.recent
        assert prune(store, keep=1).orphans_removed == [f".pruned-{v1}"]
    assert sorted(p.name for p in (directory / "classifiers").iterdir()) == sorted([v2, v3])


def test_a_recent_orphan_may_be_a_train_still_saving_and_is_left_alone(three_versions):
    directory, _ = three_versions
    (directory / "classifiers" / "20990101T000000-deadbeef").mkdir()
    (directory / "classifiers" / "20990101T000000-deadbeef" / "manifest.json").write_text("{}", encoding="utf-8")
    with Store.open(directory) as store:
        [orphan] = list_orphans(store)
        assert orphan.recent and orphan.bytes == 2
        kept = prune(store, keep=3)
        assert kept.orphans_removed == [] and kept.orphans_left == ["20990101T000000-deadbeef"]
        assert prune(store, keep=3, now=LATER).orphans_removed == ["20990101T000000-deadbeef"]


def test_a_tampered_version_name_never_reaches_outside_the_models_folder(three_versions, tmp_path):
    directory, (v1, v2, v3) = three_versions
    outside = directory / "precious"
    outside.mkdir()
    (outside / "keep.txt").write_text("x", encoding="utf-8")
    with Store.open(directory) as store:
        store.db.execute("UPDATE classifiers SET version = '../precious' WHERE version = ?", (v1,))
        assert [v.bytes for v in list_versions(store) if v.version == "../precious"] == [None]
        assert "../precious" in prune(store, keep=1, now=LATER).removed
    assert (outside / "keep.txt").exists()


def test_cli_list_and_prune(three_versions, runner):
    directory, (v1, v2, v3) = three_versions
    p = str(directory)
    listed = runner.invoke(main, ["models", "list", "-p", p])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert lines[0].split() == ["version", "created", "method", "units", "kappa", "size", "encoder"]
    assert lines[1].startswith(v3) and lines[1].endswith("(active)") and " fast " in lines[1]
    assert lines[3].startswith(v1) and lines[-1].startswith("3 versions, ")
    as_json = json.loads(runner.invoke(main, ["models", "list", "-p", p, "--json"]).output)
    assert [v["version"] for v in as_json["versions"]] == [v3, v2, v1] and as_json["orphans"] == []
    before = dump_database(directory)
    dry = runner.invoke(main, ["models", "prune", "-p", p, "--dry-run"])
    assert dry.output.startswith("Would remove 1 model version and 0 orphan folders; would free ")
    assert dump_database(directory) == before and (directory / "classifiers" / v1).exists()
    done = runner.invoke(main, ["models", "prune", "-p", p])
    freed = as_json["versions"][2]["bytes"] / 1_000_000
    assert done.output.splitlines()[:2] == [f"Removed 1 model version and 0 orphan folders; freed {freed:.1f} MB.",
                                           f"  removed {v1}"]
    bad = runner.invoke(main, ["models", "prune", "-p", p, "--keep", "0"])
    assert bad.exit_code == 2


def test_list_without_models(project, runner):
    result = runner.invoke(main, ["models", "list", "-p", str(project)])
    assert result.output == "No model versions yet: run 'qcassist train'.\n"


def test_a_fine_tuned_version_is_listed_with_its_body_and_pruned_like_any(fake_encoder, monkeypatch, tmp_path):
    from tests import fake_finetune

    monkeypatch.setitem(__import__("sys").modules, "qcassist.finetune", fake_finetune.module())
    rows = coded_rows(n_transcripts=5, per_code=6)
    path = tmp_path / "seed.csv"
    write_coded_csv(path, rows)
    with Store.create(tmp_path / "project") as store:
        import_coded(store, path, coder="anna", columns=CodedColumns(order="order"))
        fast = train(store).version
        tuned = train(store, method="finetuned").version
        listed = list_versions(store)
        assert [(v.version, v.method) for v in listed] == [(tuned, "finetuned"), (fast, "fast")]
        folder = store.directory / "classifiers" / tuned
        assert (folder / fake_finetune.FILE).exists()
        assert listed[0].bytes == sum(f.stat().st_size for f in folder.iterdir())
        assert prune(store, keep=1, now=LATER).removed == [fast]
        assert suggest(store, include_coded=True).model_version == tuned
