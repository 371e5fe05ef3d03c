"""How good are the suggestions? Grouped cross-validation and the numbers that answer it.

Folds are grouped by transcript: units of one conversation are never split between
training and test. Metrics come from scikit-learn where it has them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import cohen_kappa_score, confusion_matrix, precision_recall_fscore_support
from sklearn.model_selection import GroupKFold

from .classify import CodeClassifier, TrainingSet, TrainOptions
from .features import FeatureBuilder

LEARNING_CURVE_SIZES = (8, 16, 32, 64, 128)
AUTO_ACCEPT_PRECISION = 0.90
AUTO_ACCEPT_MIN_SUPPORT = 30  # fewer suggestions above the cut: their precision is too uncertain to act on
SATURATED = 0.995  # a cut this high only separates probabilities the calibration pushed to 1.00


@dataclass(frozen=True)
class CrossValidation:
    """Out-of-fold calibrated probabilities for the codes a classifier can learn."""

    codes: list[str]
    labels: np.ndarray  # (n, k) truth
    probabilities: np.ndarray  # (n, k) out of fold
    suggested: np.ndarray  # (n, k) 0/1 after thresholds
    exclusive: bool
    dropped: dict[str, int] = field(default_factory=dict)  # codes with too few coded units to cross-validate
    min_examples: int = 2  # the fewest coded units a code needs here
    folds: int = 0  # the folds actually run: no more than there are transcripts


def cross_validate(
    data: TrainingSet,
    *,
    exclusive: bool = False,
    options: TrainOptions = TrainOptions(),
    folds: int = 5,
    per_code: int | None = None,
    seed: int = 0,
) -> CrossValidation:
    """Grouped k-fold CV; ``per_code`` subsamples each training fold to that many units per code."""
    counts = (data.labels == 1).sum(axis=0)
    min_examples = max(2, folds)  # a code needs a coded unit in every fold
    keep = [j for j, n in enumerate(counts) if n >= min_examples]
    dropped = {data.codes[j]: int(n) for j, n in enumerate(counts) if n < min_examples}
    codes = [data.codes[j] for j in keep]
    Y = data.labels[:, keep]
    # evaluate on fully known units: (exclusive) one code, (multi-label) no unknown entries
    rows = np.flatnonzero((Y == 1).any(axis=1)) if exclusive else np.flatnonzero((Y >= 0).all(axis=1))
    Y = Y[rows]
    groups = np.asarray(data.groups)[rows]
    n_groups = len(set(groups))
    if len(codes) < 2 or n_groups < 2:
        raise ValueError(
            f"cross-validation needs two codes with at least {min_examples} coded units and two transcripts; "
            f"found {len(codes)} codes and {n_groups} transcripts"
        )
    texts = [data.texts[i] for i in rows]
    contexts = [data.contexts[i] for i in rows]
    after = [data.after()[i] for i in rows]
    embeddings = data.embeddings[rows]
    probabilities = np.zeros(Y.shape)
    suggested = np.zeros(Y.shape, dtype=np.int8)
    rng = np.random.default_rng(seed)
    used = min(min_examples, n_groups)
    for train, test in GroupKFold(used).split(Y, Y.argmax(axis=1), groups):
        if per_code is not None:
            train = _subsample(train, Y, per_code, rng)
        builder = FeatureBuilder(options.features).fit(
            [texts[i] for i in train], [contexts[i] for i in train], [after[i] for i in train]
        )
        transform = lambda idx: builder.transform(  # noqa: E731
            embeddings[idx], [texts[i] for i in idx], [contexts[i] for i in idx], [after[i] for i in idx]
        )
        present = [j for j in range(len(codes)) if Y[train, j].sum() >= 2]
        classifier = CodeClassifier(C=options.C, exclusive=exclusive, class_weight=options.class_weight)
        classifier.fit(transform(train), Y[np.ix_(train, present)], groups=groups[train])
        fold_probabilities = classifier.predict_proba(transform(test))
        probabilities[np.ix_(test, present)] = fold_probabilities
        suggested[np.ix_(test, present)] = classifier.suggest_mask(fold_probabilities)
    return CrossValidation(codes, Y, probabilities, suggested, exclusive, dropped, min_examples, used)


def _subsample(train: np.ndarray, Y: np.ndarray, per_code: int, rng) -> np.ndarray:
    chosen: set[int] = set()
    for j in range(Y.shape[1]):
        members = train[Y[train, j] == 1]
        chosen.update(rng.choice(members, size=min(per_code, len(members)), replace=False).tolist())
    return np.array(sorted(chosen))


# --- metrics ----------------------------------------------------------------------


def summarize(cv: CrossValidation, *, bins: int = 10) -> dict:
    """Per-code P/R/F1, macro-F1, Cohen's kappa, calibration error and the auto-accept tier."""
    if cv.exclusive:
        truth = cv.labels.argmax(axis=1)
        predicted = cv.probabilities.argmax(axis=1)
        kappa = float(cohen_kappa_score(truth, predicted))
        confidence = cv.probabilities.max(axis=1)
        correct = predicted == truth
        precision, recall, f1, support = precision_recall_fscore_support(
            truth, predicted, labels=range(len(cv.codes)), zero_division=0
        )
        confusion = {"labels": list(cv.codes), "rows": "truth", "columns": "top suggestion",
                     "matrix": confusion_matrix(truth, predicted, labels=range(len(cv.codes))).tolist()}
    else:
        per_code_kappa = [
            float(cohen_kappa_score(cv.labels[:, j], cv.suggested[:, j])) for j in range(len(cv.codes))
        ]
        kappa = float(np.mean(per_code_kappa))
        confidence = cv.probabilities.ravel()
        correct = cv.labels.ravel() == 1
        precision, recall, f1, support = precision_recall_fscore_support(cv.labels, cv.suggested, zero_division=0)
        confusion = None  # several codes a unit: per-code precision/recall say it
    per_code = {
        code: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for code, p, r, f, s in zip(cv.codes, precision, recall, f1, support)
    }
    return {
        "units": int(len(cv.labels)),
        "mode": "exclusive" if cv.exclusive else "multi-label",
        "macro_f1": float(np.mean(f1)),
        "kappa": kappa,
        "kappa_kind": "Cohen's kappa, top code vs truth" if cv.exclusive else "mean per-code binary Cohen's kappa",
        "ece": expected_calibration_error(confidence, correct, bins=bins),
        "calibration": calibration_bins(confidence, correct, bins=bins),
        "confusion": confusion,
        "auto_accept": auto_accept_tier(confidence, correct, precision=AUTO_ACCEPT_PRECISION),
        "per_code": per_code,
        "dropped_codes": dict(cv.dropped),
        "min_examples": cv.min_examples,
    }


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, *, bins: int = 10) -> float:
    """ECE with equal-width bins: the support-weighted gap between confidence and accuracy."""
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    if not len(confidence):
        return 0.0
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            total += members.sum() * abs(confidence[members].mean() - correct[members].mean())
    return float(total / len(confidence))


