"""Candidate code groups: themes whose centres sit together, where the data support a second level."""

from __future__ import annotations

import numpy as np

from .clustering import cosine_distances

MIN_GROUP_SILHOUETTE = 0.1  # below this the groups are no better than chance: keep the themes flat


def group_themes(centroids: np.ndarray, *, min_silhouette: float = MIN_GROUP_SILHOUETTE) -> list[int | None] | None:
    """A group index per theme (groups numbered by first theme; None for a theme alone in its group),
    or None where no grouping is supported.

    Ward linkage over the theme centres, cut where the silhouette is highest; a grouping is
    kept only with at least 4 themes, a silhouette of ``min_silhouette`` or more, and at
    least one group that joins two themes or more.
    """
    k = len(centroids)
    if k < 4:
        return None
    from scipy.cluster.hierarchy import fcluster, linkage
    from sklearn.metrics import silhouette_score

    tree = linkage(centroids, method="ward")
    distances = cosine_distances(centroids)
    best: tuple[float, np.ndarray] | None = None
    for groups in range(2, k):
        labels = fcluster(tree, groups, criterion="maxclust") - 1
        if len(np.unique(labels)) < 2 or np.bincount(labels).max() < 2:
            continue
        score = float(silhouette_score(distances, labels, metric="precomputed"))
        if best is None or score > best[0] + 1e-12:
            best = (score, labels)
    if best is None or best[0] < min_silhouette:
        return None
    labels = best[1].tolist()
    sizes = {label: labels.count(label) for label in labels}
    first: dict[int, int] = {}
    for label in labels:
        if sizes[label] > 1:  # a group of one theme is no group
            first.setdefault(label, len(first))
    return [first.get(label) for label in labels]
