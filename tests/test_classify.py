from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from qcassist.classify import CodeClassifier, CodeModel, TrainingSet, TrainOptions, propose, train_model
from qcassist.features import FeatureBuilder, FeatureConfig
from tests.conftest import HashEncoder, coded_rows


def _training_set(per_code=5, n_transcripts=4, codes=("trust", "money", "access"), coded=None):
    rows = [r for r in coded_rows(n_transcripts, per_code) if r["code"] in (coded or codes)]
    encoder = HashEncoder()
    labels = np.array([[r["code"] == c for c in codes] for r in rows], dtype=np.int8)
    return TrainingSet(
        unit_ids=np.arange(1, len(rows) + 1), texts=[r["text"] for r in rows], contexts=["How was it?"] * len(rows),
        embeddings=encoder.encode([r["text"] for r in rows]), labels=labels,
        groups=[r["transcript"] for r in rows], codes=list(codes),
    )


def _matrix(data):
    builder = FeatureBuilder().fit(data.texts, data.contexts)
    return builder.transform(data.embeddings, data.texts, data.contexts)


@pytest.mark.parametrize("exclusive", [False, True])
def test_classifier_learns_separable_codes_with_calibrated_probabilities(exclusive):
    data = _training_set()
    X = _matrix(data)
    model = CodeClassifier(exclusive=exclusive).fit(X, data.labels, groups=data.groups)
    probabilities = model.predict_proba(X)
    assert probabilities.shape == data.labels.shape
    assert ((0 <= probabilities) & (probabilities <= 1)).all()
    if exclusive:
        assert np.allclose(probabilities.sum(axis=1), 1)
    assert (probabilities.argmax(axis=1) == data.labels.argmax(axis=1)).mean() > 0.9
    assert model.predict(X).shape == data.labels.shape


def test_classifier_is_a_proper_sklearn_estimator():
    model = CodeClassifier(C=2.0, exclusive=True)
    assert clone(model).get_params() == model.get_params()


def test_exclusive_classifier_suggests_at_most_one_code_per_unit():
    data = _training_set()
    X = _matrix(data)
    mask = CodeClassifier(exclusive=True).fit(X, data.labels, groups=data.groups).predict(X)
    assert (mask.sum(axis=1) <= 1).all()


def test_classifier_refuses_codes_with_fewer_than_two_examples():
    data = _training_set()
    labels = data.labels.copy()
    labels[:, 0] = 0
    labels[0, 0] = 1
    with pytest.raises(ValueError, match="at least two positive"):
        CodeClassifier().fit(_matrix(data), labels)


def test_saved_model_round_trips_without_pickle(tmp_path):
    data = _training_set()
    model = train_model(data, exclusive=True)
    model.save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["arrays.npz", "manifest.json"]
    loaded = CodeModel.load(tmp_path / "m")
    before = propose(model, data.embeddings, data.texts, data.contexts)
    after = propose(loaded, data.embeddings, data.texts, data.contexts)
    assert before == after and before


def test_tied_exemplars_come_in_unit_id_order():
    data = _training_set()
    # every unit of a code twice, the copy under a smaller id listed later: stable sorting by
    # position would put the larger id first
    n = len(data.texts)
    doubled = TrainingSet(
        unit_ids=np.r_[np.arange(1000, 1000 + n), np.arange(1, n + 1)], texts=data.texts * 2,
        contexts=data.contexts * 2, embeddings=np.vstack([data.embeddings, data.embeddings]),
        labels=np.vstack([data.labels, data.labels]), groups=data.groups * 2, codes=data.codes,
    )
    model = train_model(doubled)
    for proposal in propose(model, data.embeddings[:6], data.texts[:6], data.contexts[:6]):
        first, second = proposal.rationale[:2]
        assert first < 1000 and second == first + 999  # the copy with the smaller id, then its twin


def test_every_suggestion_carries_three_human_coded_examples_of_its_code():
    data = _training_set()
    model = train_model(data)
    for proposal in propose(model, data.embeddings[:6], data.texts[:6], data.contexts[:6]):
        assert len(proposal.rationale) == 3
        column = data.codes.index(proposal.code)
        for unit_id in proposal.rationale:
            assert data.labels[list(data.unit_ids).index(unit_id), column] == 1


