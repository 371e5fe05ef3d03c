from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcassist.evaluation import auto_accept_tier, calibration_bins, cross_validate, expected_calibration_error, learning_curve, summarize
from tests.test_classify import _training_set


def test_ece_of_a_perfectly_calibrated_forecaster_is_zero():
    confidence = np.array([0.25] * 4 + [0.75] * 4)
    correct = np.array([1, 0, 0, 0, 1, 1, 1, 0])
    assert expected_calibration_error(confidence, correct) == pytest.approx(0.0)


def test_ece_worked_example():
    # two bins: 0.9 confidence with 50% accuracy, 0.3 confidence with 50% accuracy
    confidence = np.array([0.9, 0.9, 0.3, 0.3])
    correct = np.array([1, 0, 1, 0])
    assert expected_calibration_error(confidence, correct) == pytest.approx((2 * 0.4 + 2 * 0.2) / 4)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.booleans()), min_size=1, max_size=50))
def test_ece_is_between_zero_and_one_and_matches_its_bins(pairs):
    confidence = np.array([p for p, _ in pairs])
    correct = np.array([c for _, c in pairs])
    ece = expected_calibration_error(confidence, correct)
    assert 0 <= ece <= 1
    bins = calibration_bins(confidence, correct)
    assert sum(b["count"] for b in bins) == len(pairs)
    recomputed = sum(b["count"] * abs(b["confidence"] - b["accuracy"]) for b in bins if b["count"]) / len(pairs)
    assert ece == pytest.approx(recomputed)


def test_auto_accept_tier_is_the_lowest_cut_reaching_the_precision():
    confidence = np.array([0.99, 0.95, 0.9, 0.8, 0.7, 0.6])
    correct = np.array([1, 1, 1, 1, 0, 0])
    tier = auto_accept_tier(confidence, correct, precision=0.8, min_support=5)
    assert tier == {"threshold": 0.7, "precision": pytest.approx(0.8), "coverage": pytest.approx(5 / 6), "reason": None}


def test_auto_accept_tier_never_splits_equal_probabilities():
    tier = auto_accept_tier(np.array([0.9, 0.8, 0.8]), np.array([1, 1, 0]), precision=0.9, min_support=1)
    assert tier["threshold"] == 0.9 and tier["coverage"] == pytest.approx(1 / 3)


def test_auto_accept_tier_can_be_empty():
    tier = auto_accept_tier(np.array([0.9, 0.8]), np.array([0, 0]))
    assert tier["threshold"] is None and tier["reason"] == "no probability cut reaches precision 0.90"


def test_no_auto_accept_tier_rests_on_a_handful_of_suggestions():
    # 2% of the suggestions right at the top: precision 1.000, but on 6 of 300
    confidence = np.r_[np.full(6, 0.97), np.linspace(0.8, 0.1, 294)]
    correct = np.r_[np.ones(6), np.zeros(294)]
    tier = auto_accept_tier(confidence, correct)
    assert tier["threshold"] is None
    assert tier["reason"] == ("precision 0.90 is reached at p >= 0.97 by only 6 suggestions, too few (fewer than 30) "
                              "to rely on")


def test_no_auto_accept_tier_at_saturated_probabilities():
    # 36 of the 40 suggestions at p = 1.00 are right; every one below is wrong
    confidence = np.r_[np.full(40, 1.0), np.linspace(0.9, 0.1, 260)]
    correct = np.r_[np.ones(36), np.zeros(4), np.zeros(260)]
    tier = auto_accept_tier(confidence, correct)
    assert tier["threshold"] is None and tier["reason"].startswith("precision 0.90 is reached only at p = 1.00")


def test_cross_validation_names_the_codes_it_leaves_out():
    data = _training_set(per_code=6, n_transcripts=5)
    labels = data.labels.copy()
    rare = [i for i in range(len(labels)) if labels[i, 2]][3:]
    labels[rare, 2] = 0
    labels[rare, 0] = 1  # 'access' keeps 3 coded units: fewer than one per fold
    from dataclasses import replace

    result = summarize(cross_validate(replace(data, labels=labels), exclusive=True, folds=5))
    assert result["dropped_codes"] == {"access": 3} and result["min_examples"] == 5
    assert set(result["per_code"]) == {"trust", "money"}


@pytest.mark.parametrize("exclusive", [True, False])
def test_grouped_cross_validation_reports_every_metric(exclusive):
    data = _training_set(per_code=6, n_transcripts=5)
    result = summarize(cross_validate(data, exclusive=exclusive, folds=5))
    assert set(result) >= {"macro_f1", "kappa", "ece", "auto_accept", "per_code", "units"}
    assert result["macro_f1"] > 0.8 and result["kappa"] > 0.7
    assert set(result["per_code"]) == {"trust", "money", "access"}


def test_cross_validation_never_tests_on_a_transcript_it_trained_on(monkeypatch):
    from qcassist import evaluation

    seen = []
    original = evaluation.GroupKFold.split

    def spy(self, X, y, groups):
        for train, test in original(self, X, y, groups):
            seen.append((set(np.asarray(groups)[train]), set(np.asarray(groups)[test])))
            yield train, test

    monkeypatch.setattr(evaluation.GroupKFold, "split", spy)
    cross_validate(_training_set(per_code=6, n_transcripts=5), exclusive=True)
    assert seen and all(not (train & test) for train, test in seen)


def test_learning_curve_ends_with_all_labels():
    data = _training_set(per_code=12, n_transcripts=4)
    curve = learning_curve(data, exclusive=True, sizes=(2, 4), folds=4, seeds=(0, 1))
    assert [p["per_code"] for p in curve] == [2, 4, "all"]
    assert curve[-1]["kappa"] >= curve[0]["kappa"] - 0.2


def test_cross_validation_says_how_many_folds_it_ran():
    # QMSum: 3 meetings printed "5-fold CV grouped by transcript"; grouped folds cannot outnumber transcripts
    assert cross_validate(_training_set(per_code=6, n_transcripts=3), exclusive=True, folds=5).folds == 3
    assert cross_validate(_training_set(per_code=6, n_transcripts=5), exclusive=True, folds=5).folds == 5
