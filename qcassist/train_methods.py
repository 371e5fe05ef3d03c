"""How a model is trained: ``fast`` (the frozen encoder's vectors and a head), ``finetuned`` (a body tuned on the
project's codings, its head calibrated on held-out transcripts), ``auto`` (whichever does better on the same
held-out transcripts) and ``head`` (the review loop's refit of the latest fine-tuned model's head).

A fine-tuned body has seen the units it was tuned on, so a head calibrated out of fold on them would be
over-confident: the body is tuned on the training transcripts only, and the head is calibrated, given its
thresholds and judged on the held-out ones (``CodeClassifier.fit(holdout=...)``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .classify import CodeModel, TrainingSet, TrainOptions, train_model
from .embed import TFIDF_ENCODER, CachedEncoder
from .errors import QcaError
from .saved_model import ModelError
from .static_encoder import STATIC_ENCODER
from .store import Store

METHODS = ("auto", "fast", "finetuned")
HOLDOUT_FRACTION = 0.2  # of the coded transcripts, at least one
MIN_TRANSCRIPTS = 4  # fewer: a held-out fifth would be one transcript of a handful, or none
MIN_HOLDOUT_POSITIVES = 2  # per classifier code, on each side of the split
MIN_AUTO_UNITS = 200  # fewer coded units: auto keeps the fast model without fine-tuning (see README)
SPLIT_TRIES = 20  # seeded splits tried, in order, for one that holds every code on both sides
BODY_FILE_KEY = "body"
# What the head of a fine-tuned model reads beside the unit's words: the tuned body's vector of the (context, unit)
# pair ("pair"), or the frozen encoder's vector of the unit beside it ("unit+pair"). Chosen by the AnnoMI benchmark
# (benchmarks/README.md, "finetuned" vs "combined"); the manifest records which a model uses.
BODY_FEATURES = ("pair", "unit+pair")
DEFAULT_BODY_FEATURES = "unit+pair"

Describe = Callable[[list[str]], np.ndarray]


@dataclass
class Fitted:
    """A trained model and what its manifest says about how it was trained."""

    model: CodeModel
    method: str  # "fast" or "finetuned": what was saved
    body: object | None = None  # the TunedBody of a fine-tuned model
    holdout: list[str] = field(default_factory=list)  # transcripts the head was calibrated on
    comparison: dict | None = None  # auto: both kappas on the holdout, and the winner
    note: str | None = None  # auto: why the fine-tuned model was not tried

    def manifest(self) -> dict:
        entry = {"method": self.method, "holdout_transcripts": self.holdout, "comparison": self.comparison}
        if self.note:
            entry["method_note"] = self.note
        return entry


# --- the held-out transcripts ---------------------------------------------------------


def head_rows(data: TrainingSet, *, exclusive: bool, codes: Sequence[str]) -> np.ndarray:
    """Rows a head is fitted and judged on (as ``train_model`` picks them): a coded unit (exclusive), a known one."""
    Y = data.labels[:, [data.codes.index(c) for c in codes]]
    return np.flatnonzero((Y == 1).any(axis=1)) if exclusive else np.flatnonzero((Y >= 0).any(axis=1))


def classifier_codes(data: TrainingSet, options: TrainOptions) -> list[str]:
    counts = (data.labels == 1).sum(axis=0)
    return [c for c, n in zip(data.codes, counts) if n >= options.min_classifier_examples]


def plan_holdout(data: TrainingSet, *, exclusive: bool, options: TrainOptions) -> tuple[list[str], str | None]:
    """The transcripts to hold out (sorted names), or ([], why there can be none).

    About a fifth of the coded transcripts, at least one: the first of ``SPLIT_TRIES`` seeded draws over the
    sorted names in which every classifier code has ``MIN_HOLDOUT_POSITIVES`` coded units on each side.
    The same data give the same split.
    """
    names = sorted(set(data.groups))
    if len(names) < MIN_TRANSCRIPTS:
        return [], (f"only {len(names)} transcript{'s' if len(names) != 1 else ''} have coded units; fine-tuning "
                    f"needs at least {MIN_TRANSCRIPTS}, a fifth of them held out to calibrate and judge it")
    codes = classifier_codes(data, options)
    if len(codes) < 2:
        return [], (f"fewer than two codes have {options.min_classifier_examples} or more coded units, so there is "
                    "no classifier to fine-tune")
    size = max(1, round(HOLDOUT_FRACTION * len(names)))
    positives = data.labels[:, [data.codes.index(c) for c in codes]] == 1
    chosen = draw_holdout(data.groups, positives)
    if chosen is not None:
        return chosen, None
    short = [c for c, n in zip(codes, positives.sum(axis=0)) if n < 2 * MIN_HOLDOUT_POSITIVES + 2]
    listed = f" (fewest coded units: {', '.join(short[:5])})" if short else ""
    return [], (f"no split of the {len(names)} transcripts holds out {size} with at least {MIN_HOLDOUT_POSITIVES} "
                f"coded units of every code{listed}")


def draw_holdout(groups: Sequence[str], positives: np.ndarray) -> list[str] | None:
    """The first of ``SPLIT_TRIES`` seeded draws of a fifth of the sorted group names (at least one) that leaves
    ``MIN_HOLDOUT_POSITIVES`` positives of every column on each side; None if none does."""
    names = sorted(set(groups))
    size = max(1, round(HOLDOUT_FRACTION * len(names)))
    groups = np.asarray(groups)
    for seed in range(SPLIT_TRIES):
        chosen = sorted(np.random.default_rng(seed).choice(names, size=size, replace=False).tolist())
        held = np.isin(groups, chosen)
        if (positives[held].sum(axis=0) >= MIN_HOLDOUT_POSITIVES).all() and \
                (positives[~held].sum(axis=0) >= MIN_HOLDOUT_POSITIVES).all():
            return chosen
    return None


def finetune_obstacle(spec: str, data: TrainingSet, *, exclusive: bool, options: TrainOptions,
                      method: str) -> tuple[list[str], str | None]:
    """(held-out transcripts, None), or ([], why this project cannot have a fine-tuned model now)."""
    if spec in (TFIDF_ENCODER, STATIC_ENCODER):
        return [], f"the {spec} encoder has no network to fine-tune; use a sentence-transformers encoder"
    if method == "auto":
        units = len(head_rows(data, exclusive=exclusive, codes=classifier_codes(data, options) or data.codes))
        if units < MIN_AUTO_UNITS:
            return [], (f"{units} units coded with the classifier's codes are too few to fine-tune on (auto tries from {MIN_AUTO_UNITS}; "
                        "--method finetuned insists)")
    return plan_holdout(data, exclusive=exclusive, options=options)


# --- fitting ------------------------------------------------------------------------------


def finetune_options(finetune):
    """FineTuneOptions from None, options, or a dict of the fields the user set (the CLI's: no torch until needed)."""
    from .finetune import FineTuneOptions

    if isinstance(finetune, FineTuneOptions):
        return finetune
    try:
        return FineTuneOptions(**(finetune or {}))
    except TypeError as exc:
        raise QcaError(f"unknown fine-tuning option ({exc}).") from None


def body_encoder(store: Store, body) -> CachedEncoder:
    """The tuned body's encoder behind the project's embedding cache: keyed by the body's id, so never stale."""
    return CachedEncoder(body.encoder(), store.cache_dir / "embeddings.sqlite")


def describe_with_body(encoder) -> Describe:
    """Encode code descriptions as a tuned body reads a unit: alone, without context."""
    from .finetune import unit_input

    return lambda texts: encoder.encode([unit_input(text, "") for text in texts])


def fit_finetuned(store: Store, data: TrainingSet, *, spec: str, holdout: list[str], exclusive: bool,
                  options: TrainOptions, finetune, describe: Callable[[Describe], dict], base_encode: Describe,
                  progress=None) -> tuple[CodeModel, object]:
    """Tune a body on the training transcripts; fit its head there and calibrate it on the held-out ones."""
    from .finetune import train_body

    if data.inputs is None:
        raise ValueError("fine-tuning needs the training set's pair inputs (training_set(context_words=...))")
    mask = np.isin(np.asarray(data.groups), holdout)
    body = train_body(data.inputs, data.labels, exclusive=exclusive, holdout=mask, options=finetune_options(finetune),
                      base=spec, progress=progress, codes=data.codes)
    return head_on_body(store, data, body, mask, exclusive=exclusive, options=options, describe=describe,
                        base_encode=base_encode), body


def head_on_body(store: Store, data: TrainingSet, body, holdout: np.ndarray, *, exclusive: bool,
                 options: TrainOptions, describe: Callable[[Describe], dict], base_encode: Describe,
                 features: str = DEFAULT_BODY_FEATURES) -> CodeModel:
    """The head (features and classifier) on the body's vectors of every coded unit, calibrated on ``holdout``.

    ``features`` "unit+pair": beside the frozen encoder's vectors of the units (``data.embeddings``; of texts:
    ``base_encode``), so the head keeps what the unit alone says when a small tuning blurs it with the context.
    """
    encoder = body_encoder(store, body)
    vectors = encoder.encode(data.inputs)
    describe_body = describe_with_body(encoder)
    if features == "unit+pair":
        vectors = unit_and_pair(data.embeddings, vectors)
        body_only = describe_body
        describe_body = lambda texts: unit_and_pair(base_encode(texts), body_only(texts))  # noqa: E731
    model = train_model(replace(data, embeddings=vectors), exclusive=exclusive, options=options, holdout=holdout,
                        descriptions=describe(describe_body))
    model.manifest["body_features"] = features
    return model


def unit_and_pair(unit_vectors: np.ndarray, pair_vectors: np.ndarray) -> np.ndarray:
    """One unit-length vector per row from the frozen encoder's vector of the unit and the tuned body's vector of
    the (context, unit) pair: their dot products are the mean of the two cosines."""
    both = np.hstack([np.asarray(unit_vectors, np.float32), np.asarray(pair_vectors, np.float32)])
    return both / np.float32(np.sqrt(2.0))


def holdout_kappa(model: CodeModel) -> float | None:
    return (model.manifest.get("cv") or {}).get("kappa")


def compare(tuned: CodeModel, fast: CodeModel, *, units: int, transcripts: int) -> dict:
    """Both models' kappa on the same held-out units; the fine-tuned one is kept only when strictly better."""
    tuned_kappa, fast_kappa = holdout_kappa(tuned), holdout_kappa(fast)
    won = tuned_kappa is not None and (fast_kappa is None or tuned_kappa > fast_kappa)
    return {"finetuned_kappa": tuned_kappa, "fast_kappa": fast_kappa, "units": units, "transcripts": transcripts,
            "winner": "finetuned" if won else "fast", "kind": (tuned.manifest.get("cv") or {}).get("kind")}


def comparison_line(comparison: dict) -> str:
    """'fine-tuned kappa 0.74 vs fast 0.70 on 812 held-out units of 20 transcripts: fine-tuned kept'."""
    def show(k):
        return "n/a" if k is None else f"{k:.2f}"

    kept = "fine-tuned kept" if comparison["winner"] == "finetuned" else "fast kept"
    line = (f"fine-tuned kappa {show(comparison['finetuned_kappa'])} vs fast {show(comparison['fast_kappa'])} on "
            f"{comparison['units']} held-out units of {comparison['transcripts']} transcripts: {kept}")
    tuning = comparison.get("finetuning") or {}
    if tuning.get("stopped_early"):  # a budget that ended the tuning early explains a fine-tuned model that lost
        line += (f" (the fine-tuning stopped at --max-minutes; its best of {tuning['epochs']} epochs was "
                 f"{tuning['best_epoch'] or 'none: no epoch finished'})")
    return line


def fit_by_method(store: Store, data: TrainingSet, *, method: str, spec: str, exclusive: bool, options: TrainOptions,
                  finetune, describe: Callable[[Describe], dict], fast_describe: Describe,
                  inputs: Callable[[int], list[str]] | None = None, progress=None) -> Fitted:
    """Train as ``method`` says ('fast', 'finetuned' or 'auto'); QcaError when 'finetuned' cannot be had.

    ``inputs(context_words)`` gives the pair strings of ``data``'s units when a fine-tuning is about to run
    (``data.inputs`` otherwise).
    """
    if method not in METHODS:
        raise QcaError(f"unknown training method {method!r}; use one of {', '.join(METHODS)}.")

    def fast_model(holdout_mask=None) -> CodeModel:
        return train_model(data, exclusive=exclusive, options=options, holdout=holdout_mask,
                           descriptions=describe(fast_describe))

    if method == "fast":
        return Fitted(fast_model(), "fast")
    holdout, obstacle = finetune_obstacle(spec, data, exclusive=exclusive, options=options, method=method)
    if obstacle:
        if method == "finetuned":
            raise QcaError(f"cannot fine-tune: {obstacle}. Train with --method fast.")
        return Fitted(fast_model(), "fast", note=f"fast model kept without fine-tuning: {obstacle}")
    finetune = finetune_options(finetune)
    if data.inputs is None and inputs is not None:
        data = replace(data, inputs=inputs(finetune.context_words))
    tuned, body = fit_finetuned(store, data, spec=spec, holdout=holdout, exclusive=exclusive, options=options,
                                finetune=finetune, describe=describe, base_encode=fast_describe, progress=progress)
    if method == "finetuned":
        return Fitted(tuned, "finetuned", body, holdout)
    mask = np.isin(np.asarray(data.groups), holdout)
    rows = head_rows(data, exclusive=exclusive, codes=tuned.codes or data.codes)
    comparison = compare(tuned, fast_model(mask), units=int(mask[rows].sum()), transcripts=len(holdout))
    comparison["finetuning"] = {"best_epoch": body.best_epoch, "epochs": finetune.epochs, "stopped_early": body.stopped_early,
                                "seconds": body.seconds}
    if comparison["winner"] == "finetuned":
        return Fitted(tuned, "finetuned", body, holdout, comparison)
    return Fitted(fast_model(), "fast", holdout=[], comparison=comparison)


# --- the latest fine-tuned model's body ---------------------------------------------------------


def load_body(directory: Path, manifest: dict):
    """The TunedBody saved beside a model's arrays, checked against its manifest entry (ModelError, one line)."""
    from .finetune import TunedBody

    entry = manifest.get(BODY_FILE_KEY)
    if not isinstance(entry, dict):
        raise ModelError(f"{directory / 'manifest.json'}: a fine-tuned model without its body entry; "
                         "retrain with 'qcassist train'.")
    body = TunedBody.load(directory, entry)
    if body.encoder().id != manifest.get("encoder"):
        raise ModelError(f"{directory / 'manifest.json'}: names encoder {manifest.get('encoder')} but its body is "
                         f"{body.encoder().id}; retrain with 'qcassist train'.")
    return body
