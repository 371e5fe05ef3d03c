"""What the model adds: a plain TF-IDF + logistic regression baseline on the model's own folds.

A user sees the model's kappa beside the kappa of the simplest text classifier that
reads the same units: word 1-2-gram TF-IDF of the unit text and scikit-learn's
``LogisticRegression`` with its defaults, nothing else (no context, no embeddings, no
calibration, no thresholds). Both are cross-validated on the same units, the same
codes and the same grouped folds, so the difference is the model's doing, not the split's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from .classify import TrainingSet
from .evaluation import CrossValidation, summarize

BASELINE_NAME = "TF-IDF + logistic regression"
BASELINE_FEATURES = "word 1-2-grams of the unit text"
MULTI_LABEL_CUT = 0.5  # the baseline has no tuned thresholds: a code is suggested when more likely than not


@dataclass(frozen=True)
class Folds:
    """The units and codes a cross-validation evaluated, and its (train, test) splits over them."""

    rows: np.ndarray  # indices into the TrainingSet
    columns: list[int]  # columns of TrainingSet.labels (its codes) that were evaluated
    splits: list[tuple[np.ndarray, np.ndarray]]  # positions within ``rows``

    def test_fold(self) -> np.ndarray:
        """For each evaluated unit, the number of the fold that tested it."""
        fold = np.full(len(self.rows), -1, dtype=np.int64)
        for number, (_, test) in enumerate(self.splits):
            fold[test] = number
        return fold


def folds_of(data: TrainingSet, cv: CrossValidation) -> Folds:
    """The folds ``evaluation.cross_validate`` ran for ``cv``: its units, its codes, its grouped splits.

    Rebuilt with the rule and the GroupKFold that cross_validate uses (deterministic: no
    shuffling), and checked against the truth it stored, so a drift between the two fails loudly.
    """
    columns = [data.codes.index(code) for code in cv.codes]
    Y = data.labels[:, columns]
    rows = np.flatnonzero((Y == 1).any(axis=1)) if cv.exclusive else np.flatnonzero((Y >= 0).all(axis=1))
    Y = Y[rows]
    if Y.shape != cv.labels.shape or not np.array_equal(Y, cv.labels):
        raise AssertionError("the baseline's units differ from the cross-validation's; evaluation.cross_validate "
                             "changed how it picks units, so baseline.folds_of must follow it")
    groups = np.asarray(data.groups)[rows]
    splits = [(train, test) for train, test in GroupKFold(cv.folds).split(Y, Y.argmax(axis=1), groups)]
    return Folds(rows, columns, splits)


def baseline_cross_validate(data: TrainingSet, folds: Folds, *, exclusive: bool) -> CrossValidation:
    """Out-of-fold probabilities of TF-IDF + logistic regression on these folds, as a CrossValidation."""
    codes = [data.codes[j] for j in folds.columns]
    Y = data.labels[np.ix_(folds.rows, folds.columns)]
    texts = [data.texts[i] for i in folds.rows]
    probabilities = np.zeros(Y.shape)
    for train, test in folds.splits:
        vectorizer = TfidfVectorizer(ngram_range=(1, 2))
        X_train = vectorizer.fit_transform([texts[i] for i in train])
        X_test = vectorizer.transform([texts[i] for i in test])
        if exclusive:
            probabilities[test] = _exclusive_fold(X_train, Y[train], X_test, len(codes))
        else:
            probabilities[test] = _multi_label_fold(X_train, Y[train], X_test)
    if exclusive:
        suggested = np.zeros(Y.shape, dtype=np.int8)
        suggested[np.arange(len(Y)), probabilities.argmax(axis=1)] = 1
    else:
        suggested = (probabilities >= MULTI_LABEL_CUT).astype(np.int8)
    return CrossValidation(codes, Y, probabilities, suggested, exclusive, folds=len(folds.splits))


def _exclusive_fold(X_train, Y_train: np.ndarray, X_test, n_codes: int) -> np.ndarray:
    """One multinomial model; a code absent from the training fold gets probability 0 on its test units."""
    y = Y_train.argmax(axis=1)
    out = np.zeros((X_test.shape[0], n_codes))
    if len(set(y.tolist())) < 2:
        out[:, y[0]] = 1.0
        return out
    model = LogisticRegression(max_iter=1000).fit(X_train, y)
    out[:, model.classes_] = model.predict_proba(X_test)
    return out


def _multi_label_fold(X_train, Y_train: np.ndarray, X_test) -> np.ndarray:
    """One binary model per code; a code with no positive (or no negative) in the fold gets that constant."""
    out = np.zeros((X_test.shape[0], Y_train.shape[1]))
    for j in range(Y_train.shape[1]):
        y = Y_train[:, j]
        if y.min() == y.max():
            out[:, j] = float(y[0])
            continue
        out[:, j] = LogisticRegression(max_iter=1000).fit(X_train, y).predict_proba(X_test)[:, 1]
    return out


def compare_with_baseline(data: TrainingSet, cv: CrossValidation, model_summary: dict) -> dict:
    """The baseline's figures on ``cv``'s folds and what the model adds over it (model minus baseline)."""
    summary = summarize(baseline_cross_validate(data, folds_of(data, cv), exclusive=cv.exclusive))
    return {
        "name": BASELINE_NAME, "features": BASELINE_FEATURES, "folds": cv.folds, "units": summary["units"],
        "kappa": summary["kappa"], "macro_f1": summary["macro_f1"], "ece": summary["ece"],
        "per_code_f1": {code: m["f1"] for code, m in summary["per_code"].items()},
        "model_adds": {"kappa": model_summary["kappa"] - summary["kappa"],
                       "macro_f1": model_summary["macro_f1"] - summary["macro_f1"]},
    }


def describe_gain(baseline: dict) -> str:
    """One sentence: how much kappa (and macro-F1) the model adds over the baseline, or loses to it."""
    kappa, f1 = baseline["model_adds"]["kappa"], baseline["model_adds"]["macro_f1"]
    return (f"the model adds {kappa:+.2f} kappa ({f1:+.2f} macro-F1) over {BASELINE_NAME} on your data"
            if kappa >= 0 else
            f"the model is {-kappa:.2f} kappa ({f1:+.2f} macro-F1) below {BASELINE_NAME} on your data: "
            "code more units, or try another --encoder")
