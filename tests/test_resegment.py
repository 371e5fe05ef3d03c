"""Re-segmenting a reviewed project: review decisions and their codings move with their units."""

from __future__ import annotations

import json

import pytest

from qcassist.adjudication import adjudicate, disagreements
from qcassist.cli import main
from qcassist.decisions import decide
from qcassist.errors import ConflictError
from qcassist.model import Code, Codebook, Coding, Suggestion
from qcassist.project import import_files, segment_project
from qcassist.segment import SegmentOptions
from qcassist.store import Store
from tests.conftest import dump_database

SENTENCES = SegmentOptions(strategy="sentence")
TURNS = SegmentOptions(strategy="turn")


def _unit_with(store, words: str):
    transcript = store.transcripts()[0]
    return next(u for u in store.units() if words in u.text_in(transcript))


def _reviewed(store, six_turns_file):
    """Sentence units with one accepted, one rejected, one recoded and one adjudicated unit."""
    import_files(store, [six_turns_file])
    segment_project(store, options=SENTENCES)
    store.save_codebook(Codebook((Code("trust"), Code("money"), Code("access"))))
    store.add_classifier("m1", "test-hash-64", {})
    units = {key: _unit_with(store, words) for key, words in
             (("accept", "doctor sent"), ("reject", "did not expect"), ("recode", "nurse listened"),
              ("adjudicate", "money problems"), ("cited", "every week"))}
    suggestions = [Suggestion(units[k].id, code, 0.8, "m1", rationale=(units["cited"].id,))
                   for k, code in (("accept", "access"), ("reject", "trust"), ("recode", "money"))]
    store.replace_suggestions(suggestions, [s.unit_id for s in suggestions])
    by_unit = {s.unit_id: s for s in store.suggestions()}
    decide(store, units["accept"].id, "accept", coder="anna", suggestion=by_unit[units["accept"].id])
    decide(store, units["reject"].id, "reject", coder="anna", suggestion=by_unit[units["reject"].id])
    decide(store, units["recode"].id, "recode", coder="anna", suggestion=by_unit[units["recode"].id], codes=["trust"])
    store.add_coding(Coding(units["cited"].id, "trust", "ben"))
    store.add_coding(Coding(units["adjudicate"].id, "money", "anna"))
    store.add_coding(Coding(units["adjudicate"].id, "access", "ben"))
    [disagreement] = [d for d in disagreements(store, ["anna", "ben"]) if d.unit_id == units["adjudicate"].id]
    adjudicate(store, disagreement, ["money"])
    return units


def _current(store) -> dict[tuple[str, str], str]:
    """(coder, code) → the text of the unit now carrying that coding."""
    transcript = store.transcripts()[0]
    units = {u.id: u for u in store.units()}
    return {(c.coder, c.code): units[c.unit_id].text_in(transcript) for c in store.codings()}


def test_resegmenting_moves_accepted_rejected_recoded_and_adjudicated_decisions(store, six_turns_file):
    units = _reviewed(store, six_turns_file)
    decisions_before = store.decisions()
    report = segment_project(store, options=TURNS, resegment=True)
    assert report.segmented == {"six_turns": 3} and report.moved_decisions == len(decisions_before) == 4
    new_units = {u.id: u for u in store.units()}
    transcript = store.transcripts()[0]
    after = store.decisions()
    assert [(d.id, d.action, d.coder, d.final_codes) for d in after] == \
        [(d.id, d.action, d.coder, d.final_codes) for d in decisions_before]
    for before, now in zip(decisions_before, after):
        old = next(u for u in units.values() if u.id == before.unit_id)
        new = new_units[now.unit_id]
        assert new.start <= old.start and old.end <= new.end  # the turn that held the sentence
    current = _current(store)
    assert "doctor sent" in current[("anna", "access")]
    assert "nurse listened" in current[("anna", "trust")] and "money problems" in current[("adjudicated", "money")]
    rejected = next(d for d in after if d.action == "reject")
    # the recode's negative ('money') now shares a turn with the adjudicated 'money' coding, which wins
    assert store.negatives() == {(rejected.unit_id, "trust")}
    made = store.coding_decisions()
    assert {made[c.id] for c in store.codings() if c.id in made} == {d.id for d in after if d.final_codes}
    assert all(c.unit_id in new_units for c in store.codings())
    assert transcript.text  # the transcript itself is untouched


