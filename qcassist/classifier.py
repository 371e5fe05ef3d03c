"""The calibrated linear classifier over codes: a scikit-learn estimator on feature arrays.

One logistic regression per code (multi-label) or one multinomial model (exclusive
codebook); probabilities calibrated on out-of-fold scores (Platt scaling per code, or
temperature scaling) and per-code thresholds chosen on the same out-of-fold predictions.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, StratifiedKFold
from sklearn.utils.validation import check_is_fitted


# --- the classifier ---------------------------------------------------------------


class CodeClassifier(ClassifierMixin, BaseEstimator):
    """Calibrated linear classifier over codes, with per-code decision thresholds.

    ``Y`` is an (n_units, n_codes) matrix: 1 the code applies, 0 it does not, -1 unknown
    (e.g. a unit a reviewer only rejected one code for: a negative for that code,
    unknown for the others). Multi-label by default, one model per code on its known
    rows; with ``exclusive=True`` each row has exactly one 1 and a multinomial model is used.
    """

    def __init__(self, *, C: float = 1.0, exclusive: bool = False, class_weight: str | None = None,
                 calibration_folds: int = 3, random_state: int = 0):
        self.C = C
        self.exclusive = exclusive
        self.class_weight = class_weight
        self.calibration_folds = calibration_folds
        self.random_state = random_state

    # fitting

    def fit(self, X, Y, groups=None, holdout=None) -> CodeClassifier:
        """Fit; calibrate and choose thresholds out of fold, or on the ``holdout`` rows (a bool mask) when given.

        With ``holdout`` the model is fitted on the other rows only and the held-out rows serve for
        calibration, thresholds and ``cv_kappa_``: for a head on a fine-tuned body, which has seen its
        training units, out-of-fold scores on those units would be over-confident.
        """
        Y = np.asarray(Y, dtype=np.int8)
        if Y.ndim != 2 or Y.shape[0] != X.shape[0]:
            raise ValueError(f"Y must be (n_units, n_codes), but X has {X.shape[0]} rows and Y shape {Y.shape}")
        if ((Y == 1).sum(axis=0) < 2).any():
            raise ValueError("every code needs at least two positive units")
        self.n_codes_ = Y.shape[1]
        if holdout is not None:
            return self._fit_with_holdout(X, Y, np.asarray(groups) if groups is not None else None,
                                          np.asarray(holdout, dtype=bool))
        folds = self._folds(Y, groups)
        self._fit_final(X, Y)  # first: folds missing a code fall back to it
        scores = self._out_of_fold_scores(X, Y, folds)
        self._calibrate(scores, Y)
        out_of_fold = self._calibrated(scores)
        self.thresholds_ = self._choose_thresholds(out_of_fold, Y)
        self.cv_kappa_ = self._kappas(out_of_fold, Y, folds)
        return self

    def _fit_with_holdout(self, X, Y, groups, holdout: np.ndarray) -> CodeClassifier:
        if holdout.shape != (Y.shape[0],):
            raise ValueError(f"holdout must be a mask of the {Y.shape[0]} rows, but has shape {holdout.shape}")
        train, held = np.flatnonzero(~holdout), np.flatnonzero(holdout)
        if ((Y[train] == 1).sum(axis=0) < 2).any() or ((Y[held] == 1).sum(axis=0) < 2).any():
            raise ValueError("every code needs at least two positive units on each side of the holdout")
        self._fit_final(X[train], Y[train])
        scores = self._scores(X[held])
        self._calibrate(scores, Y[held])
        calibrated = self._calibrated(scores)
        self.thresholds_ = self._choose_thresholds(calibrated, Y[held])
        halves = self._folds(Y[held], groups[held] if groups is not None else None, splits=2)
        self.cv_kappa_ = self._kappas(calibrated, Y[held], halves)
        return self

    def _new_model(self) -> LogisticRegression:
        # tol 1e-3 halves the fit time on AnnoMI (3,700 units, 75k features) for a negligible change in kappa
        return LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=2000, tol=1e-3)

    def _fit_final(self, X, Y) -> None:
        if self.exclusive:
            model = self._new_model().fit(X, Y.argmax(axis=1))
            coef = np.zeros((self.n_codes_, X.shape[1]))
            intercept = np.zeros(self.n_codes_)
            coef[model.classes_] = model.coef_ if len(model.classes_) > 2 else np.vstack([-model.coef_, model.coef_]) / 2
            intercept[model.classes_] = model.intercept_ if len(model.classes_) > 2 else np.array([-1, 1]) * model.intercept_ / 2
            self.coef_, self.intercept_ = coef, intercept
        else:
            models = [self._new_model().fit(X[Y[:, j] >= 0], Y[Y[:, j] >= 0, j]) for j in range(self.n_codes_)]
            self.coef_ = np.vstack([m.coef_[0] for m in models])
            self.intercept_ = np.array([m.intercept_[0] for m in models])

    def _folds(self, Y, groups, splits: int | None = None):
        splits = splits or self.calibration_folds
        labels = Y.argmax(axis=1)
        if groups is not None and len(set(groups)) >= splits:
            return list(GroupKFold(splits).split(Y, labels, groups))
        n_splits = max(2, min(splits, int(np.bincount(labels).min()) if len(labels) else 2))
        with warnings.catch_warnings():
            # a code on one unit of this training set fits in one fold only; _out_of_fold_scores handles that, and
            # scikit-learn's warning reached the user as five lines of Python from 'qcassist evaluate'
            warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
            return list(StratifiedKFold(n_splits, shuffle=True, random_state=self.random_state).split(Y, labels))

    def _out_of_fold_scores(self, X, Y, folds) -> np.ndarray:
        """Decision scores for every unit from models that did not see it (the final model where a fold lacks a code)."""
        scores = np.zeros(Y.shape, dtype=np.float64)
        for train, test in folds:
            inner = CodeClassifier(C=self.C, exclusive=self.exclusive, class_weight=self.class_weight)
            inner.n_codes_ = self.n_codes_
            Y_train = Y[train]
            learnable = (
                len(np.unique(Y_train.argmax(axis=1))) >= 2 if self.exclusive
                else all(0 < (Y_train[:, j] == 1).sum() < (Y_train[:, j] >= 0).sum() for j in range(self.n_codes_))
            )
            if learnable:
                inner._fit_final(X[train], Y_train)
                scores[test] = inner._scores(X[test])
            else:  # a code absent from this fold: fall back to the full model's ordering for it
                scores[test] = self._scores(X[test])
        return scores

    def _scores(self, X) -> np.ndarray:
        return np.asarray(X @ self.coef_.T) + self.intercept_

    def _calibrate(self, scores: np.ndarray, Y: np.ndarray) -> None:
        if self.exclusive:
            labels = Y.argmax(axis=1)

            def nll(log_t):
                logp = _log_softmax(scores / np.exp(log_t))
                return -logp[np.arange(len(labels)), labels].mean()

            self.temperature_ = float(np.exp(minimize_scalar(nll, bounds=(-3, 3), method="bounded").x))
            self.platt_ = np.zeros((self.n_codes_, 2))
        else:
            self.temperature_ = 1.0
            known = [Y[:, j] >= 0 for j in range(self.n_codes_)]
            self.platt_ = np.array([_platt(scores[known[j], j], Y[known[j], j]) for j in range(self.n_codes_)])

    def _calibrated(self, scores: np.ndarray) -> np.ndarray:
        if self.exclusive:
            return np.exp(_log_softmax(scores / self.temperature_))
        return 1.0 / (1.0 + np.exp(-(scores * self.platt_[:, 0] + self.platt_[:, 1])))

    def _choose_thresholds(self, probabilities: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """Per code, the probability cut that maximizes that code's F1 on out-of-fold predictions."""
        thresholds = np.zeros(self.n_codes_)
        winner = probabilities.argmax(axis=1)
        for j in range(self.n_codes_):
            p = probabilities[:, j] if not self.exclusive else np.where(winner == j, probabilities[:, j], 0.0)
            known = Y[:, j] >= 0
            thresholds[j] = _best_f1_cut(p[known], Y[known, j])
        return thresholds

    def _kappas(self, probabilities: np.ndarray, Y: np.ndarray, folds) -> dict:
        """Cohen's kappa of the out-of-fold suggestions against the truth: overall and per code.

        Each fold's units are cut at thresholds chosen on the other folds: thresholds
        chosen on the units they are scored on made a model of random labels look like
        kappa 0.3-0.45 with 36 coded units.
        """
        suggested = np.zeros(Y.shape, dtype=np.int8)
        for train, test in folds:
            thresholds = self._choose_thresholds(probabilities[train], Y[train])
            suggested[test] = self.suggest_mask(probabilities[test], thresholds)
        per_code = []
        for j in range(self.n_codes_):
            known = Y[:, j] >= 0
            per_code.append(_kappa(Y[known, j], suggested[known, j]))
        if self.exclusive:
            overall = _kappa(Y.argmax(axis=1), probabilities.argmax(axis=1))
        else:
            overall = float(np.mean(per_code))
        return {"kappa": overall, "per_code": per_code}

    # predicting

    def predict_proba(self, X) -> np.ndarray:
        """Calibrated probability of each code for each unit, shape (n_units, n_codes)."""
        check_is_fitted(self, "coef_")
        return self._calibrated(self._scores(X))

    def predict(self, X) -> np.ndarray:
        """0/1 matrix of suggested codes: above the code's threshold (and the top code, if exclusive)."""
        return self.suggest_mask(self.predict_proba(X))

    def suggest_mask(self, probabilities: np.ndarray, thresholds: np.ndarray | None = None) -> np.ndarray:
        above = probabilities >= (self.thresholds_ if thresholds is None else thresholds)
        if self.exclusive:
            top = np.zeros_like(above)
            top[np.arange(len(probabilities)), probabilities.argmax(axis=1)] = True
            above &= top
        return above.astype(np.int8)

    # state

    def state(self) -> tuple[dict, dict[str, np.ndarray]]:
        check_is_fitted(self, "coef_")
        meta = {"C": self.C, "exclusive": self.exclusive, "class_weight": self.class_weight,
                "calibration_folds": self.calibration_folds, "temperature": self.temperature_}
        arrays = {"coef": self.coef_, "intercept": self.intercept_, "platt": self.platt_, "thresholds": self.thresholds_}
        return meta, arrays

    @classmethod
    def from_state(cls, meta: dict, arrays: dict[str, np.ndarray]) -> CodeClassifier:
        model = cls(C=meta["C"], exclusive=meta["exclusive"], class_weight=meta["class_weight"],
                    calibration_folds=meta["calibration_folds"])
        model.coef_, model.intercept_ = arrays["coef"], arrays["intercept"]
        model.platt_, model.thresholds_ = arrays["platt"], arrays["thresholds"]
        model.temperature_ = meta["temperature"]
        model.n_codes_ = len(model.intercept_)
        return model


