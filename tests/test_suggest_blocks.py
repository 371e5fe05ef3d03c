"""Train and suggest read the corpus by transcripts and blocks (issue 13): the same results as reading it whole."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from qcassist.errors import ConflictError
from qcassist.ingest.coded import CodedColumns
from qcassist.model import Decision
from qcassist.seed import import_coded
from qcassist.store import Store
from qcassist.suggest import suggest, suggestion_rows, train
from qcassist.suggest_limits import SuggestLimits
from qcassist.training import HUMAN_ORIGINS, pair_inputs, project_units, training_set
from tests.conftest import HashEncoder, coded_rows, write_coded_csv

pytestmark = pytest.mark.usefixtures("fake_encoder")  # the model-free hash encoder, from conftest


def _seed(store, tmp_path, n_transcripts=6):
    """Six transcripts: t0-t3 mostly coded (every 5th unit left for the model), t4-t5 not coded at all."""
    rows = coded_rows(n_transcripts=n_transcripts, per_code=5)
    for i, row in enumerate(rows):
        if i % 5 == 0 or row["transcript"] in ("t4", "t5"):
            row["code"] = ""
    path = tmp_path / "seed.csv"
    write_coded_csv(path, rows)
    import_coded(store, path, coder="anna", columns=CodedColumns(order="order"))
    uncoded = [u for u in project_units(store) if u.transcript == "t5"]
    store.record_decision(Decision(uncoded[2].id, "reject", "bo", suggested_code="money"))  # a negative only


def _as_before(store, encoder, context_words):
    """training_set as it was built before: every unit of the corpus, then the coded and rejected ones kept."""
    leaves = [c.name for c in store.codebook().leaves]
    kept = {c.unit_id for c in store.codings() if c.origin in HUMAN_ORIGINS and c.code in leaves}
    kept |= {unit_id for unit_id, code in store.negatives() if code in leaves}
    units = [u for u in project_units(store) if u.id in kept]
    return units, encoder.encode([u.text for u in units]), pair_inputs(units, context_words)


def test_training_set_reads_only_the_coded_units_transcripts_and_is_what_the_whole_corpus_gave(store, tmp_path,
                                                                                               monkeypatch):
    _seed(store, tmp_path)
    encoder = HashEncoder()
    units, embeddings, inputs = _as_before(store, encoder, context_words=12)
    read = []
    original = Store.transcript
    monkeypatch.setattr(Store, "transcripts", lambda self: pytest.fail("training_set read every transcript"))
    monkeypatch.setattr(Store, "transcript", lambda self, i: read.append(i) or original(self, i))
    data = training_set(store, encoder, context_words=12)
    names = {t: original(store, t).name for t in read}
    assert sorted(names.values()) == ["t0", "t1", "t2", "t3", "t5"]  # t4: nothing coded or rejected there
    assert data.unit_ids.tolist() == [u.id for u in units] and data.texts == [u.text for u in units]
    assert data.contexts == [u.context for u in units] and data.following == [u.following for u in units]
    assert data.groups == [u.transcript for u in units] and data.inputs == inputs
    assert np.array_equal(data.embeddings, embeddings) and data.labels.shape == (len(units), 3)
    rejected = data.unit_ids.tolist().index(next(u.id for u in units if u.transcript == "t5"))
    assert data.labels[rejected].tolist() == [-1, 0, -1]  # rejected for money, unknown for the others


def _suggest_in_copy(project, tmp_path, name, **kwargs):
    copy = tmp_path / name
    shutil.copytree(project, copy)
    ticks = []
    with Store.open(copy) as store:
        report = suggest(store, progress=ticks.append, **kwargs)
        stored = [(s.unit_id, s.code, s.probability, s.score, s.model_version, s.source, s.rationale, s.id)
                  for s in store.suggestions()]
        return report.as_dict(), stored, suggestion_rows(store), store.setting("suggest.skipped_units"), ticks


@pytest.mark.parametrize("include_coded", [False, True])
def test_suggest_by_blocks_of_one_transcript_stores_and_reports_what_one_block_does(project, tmp_path, monkeypatch,
                                                                                   include_coded):
    with Store.open(project) as store:
        _seed(store, tmp_path)
        train(store)
    blocks = []
    import qcassist.suggest as module

    original = module.model_vectors
    monkeypatch.setattr(module, "model_vectors", lambda store, model, units, *a: blocks.append(
        sorted({u.transcript for u in units})) or original(store, model, units, *a))
    limits = SuggestLimits(cap_factor=0.5)  # tight caps: the cap needs every block's proposals
    whole = _suggest_in_copy(project, tmp_path, "whole", include_coded=include_coded, limits=limits)
    assert len(blocks) == 1
    blocks.clear()
    by_one = _suggest_in_copy(project, tmp_path, "by_one", include_coded=include_coded, limits=limits, block_units=1)
    assert blocks == [["t0"], ["t1"], ["t2"], ["t3"], ["t4"], ["t5"]]
    assert by_one == whole
    report, stored, _, skipped, ticks = whole
    assert report["capped"] and stored and ticks == ["t0", "t1", "t2", "t3", "t4", "t5"]
    assert report["units"] == (90 if include_coded else 4 * 3 + 2 * 15 - 1)  # the rejected unit counts as coded
    assert ('"units": []' in skipped) == include_coded


def test_a_unit_re_cut_while_a_later_block_is_judged_is_a_conflict_and_nothing_is_written(store, tmp_path, monkeypatch):
    _seed(store, tmp_path)
    train(store)
    import qcassist.suggest as module

    original = module.model_vectors

    def re_cut_t4_then_encode(store, model, units, *args):
        if units[0].transcript == "t5":  # t4 was judged in the block before: another command re-cuts it now
            t4 = store.transcript_by_name("t4")
            old = store.units(t4.id)
            store.replace_units(t4.id, old, store.segmentation(t4.id) or {}, moves={u.id: i for i, u in enumerate(old)})
        return original(store, model, units, *args)

    monkeypatch.setattr(module, "model_vectors", re_cut_t4_then_encode)
    with pytest.raises(ConflictError, match=r"re-cut or removed 15 of the units being judged \(transcript t4\)"):
        suggest(store, block_units=1)
    assert store.suggestions() == [] and store.setting("suggest.skipped_units") is None


def test_missing_unit_ids_names_the_absent_ids_in_order_across_chunks(store, tmp_path, monkeypatch):
    import qcassist.store_corpus as corpus

    _seed(store, tmp_path)
    monkeypatch.setattr(corpus, "ID_CHUNK", 7)
    ids = [u.id for u in store.units()]
    assert store.missing_unit_ids([10_000, *ids, -1, ids[0]]) == [10_000, -1]
