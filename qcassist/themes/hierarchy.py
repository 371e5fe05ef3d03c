"""Candidate code groups → subgroups: a theme whose own units split again, where the data support it.

The first cut (``clustering.cluster``) gives the broad themes. Each of them is clustered
again, alone, the same way; where its units form two or more subthemes with a silhouette of
``min_silhouette`` or more, and no lower than the first cut's, the broad theme becomes a
group and its subthemes the themes in it (each of its units goes to the nearest subtheme). A broad theme whose units do not split
stays a theme in no group. So a small or uniform corpus stays flat, and a large, varied one
gets groups with finer themes inside.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .clustering import NO_THEME, ClusterOptions, Clustering, by_size, cluster, normalise, theme_centroids

MIN_SPLIT_SILHOUETTE = 0.1  # below this the subthemes are no better than chance: the theme stays whole
SPLIT_SILHOUETTE_SAMPLE = 1000  # a theme's split is judged on at most this many of its units (time, not n²)


@dataclass(frozen=True)
class Hierarchy:
    themes: Clustering  # the finer level: subthemes where a broad theme split, the broad theme where it did not
    group: tuple[int | None, ...]  # per theme: the index of its broad theme where that split, else None
    broad: Clustering  # the first cut
    group_centroids: np.ndarray  # per group: its broad theme's centre



def split_themes(vectors: np.ndarray, broad: Clustering, options: ClusterOptions = ClusterOptions(), *,
                 min_silhouette: float = MIN_SPLIT_SILHOUETTE) -> Hierarchy:
    """Split each broad theme into subthemes where its own units support it (see the module docstring)."""
    x = normalise(vectors)
    inner = replace(options, silhouette_sample=min(options.silhouette_sample, SPLIT_SILHOUETTE_SAMPLE))
    raw = np.full(len(x), NO_THEME)
    parent: list[int] = []  # per raw theme: its broad theme
    split: set[int] = set()
    for theme in range(len(broad.centroids)):
        members = np.flatnonzero(broad.labels == theme)
        # subthemes no less clearly apart than the themes themselves: small samples split "well" by chance
        parts = _split(x[members], inner, max(min_silhouette, broad.silhouette))
        if parts is None:
            raw[members] = len(parent)
            parent.append(theme)
            continue
        split.add(theme)
        raw[members] = parts + len(parent)
        parent += [theme] * (int(parts.max()) + 1)
    labels, order = by_size(raw)
    centroids, _ = theme_centroids(x, labels)
    similarity = broad.similarity.copy()
    themed = labels != NO_THEME
    similarity[themed] = np.einsum("ij,ij->i", x[themed], centroids[labels[themed]])
    if len(centroids):  # an unthemed unit's similarity: to the nearest theme, as in the first cut
        similarity[~themed] = (x[~themed] @ centroids.T).max(axis=1)
    parents = [parent[t] if parent[t] in split else None for t in order]
    group = _group_numbers(parents)
    broad_of_group = sorted({(g, p) for g, p in zip(group, parents) if g is not None})
    group_centroids = broad.centroids[[p for _, p in broad_of_group]] if broad_of_group else np.zeros((0, x.shape[1]))
    return Hierarchy(Clustering(labels, centroids, similarity, broad.silhouette), group, broad, group_centroids)


def _split(x: np.ndarray, options: ClusterOptions, min_silhouette: float) -> np.ndarray | None:
    """Subtheme index per unit (every unit in one: the nearest subtheme), or None where the units do not split."""
    if len(x) < 2 * options.min_size:
        return None
    sub = cluster(x, options)
    if len(sub.centroids) < 2 or sub.silhouette < min_silhouette:
        return None
    used, parts = np.unique((x @ sub.centroids.T).argmax(axis=1), return_inverse=True)
    return parts if len(used) >= 2 else None


def _group_numbers(parents: list[int | None]) -> tuple[int | None, ...]:
    """Groups numbered 0, 1, ... in the order their first (largest) theme comes."""
    number: dict[int, int] = {}
    for parent in parents:
        if parent is not None:
            number.setdefault(parent, len(number))
    return tuple(None if p is None else number[p] for p in parents)
