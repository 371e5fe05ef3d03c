"""Review order: which candidate units a coder should review next, best first.

A strategy is one plain function over arrays (small-text's query strategy, without the
classes): it gets the current model's calibrated probabilities for the candidates (units
nobody has reviewed yet), shape (n_candidates, n_codes), or ``None`` before there is a
model; each candidate's place in transcript order; the candidates' embeddings; a numpy
``Generator``; and how many to return. It returns candidate row indices, best first,
never repeating one. No UI, no store: the review screen only shows what comes back.

- ``uncertainty``: smallest margin between the two most probable codes first (for a
  single code, closest to 0.5).
- ``random``: a seeded permutation of the candidates.
- ``stratified``: round-robin over the predicted (top) codes, rarest prediction first,
  so a batch covers every code; within a code, least confident first.
- ``sequential``: transcript order.
- ``diverse``: uncertain and spread over the embedding space, batch by batch: the 200
  smallest margins are clustered into 20 groups (k-means on the embeddings) and the least
  sure unit of each group is taken (after Zhdanov 2019, "Diverse mini-batch active
  learning"); the first 10 batches are spread this way, the rest of the queue follows by
  margin. Without embeddings it is ``uncertainty``.

Without a model (``probabilities is None``) every strategy that needs one falls back to
``random``; ``sequential`` does not need one. Ties are broken by transcript order.
``order_candidates`` validates its inputs and dispatches through ``STRATEGIES``.

Measured by simulated review on AnnoMI (``benchmarks/review_simulation.py``): see
``DEFAULT_STRATEGY``. Tried and dropped: most confident first within a code for
``stratified`` (far worse than random: the model learns nothing from what it already
knows), half margin / half random batches, and density-weighted margin (Settles & Craven
2008); neither beat plain margin.
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Callable

import numpy as np

Strategy = Callable[..., np.ndarray]

DEFAULT_STRATEGY = "diverse"  # fewest reviews to kappa 0.6 on AnnoMI (benchmarks/review_simulation.py)

DIVERSE_BATCH = 20  # ``diverse`` spreads each run of this many units (about one retraining's worth)
DIVERSE_PREFILTER = 10  # candidates considered per unit of a batch by ``diverse``
DIVERSE_BATCHES = 10  # batches spread out; the rest of the queue follows by margin


def uncertainty(probabilities: np.ndarray | None, *, positions: np.ndarray, rng: np.random.Generator, n: int,
                embeddings: np.ndarray | None = None) -> np.ndarray:
    """Smallest margin between the two most probable codes first (closest to 0.5 for one code)."""
    if probabilities is None:
        return random(None, positions=positions, rng=rng, n=n)
    return _by_score(margins(probabilities), positions, n)


def random(probabilities: np.ndarray | None, *, positions: np.ndarray, rng: np.random.Generator, n: int,
           embeddings: np.ndarray | None = None) -> np.ndarray:
    """A random order from ``rng``: the first n of a permutation of the candidates."""
    return rng.permutation(len(positions))[:n].astype(np.int64)


def sequential(probabilities: np.ndarray | None, *, positions: np.ndarray, rng: np.random.Generator, n: int,
               embeddings: np.ndarray | None = None) -> np.ndarray:
    """Transcript order."""
    return np.argsort(positions, kind="stable")[:n].astype(np.int64)


def stratified(probabilities: np.ndarray | None, *, positions: np.ndarray, rng: np.random.Generator, n: int,
               embeddings: np.ndarray | None = None) -> np.ndarray:
    """Round-robin over predicted codes (rarest prediction first), least confident first within a code."""
    if probabilities is None:
        return random(None, positions=positions, rng=rng, n=n)
    return _round_robin(probabilities, positions, n)


def diverse(probabilities: np.ndarray | None, *, positions: np.ndarray, rng: np.random.Generator, n: int,
            embeddings: np.ndarray | None = None) -> np.ndarray:
    """Uncertain and spread out: per batch of 20, the least sure unit of each k-means cluster of the 200 least sure."""
    if probabilities is None or embeddings is None:
        return uncertainty(probabilities, positions=positions, rng=rng, n=n)
    ranked = _by_score(margins(probabilities), positions, len(probabilities))
    vectors = np.asarray(embeddings, dtype=np.float64)
    taken = np.zeros(len(ranked), dtype=bool)
    picked: list[np.ndarray] = []
    for _ in range(DIVERSE_BATCHES):
        if taken.sum() >= n:
            break
        batch = _diverse_batch(ranked[~taken[ranked]], vectors, min(DIVERSE_BATCH, n - int(taken.sum())), rng)
        taken[batch] = True
        picked.append(batch)
    # further down, by margin alone: the queue is rebuilt after a retraining long before a coder gets there
    picked.append(ranked[~taken[ranked]][: n - int(taken.sum())])
    return np.concatenate(picked).astype(np.int64)


def _diverse_batch(ranked: np.ndarray, vectors: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    shortlist = ranked[: size * DIVERSE_PREFILTER]
    if len(shortlist) <= size:
        return shortlist[:size]
    labels = _kmeans(vectors[shortlist], size, rng)
    # shortlist is ranked, so the first member of each cluster is its most uncertain
    _, first = np.unique(labels, return_index=True)
    batch = shortlist[np.sort(first)]
    if len(batch) < size:  # fewer distinct clusters than asked (duplicate texts): fill by margin
        batch = np.concatenate([batch, shortlist[~np.isin(shortlist, batch)][: size - len(batch)]])
    return batch


def margins(probabilities: np.ndarray) -> np.ndarray:
    """Per row, the top probability minus the second (|2p − 1| for a single code): small means unsure."""
    if probabilities.shape[1] == 1:
        return np.abs(2.0 * probabilities[:, 0] - 1.0)
    top_two = np.sort(probabilities, axis=1)[:, -2:]
    return top_two[:, 1] - top_two[:, 0]


def _by_score(score: np.ndarray, positions: np.ndarray, n: int) -> np.ndarray:
    """Ascending score, ties in transcript order."""
    return np.lexsort((positions, score))[:n].astype(np.int64)


def _predicted(probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(predicted code, its confidence) per row; for a single code, 'yes' (1) or 'no' (0)."""
    if probabilities.shape[1] == 1:
        p = probabilities[:, 0]
        return (p >= 0.5).astype(np.int64), np.maximum(p, 1.0 - p)
    return probabilities.argmax(axis=1), probabilities.max(axis=1)


