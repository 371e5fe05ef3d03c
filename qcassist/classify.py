"""Code classifiers: features, a calibrated linear model per codebook, fallbacks, persistence.

An embedding "body" (``embed.py``) and a scikit-learn "head" (setfit's split): the
encoder runs outside, so everything here works on arrays and is tested without model
weights. Saved models are a directory holding ``manifest.json`` and ``arrays.npz``;
nothing is pickled.

- ``FeatureBuilder`` (features.py): the unit's embedding, TF-IDF word and character n-grams of the
  unit, a few surface cues (questions, lengths), and the words of the turns before and
  after it as context (separate, down-weighted blocks), stacked into one sparse matrix.
  The choice was measured on AnnoMI (benchmarks/README.md).
- ``CodeClassifier``: one logistic regression per code (multi-label) or one multinomial
  model (exclusive codebook), probabilities calibrated on out-of-fold scores (Platt
  scaling per code, or temperature scaling), and per-code thresholds chosen on the same
  out-of-fold predictions; units below every threshold get no suggestion.
- Codes with too few examples for a classifier are scored by similarity to their
  examples (``exemplar``); codes without any by similarity to their description
  (``description``). Those scores are similarities, not calibrated probabilities.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, StratifiedKFold
from sklearn.utils.validation import check_is_fitted

from .features import FeatureBuilder, FeatureConfig
from .train_options import TrainOptions  # defined apart so the CLI reads its defaults without scikit-learn


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

    def fit(self, X, Y, groups=None) -> CodeClassifier:
        Y = np.asarray(Y, dtype=np.int8)
        if Y.ndim != 2 or Y.shape[0] != X.shape[0]:
            raise ValueError(f"Y must be (n_units, n_codes), but X has {X.shape[0]} rows and Y shape {Y.shape}")
        if ((Y == 1).sum(axis=0) < 2).any():
            raise ValueError("every code needs at least two positive units")
        self.n_codes_ = Y.shape[1]
        scores = self._out_of_fold_scores(X, Y, groups)
        self._fit_final(X, Y)
        self._calibrate(scores, Y)
        self.thresholds_ = self._choose_thresholds(self._calibrated(scores), Y)
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

    def _folds(self, Y, groups):
        labels = Y.argmax(axis=1)
        if groups is not None and len(set(groups)) >= self.calibration_folds:
            return list(GroupKFold(self.calibration_folds).split(Y, labels, groups))
        n_splits = max(2, min(self.calibration_folds, int(np.bincount(labels).min()) if len(labels) else 2))
        return list(StratifiedKFold(n_splits, shuffle=True, random_state=self.random_state).split(Y, labels))

    def _out_of_fold_scores(self, X, Y, groups) -> np.ndarray:
        """Decision scores for every unit from models that did not see it."""
        scores = np.zeros(Y.shape, dtype=np.float64)
        for train, test in self._folds(Y, groups):
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
                inner_full = CodeClassifier(C=self.C, exclusive=self.exclusive, class_weight=self.class_weight)
                inner_full.n_codes_ = self.n_codes_
                inner_full._fit_final(X, Y)
                scores[test] = inner_full._scores(X[test])
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
            platt = []
            for j in range(self.n_codes_):
                known = Y[:, j] >= 0
                lr = LogisticRegression(C=1e4, max_iter=1000).fit(scores[known][:, [j]], Y[known, j])
                platt.append((lr.coef_[0, 0], lr.intercept_[0]))
            self.platt_ = np.array(platt)

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

    # predicting

    def predict_proba(self, X) -> np.ndarray:
        """Calibrated probability of each code for each unit, shape (n_units, n_codes)."""
        check_is_fitted(self, "coef_")
        return self._calibrated(self._scores(X))

    def predict(self, X) -> np.ndarray:
        """0/1 matrix of suggested codes: above the code's threshold (and the top code, if exclusive)."""
        return self.suggest_mask(self.predict_proba(X))

    def suggest_mask(self, probabilities: np.ndarray) -> np.ndarray:
        above = probabilities >= self.thresholds_
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


# --- the saved model --------------------------------------------------------------


