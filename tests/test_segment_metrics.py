from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nltk.metrics.segmentation import pk as nltk_pk
from nltk.metrics.segmentation import windowdiff as nltk_windowdiff

from qcassist.segment_metrics import BoundaryF1, boundary_f1, boundary_sequence, default_k, pk, windowdiff


def _nltk(sequence) -> str:
    """Our gap sequence as nltk's string: one character per gap, "1" a boundary, so its windows are ours."""
    return "".join("1" if value else "0" for value in sequence)


def _pk_from_definition(reference, hypothesis, k):
    """Beeferman et al.: over sentence pairs (i, i + k), does same-segment membership differ?"""
    def segment_ids(gaps):
        ids = [0]
        for boundary in gaps:
            ids.append(ids[-1] + boundary)
        return ids

    ref, hyp = segment_ids(reference), segment_ids(hypothesis)
    probes = range(len(ref) - k)
    return sum((ref[i] == ref[i + k]) != (hyp[i] == hyp[i + k]) for i in probes) / len(probes)


@st.composite
def segmentation_pairs(draw, max_gaps=60):
    n = draw(st.integers(1, max_gaps))
    gap = st.lists(st.integers(0, 1), min_size=n, max_size=n)
    return draw(gap), draw(gap)


@st.composite
def pairs_with_k(draw):
    reference, hypothesis = draw(segmentation_pairs())
    return reference, hypothesis, draw(st.integers(1, len(reference)))


# Worked examples

def test_pk_worked_example():
    # 9 sentences in 3 segments of 3: k = round(3 / 2) = 2; the hypothesis moves the first boundary one gap early.
    reference = [0, 0, 1, 0, 0, 1, 0, 0]
    hypothesis = [0, 1, 0, 0, 0, 1, 0, 0]
    assert default_k(reference) == 2
    # Probes (0,2) and (2,4) disagree: 2 of the 7 probes.
    assert pk(reference, hypothesis) == pytest.approx(2 / 7)
    assert windowdiff(reference, hypothesis) == pytest.approx(2 / 7)
    assert pk(reference, hypothesis) == pytest.approx(nltk_pk(_nltk(reference), _nltk(hypothesis), 2))


def test_windowdiff_counts_boundaries_where_pk_only_sees_presence():
    reference = [0, 1, 1, 0]
    hypothesis = [0, 1, 0, 0]
    # k = 2 windows: ref counts 1, 2, 1; hyp counts 1, 1, 0.
    assert pk(reference, hypothesis, k=2) == pytest.approx(1 / 3)
    assert windowdiff(reference, hypothesis, k=2) == pytest.approx(2 / 3)


def test_matches_nltk_docstring_examples():
    s1, s2, s3 = "000100000010", "000010000100", "100000010000"
    as_ints = lambda s: [int(c) for c in s]  # noqa: E731
    assert windowdiff(as_ints(s1), as_ints(s2), k=3) == pytest.approx(0.3)
    assert windowdiff(as_ints(s2), as_ints(s3), k=3) == pytest.approx(0.8)
    # nltk's docstring prints these to two decimals: '0.50'.
    assert f'{pk(as_ints("0100" * 100), as_ints("1" * 400), k=2):.2f}' == "0.50"
    assert f'{pk(as_ints("0100" * 100), as_ints("0" * 400), k=2):.2f}' == "0.50"


def test_default_k_is_half_the_mean_segment_length_in_sentences():
    # 8 sentences in 2 segments: mean length 4, k = 2. nltk's default on the same string would be round(7 / 2) = 4.
    assert default_k([0, 0, 0, 1, 0, 0, 0]) == 2
    assert default_k([0] * 9) == 5  # one segment of 10 sentences
    assert default_k([1, 1, 1]) == 1  # segments of one sentence still give k = 1
    assert default_k([0, 1, 0, 0, 0]) == 2  # 6 sentences, 2 segments: 3 / 2 = 1.5 rounds half to even, to 2
    assert default_k([0, 1, 0, 1, 0]) == 1  # 6 sentences, 3 segments: 2 / 2 = 1


# Against nltk and the definition, on random boundary strings

@given(pairs_with_k())
def test_pk_equals_nltk(case):
    reference, hypothesis, k = case
    assert pk(reference, hypothesis, k=k) == pytest.approx(nltk_pk(_nltk(reference), _nltk(hypothesis), k))


@given(pairs_with_k())
def test_windowdiff_equals_nltk(case):
    reference, hypothesis, k = case
    assert windowdiff(reference, hypothesis, k=k) == pytest.approx(
        nltk_windowdiff(_nltk(reference), _nltk(hypothesis), k)
    )


@given(segmentation_pairs())
def test_default_k_results_equal_nltk_given_the_same_k(case):
    reference, hypothesis = case
    k = default_k(reference)
    assert pk(reference, hypothesis) == pytest.approx(nltk_pk(_nltk(reference), _nltk(hypothesis), k))
    assert windowdiff(reference, hypothesis) == pytest.approx(nltk_windowdiff(_nltk(reference), _nltk(hypothesis), k))