def calibration_bins(confidence: np.ndarray, correct: np.ndarray, *, bins: int = 10) -> list[dict]:
    """Mean confidence and accuracy per equal-width bin (for a reliability diagram)."""
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    return [
        {"low": float(edges[b]), "high": float(edges[b + 1]), "count": int((which == b).sum()),
         "confidence": float(confidence[which == b].mean()) if (which == b).any() else None,
         "accuracy": float(correct[which == b].mean()) if (which == b).any() else None}
        for b in range(bins)
    ]


def auto_accept_tier(confidence: np.ndarray, correct: np.ndarray, *, precision: float = AUTO_ACCEPT_PRECISION,
                     min_support: int = AUTO_ACCEPT_MIN_SUPPORT) -> dict:
    """The lowest probability cut whose suggestions are right at least ``precision`` of the time, and how many it covers.

    No tier (``threshold`` None, ``reason`` says why) when no cut reaches the precision,
    when the cut rests on fewer than ``min_support`` suggestions, or when it sits at
    p = 1.00 (saturated probabilities: the calibration cannot rank those units).
    """
    order = np.argsort(-np.asarray(confidence), kind="stable")
    c = np.asarray(confidence)[order]
    hits = np.cumsum(np.asarray(correct, dtype=np.float64)[order])
    running = hits / np.arange(1, len(c) + 1)
    cut_here = np.r_[c[1:] < c[:-1], True]  # a cut cannot split equal probabilities
    ok = np.flatnonzero((running >= precision) & cut_here)
    if not len(ok):
        return _no_tier(f"no probability cut reaches precision {precision:.2f}")
    last = int(ok[-1])
    threshold, support = float(c[last]), last + 1
    if threshold >= SATURATED:
        return _no_tier(f"precision {precision:.2f} is reached only at p = 1.00, where the calibrated probabilities "
                        f"saturate ({support} suggestions); no cut below it is usable")
    if support < min_support:
        return _no_tier(f"precision {precision:.2f} is reached at p >= {threshold:.2f} by only {support} suggestion{'s' if support != 1 else ''}, "
                        f"too few (fewer than {min_support}) to rely on")
    return {"threshold": threshold, "precision": float(running[last]), "coverage": float(support / len(c)), "reason": None}


def _no_tier(reason: str) -> dict:
    return {"threshold": None, "precision": None, "coverage": 0.0, "reason": reason}


def learning_curve(
    data: TrainingSet,
    *,
    exclusive: bool = False,
    options: TrainOptions = TrainOptions(),
    sizes: Sequence[int] = LEARNING_CURVE_SIZES,
    folds: int = 5,
    seeds: Sequence[int] = (0, 1, 2),
) -> list[dict]:
    """Macro-F1 and kappa when each training fold keeps only n units per code (mean over seeds), then all."""
    curve = []
    largest = int((data.labels == 1).sum(axis=0).max())
    for size in [s for s in sizes if s < largest] + [None]:
        runs = [summarize(cross_validate(data, exclusive=exclusive, options=options, folds=folds, per_code=size, seed=s))
                for s in (seeds if size is not None else seeds[:1])]
        curve.append({
            "per_code": size if size is not None else "all",
            "macro_f1": float(np.mean([r["macro_f1"] for r in runs])),
            "kappa": float(np.mean([r["kappa"] for r in runs])),
            "kappa_sd": float(np.std([r["kappa"] for r in runs])),
            "ece": float(np.mean([r["ece"] for r in runs])),
        })
    return curve
