"""Fine-tuning on (context, unit) pairs with the real packaged MiniLM, on tiny synthetic data.

The code of each pair depends only on the previous turn (food vs sport talk); the unit is
always "yes I think so", so nothing but the context can tell the codes apart.
"""

from __future__ import annotations

import numpy as np
import pytest

from qcassist.finetune import FineTuneOptions, TunedBody, pair_input, split_input, train_body, unit_input
from qcassist.finetune.training import masked_bce
from qcassist.saved_model import ModelError

FOOD = ["we had pasta and salad for dinner", "I cooked soup with fresh bread", "do you like pizza with cheese",
        "the cake and the fruit were tasty", "breakfast was eggs and toast"]
SPORT = ["we played football in the park", "the tennis match went to five sets", "do you like running marathons",
         "our team won the basketball game", "swimming laps every morning"]
UNIT = "yes I think so"
FAST = FineTuneOptions(tuned_layers=1, epochs=3, batch_size=8, learning_rate=1e-4, device="cpu")


def _pairs() -> tuple[list[str], np.ndarray, np.ndarray]:
    """40 pairs alternating food/sport contexts, exclusive labels, the last 10 held out."""
    inputs, codes = [], []
    for i in range(20):
        for code, topics in enumerate((FOOD, SPORT)):
            inputs.append(pair_input(UNIT, "client", f"{topics[i % 5]} number {i}", "therapist"))
            codes.append(code)
    labels = np.zeros((40, 2), dtype=np.int8)
    labels[np.arange(40), codes] = 1
    return inputs, labels, np.arange(40) >= 30


@pytest.fixture(scope="module")
def trained():
    inputs, labels, holdout = _pairs()
    body = train_body(inputs, labels, exclusive=True, holdout=holdout, options=FAST, codes=["food", "sport"])
    return body, inputs, labels, holdout


def test_pair_input_round_trips_and_keeps_the_last_context_words():
    value = pair_input("yes  I\nthink so", "client", "one two three four five", "therapist", context_words=3)
    assert value == "therapist: three four five\x1eclient: yes I think so"
    assert split_input(value) == ("therapist: three four five", "client: yes I think so")
    assert split_input(unit_input("fine", None)) == (None, "fine")
    assert pair_input("fine", "client", "", "therapist") == unit_input("fine", "client") == "client: fine"
    # a separator typed into a transcript cannot shift the split
    assert split_input(pair_input("a\x1eb", None, "c\x1ed", None)) == ("c d", "a b")


def test_options_round_trip_and_reject_unknown_keys():
    options = FineTuneOptions(tuned_layers=3, max_minutes=2.5)
    assert FineTuneOptions.from_dict(options.as_dict()) == options
    with pytest.raises(ValueError, match="unknown fine-tuning options"):
        FineTuneOptions.from_dict({"epochs": 1, "epoch": 2})


def test_the_pair_model_learns_a_code_that_only_the_context_shows(trained):
    body, inputs, labels, holdout = trained
    probabilities = body.predict_proba(inputs)
    assert probabilities.shape == (40, 2) and np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    accuracy = (probabilities.argmax(axis=1) == labels.argmax(axis=1))[holdout].mean()
    assert accuracy >= 0.9
    # the unit alone is one string for every row: no model of it can beat chance on this balanced holdout
    assert len({unit_input(UNIT, "client") for _ in inputs}) == 1
    assert body.codes == ["food", "sport"] and body.examples == 30 and body.best_epoch in (1, 2, 3)
    assert [h["epoch"] for h in body.history] == [1, 2, 3] and all(h["holdout_loss"] is not None for h in body.history)
    vectors = body.encoder().encode(inputs[:4])
    assert vectors.dtype == np.float32 and vectors.shape == (4, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)


def test_saved_body_loads_to_identical_vectors_and_probabilities(trained, tmp_path):
    body, inputs, _, _ = trained
    entry = body.save(tmp_path)
    assert (tmp_path / "body.safetensors").stat().st_size == entry["bytes"]
    assert entry["tensors"] == sorted(entry["tensors"]) and "head.1.weight" in entry["tensors"]
    assert all(name.startswith(("head.", "body.encoder.layer.5.")) for name in entry["tensors"])  # only the top layer
    loaded = TunedBody.load(tmp_path, entry)
    assert loaded.encoder().id == body.encoder().id == f"finetuned:{entry['sha256'][:16]}"
    assert np.array_equal(loaded.encoder().encode(inputs), body.encoder().encode(inputs))
    assert np.array_equal(loaded.predict_proba(inputs), body.predict_proba(inputs))
    assert loaded.codes == body.codes and loaded.options == body.options and loaded.history == body.history


