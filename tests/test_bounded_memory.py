"""Memory that stays bounded on any corpus (issue 13): the TF-IDF fit's sample and vocabulary caps."""

from __future__ import annotations

import hashlib
import json
import random

import numpy as np
import pytest

from qcassist.embed import TfidfEncoder, fit_sample
from qcassist.project import import_files, project_encoder

WORDS = ("nurse doctor rent money hope week family worry bus phone letter queue referral kids pay "
         "health drink smoke weight stress happy afraid data system school friend house car job").split()


def corpus(n: int, seed: int = 0) -> list[str]:
    """``n`` distinct short texts over a small vocabulary (seeded)."""
    rng = random.Random(seed)
    return [f"text {i} " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9))) for i in range(n)]


def fit_as_before_the_caps(texts: list[str], dimension: int) -> tuple[dict, np.ndarray, np.ndarray]:
    """The fit as TfidfEncoder did it before it had bounds: every text, every term."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1).fit(texts)
    matrix = vectorizer.transform(texts)
    svd = TruncatedSVD(n_components=dimension, random_state=0).fit(matrix)
    vocabulary = {term: int(i) for term, i in vectorizer.vocabulary_.items()}
    return vocabulary, vectorizer.idf_.astype(np.float32), svd.components_.astype(np.float32)


def state(encoder: TfidfEncoder) -> tuple[dict, np.ndarray, np.ndarray]:
    return encoder.vocabulary_, encoder.idf_, encoder.components_


def assert_same_state(a, b) -> None:
    assert a[0] == b[0]
    assert np.array_equal(a[1], b[1]) and np.array_equal(a[2], b[2])


def test_tfidf_fit_under_both_caps_is_bit_identical_to_the_unbounded_fit():
    texts = corpus(120)
    encoder = TfidfEncoder(dimension=8, max_texts=120, max_terms=10_000).fit(texts)
    assert len(encoder.vocabulary_) < 10_000
    assert_same_state(state(encoder), fit_as_before_the_caps(texts, 8))
    assert_same_state(state(TfidfEncoder(dimension=8).fit(texts)), fit_as_before_the_caps(texts, 8))  # the defaults


def test_tfidf_fit_reads_a_generator_once():
    texts = corpus(50)
    from_generator = TfidfEncoder(dimension=6).fit(text for text in texts)
    assert from_generator.id == TfidfEncoder(dimension=6).fit(texts).id


def test_tfidf_fit_over_the_text_cap_uses_the_texts_with_the_smallest_hash_whatever_their_order():
    texts = corpus(200)
    shuffled = texts[:]
    random.Random(1).shuffle(shuffled)
    encoder = TfidfEncoder(dimension=8, max_texts=60).fit(texts)
    assert encoder.id == TfidfEncoder(dimension=8, max_texts=60).fit(shuffled).id
    by_hash = sorted(texts, key=lambda t: hashlib.sha256(t.encode()).digest())[:60]
    assert_same_state(state(encoder), fit_as_before_the_caps(by_hash, 8))


def test_fit_sample_keeps_the_order_under_the_cap_and_equal_texts_together_over_it():
    texts = ["b", "a", "c", "a"]
    assert fit_sample(texts, 4) == texts and fit_sample(iter(texts), None) == texts
    assert sorted(fit_sample(texts, 3)) == sorted(fit_sample(texts[::-1], 3))
    assert len(fit_sample(texts, 3)) == 3


def test_tfidf_fit_over_the_term_cap_keeps_that_many_terms():
    texts = corpus(150)
    encoder = TfidfEncoder(dimension=8, max_terms=40).fit(texts)
    assert len(encoder.vocabulary_) == 40 and encoder.components_.shape == (8, 40)
    assert sorted(encoder.vocabulary_.values()) == list(range(40))
    vectors = encoder.encode(texts[:5])
    assert vectors.shape == (5, 8) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)


def test_saved_tfidf_encoder_records_its_bounds_and_an_older_folder_loads_unbounded(tmp_path):
    encoder = TfidfEncoder(dimension=4, max_texts=30, max_terms=50).fit(corpus(40))
    encoder.save(tmp_path / "new")
    loaded = TfidfEncoder.load(tmp_path / "new")
    assert (loaded.max_texts, loaded.max_terms, loaded.id) == (30, 50, encoder.id)
    config = json.loads((tmp_path / "new" / "encoder.json").read_text())
    del config["max_texts"], config["max_terms"]
    (tmp_path / "new" / "encoder.json").write_text(json.dumps(config))
    older = TfidfEncoder.load(tmp_path / "new")
    assert (older.max_texts, older.max_terms, older.id) == (None, None, encoder.id)


def test_project_tfidf_is_fitted_on_every_participant_turn_of_a_small_project(store_with_transcripts):
    store, texts = store_with_transcripts
    fitted = project_encoder(store, "tfidf").encoder
    assert_same_state(state(fitted), state(TfidfEncoder().fit(texts)))


def _write_transcripts(directory, n_files: int, turns: int) -> tuple[list, list[str]]:
    rng = random.Random(3)
    paths, texts = [], []
    for f in range(n_files):
        lines = []
        for t in range(turns):
            answer = f"answer {f} {t} " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 8)))
            lines += [f"Interviewer: question {t} about {rng.choice(WORDS)}?", f"P1: {answer}"]
            texts.append(answer)
        path = directory / f"t{f:03d}.txt"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths.append(path)
    return paths, texts



@pytest.fixture
def store_with_transcripts(tmp_path):
    from qcassist.store import Store

    store = Store.create(tmp_path / "project")
    paths, texts = _write_transcripts(tmp_path, n_files=70, turns=3)  # more than one page of iter_transcripts
    import_files(store, paths)
    yield store, texts
    store.close()


def test_iter_transcripts_reads_every_transcript_in_id_order_by_pages(store_with_transcripts):
    store, _ = store_with_transcripts
    assert [t.id for t in store.iter_transcripts(page=8)] == [t.id for t in store.transcripts()]
    assert list(store.iter_transcripts(page=70)) == store.transcripts()


def test_segment_centre_by_blocks_is_the_mean_of_every_sentence_vector(store_with_transcripts, hash_encoder, monkeypatch):
    from qcassist import resegment
    from qcassist.segment import SegmentOptions, load_nlp, unit_sentences

    store, _ = store_with_transcripts
    options = SegmentOptions()
    nlp = load_nlp(options.language, options.spacy_model)
    sentences = [s for t in store.transcripts() for s in unit_sentences(t, options, nlp)]
    whole = hash_encoder.encode(sentences).mean(axis=0)
    assert np.array_equal(resegment._project_centre(store, {}, options, nlp, hash_encoder), whole)  # one block
    monkeypatch.setattr(resegment, "CENTRE_BLOCK", 16)
    hash_encoder.calls.clear()
    blocked = resegment._project_centre(store, {}, options, nlp, hash_encoder)
    assert max(hash_encoder.calls) == 16 and sum(hash_encoder.calls) == len(sentences)
    assert blocked.dtype == np.float32 and np.allclose(blocked, whole, atol=1e-6)


def test_unit_rows_are_streamed_across_pages_of_transcripts_and_unknown_names_fail_before_any_row(store_with_transcripts):
    from qcassist.errors import QcaError
    from qcassist.project import iter_unit_rows, segment_project, unit_rows
    from qcassist.segment import SegmentOptions

    store, texts = store_with_transcripts
    segment_project(store, options=SegmentOptions(strategy="turn"))
    rows = iter_unit_rows(store)
    assert not isinstance(rows, list)
    rows = list(rows)
    assert [r["text"] for r in rows] == texts  # 70 transcripts: two pages, in import order
    assert rows == unit_rows(store)
    with pytest.raises(QcaError, match="no transcript named 'nope'"):
        iter_unit_rows(store, ["t001", "nope"])
    assert store.transcript_names() == [t.name for t in store.transcripts()]


def test_import_spans_reads_transcripts_by_name_as_the_spans_name_them(store_with_transcripts, tmp_path):
    from qcassist.errors import InputError
    from qcassist.model import Code, Codebook
    from qcassist.project import segment_project
    from qcassist.seed import import_spans
    from qcassist.segment import SegmentOptions

    store, _ = store_with_transcripts
    segment_project(store, options=SegmentOptions(strategy="turn"))
    store.save_codebook(Codebook((Code("hope"),), exclusive=False))
    first, second = store.transcript_by_name("t000"), store.transcript_by_name("t001")
    unit_a, unit_b = store.units(first.id)[0], store.units(second.id)[1]
    spans = tmp_path / "spans.csv"
    spans.write_text("transcript,start,end,code\n"
                     f"t000,{unit_a.start},{unit_a.end},hope\n"
                     f"t001,{unit_b.start},{unit_b.end},hope\n"
                     f"t000,{unit_a.start},{unit_a.start + 3},hope\n")  # back to the first: read again
    report = import_spans(store, spans, coder="anna")
    assert (report.spans, report.units_coded) == (3, 2)
    assert sorted((c.unit_id, c.start if c.start is not None else -1) for c in store.codings(coders=["anna"])) == sorted(
        [(unit_a.id, -1), (unit_b.id, -1), (unit_a.id, unit_a.start)])
    spans.write_text("transcript,start,end,code\nt0000,0,3,hope\n")
    with pytest.raises(InputError, match="no transcript named 't0000' in the project. Did you mean 't000'"):
        import_spans(store, spans, coder="anna")


def test_qdpx_export_refuses_a_transcript_changed_between_its_description_and_its_text(store_with_transcripts, tmp_path,
                                                                                       monkeypatch):
    from dataclasses import replace

    from qcassist import refi_write
    from qcassist.errors import ConflictError

    store, _ = store_with_transcripts
    xml_bytes = refi_write._xml_bytes

    def change_a_text_then(root):  # another command's write, after the XML is built and before the texts are read
        stored = store.transcript_by_name("t005")
        store.replace_transcript(stored.id, replace(stored, text=stored.text + "more\n", content_hash="changed"))
        return xml_bytes(root)

    monkeypatch.setattr(refi_write, "_xml_bytes", change_a_text_then)
    out = tmp_path / "study.qdpx"
    with pytest.raises(ConflictError, match="changed or removed a transcript while it was being exported"):
        refi_write.export_qdpx(store, out)
    assert not out.exists() and not list(tmp_path.glob(".study.qdpx.*"))


def test_units_by_id_reads_chunks_and_leaves_out_absent_ids(store_with_transcripts, monkeypatch):
    from qcassist import store_corpus
    from qcassist.project import segment_project
    from qcassist.segment import SegmentOptions

    store, _ = store_with_transcripts
    segment_project(store, options=SegmentOptions(strategy="turn"))
    every = {u.id: u for u in store.units()}
    monkeypatch.setattr(store_corpus, "ID_CHUNK", 64)
    assert len(every) > 64 * 3
    assert store.units_by_id([*every, max(every) + 1]) == every
    assert store.units_by_id([]) == {}


def test_speaker_summaries_give_each_transcripts_speakers_and_roles_in_order_of_first_turn(store_with_transcripts):
    from qcassist.ingest.roles import interviewers_of

    store, _ = store_with_transcripts
    summaries = store.speaker_summaries()
    full = store.transcripts()
    assert [s.name for s in summaries] == [t.name for t in full]
    for summary, transcript in zip(summaries, full):
        assert [(t.speaker, t.role) for t in summary.turns] == list(dict.fromkeys((t.speaker, t.role) for t in transcript.turns))
        assert interviewers_of(summary) == interviewers_of(transcript) and summary.text == ""


def test_tfidf_id_hashes_the_arrays_buffers_as_before_and_save_says_whose_folder_is_in_place(tmp_path):
    encoder = TfidfEncoder(dimension=4).fit(corpus(30))
    digest = hashlib.sha256(json.dumps(encoder.vocabulary_, sort_keys=True).encode())
    digest.update(encoder.idf_.tobytes())
    digest.update(encoder.components_.tobytes())  # how ids were computed before: saved encoders keep theirs
    assert encoder.id == f"tfidf-lsa-4@sha256:{digest.hexdigest()[:16]}"
    assert encoder.save(tmp_path / "tfidf") is True
    other = TfidfEncoder(dimension=4).fit(corpus(30, seed=1))
    assert other.save(tmp_path / "tfidf") is False  # another's folder was there first: it is kept
    assert TfidfEncoder.load(tmp_path / "tfidf").id == encoder.id


def test_a_saved_tfidf_encoder_with_a_nonsense_bound_is_unreadable(tmp_path):
    from qcassist.embed import EncoderError

    TfidfEncoder(dimension=4).fit(corpus(20)).save(tmp_path / "tfidf")
    config = json.loads((tmp_path / "tfidf" / "encoder.json").read_text())
    (tmp_path / "tfidf" / "encoder.json").write_text(json.dumps(dict(config, max_terms="many")))
    with pytest.raises(EncoderError, match="max_texts and max_terms must be positive whole numbers or null"):
        TfidfEncoder.load(tmp_path / "tfidf")
