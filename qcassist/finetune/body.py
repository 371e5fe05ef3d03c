"""A fine-tuned encoder body with its classification head: encode, predict, save, load.

Only the tuned tensors and the head are saved (safetensors, no pickle); loading reads the
base encoder again (checksum verified) and overlays them, refusing a tampered file or a
base that is not the one the body was tuned from.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..embed import normalize_rows, sha256_file
from ..saved_model import ModelError, fail
from .network import BODY, HEAD, batches, collate, freeze, load_base, make_head, pooled, resolve_device, tokenize
from .options import FineTuneOptions

FILE = "body.safetensors"


class TunedBody:
    """A fine-tuned transformer and its head over ``codes``; the product's head is the CodeClassifier fitted on ``encoder()``."""

    def __init__(self, *, model, head, tokenizer, tuned: list[str], codes: list[str], exclusive: bool,
                 options: FineTuneOptions, base: str, base_spec: str, device: str, history: list[dict] | None = None,
                 best_epoch: int = 0, stopped_early: bool = False, seconds: float = 0.0, examples: int = 0):
        self.codes = list(codes)
        self.exclusive = exclusive
        self.options = options
        self.base = base  # the base encoder's id, e.g. all-MiniLM-L6-v2@sha256:…
        self.base_spec = base_spec  # what the user named: "default", a hub name or a local path
        self.history = list(history or [])
        self.best_epoch = best_epoch  # 1-based epoch whose weights these are; 0: stopped before an epoch ended
        self.stopped_early = stopped_early
        self.seconds = seconds
        self.examples = examples
        self._model = model
        self._head = head
        self._tokenizer = tokenizer
        self._tuned = list(tuned)
        self._device = device
        self._sha256: str | None = None

    # --- using it -----------------------------------------------------------------------

    def encoder(self, batch_size: int = 64) -> FineTunedEncoder:
        """An Encoder over pair_input strings: the tuned body's mean-pooled, L2-normalized vectors."""
        return FineTunedEncoder(self, batch_size)

    def predict_proba(self, inputs: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """The network's own head: softmax (exclusive) or per-code sigmoid, (n, len(codes))."""
        import torch

        if not inputs:
            return np.zeros((0, len(self.codes)), dtype=np.float32)
        logits = self._head(self.pooled(inputs, batch_size).to(self._device))
        scores = torch.softmax(logits, dim=1) if self.exclusive else torch.sigmoid(logits)
        return scores.detach().cpu().numpy().astype(np.float32)

    def pooled(self, inputs: Sequence[str], batch_size: int = 64):
        """Mean-pooled last hidden states (n, dim) as a CPU float32 tensor, in the order of ``inputs``."""
        import torch

        self._model.eval()
        self._head.eval()
        tokenized = tokenize(self._tokenizer, list(inputs), self.options.max_length)
        out = torch.zeros((len(inputs), self._model.config.hidden_size), dtype=torch.float32)
        with torch.inference_mode():
            for rows in batches(tokenized.lengths(), batch_size, None):
                batch = collate(tokenized, rows, self._tokenizer.pad_token_id or 0, self._device)
                out[torch.from_numpy(rows)] = pooled(self._model, batch).float().cpu()
        return out

    # --- persistence --------------------------------------------------------------------

    def tensors(self) -> dict:
        """The saved state: the tuned transformer tensors (``body.``) and the head (``head.``), contiguous on the CPU."""
        parameters = dict(self._model.named_parameters())
        state = {BODY + name: parameters[name] for name in self._tuned}
        state.update({HEAD + name: value for name, value in self._head.state_dict().items()})
        return {name: value.detach().to("cpu").contiguous().clone() for name, value in state.items()}

    def _serialized(self) -> bytes:
        from safetensors.torch import save

        return save(self.tensors(), metadata={"format": "pt"})

    @property
    def sha256(self) -> str:
        """sha256 of body.safetensors as ``save`` writes it (the weights never change after training)."""
        if self._sha256 is None:
            self._sha256 = hashlib.sha256(self._serialized()).hexdigest()
        return self._sha256

    def save(self, directory: Path) -> dict:
        """Write directory/body.safetensors (atomically) and return its manifest entry."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        data = self._serialized()
        self._sha256 = hashlib.sha256(data).hexdigest()
        partial = directory / f".{FILE}.partial"
        with open(partial, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, directory / FILE)
        return {
            "file": FILE, "sha256": self._sha256, "bytes": len(data),
            "base_encoder": self.base, "base_spec": self.base_spec, "options": self.options.as_dict(),
            "codes": self.codes, "exclusive": self.exclusive, "history": self.history,
            "best_epoch": self.best_epoch, "stopped_early": self.stopped_early, "seconds": self.seconds,
            "examples": self.examples, "tensors": sorted(self.tensors()),
        }

    @classmethod
    def load(cls, directory: Path, entry: dict, device: str | None = None) -> TunedBody:
        """The body ``save`` wrote; ModelError naming the file if it was changed or its base encoder differs."""
        path = Path(directory) / FILE
        codes, exclusive, options, names = _read_entry(path, entry)
        if not path.exists():
            raise fail(path, "missing")
        if sha256_file(path) != entry["sha256"]:
            raise fail(path, f"sha256 does not match the manifest ({str(entry['sha256'])[:12]}…); the file was changed or is corrupt")
        device = resolve_device(device)
        base = _load_base(path, entry, device)
        tuned = freeze(base.model, options.tuned_layers)
        head = make_head(base.model, len(codes)).to(device)
        _overlay(path, _read_tensors(path), names, base.model, head, tuned)
        body = cls(
            model=base.model, head=head, tokenizer=base.tokenizer, tuned=tuned, codes=codes, exclusive=exclusive,
            options=options, base=base.id, base_spec=base.spec, device=device, history=entry.get("history", []),
            best_epoch=int(entry.get("best_epoch", 0)), stopped_early=bool(entry.get("stopped_early", False)),
            seconds=float(entry.get("seconds", 0.0)), examples=int(entry.get("examples", 0)),
        )
        body._sha256 = entry["sha256"]
        return body


class FineTunedEncoder:
    """The Encoder protocol over a TunedBody: id "finetuned:<16 hex of the weights' sha256>"."""

    def __init__(self, body: TunedBody, batch_size: int = 64):
        self.body = body
        self.batch_size = batch_size

    @property
    def id(self) -> str:
        return f"finetuned:{self.body.sha256[:16]}"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return normalize_rows(self.body.pooled(texts, self.batch_size).numpy())


# --- loading helpers: each failure is one line naming the file ---------------------------


def _read_entry(path: Path, entry: dict) -> tuple[list[str], bool, FineTuneOptions, list[str]]:
    try:
        if entry["file"] != FILE:
            raise ValueError(f"file is {entry['file']!r}, expected {FILE!r}")
        codes, exclusive, names = entry["codes"], entry["exclusive"], entry["tensors"]
        if not (isinstance(codes, list) and codes and all(isinstance(c, str) for c in codes)):
            raise ValueError("codes is not a list of names")
        if not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
            raise ValueError("tensors is not a list of names")
        if not isinstance(entry["sha256"], str) or not isinstance(entry["base_spec"], str):
            raise ValueError("sha256 or base_spec is not a string")
        options = FineTuneOptions.from_dict(entry["options"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise fail(path, f"the manifest's entry for it is unreadable ({type(exc).__name__}: {exc})") from None
    return codes, bool(exclusive), options, names


def _load_base(path: Path, entry: dict, device: str):
    from ..errors import QcaError

    try:
        base = load_base(entry["base_spec"], device)
    except QcaError as exc:
        raise fail(path, f"its base encoder {entry['base_spec']!r} cannot be loaded ({exc})") from None
    if base.id != entry["base_encoder"]:
        raise fail(path, f"it was tuned from base encoder {entry['base_encoder']} but {entry['base_spec']!r} is now {base.id}")
    return base


def _read_tensors(path: Path) -> dict:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(path, device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise fail(path, f"not a readable safetensors file ({type(exc).__name__})") from None


def _overlay(path: Path, tensors: dict, names: list[str], model, head, tuned: list[str]) -> None:
    """Copy the saved tensors into the base model and head: exactly the expected names, shapes and finite values."""
    import torch

    targets = {BODY + name: parameter for name, parameter in model.named_parameters() if name in set(tuned)}
    targets.update({HEAD + name: value for name, value in head.state_dict(keep_vars=True).items()})
    if set(tensors) != set(targets) or sorted(names) != sorted(targets):
        missing, extra = sorted(set(targets) - set(tensors)), sorted(set(tensors) - set(targets))
        raise fail(path, f"holds other tensors than its options say (missing {missing[:3]}, unexpected {extra[:3]})")
    with torch.no_grad():
        for name, target in targets.items():
            value = tensors[name]
            if value.shape != target.shape or not value.dtype.is_floating_point:
                raise fail(path, f"tensor {name!r} has shape {tuple(value.shape)} ({value.dtype}), expected {tuple(target.shape)}")
            if not torch.isfinite(value).all():
                raise fail(path, f"tensor {name!r} holds NaN or infinite values")
            target.copy_(value.to(target.dtype))


__all__ = ["FILE", "FineTunedEncoder", "ModelError", "TunedBody"]
