"""The contrastive (SetFit-style) objective: pairs of coded units, same code close, different codes apart.

SetFit samples (sentence, sentence, same-label?) pairs and trains the body with a cosine-similarity
loss. Here every pair inside a batch is a pair: each unit is encoded once per batch and a batch of b
units gives b(b-1)/2 pairs, which is what makes the objective affordable on a CPU. Positive and
negative pairs weigh half each, as SetFit's balanced sampling makes them.

Which pairs are positive: exclusive codebooks, the same code. Multi-label: the two units share a code.
Negative: no shared code, and each code one of them has is known absent (0, e.g. a reviewer's
rejection) on the other. Any other pair (an unknown entry decides it, or neither unit has a code) is
left out of the loss.
"""

from __future__ import annotations

import numpy as np


def pair_targets(labels: np.ndarray, exclusive: bool) -> tuple[np.ndarray, np.ndarray]:
    """(target, known) for every ordered pair of rows of (b, k) labels (1 / 0 / -1): target 1 or 0, the diagonal unknown."""
    labels = np.asarray(labels)
    has = (labels == 1).astype(np.int64)
    if exclusive:
        single = has.sum(axis=1) == 1
        code = np.where(single, has.argmax(axis=1), -1)
        same = code[:, None] == code[None, :]
        known = single[:, None] & single[None, :]
    else:
        absent = (labels == 0).astype(np.int64)
        same = has @ has.T > 0
        # i's codes are all known absent on j: no code of i falls on an entry of j that is 1 or unknown
        excluded = has @ (1 - absent).T == 0
        anything = has.any(axis=1)
        different = ~same & excluded & excluded.T & (anything[:, None] | anything[None, :])
        known = same | different
    np.fill_diagonal(known, False)
    return (same & known).astype(np.float32), known


def cosine_pair_loss(vectors, target, known):
    """Mean squared error between the pairs' cosine similarity and their target, positives and negatives weighing half each.

    ``vectors`` (b, d) torch tensor; ``target``, ``known`` (b, b) arrays from ``pair_targets``. A batch without a
    known pair gives a zero loss that still depends on ``vectors`` (so backward() works and changes nothing).
    """
    import torch

    unit = torch.nn.functional.normalize(vectors, dim=1)
    cosine = unit @ unit.T
    target = torch.as_tensor(target, dtype=cosine.dtype, device=cosine.device)
    known = torch.as_tensor(known, device=cosine.device)
    error = (cosine - target) ** 2
    parts = []
    for side in (target == 1, target == 0):
        chosen = side & known
        if bool(chosen.any()):
            parts.append(error[chosen].mean())
    if not parts:
        return (cosine * 0).sum()
    return torch.stack(parts).mean()


def pair_batches(n: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled batches of positions 0..n-1 (not length buckets: a batch's pairs should mix every code); never one of 1."""
    order = rng.permutation(n)
    size = max(2, batch_size)
    groups = [order[i : i + size] for i in range(0, n, size)]
    if len(groups) > 1 and len(groups[-1]) < 2:  # a lone unit makes no pair: it joins the batch before it
        lone = groups.pop()
        groups[-1] = np.concatenate([groups[-1], lone])
    return groups
