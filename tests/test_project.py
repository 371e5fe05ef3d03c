from __future__ import annotations

import pytest

from qcassist.errors import ConflictError, InputError, QcaError
from qcassist.model import Code, Codebook, Coding
from qcassist.project import import_files, project_encoder, segment_project, unit_rows
from qcassist.segment import SegmentOptions
from qcassist.store import Store
from tests.conftest import SIX_TURNS, dump_database



def test_importing_the_same_file_twice_is_a_no_op(store, six_turns_file):
    first = import_files(store, [six_turns_file])
    second = import_files(store, [six_turns_file])
    assert first.added == ["six_turns"] and second.unchanged == ["six_turns"]
    assert len(store.transcripts()) == 1


def test_changed_file_under_same_name_is_refused_unless_replaced(project, six_turns_file):
    with Store.open(project) as store:
        import_files(store, [six_turns_file])
    before = dump_database(project)
    six_turns_file.write_text(SIX_TURNS + "P1: One more thing.\n", encoding="utf-8")
    with Store.open(project) as store, pytest.raises(ConflictError, match="--replace"):
        import_files(store, [six_turns_file])
    assert dump_database(project) == before
    with Store.open(project) as store:
        report = import_files(store, [six_turns_file], replace=True)
        assert report.replaced == ["six_turns"]
        assert store.transcripts()[0].text.endswith("One more thing.\n")


