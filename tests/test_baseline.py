from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from qcassist.baseline import baseline_cross_validate, compare_with_baseline, describe_gain, folds_of
from qcassist.evaluation import cross_validate, summarize
from tests.test_classify import _training_set


def _spy_on_splits(monkeypatch) -> list[tuple[list[int], list[int]]]:
    """Record the outer (train, test) splits evaluation.cross_validate runs (not the calibration's inner ones)."""
    from qcassist import evaluation

    seen = []

    class Spy(evaluation.GroupKFold):
        def split(self, X, y=None, groups=None):
            for train, test in super().split(X, y, groups):
                seen.append((train.tolist(), test.tolist()))
                yield train, test

    monkeypatch.setattr(evaluation, "GroupKFold", Spy)
    return seen


@pytest.mark.parametrize("exclusive", [True, False])
def test_baseline_runs_on_the_models_own_folds(monkeypatch, exclusive):
    data = _training_set(per_code=6, n_transcripts=5)
    seen = _spy_on_splits(monkeypatch)
    cv = cross_validate(data, exclusive=exclusive, folds=5)
    folds = folds_of(data, cv)
    assert [(train.tolist(), test.tolist()) for train, test in folds.splits] == seen
    assert len(seen) == 5 and sorted(folds.test_fold().tolist()) == sorted(np.repeat(range(5), 18).tolist())
    baseline = baseline_cross_validate(data, folds, exclusive=exclusive)
    assert baseline.codes == cv.codes and np.array_equal(baseline.labels, cv.labels)


def test_baseline_follows_the_units_cross_validation_keeps():
    # multi-label: a unit with an unknown entry (-1) is not evaluated, by the model or the baseline
    data = _training_set(per_code=6, n_transcripts=5)
    labels = data.labels.copy()
    labels[[0, 7, 40], 1] = -1
    data = replace(data, labels=labels)
    cv = cross_validate(data, exclusive=False, folds=5)
    folds = folds_of(data, cv)
    assert len(folds.rows) == len(cv.labels) == len(data.texts) - 3 and not {0, 7, 40} & set(folds.rows.tolist())


def test_baseline_is_plain_tfidf_and_logistic_regression_fold_by_fold():
    data = _training_set(per_code=6, n_transcripts=4)
    cv = cross_validate(data, exclusive=True, folds=4)
    folds = folds_of(data, cv)
    baseline = baseline_cross_validate(data, folds, exclusive=True)
    train, test = folds.splits[0]
    texts = np.array(data.texts)[folds.rows]
    vectorizer = TfidfVectorizer(ngram_range=(1, 2))
    model = LogisticRegression(max_iter=1000).fit(vectorizer.fit_transform(texts[train]), cv.labels[train].argmax(axis=1))
    expected = model.predict_proba(vectorizer.transform(texts[test]))
    assert np.allclose(baseline.probabilities[test], expected)


def test_baseline_figures_are_deterministic_and_compared_with_the_model():
    data = _training_set(per_code=6, n_transcripts=5)
    cv = cross_validate(data, exclusive=True, folds=5)
    model = summarize(cv)
    first, second = compare_with_baseline(data, cv, model), compare_with_baseline(data, cv, model)
    assert first == second
    assert first["folds"] == 5 and first["units"] == model["units"] == 90
    assert set(first["per_code_f1"]) == {"trust", "money", "access"}
    assert first["model_adds"]["kappa"] == pytest.approx(model["kappa"] - first["kappa"])
    assert 0.5 < first["kappa"] <= 1.0  # the synthetic codes are told apart by their words


def test_gain_is_said_in_one_sentence_either_way():
    ahead = {"model_adds": {"kappa": 0.05, "macro_f1": 0.031}}
    behind = {"model_adds": {"kappa": -0.02, "macro_f1": -0.01}}
    assert describe_gain(ahead) == ("the model adds +0.05 kappa (+0.03 macro-F1) over TF-IDF + logistic regression "
                                    "on your data")
    assert describe_gain(behind).startswith("the model is 0.02 kappa (-0.01 macro-F1) below TF-IDF + logistic regression")


def test_folds_of_refuses_a_cross_validation_of_other_units():
    data = _training_set(per_code=6, n_transcripts=5)
    cv = cross_validate(data, exclusive=True, folds=5)
    with pytest.raises(AssertionError, match="units differ"):
        folds_of(_training_set(per_code=5, n_transcripts=5), cv)


def test_evaluate_prints_and_stores_the_baseline_and_the_report_shows_it(fake_encoder, runner, project, tmp_path):
    from qcassist.cli import main
    from qcassist.report import write_report
    from qcassist.store import Store
    from tests.conftest import coded_rows, write_coded_csv

    path = tmp_path / "seed.csv"
    write_coded_csv(path, coded_rows(n_transcripts=4, per_code=6))
    p = str(project)
    assert runner.invoke(main, ["import-coded", "-p", p, str(path), "--coder", "anna", "--order-column", "order"]).exit_code == 0
    result = runner.invoke(main, ["evaluate", "-p", p, "--folds", "4", "--no-learning-curve"])
    assert result.exit_code == 0, result.output
    with Store.open(project) as store:
        stored = store.latest_evaluation()
        html = write_report(store, tmp_path / "report.html", bootstrap=20).read_text(encoding="utf-8")
    baseline = stored["baseline"]
    lines = result.output.splitlines()
    assert (f"baseline TF-IDF + logistic regression (word 1-2-grams of the unit text), same folds: "
            f"macro-F1 {baseline['macro_f1']:.3f}   kappa {baseline['kappa']:.3f}") in lines
    assert describe_gain(baseline) in lines and baseline["folds"] == stored["folds"] == 4
    assert "Baseline TF-IDF + logistic regression (word 1-2-grams of the unit text), same folds: kappa" in html
    assert "Model minus baseline: kappa" in html
