from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qcassist.errors import QcaError
from qcassist.ingest import parse_labelled_text
from qcassist.segment import SegmentOptions, cohesion_boundaries, load_nlp, segment, sentence_spans
from tests.conftest import SIX_TURNS, HashEncoder

NLP = load_nlp("en")


def _transcript(text=SIX_TURNS):
    transcript, _ = parse_labelled_text(text, name="t", path="t.txt")
    return replace(transcript, id=1)


def _participant_sentences(transcript):
    return [s for turn in transcript.participant_turns for s in sentence_spans(transcript.text, turn, NLP)]


def _assert_partition(transcript, units):
    """Units slice the text, do not overlap, and hold every participant sentence exactly once."""
    for unit in units:
        assert unit.text_in(transcript) == transcript.text[unit.start : unit.end]
        assert unit.text_in(transcript) == unit.text_in(transcript).strip()
    ordered = sorted(units, key=lambda u: u.start)
    for a, b in zip(ordered, ordered[1:]):
        assert a.end <= b.start
    for start, end in _participant_sentences(transcript):
        assert sum(1 for u in units if u.start <= start and end <= u.end) == 1


def test_sentence_strategy_gives_one_unit_per_participant_sentence():
    t = _transcript()
    units = segment(t, options=SegmentOptions(strategy="sentence"), nlp=NLP)
    assert [u.text_in(t) for u in units] == [
        "My doctor sent a referral.", "I did not expect much at first.", "The nurse listened to me.",
        "She came back every week, even when I cancelled.", "Later we talked about money problems and the rent.",
        "I have hope now.",
    ]
    assert {u.speaker for u in units} == {"P1"}


def test_turn_strategy_gives_one_unit_per_participant_turn():
    t = _transcript()
    units = segment(t, options=SegmentOptions(strategy="turn"))
    assert [u.turn_index for u in units] == [1, 3, 5]
    assert units[2].text_in(t) == "I have hope now."


def test_interviewer_turns_become_units_only_when_asked():
    t = _transcript()
    units = segment(t, options=SegmentOptions(strategy="turn", roles=("participant", "interviewer")))
    assert len(units) == 6


def test_cohesive_units_partition_participant_sentences_and_stay_in_turns(hash_encoder):
    t = _transcript()
    units = segment(t, options=SegmentOptions(min_chars=0), nlp=NLP, encoder=hash_encoder)
    _assert_partition(t, units)
    for unit in units:
        turn = t.turns[unit.turn_index]
        assert turn.start <= unit.start and unit.end <= turn.end


def test_cohesive_units_never_cross_a_paragraph(hash_encoder):
    text = "P1: One thing about the nurse. She was kind.\n\nAnother thing about money. Rent was high.\nInterviewer: ok?\n"
    t = _transcript(text)
    units = segment(t, options=SegmentOptions(min_chars=0, threshold=99), nlp=NLP, encoder=hash_encoder)
    assert [u.text_in(t) for u in units] == ["One thing about the nurse. She was kind.", "Another thing about money. Rent was high."]


def _two_topics(n_each=3, dim=8):
    a = np.zeros(dim, dtype=np.float32); a[0] = 1
    b = np.zeros(dim, dtype=np.float32); b[1] = 1
    return np.stack([a] * n_each + [b] * n_each)


def test_cohesion_cuts_where_the_topic_changes():
    vectors = _two_topics()
    assert cohesion_boundaries(vectors, [False] * 6, threshold=0.5) == [2]


def test_cohesion_does_not_cut_a_single_topic():
    vectors = np.tile(np.eye(8, dtype=np.float32)[:1], (6, 1))
    assert cohesion_boundaries(vectors, [False] * 6, threshold=0.5) == []


def test_a_question_makes_a_cut_more_likely():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(6, 16)).astype(np.float32)
    questions = [False, False, False, True, False, False]
    plain = cohesion_boundaries(vectors, [False] * 6, threshold=5, question_bonus=0)
    boosted = cohesion_boundaries(vectors, questions, threshold=5, question_bonus=10)
    assert plain == [] and boosted == [2]


def test_cuts_are_kept_min_sentences_apart():
    vectors = np.eye(6, dtype=np.float32)  # every sentence on its own topic
    cuts = cohesion_boundaries(vectors, [False] * 6, window=1, threshold=0.5, min_sentences=2)
    assert all(b - a >= 2 for a, b in zip(cuts, cuts[1:]))


def test_long_units_are_split_and_short_ones_merged(hash_encoder):
    sentences = " ".join(f"Sentence number {i} talks about the same garden and the same roses." for i in range(12))
    t = _transcript(f"P1: {sentences}\nInterviewer: thanks?\n")
    units = segment(t, options=SegmentOptions(threshold=99, max_chars=200), nlp=NLP, encoder=hash_encoder)
    assert len(units) > 1 and all(len(u.text_in(t)) <= 200 for u in units)
    _assert_partition(t, units)
    merged = segment(t, options=SegmentOptions(threshold=-99, min_chars=150, max_chars=1000), nlp=NLP, encoder=hash_encoder)
    assert all(len(u.text_in(t)) >= 150 for u in merged)


def test_blank_pipeline_for_other_languages_splits_sentences():
    nlp = load_nlp("nb")
    t = _transcript("Intervjuer: Hvordan var det?\nP1: Det var fint. Sykepleieren lyttet til meg.\n")
    assert [t.text[a:b] for a, b in sentence_spans(t.text, t.turns[1], nlp)] == ["Det var fint.", "Sykepleieren lyttet til meg."]


def test_unknown_language_and_missing_pipeline_are_user_errors():
    with pytest.raises(QcaError, match="no language 'xx-nope'"):
        load_nlp("xx-nope")
    with pytest.raises(QcaError, match="not installed"):
        load_nlp(spacy_model="xx_no_such_pipeline_sm")


def test_bad_options_are_rejected():
    with pytest.raises(QcaError, match="unknown segmentation strategy"):
        SegmentOptions(strategy="paragraph")
    with pytest.raises(QcaError, match="min-chars"):
        SegmentOptions(min_chars=600, max_chars=500)


word = st.sampled_from("the nurse listened money rent hope doctor team trust kind garden bus letter".split())
sentence = st.builds(lambda ws, end: " ".join(ws).capitalize() + end, st.lists(word, min_size=1, max_size=8), st.sampled_from([".", "?", "!", "...", ""]))
speech = st.builds(
    lambda ss, seps: "".join(s + sep for s, sep in zip(ss, seps)).strip(),
    st.lists(sentence, min_size=1, max_size=6), st.lists(st.sampled_from([" ", "  ", "\n", "\n\n", " \n"]), min_size=6, max_size=6),
)
turn = st.tuples(st.sampled_from(["Interviewer", "P1", "P2"]), speech)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(turns=st.lists(turn, min_size=1, max_size=8), strategy=st.sampled_from(["sentence", "turn", "cohesive"]),
       min_chars=st.sampled_from([0, 40]), max_chars=st.sampled_from([60, 500]))
def test_every_strategy_partitions_participant_speech(turns, strategy, min_chars, max_chars):
    text = "".join(f"{speaker}: {words}\n" for speaker, words in turns) + "P1: Final answer here.\n"
    t = _transcript(text)
    options = SegmentOptions(strategy=strategy, min_chars=min_chars, max_chars=max_chars)
    units = segment(t, options=options, nlp=NLP, encoder=HashEncoder())
    _assert_partition(t, units)
