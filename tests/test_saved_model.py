"""Saved models are checked on load, and each training gets a folder of its own."""

from __future__ import annotations

import io
import json
import sqlite3
import zipfile

import numpy as np
import pytest

from qcassist.cli import main
from qcassist.ingest.coded import CodedColumns
from qcassist.seed import import_coded
from qcassist.store import Store
from qcassist.suggest import _allocate_version, train
from tests.conftest import coded_rows, dump_database, write_coded_csv

pytestmark = pytest.mark.usefixtures("fake_encoder")


@pytest.fixture
def trained(project, tmp_path):
    """A project with a multi-label model; returns (project, model folder)."""
    rows = coded_rows(n_transcripts=4, per_code=6)
    for row in rows[::7]:
        row["code"] = ""
    path = tmp_path / "seed.csv"
    write_coded_csv(path, rows)
    with Store.open(project) as store:
        import_coded(store, path, coder="anna", columns=CodedColumns(order="order"), exclusive=False)
        version = train(store).version
    return project, project / "classifiers" / version


def _rewrite(folder, change):
    with np.load(folder / "arrays.npz", allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    change(arrays)
    np.savez_compressed(folder / "arrays.npz", **arrays)


def _forge_header(folder, name, shape=None, descr=None):
    """Rewrite one member's .npy header (shape or dtype) and keep its data as it was."""
    with zipfile.ZipFile(folder / "arrays.npz") as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    raw = io.BytesIO(members[f"{name}.npy"])
    version = np.lib.format.read_magic(raw)
    old_shape, fortran, dtype = np.lib.format.read_array_header_1_0(raw) if version == (1, 0) else np.lib.format.read_array_header_2_0(raw)
    data = raw.read()
    out = io.BytesIO()
    header = {"descr": descr or np.lib.format.dtype_to_descr(dtype), "fortran_order": fortran, "shape": shape or old_shape}
    np.lib.format.write_array_header_1_0(out, header)
    members[f"{name}.npy"] = out.getvalue() + data
    with zipfile.ZipFile(folder / "arrays.npz", "w") as archive:
        for filename, content in members.items():
            archive.writestr(filename, content)


TAMPERINGS = {
    "coefficients of the wrong shape": (lambda f: _rewrite(f, lambda a: a.update(classifier_coef=np.zeros((3, 7)))),
                                        "'classifier_coef' has shape (3, 7)"),
    "ids of the wrong length": (lambda f: _rewrite(f, lambda a: a.update(exemplar_unit_ids=a["exemplar_unit_ids"][:-1])),
                                "'exemplar_unit_ids' has shape"),
    "a truncated archive": (lambda f: (f / "arrays.npz").write_bytes((f / "arrays.npz").read_bytes()[:600]),
                            "arrays.npz: not a readable array archive"),
    "a header declaring 74 GiB": (lambda f: _forge_header(f, "exemplar_vectors", shape=(160_000, 62_000, 2)),
                                  "declares shape (160000, 62000, 2) (79,360,000,000 bytes)"),
    "ids stored as floats": (lambda f: _rewrite(f, lambda a: a.update(exemplar_unit_ids=a["exemplar_unit_ids"] + 0.5)),
                             "'exemplar_unit_ids' has dtype float64"),
    "an object dtype in the header": (lambda f: _forge_header(f, "classifier_intercept", descr="|O"),
                                      "'classifier_intercept' has dtype object, not a plain number type"),
    "NaN coefficients": (lambda f: _rewrite(f, lambda a: a["classifier_coef"].__setitem__((0, 0), np.nan)),
                         "'classifier_coef' holds NaN or infinite values"),
    "Platt arrays of zeros": (lambda f: _rewrite(f, lambda a: a.update(classifier_platt=np.zeros_like(a["classifier_platt"]))),
                              "zero calibration slope"),
    "thresholds above one": (lambda f: _rewrite(f, lambda a: a.update(classifier_thresholds=a["classifier_thresholds"] + 2)),
                             "outside 0..1"),
    "a manifest that is not JSON": (lambda f: (f / "manifest.json").write_text("{codes", "utf-8"),
                                    "manifest.json: not a readable manifest"),
    "a missing array file": (lambda f: (f / "arrays.npz").unlink(), "arrays.npz: missing"),
    "examples per code that are not numbers": (
        lambda f: (f / "manifest.json").write_text(
            (f / "manifest.json").read_text("utf-8").replace('"examples_per_code": {', '"examples_per_code": {"x": "many", '),
            "utf-8"),
        "manifest.json: its examples or kappas per code are not numbers"),
}


@pytest.mark.parametrize("tampering", list(TAMPERINGS))
def test_a_tampered_model_is_one_error_line_naming_the_file(runner, trained, tampering):
    project, folder = trained
    tamper, message = TAMPERINGS[tampering]
    tamper(folder)
    before = dump_database(project)
    result = runner.invoke(main, ["suggest", "-p", str(project)])
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1 and result.output.startswith(f"Error: {folder}")
    assert message in result.output and "retrain with 'qcassist train'" in result.output
    assert dump_database(project) == before


def test_an_untampered_model_loads(runner, trained):
    project, _ = trained
    result = runner.invoke(main, ["suggest", "-p", str(project)])
    assert result.exit_code == 0, result.output


def test_a_version_folder_another_training_made_is_never_reused(store):
    (store.directory / "classifiers" / "20260101T000000-abc").mkdir(parents=True)  # the other process's, not yet registered
    version, folder = _allocate_version(store, "20260101T000000-abc")
    assert version == "20260101T000000-abc-2" and folder.is_dir()
    assert _allocate_version(store, "20260101T000000-abc")[0] == "20260101T000000-abc-3"


def test_a_failed_registration_removes_only_its_own_folder(trained, monkeypatch):
    project, other = trained  # the folder of a model registered before (as by another process)
    def refuse(*args, **kwargs):
        raise sqlite3.IntegrityError("UNIQUE constraint failed: classifiers.version")
    monkeypatch.setattr(Store, "add_classifier", refuse)
    with Store.open(project) as store, pytest.raises(sqlite3.IntegrityError):
        train(store)
    assert sorted(p.name for p in (project / "classifiers").iterdir()) == [other.name]
    assert sorted(p.name for p in other.iterdir()) == ["arrays.npz", "manifest.json"]


def test_a_full_disk_while_saving_leaves_no_partial_model_folder(runner, trained, monkeypatch):
    project, other = trained
    from qcassist.classify import CodeModel

    def full_disk(self, directory):
        (directory / "arrays.npz").write_bytes(b"PK\x03\x04 partial")
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(CodeModel, "save", full_disk)
    before = dump_database(project)
    result = runner.invoke(main, ["train", "-p", str(project)])
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert "No space left on device" in result.output and "nothing was registered" in result.output
    assert sorted(p.name for p in (project / "classifiers").iterdir()) == [other.name]
    assert dump_database(project) == before
    assert json.loads((other / "manifest.json").read_text("utf-8"))["version"] == other.name


def test_two_trainings_at_once_register_two_intact_models(project, tmp_path):
    """Whatever the interleaving: two versions, two whole folders, nothing removed (issue 15)."""
    import os
    import subprocess
    import sys

    rows = coded_rows(n_transcripts=4, per_code=6)
    path = tmp_path / "seed.csv"
    write_coded_csv(path, rows)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    command = [sys.executable, "-m", "qcassist", "train", "-p", str(project), "--encoder", "tfidf"]
    with Store.open(project) as store:
        import_coded(store, path, coder="anna", columns=CodedColumns(order="order"))
    subprocess.run(command, env=env, check=True, capture_output=True)  # fits the project's TF-IDF encoder once
    both = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    results = [(p.wait(timeout=120), p.stderr.read().decode()) for p in both]
    assert [code for code, _ in results] == [0, 0], results
    with Store.open(project) as store:
        versions = store.classifier_versions()
    assert len(versions) == 3 and sorted(p.name for p in (project / "classifiers").iterdir()) == sorted(versions)
    from qcassist.classify import CodeModel

    for version in versions:
        CodeModel.load(project / "classifiers" / version)  # every registered model is whole
