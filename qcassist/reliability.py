"""Reliability coefficients on a coders × items matrix of category indices (MISSING = not judged).

From the libraries method researchers cite: scikit-learn's Cohen's kappa, statsmodels'
Fleiss' kappa, the ``krippendorff`` package's alpha. Gwet's AC1 and the percent
agreement, which none of them offers, follow Gwet (2014) for several raters with
missing ratings and are tested against the irrCAC package. Undefined values (one
category only, too few items) are None, never NaN.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

MISSING = -1


def percent_agreement(matrix: np.ndarray) -> float | None:
    """Mean share of agreeing coder pairs over items judged by at least two coders."""
    counts, rated = _item_counts(matrix)
    several = rated >= 2
    if not several.any():
        return None
    pairs = (counts[several] * (counts[several] - 1)).sum(axis=1) / (rated[several] * (rated[several] - 1))
    return float(pairs.mean())


def gwet_ac1(matrix: np.ndarray, n_categories: int | None = None) -> float | None:
    """Gwet's AC1 for any number of coders with missing ratings (Gwet 2014, ch. 4)."""
    counts, rated = _item_counts(matrix, n_categories)
    q = counts.shape[1]
    several = rated >= 2
    if not several.any() or q < 2:
        return None
    observed = ((counts[several] * (counts[several] - 1)).sum(axis=1) / (rated[several] * (rated[several] - 1))).mean()
    judged = rated >= 1
    prevalence = (counts[judged] / rated[judged, None]).mean(axis=0)
    chance = (prevalence * (1 - prevalence)).sum() / (q - 1)
    return _finite((observed - chance) / (1 - chance))


def cohen_kappa(matrix: np.ndarray) -> float | None:
    """Cohen's kappa of two coders on the items both judged.

    From the contingency table in numpy: the bootstrap calls it thousands of times
    and scikit-learn's input validation made it 90% of ``agree``'s time. The tests hold
    it equal to ``sklearn.metrics.cohen_kappa_score``.
    """
    both = (matrix[0] != MISSING) & (matrix[1] != MISSING)
    if both.sum() < 2:
        return None
    first, second = matrix[0, both], matrix[1, both]
    size = int(max(first.max(), second.max())) + 1
    table = np.bincount(first * size + second, minlength=size * size).reshape(size, size).astype(np.float64)
    total = table.sum()
    observed = np.trace(table) / total
    chance = (table.sum(axis=1) @ table.sum(axis=0)) / total**2
    if chance >= 1:
        return None  # one category only: kappa is undefined
    return _finite((observed - chance) / (1 - chance))


def fleiss_kappa(matrix: np.ndarray, n_categories: int | None = None) -> float | None:
    """Fleiss' kappa (statsmodels) on the items every coder judged; it needs equal raters per item."""
    from statsmodels.stats.inter_rater import fleiss_kappa as _fleiss

    complete = (matrix != MISSING).all(axis=0)
    if complete.sum() < 2:
        return None
    counts, _ = _item_counts(matrix[:, complete], n_categories)
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return _finite(_fleiss(counts, method="fleiss"))


def krippendorff_alpha(matrix: np.ndarray, n_categories: int | None = None) -> float | None:
    """Krippendorff's alpha, nominal, missing data allowed (the ``krippendorff`` package)."""
    import krippendorff

    data = np.where(matrix == MISSING, np.nan, matrix.astype(float))
    pairable = (~np.isnan(data)).sum(axis=0) >= 2
    if pairable.sum() < 1:
        return None
    domain = np.arange(n_categories if n_categories else int(matrix.max()) + 1)
    if len(np.unique(data[:, pairable][~np.isnan(data[:, pairable])])) < 2:
        return None  # one value only: alpha is undefined
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return _finite(krippendorff.alpha(reliability_data=data[:, pairable], value_domain=domain, level_of_measurement="nominal"))


def _item_counts(matrix: np.ndarray, n_categories: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Items × categories counts of coders choosing each category, and coders per item."""
    q = n_categories if n_categories else int(matrix.max()) + 1
    counts = np.zeros((matrix.shape[1], max(q, 1)), dtype=np.float64)
    for row in matrix:
        judged = row != MISSING
        np.add.at(counts, (np.flatnonzero(judged), row[judged]), 1)
    return counts, counts.sum(axis=1)


def _finite(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None
