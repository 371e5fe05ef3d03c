"""Review-order strategies on small literal arrays: what comes first, and what is never returned twice."""

from __future__ import annotations

import numpy as np
import pytest

from qcassist.review.order import STRATEGIES, margins, order_candidates

# five candidates, three codes; margins 0.0, 0.6, 0.1, 0.3, 0.0
PROBABILITIES = np.array([
    [0.40, 0.40, 0.20],
    [0.80, 0.20, 0.00],
    [0.45, 0.35, 0.20],
    [0.10, 0.30, 0.60],
    [0.30, 0.35, 0.35],
])


def _blobs(per_blob: int = 10, blobs: int = 3, seed: int = 0) -> np.ndarray:
    """Unit vectors in tight, well-separated blobs (blob b near axis b)."""
    rng = np.random.default_rng(seed)
    points = np.repeat(np.eye(blobs, 8), per_blob, axis=0) + rng.normal(0, 0.01, (per_blob * blobs, 8))
    return points / np.linalg.norm(points, axis=1, keepdims=True)


def test_margins_are_the_gap_between_the_top_two_codes():
    assert margins(PROBABILITIES) == pytest.approx([0.0, 0.6, 0.1, 0.3, 0.0])
    assert margins(np.array([[0.5], [0.9], [0.2]])) == pytest.approx([0.0, 0.8, 0.6])


def test_uncertainty_puts_the_smallest_margins_first():
    order = order_candidates("uncertainty", PROBABILITIES, n=5)
    assert order.tolist() == [0, 4, 2, 3, 1]


def test_uncertainty_breaks_ties_by_transcript_order():
    order = order_candidates("uncertainty", PROBABILITIES, positions=np.array([9, 8, 7, 6, 5]), n=2)
    assert order.tolist() == [4, 0]  # both margins 0; candidate 4 comes first in the transcript


def test_uncertainty_for_one_code_is_distance_from_one_half():
    order = order_candidates("uncertainty", np.array([[0.9], [0.45], [0.1], [0.7]]), n=4)
    assert order.tolist() == [1, 3, 0, 2]


def test_sequential_follows_transcript_positions():
    order = order_candidates("sequential", PROBABILITIES, positions=np.array([40, 10, 30, 20, 50]), n=3)
    assert order.tolist() == [1, 3, 2]


def test_stratified_alternates_predicted_codes_least_confident_first():
    probabilities = np.array([
        [0.9, 0.1], [0.6, 0.4], [0.7, 0.3],  # predicted code 0, confidence 0.9, 0.6, 0.7
        [0.2, 0.8], [0.45, 0.55],             # predicted code 1 (the rarer prediction), 0.8, 0.55
    ])
    order = order_candidates("stratified", probabilities, n=5)
    assert order.tolist() == [4, 1, 3, 2, 0]
    predicted = probabilities.argmax(axis=1)[order]
    assert predicted[:4].tolist() == [1, 0, 1, 0]


def test_stratified_with_one_code_alternates_yes_and_no():
    # 'no' (p < 0.5): 3 (confidence 0.6), 1 (0.8); 'yes': 2 (0.6), 0 (0.9); equal counts, so 'no' leads
    order = order_candidates("stratified", np.array([[0.9], [0.2], [0.6], [0.4]]), n=4)
    assert order.tolist() == [3, 2, 1, 0]


def test_random_is_a_reproducible_permutation():
    first = order_candidates("random", PROBABILITIES, rng=np.random.default_rng(7), n=5)
    again = order_candidates("random", PROBABILITIES, rng=np.random.default_rng(7), n=5)
    assert first.tolist() == again.tolist()
    assert sorted(first.tolist()) == [0, 1, 2, 3, 4]
    other_seeds = {tuple(order_candidates("random", PROBABILITIES, rng=np.random.default_rng(s), n=5)) for s in range(20)}
    assert len(other_seeds) > 1