class CalibratedScores(BaseEstimator):
    """Calibration (temperature or Platt, as ``CodeClassifier``) and per-code thresholds for scores made elsewhere,
    e.g. a fine-tuned network's own head, fitted on held-out rows."""

    def __init__(self, *, exclusive: bool = False):
        self.exclusive = exclusive

    def fit(self, scores: np.ndarray, Y: np.ndarray) -> CalibratedScores:
        inner = CodeClassifier(exclusive=self.exclusive)
        inner.n_codes_ = Y.shape[1]
        inner._calibrate(scores, Y)
        inner.thresholds_ = inner._choose_thresholds(inner._calibrated(scores), Y)
        self.inner_ = inner
        return self

    def predict_proba(self, scores: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "inner_")
        return self.inner_._calibrated(scores)

    def suggest_mask(self, probabilities: np.ndarray) -> np.ndarray:
        return self.inner_.suggest_mask(probabilities)


def _platt(scores: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """Platt scaling with Platt's own smoothed targets, (n+ + 1)/(n+ + 2) and 1/(n- + 2).

    Hard 0/1 targets let a few dozen out-of-fold scores push probabilities to 0 and 1
    (a seed set of noise got p > 0.5 on a third of the units); the smoothed targets
    are the maximum a posteriori fit Platt (1999) gives for small samples.
    """
    positives = int((truth == 1).sum())
    negatives = len(truth) - positives
    target = np.where(truth == 1, (positives + 1) / (positives + 2), 1 / (negatives + 2))
    X = np.r_[scores, scores][:, None]
    y = np.r_[np.ones(len(scores)), np.zeros(len(scores))]
    lr = LogisticRegression(C=1e4, max_iter=1000).fit(X, y, sample_weight=np.r_[target, 1 - target])
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def _kappa(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Cohen's kappa; 0 where it is undefined (one class only on both sides)."""
    from sklearn.metrics import cohen_kappa_score

    if len(set(truth.tolist()) | set(predicted.tolist())) < 2:
        return 0.0
    value = cohen_kappa_score(truth, predicted)
    return float(value) if np.isfinite(value) else 0.0


def _log_softmax(scores: np.ndarray) -> np.ndarray:
    shifted = scores - scores.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def _best_f1_cut(probabilities: np.ndarray, truth: np.ndarray) -> float:
    order = np.argsort(-probabilities, kind="stable")
    p, t = probabilities[order], truth[order].astype(np.float64)
    true_pos = np.cumsum(t)
    predicted = np.arange(1, len(p) + 1)
    f1 = 2 * true_pos / (predicted + t.sum())
    # only cut between distinct probabilities
    valid = np.r_[p[1:] < p[:-1], True]
    if not valid.any() or t.sum() == 0:
        return 1.0
    best = int(np.argmax(np.where(valid, f1, -1)))
    return float(p[best])