@dataclass
class CodeModel:
    """Everything needed to suggest codes: features, classifier, fallbacks, rationale exemplars."""

    codes: list[str]  # codes the classifier scores, in column order
    classifier: CodeClassifier | None
    features: FeatureBuilder
    exemplar_codes: list[str] = field(default_factory=list)
    description_codes: list[str] = field(default_factory=list)
    description_vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    exemplar_vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))  # coded units
    exemplar_unit_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    exemplar_labels: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int8))  # (n, all codes)
    all_codes: list[str] = field(default_factory=list)  # column order of exemplar_labels
    manifest: dict = field(default_factory=dict)

    def save(self, directory) -> None:
        from pathlib import Path

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        feature_meta, feature_arrays = self.features.state()
        arrays = {f"features_{k}": v for k, v in feature_arrays.items()}
        classifier_meta = None
        if self.classifier is not None:
            classifier_meta, classifier_arrays = self.classifier.state()
            arrays.update({f"classifier_{k}": v for k, v in classifier_arrays.items()})
        arrays.update(
            description_vectors=self.description_vectors, exemplar_vectors=self.exemplar_vectors,
            exemplar_unit_ids=self.exemplar_unit_ids, exemplar_labels=self.exemplar_labels,
        )
        np.savez_compressed(directory / "arrays.npz", **arrays)
        document = dict(self.manifest, codes=self.codes, exemplar_codes=self.exemplar_codes,
                        description_codes=self.description_codes, all_codes=self.all_codes,
                        features=feature_meta, classifier=classifier_meta)
        (directory / "manifest.json").write_text(json.dumps(document, indent=1, sort_keys=True), "utf-8")

    @classmethod
    def load(cls, directory) -> CodeModel:
        from pathlib import Path

        directory = Path(directory)
        document = json.loads((directory / "manifest.json").read_text("utf-8"))
        with np.load(directory / "arrays.npz", allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        features = FeatureBuilder.from_state(
            document.pop("features"), {k[len("features_"):]: v for k, v in arrays.items() if k.startswith("features_")}
        )
        classifier_meta = document.pop("classifier")
        classifier = None
        if classifier_meta is not None:
            classifier = CodeClassifier.from_state(
                classifier_meta, {k[len("classifier_"):]: v for k, v in arrays.items() if k.startswith("classifier_")}
            )
        return cls(
            codes=document.pop("codes"), classifier=classifier, features=features,
            exemplar_codes=document.pop("exemplar_codes"), description_codes=document.pop("description_codes"),
            all_codes=document.pop("all_codes"), description_vectors=arrays["description_vectors"],
            exemplar_vectors=arrays["exemplar_vectors"], exemplar_unit_ids=arrays["exemplar_unit_ids"],
            exemplar_labels=arrays["exemplar_labels"], manifest=document,
        )


# --- training and suggesting over arrays ---------------------------------------------


@dataclass(frozen=True)
class TrainingSet:
    """Human-coded units as arrays; ``labels`` is (n_units, n_codes) over ``codes``."""

    unit_ids: np.ndarray
    texts: list[str]
    contexts: list[str]  # previous turn's text ("" at a transcript's start)
    embeddings: np.ndarray
    labels: np.ndarray  # 1 coded, 0 not (or rejected by a reviewer), -1 unknown
    groups: list[str]  # transcript of each unit: folds never split one
    codes: list[str]
    following: list[str] | None = None  # next turn's text ("" at a transcript's end)

    def after(self) -> list[str]:
        return self.following if self.following is not None else [""] * len(self.texts)


@dataclass(frozen=True, slots=True)
class Proposal:
    """One suggested code for one row of the input."""

    row: int
    code: str
    probability: float
    source: str
    rationale: tuple[int, ...]


def train_model(
    data: TrainingSet,
    *,
    exclusive: bool = False,
    descriptions: dict[str, np.ndarray] | None = None,
    options: TrainOptions = TrainOptions(),
) -> CodeModel:
    """Fit features and classifier on the codes with enough examples; set up fallbacks for the rest."""
    counts = (data.labels == 1).sum(axis=0)
    descriptions = descriptions or {}
    classifier_codes = [c for c, n in zip(data.codes, counts) if n >= options.min_classifier_examples]
    exemplar_codes = [c for c, n in zip(data.codes, counts) if 0 < n < options.min_classifier_examples]
    description_codes = [c for c, n in zip(data.codes, counts) if n == 0 and c in descriptions]
    features = FeatureBuilder(options.features)
    classifier = None
    if len(classifier_codes) >= 2:
        columns = [data.codes.index(c) for c in classifier_codes]
        Y = data.labels[:, columns]
        rows = np.flatnonzero((Y == 1).any(axis=1)) if exclusive else np.flatnonzero((Y >= 0).any(axis=1))
        after = data.after()
        features.fit([data.texts[i] for i in rows], [data.contexts[i] for i in rows], [after[i] for i in rows])
        X = features.transform(data.embeddings[rows], [data.texts[i] for i in rows], [data.contexts[i] for i in rows],
                               [after[i] for i in rows])
        classifier = CodeClassifier(C=options.C, exclusive=exclusive, class_weight=options.class_weight)
        classifier.fit(X, Y[rows], groups=[data.groups[i] for i in rows])
    else:
        exemplar_codes = sorted(set(exemplar_codes) | set(classifier_codes), key=data.codes.index)
        classifier_codes = []
    return CodeModel(
        codes=classifier_codes, classifier=classifier, features=features,
        exemplar_codes=exemplar_codes, description_codes=description_codes,
        description_vectors=np.stack([descriptions[c] for c in description_codes]).astype(np.float32)
        if description_codes else np.zeros((0, data.embeddings.shape[1]), np.float32),
        exemplar_vectors=np.asarray(data.embeddings, dtype=np.float32), exemplar_unit_ids=np.asarray(data.unit_ids, np.int64),
        exemplar_labels=np.asarray(data.labels == 1, np.int8), all_codes=list(data.codes),
        manifest={"options": {k: (v.as_dict() if hasattr(v, "as_dict") else v) for k, v in asdict(options).items()},
                  "exclusive": exclusive, "examples_per_code": {c: int(n) for c, n in zip(data.codes, counts)}},
    )


def propose(
    model: CodeModel,
    embeddings: np.ndarray,
    texts: Sequence[str],
    contexts: Sequence[str],
    following: Sequence[str] | None = None,
    *,
    options: TrainOptions = TrainOptions(),
) -> list[Proposal]:
    """Suggested codes for each row, each with the ids of the most similar human-coded units."""
    proposals: list[tuple[int, str, float, str]] = []
    if model.classifier is not None and len(texts):
        probabilities = model.classifier.predict_proba(model.features.transform(embeddings, texts, contexts, following))
        mask = model.classifier.suggest_mask(probabilities)
        for row, column in zip(*np.nonzero(mask)):
            proposals.append((int(row), model.codes[column], float(probabilities[row, column]), "classifier"))
    similarity = np.asarray(embeddings, np.float32) @ model.exemplar_vectors.T if len(model.exemplar_vectors) else None
    if model.exemplar_codes and similarity is not None:
        # nearest exemplar: each unit gets at most the one closest few-example code
        best = np.stack([
            similarity[:, model.exemplar_labels[:, model.all_codes.index(code)].astype(bool)].max(axis=1)
            for code in model.exemplar_codes
        ], axis=1)
        proposals += _best_above(best, model.exemplar_codes, options.exemplar_threshold, "exemplar")
    if model.description_codes:
        to_description = np.asarray(embeddings, np.float32) @ model.description_vectors.T
        proposals += _best_above(to_description, model.description_codes, options.description_threshold, "description")
    return [
        Proposal(row, code, probability, source, _rationale(model, similarity, row, code, options.rationale_size))
        for row, code, probability, source in proposals
    ]


def _best_above(scores: np.ndarray, codes: list[str], threshold: float, source: str) -> list[tuple[int, str, float, str]]:
    """For each row, its best-scoring code if the score reaches the threshold."""
    top = scores.argmax(axis=1)
    return [(int(row), codes[top[row]], float(scores[row, top[row]]), source)
            for row in np.flatnonzero(scores[np.arange(len(scores)), top] >= threshold)]


def _rationale(model: CodeModel, similarity, row: int, code: str, size: int) -> tuple[int, ...]:
    if similarity is None or code not in model.all_codes:
        return ()
    members = np.flatnonzero(model.exemplar_labels[:, model.all_codes.index(code)])
    if not len(members):
        return ()
    nearest = members[np.argsort(-similarity[row, members], kind="stable")[:size]]
    return tuple(int(model.exemplar_unit_ids[i]) for i in nearest)