def test_diverse_takes_one_uncertain_unit_from_each_cluster():
    embeddings = _blobs(per_blob=10, blobs=3)
    # blob 0 holds the ten most uncertain units; plain uncertainty would take three from it
    margin = np.r_[np.linspace(0.0, 0.09, 10), np.linspace(0.2, 0.29, 10), np.linspace(0.4, 0.49, 10)]
    probabilities = np.c_[(1 + margin) / 2, (1 - margin) / 2]
    assert order_candidates("uncertainty", probabilities, n=3).tolist() == [0, 1, 2]
    order = order_candidates("diverse", probabilities, embeddings=embeddings, rng=np.random.default_rng(0), n=3)
    assert order.tolist() == [0, 10, 20]  # the most uncertain of each blob, most uncertain first


def test_diverse_without_embeddings_is_uncertainty():
    assert (order_candidates("diverse", PROBABILITIES, n=5).tolist()
            == order_candidates("uncertainty", PROBABILITIES, n=5).tolist())


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
@pytest.mark.parametrize("n", [0, 1, 3, 30, 31, 100])
def test_no_candidate_is_returned_twice_and_a_short_pool_comes_back_whole(strategy, n):
    rng = np.random.default_rng(3)
    probabilities = rng.dirichlet(np.ones(4), size=30)
    order = order_candidates(strategy, probabilities, positions=rng.permutation(30), embeddings=_blobs(),
                             rng=np.random.default_rng(1), n=n)
    assert order.dtype == np.int64
    assert len(order) == min(n, 30)
    assert len(set(order.tolist())) == len(order)
    assert set(order.tolist()) <= set(range(30))


@pytest.mark.parametrize("strategy", ["uncertainty", "stratified", "diverse", "random"])
def test_without_a_model_the_order_is_random(strategy):
    order = order_candidates(strategy, None, positions=np.arange(6), embeddings=_blobs(2), rng=np.random.default_rng(5), n=6)
    assert order.tolist() == np.random.default_rng(5).permutation(6).tolist()


def test_without_a_model_sequential_still_follows_the_transcript():
    assert order_candidates("sequential", None, positions=np.array([3, 1, 2]), n=3).tolist() == [1, 2, 0]


def test_an_empty_pool_gives_an_empty_order():
    assert order_candidates("uncertainty", np.zeros((0, 3)), n=5).tolist() == []


def test_unknown_strategy_names_the_close_match():
    with pytest.raises(ValueError, match="unknown review order 'uncertanty'.*Did you mean 'uncertainty'"):
        order_candidates("uncertanty", PROBABILITIES, n=1)


@pytest.mark.parametrize("kwargs, message", [
    ({"probabilities": PROBABILITIES, "n": -1}, "n must be a non-negative integer, but it is -1"),
    ({"probabilities": PROBABILITIES, "n": 2.5}, "n must be a non-negative integer, but it is 2.5"),
    ({"probabilities": PROBABILITIES[:, 0], "n": 1}, r"must be \(n_candidates, n_codes\), but their shape is \(5,\)"),
    ({"probabilities": PROBABILITIES * 2, "n": 1}, r"must lie in \[0, 1\], but row 1, code 0 is 1.6"),
    ({"probabilities": PROBABILITIES, "positions": np.arange(4), "n": 1}, "lengths are probabilities 5, positions 4"),
    ({"probabilities": PROBABILITIES, "embeddings": np.zeros((5,)), "n": 1}, r"embeddings must be .* shape is \(5,\)"),
    ({"probabilities": None, "n": 1}, "give positions or embeddings"),
    ({"probabilities": PROBABILITIES, "rng": 3, "n": 1}, "rng must be a numpy Generator .* but it is int"),
])
def test_bad_inputs_name_the_values_at_fault(kwargs, message):
    with pytest.raises(ValueError, match=message):
        order_candidates("uncertainty", **kwargs)


def test_diverse_spreads_the_head_of_a_long_queue_and_ranks_the_rest_by_margin():
    rng = np.random.default_rng(4)
    probabilities = rng.dirichlet(np.ones(3), size=300)
    order = order_candidates("diverse", probabilities, embeddings=rng.normal(size=(300, 8)), rng=rng, n=300)
    assert sorted(order.tolist()) == list(range(300))
    tail = margins(probabilities)[order[200:]]  # 10 spread batches of 20, then margin order
    assert (np.diff(tail) >= 0).all()
