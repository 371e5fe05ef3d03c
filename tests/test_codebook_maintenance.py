"""Codebook maintenance: rename, merge, remove and move codes, with what was made with them."""

from __future__ import annotations

import json
import sqlite3

import pytest

from qcassist.cli import main
from qcassist.codebook_edit import merge_codes, move_code, remove_code, rename_code
from qcassist.decisions import decide, undo_last
from qcassist.errors import QcaError
from qcassist.model import Code, Codebook, Coding, Condensate, Suggestion
from qcassist.project import import_files, segment_project
from qcassist.segment import SegmentOptions
from qcassist.store import Store
from tests.conftest import dump_database

BOOK = Codebook((
    Code("relations"), Code("trust", "relations"), Code("distrust", "relations"),
    Code("practical"), Code("money", "practical"), Code("access", "practical"),
))


@pytest.fixture
def coded(project, six_turns_file):
    """Six sentence units; anna coded unit 1 'trust' and 'distrust', unit 2 'money'; model v1 suggested for units 3-5."""
    with Store.open(project) as store:
        import_files(store, [six_turns_file])
        segment_project(store, options=SegmentOptions(strategy="sentence"))
        store.save_codebook(BOOK)
        ids = [u.id for u in store.units()]
        store.add_codings([Coding(ids[0], "trust", "anna", "human"), Coding(ids[0], "distrust", "anna", "human"),
                           Coding(ids[1], "money", "anna", "human")])
        store.add_classifier("v1", "test", {"examples_per_code": {"trust": 1, "distrust": 1, "money": 1}})
        store.replace_suggestions([
            Suggestion(ids[2], "trust", 0.4, "v1", "classifier"), Suggestion(ids[2], "distrust", 0.7, "v1", "classifier"),
            Suggestion(ids[3], "distrust", 0.6, "v1", "classifier"), Suggestion(ids[4], "access", 0.5, "v1", "classifier"),
        ], ids)
        store.save_condensate(Condensate("relations", "We met people who listened."))
    return project, ids


def _codes_of(store, unit_id):
    return sorted((c.coder, c.code) for c in store.codings() if c.unit_id == unit_id)


def test_rename_carries_codings_suggestions_children_and_condensate(coded):
    project, ids = coded
    with Store.open(project) as store:
        edit = rename_code(store, "relations", "relationships")
        rename_code(store, "trust", "confidence")
        book = store.codebook()
        assert [c.name for c in book.codes] == ["relationships", "confidence", "distrust", "practical", "money", "access"]
        assert book.get("confidence").parent == "relationships"
        assert _codes_of(store, ids[0]) == [("anna", "confidence"), ("anna", "distrust")]
        assert {(s.unit_id, s.code) for s in store.suggestions()} >= {(ids[2], "confidence")}
        assert set(store.condensates()) == {"relationships"}
    assert edit.change == "rename" and edit.into == "relationships"


def test_rename_keeps_decision_rows_as_recorded_but_reads_them_through_the_rename(coded):
    project, ids = coded
    with Store.open(project) as store:
        trust = next(s for s in store.suggestions() if s.unit_id == ids[2] and s.code == "trust")
        decide(store, ids[2], "reject", coder="bo", suggestion=trust)
        rename_code(store, "trust", "confidence")
        assert store.negatives() == {(ids[2], "confidence")}
        assert [d.suggested_code for d in store.decisions()] == ["confidence"]
        # a new code with the old name is a different code: decisions made after the rename keep it
        store.save_codebook(Codebook((*store.codebook().codes, Code("trust", "relations"))))
        store.replace_suggestions([Suggestion(ids[3], "trust", 0.5, "v1", "classifier")], [ids[3]])
        new_trust = next(s for s in store.suggestions() if s.unit_id == ids[3])
        decide(store, ids[3], "reject", coder="bo", suggestion=new_trust)
        assert store.negatives() == {(ids[2], "confidence"), (ids[3], "trust")}
    raw = sqlite3.connect(project / "qcassist.db").execute("SELECT suggested_code FROM decisions ORDER BY id").fetchall()
    assert raw == [("trust",), ("trust",)]


def test_rename_onto_an_existing_code_is_refused_with_the_merge_command(coded):
    project, _ = coded
    before = dump_database(project)
    with Store.open(project) as store, pytest.raises(QcaError) as info:
        rename_code(store, "trust", "money")
    assert "qcassist codebook merge trust --into money" in str(info.value)
    assert dump_database(project) == before


