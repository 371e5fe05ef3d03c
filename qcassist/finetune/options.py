"""Fine-tuning hyper-parameters: keyword defaults are the config, recorded in the manifest."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from .inputs import DEFAULT_CONTEXT_WORDS


@dataclass(frozen=True)
class FineTuneOptions:
    """How ``train_body`` fine-tunes; ``as_dict``/``from_dict`` round-trip it through JSON."""

    tuned_layers: int = 2  # top transformer layers trained; the rest (and the embeddings) frozen. 0 or >= n_layers: all
    epochs: int = 3
    learning_rate: float = 5e-5  # the body's; the classification head learns HEAD_RATE_FACTOR times faster
    batch_size: int = 32
    max_length: int = 128  # word pieces of the whole (context, unit) pair
    context_words: int = DEFAULT_CONTEXT_WORDS  # the last words of the previous turn kept
    max_minutes: float | None = None  # stop after the batch that passes it, keep the best checkpoint
    seed: int = 0
    device: str | None = None  # None: "cuda" when torch.cuda.is_available(), else "cpu"

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> FineTuneOptions:
        """The options a manifest recorded; unknown keys are a ValueError (a newer or tampered manifest)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown fine-tuning options {unknown}")
        return cls(**d)
