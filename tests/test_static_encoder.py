"""The static encoder (model2vec distilled offline) and the two-stage suggest path.

Distillation runs for real, once per session, on a tiny randomly initialised BERT that uses
the packaged MiniLM's tokenizer files: the same model2vec code path as for MiniLM in seconds
instead of a minute (benchmarks/static_encoder.py distils the packaged model itself).
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from qcassist.cli import main
from qcassist.embed import EncoderError, packaged_model_dir
from qcassist.store import Store
from qcassist.static_encoder import MANIFEST, PCA_DIMS, StaticEncoder, distil_into, static_cache_root
from qcassist.two_stage import uncertain_rows

from tests.conftest import CODE_WORDS, coded_rows, write_coded_csv

TEXTS = ["I feel bad about my drinking.", "The nurse came back every week.", "We talked about the rent.", "Hope."]


@pytest.fixture(scope="session")
def tiny_source(tmp_path_factory):
    """A one-layer, 32-wide BERT with MiniLM's tokenizer: random weights, so vectors mean nothing, but real files."""
    import torch
    from transformers import BertConfig, BertModel

    real, _ = packaged_model_dir()
    directory = tmp_path_factory.mktemp("tiny-bert")
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(real / name, directory / name)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64)
    BertModel(config).save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def xdg_cache(tmp_path_factory, tiny_source):
    """An XDG cache holding the tiny model's distillation (distilled once for the whole session)."""
    root = tmp_path_factory.mktemp("xdg-cache")
    encoder = StaticEncoder(source=tiny_source, cache_root=root / "qcassist" / "static")
    encoder.encode(["distil"])
    return root


@pytest.fixture
def static_encoder(xdg_cache, tiny_source) -> StaticEncoder:
    return StaticEncoder(source=tiny_source, cache_root=xdg_cache / "qcassist" / "static")


@pytest.fixture
def no_distilling(monkeypatch):
    def refuse(source, pca_dims):
        raise AssertionError("distilled again")

    monkeypatch.setattr("qcassist.static_encoder._distil", refuse)


def test_vectors_are_unit_length_float32_and_the_same_every_time(static_encoder, tiny_source, xdg_cache):
    vectors = static_encoder.encode(TEXTS)
    assert vectors.shape == (4, 32)  # PCA to 256 cannot widen 32 dimensions
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    again = StaticEncoder(source=tiny_source, cache_root=xdg_cache / "qcassist" / "static").encode(TEXTS)
    np.testing.assert_array_equal(vectors, again)
    assert static_encoder.encode([]).shape == (0, 0)


def test_the_id_names_the_vectors_checksum(static_encoder):
    manifest = json.loads((static_encoder.directory() / MANIFEST).read_text())
    assert static_encoder.id == f"static-m2v-pca{PCA_DIMS}@sha256:{manifest['sha256']['model.safetensors'][:16]}"


def test_a_second_load_reads_the_cache_without_distilling(static_encoder, no_distilling, monkeypatch):
    monkeypatch.setattr("qcassist.static_encoder._LOADED", {})  # as in a new process
    assert static_encoder.encode(TEXTS).shape == (4, 32)


def test_the_cache_follows_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert static_cache_root() == tmp_path / "qcassist" / "static"


def test_a_changed_model_file_is_refused_in_one_line(static_encoder, tiny_source, tmp_path, no_distilling):
    copy = tmp_path / "static"
    shutil.copytree(static_encoder.directory().parent, copy)
    tampered = StaticEncoder(source=tiny_source, cache_root=copy)
    weights = tampered.directory() / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    with pytest.raises(EncoderError) as caught:
        tampered.encode(TEXTS)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{weights}: sha256 does not match {MANIFEST}")
    assert f"Delete {tampered.directory()}" in message


class _FakeStatic:
    """Stands in for model2vec's StaticModel where only the saving matters."""

    def __init__(self, content: str, fail: bool = False):
        self.content, self.fail = content, fail

    def save_pretrained(self, path: str) -> None:
        for name in ("model.safetensors", "tokenizer.json", "config.json"):
            with open(f"{path}/{name}", "w") as out:
                out.write(self.content)
        if self.fail:
            raise OSError(28, "No space left on device")


