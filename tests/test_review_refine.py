"""review --refine: the full fine-tune in the review's background process, beside a reviewer recording decisions."""

from __future__ import annotations

import sys

import pytest

from qcassist.decisions import decide
from qcassist.ingest.coded import CodedColumns
from qcassist.seed import import_coded
from qcassist.store import Store
from qcassist.suggest import train
from tests import fake_finetune
from tests.conftest import coded_rows, write_coded_csv

pytestmark = pytest.mark.usefixtures("fake_encoder")


@pytest.fixture
def fake_tuning(monkeypatch):
    """qcassist.finetune is the model-free stand-in; its calls are recorded in fake_finetune.CALLS."""
    monkeypatch.setitem(sys.modules, "qcassist.finetune", fake_finetune.module())
    fake_finetune.CALLS.clear()
    return fake_finetune.CALLS


def _seed(store, tmp_path):
    rows = coded_rows(n_transcripts=5, per_code=6)
    for row in rows[::7]:
        row["code"] = ""  # left to review
    path = tmp_path / "seed.csv"
    write_coded_csv(path, rows)
    import_coded(store, path, coder="anna", columns=CodedColumns(order="order"))


def test_a_decision_recorded_while_the_fine_tuning_reads_its_data_is_left_for_the_next_round(
        store, tmp_path, fake_tuning, monkeypatch):
    import qcassist.training as training

    _seed(store, tmp_path)
    read = training.training_set
    late: list[int] = []
    seen: list[int] = []

    def read_then_review(*args, **kwargs):  # the reviewer decides right after the fine-tuning read the codings
        data = read(*args, **kwargs)
        seen.append(len(data.unit_ids))
        if not late:
            coded = set(data.unit_ids.tolist())
            late.append(next(u.id for t in store.transcripts() for u in store.units(t.id) if u.id not in coded))
            with Store.open(store.directory) as reviewer:
                decide(reviewer, late[0], "add", coder="ann", codes=("trust",))
        return data

    monkeypatch.setattr(training, "training_set", read_then_review)
    report = train(store, method="finetuned")
    assert report.method == "finetuned" and report.units == seen[0]  # the fine-tuning's data: the codings it read
    assert late[0] in read(store, None).unit_ids.tolist()  # the late decision is the next round's


def test_refine_fine_tunes_with_the_options_it_is_given(store, tmp_path, fake_tuning):
    from qcassist.decisions import QueueFilter
    from qcassist.review.retrain import retrain_and_queue

    _seed(store, tmp_path)
    retrain_and_queue(store.directory, "ann", "sequential", QueueFilter(), refine=True, finetune={"epochs": 1})
    assert [call["options"].epochs for call in fake_tuning] == [1]
    assert store.latest_classifier()[1]["method"] == "finetuned"
