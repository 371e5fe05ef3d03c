"""Candidate themes from unit embeddings, without being told how many there are.

Ward linkage on L2-normalised vectors, cut at the number of clusters with the best
silhouette (cosine) among those whose clusters reach ``min_size``. For many units
(more than ``direct_limit``) the units are first gathered into at most ``micro``
mini-batch k-means micro-clusters and the tree is built over their centres, so memory
stays bounded (no n×n matrix). Units far from their theme's centre — below the lower
Tukey fence of that theme's similarities — and units of clusters smaller than
``min_size`` fit no theme (label -1) rather than being forced in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NO_THEME = -1


@dataclass(frozen=True)
class ClusterOptions:
    """How themes are found; recorded with every run."""

    min_size: int = 5
    max_themes: int = 40
    direct_limit: int = 3000  # above this many units, cluster micro-cluster centres instead of units
    micro: int = 300
    silhouette_sample: int = 3000
    tolerance: float = 0.1  # take the fewest clusters whose silhouette is within this share of the best
    max_share: float = 0.5  # a cut whose largest cluster holds more than this share of the units is not considered
    seed: int = 0


@dataclass(frozen=True)
class Clustering:
    labels: np.ndarray  # per unit: theme index 0..k-1 or NO_THEME
    centroids: np.ndarray  # k × d, unit length
    similarity: np.ndarray  # per unit: cosine similarity to its theme's centre (the nearest centre if none)
    silhouette: float  # of the chosen cut (sampled for many units)


def normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


def cosine_distances(x: np.ndarray) -> np.ndarray:
    """1 − cosine similarity between the rows of unit-length ``x``, clipped to [0, 2], with an exact zero diagonal."""
    distances = np.clip(1.0 - x @ x.T, 0.0, 2.0)
    np.fill_diagonal(distances, 0.0)
    return distances


def cluster(vectors: np.ndarray, options: ClusterOptions = ClusterOptions(), *, include: np.ndarray | None = None) -> Clustering:
    """Themes of the rows of ``vectors``: labels ordered by size (largest first, ties by first row).

    Rows where ``include`` is False (e.g. units too short to carry a theme) fit no theme.
    """
    if include is not None and not include.all():
        inner = cluster(np.asarray(vectors)[include], options)
        labels = np.full(len(vectors), NO_THEME)
        labels[include] = inner.labels
        x = normalise(vectors)
        similarity = (x @ inner.centroids.T).max(axis=1) if len(inner.centroids) else np.zeros(len(x))
        similarity[include] = inner.similarity
        return Clustering(labels, inner.centroids, similarity, inner.silhouette)
    x = normalise(vectors)
    n = len(x)
    if n > options.direct_limit:
        points, owner, weights = _micro_clusters(x, options)
    else:
        points, owner, weights = x, np.arange(n), np.ones(n)
    tree = _ward_tree(points)
    labels, score = _best_cut(x, points, owner, weights, tree, options)
    return _finish(x, labels, score, options.min_size)


def _micro_clusters(x: np.ndarray, options: ClusterOptions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.cluster import MiniBatchKMeans

    k = min(options.micro, len(x))
    model = MiniBatchKMeans(n_clusters=k, random_state=options.seed, batch_size=2048, n_init=3).fit(x)
    owner = model.labels_
    weights = np.bincount(owner, minlength=k).astype(float)
    used = weights > 0
    remap = np.cumsum(used) - 1
    return normalise(model.cluster_centers_[used]), remap[owner], weights[used]


def _ward_tree(points: np.ndarray) -> np.ndarray:
    from scipy.cluster.hierarchy import linkage

    return linkage(points, method="ward")


def _best_cut(x, points, owner, weights, tree, options: ClusterOptions) -> tuple[np.ndarray, float]:
    """The cut of the tree with the highest silhouette among cuts with ≥ 2 clusters of min_size units."""
    from scipy.cluster.hierarchy import fcluster
    from sklearn.metrics import silhouette_score

    n = len(x)
    rng = np.random.default_rng(options.seed)
    sample = np.sort(rng.choice(n, size=options.silhouette_sample, replace=False)) if n > options.silhouette_sample else np.arange(n)
    cuts: list[tuple[float, np.ndarray]] = []
    largest_k = min(options.max_themes, len(points) - 1, n // max(1, options.min_size))
    xs = x[sample]
    distances = cosine_distances(xs)  # at most silhouette_sample², computed once for every cut
    for k in range(2, largest_k + 1):
        point_labels = fcluster(tree, k, criterion="maxclust") - 1
        labels = point_labels[owner]
        sizes = np.bincount(labels)
        big = sizes >= options.min_size
        if big.sum() < 2 or sizes.max() > options.max_share * n:
            continue
        kept = big[labels[sample]]
        if len(np.unique(labels[sample][kept])) < 2:
            continue
        score = float(silhouette_score(distances[np.ix_(kept, kept)], labels[sample][kept], metric="precomputed"))
        cuts.append((score, labels))
    if not cuts:
        return np.zeros(n, dtype=int), 0.0
    best = max(score for score, _ in cuts)
    # cuts come fewest clusters first: the first within tolerance of the best (the best itself at tolerance 0)
    score, labels = next((s, l) for s, l in cuts if s >= best - options.tolerance * abs(best) - 1e-12)
    return labels, score


def _finish(x: np.ndarray, raw: np.ndarray, score: float, min_size: int) -> Clustering:
    """Drop small clusters and outliers, renumber by size, and compute centres and similarities."""
    labels = raw.copy()
    sizes = np.bincount(labels)
    labels[sizes[labels] < min_size] = NO_THEME
    for _ in range(2):  # outliers change the centre a little: look again once
        centroids, ids = theme_centroids(x, labels)
        for index, theme in enumerate(ids):
            members = np.flatnonzero(labels == theme)
            sims = x[members] @ centroids[index]
            q1, q3 = np.percentile(sims, [25, 75])
            labels[members[sims < q1 - 1.5 * (q3 - q1)]] = NO_THEME
    new, _ = by_size(labels, min_size)
    centroids, _ = theme_centroids(x, new)
    similarity = np.zeros(len(x))
    if len(centroids):
        sims = x @ centroids.T
        similarity = np.where(new == NO_THEME, sims.max(axis=1), sims[np.arange(len(x)), np.maximum(new, 0)])
    return Clustering(new, centroids, similarity, score)


def by_size(raw: np.ndarray, min_size: int = 1) -> tuple[np.ndarray, list[int]]:
    """Themes of ``min_size`` units or more renumbered largest first (ties by first unit), the rest NO_THEME;
    returns the labels and the raw theme of each new one."""
    sizes = {t: int((raw == t).sum()) for t in set(raw.tolist()) - {NO_THEME}}
    first = {t: int(np.flatnonzero(raw == t)[0]) for t in sizes}
    order = sorted((t for t in sizes if sizes[t] >= min_size), key=lambda t: (-sizes[t], first[t]))
    labels = np.full(len(raw), NO_THEME)
    for rank, theme in enumerate(order):
        labels[raw == theme] = rank
    return labels, order


def theme_centroids(x: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, list[int]]:
    ids = sorted(set(labels.tolist()) - {NO_THEME})
    if not ids:
        return np.zeros((0, x.shape[1])), []
    return normalise(np.stack([x[labels == t].mean(axis=0) for t in ids])), ids
