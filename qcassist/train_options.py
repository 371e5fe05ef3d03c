"""The classifier's training options: plain values, importable without scikit-learn.

Kept apart from ``classify`` so that the command line can show their defaults in
``--help`` without loading scikit-learn; ``classify`` re-exports ``TrainOptions``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .features import FeatureConfig


@dataclass(frozen=True, slots=True)
class TrainOptions:
    features: FeatureConfig = FeatureConfig()
    C: float = 1.0
    class_weight: str | None = None
    min_classifier_examples: int = 5  # fewer: the code is scored by its exemplars
    # Similarity cut-offs for the fallbacks, set for all-MiniLM-L6-v2 on the demo interviews
    # (true matches there score about 0.35-0.45); another encoder may need others.
    exemplar_threshold: float = 0.35  # cosine to the nearest example of the closest few-example code
    description_threshold: float = 0.30  # cosine to the closest example-less code's description
    rationale_size: int = 3