def test_one_bad_file_imports_nothing(project, six_turns_file, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    before = dump_database(project)
    with Store.open(project) as store, pytest.raises(InputError, match="empty.txt"):
        import_files(store, [six_turns_file, empty])
    assert dump_database(project) == before


def test_replacing_a_coded_transcript_moves_its_codings_to_the_new_units(store, six_turns_file, fake_encoder):
    import_files(store, [six_turns_file])
    segment_project(store, options=SegmentOptions(strategy="turn"))
    store.save_codebook(Codebook((Code("trust"),)))
    store.add_coding(Coding(store.units()[0].id, "trust", "anna"))
    six_turns_file.write_text(SIX_TURNS.replace("hope", "faith"), encoding="utf-8")
    report = import_files(store, [six_turns_file], replace=True)
    assert report.replaced == ["six_turns"] and len(report.carried) == 1
    transcript = store.transcripts()[0]
    [coding] = store.codings()
    unit = next(u for u in store.units() if u.id == coding.unit_id)
    assert "faith" in transcript.text and unit.text_in(transcript).startswith("My doctor sent a referral.")


def test_segmenting_twice_skips_unless_resegment(store, six_turns_file, fake_encoder):
    import_files(store, [six_turns_file])
    first = segment_project(store, options=SegmentOptions(strategy="sentence"))
    again = segment_project(store, options=SegmentOptions(strategy="turn"))
    assert first.segmented == {"six_turns": 6} and again.skipped == ["six_turns"]
    redone = segment_project(store, options=SegmentOptions(strategy="turn"), resegment=True)
    assert redone.segmented == {"six_turns": 3}


def test_resegmenting_carries_codings_to_the_overlapping_unit_and_says_so(store, six_turns_file):
    import_files(store, [six_turns_file])
    segment_project(store, options=SegmentOptions(strategy="sentence"))
    store.save_codebook(Codebook((Code("continuity"),)))
    target = next(u for u in store.units() if "every week" in store.transcripts()[0].text[u.start : u.end])
    store.add_coding(Coding(target.id, "continuity", "anna"))
    report = segment_project(store, options=SegmentOptions(strategy="turn"), resegment=True)
    [coding] = store.codings()
    new_unit = next(u for u in store.units() if u.id == coding.unit_id)
    assert new_unit.start <= target.start and target.end <= new_unit.end
    assert report.carried == [{
        "transcript": "six_turns", "code": "continuity", "coder": "anna", "old_unit": [target.start, target.end],
        "new_unit_id": new_unit.id, "new_unit": [new_unit.start, new_unit.end],
    }]


def test_resegmenting_that_would_orphan_a_coding_changes_nothing(project, six_turns_file):
    with Store.open(project) as store:
        import_files(store, [six_turns_file])
        segment_project(store, options=SegmentOptions(strategy="turn", roles=("participant", "interviewer")))
        store.save_codebook(Codebook((Code("question"),)))
        interviewer_unit = store.units()[0]
        store.add_coding(Coding(interviewer_unit.id, "question", "anna"))
    before = dump_database(project)
    with Store.open(project) as store, pytest.raises(ConflictError, match="would have no unit"):
        segment_project(store, options=SegmentOptions(strategy="turn"), resegment=True)
    assert dump_database(project) == before


def test_unknown_transcript_name_is_a_user_error(store):
    with pytest.raises(QcaError, match="no transcript named 'nope'"):
        segment_project(store, transcripts=["nope"])


def test_embeddings_are_cached_and_never_encoded_twice(store, six_turns_file, fake_encoder):
    import_files(store, [six_turns_file])
    segment_project(store)
    encoded = sum(fake_encoder.calls)
    segment_project(store, resegment=True)
    assert encoded > 0 and sum(fake_encoder.calls) == encoded
    assert (store.cache_dir / "embeddings.sqlite").exists()


def test_tfidf_encoder_is_fitted_once_and_kept_in_the_project(store, six_turns_file):
    import_files(store, [six_turns_file])
    report = segment_project(store, encoder="tfidf")
    assert report.segmented["six_turns"] >= 3
    first_id = project_encoder(store, "tfidf").id
    assert first_id.startswith("tfidf-lsa") and (store.directory / "encoders" / "tfidf-lsa" / "encoder.json").exists()
    assert project_encoder(store, "tfidf").id == first_id


def test_unit_rows_slice_their_transcript(store, six_turns_file, fake_encoder):
    import_files(store, [six_turns_file])
    segment_project(store)
    transcript = store.transcripts()[0]
    rows = unit_rows(store)
    assert rows and all(transcript.text[r["start"] : r["end"]] == r["text"] for r in rows)
    assert [r["order"] for r in rows] == list(range(1, len(rows) + 1))


def test_cohesive_segmentation_centres_on_the_whole_project(store, six_turns_file, tmp_path, fake_encoder):
    from qcassist.segment import load_nlp, segment, unit_sentences

    other = tmp_path / "other.txt"
    other.write_text("Interviewer: And the bus?\nP1: The bus was late. The garden was lovely. Money was short.\n", encoding="utf-8")
    import_files(store, [six_turns_file, other])
    segment_project(store, options=SegmentOptions(min_chars=0))
    nlp = load_nlp()
    sentences = [s for t in store.transcripts() for s in unit_sentences(t, SegmentOptions(), nlp)]
    centre = fake_encoder.encode(sentences).mean(axis=0)
    for transcript in store.transcripts():
        expected = segment(transcript, options=SegmentOptions(min_chars=0), nlp=nlp, encoder=fake_encoder, centre=centre)
        assert [(u.start, u.end) for u in store.units(transcript.id)] == [(u.start, u.end) for u in expected]


# --- one transcript, any format ------------------------------------------------------

SIX_TURNS_VTT = """WEBVTT

00:00:01.000 --> 00:00:03.000
<v Interviewer>How did you first meet the team?

00:00:03.000 --> 00:00:06.000
<v P1>My doctor sent a referral.

00:00:06.000 --> 00:00:08.000
<v P1>I did not expect much at first.

00:00:08.000 --> 00:00:09.000
<v Interviewer>What changed?

00:00:09.000 --> 00:00:15.000
<v P1>The nurse listened to me. She came back every week, even when I cancelled. Later we talked about money problems and the rent.

00:00:15.000 --> 00:00:16.000
<v Interviewer>Anything else?

00:00:16.000 --> 00:00:17.000
<v P1>I have hope now.
"""


def _six_turns_csv(path, rows=None):
    import csv

    rows = rows or [line.split(": ", 1) for line in SIX_TURNS.splitlines()]
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["speaker", "text"])
        writer.writerows(rows)
    return path


