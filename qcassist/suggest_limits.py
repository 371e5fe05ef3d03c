"""How sparingly to suggest: which proposals become suggestions, and why the others do not.

A weak model (few coded units, low cross-validated kappa) puts some code on most units
if every proposal above its threshold is kept: thresholds chosen for F1 sink low when
the model cannot tell a code apart. Two limits keep suggestions honest:

- a classifier code whose cross-validated kappa is below ``min_code_kappa`` is not
  suggested (the model does about as well as chance on it);
- when the model as a whole is weak (cross-validated kappa below ``weak_kappa``), a
  classifier suggestion also needs a calibrated probability of at least
  ``weak_min_probability`` (0.5: more likely right than wrong); a weak model's
  probabilities sit near the codes' base rates, so it rarely gets there;
- each code goes on at most ``cap_factor`` × its share of the seed units (a code coded on
  5% of the seed units reaches at most 10% of the units with the default 2), keeping its
  strongest proposals. A code without examples counts as coded on one seed unit. The
  caller counts the seed units as all units of the transcripts people coded in, not only
  the coded ones, which people pick because they have codes.

Pure functions over proposals; the store and the model stay in ``suggest.py``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the CLI reads the defaults here without importing scikit-learn
    from .classify import Proposal


@dataclass(frozen=True, slots=True)
class SuggestLimits:
    """The defaults of ``qcassist suggest``."""

    cap_factor: float = 2.0  # a code reaches at most this × its seed share of the units; 0: no cap
    min_code_kappa: float = 0.2  # classifier codes below this cross-validated kappa are not suggested
    weak_kappa: float = 0.4  # a model below this kappa gets a warning and the probability floor below
    weak_min_probability: float = 0.5
    few_examples: int = 8  # codes with fewer coded units get a warning


@dataclass
class Limited:
    """The proposals kept, and for the rows left without one, why."""

    kept: list[Proposal]
    rows_without: dict[str, int] = field(default_factory=dict)  # reason -> rows
    capped: dict[str, dict] = field(default_factory=dict)  # code -> {"kept", "candidates", "cap"}


REASONS = ("below threshold", "below the weak-model floor", "capped", "unreliable code")


def seed_shares(examples_per_code: dict[str, int], seed_units: int) -> dict[str, float]:
    """Each code's share of the seed units (a code without examples counts as coded on one)."""
    return {code: max(n, 1) / max(seed_units, 1) for code, n in examples_per_code.items()}


def limit(
    proposals: Sequence[Proposal],
    rows: int,
    *,
    shares: dict[str, float],
    unreliable: set[str],
    cap_factor: float,
    min_probability: float = 0.0,
) -> Limited:
    """Drop proposals of unreliable codes and calibrated ones below ``min_probability``; cap each code
    at ``cap_factor`` × its seed share of ``rows``."""
    by_code: dict[str, list[Proposal]] = defaultdict(list)
    for proposal in proposals:
        if proposal.code not in unreliable and _sure_enough(proposal, min_probability):
            by_code[proposal.code].append(proposal)
    kept: list[Proposal] = []
    capped: dict[str, dict] = {}
    for code, candidates in by_code.items():
        if cap_factor > 0:
            cap = max(1, math.ceil(cap_factor * shares.get(code, 0.0) * rows))
            if len(candidates) > cap:
                candidates = sorted(candidates, key=lambda p: (-p.strength, p.row))
                capped[code] = {"kept": cap, "candidates": len(candidates), "cap": cap}
                candidates = candidates[:cap]
        kept += candidates
    kept.sort(key=lambda p: (p.row, -p.strength, p.code))
    return Limited(kept, _rows_without(proposals, kept, rows, unreliable, min_probability), capped)


def _sure_enough(proposal: Proposal, min_probability: float) -> bool:
    return proposal.probability is None or proposal.probability >= min_probability


def _rows_without(proposals: Sequence[Proposal], kept: Sequence[Proposal], rows: int, unreliable: set[str],
                  min_probability: float) -> dict[str, int]:
    """Rows with no kept proposal, by the first reason that applies: capped, below the floor, unreliable code,
    below threshold."""
    with_kept = {p.row for p in kept}
    proposed: dict[int, list[Proposal]] = defaultdict(list)
    for p in proposals:
        proposed[p.row].append(p)
    counts = dict.fromkeys(REASONS, 0)
    for row in range(rows):
        if row in with_kept:
            continue
        candidates = proposed.get(row, [])
        reliable = [p for p in candidates if p.code not in unreliable]
        if not candidates:
            counts["below threshold"] += 1
        elif any(_sure_enough(p, min_probability) for p in reliable):
            counts["capped"] += 1
        elif reliable:
            counts["below the weak-model floor"] += 1
        else:
            counts["unreliable code"] += 1
    return counts
