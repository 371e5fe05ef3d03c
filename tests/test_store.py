from __future__ import annotations

import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcassist.errors import ProjectError
from qcassist.model import Code, Codebook, Coding, MeaningUnit, Suggestion, Transcript, Turn
from qcassist.store import DB_NAME, SCHEMA_VERSION, Store


def _transcript(name="t1", text="Interviewer: Hi?\nP1: Hello there. Fine.\n"):
    turns = (Turn("Interviewer", "interviewer", 13, 16), Turn("P1", "participant", 21, 40, 1.5, 3.0))
    return Transcript(name, text, turns, "/x/t1.txt", "hash-" + name, {"format": "text"})


def test_new_project_uses_wal_foreign_keys_and_current_schema(project):
    with Store.open(project) as store:
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_create_is_idempotent(project):
    Store.create(project).close()
    with Store.open(project) as store:
        assert store.transcripts() == []


def test_opening_a_plain_directory_says_it_is_not_a_project(tmp_path):
    with pytest.raises(ProjectError, match="not a qcassist project"):
        Store.open(tmp_path)


def test_corrupt_database_is_reported_not_crashed(tmp_path):
    (tmp_path / DB_NAME).write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(ProjectError, match="not a readable qcassist database"):
        Store.open(tmp_path)


def test_database_from_a_newer_qcassist_is_refused(project):
    db = sqlite3.connect(project / DB_NAME)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    db.close()
    with pytest.raises(ProjectError, match="newer qcassist"):
        Store.open(project)


def test_foreign_sqlite_file_is_not_taken_for_a_project(tmp_path):
    db = sqlite3.connect(tmp_path / DB_NAME)
    db.execute("CREATE TABLE other (x)")
    db.close()
    with pytest.raises(ProjectError, match="no qcassist schema"):
        Store.open(tmp_path)


def test_transcript_round_trips_with_turns_and_metadata(store):
    stored = store.add_transcript(_transcript())
    assert stored.id is not None
    loaded = store.transcript(stored.id)
    assert loaded == stored
    assert loaded.turns == stored.turns
    assert loaded.metadata == {"format": "text"}
    assert store.transcript_by_name("t1") == stored


def test_failed_transaction_leaves_nothing_behind(store):
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.add_transcript(_transcript())
            raise RuntimeError("boom")
    assert store.transcripts() == []


def test_units_round_trip_and_codings_block_silent_deletion(store):
    t = store.add_transcript(_transcript())
    store.save_codebook(Codebook((Code("trust"),)))
    [unit] = store.replace_units(t.id, [MeaningUnit(t.id, 21, 33, 1, "P1")], {"strategy": "turn"})
    assert store.units(t.id) == [unit]
    assert unit.text_in(t) == "Hello there."
    store.add_coding(Coding(unit.id, "trust", "anna"))
    with pytest.raises(sqlite3.IntegrityError):
        store.replace_units(t.id, [MeaningUnit(t.id, 21, 40, 1, "P1")], {"strategy": "turn"})
    assert store.units(t.id) == [unit]  # the failed swap changed nothing


def test_replacing_units_moves_codings_and_merges_duplicates(store):
    t = store.add_transcript(_transcript())
    store.save_codebook(Codebook((Code("trust"),)))
    a, b = store.replace_units(
        t.id, [MeaningUnit(t.id, 21, 33, 1, "P1"), MeaningUnit(t.id, 34, 40, 1, "P1")], {"strategy": "sentence"}
    )
    first = store.add_coding(Coding(a.id, "trust", "anna"))
    second = store.add_coding(Coding(b.id, "trust", "anna"))
    [merged] = store.replace_units(t.id, [MeaningUnit(t.id, 21, 40, 1, "P1")], {"strategy": "turn"}, {first.id: 0, second.id: 0})
    [coding] = store.codings(t.id)
    assert (coding.unit_id, coding.code, coding.coder) == (merged.id, "trust", "anna")
    assert store.segmentation(t.id) == {"strategy": "turn"}


def test_codebook_keeps_hierarchy_and_order(store):
    codebook = Codebook((
        Code("Trust", None, "group"), Code("being seen", "Trust", "subgroup"), Code("listened to", "being seen"),
        Code("Barriers", None), Code("staff turnover", "Barriers"),
    ))
    store.save_codebook(codebook)
    loaded = store.codebook()
    assert loaded == codebook
    assert [c.name for c in loaded.leaves] == ["listened to", "staff turnover"]
    assert loaded.path("listened to") == ("Trust", "being seen", "listened to")


def test_codebook_with_a_cycle_is_rejected(store):
    with pytest.raises(ValueError, match="cycle"):
        store.save_codebook(Codebook((Code("a", "b"), Code("b", "a"))))
    assert store.codebook() == Codebook()


