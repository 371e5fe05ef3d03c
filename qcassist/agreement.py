"""Agreement between coders: how far they agree, overall and per code, with bootstrap intervals.

Who coded what on which units (people, an adjudicated reference, the model; which
codings count) is in ``qcassist.ratings``; this module compares them.

The coefficients are in ``qcassist.reliability``. Confidence intervals are percentile
bootstraps over transcripts, because units of one conversation are not independent; with
fewer than ``MIN_CI_TRANSCRIPTS`` transcripts there is no interval (resampling two or
three interviews gives intervals that look precise and mean nothing).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .ratings import (  # DEFAULT_MIN_OVERLAP, ORIGINS and collect_ratings re-exported for adjudication and the CLI
    DEFAULT_MIN_OVERLAP, DEFAULT_ORIGIN, ORIGINS, AgreementError, Ratings, _compared_codes, collect_ratings, is_model,
    training_units,
)
from .reliability import (
    MISSING, ItemTables, cohen_kappa, fleiss_kappa, gwet_ac1, krippendorff_alpha, percent_agreement,
    statistics_from_tables,
)
from .store import Store

NONE = "(none)"
DEFAULT_BOOTSTRAP = 1000
MIN_CI_TRANSCRIPTS = 5

# Landis & Koch (1977) for kappa-like coefficients; Krippendorff (2004) for alpha.
KAPPA_SCALE: tuple[tuple[float, str], ...] = (
    (-1.0, "poor"), (0.0, "slight"), (0.2, "fair"), (0.4, "moderate"), (0.6, "substantial"), (0.8, "almost perfect"),
)
ALPHA_SCALE: tuple[tuple[float, str], ...] = ((-1.0, "unreliable"), (0.667, "tentative"), (0.8, "reliable"))


# --- statistics on a category matrix -------------------------------------------------


def category_matrix(ratings: Ratings, label: Callable[[frozenset[str]], str] | None = None) -> tuple[np.ndarray, list[str]]:
    """Coders × items matrix of category indices (MISSING where a coder did not judge the item)."""
    label = label or set_label
    names: dict[str, int] = {}
    matrix = np.full((len(ratings.coders), len(ratings.units)), MISSING, dtype=np.int64)
    for row, coder in enumerate(ratings.coders):
        for column, codes in enumerate(ratings.labels[coder]):
            if codes is not None:
                matrix[row, column] = names.setdefault(label(codes), len(names))
    return matrix, list(names)


def set_label(codes: frozenset[str]) -> str:
    return " + ".join(sorted(codes)) if codes else NONE


# --- the comparison ------------------------------------------------------------------


@dataclass
class Agreement:
    coders: list[str]
    reference: str
    codes: list[str]
    transcripts: int
    units: int
    unaligned: dict[str, int]
    min_overlap: float
    bootstrap: int
    multi_label: bool
    statistics: dict[str, dict]
    per_code: list[dict]
    confusion: dict | None
    notes: list[str] = field(default_factory=list)
    origin: str = DEFAULT_ORIGIN

    def as_dict(self) -> dict:
        data = dict(self.__dict__)
        data["thresholds"] = {"kappa": [list(t) for t in KAPPA_SCALE], "alpha": [list(t) for t in ALPHA_SCALE]}
        return data


OVERALL: dict[str, tuple[Callable, tuple[tuple[float, str], ...] | None]] = {
    "percent_agreement": (lambda m, q: percent_agreement(m), None),
    "cohen_kappa": (lambda m, q: cohen_kappa(m), KAPPA_SCALE),
    "fleiss_kappa": (fleiss_kappa, KAPPA_SCALE),
    "krippendorff_alpha": (krippendorff_alpha, ALPHA_SCALE),
    "gwet_ac1": (gwet_ac1, KAPPA_SCALE),
}


def agree(
    store: Store,
    coders: Sequence[str],
    *,
    codes: Sequence[str] = (),
    transcripts: Sequence[str] = (),
    reference: str | None = None,
    min_overlap: float = DEFAULT_MIN_OVERLAP,
    include_uncoded: bool = False,
    origin: str = DEFAULT_ORIGIN,
    bootstrap: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> Agreement:
    """Compare coders on the project's units: overall and per-code statistics with bootstrap CIs.

    ``progress`` is called once for the overall figures and once per code (``agreement_steps``
    tells how many calls to expect), for a progress bar.
    """
    reference = reference or coders[0]
    if reference not in coders:
        raise AgreementError(f"the reference coder {reference!r} is not among --coders {', '.join(coders)}.")
    step = progress or (lambda _name: None)
    ratings = collect_ratings(store, coders, codes=codes, transcripts=transcripts, min_overlap=min_overlap,
                              include_uncoded=include_uncoded, origin=origin)
    matrix, categories = category_matrix(ratings)
    statistics = {name: {"value": fn(matrix, len(categories)), "ci": None} for name, (fn, _) in OVERALL.items()}
    if len(coders) != 2:
        del statistics["cohen_kappa"]
    per_code = _per_code(ratings, reference)
    ids, groups = np.unique(ratings.transcripts, return_inverse=True)
    n_transcripts = len(ids)
    weights = bootstrap_weights(n_transcripts, bootstrap, seed)
    notes = []
    if weights is None and bootstrap > 0:
        notes.append(f"no interval: fewer than {MIN_CI_TRANSCRIPTS} transcripts (intervals resample whole transcripts, "
                     "and a handful of interviews cannot show how much the figures would vary).")
    if weights is not None:
        _add_intervals(statistics, statistics_from_tables(ItemTables(matrix, groups, n_transcripts, len(categories)), weights))
    step("overall")
    for entry in per_code:
        if weights is not None:
            _add_code_intervals(entry, ratings, reference, groups, n_transcripts, weights)
        step(entry["code"])
    per_code = [_flatten(entry) for entry in per_code]
    for name, entry in statistics.items():
        scale = OVERALL[name][1]
        entry["label"] = interpret(entry["value"], scale) if scale else None
    if ratings.multi_label:
        notes.append("units carry several codes: overall figures compare whole code sets; see the per-code binary figures.")
    notes += _model_notes(store, ratings)
    if statistics["fleiss_kappa"]["value"] is not None and (matrix == MISSING).any():
        notes.append("Fleiss' kappa uses only the units every coder judged; alpha and AC1 use all.")
    return Agreement(
        coders=list(coders), reference=reference, codes=list(ratings.codes),
        transcripts=n_transcripts, units=len(ratings.units), unaligned=ratings.unaligned,
        min_overlap=min_overlap, bootstrap=bootstrap if weights is not None else 0, multi_label=ratings.multi_label,
        statistics=statistics, per_code=per_code,
        confusion=None if ratings.multi_label else _confusion(ratings, reference), notes=notes, origin=origin,
    )


def agreement_steps(store: Store, codes: Sequence[str] = ()) -> int:
    """How many times ``agree`` calls its progress callback."""
    return 1 + len(_compared_codes(store.codebook(), codes))


def _model_notes(store: Store, ratings: Ratings) -> list[str]:
    """Say the model's figures are in-sample when (and only when) it judged units it was trained on."""
    model = next((c for c in ratings.coders if is_model(c)), None)
    if model is None:
        return []
    judged = {u.id for u, label in zip(ratings.units, ratings.labels[model]) if label is not None}
    trained = training_units(store, ratings.model_version)
    if trained is None:
        return ["the model's training units are unknown (its files are missing), so its figures may be in-sample; "
                "'qcassist evaluate' gives cross-validated ones."]
    seen = judged & trained
    if not seen:
        return []
    return [f"{len(seen)} of the {len(judged)} units the model is compared on trained it, so its figures are "
            "in-sample (optimistic); 'qcassist evaluate' gives cross-validated ones."]