def test_the_first_of_two_distillations_stays_and_no_partial_folder_is_left(monkeypatch, tmp_path, tiny_source):
    target = tmp_path / "cache" / "tiny-pca8"
    for content in ("first", "second"):  # the second command finishes after the first renamed its folder into place
        monkeypatch.setattr("qcassist.static_encoder._distil", lambda source, dims, c=content: _FakeStatic(c))
        distil_into(target, tiny_source, 8)
    assert (target / "config.json").read_text() == "first"
    assert sorted(p.name for p in target.parent.iterdir()) == ["tiny-pca8"]


def test_a_failed_distillation_leaves_nothing(monkeypatch, tmp_path, tiny_source):
    monkeypatch.setattr("qcassist.static_encoder._distil", lambda source, dims: _FakeStatic("x", fail=True))
    with pytest.raises(EncoderError, match="cannot save the static encoder .the disk is full"):
        distil_into(tmp_path / "cache" / "tiny-pca8", tiny_source, 8)
    assert list((tmp_path / "cache").iterdir()) == []


def test_a_folder_without_its_manifest_is_distilled_again(monkeypatch, tmp_path, tiny_source):
    target = tmp_path / "cache" / "tiny-pca8"
    target.mkdir(parents=True)
    (target / "model.safetensors").write_text("left over")
    monkeypatch.setattr("qcassist.static_encoder._distil", lambda source, dims: _FakeStatic("new"))
    distil_into(target, tiny_source, 8)
    assert (target / "model.safetensors").read_text() == "new" and (target / MANIFEST).exists()


def test_resegmenting_reuses_the_static_encoder_a_transcript_was_cut_with():
    from qcassist.resegment import encoder_spec

    assert encoder_spec({"encoder": "static-m2v-pca256@sha256:c6c2fa278c03d998"}, "default") == "static"


# --- two-stage selection ----------------------------------------------------------------


def test_exclusive_units_whose_top_two_codes_are_close_are_rescored():
    probabilities = np.array([[0.70, 0.20, 0.10],   # margin 0.50
                              [0.45, 0.40, 0.15],   # 0.05
                              [0.30, 0.55, 0.15],   # 0.25
                              [0.34, 0.33, 0.33]])  # 0.01
    thresholds = np.full(3, 0.5)
    assert uncertain_rows(probabilities, thresholds, exclusive=True, band=0.1).tolist() == [1, 3]
    assert uncertain_rows(probabilities, thresholds, exclusive=True, band=0.3).tolist() == [1, 2, 3]


def test_multi_label_units_with_a_probability_near_its_threshold_are_rescored():
    probabilities = np.array([[0.90, 0.05],
                              [0.52, 0.05],   # code 0 near its 0.5
                              [0.10, 0.33],   # code 1 near its 0.3
                              [0.20, 0.90]])
    thresholds = np.array([0.5, 0.3])
    assert uncertain_rows(probabilities, thresholds, exclusive=False, band=0.05).tolist() == [1, 2]
    assert uncertain_rows(np.zeros((0, 2)), thresholds, exclusive=False, band=0.05).tolist() == []


# --- the CLI on a small project ---------------------------------------------------------