def test_unknown_code_names_the_closest_one(coded):
    project, _ = coded
    with Store.open(project) as store, pytest.raises(QcaError, match="unknown code 'trsut'. Did you mean 'trust'?"):
        rename_code(store, "trsut", "confidence")


def test_merge_keeps_a_unit_coded_with_both_once_and_the_likelier_suggestion(coded):
    project, ids = coded
    with Store.open(project) as store:
        edit = merge_codes(store, ["distrust"], "trust")
        assert _codes_of(store, ids[0]) == [("anna", "trust")]
        suggestions = {(s.unit_id, s.code): s.probability for s in store.suggestions()}
        assert suggestions[(ids[2], "trust")] == 0.7 and suggestions[(ids[3], "trust")] == 0.6
        assert store.codebook().get("distrust") is None
    assert (edit.codings_moved, edit.codings_merged, edit.suggestions) == (0, 1, 2)
    assert edit.stale_model == "v1"


def test_merge_of_similarity_suggestions_keeps_the_higher_score_and_a_probability_over_a_score(coded):
    # two exemplar suggestions (score, no probability) for one unit crashed the merge comparing None >= None
    project, ids = coded
    with Store.open(project) as store:
        store.replace_suggestions([
            Suggestion(ids[2], "money", None, "v1", "exemplar", score=0.4),
            Suggestion(ids[2], "access", None, "v1", "exemplar", score=0.6),
            Suggestion(ids[3], "money", 0.3, "v1", "classifier"),
            Suggestion(ids[3], "access", None, "v1", "exemplar", score=0.9),
        ], ids)
        merge_codes(store, ["money"], "access")
        kept = {s.unit_id: (s.probability, s.score) for s in store.suggestions()}
    assert kept == {ids[2]: (None, 0.6), ids[3]: (0.3, None)}


def test_merge_into_a_code_under_another_parent_and_rejections_follow(coded):
    project, ids = coded
    with Store.open(project) as store:
        distrust = next(s for s in store.suggestions() if s.unit_id == ids[3])
        decide(store, ids[3], "reject", coder="bo", suggestion=distrust)
        accept = next(s for s in store.suggestions() if s.unit_id == ids[2] and s.code == "distrust")
        decide(store, ids[2], "accept", coder="bo", suggestion=accept)
        merge_codes(store, ["distrust"], "access")
        assert store.negatives() == {(ids[3], "access")}
        assert ("bo", "access") in _codes_of(store, ids[2])
        # undo still takes back the coding its decision made
        undo_last(store, coder="bo")
        assert ("bo", "access") not in _codes_of(store, ids[2])


def test_merge_joins_condensates_and_moves_child_codes(coded):
    project, _ = coded
    with Store.open(project) as store:
        store.save_condensate(Condensate("practical", "Money and buses mattered."))
        edit = merge_codes(store, ["practical"], "relations")
        assert store.condensates()["relations"].text == "We met people who listened.\n\nMoney and buses mattered."
        assert store.codebook().get("money").parent == "relations"
    assert edit.children_moved == ("money", "access")


def test_merge_into_its_own_descendant_or_itself_is_refused(coded):
    project, _ = coded
    before = dump_database(project)
    with Store.open(project) as store:
        with pytest.raises(QcaError, match="sits under it"):
            merge_codes(store, ["relations"], "trust")
        with pytest.raises(QcaError, match="into itself"):
            merge_codes(store, ["trust"], "trust")
        with pytest.raises(QcaError, match="is a group"):
            merge_codes(store, ["money"], "relations")
        with pytest.raises(QcaError, match="""rename one of them first: 'qcassist codebook rename money "money matters"'"""):
            merge_codes(store, ["money", "access"], "money matters")
    assert dump_database(project) == before


def test_remove_a_coded_code_needs_drop_codings(coded):
    project, ids = coded
    before = dump_database(project)
    with Store.open(project) as store:
        with pytest.raises(QcaError, match="'trust' has 1 coding; pass --drop-codings"):
            remove_code(store, "trust")
        with pytest.raises(QcaError, match="holds 2 codes"):
            remove_code(store, "relations")
    assert dump_database(project) == before
    with Store.open(project) as store:
        edit = remove_code(store, "trust", drop_codings=True)
        assert _codes_of(store, ids[0]) == [("anna", "distrust")]
        assert all(s.code != "trust" for s in store.suggestions())
        remove_code(store, "access")  # no codings: no flag needed
    assert (edit.codings_dropped, edit.suggestions) == (1, 1)


