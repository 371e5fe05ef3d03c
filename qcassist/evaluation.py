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

CV_METHODS = ("fast", "finetuned", "combined", "network")
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
    method: str = "fast",
    finetune_options=None,
    base: str = "default",
    progress=None,
    bodies: dict | None = None,
) -> CrossValidation:
    """Grouped k-fold CV; ``per_code`` subsamples each training fold to that many units per code.

    ``method``: 'fast' (the head on ``data.embeddings``), 'finetuned' (per fold, a body tuned from ``base`` on the
    training transcripts but a held-out fifth of them, and the head on its vectors calibrated on that fifth) or
    'combined' (the head on the frozen encoder's unit vector beside the tuned body's pair vector, calibrated the
    same way) or 'network' (the tuned body's own head, calibrated on the same fifth). The tuned methods read
    ``data.inputs`` and take ``finetune_options`` (FineTuneOptions, or a dict of its fields) and ``progress`` (per
    fine-tuning). ``bodies``: a dict shared between calls on the same data, so that the tuned methods compared on
    the same folds use the same bodies (one fine-tuning per fold, not one per method and fold).
    """
    if method not in CV_METHODS:
        raise ValueError(f"method must be one of {', '.join(CV_METHODS)}, not {method!r}")
    if method != "fast" and data.inputs is None:
        raise ValueError("cross-validating a fine-tuned method needs data.inputs (the units' pair strings)")
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
    columns = _Columns(texts, contexts, after, embeddings, Y, groups, exclusive, options)
    if method != "fast":
        columns.inputs = [data.inputs[i] for i in rows]
        columns.tuning = (method, finetune_options, base, progress)
        columns.bodies = bodies if bodies is not None else {}
    for train, test in GroupKFold(used).split(Y, Y.argmax(axis=1), groups):
        if per_code is not None:
            train = _subsample(train, Y, per_code, rng)
        fold = _fast_fold if method == "fast" else _tuned_fold
        present, fold_probabilities, fold_suggested = fold(columns, train, test)
        probabilities[np.ix_(test, present)] = fold_probabilities
        suggested[np.ix_(test, present)] = fold_suggested
    return CrossValidation(codes, Y, probabilities, suggested, exclusive, dropped, min_examples, used)


@dataclass
class _Columns:
    """The cross-validated rows' columns, as each fold reads them."""

    texts: list[str]
    contexts: list[str]
    after: list[str]
    embeddings: np.ndarray
    Y: np.ndarray
    groups: np.ndarray
    exclusive: bool
    options: TrainOptions
    inputs: list[str] | None = None
    tuning: tuple | None = None  # (method, finetune options, base encoder, progress)
    bodies: dict | None = None  # fold's training rows and options -> tuned body, shared between methods

    def features(self, fitted_on: np.ndarray, embeddings: np.ndarray | None = None):
        """A transform of rows to features, the vocabularies fitted on ``fitted_on``; ``embeddings`` for every row."""
        embeddings = self.embeddings if embeddings is None else embeddings
        builder = FeatureBuilder(self.options.features).fit(
            [self.texts[i] for i in fitted_on], [self.contexts[i] for i in fitted_on], [self.after[i] for i in fitted_on]
        )
        return lambda idx: builder.transform(
            embeddings[idx], [self.texts[i] for i in idx], [self.contexts[i] for i in idx], [self.after[i] for i in idx]
        )

    def classifier(self) -> CodeClassifier:
        return CodeClassifier(C=self.options.C, exclusive=self.exclusive, class_weight=self.options.class_weight)


def _fast_fold(columns: _Columns, train: np.ndarray, test: np.ndarray) -> tuple[list[int], np.ndarray, np.ndarray]:
    """(codes fitted, probabilities, suggestions) of the test rows: the head on the frozen encoder's vectors."""
    transform = columns.features(train)
    Y = columns.Y
    present = [j for j in range(Y.shape[1]) if Y[train, j].sum() >= 2]
    classifier = columns.classifier()
    classifier.fit(transform(train), Y[np.ix_(train, present)], groups=columns.groups[train])
    fold_probabilities = classifier.predict_proba(transform(test))
    return present, fold_probabilities, classifier.suggest_mask(fold_probabilities)


def _tuned_fold(columns: _Columns, train: np.ndarray, test: np.ndarray) -> tuple[list[int], np.ndarray, np.ndarray]:
    """The same for a body tuned on the fold's training transcripts but a held-out fifth, which calibrates the head
    (method 'finetuned': features and CodeClassifier on the body's vectors; 'network': the body's own head)."""
    from .classifier import CalibratedScores
    from .finetune import train_body
    from .train_methods import draw_holdout, finetune_options, unit_and_pair

    method, options, base, progress = columns.tuning
    Y, groups = columns.Y, columns.groups
    positives = Y[train] == 1
    chosen = draw_holdout(groups[train], positives)
    if chosen is None:  # no split holds every code on both sides: seed 0's, and codes short on a side sit out
        chosen = draw_holdout(groups[train], np.zeros((len(train), 0), bool))
    held = np.isin(groups[train], chosen)
    present = [j for j in range(Y.shape[1]) if positives[held, j].sum() >= 2 and positives[~held, j].sum() >= 2]
    inputs = [columns.inputs[i] for i in train]
    key = (tuple(train.tolist()), repr(finetune_options(options)), base)
    if key not in columns.bodies:
        columns.bodies[key] = train_body(inputs, Y[train], exclusive=columns.exclusive, holdout=held,
                                         options=finetune_options(options), base=base, progress=progress)
    body = columns.bodies[key]
    test_inputs = [columns.inputs[i] for i in test]
    if method == "network":
        scores = _network_scores(body, inputs, columns.exclusive)[:, present]
        calibration = CalibratedScores(exclusive=columns.exclusive).fit(scores[held], Y[np.ix_(train[held], present)])
        fold_probabilities = calibration.predict_proba(_network_scores(body, test_inputs, columns.exclusive)[:, present])
        return present, fold_probabilities, calibration.suggest_mask(fold_probabilities)
    rows = np.r_[train, test]
    if (key, "vectors") not in columns.bodies:  # the pair vectors too are the same for every head on this body
        columns.bodies[key, "vectors"] = body.encoder().encode([columns.inputs[i] for i in rows])
    encoded = columns.bodies[key, "vectors"]
    vectors = np.zeros((len(Y), encoded.shape[1]), np.float32)
    vectors[rows] = encoded
    if method == "combined":
        vectors = unit_and_pair(columns.embeddings, vectors)
    transform = columns.features(train[~held], vectors)
    classifier = columns.classifier()
    classifier.fit(transform(train), Y[np.ix_(train, present)], groups=groups[train], holdout=held)
    fold_probabilities = classifier.predict_proba(transform(test))
    return present, fold_probabilities, classifier.suggest_mask(fold_probabilities)


def _network_scores(body, inputs: list[str], exclusive: bool) -> np.ndarray:
    """The network head's probabilities as scores to calibrate: log-probabilities (softmax), or logits (sigmoid)."""
    p = np.clip(np.asarray(body.predict_proba(inputs), np.float64), 1e-7, 1 - 1e-7)
    return np.log(p) if exclusive else np.log(p / (1 - p))


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
