"""Code classifiers: features, a calibrated linear model per codebook, fallbacks, persistence.

An embedding "body" (``embed.py``) and a scikit-learn "head" (setfit's split): the
encoder runs outside, so everything here works on arrays and is tested without model
weights. Saved models are a directory holding ``manifest.json`` and ``arrays.npz``;
nothing is pickled.

- ``FeatureBuilder`` (features.py): the unit's embedding, TF-IDF word and character n-grams of the
  unit, a few surface cues (questions, lengths), and the words of the turns before and
  after it as context (separate, down-weighted blocks), stacked into one sparse matrix.
  The choice was measured on AnnoMI (benchmarks/README.md).
- ``CodeClassifier`` (classifier.py): one logistic regression per code (multi-label) or one multinomial
  model (exclusive codebook), probabilities calibrated on out-of-fold scores (Platt
  scaling per code, or temperature scaling), and per-code thresholds chosen on the same
  out-of-fold predictions; units below every threshold get no suggestion.
- Codes with too few examples for a classifier are scored by similarity to their
  examples (``exemplar``); codes without any by similarity to their description
  (``description``). Those scores are similarities, not calibrated probabilities.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from .classifier import CodeClassifier
from .features import FeatureBuilder
from .train_options import TrainOptions  # defined apart so the CLI reads its defaults without scikit-learn

__all__ = ["CodeClassifier", "CodeModel", "Proposal", "TrainingSet", "TrainOptions", "propose", "train_model"]


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
    body: object | None = None  # a fine-tuned model's TunedBody: saved and loaded beside, by train/load_latest_model

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
        """The model saved in ``directory``, checked first (ModelError naming the file if it is broken)."""
        from pathlib import Path

        from .saved_model import check_model, fail, read_arrays, read_manifest

        directory = Path(directory)
        document = read_manifest(directory / "manifest.json")
        arrays = read_arrays(directory / "arrays.npz")
        check_model(directory, document, arrays)
        try:
            features = FeatureBuilder.from_state(
                document.pop("features"), {k[len("features_"):]: v for k, v in arrays.items() if k.startswith("features_")}
            )
            classifier_meta = document.pop("classifier")
            classifier = None
            if classifier_meta is not None:
                classifier = CodeClassifier.from_state(
                    classifier_meta, {k[len("classifier_"):]: v for k, v in arrays.items() if k.startswith("classifier_")}
                )
        except (KeyError, TypeError, ValueError) as exc:
            raise fail(directory / "manifest.json", f"does not describe a model ({type(exc).__name__}: {exc})") from None
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
    inputs: list[str] | None = None  # what a fine-tuned body reads: the unit paired with its context and roles

    def after(self) -> list[str]:
        return self.following if self.following is not None else [""] * len(self.texts)


@dataclass(frozen=True, slots=True)
class Proposal:
    """One suggested code for one row of the input."""

    row: int
    code: str
    probability: float | None  # calibrated: classifier proposals only
    score: float | None  # similarity: exemplar and description proposals only
    source: str
    rationale: tuple[int, ...]

    @property
    def strength(self) -> float:
        return self.probability if self.probability is not None else float(self.score)


def train_model(
    data: TrainingSet,
    *,
    exclusive: bool = False,
    descriptions: dict[str, np.ndarray] | None = None,
    options: TrainOptions = TrainOptions(),
    holdout: np.ndarray | None = None,
) -> CodeModel:
    """Fit features and classifier on the codes with enough examples; set up fallbacks for the rest.

    ``holdout`` (a bool mask over the units): the classifier is fitted on the other units and calibrated,
    given thresholds and judged (its ``cv`` kappa) on these (``CodeClassifier.fit``).
    """
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
        texts, contexts, following = ([column[i] for i in rows] for column in (data.texts, data.contexts, after))
        held = None if holdout is None else np.asarray(holdout, dtype=bool)[rows]
        fitted_on = range(len(rows)) if held is None else np.flatnonzero(~held)  # the vocabularies: training rows only
        features.fit(*([column[i] for i in fitted_on] for column in (texts, contexts, following)))
        X = features.transform(data.embeddings[rows], texts, contexts, following)
        classifier = CodeClassifier(C=options.C, exclusive=exclusive, class_weight=options.class_weight)
        classifier.fit(X, Y[rows], groups=[data.groups[i] for i in rows], holdout=held)
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
                  "exclusive": exclusive, "examples_per_code": {c: int(n) for c, n in zip(data.codes, counts)},
                  "cv": _cv_summary(classifier, classifier_codes, held_out=holdout is not None)},
    )


def _cv_summary(classifier: CodeClassifier | None, codes: list[str], *, held_out: bool = False) -> dict | None:
    """The out-of-fold (or held-out) kappa the training computed anyway, kept so ``suggest`` can warn about a weak model."""
    if classifier is None:
        return None
    kind = ("on held-out transcripts (thresholds chosen on the other half of them)" if held_out
            else "out-of-fold during training (thresholds chosen on the same predictions: optimistic)")
    return {"kappa": classifier.cv_kappa_["kappa"], "per_code_kappa": dict(zip(codes, classifier.cv_kappa_["per_code"])),
            "kind": kind}


# Rows scored at a time: the unit x exemplar similarities and the feature matrix exist for
# one block only, so suggest's memory does not grow with the corpus (4,096 rows x 20,000
# exemplars is ~650 MB of float64; the whole of a 1M-unit corpus would be ~160 GB).
PROPOSE_BLOCK_ROWS = 4096


def propose(
    model: CodeModel,
    embeddings: np.ndarray,
    texts: Sequence[str],
    contexts: Sequence[str],
    following: Sequence[str] | None = None,
    *,
    options: TrainOptions = TrainOptions(),
    block_rows: int = PROPOSE_BLOCK_ROWS,
) -> list[Proposal]:
    """Suggested codes for each row, each with the ids of the most similar human-coded units.

    Rows are scored in blocks of ``block_rows``; the result is the same for any block size:
    classifier proposals first, then exemplar, then description ones, each by row.
    """
    by_source: dict[str, list[Proposal]] = {"classifier": [], "exemplar": [], "description": []}
    for start in range(0, len(texts), block_rows):
        stop = min(start + block_rows, len(texts))
        block = _propose_block(model, embeddings[start:stop], texts[start:stop], contexts[start:stop],
                               following[start:stop] if following is not None else None, options)
        for p in block:
            by_source[p.source].append(replace(p, row=p.row + start))
    return [p for source in by_source.values() for p in source]


def _propose_block(model: CodeModel, embeddings: np.ndarray, texts: Sequence[str], contexts: Sequence[str],
                   following: Sequence[str] | None, options: TrainOptions) -> list[Proposal]:
    """``propose`` on one block of rows (row numbers within the block)."""
    proposals: list[tuple[int, str, float | None, float | None, str]] = []
    if model.classifier is not None and len(texts):
        probabilities = model.classifier.predict_proba(model.features.transform(embeddings, texts, contexts, following))
        mask = model.classifier.suggest_mask(probabilities)
        for row, column in zip(*np.nonzero(mask)):
            proposals.append((int(row), model.codes[column], float(probabilities[row, column]), None, "classifier"))
    if model.exemplar_codes and len(model.exemplar_vectors):
        proposals += _best_above(_nearest_exemplar(model, embeddings), model.exemplar_codes,
                                 options.exemplar_threshold, "exemplar")
    if model.description_codes:
        to_description = _similarities(embeddings, model.description_vectors)
        proposals += _best_above(to_description, model.description_codes, options.description_threshold, "description")
    rationales = _rationales(model, embeddings, proposals, options.rationale_size)
    return [Proposal(row, code, probability, score, source, rationales.get((row, code), ()))
            for row, code, probability, score, source in proposals]


def _rationales(model: CodeModel, embeddings: np.ndarray, proposals: list[tuple], size: int) -> dict[tuple[int, str], tuple[int, ...]]:
    """(row, code) -> the ``size`` coded units of that code most similar to the row, most similar first, ties by id.

    Only the proposed rows against their code's units: every row against every coded unit would cost
    (units x coded units), which grows with the square of a corpus whose coded share stays the same.
    """
    rows_of: dict[str, set[int]] = defaultdict(set)
    for row, code, *_ in proposals:
        if code in model.all_codes:
            rows_of[code].add(row)
    found = {}
    for code, rows in rows_of.items():
        members = np.flatnonzero(model.exemplar_labels[:, model.all_codes.index(code)]) if len(model.exemplar_vectors) else []
        if not len(members):
            continue
        rows = sorted(rows)
        similarity = _similarities(embeddings[rows], model.exemplar_vectors[members])
        ids = model.exemplar_unit_ids[members]
        for i, row in enumerate(rows):
            nearest = np.lexsort((ids, -similarity[i]))[:size]
            found[(row, code)] = tuple(int(ids[j]) for j in nearest)
    return found


def _nearest_exemplar(model: CodeModel, embeddings: np.ndarray) -> np.ndarray:
    """(rows, exemplar codes): each row's similarity to the closest coded unit of each few-example code.

    Only those codes' units are compared, not every coded unit.
    """
    columns = [model.all_codes.index(code) for code in model.exemplar_codes]
    members = np.flatnonzero(model.exemplar_labels[:, columns].any(axis=1))
    similarity = _similarities(embeddings, model.exemplar_vectors[members])
    labels = model.exemplar_labels[members][:, columns].astype(bool)
    return np.stack([similarity[:, labels[:, j]].max(axis=1) for j in range(len(columns))], axis=1)


def _best_above(scores: np.ndarray, codes: list[str], threshold: float, source: str) -> list[tuple]:
    """For each row, its best-scoring code if the score reaches the threshold (a similarity, not a probability)."""
    top = scores.argmax(axis=1)
    return [(int(row), codes[top[row]], None, float(scores[row, top[row]]), source)
            for row in np.flatnonzero(scores[np.arange(len(scores)), top] >= threshold)]


def _similarities(embeddings: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Cosine similarities (unit vectors), rounded so equal ones compare equal.

    BLAS may sum in another order for arrays at another memory alignment (e.g. after
    save and load), which moved tied exemplars around in the last float bits; float64
    and rounding to 1e-6 make ties ties, and the rationale breaks them by unit id.
    """
    return np.round(np.asarray(embeddings, np.float64) @ np.asarray(vectors, np.float64).T, 6)
