"""A model-free stand-in for ``qcassist.finetune`` with its API, to test the product around fine-tuning quickly.

Its "body" hashes the words of the pair string (like conftest's HashEncoder) and adds, per code, a direction
learned from the training rows' labels: plainly a tuned encoder, without torch. It saves its weights with their
sha256 and refuses a tampered file on load, as the real TunedBody does.
"""

from __future__ import annotations

import hashlib
import json
import types
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from qcassist.saved_model import ModelError
from tests.conftest import HashEncoder

FILE = "body.safetensors"


@dataclass(frozen=True)
class FineTuneOptions:
    tuned_layers: int = 2
    epochs: int = 3
    learning_rate: float = 5e-5
    batch_size: int = 32
    max_length: int = 128
    context_words: int = 48
    max_minutes: float | None = None
    seed: int = 0
    device: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> FineTuneOptions:
        return cls(**values)


def pair_input(text: str, role: str, context: str, context_role: str, *, context_words: int = 48) -> str:
    return f"{role}: {text} [SEP] {context_role}: {context}"


def unit_input(text: str, role: str) -> str:
    return f"{role}: {text}"


class _BodyEncoder:
    def __init__(self, weights: np.ndarray, sha: str):
        self.weights = weights
        self.id = f"finetuned:{sha[:16]}"
        self.hash = HashEncoder()
        self.calls: list[int] = []

    def encode(self, texts):
        self.calls.append(len(texts))
        base = self.hash.encode([t.split(" [SEP] ")[0] for t in texts])
        out = base + base @ self.weights
        return (out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)).astype(np.float32)


class TunedBody:
    def __init__(self, weights: np.ndarray, history: list[dict], options: FineTuneOptions):
        self.weights = weights.astype(np.float32)
        self.history = history
        self.best_epoch = len(history)
        self.stopped_early = False
        self.seconds = 0.01
        self.options = options
        self.sha256 = hashlib.sha256(self.weights.tobytes()).hexdigest()

    def encoder(self) -> _BodyEncoder:
        return _BodyEncoder(self.weights, self.sha256)

    centroids: np.ndarray | None = None  # per code, of its training units (the network's own "head")

    def predict_proba(self, inputs) -> np.ndarray:
        vectors = self.encoder().encode(list(inputs))
        scores = vectors @ self.centroids.T.astype(np.float64) * 10
        e = np.exp(scores - scores.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def save(self, directory) -> dict:
        path = Path(directory) / FILE
        path.write_bytes(self.weights.tobytes())
        return {"file": FILE, "sha256": self.sha256, "base": "fake", "options": self.options.as_dict(),
                "history": self.history, "best_epoch": self.best_epoch, "shape": list(self.weights.shape)}

    @classmethod
    def load(cls, directory, entry: dict) -> TunedBody:
        path = Path(directory) / entry["file"]
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise ModelError(f"{path}: its sha256 does not match the manifest (changed or damaged); retrain with "
                             "'qcassist train'.")
        weights = np.frombuffer(data, np.float32).reshape(entry["shape"])
        return cls(weights, entry["history"], FineTuneOptions.from_dict(entry["options"]))


CALLS: list[dict] = []


def train_body(inputs, labels, *, exclusive, holdout=None, options=None, base="default", progress=None,
               codes=None) -> TunedBody:
    options = options or FineTuneOptions()
    labels = np.asarray(labels)
    train = np.ones(len(inputs), bool) if holdout is None else ~np.asarray(holdout, bool)
    CALLS.append({"rows": int(train.sum()), "base": base, "options": options})
    vectors = HashEncoder().encode([t.split(" [SEP] ")[0] for t in inputs])
    weights = np.zeros((vectors.shape[1], vectors.shape[1]), np.float32)
    history = []
    for epoch in range(options.epochs):
        for step in range(2):
            if progress:
                progress({"epoch": epoch + 1, "epochs": options.epochs, "step": 2 * epoch + step + 1,
                          "steps": 2 * options.epochs,
                          "elapsed": 0.0, "eta": 1.0, "loss": 0.5})
        history.append({"epoch": epoch + 1, "loss": 0.5 / (epoch + 1)})
    # pull each code's training units toward its centroid: a "tuned" geometry
    for j in range(labels.shape[1]):
        members = train & (labels[:, j] == 1)
        if members.any():
            centroid = vectors[members].mean(axis=0)
            weights += np.outer(centroid, centroid).astype(np.float32) * (options.seed + 1)
    body = TunedBody(weights, history, options)
    encoded = body.encoder().encode(list(inputs))
    body.centroids = np.stack([encoded[train & (labels[:, j] == 1)].mean(axis=0) if (train & (labels[:, j] == 1)).any()
                               else np.zeros(encoded.shape[1]) for j in range(labels.shape[1])])
    return body


def module() -> types.ModuleType:
    fake = types.ModuleType("qcassist.finetune")
    for name in ("FineTuneOptions", "pair_input", "unit_input", "train_body", "TunedBody"):
        setattr(fake, name, globals()[name])
    fake.CALLS = CALLS
    return fake


def manifest_of(directory) -> dict:
    return json.loads((Path(directory) / "manifest.json").read_text())