def interpret(value: float | None, scale: tuple[tuple[float, str], ...]) -> str | None:
    if value is None:
        return None
    label = scale[0][1]
    for bound, name in scale:
        if value >= bound - 1e-12:
            label = name
    return label


def _binary(ratings: Ratings, code: str) -> np.ndarray:
    """Coders × items: 1 if the coder gave ``code``, 0 if they judged the item without it, MISSING otherwise."""
    return np.array([
        [MISSING if codes is None else int(code in codes) for codes in ratings.labels[coder]] for coder in ratings.coders
    ], dtype=np.int64)


def _per_code(ratings: Ratings, reference: str) -> list[dict]:
    rows = []
    for code in ratings.codes:
        matrix = _binary(ratings, code)
        entry = {"code": code, **_precision_recall(matrix, ratings.coders.index(reference))}
        entry["kappa"] = {"value": cohen_kappa(matrix) if len(ratings.coders) == 2 else fleiss_kappa(matrix, 2), "ci": None}
        entry["alpha"] = {"value": krippendorff_alpha(matrix, 2), "ci": None}
        rows.append(entry)
    return rows


def _flatten(entry: dict) -> dict:
    """{"f1": {"value", "ci"}} → {"f1": value, "f1_ci": ci}, as scripts read it most easily."""
    flat = {}
    for key, value in entry.items():
        if isinstance(value, dict):
            flat[key] = value["value"]
            flat[f"{key}_ci"] = value.get("ci")
        else:
            flat[key] = value
    return flat