def test_a_tampered_body_file_is_refused_in_one_line(trained, tmp_path):
    body, _, _, _ = trained
    entry = body.save(tmp_path)
    path = tmp_path / "body.safetensors"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError) as caught:
        TunedBody.load(tmp_path, entry)
    assert str(path) in str(caught.value) and "sha256" in str(caught.value) and "\n" not in str(caught.value)


def test_a_body_tuned_from_another_base_encoder_is_refused(trained, tmp_path):
    body, _, _, _ = trained
    entry = body.save(tmp_path)
    with pytest.raises(ModelError, match="tuned from base encoder all-MiniLM-L6-v2@sha256:0000") as caught:
        TunedBody.load(tmp_path, {**entry, "base_encoder": "all-MiniLM-L6-v2@sha256:0000000000000000"})
    assert str(tmp_path / "body.safetensors") in str(caught.value)


def test_a_tiny_time_budget_stops_early_with_a_usable_body():
    inputs, labels, _ = _pairs()
    seen = []
    body = train_body(inputs, labels, exclusive=True, options=FineTuneOptions(**{**FAST.as_dict(), "max_minutes": 0.0}),
                      progress=seen.append)
    assert body.stopped_early and body.best_epoch == 0 and body.history == []
    assert seen[-1]["step"] == 1 and seen[-1]["steps"] == 15 and seen[-1]["eta"] == 0.0
    assert np.isfinite(body.predict_proba(inputs[:3])).all()


def test_the_same_seed_gives_the_same_saved_weights(tmp_path):
    inputs, labels, _ = _pairs()
    options = FineTuneOptions(**{**FAST.as_dict(), "epochs": 1})
    first = train_body(inputs[:16], labels[:16], exclusive=True, options=options).save(tmp_path / "a")
    second = train_body(inputs[:16], labels[:16], exclusive=True, options=options).save(tmp_path / "b")
    assert first["sha256"] == second["sha256"]
    assert (tmp_path / "a" / "body.safetensors").read_bytes() == (tmp_path / "b" / "body.safetensors").read_bytes()


def test_unknown_labels_add_no_loss_and_no_gradient():
    import torch

    logits = torch.tensor([[2.0, -1.0], [0.5, 3.0]], requires_grad=True)
    labels = torch.tensor([[1.0, -1.0], [0.0, -1.0]])  # the -1 entries' logits would contradict any target
    loss = masked_bce(logits, labels)
    loss.backward()
    known = torch.nn.functional.binary_cross_entropy_with_logits(logits[:, 0], torch.tensor([1.0, 0.0]))
    assert torch.isclose(loss, known)
    assert logits.grad[:, 1].abs().sum() == 0 and logits.grad[:, 0].abs().sum() > 0


def test_multi_label_training_uses_rejections_and_skips_unknowns():
    inputs, exclusive_labels, holdout = _pairs()
    labels = exclusive_labels.copy()
    labels[::4, 1] = -1  # unknown whether these units have the second code
    labels[:4] = -1  # nothing known: not a training example
    body = train_body(inputs, labels, exclusive=False, holdout=holdout, options=FAST)
    assert body.examples == int(((labels >= 0).any(axis=1) & ~holdout).sum()) == 26
    probabilities = body.predict_proba(inputs)
    assert probabilities.shape == (40, 2) and ((probabilities > 0) & (probabilities < 1)).all()
    food = probabilities[holdout & (exclusive_labels[:, 0] == 1), 0]
    sport = probabilities[holdout & (exclusive_labels[:, 1] == 1), 0]
    assert food.min() > sport.max()  # the first code's rejections on sport talk were learnt


def test_no_coded_unit_is_a_one_line_error():
    inputs, labels, _ = _pairs()
    with pytest.raises(ModelError, match="none of the 40 units"):
        train_body(inputs, np.full_like(labels, -1), exclusive=False, options=FAST)


def test_caching_the_frozen_bottom_trains_the_same_network(monkeypatch):
    inputs, labels, _ = _pairs()
    options = FineTuneOptions(**{**FAST.as_dict(), "epochs": 1})
    cached = train_body(inputs[:16], labels[:16], exclusive=True, options=options)
    monkeypatch.setattr("qcassist.finetune.training.CACHE_LIMIT_BYTES", 0)  # recompute the bottom every batch
    recomputed = train_body(inputs[:16], labels[:16], exclusive=True, options=options)
    assert np.allclose(cached.predict_proba(inputs), recomputed.predict_proba(inputs), atol=1e-4)
    assert cached.history[0]["train_loss"] == pytest.approx(recomputed.history[0]["train_loss"], abs=1e-5)
