"""Fine-tuning the sentence-transformers body on coded units read with their context.

Library level, on arrays and strings: ``pair_input`` makes the (context, unit) string,
``train_body`` fine-tunes the top layers with a classification head (or, with
``FineTuneOptions(objective="contrastive")``, SetFit-style on pairs of coded units), and the ``TunedBody``
it returns encodes (``encoder()``), predicts with its own head, and saves/loads its tuned
tensors as safetensors. torch is imported only when a body is trained or loaded.
"""

from __future__ import annotations

from .body import FineTunedEncoder, TunedBody
from .inputs import SEPARATOR, pair_input, split_input, unit_input
from .options import OBJECTIVES, FineTuneOptions
from .training import train_body

__all__ = [
    "OBJECTIVES", "SEPARATOR", "FineTuneOptions", "FineTunedEncoder", "TunedBody", "pair_input", "split_input", "train_body", "unit_input",
]