@pytest.fixture
def static_project(project, tmp_path, runner, monkeypatch, xdg_cache, tiny_source, no_distilling):
    """A coded project whose 'static' encoder is the tiny model's session distillation."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(xdg_cache))
    _tiny_is_the_default(monkeypatch, tiny_source)
    seed = tmp_path / "seed.csv"
    write_coded_csv(seed, _noisy_rows())
    result = runner.invoke(main, ["import-coded", "-p", str(project), str(seed), "--coder", "anna", "--order-column", "order"])
    assert result.exit_code == 0, result.output
    return project


def _noisy_rows() -> list[dict]:
    """The synthetic coded corpus with every fourth unit given the next code: a model that is sometimes unsure."""
    rows, codes = coded_rows(n_transcripts=4, per_code=6), sorted(CODE_WORDS)
    for row in rows[::4]:
        row["code"] = codes[(codes.index(row["code"]) + 1) % len(codes)]
    return rows


def _tiny_is_the_default(monkeypatch, tiny_source) -> None:
    name = StaticEncoder(source=tiny_source)._source()[1]  # the folder the session fixture distilled into
    monkeypatch.setattr("qcassist.static_encoder.default_source", lambda: (tiny_source, name))


def test_train_and_suggest_with_the_static_encoder_and_a_second_stage(static_project, runner):
    p = str(static_project)
    result = runner.invoke(main, ["train", "-p", p, "--encoder", "static", "--rescore-encoder", "tfidf", "--json"])
    assert result.exit_code == 0, result.output
    trained = json.loads(result.output)
    assert trained["encoder"].startswith("static-m2v-pca256@sha256:")
    result = runner.invoke(main, ["suggest", "-p", p, "--all", "--rescore-uncertain", "--json"])
    assert result.exit_code == 0, result.output
    rescored = json.loads(result.output)["rescored"]
    assert rescored["of"] == 4 * len(CODE_WORDS) * 6 and 0 <= rescored["units"] <= rescored["of"]
    assert rescored["encoder"].startswith("tfidf-lsa")
    assert "suggestions for" in runner.invoke(main, ["suggest", "-p", p]).output  # one stage, same model


def test_rescoring_replaces_only_the_uncertain_units_classifier_proposals(static_project, runner):
    from qcassist.classify import propose
    from qcassist.project import project_encoder
    from qcassist.store import Store
    from qcassist.suggest import _options_of, load_latest_model, project_units
    from qcassist.two_stage import _probabilities, load_rescorer, rescore

    p = str(static_project)
    assert runner.invoke(main, ["train", "-p", p, "--encoder", "static", "--rescore-encoder", "tfidf"]).exit_code == 0
    with Store.open(static_project) as store:
        model = load_latest_model(store)
        units = project_units(store)
        texts, contexts, following = [u.text for u in units], [u.context for u in units], [u.following for u in units]
        embeddings = project_encoder(store, "static").encode(texts)
        options = _options_of(model)
        first = propose(model, embeddings, texts, contexts, following, options=options)
        probabilities = _probabilities(model, embeddings, texts, contexts, following)
        select = lambda band: uncertain_rows(probabilities, model.classifier.thresholds_,  # noqa: E731
                                             exclusive=model.classifier.exclusive, band=band)
        band = next(b for b in np.linspace(0.01, 1, 100) if len(select(b)) >= len(units) // 4)  # some units, not all
        rows = set(select(band).tolist())
        merged, info = rescore(store, model, embeddings, units, first, options=options, band=band)
        rescorer = load_rescorer(store.directory / "classifiers" / model.manifest["version"], model)
        full = project_encoder(store, "tfidf").encode(texts)
        second = {p for p in propose(rescorer, full, texts, contexts, following, options=options)
                  if p.source == "classifier" and p.row in rows}
    assert 0 < len(rows) < len(units) and info["units"] == len(rows)
    assert {p for p in merged if p.row not in rows} == {p for p in first if p.row not in rows}
    assert {p for p in merged if p.row in rows and p.source == "classifier"} == {(p) for p in second}


def test_rescore_uncertain_needs_a_model_trained_with_a_second_stage(static_project, runner):
    p = str(static_project)
    assert runner.invoke(main, ["train", "-p", p, "--encoder", "static"]).exit_code == 0
    result = runner.invoke(main, ["suggest", "-p", p, "--rescore-uncertain"])
    assert result.exit_code == 2
    assert result.output.startswith("Error: model ") and "--rescore-encoder default" in result.output
    assert result.output.count("\n") == 1


def test_segment_with_the_static_encoder(project, runner, six_turns_file, monkeypatch, xdg_cache, tiny_source, no_distilling):
    monkeypatch.setenv("XDG_CACHE_HOME", str(xdg_cache))
    _tiny_is_the_default(monkeypatch, tiny_source)
    p = str(project)
    assert runner.invoke(main, ["import", "-p", p, str(six_turns_file), "--interviewer", "Interviewer"]).exit_code == 0
    result = runner.invoke(main, ["segment", "-p", p, "--encoder", "static", "--strategy", "cohesive"])
    assert result.exit_code == 0, result.output
    with Store.open(project) as store:
        segmentation = store.segmentation(store.transcripts()[0].id)
    assert segmentation["encoder"].startswith("static-m2v-pca256@sha256:")