def test_move_under_another_group_or_to_the_top(coded):
    project, _ = coded
    with Store.open(project) as store:
        move_code(store, "money", under="relations")
        assert [c.name for c in store.codebook().codes] == ["relations", "trust", "distrust", "money", "practical", "access"]
        move_code(store, "money", under=None)
        assert store.codebook().get("money").parent is None
        assert store.code_changes()[-1]["change"] == "move"


def test_move_under_itself_or_its_descendant_is_refused(coded):
    project, _ = coded
    before = dump_database(project)
    with Store.open(project) as store:
        with pytest.raises(QcaError, match="under 'trust', which sits under it"):
            move_code(store, "relations", under="trust")
        with pytest.raises(QcaError, match="under itself"):
            move_code(store, "relations", under="relations")
        with pytest.raises(QcaError, match="has 1 coding;"):
            move_code(store, "access", under="money")
    assert dump_database(project) == before


def test_cli_rename_merge_remove_move(runner, coded):
    project, _ = coded
    p = ["-p", str(project)]
    result = runner.invoke(main, ["codebook", "rename", *p, "trust", "confidence"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "Renamed 'trust' to 'confidence': 1 coding carried over; 1 suggestion carried over."
    assert "run 'qcassist train' before 'qcassist suggest'" in result.output
    result = runner.invoke(main, ["codebook", "merge", *p, "distrust", "--into", "confidence", "--json"])
    assert json.loads(result.output)["codings_merged"] == 1
    result = runner.invoke(main, ["codebook", "move", *p, "access"])
    assert result.exit_code == 2 and result.output == "Error: say where to: --under GROUP or --top.\n"
    assert runner.invoke(main, ["codebook", "move", *p, "access", "--top"]).exit_code == 0
    result = runner.invoke(main, ["codebook", "remove", *p, "mony"])
    assert result.exit_code == 2 and result.output == "Error: unknown code 'mony'. Did you mean 'money'?\n"
    result = runner.invoke(main, ["codebook", "remove", *p, "money"])
    assert result.exit_code == 2 and result.output.count("\n") == 1 and "--drop-codings" in result.output


@pytest.mark.usefixtures("fake_encoder")
def test_suggest_with_a_model_older_than_a_rename_asks_to_train_again(store, tmp_path):
    from qcassist.ingest.coded import CodedColumns
    from qcassist.seed import import_coded
    from qcassist.suggest import ModelError, suggest, train
    from tests.conftest import coded_rows, write_coded_csv

    rows = coded_rows(n_transcripts=3, per_code=4)
    for row in rows[::5]:
        row["code"] = ""
    write_coded_csv(tmp_path / "seed.csv", rows)
    import_coded(store, tmp_path / "seed.csv", coder="anna", columns=CodedColumns(order="order"))
    version = train(store).version
    edit = rename_code(store, "money", "finances")
    assert edit.stale_model == version
    with pytest.raises(ModelError, match=r"no longer has to assign \(money\); run 'qcassist train' again"):
        suggest(store)
    train(store)
    assert {s.code for s in store.suggestions()} <= {"trust", "finances", "access"}
    assert suggest(store).suggestions > 0


@pytest.mark.parametrize("command", ["rename", "merge", "remove", "move"])
def test_every_codebook_command_has_help(runner, command):
    result = runner.invoke(main, ["codebook", command, "--help"])
    assert result.exit_code == 0 and "--project" in result.output and "--json" in result.output


def test_each_decision_follows_only_the_changes_made_after_it(coded):
    project, ids = coded
    with Store.open(project) as store:
        first = next(s for s in store.suggestions() if s.unit_id == ids[2] and s.code == "trust")
        decide(store, ids[2], "reject", coder="bo", suggestion=first)
        rename_code(store, "trust", "confidence")
        store.save_codebook(Codebook((*store.codebook().codes, Code("trust", "relations"))))
        store.replace_suggestions([Suggestion(ids[3], "trust", 0.5, "v1", "classifier")], [ids[3]])
        second = next(s for s in store.suggestions() if s.unit_id == ids[3])
        decide(store, ids[3], "reject", coder="bo", suggestion=second)
        rename_code(store, "trust", "belief")  # the new 'trust' only
        merge_codes(store, ["confidence"], "distrust")
        assert [d.suggested_code for d in store.decisions()] == ["distrust", "belief"]
        assert store.negatives() == {(ids[2], "distrust"), (ids[3], "belief")}
        assert [c["change"] for c in store.code_changes()] == ["rename", "rename", "merge"]
