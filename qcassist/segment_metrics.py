"""Segmentation evaluation over boundary sequences: Pk, WindowDiff, boundary F1.

A segmentation of ``n`` sentences is given as ``n - 1`` zeros and ones, one per gap:
gap ``g`` lies between sentence ``g`` and ``g + 1`` and holds 1 when a new segment
starts at sentence ``g + 1``. ``boundary_sequence`` turns the gap indices that
``segment.cohesion_boundaries`` returns into this form.

Pk (Beeferman, Berger & Lafferty 1999) probes every pair of sentences ``k`` apart and
counts the probes where reference and hypothesis disagree on whether the two lie in
the same segment. WindowDiff (Pevzner & Hearst 2002) probes the same pairs and counts
those where the two differ in how many boundaries lie between them. Both are error
rates: 0 is perfect, lower is better. A probe of sentences ``i`` and ``i + k`` covers
gaps ``i .. i + k - 1``, so there are ``n - k`` probes, which is exactly what nltk's
``pk`` and ``windowdiff`` compute when given the gap sequence as their string.

``k`` defaults to half the reference's mean segment length, rounded, at least 1: the
mean segment length is sentences / segments (``(gaps + 1) / (boundaries + 1)``), as
segeval computes it from segment masses; rounding is Python's ``round`` (half to even)
as in nltk and segeval. nltk instead divides the string length by twice the boundary
count (no floor) and segeval floors ``k`` at 2, so pass ``k`` explicitly when numbers
must match either.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class BoundaryF1:
    """Exact-position boundary matches; add two to pool counts (micro-averaging)."""

    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0

    @property
    def precision(self) -> float:
        """Share of hypothesis boundaries that are reference boundaries (1.0 when neither side has any)."""
        return _ratio(self.true_positives, self.true_positives + self.false_positives, self.false_negatives == 0)

    @property
    def recall(self) -> float:
        """Share of reference boundaries the hypothesis found (1.0 when neither side has any)."""
        return _ratio(self.true_positives, self.true_positives + self.false_negatives, self.false_positives == 0)

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall; 0.0 when both are 0."""
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r > 0 else 0.0

    def __add__(self, other: BoundaryF1) -> BoundaryF1:
        return BoundaryF1(
            self.true_positives + other.true_positives,
            self.false_positives + other.false_positives,
            self.false_negatives + other.false_negatives,
        )


def _ratio(numerator: int, denominator: int, other_side_empty: bool) -> float:
    # 0/0 means nothing was there to find or to propose: perfect only if the other side is also empty.
    if denominator == 0:
        return 1.0 if other_side_empty else 0.0
    return numerator / denominator


def pk(reference: Sequence[int], hypothesis: Sequence[int], *, k: int | None = None) -> float:
    """Pk: share of sentence pairs k apart on whose same-segment status the two disagree."""
    ref, hyp = _check_pair(reference, hypothesis)
    k = _check_k(ref, k)
    return _window_error(ref, hyp, k, count_boundaries=False)


def windowdiff(reference: Sequence[int], hypothesis: Sequence[int], *, k: int | None = None) -> float:
    """WindowDiff: share of sentence pairs k apart with a different number of boundaries between them."""
    ref, hyp = _check_pair(reference, hypothesis)
    k = _check_k(ref, k)
    return _window_error(ref, hyp, k, count_boundaries=True)


def boundary_f1(reference: Sequence[int], hypothesis: Sequence[int]) -> BoundaryF1:
    """Boundary precision, recall and F1, counting only boundaries at exactly the same gap."""
    ref, hyp = _check_pair(reference, hypothesis)
    return BoundaryF1(
        true_positives=int(np.sum(ref & hyp)),
        false_positives=int(np.sum(hyp & ~ref)),
        false_negatives=int(np.sum(ref & ~hyp)),
    )


def default_k(reference: Sequence[int]) -> int:
    """Half the reference's mean segment length in sentences, rounded half to even, at least 1."""
    ref = _check_sequence("reference", reference)
    return _default_k(ref)


def boundary_sequence(gaps: Iterable[int], n_sentences: int) -> list[int]:
    """The 0/1 gap sequence of a segmentation of ``n_sentences`` cut at the given gap indices."""
    if n_sentences < 1:
        raise ValueError(f"a segmentation needs at least one sentence, but n_sentences is {n_sentences}")
    sequence = [0] * (n_sentences - 1)
    for gap in gaps:
        if not 0 <= gap < n_sentences - 1:
            raise ValueError(f"gap {gap} is outside 0..{n_sentences - 2}, the gaps between {n_sentences} sentences")
        sequence[gap] = 1
    return sequence


def _default_k(ref: np.ndarray) -> int:
    mean_segment_length = (len(ref) + 1) / (int(ref.sum()) + 1)
    return max(1, int(round(mean_segment_length / 2)))


def _check_sequence(name: str, values: Sequence[int]) -> np.ndarray:
    if isinstance(values, str):
        raise ValueError(f"{name} must be a sequence of the numbers 0 and 1, but it is the string {values[:20]!r}")
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a flat sequence of 0 and 1 per gap, but it has shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} is empty; a segmentation needs at least one gap (two sentences)")
    valid = (array == 0) | (array == 1)
    if not valid.all():
        first = int(np.flatnonzero(~valid)[0])
        raise ValueError(f"{name} must hold only 0 and 1, but {name}[{first}] is {values[first]!r}")
    return array.astype(bool)


def _check_pair(reference: Sequence[int], hypothesis: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    if len(reference) != len(hypothesis):
        raise ValueError(
            "reference and hypothesis must be the same length, "
            f"but reference has {len(reference)} gaps and hypothesis {len(hypothesis)}"
        )
    return _check_sequence("reference", reference), _check_sequence("hypothesis", hypothesis)


def _check_k(ref: np.ndarray, k: int | None) -> int:
    if k is None:
        return _default_k(ref)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= len(ref):
        raise ValueError(f"k must be a whole number from 1 to the number of gaps ({len(ref)}), but k is {k!r}")
    return int(k)


def _window_error(ref: np.ndarray, hyp: np.ndarray, k: int, *, count_boundaries: bool) -> float:
    """Unchecked: the share of the n - k probes (windows of k gaps) where ref and hyp disagree."""
    # Boundaries in gaps i .. i+k-1 for every probe i, from cumulative sums.
    ref_counts = _window_sums(ref, k)
    hyp_counts = _window_sums(hyp, k)
    if count_boundaries:
        errors = ref_counts != hyp_counts
    else:
        errors = (ref_counts > 0) != (hyp_counts > 0)
    return float(errors.mean())


def _window_sums(sequence: np.ndarray, k: int) -> np.ndarray:
    cumulative = np.concatenate(([0], np.cumsum(sequence, dtype=np.int64)))
    return cumulative[k:] - cumulative[:-k]