def _precision_recall(matrix: np.ndarray, reference_row: int) -> dict:
    """Precision/recall/F1 of the other coders (pooled) against the reference, on items both judged."""
    truth, guess = [], []
    for row in range(len(matrix)):
        if row == reference_row:
            continue
        both = (matrix[reference_row] != MISSING) & (matrix[row] != MISSING)
        truth.append(matrix[reference_row, both])
        guess.append(matrix[row, both])
    truth_all, guess_all = np.concatenate(truth), np.concatenate(guess)
    true_positive = int((truth_all & guess_all).sum())
    predicted, support = int(guess_all.sum()), int(truth_all.sum())
    precision = true_positive / predicted if predicted else None
    recall = true_positive / support if support else None
    f1 = 2 * true_positive / (predicted + support) if predicted + support else None
    return {"precision": precision, "recall": recall, "f1": {"value": f1, "ci": None}, "support": support, "predicted": predicted}


def _confusion(ratings: Ratings, reference: str) -> dict:
    """Reference coder's code (rows) against the other coders' (columns), pooled, on items both judged."""
    labels = [*ratings.codes, NONE]
    index = {name: i for i, name in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    others = [c for c in ratings.coders if c != reference]
    for other in others:
        for mine, theirs in zip(ratings.labels[reference], ratings.labels[other]):
            if mine is not None and theirs is not None:
                matrix[index[set_label(mine)], index[set_label(theirs)]] += 1
    used = [i for i in range(len(labels)) if matrix[i].sum() or matrix[:, i].sum()]
    return {
        "labels": [labels[i] for i in used], "rows": reference, "columns": " + ".join(others),
        "matrix": matrix[np.ix_(used, used)].tolist(),
    }


# --- bootstrap over transcripts --------------------------------------------------------


def bootstrap_weights(n_transcripts: int, rounds: int, seed: int) -> np.ndarray | None:
    """Rounds × transcripts: how often each round's draw (transcripts with replacement) took each transcript."""
    if rounds <= 0 or n_transcripts < MIN_CI_TRANSCRIPTS:
        return None
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_transcripts, size=(rounds, n_transcripts))
    weights = np.zeros((rounds, n_transcripts))
    np.add.at(weights, (np.repeat(np.arange(rounds), n_transcripts), draws.ravel()), 1)
    return weights


def _add_intervals(entries: dict[str, dict], samples: dict[str, np.ndarray]) -> None:
    for name, entry in entries.items():
        entry["ci"] = _percentile_interval(samples[name])


def _percentile_interval(values: np.ndarray) -> list[float] | None:
    defined = values[~np.isnan(values)]
    # Too many undefined resamples (e.g. a rare code absent) make the interval meaningless.
    if len(defined) < 0.9 * len(values):
        return None
    low, high = np.percentile(defined, [2.5, 97.5])
    return [float(low), float(high)]


def _add_code_intervals(entry: dict, ratings: Ratings, reference: str, groups: np.ndarray, n_groups: int,
                        weights: np.ndarray) -> None:
    matrix = _binary(ratings, entry["code"])
    samples = statistics_from_tables(ItemTables(matrix, groups, n_groups, 2), weights)
    kappa = samples["cohen_kappa"] if len(ratings.coders) == 2 else samples["fleiss_kappa"]
    _add_intervals({"f1": entry["f1"], "kappa": entry["kappa"], "alpha": entry["alpha"]},
                   {"f1": _f1_samples(matrix, ratings.coders.index(reference), groups, n_groups, weights),
                    "kappa": kappa, "alpha": samples["krippendorff_alpha"]})


def _f1_samples(matrix: np.ndarray, reference_row: int, groups: np.ndarray, n_groups: int, weights: np.ndarray) -> np.ndarray:
    """F1 of the other coders (pooled) against the reference, per bootstrap round, from per-transcript counts."""
    sums = np.zeros((n_groups, 3))  # true positives, predicted, support
    for row in range(len(matrix)):
        if row == reference_row:
            continue
        both = (matrix[reference_row] != MISSING) & (matrix[row] != MISSING)
        truth, guess = matrix[reference_row] * both, matrix[row] * both
        np.add.at(sums, groups, np.stack([truth & guess, guess, truth], axis=1).astype(float))
    true_positive, predicted, support = (weights @ sums).T
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(predicted + support > 0, 2 * true_positive / (predicted + support), np.nan)