def _round_robin(probabilities: np.ndarray, positions: np.ndarray, n: int) -> np.ndarray:
    code, confidence = _predicted(probabilities)
    queues = []
    for c in np.unique(code):
        members = np.flatnonzero(code == c)
        # least confident first: most confident first measured far worse than random (AUC 0.41 vs 0.55)
        queues.append(members[np.lexsort((positions[members], confidence[members]))])
    queues.sort(key=len)  # the rarest predicted code leads each round
    picked: list[int] = []
    depth = 0
    while len(picked) < n and any(depth < len(q) for q in queues):
        picked.extend(int(q[depth]) for q in queues if depth < len(q))
        depth += 1
    return np.array(picked[:n], dtype=np.int64)


def _kmeans(points: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Each point's cluster under k-means (k-means++ seeded from ``rng``, one run)."""
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():  # duplicate texts can leave fewer distinct points than clusters
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = KMeans(n_clusters=k, n_init=1, random_state=int(rng.integers(2**31 - 1)))
        return model.fit_predict(points)


STRATEGIES: dict[str, Strategy] = {
    "uncertainty": uncertainty,
    "random": random,
    "stratified": stratified,
    "sequential": sequential,
    "diverse": diverse,
}


def order_candidates(
    strategy: str,
    probabilities: np.ndarray | None,
    *,
    positions: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
    n: int,
    embeddings: np.ndarray | None = None,
) -> np.ndarray:
    """Indices of the next ``n`` candidates to review by ``strategy``, best first (all of them if fewer).

    ``positions`` defaults to row order; ``rng`` to ``np.random.default_rng(0)``, so a queue
    is the same every time it is built from the same inputs.
    """
    if strategy not in STRATEGIES:
        close = difflib.get_close_matches(strategy, STRATEGIES, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown review order {strategy!r}; choose one of {', '.join(STRATEGIES)}.{hint}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be a non-negative integer, but it is {n!r}")
    count = _candidate_count(probabilities, positions, embeddings)
    if probabilities is not None:
        probabilities = np.asarray(probabilities, dtype=np.float64)
        if probabilities.ndim != 2 or probabilities.shape[1] < 1:
            raise ValueError(f"probabilities must be (n_candidates, n_codes), but their shape is {probabilities.shape}")
        bad = ~np.isfinite(probabilities) | (probabilities < 0) | (probabilities > 1)
        if bad.any():
            row, column = np.argwhere(bad)[0]
            raise ValueError(f"probabilities must lie in [0, 1], but row {row}, code {column} is {float(probabilities[row, column])}")
    if positions is None:
        positions = np.arange(count)
    positions = np.asarray(positions)
    if positions.ndim != 1 or len(positions) != count:
        raise ValueError(f"positions must be one number per candidate ({count}), but their shape is {positions.shape}")
    if not np.issubdtype(positions.dtype, np.number):
        raise ValueError(f"positions must be numbers, but their dtype is {positions.dtype}")
    if embeddings is not None:
        embeddings = np.asarray(embeddings)
        if embeddings.ndim != 2 or len(embeddings) != count:
            raise ValueError(f"embeddings must be (n_candidates, dimension) with {count} rows, but their shape is {embeddings.shape}")
    if rng is None:
        rng = np.random.default_rng(0)
    elif not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy Generator (np.random.default_rng(seed)), but it is {type(rng).__name__}")
    if count == 0 or n == 0:
        return np.zeros(0, dtype=np.int64)
    return STRATEGIES[strategy](probabilities, positions=positions, rng=rng, n=min(int(n), count), embeddings=embeddings)


def _candidate_count(probabilities, positions, embeddings) -> int:
    sizes = {name: len(value) for name, value in
             (("probabilities", probabilities), ("positions", positions), ("embeddings", embeddings)) if value is not None}
    if not sizes:
        raise ValueError("without probabilities, give positions or embeddings so the number of candidates is known")
    if len(set(sizes.values())) > 1:
        raise ValueError("probabilities, positions and embeddings must have one row per candidate, but their lengths are "
                         + ", ".join(f"{name} {size}" for name, size in sizes.items()))
    return next(iter(sizes.values()))