def test_codes_with_few_examples_fall_back_to_their_exemplars():
    data = _training_set(per_code=5, n_transcripts=4)
    few = data.labels.copy()
    access = [i for i in range(len(few)) if few[i, 2]]
    keep = set(access[:3])
    rows = [i for i in range(len(few)) if not few[i, 2] or i in keep]
    small = TrainingSet(data.unit_ids[rows], [data.texts[i] for i in rows], [data.contexts[i] for i in rows],
                        data.embeddings[rows], few[rows], [data.groups[i] for i in rows], data.codes)
    model = train_model(small, options=TrainOptions(min_classifier_examples=5, exemplar_threshold=0.3))
    assert model.codes == ["trust", "money"] and model.exemplar_codes == ["access"]
    access_rows = [i for i in range(len(data.texts)) if data.labels[i, 2] and i not in keep]
    proposals = propose(model, data.embeddings[access_rows], [data.texts[i] for i in access_rows], ["" for _ in access_rows],
                        options=TrainOptions(exemplar_threshold=0.3))
    sources = {(p.code, p.source) for p in proposals}
    assert ("access", "exemplar") in sources


def test_codes_without_examples_are_suggested_from_their_description():
    data = _training_set(coded=("trust", "money"))
    encoder = HashEncoder()
    description = encoder.encode(["waiting bus appointment phone queue referral"])[0]
    model = train_model(data, descriptions={"access": description})
    assert model.description_codes == ["access"]
    text = "Waiting for the bus and the appointment and the phone queue."
    [proposal] = [p for p in propose(model, encoder.encode([text]), [text], [""]) if p.code == "access"]
    assert proposal.source == "description" and proposal.probability is None and proposal.score > 0.45


def test_features_stack_embedding_ngrams_cues_and_both_neighbours():
    data = _training_set()
    before, after = ["bus stop?"] * len(data.texts), ["rent money"] * len(data.texts)
    builder = FeatureBuilder(FeatureConfig()).fit(data.texts, before, after)
    X = builder.transform(data.embeddings, data.texts, before, after)
    expected = (data.embeddings.shape[1] + len(builder.words.vocabulary) + len(builder.chars.vocabulary) + 8
                + 2 * len(builder.context.vocabulary))
    assert X.shape == (len(data.texts), expected)


def test_cues_see_questions_and_lengths():
    from qcassist.features import cue_features

    [asks, answers] = cue_features(["Why did you stop? And when?", "Because."], ["", "Why?"], ["Because.", ""])
    assert asks[:3].tolist() == [1.0, 2 / 3, 1.0] and asks[7] == 1.0  # first turn: nothing before
    assert answers[:3].tolist() == [0.0, 0.0, 0.0] and answers[6] == 1.0  # the turn before asked


def test_a_code_on_one_unit_of_the_calibration_folds_prints_no_python_warning():
    # 'qcassist evaluate' on three QMSum meetings printed scikit-learn's "The least populated class in y has
    # only 1 members" five times: in a training fold one code led on a single unit
    import warnings

    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 4))
    Y = np.zeros((20, 3), dtype=np.int8)
    Y[:10, 0] = 1
    Y[10:19, 1] = 1
    Y[19, 2] = Y[3, 2] = 1  # code 2 leads (argmax) on unit 19 only
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        CodeClassifier().fit(X, Y)
    assert not [w for w in caught if "least populated class" in str(w.message)]


@pytest.mark.parametrize("block_rows", [1, 2, 7])
def test_proposals_in_blocks_equal_proposals_in_one_block(block_rows):
    # suggest scores a large corpus in blocks of rows (bounded memory); every source, row number,
    # score and rationale must come out as when all rows are scored at once
    data = _training_set(codes=("trust", "money", "access", "late"), coded=("trust", "money", "access"))
    access = [i for i in range(len(data.texts)) if data.labels[i, 2]]
    rows = [i for i in range(len(data.texts)) if not data.labels[i, 2] or i in access[:3]]
    small = TrainingSet(data.unit_ids[rows], [data.texts[i] for i in rows], [data.contexts[i] for i in rows],
                        data.embeddings[rows], data.labels[rows], [data.groups[i] for i in rows], data.codes)
    description = HashEncoder().encode(["waiting bus appointment phone queue referral"])[0]
    options = TrainOptions(min_classifier_examples=5, exemplar_threshold=0.3, description_threshold=0.1)
    model = train_model(small, options=options, descriptions={"late": description})
    assert model.exemplar_codes == ["access"] and model.description_codes == ["late"]
    following = data.texts[1:] + [""]
    whole = propose(model, data.embeddings, data.texts, data.contexts, following, options=options,
                    block_rows=len(data.texts))
    blocked = propose(model, data.embeddings, data.texts, data.contexts, following, options=options,
                      block_rows=block_rows)
    assert {p.source for p in whole} == {"classifier", "exemplar", "description"}
    assert blocked == whole
