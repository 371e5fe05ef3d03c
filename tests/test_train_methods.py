"""train --method fast|finetuned|auto, the holdout-calibrated head, and a fine-tuned model in suggest and review.

The fine-tuning itself is H1's ``qcassist.finetune``; here a model-free stand-in with its API (tests/fake_finetune.py)
tests the product around it. The real fine-tuning runs once, in test_finetuned_minilm_end_to_end.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from qcassist.classify import TrainingSet
from qcassist.cli import main
from qcassist.ingest.coded import CodedColumns
from qcassist.seed import import_coded
from qcassist.store import Store
from qcassist.suggest import ModelError, load_latest_model, suggest, suggestion_rows, train
from qcassist.train_methods import plan_holdout
from qcassist.training import pair_inputs, train_head
from tests import fake_finetune
from tests.conftest import coded_rows, dump_database, write_coded_csv

COLUMNS = CodedColumns(order="order")

pytestmark = pytest.mark.usefixtures("fake_encoder")


@pytest.fixture
def fake_tuning(monkeypatch):
    """qcassist.finetune is the model-free stand-in; its calls are recorded in fake_finetune.CALLS."""
    monkeypatch.setitem(__import__("sys").modules, "qcassist.finetune", fake_finetune.module())
    fake_finetune.CALLS.clear()
    return fake_finetune.CALLS


def _seed(store, tmp_path, n_transcripts=5, per_code=6, blank_every=7):
    rows = coded_rows(n_transcripts=n_transcripts, per_code=per_code)
    for row in rows[::blank_every]:
        row["code"] = ""  # left for the model
    path = tmp_path / "seed.csv"
    write_coded_csv(path, rows)
    import_coded(store, path, coder="anna", columns=COLUMNS)
    return path


def _training_set(groups: list[str], codes_per_row: list[int], n_codes=3) -> TrainingSet:
    labels = np.zeros((len(groups), n_codes), np.int8)
    labels[np.arange(len(groups)), codes_per_row] = 1
    return TrainingSet(unit_ids=np.arange(len(groups)), texts=["x"] * len(groups), contexts=[""] * len(groups),
                       embeddings=np.zeros((len(groups), 4), np.float32), labels=labels, groups=groups,
                       codes=["a", "b", "c"][:n_codes])


# --- the holdout ------------------------------------------------------------------------------------


def test_the_holdout_is_a_fifth_of_the_transcripts_the_same_for_the_same_data_and_holds_every_code():
    from qcassist.classify import TrainOptions

    groups = [f"t{t:02d}" for t in range(10) for _ in range(9)]
    codes = [i % 3 for i in range(90)]
    first, why = plan_holdout(_training_set(groups, codes), exclusive=True, options=TrainOptions())
    again, _ = plan_holdout(_training_set(list(reversed(groups)), list(reversed(codes))), exclusive=True,
                            options=TrainOptions())
    assert why is None and len(first) == 2 and first == sorted(first) and first == again


def test_no_holdout_with_fewer_than_four_transcripts_or_a_code_all_in_one_transcript():
    from qcassist.classify import TrainOptions

    few, why = plan_holdout(_training_set([f"t{i % 3}" for i in range(30)], [i % 3 for i in range(30)]),
                            exclusive=True, options=TrainOptions())
    assert few == [] and "only 3 transcripts" in why
    groups = [f"t{t}" for t in range(5) for _ in range(10)]
    codes = [2 if g == "t0" else i % 2 for i, g in enumerate(groups)]  # code c only in t0
    none, why = plan_holdout(_training_set(groups, codes), exclusive=True, options=TrainOptions())
    assert none == [] and "no split of the 5 transcripts" in why


def test_a_classifier_fitted_with_a_holdout_is_judged_on_the_held_out_rows_only(hash_encoder):
    from qcassist.classify import CodeClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 5))
    labels = (X[:, 0] > 0).astype(int)
    Y = np.eye(2, dtype=np.int8)[labels]
    groups = np.repeat([f"t{i}" for i in range(8)], 10)
    holdout = np.isin(groups, ["t6", "t7"])
    fitted = CodeClassifier(exclusive=True).fit(X, Y, groups=groups, holdout=holdout)
    noisy = Y.copy()
    noisy[~holdout] = np.eye(2, dtype=np.int8)[rng.integers(0, 2, (~holdout).sum())]  # training rows made noise
    from_noise = CodeClassifier(exclusive=True).fit(X, noisy, groups=groups, holdout=holdout)
    assert fitted.cv_kappa_["kappa"] > 0.8 and from_noise.cv_kappa_["kappa"] < fitted.cv_kappa_["kappa"]


# --- methods ------------------------------------------------------------------------------------------


def test_finetuned_saves_the_body_beside_the_arrays_and_the_manifest_says_how_it_was_made(store, tmp_path, fake_tuning):
    _seed(store, tmp_path)
    report = train(store, method="finetuned", finetune={"epochs": 2})
    directory = store.directory / "classifiers" / report.version
    manifest = fake_finetune.manifest_of(directory)
    assert report.method == manifest["method"] == "finetuned"
    assert sorted(p.name for p in directory.iterdir()) == ["arrays.npz", "body.safetensors", "manifest.json"]
    assert manifest["encoder"].startswith("finetuned:") and manifest["encoder_spec"] == "default"
    assert manifest["body"]["sha256"] and manifest["body"]["options"]["epochs"] == 2
    assert manifest["holdout_transcripts"] == report.holdout_transcripts and len(report.holdout_transcripts) == 1
    assert manifest["cv"]["kind"].startswith("on held-out transcripts") and len(manifest["training_data_sha256"]) == 64
    # the body was tuned on the other transcripts only
    held = report.holdout_transcripts[0]
    coded_elsewhere = sum(1 for r in coded_rows(5, 6)[:] if r["transcript"] != held)
    assert 0 < fake_tuning[0]["rows"] < coded_elsewhere
    assert store.latest_classifier()[1]["encoder"] == manifest["encoder"]


def test_the_fine_tuned_head_reads_the_frozen_unit_vector_beside_the_tuned_pair_vector(store, tmp_path, fake_tuning):
    from qcassist.project import project_encoder
    from qcassist.suggest import project_units, unit_vectors
    from qcassist.train_methods import unit_and_pair

    _seed(store, tmp_path)
    train(store, method="finetuned")
    model = load_latest_model(store)
    assert model.manifest["body_features"] == "unit+pair"
    units = project_units(store)[:3]
    base = project_encoder(store, "default").encode([u.text for u in units])
    pair = model.body.encoder().encode(pair_inputs(units, model.body.options.context_words))
    vectors = unit_vectors(store, model, units)
    assert vectors.shape == (3, base.shape[1] + pair.shape[1])
    assert np.allclose(vectors, unit_and_pair(base, pair)) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert model.exemplar_vectors.shape[1] == vectors.shape[1]  # rationales compare like with like
    train_head(store)
    assert load_latest_model(store).manifest["body_features"] == "unit+pair"  # the review's refit keeps the choice


def test_suggest_with_a_fine_tuned_model_reads_each_unit_with_its_context(store, tmp_path, fake_tuning):
    _seed(store, tmp_path)
    report = train(store, method="finetuned")
    result = suggest(store)
    rows = suggestion_rows(store)
    assert result.model_version == report.version and result.units == 13 and rows
    assert all(0 <= r["probability"] <= 1 and r["model_version"] == report.version for r in rows)
    coded = {u for u in np.asarray(load_latest_model(store).exemplar_unit_ids).tolist()}
    assert all(set(map(int, r["rationale_unit_ids"].split())) <= coded for r in rows)
    from qcassist.decisions import review_queue

    # the review order scores the queue with the model's own (tuned) vectors
    queue = review_queue(store, coder="ann", strategy="uncertainty")
    assert sorted(item.unit_id for item in queue) == sorted({s.unit_id for s in store.suggestions()})


def test_a_tampered_body_is_refused_by_suggest_in_one_line(runner, project, tmp_path, fake_tuning):
    with Store.open(project) as store:
        _seed(store, tmp_path)
        report = train(store, method="finetuned")
    body = project / "classifiers" / report.version / "body.safetensors"
    data = bytearray(body.read_bytes())
    data[10] ^= 1
    body.write_bytes(bytes(data))
    before = dump_database(project)
    result = runner.invoke(main, ["suggest", "-p", str(project)])
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert result.output.startswith("Error: ") and "body.safetensors" in result.output and "sha256" in result.output
    assert dump_database(project) == before


def test_auto_keeps_the_fast_model_and_says_why_when_there_are_too_few_coded_units(runner, project, tmp_path, fake_tuning):
    with Store.open(project) as store:
        _seed(store, tmp_path)
    result = runner.invoke(main, ["train", "-p", str(project)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Fast model kept without fine-tuning: 77 units coded with the classifier's codes are too few")
    assert fake_tuning == []  # nothing was fine-tuned
    with Store.open(project) as store:
        assert store.latest_classifier()[1]["method"] == "fast"


def test_finetuned_with_too_few_transcripts_is_refused_in_one_line(runner, project, tmp_path, fake_tuning):
    with Store.open(project) as store:
        _seed(store, tmp_path, n_transcripts=3)
    before = dump_database(project)
    result = runner.invoke(main, ["train", "-p", str(project), "--method", "finetuned"])
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert result.output == ("Error: cannot fine-tune: only 3 transcripts have coded units; fine-tuning needs at least "
                             "4, a fifth of them held out to calibrate and judge it. Train with --method fast.\n")
    assert dump_database(project) == before and fake_tuning == []


def test_auto_compares_both_on_the_same_held_out_units_and_says_which_it_kept(runner, project, tmp_path, fake_tuning):
    with Store.open(project) as store:
        _seed(store, tmp_path, n_transcripts=6, per_code=12, blank_every=50)
    result = runner.invoke(main, ["train", "-p", str(project), "--epochs", "1"])
    assert result.exit_code == 0, result.output
    with Store.open(project) as store:
        manifest = store.latest_classifier()[1]
    comparison = manifest["comparison"]
    assert comparison["transcripts"] == 1 and comparison["units"] == 35  # one transcript of 36 units, one uncoded
    assert comparison["winner"] == manifest["method"] and fake_tuning[0]["options"].epochs == 1
    kept = "fine-tuned kept" if comparison["winner"] == "finetuned" else "fast kept"
    assert result.output.splitlines()[0] == (
        f"Fine-tuned kappa {comparison['finetuned_kappa']:.2f} vs fast {comparison['fast_kappa']:.2f} on 35 held-out "
        f"units of 1 transcripts: {kept}.")


def test_method_fast_prints_what_train_always_printed(runner, project, tmp_path, fake_tuning):
    with Store.open(project) as store:
        _seed(store, tmp_path)
    result = runner.invoke(main, ["train", "-p", str(project), "--method", "fast"])
    lines = result.output.splitlines()
    assert result.exit_code == 0 and len(lines) == 2
    assert lines[0].startswith("Trained model ") and lines[0].endswith(" s (encoder test-hash-64).")
    assert lines[1] == "  classifier: trust, money, access" and fake_tuning == []


# --- safety --------------------------------------------------------------------------------------------


def test_ctrl_c_during_fine_tuning_leaves_the_project_as_it_was(store, tmp_path, fake_tuning):
    _seed(store, tmp_path)
    train(store)
    versions = store.classifier_versions()
    folders = sorted(p.name for p in (store.directory / "classifiers").iterdir())
    before = dump_database(store.directory)

    def interrupt(state):
        if state["epoch"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(store, method="finetuned", progress=interrupt)
    assert store.classifier_versions() == versions and dump_database(store.directory) == before
    assert sorted(p.name for p in (store.directory / "classifiers").iterdir()) == folders


def test_ctrl_c_while_the_fine_tuned_model_is_saved_removes_its_folder(store, tmp_path, fake_tuning, monkeypatch):
    _seed(store, tmp_path)
    before = dump_database(store.directory)

    def interrupted_save(self, directory):
        raise KeyboardInterrupt

    monkeypatch.setattr("qcassist.classify.CodeModel.save", interrupted_save)
    with pytest.raises(KeyboardInterrupt):
        train(store, method="finetuned")
    assert dump_database(store.directory) == before and not any((store.directory / "classifiers").iterdir())


def test_an_unregistered_model_folder_left_by_a_killed_training_is_ignored(store, tmp_path, fake_tuning):
    _seed(store, tmp_path)
    orphan = store.directory / "classifiers" / "20260101T000000-deadbeef"
    orphan.mkdir(parents=True)
    (orphan / "body.safetensors").write_bytes(b"half written")
    report = train(store, method="finetuned")
    assert store.latest_classifier()[0] == report.version and suggest(store).model_version == report.version


# --- the review loop --------------------------------------------------------------------------------------


def test_retraining_a_fine_tuned_model_refits_only_its_head(store, tmp_path, fake_tuning):
    _seed(store, tmp_path)
    first = train(store, method="finetuned")
    tuned = len(fake_tuning)
    second = train_head(store)
    old = fake_finetune.manifest_of(store.directory / "classifiers" / first.version)
    new = fake_finetune.manifest_of(store.directory / "classifiers" / second.version)
    assert second.version != first.version and len(fake_tuning) == tuned  # no fine-tuning
    assert new["body"]["sha256"] == old["body"]["sha256"] and new["encoder"] == old["encoder"]
    assert new["holdout_transcripts"] == old["holdout_transcripts"] and new["method"] == "finetuned"
    assert suggest(store).model_version == second.version


def test_the_review_rounds_refit_the_head_of_a_fine_tuned_model(store, tmp_path, fake_tuning):
    from qcassist.decisions import QueueFilter
    from qcassist.review.retrain import retrain_and_queue

    _seed(store, tmp_path)
    first = train(store, method="finetuned")
    suggest(store)
    tuned = len(fake_tuning)
    retrain_and_queue(store.directory, "ann", "sequential", QueueFilter())
    latest = store.latest_classifier()[1]
    assert len(fake_tuning) == tuned and latest["version"] != first.version and latest["method"] == "finetuned"
    retrain_and_queue(store.directory, "ann", "sequential", QueueFilter(), refine=True)
    assert len(fake_tuning) == tuned + 1  # --refine: one full fine-tune


# --- cross-validation of the fine-tuned candidates (the benchmark's) --------------------------------------


@pytest.mark.parametrize("method", ["finetuned", "network"])
@pytest.mark.parametrize("exclusive", [True, False])
def test_cross_validation_tunes_a_body_per_fold_and_calibrates_on_a_held_out_fifth(fake_tuning, method, exclusive):
    from qcassist.evaluation import cross_validate, summarize

    rows = coded_rows(n_transcripts=6, per_code=7, seed=3)
    codes = ["trust", "money", "access"]
    labels = np.array([[1 if r["code"] == c else 0 for c in codes] for r in rows], np.int8)
    texts = [r["text"] for r in rows]
    data = TrainingSet(unit_ids=np.arange(len(rows)), texts=texts, contexts=[""] + texts[:-1],
                       embeddings=np.zeros((len(rows), 4), np.float32), labels=labels,
                       groups=[r["transcript"] for r in rows], codes=codes,
                       inputs=[fake_finetune.pair_input(t, "participant", c, "interviewer")
                               for t, c in zip(texts, [""] + texts[:-1])])
    cv = cross_validate(data, exclusive=exclusive, method=method, finetune_options={"epochs": 1})
    assert cv.folds == 5 and len(fake_tuning) == 5
    # each fold's body was tuned on its training transcripts (4 or 5 of the 6) less one held out, of 21 units each
    assert sorted(call["rows"] for call in fake_tuning) == [3 * 21] + [4 * 21] * 4
    assert ((cv.probabilities >= 0) & (cv.probabilities <= 1)).all() and cv.probabilities.shape == (126, 3)
    assert summarize(cv)["kappa"] > 0.5


def test_tuned_methods_compared_on_the_same_folds_share_one_body_per_fold(fake_tuning):
    from qcassist.evaluation import cross_validate

    rows = coded_rows(n_transcripts=6, per_code=7, seed=3)
    codes = ["trust", "money", "access"]
    texts = [r["text"] for r in rows]
    data = TrainingSet(unit_ids=np.arange(len(rows)), texts=texts, contexts=[""] + texts[:-1],
                       embeddings=np.eye(len(rows), 8, dtype=np.float32),
                       labels=np.array([[1 if r["code"] == c else 0 for c in codes] for r in rows], np.int8),
                       groups=[r["transcript"] for r in rows], codes=codes,
                       inputs=[fake_finetune.pair_input(t, "participant", c, "interviewer")
                               for t, c in zip(texts, [""] + texts[:-1])])
    bodies: dict = {}
    results = {m: cross_validate(data, exclusive=True, method=m, finetune_options={"epochs": 1}, bodies=bodies)
               for m in ("finetuned", "combined", "network")}
    assert len(fake_tuning) == 5  # not 15
    assert all(cv.probabilities.shape == (126, 3) for cv in results.values())
    assert not np.array_equal(results["finetuned"].probabilities, results["combined"].probabilities)


def test_cross_validation_refuses_a_fine_tuned_method_without_pair_inputs():
    from qcassist.evaluation import cross_validate

    data = _training_set([f"t{i % 4}" for i in range(24)], [i % 3 for i in range(24)])
    with pytest.raises(ValueError, match="needs data.inputs"):
        cross_validate(data, exclusive=True, method="finetuned")


def test_the_comparison_says_when_the_time_budget_cut_the_fine_tuning_short():
    from qcassist.train_methods import comparison_line

    comparison = {"finetuned_kappa": 0.637, "fast_kappa": 0.7625, "units": 140, "transcripts": 5, "winner": "fast",
                  "finetuning": {"best_epoch": 0, "epochs": 3, "stopped_early": True, "seconds": 180.0}}
    assert comparison_line(comparison) == (
        "fine-tuned kappa 0.64 vs fast 0.76 on 140 held-out units of 5 transcripts: fast kept (the fine-tuning "
        "stopped at --max-minutes; its best of 3 epochs was none: no epoch finished)")


def test_evaluate_says_its_figures_are_the_fast_models_when_the_active_one_is_fine_tuned(store, tmp_path, fake_tuning):
    from qcassist.suggest import evaluate

    _seed(store, tmp_path)
    assert evaluate(store, with_learning_curve=False)["active_model"] is None  # no model yet
    report = train(store, method="finetuned")
    result = evaluate(store, with_learning_curve=False)
    assert result["method"] == "fast" and result["active_model"]["version"] == report.version
    assert result["active_model"]["holdout_kappa"] == load_latest_model(store).manifest["cv"]["kappa"]