def test_coding_origin_is_constrained(store):
    t = store.add_transcript(_transcript())
    store.save_codebook(Codebook((Code("trust"),)))
    [unit] = store.replace_units(t.id, [MeaningUnit(t.id, 21, 33, 1, "P1")], {})
    with pytest.raises(sqlite3.IntegrityError):
        store.add_coding(Coding(unit.id, "trust", "anna", origin="guess"))  # type: ignore[arg-type]
    with pytest.raises(sqlite3.IntegrityError):
        store.add_coding(Coding(unit.id, "no-such-code", "anna"))


texts = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=200)


@settings(max_examples=60, deadline=None)
@given(text=texts, name=st.text(min_size=1, max_size=30), times=st.lists(st.one_of(st.none(), st.floats(0, 1e5)), min_size=2, max_size=2))
def test_store_round_trips_any_transcript(tmp_path_factory, text, name, times):
    directory = tmp_path_factory.mktemp("p")
    turns = (Turn("Speaker ø", "participant", 0, len(text), times[0], times[1]),)
    transcript = Transcript(name, text, turns, "src", "h", {"note": text[:10]})
    with Store.create(directory) as store:
        stored = store.add_transcript(transcript)
    with Store.open(directory) as store:
        assert store.transcript(stored.id) == stored
        assert store.transcript(stored.id).text == text


def _project_at_version(path, version, text="P1: hi there", unit=(4, 12)):
    """An open database left at schema ``version``, holding one transcript and one unit, as an older qcassist wrote it."""
    from qcassist import schema

    db = sqlite3.connect(path / DB_NAME, isolation_level=None)
    db.execute("PRAGMA foreign_keys = ON")
    for migration in schema.MIGRATIONS[:version]:
        migration(db)
    db.execute(f"PRAGMA user_version = {version}")
    db.execute("INSERT INTO transcripts (name, source_path, text, content_hash, imported_at) VALUES ('t', 's', ?, 'h', 'now')", (text,))
    db.execute("INSERT INTO units (transcript_id, start, \"end\") VALUES (1, ?, ?)", unit)
    return db


def test_a_version_1_project_is_migrated_with_its_data(tmp_path):
    _project_at_version(tmp_path, 1, text="P1: hi", unit=(4, 6)).close()
    with Store.open(tmp_path) as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        [unit] = store.units()
        assert (unit.start, unit.end, unit.external_id) == (4, 6, None)
        assert store.suggestions() == [] and store.latest_classifier() is None


def test_a_version_3_project_keeps_its_codings_and_decision_links_through_the_span_migration(tmp_path):
    db = _project_at_version(tmp_path, 3)
    db.execute("INSERT INTO codes (name, position) VALUES ('care', 0)")
    db.execute("INSERT INTO decisions (unit_id, action, coder, final_codes, created_at) VALUES (1, 'add', 'ann', '[\"care\"]', 'now')")
    db.execute("INSERT INTO codings (unit_id, code, coder, origin, created_at, decision_id) VALUES (1, 'care', 'ann', 'review', 'now', 1)")
    db.close()
    with Store.open(tmp_path) as store:
        [coding] = store.codings()
        assert (coding.code, coding.coder, coding.origin, coding.start, coding.end) == ("care", "ann", "review", None, None)
        assert store.coding_decisions() == {coding.id: 1}
        # one coder may now code two spans of one unit with one code; the same span twice is still kept once
        added = store.add_codings([Coding(1, "care", "bo", "human", start=4, end=6), Coding(1, "care", "bo", "human", start=7, end=12),
                                   Coding(1, "care", "bo", "human", start=7, end=12)])
        assert added == 2 and store.add_codings([Coding(1, "care", "ann", "review")]) == 0
        assert store.condensates() == {}


def test_a_version_4_project_moves_similarities_out_of_the_probability_column(tmp_path):
    db = _project_at_version(tmp_path, 4)
    db.execute("INSERT INTO codes (name, position) VALUES ('care', 0), ('hope', 1)")
    db.execute("INSERT INTO classifiers (version, created_at, encoder, manifest) VALUES ('v1', 'now', 'e', '{}')")
    db.execute("INSERT INTO suggestions (unit_id, code, probability, model_version, source, created_at) VALUES "
               "(1, 'care', 0.81, 'v1', 'classifier', 'now'), (1, 'hope', 0.97, 'v1', 'exemplar', 'now')")
    db.close()
    with Store.open(tmp_path) as store:
        care, hope = store.suggestions()  # the calibrated one first, although the similarity is higher
        assert (care.code, care.probability, care.score, care.shown) == ("care", 0.81, None, "p=0.81")
        assert (hope.code, hope.probability, hope.score, hope.shown) == ("hope", None, 0.97, "sim=0.97")
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            store.replace_suggestions([Suggestion(1, "care", None, "v1", "classifier")], [1])
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            store.replace_suggestions([Suggestion(1, "hope", 0.5, "v1", "exemplar", score=0.5)], [1])
        assert len(store.suggestions()) == 2