@given(pairs_with_k())
def test_pk_equals_the_sentence_pair_definition(case):
    reference, hypothesis, k = case
    assert pk(reference, hypothesis, k=k) == pytest.approx(_pk_from_definition(reference, hypothesis, k))


@given(pairs_with_k())
def test_windowdiff_is_never_below_pk_and_both_are_symmetric_for_a_fixed_k(case):
    reference, hypothesis, k = case
    assert 0.0 <= pk(reference, hypothesis, k=k) <= windowdiff(reference, hypothesis, k=k) <= 1.0
    assert pk(reference, hypothesis, k=k) == pk(hypothesis, reference, k=k)
    assert windowdiff(reference, hypothesis, k=k) == windowdiff(hypothesis, reference, k=k)


@given(segmentation_pairs())
def test_perfect_segmentation_scores_zero_and_full_f1(case):
    reference, _ = case
    assert pk(reference, reference) == 0.0
    assert windowdiff(reference, reference) == 0.0
    scores = boundary_f1(reference, reference)
    assert (scores.precision, scores.recall, scores.f1) == (1.0, 1.0, 1.0)


@given(segmentation_pairs())
def test_boundary_counts_add_up(case):
    reference, hypothesis = case
    scores = boundary_f1(reference, hypothesis)
    assert scores.true_positives + scores.false_negatives == sum(reference)
    assert scores.true_positives + scores.false_positives == sum(hypothesis)


# Edge cases

def test_no_boundaries_against_all_boundaries():
    assert pk([0] * 6, [1] * 6, k=2) == 1.0
    assert windowdiff([0] * 6, [1] * 6, k=2) == 1.0
    assert pk([1] * 6, [0] * 6) == 1.0  # k = 1: every adjacent pair disagrees


def test_single_gap():
    assert pk([1], [1]) == 0.0
    assert pk([1], [0]) == 1.0
    assert windowdiff([0], [1]) == 1.0


def test_accepts_booleans_tuples_and_numpy_arrays():
    import numpy as np

    assert pk((False, True, False), np.array([0, 1, 0])) == 0.0


def test_boundary_f1_worked_example():
    scores = boundary_f1([0, 1, 0, 0, 1, 0], [1, 1, 0, 0, 0, 0])
    assert scores == BoundaryF1(true_positives=1, false_positives=1, false_negatives=1)
    assert (scores.precision, scores.recall, scores.f1) == (0.5, 0.5, 0.5)


def test_boundary_f1_with_empty_sides():
    none_found = boundary_f1([0, 1, 0], [0, 0, 0])
    assert (none_found.precision, none_found.recall, none_found.f1) == (0.0, 0.0, 0.0)
    none_to_find = boundary_f1([0, 0, 0], [0, 1, 0])
    assert (none_to_find.precision, none_to_find.recall, none_to_find.f1) == (0.0, 0.0, 0.0)
    both_empty = boundary_f1([0, 0], [0, 0])
    assert (both_empty.precision, both_empty.recall, both_empty.f1) == (1.0, 1.0, 1.0)


def test_boundary_f1_adds_counts_for_micro_averaging():
    pooled = boundary_f1([1, 0], [1, 1]) + boundary_f1([0, 1, 1], [0, 0, 1])
    assert pooled == BoundaryF1(true_positives=2, false_positives=1, false_negatives=1)
    assert pooled.precision == pytest.approx(2 / 3)


def test_boundary_sequence_from_cut_gaps():
    assert boundary_sequence([0, 3], 5) == [1, 0, 0, 1]
    assert boundary_sequence([], 1) == []
    with pytest.raises(ValueError, match=r"gap 4 is outside 0\.\.3, the gaps between 5 sentences"):
        boundary_sequence([4], 5)


def test_unequal_lengths_name_both_lengths():
    with pytest.raises(ValueError) as error:
        pk([0] * 14, [0] * 13)
    assert str(error.value) == "reference and hypothesis must be the same length, but reference has 14 gaps and hypothesis 13"


def test_values_other_than_0_and_1_are_named():
    with pytest.raises(ValueError) as error:
        windowdiff([0, 1, 0], [0, 2, 0])
    assert str(error.value) == "hypothesis must hold only 0 and 1, but hypothesis[1] is 2"
    with pytest.raises(ValueError, match=r"reference\[0\] is -1"):
        boundary_f1([-1, 0], [0, 0])
    with pytest.raises(ValueError, match="but it is the string '0101'"):
        pk("0101", "0101")


def test_empty_sequences_are_refused():
    with pytest.raises(ValueError, match="reference is empty; a segmentation needs at least one gap"):
        pk([], [])


@pytest.mark.parametrize("k", [0, 5, -1, 2.5, True])
def test_k_outside_the_gaps_is_refused(k):
    with pytest.raises(ValueError, match=rf"k must be a whole number from 1 to the number of gaps \(4\), but k is {k!r}"):
        pk([0, 1, 0, 0], [0, 1, 0, 0], k=k)
