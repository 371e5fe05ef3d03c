"""The contrastive (SetFit-style) fine-tuning objective: its pairs, its loss, and a real run on tiny data.

The pair rules and the loss are checked on literal arrays; one short run of the real packaged MiniLM
(top layer only) on test_finetune's food/sport pairs, where only the context tells the codes apart,
checks that the tuned body pulls held-out units of one code together and saves and loads like any body.
"""

from __future__ import annotations

import numpy as np
import pytest

from qcassist.finetune import FineTuneOptions, TunedBody, train_body
from qcassist.finetune.contrastive import cosine_pair_loss, pair_batches, pair_targets
from tests.test_finetune import FAST, _pairs

CONTRASTIVE = FineTuneOptions(**{**FAST.as_dict(), "objective": "contrastive", "epochs": 4})


def test_exclusive_pairs_are_positive_on_the_same_code_and_skip_uncoded_units():
    labels = np.array([[1, 0], [0, 1], [1, 0], [0, 0]])  # the last unit has no code: in no pair
    target, known = pair_targets(labels, exclusive=True)
    assert target.tolist() == [[0, 0, 1, 0], [0, 0, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]]
    assert known.tolist() == [[False, True, True, False], [True, False, True, False],
                              [True, True, False, False], [False, False, False, False]]


def test_multi_label_pairs_share_a_code_or_are_known_apart():
    labels = np.array([
        [1, 0, -1],   # a: code 0
        [0, 1, 0],    # b: code 1, and known not 0: apart from a (a is known not 1)
        [1, 1, 0],    # c: codes 0 and 1, shares one with a and one with b
        [0, 0, 0],    # d: rejected on every code: apart from a, b and c
        [-1, 0, 1],   # e: code 2, unknown on 0: nothing known against a or c (both have code 0)
        [0, 0, 0],    # f: like d; two units without any code say nothing about each other
    ])
    target, known = pair_targets(labels, exclusive=False)
    a, b, c, d, e, f = range(6)
    positives = {(a, c), (b, c)}
    negatives = {(a, b), (a, d), (b, d), (c, d), (b, e), (d, e), (a, f), (b, f), (c, f), (e, f)}
    for i in range(6):
        for j in range(6):
            pair = (min(i, j), max(i, j))
            assert known[i, j] == (pair in positives | negatives), pair
            assert target[i, j] == (pair in positives), pair
    assert not known[a, e] and not known[d, f]


def test_the_loss_weighs_positive_and_negative_pairs_half_each():
    import torch

    labels = np.array([[1, 0], [1, 0], [1, 0], [0, 1]])  # 3 positive pairs, 3 negative pairs per direction
    vectors = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 2.0], [0.0, 1.0]], requires_grad=True)
    loss = cosine_pair_loss(vectors, *pair_targets(labels, exclusive=True))
    # cosines: 0-1 = 1 (target 1, error 0), 0-2 and 1-2 = 0 (target 1, error 1); 0-3, 1-3 = 0 (target 0, error 0),
    # 2-3 = 1 (target 0, error 1): positives mean 2/3, negatives mean 1/3
    assert loss.item() == pytest.approx((2 / 3 + 1 / 3) / 2)
    loss.backward()
    assert vectors.grad.abs().sum() > 0
    perfect = torch.tensor([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0], [0.0, 1.0]])
    assert cosine_pair_loss(perfect, *pair_targets(labels, exclusive=True)).item() == pytest.approx(0.0, abs=1e-7)
    lonely = torch.tensor([[1.0, 0.0]], requires_grad=True)  # one unit: no pair, a zero loss that backward() accepts
    empty = cosine_pair_loss(lonely, *pair_targets(np.array([[1, 0]]), exclusive=True))
    empty.backward()
    assert empty.item() == 0.0 and lonely.grad.abs().sum() == 0


def test_pair_batches_cover_every_unit_once_and_never_leave_one_alone():
    groups = pair_batches(9, 4, np.random.default_rng(3))
    assert [len(g) for g in groups] == [4, 5]  # the ninth unit joined the batch before it
    assert sorted(np.concatenate(groups).tolist()) == list(range(9))
    again = pair_batches(9, 4, np.random.default_rng(3))
    assert all(np.array_equal(x, y) for x, y in zip(groups, again))
    assert [len(g) for g in pair_batches(10, 4, np.random.default_rng(0))] == [4, 4, 2]


def test_an_unknown_objective_is_refused():
    inputs, labels, _ = _pairs()
    with pytest.raises(ValueError, match="objective must be one of classify, contrastive, not 'triplet'"):
        train_body(inputs, labels, exclusive=True, options=FineTuneOptions(objective="triplet"))


def _cosines(vectors: np.ndarray, codes: np.ndarray) -> tuple[float, float]:
    """Mean cosine of same-code pairs and of different-code pairs (vectors are unit length)."""
    similarity = vectors @ vectors.T
    same = codes[:, None] == codes[None, :]
    off = ~np.eye(len(codes), dtype=bool)
    return float(similarity[same & off].mean()), float(similarity[~same].mean())


def test_contrastive_tuning_pulls_held_out_units_of_a_code_together(tmp_path):
    inputs, labels, holdout = _pairs()
    codes = labels.argmax(axis=1)
    held = [inputs[i] for i in np.flatnonzero(holdout)]
    before = train_body(inputs, labels, exclusive=True, options=FineTuneOptions(**{**CONTRASTIVE.as_dict(), "max_minutes": 0.0}))
    body = train_body(inputs, labels, exclusive=True, holdout=holdout, options=CONTRASTIVE, codes=["food", "sport"])
    same_before, apart_before = _cosines(before.encoder().encode(held), codes[holdout])
    same, apart = _cosines(body.encoder().encode(held), codes[holdout])
    assert same - apart > (same_before - apart_before) + 0.2  # the codes moved apart in the tuned space
    assert [h["epoch"] for h in body.history] == [1, 2, 3, 4] and all(h["holdout_loss"] >= 0 for h in body.history)
    assert body.examples == 30 and body.best_epoch in (1, 2, 3, 4)
    entry = body.save(tmp_path)
    assert entry["options"]["objective"] == "contrastive"
    loaded = TunedBody.load(tmp_path, entry)
    assert loaded.options == body.options
    assert np.array_equal(loaded.encoder().encode(held), body.encoder().encode(held))
    assert np.isfinite(loaded.predict_proba(held)).all()  # the network's head followed on detached vectors


def test_the_same_seed_gives_the_same_contrastive_weights(tmp_path):
    inputs, labels, _ = _pairs()
    options = FineTuneOptions(**{**CONTRASTIVE.as_dict(), "epochs": 1})
    first = train_body(inputs[:16], labels[:16], exclusive=True, options=options).save(tmp_path / "a")
    second = train_body(inputs[:16], labels[:16], exclusive=True, options=options).save(tmp_path / "b")
    assert first["sha256"] == second["sha256"]


def test_a_manifest_from_before_the_objective_option_reads_as_classify():
    recorded = FineTuneOptions().as_dict()
    del recorded["objective"]
    assert FineTuneOptions.from_dict(recorded).objective == "classify"
