"""Fine-tuning hyper-parameters: keyword defaults are the config, recorded in the manifest."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from .inputs import DEFAULT_CONTEXT_WORDS

# "classify": the body learns through a classification head over the codes (cross-entropy / masked BCE).
# "contrastive" (SetFit-style): the body learns to put units of the same code close (cosine 1) and units of
# different codes apart (cosine 0); the network's head only follows, on detached vectors. Its product head is
# the CodeClassifier on the tuned vectors, as for "classify". Measured in benchmarks/README.md (issue 12).
OBJECTIVES = ("classify", "contrastive")


# Defaults sized for issue 12's budget (<= 15 min on 2 CPU cores for the ~3,700-5,200 AnnoMI dev
# therapist utterances; pairs average 47 word pieces, 3% reach 128). Measured on the shared
# 2-core machine (CPU seconds, load ~10, so wall clock there meant nothing): one epoch over 600
# pairs took 47 CPU-s with tuned_layers=2 and ~2.3x the wall time with 6 (all) layers. With the
# frozen bottom computed once (network.bottom_states): 0.02 CPU-s per pair once, then 0.048
# per pair and epoch. 5,200 pairs x 3 epochs ~ 850 CPU-s ~ 7-8 min on 2 free cores, plus
# ~1.5 min to encode them for the head: 3 epochs of the top 2 layers fit; all 6 layers do not.
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
    objective: str = "classify"  # one of OBJECTIVES; manifests from before it was an option read as "classify"

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
