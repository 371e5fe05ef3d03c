"""Two-stage suggestion: a fast model on the static encoder, and the full encoder for the units it is unsure of.

``train --encoder static --rescore-encoder default`` trains, on the same coded units and
options, a second classifier on the full encoder's embeddings and saves it inside the same
model version (``classifiers/VERSION/rescorer/``; the version's manifest names it under
``"rescorer"``). ``suggest --rescore-uncertain`` then encodes every unit with the static
encoder, and only the uncertain ones (``uncertain_rows``) with the full encoder, whose
classifier's proposals replace the static one's for those units. Exemplar and description
proposals are similarities, not probabilities, and stay as the first stage made them.

A unit is uncertain when its decision could flip:
- exclusive codebook: its two most probable codes are within ``band`` of each other;
- multi-label: some code's probability is within ``band`` of that code's threshold.
The default band was chosen on AnnoMI (benchmarks/static_encoder.py, benchmarks/README.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .classify import PROPOSE_BLOCK_ROWS, CodeModel, Proposal, TrainingSet, TrainOptions, propose, train_model
from .errors import QcaError
from .project import project_encoder
from .saved_model import ModelError
from .store import Store

RESCORER_DIR = "rescorer"
DEFAULT_BAND = 0.2
_SOURCE_ORDER = {"classifier": 0, "exemplar": 1, "description": 2}  # propose()'s order


def uncertain_rows(probabilities: np.ndarray, thresholds: np.ndarray, *, exclusive: bool, band: float) -> np.ndarray:
    """Rows (ascending) whose suggestion could flip: top-2 margin (exclusive) or a threshold (multi-label) within ``band``."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if not len(probabilities):
        return np.zeros(0, dtype=np.int64)
    if exclusive:
        if probabilities.shape[1] < 2:
            return np.zeros(0, dtype=np.int64)
        top_two = -np.sort(-probabilities, axis=1)[:, :2]
        return np.flatnonzero(top_two[:, 0] - top_two[:, 1] < band)
    return np.flatnonzero((np.abs(probabilities - np.asarray(thresholds)[None, :]) < band).any(axis=1))


# --- train ------------------------------------------------------------------------


def train_rescorer(store: Store, data: TrainingSet, spec: str, *, exclusive: bool, options: TrainOptions) -> CodeModel:
    """The second stage: the same coded units and options, on the embeddings of the encoder ``spec``."""
    encoder = project_encoder(store, spec)
    rescorer = train_model(replace(data, embeddings=encoder.encode(data.texts)), exclusive=exclusive, options=options)
    if rescorer.classifier is None:
        raise QcaError("--rescore-encoder re-scores the classifier's uncertain units, but no code has enough coded units "
                       f"for a classifier (at least {options.min_classifier_examples} each); code more and train again.")
    rescorer.manifest.update(encoder=encoder.id, encoder_spec=spec, stage="rescorer")
    return rescorer


def rescorer_summary(rescorer: CodeModel) -> dict:
    """What the first model's manifest records about its rescorer."""
    return {"folder": RESCORER_DIR, "encoder": rescorer.manifest["encoder"], "encoder_spec": rescorer.manifest["encoder_spec"],
            "cv_kappa": (rescorer.manifest.get("cv") or {}).get("kappa")}


# --- suggest ----------------------------------------------------------------------


def load_rescorer(directory: Path, model: CodeModel) -> CodeModel:
    """The rescorer saved with ``model`` (ModelError if it was trained without one or it does not fit)."""
    summary = model.manifest.get("rescorer")
    version = model.manifest["version"]
    if not summary:
        raise ModelError(f"model {version} has no second-stage model to re-score with; train with "
                         "'qcassist train --encoder static --rescore-encoder default', then suggest --rescore-uncertain.")
    if model.classifier is None:
        raise ModelError(f"model {version} has no classifier whose uncertain units could be re-scored.")
    rescorer = CodeModel.load(directory / summary["folder"])
    if rescorer.codes != model.codes or rescorer.manifest.get("encoder") != summary["encoder"]:
        raise ModelError(f"{directory / summary['folder']}: the second-stage model does not match model {version} "
                         "(other codes or encoder); train again.")
    return rescorer


@dataclass(frozen=True)
class SecondStage:
    """A model's rescorer and the encoder it reads, loaded and checked once per ``suggest``."""

    rescorer: CodeModel
    encoder: object


def second_stage(store: Store, model: CodeModel) -> SecondStage:
    """``model``'s second stage (ModelError if it has none, or it does not fit the encoder the project gives)."""
    rescorer = load_rescorer(store.directory / "classifiers" / model.manifest["version"], model)
    encoder = project_encoder(store, rescorer.manifest["encoder_spec"])
    if encoder.id != rescorer.manifest["encoder"]:
        raise ModelError(f"the second stage of model {model.manifest['version']} was trained on embeddings from "
                         f"{rescorer.manifest['encoder']}, not {encoder.id}; train again.")
    return SecondStage(rescorer, encoder)


def rescore(
    store: Store,
    model: CodeModel,
    embeddings: np.ndarray,
    units: Sequence,
    proposals: list[Proposal],
    *,
    options: TrainOptions,
    band: float = DEFAULT_BAND,
    stage: SecondStage | None = None,
) -> tuple[list[Proposal], dict]:
    """Replace the classifier proposals of the uncertain units by the full-encoder model's; and what was done.

    ``units`` have ``text``, ``context`` and ``following``, in the rows of ``embeddings`` and ``proposals``.
    ``stage``: the second stage already loaded (``suggest`` re-scores block by block and loads it once).
    """
    stage = stage or second_stage(store, model)
    texts, contexts, following = ([getattr(u, name) for u in units] for name in ("text", "context", "following"))
    probabilities = _probabilities(model, embeddings, texts, contexts, following)
    rows = uncertain_rows(probabilities, model.classifier.thresholds_, exclusive=model.classifier.exclusive, band=band)
    second = []
    if len(rows):
        pick = lambda column: [column[i] for i in rows]  # noqa: E731
        full = stage.encoder.encode(pick(texts))
        second = [replace(p, row=int(rows[p.row])) for p in propose(stage.rescorer, full, pick(texts), pick(contexts),
                                                                     pick(following), options=options)
                  if p.source == "classifier"]
    chosen = set(rows.tolist())
    kept = [p for p in proposals if not (p.source == "classifier" and p.row in chosen)]
    merged = sorted(kept + second, key=lambda p: (_SOURCE_ORDER[p.source], p.row))
    return merged, {"units": len(rows), "of": len(units), "band": band, "encoder": stage.encoder.id}


def _probabilities(model: CodeModel, embeddings, texts, contexts, following) -> np.ndarray:
    """The first stage's calibrated probabilities, a block of rows at a time (memory stays bounded)."""
    parts = []
    for start in range(0, len(texts), PROPOSE_BLOCK_ROWS):
        block = slice(start, start + PROPOSE_BLOCK_ROWS)
        features = model.features.transform(embeddings[block], texts[block], contexts[block], following[block])
        parts.append(model.classifier.predict_proba(features))
    return np.vstack(parts) if parts else np.zeros((0, len(model.codes)))