def test_the_same_turns_from_another_format_are_unchanged(store, six_turns_file, tmp_path):
    import_files(store, [six_turns_file])
    text = store.transcripts()[0].text
    for other in (_six_turns_csv(tmp_path / "six_turns.csv"), tmp_path / "six_turns.vtt"):
        if other.suffix == ".vtt":
            other.write_text(SIX_TURNS_VTT, encoding="utf-8")
        report = import_files(store, [other])
        assert report.unchanged == ["six_turns"] and report.same_turns == ["six_turns"]
        assert store.transcripts()[0].text == text


def test_other_turns_are_refused_saying_what_differs(project, six_turns_file, tmp_path):
    with Store.open(project) as store:
        import_files(store, [six_turns_file])
    before = dump_database(project)
    rows = [line.split(": ", 1) for line in SIX_TURNS.splitlines()]
    rows[3][0] = "P2"  # the long answer credited to someone else
    other = _six_turns_csv(tmp_path / "six_turns.csv", rows)
    with Store.open(project) as store, pytest.raises(ConflictError) as info:
        import_files(store, [other])
    message = str(info.value)
    assert "\n" not in message
    assert "same words, 1 turns differ (6 turns stored, 6 in this file): turn 4 speaker 'P1' vs 'P2'" in message
    assert "--replace" in message
    assert dump_database(project) == before


def test_replace_adopts_new_turns_and_moves_codings_and_decisions_across_texts(store, six_turns_file, tmp_path):
    from qcassist.decisions import decide

    import_files(store, [six_turns_file])
    segment_project(store, options=SegmentOptions(strategy="sentence"))
    store.save_codebook(Codebook((Code("money"), Code("trust"))))
    transcript = store.transcripts()[0]
    money = next(u for u in store.units() if "money problems" in u.text_in(transcript))
    start = transcript.text.index("money problems")
    store.add_coding(Coding(money.id, "money", "anna", start=start, end=start + len("money problems")))
    nurse = next(u for u in store.units() if "nurse listened" in u.text_in(transcript))
    decide(store, nurse.id, "add", coder="anna", codes=["trust"])
    rows = [line.split(": ", 1) for line in SIX_TURNS.splitlines()]
    rows[3:4] = [["P1", "The nurse listened to me."], ["P2", "She came back every week, even when I cancelled. "
                                                             "Later we talked about money problems and the rent."]]
    report = import_files(store, [_six_turns_csv(tmp_path / "six_turns.csv", rows)], replace=True)
    assert report.replaced == ["six_turns"] and report.moved_decisions == 1 and len(report.carried) == 2
    [stored] = store.transcripts()
    assert stored.id == transcript.id and len(stored.turns) == 7 and stored.turns[4].speaker == "P2"
    units = {u.id: u for u in store.units()}
    codings = {c.code: c for c in store.codings()}
    assert stored.text[codings["money"].start:codings["money"].end] == "money problems"
    assert "money problems" in units[codings["money"].unit_id].text_in(stored)
    assert units[codings["trust"].unit_id].text_in(stored) == "The nurse listened to me."
    assert units[store.decisions()[0].unit_id].text_in(stored) == "The nurse listened to me."


def test_replace_that_would_lose_a_coding_names_it_and_changes_nothing(project, six_turns_file, tmp_path):
    with Store.open(project) as store:
        import_files(store, [six_turns_file])
        segment_project(store, options=SegmentOptions(strategy="turn"))
        store.save_codebook(Codebook((Code("hope"),)))
        hope = next(u for u in store.units() if "hope" in u.text_in(store.transcripts()[0]))
        store.add_coding(Coding(hope.id, "hope", "anna"))
    before = dump_database(project)
    rows = [line.split(": ", 1) for line in SIX_TURNS.splitlines()][:-1]
    with Store.open(project) as store, pytest.raises(ConflictError) as info:
        import_files(store, [_six_turns_csv(tmp_path / "six_turns.csv", rows)], replace=True)
    assert "\n" not in str(info.value) and "coding 'hope' by anna on characters" in str(info.value)
    assert dump_database(project) == before


