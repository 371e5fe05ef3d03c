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


# --- the same coefficients from summed tables, for the bootstrap ----------------------
#
# Every coefficient above is a function of a few sums over items (agreeing pairs, category
# counts, a contingency table, a coincidence matrix). Summed per transcript once, a
# bootstrap sample is a weighted sum of those tables (weight: how often its draw took the
# transcript), so a thousand resamples are a few matrix products instead of a thousand
# calls into statsmodels and krippendorff. The tests hold these equal to the functions above.


class ItemTables:
    """Per-group sums over items that determine every coefficient; the leading axis is the group."""

    def __init__(self, matrix: np.ndarray, groups: np.ndarray, n_groups: int, n_categories: int | None = None):
        q = max(n_categories if n_categories else int(matrix.max()) + 1, 1)
        counts, rated = _item_counts(matrix, q)
        self.q = q
        self.coders = matrix.shape[0]
        several = rated >= 2
        share = np.zeros(len(rated))
        share[several] = (counts[several] * (counts[several] - 1)).sum(axis=1) / (rated[several] * (rated[several] - 1))
        self.pair_share = _by_group(share, groups, n_groups)
        self.several = _by_group(several.astype(float), groups, n_groups)
        judged = rated >= 1
        prevalence = np.zeros_like(counts)
        prevalence[judged] = counts[judged] / rated[judged, None]
        self.prevalence = _by_group(prevalence, groups, n_groups)
        self.judged = _by_group(judged.astype(float), groups, n_groups)
        complete = rated == self.coders
        self.complete = _by_group(complete.astype(float), groups, n_groups)
        self.complete_counts = _by_group(counts * complete[:, None], groups, n_groups)
        self.complete_squares = _by_group((counts**2).sum(axis=1) * complete, groups, n_groups)
        # Krippendorff's coincidences (c-k pairs within each pairable item, weighted 1/(m_u - 1)) and
        # Cohen's contingency table enter only through their totals, traces and margins.
        weight = np.where(several, 1.0 / np.maximum(rated - 1, 1), 0.0)
        weighted = counts * weight[:, None]
        self.coincidence_margin = _by_group(weighted * (rated[:, None] - 1), groups, n_groups)  # n_c
        self.coincidence_trace = _by_group((weighted * (counts - 1)).sum(axis=1), groups, n_groups)
        self.cohen_total = self.cohen_trace = self.cohen_rows = self.cohen_columns = None
        if self.coders == 2:
            both = complete
            first, second = np.zeros_like(counts), np.zeros_like(counts)
            first[np.flatnonzero(both), matrix[0, both]] = 1
            second[np.flatnonzero(both), matrix[1, both]] = 1
            self.cohen_total = _by_group(both.astype(float), groups, n_groups)
            self.cohen_trace = _by_group((first * second).sum(axis=1), groups, n_groups)
            self.cohen_rows = _by_group(first, groups, n_groups)
            self.cohen_columns = _by_group(second, groups, n_groups)

    def summed(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """The tables summed with ``weights`` (samples × groups): one table per sample."""
        names = ["pair_share", "several", "prevalence", "judged", "complete", "complete_counts", "complete_squares",
                 "coincidence_margin", "coincidence_trace"]
        if self.cohen_total is not None:
            names += ["cohen_total", "cohen_trace", "cohen_rows", "cohen_columns"]
        return {name: np.tensordot(weights, getattr(self, name), axes=(1, 0)) for name in names}


def _by_group(values: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    out = np.zeros((n_groups, *values.shape[1:]))
    np.add.at(out, groups, values)
    return out


def statistics_from_tables(tables: ItemTables, weights: np.ndarray) -> dict[str, np.ndarray]:
    """Each coefficient for each sample (row of ``weights``); NaN where it is undefined."""
    s = tables.summed(np.atleast_2d(weights).astype(float))
    q, m = tables.q, tables.coders
    with np.errstate(divide="ignore", invalid="ignore"):
        observed = s["pair_share"] / s["several"]
        prevalence = s["prevalence"] / s["judged"][:, None]
        chance = (prevalence * (1 - prevalence)).sum(axis=1) / (q - 1) if q >= 2 else np.full(len(observed), np.nan)
        out = {
            "percent_agreement": np.where(s["several"] > 0, observed, np.nan),
            "gwet_ac1": np.where(s["several"] > 0, (observed - chance) / (1 - chance), np.nan),
        }
        # Fleiss (statsmodels' formula) on the items every coder judged
        p_category = s["complete_counts"] / (s["complete"] * m)[:, None]
        p_item = (s["complete_squares"] - s["complete"] * m) / (m * (m - 1)) / s["complete"]
        expected = (p_category**2).sum(axis=1)
        out["fleiss_kappa"] = np.where(s["complete"] >= 2, (p_item - expected) / (1 - expected), np.nan)
        # Krippendorff's nominal alpha: 1 - (n - 1) · off-diagonal coincidences / Σ_{c≠k} n_c n_k
        n_c = s["coincidence_margin"]
        n = n_c.sum(axis=1)
        disagree = n - s["coincidence_trace"]
        expected_pairs = n**2 - (n_c**2).sum(axis=1)
        out["krippendorff_alpha"] = np.where(expected_pairs > 1e-9, 1 - (n - 1) * disagree / expected_pairs, np.nan)
        if "cohen_total" in s:
            total = s["cohen_total"]
            agree_share = s["cohen_trace"] / total
            by_chance = np.einsum("ri,ri->r", s["cohen_rows"], s["cohen_columns"]) / total**2
            out["cohen_kappa"] = np.where((total >= 2) & (by_chance < 1 - 1e-12), (agree_share - by_chance) / (1 - by_chance), np.nan)
    return {name: np.where(np.isfinite(value), value, np.nan) for name, value in out.items()}