def test_resegmenting_back_and_forth_keeps_every_decision(store, six_turns_file):
    _reviewed(store, six_turns_file)
    segment_project(store, options=TURNS, resegment=True)
    segment_project(store, options=SENTENCES, resegment=True)
    assert len(store.decisions()) == 4
    # back to sentences, the coding goes to the longer sentence of its turn (the larger overlap)
    assert _current(store)[("anna", "access")] == "I did not expect much at first."


def test_suggestion_rationales_follow_the_units_they_cite(store, six_turns_file, tmp_path):
    units = _reviewed(store, six_turns_file)
    other = tmp_path / "other.txt"
    other.write_text("Interviewer: And the bus?\nP1: The bus was late again and again.\n", encoding="utf-8")
    import_files(store, [other])
    segment_project(store, options=TURNS, transcripts=["other"])
    elsewhere = store.units(store.transcript_by_name("other").id)[0]
    store.replace_suggestions([Suggestion(elsewhere.id, "trust", 0.7, "m1", rationale=(units["cited"].id,))], [elsewhere.id])
    segment_project(store, options=TURNS, transcripts=["six_turns"], resegment=True)
    [kept] = [s for s in store.suggestions() if s.unit_id == elsewhere.id]
    cited = {u.id: u for u in store.units()}[kept.rationale[0]]
    assert "every week" in cited.text_in(store.transcripts()[0])


def test_a_decision_that_would_lose_its_unit_refuses_and_names_it(project, six_turns_file):
    with Store.open(project) as store:
        import_files(store, [six_turns_file])
        segment_project(store, options=SegmentOptions(strategy="turn", roles=("participant", "interviewer")))
        store.save_codebook(Codebook((Code("question"),)))
        decide(store, store.units()[0].id, "add", coder="anna", codes=["question"])
        decide(store, store.units()[2].id, "skip", coder="anna")
    before = dump_database(project)
    with Store.open(project) as store, pytest.raises(ConflictError) as info:
        segment_project(store, options=TURNS, resegment=True)
    message = str(info.value)
    assert "\n" not in message and "would have no unit" in message
    assert "coding 'question' by anna" in message and "(add by anna)" in message and "(skip by anna)" in message
    assert dump_database(project) == before


def test_cli_resegment_of_a_reviewed_project(runner, project, six_turns_file):
    with Store.open(project) as store:
        _reviewed(store, six_turns_file)
    result = runner.invoke(main, ["segment", "-p", str(project), "--strategy", "turn", "--resegment", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["moved_decisions"] == 4


def test_a_condensates_chosen_quotation_follows_its_unit(store, six_turns_file):
    from qcassist.model import Condensate

    units = _reviewed(store, six_turns_file)
    store.save_condensate(Condensate("trust", "We were heard.", units["cited"].id))
    segment_project(store, options=TURNS, resegment=True)
    quote = store.condensates()["trust"].quote_unit
    assert "every week" in {u.id: u for u in store.units()}[quote].text_in(store.transcripts()[0])


def test_suggest_refuses_a_model_trained_on_units_re_cut_since(store, six_turns_file, fake_encoder):
    # seen on QMSum meetings: after --resegment, suggest cited rationale units 11, 742, 678 where the project's
    # units were now 974-2105, and agree could no longer tell that the model's figures were in-sample
    from qcassist.saved_model import ModelError
    from qcassist.suggest import suggest, train

    import_files(store, [six_turns_file])
    segment_project(store, options=SENTENCES)
    store.save_codebook(Codebook((Code("trust"), Code("money"))))
    for words, code in (("doctor sent", "trust"), ("nurse listened", "trust"), ("money problems", "money"),
                        ("hope now", "money")):
        store.add_coding(Coding(_unit_with(store, words).id, code, "anna"))
    train(store)
    segment_project(store, options=TURNS, resegment=True)
    before = store.suggestions()
    with pytest.raises(ModelError, match=r"trained on 4 unit\(s\) that have since been re-cut or removed.*qcassist train"):
        suggest(store)
    assert store.suggestions() == before
    train(store)
    unit_ids = {u.id for u in store.units()}
    suggest(store, include_coded=True)
    assert store.suggestions() and all(set(s.rationale) <= unit_ids for s in store.suggestions())