def test_cli_import_says_who_is_interviewer_and_that_other_renderings_are_the_same(runner, project, six_turns_file, tmp_path):
    from qcassist.cli import main

    first = runner.invoke(main, ["import", "-p", str(project), str(six_turns_file)])
    assert first.exit_code == 0
    assert "  six_turns: 2 speakers, 6 turns; interviewer: Interviewer\n" in first.output
    again = runner.invoke(main, ["import", "-p", str(project), str(_six_turns_csv(tmp_path / "six_turns.csv"))])
    assert again.output == ("Unchanged 1: six_turns\n"
                            "  six_turns: same turns as stored (this file renders them differently); nothing changed.\n")


def test_one_speakers_consecutive_rows_are_the_same_turn_as_one_paragraph(store, six_turns_file, tmp_path):
    rows = [line.split(": ", 1) for line in SIX_TURNS.splitlines()]
    rows[1:2] = [["P1", "My doctor sent a referral."], ["P1", "I did not expect much at first."]]
    import_files(store, [_six_turns_csv(tmp_path / "six_turns.csv", rows)])
    assert len(store.transcripts()[0].turns) == 7
    report = import_files(store, [six_turns_file])
    assert report.unchanged == ["six_turns"] and report.same_turns == ["six_turns"]


def test_a_changed_turn_is_shown_where_its_text_parts(store, six_turns_file, tmp_path):
    import_files(store, [six_turns_file])
    rows = [line.split(": ", 1) for line in SIX_TURNS.splitlines()]
    rows[3][1] = rows[3][1].replace("money problems", "money worries")
    with pytest.raises(ConflictError) as info:
        import_files(store, [_six_turns_csv(tmp_path / "six_turns.csv", rows)])
    assert "different words, 1 turns differ" in str(info.value)
    assert "turn 4 (P1) text '…out money problems and the rent.' vs '…out money worries and the rent.'" \
        in str(info.value)


# --- the project's TF-IDF encoder is saved only with a successful write (issue 15) ---


def test_segment_that_fails_after_fitting_tfidf_leaves_no_encoder_folder(project, six_turns_file, monkeypatch):
    with Store.open(project) as store:
        import_files(store, [six_turns_file])
    before = dump_database(project)

    def refused(*_args, **_kwargs):
        raise ConflictError("refused after the encoder was fitted")

    monkeypatch.setattr("qcassist.project.plan_units", refused)
    with Store.open(project) as store, pytest.raises(ConflictError, match="refused after"):
        segment_project(store, encoder="tfidf")
    assert not (project / "encoders").exists() and dump_database(project) == before
    monkeypatch.undo()
    with Store.open(project) as store:
        segment_project(store, encoder="tfidf")
        recorded = store.segmentation(store.transcripts()[0].id)["encoder"]
    from qcassist.embed import TfidfEncoder

    assert TfidfEncoder.load(project / "encoders" / "tfidf-lsa").id == recorded


def test_tfidf_encoder_saved_by_another_command_meanwhile_is_a_conflict(project, six_turns_file, monkeypatch):
    from qcassist.embed import TfidfEncoder
    import qcassist.project as project_module

    with Store.open(project) as store:
        import_files(store, [six_turns_file])
    before = dump_database(project)
    folder = project / "encoders" / "tfidf-lsa"
    real = project_module.plan_units

    def other_fit_saved_meanwhile(*args, **kwargs):
        TfidfEncoder(dimension=4).fit(["other words here", "and other texts", "fitted elsewhere"]).save(folder)
        return real(*args, **kwargs)

    monkeypatch.setattr(project_module, "plan_units", other_fit_saved_meanwhile)
    with Store.open(project) as store, pytest.raises(ConflictError, match="fitted on other transcripts"):
        segment_project(store, encoder="tfidf")
    assert dump_database(project) == before
