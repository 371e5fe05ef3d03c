"""Commands besides the pipeline read what their result needs, not the whole corpus (issue 13, item 2).

The review queue, decision files and exports, the condensation sheet, disagreements, speakers and the
units listing once read every transcript's text (and every unit) of the project to use a few of them.
Each test here gives the same answer as the whole-corpus reads did (the old code, kept below as a
reference) and runs with those reads made impossible.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from qcassist.adjudication import disagreements
from qcassist.cli import main
from qcassist.condense import condense
from qcassist.decisions import (
    QueueFilter, _items, _model_view, apply_decisions_file, decide, decided_suggestions, decision_rows, review_queue,
)
from qcassist.exports import coding_rows, filtered_decision_rows
from qcassist.ingest.coded import CodedColumns
from qcassist.model import Coding
from qcassist.project import unit_rows
from qcassist.review.context import context_turns, unit_context
from qcassist.decisions import ReviewItem
from qcassist.seed import import_coded
from qcassist.speakers import speaker_rows
from qcassist.store import Store
from qcassist.suggest import load_latest_model, project_units, suggest, train, unit_vectors
from tests.conftest import coded_rows, write_coded_csv


N_UNITS = len(coded_rows(n_transcripts=6, per_code=4))


@pytest.fixture
def suggested(tmp_path):
    """Six transcripts coded by 'seed', two thirds of them by 'bo' too (some differently), a TF-IDF model with
    suggestions on every third unit, and two decisions by 'carl'."""
    rows = coded_rows(n_transcripts=6, per_code=4)
    for row in rows[::3]:
        row["code"] = ""
    seed_csv = tmp_path / "seed.csv"
    write_coded_csv(seed_csv, rows)
    directory = tmp_path / "p"
    with Store.create(directory) as store:
        import_coded(store, seed_csv, coder="seed", columns=CodedColumns(order="order"))
        codes = [c.name for c in store.codebook().leaves]
        seed = store.codings(coders=["seed"])
        store.add_codings([Coding(c.unit_id, codes[(codes.index(c.code) + 1) % len(codes)] if i % 4 == 0 else c.code, "bo")
                           for i, c in enumerate(seed) if i % 3])
        train(store, encoder="tfidf", coders=["seed"])  # bo differs: the codebook is exclusive
        suggest(store)
        queue = review_queue(store, coder="carl", strategy="sequential")
        decide(store, queue[0].unit_id, "accept", coder="carl", suggestion=queue[0].top)
        decide(store, queue[-1].unit_id, "reject", coder="carl", suggestion=queue[-1].top)
    return directory


# --- the old whole-corpus reads, as a reference -------------------------------------


def items_as_before(store, by_unit, transcripts, decided, coder) -> list[ReviewItem]:
    codes: dict[int, set[str]] = defaultdict(set)
    for coding in store.codings(coders=[coder]):
        codes[coding.unit_id].add(coding.code)
    items = []
    for transcript in store.transcripts():
        if transcripts and transcript.name not in transcripts:
            continue
        around = context_turns(transcript)
        for order, unit in enumerate(store.units(transcript.id), start=1):
            if unit.id in by_unit:
                suggestions = tuple(sorted(by_unit[unit.id], key=lambda s: (-s.strength, s.code)))
                items.append(ReviewItem(unit.id, transcript.name, order, unit.speaker, unit.text_in(transcript),
                                        unit_context(transcript, unit, around=around), suggestions,
                                        decided.get(unit.id, {}), tuple(sorted(codes[unit.id]))))
    wanted = {unit_id for item in items for s in item.suggestions for unit_id in s.rationale}
    texts = {t.id: t.text for t in store.transcripts()}
    found = {u.id: texts[u.transcript_id][u.start:u.end] for u in store.units() if u.id in wanted}
    for item in items:
        for suggestion in item.suggestions:
            for unit_id in suggestion.rationale:
                if unit_id in found:
                    item.rationale_texts[unit_id] = found[unit_id]
    return items


def model_view_as_before(store, unit_ids):
    model = load_latest_model(store)
    units = {u.id: u for u in project_units(store) if u.id in set(unit_ids)}
    rows = [units[i] for i in unit_ids]
    embeddings = unit_vectors(store, model, rows)
    features = model.features.transform(embeddings, [u.text for u in rows], [u.context for u in rows],
                                        [u.following for u in rows])
    return model.classifier.predict_proba(features), embeddings


def decision_rows_as_before(store) -> list[dict]:
    info = {}
    for transcript in store.transcripts():
        for unit in store.units(transcript.id):
            info[unit.id] = (transcript.name, unit.external_id)
    rows = decision_rows(store)
    return [{**row, "external_id": info[row["unit_id"]][1], "transcript": info[row["unit_id"]][0]} for row in rows]


def coding_rows_as_before(store, transcripts) -> list[dict]:
    chosen = [t for t in store.transcripts() if not transcripts or t.name in transcripts]
    book, decisions = store.codebook(), store.coding_decisions()
    rows = []
    for transcript in chosen:
        units = {u.id: u for u in store.units(transcript.id)}
        spans = {c.id: (c.start, c.end) if c.start is not None else (units[c.unit_id].start, units[c.unit_id].end)
                 for c in store.codings(transcript.id)}
        for coding in sorted(store.codings(transcript.id), key=lambda c: (spans[c.id][0], units[c.unit_id].start, c.id)):
            unit, (start, end) = units[coding.unit_id], spans[coding.id]
            rows.append({"coding_id": coding.id, "unit_id": unit.id, "external_id": unit.external_id,
                         "transcript": transcript.name, "speaker": unit.speaker, "start": start, "end": end,
                         "text": transcript.text[start:end], "code": coding.code,
                         "code_path": " > ".join(book.path(coding.code)), "coder": coding.coder,
                         "origin": coding.origin, "created_at": coding.created_at,
                         "decision_id": decisions.get(coding.id)})
    return rows


def by_unit_of(store) -> dict[int, list]:
    found = defaultdict(list)
    for suggestion in store.suggestions():
        found[suggestion.unit_id].append(suggestion)
    return found


# --- the same answers --------------------------------------------------------------


@pytest.mark.parametrize("transcripts", [(), ("t1", "t4"), ("nobody",)])
def test_the_queue_items_are_those_of_the_whole_corpus_reads(suggested, transcripts):
    with Store.open(suggested) as store:
        by_unit, decided = by_unit_of(store), decided_suggestions(store, "carl")
        new = _items(store, by_unit, transcripts, decided, "carl")
        old = items_as_before(store, by_unit, transcripts, decided, "carl")
    assert new == old and [i.rationale_texts for i in new] == [i.rationale_texts for i in old]
    if not transcripts:
        assert len(new) > 10 and any(i.rationale_texts for i in new)
        assert len({i.transcript for i in new}) == 6


@pytest.mark.parametrize("block", [2048, 5])
def test_the_model_view_of_the_queue_is_that_of_every_unit(suggested, block, monkeypatch):
    monkeypatch.setattr("qcassist.decisions.MODEL_VIEW_BLOCK", block)  # probabilities a block of rows at a time
    with Store.open(suggested) as store:
        ids = [item.unit_id for item in review_queue(store, coder="carl", strategy="sequential")][::-1]
        probabilities, embeddings = _model_view(store, ids)
        old_probabilities, old_embeddings = model_view_as_before(store, ids)
    assert len(probabilities) == len(ids) == len(embeddings)
    assert np.array_equal(probabilities, old_probabilities) and np.array_equal(embeddings, old_embeddings)


def test_decision_rows_name_the_transcript_and_external_id_as_before(suggested):
    with Store.open(suggested) as store:
        rows = decision_rows(store)
        assert [r["action"] for r in rows] == ["accept", "reject"]
        assert rows == decision_rows_as_before(store)
        assert rows[0]["transcript"] != rows[1]["transcript"]


@pytest.mark.parametrize("transcripts", [(), ("t5", "t1")])
def test_coding_rows_are_those_of_the_whole_corpus_reads(suggested, transcripts):
    with Store.open(suggested) as store:
        rows = coding_rows(store, transcripts=transcripts)
        assert rows == coding_rows_as_before(store, transcripts)
        assert [r["transcript"] for r in rows][:1] == ["t1" if transcripts else "t0"] and len(rows) > 10


# --- without reading the whole corpus ----------------------------------------------


@pytest.fixture
def no_corpus_reads(monkeypatch):
    """Store.transcripts() and Store.units() of every transcript fail: a command must read what it needs."""
    whole_units = Store.units

    def units(self, transcript_id=None):
        if transcript_id is None:
            raise AssertionError("read every unit of the corpus")
        return whole_units(self, transcript_id)

    def transcripts(self):
        raise AssertionError("read every transcript of the corpus")

    monkeypatch.setattr(Store, "units", units)
    monkeypatch.setattr(Store, "transcripts", transcripts)


def test_review_and_decision_files_read_only_the_queue(suggested, tmp_path, no_corpus_reads):
    with Store.open(suggested) as store:
        diverse = review_queue(store, coder="carl", strategy="diverse")
        assert diverse and len(diverse) == len(review_queue(store, coder="carl", strategy="sequential"))
        one = review_queue(store, coder="carl", strategy="diverse", filters=QueueFilter(transcripts=("t2",)))
        assert one and {i.transcript for i in one} == {"t2"}
        path = tmp_path / "d.csv"
        path.write_text(f"unit_id,action\n{diverse[0].unit_id},accept\n", encoding="utf-8")
        assert apply_decisions_file(store, path, coder="dana").as_dict()["total"] == 1
        path.write_text("unit_id,action\n999999,accept\n", encoding="utf-8")
        with pytest.raises(Exception, match="no unit 999999"):
            apply_decisions_file(store, path, coder="dana")
        assert len(decision_rows(store)) == 3 and len(filtered_decision_rows(store, coders=["carl"])) == 2


def test_sheet_disagreements_speakers_and_units_read_no_whole_corpus(suggested, no_corpus_reads, monkeypatch):
    with Store.open(suggested) as store:
        assert len(unit_rows(store)) == N_UNITS and len(speaker_rows(store)) == 6
        assert len(coding_rows(store)) > len(coding_rows(store, coders=["bo"], transcripts=["t2"])) > 0
        sheet = condense(store)
        assert sum(len(s.passages) for s in sheet.sections) > 0 and sheet.participants == 6
    monkeypatch.undo()  # the agreement's alignment reads every unit (not their texts), as 'agree' does
    with Store.open(suggested) as store:
        expected = disagreements(store, ["seed", "bo"])
    no_transcripts = lambda self: (_ for _ in ()).throw(AssertionError("read every transcript"))  # noqa: E731
    monkeypatch.setattr(Store, "transcripts", no_transcripts)
    with Store.open(suggested) as store:
        assert disagreements(store, ["seed", "bo"]) == expected and len(expected) > 3


def test_cli_units_listing_streams_the_same_rows(suggested, runner, no_corpus_reads, tmp_path):
    result = runner.invoke(main, ["units", "-p", str(suggested), "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.output.count("\n") == 1 + N_UNITS
    table = runner.invoke(main, ["units", "-p", str(suggested)])
    assert table.exit_code == 0 and len(table.output.splitlines()) == N_UNITS
    refused = runner.invoke(main, ["units", "-p", str(suggested), "-o", str(tmp_path / "u.txt")])
    assert refused.exit_code == 2 and "--output needs --format csv or jsonl" in refused.output
