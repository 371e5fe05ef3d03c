"""Speakers and roles: the default for meetings, listing, setting, and keeping work when roles change."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from qcassist.cli import main
from qcassist.decisions import decide
from qcassist.errors import ConflictError, QcaError
from qcassist.ingest.roles import assign_roles, person_key
from qcassist.model import Code, Codebook, Coding
from qcassist.project import import_files, segment_project
from qcassist.segment import SegmentOptions
from qcassist.speakers import set_role, speaker_rows
from qcassist.store import Store
from tests.conftest import dump_database

QMSUM = Path("/work/shared/datasets/qmsum/train")
TURNS = SegmentOptions(strategy="turn")

HEARING = [
    ("The Chair (Ms. Ada Lake (North, Lib.))", "I call this meeting to order. We begin with questions."),
    ("Mr. Bo Reed (West, CPC)", "Thank you, Chair. My question is about the rent relief programme and who it reaches."),
    ("Hon. Cy Moss", "The programme reached four hundred thousand renters in its first month, and we are extending it."),
    ("The Chair", "Thank you. Ms. Dee Fox is next."),
    ("Ms. Dee Fox", "When will small farms see the support that was promised to them in the spring budget?"),
    ("Hon. Cy Moss", "The support for farms opens next week, and the forms are already online for everyone."),
    ("The Chair", "Mr. Reed, you have the floor."),
    ("Mr. Bo Reed", "Will the minister publish the numbers for each province, so members can check them?"),
    ("Hon. Cy Moss", "Yes, the numbers for every province will be published on the first of the month."),
]


def _write_csv(path, turns) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["speaker", "text"])
        writer.writerows(turns)
    return path


def test_a_chair_label_makes_an_interviewer_outside_its_parentheses():
    roles = assign_roles(HEARING)
    assert roles["The Chair (Ms. Ada Lake (North, Lib.))"] == roles["The Chair"] == "interviewer"
    assert {roles[s] for s in ("Mr. Bo Reed (West, CPC)", "Hon. Cy Moss", "Ms. Dee Fox", "Mr. Bo Reed")} == {"participant"}
    assert assign_roles([("Mr. Al Hay (Chair of the Board)", "We met."), ("Ms. Bea Cole", "Yes?")])[
        "Mr. Al Hay (Chair of the Board)"] == "participant"


def test_a_speaker_who_mostly_hands_the_floor_on_is_the_interviewer():
    members = ["Ann", "Ben", "Cat", "Dan", "Eve"]
    turns = []
    for round_ in range(3):
        for member in members:
            turns.append(("Lynne", f"Thank you. {member}, you are next."))
            turns.append((member, f"I want to ask about the budget for schools in round {round_}, and about the "
                                  "teachers who left the profession this year, because the numbers are worrying."))
    assert assign_roles(turns)["Lynne"] == "interviewer"
    assert {assign_roles(turns)[m] for m in members} == {"participant"}


def test_in_a_group_asking_most_does_not_make_an_interviewer():
    turns = [("Ann", "Why is that?"), ("Ben", "Because it rained."), ("Cat", "I agree with that."),
             ("Ann", "And then?"), ("Ben", "We went home."), ("Cat", "Me too.")] * 3
    assert set(assign_roles(turns).values()) == {"participant"}
    two = [("Ann", "Why is that?"), ("Ben", "Because it rained."), ("Ann", "And then?"), ("Ben", "We went home.")]
    assert assign_roles(two)["Ann"] == "interviewer"


def test_person_key_joins_label_variants():
    assert person_key("Mr. Dave Epp (Chatham-Kent, CPC)") == person_key("mr.  Dave Epp") == "mr. dave epp"
    assert person_key("The Acting Chair (Mr. Bruce Stanton (Simcoe North, CPC))") == "the acting chair"


def test_speakers_lists_role_turns_and_words(store, tmp_path):
    import_files(store, [_write_csv(tmp_path / "hearing.csv", HEARING)])
    rows = {r["speaker"]: r for r in speaker_rows(store)}
    assert rows["The Chair"] == {"transcript": "hearing", "speaker": "The Chair", "role": "interviewer", "turns": 2, "words": 13}
    assert rows["Hon. Cy Moss"]["turns"] == 3 and rows["Hon. Cy Moss"]["role"] == "participant"


def _coded_hearing(store, tmp_path):
    import_files(store, [_write_csv(tmp_path / "hearing.csv", HEARING)])
    segment_project(store, options=TURNS)
    store.save_codebook(Codebook((Code("farms"), Code("rent"))))
    transcript = store.transcripts()[0]
    farm = next(u for u in store.units() if "small farms" in u.text_in(transcript))
    store.add_coding(Coding(farm.id, "farms", "anna"))
    return farm


def test_setting_a_role_resegments_and_keeps_codings_and_decisions(store, tmp_path):
    _coded_hearing(store, tmp_path)
    rent = next(u for u in store.units() if "rent relief" in u.text_in(store.transcripts()[0]))
    decide(store, rent.id, "add", coder="anna", codes=["rent"])
    report = set_role(store, "Hon. Cy Moss", "other")
    assert report.changed == {"hearing": ["Hon. Cy Moss"]} and report.segmented == {"hearing": 3}
    assert report.moved_decisions == 1 and len(report.carried) == 2
    transcript = store.transcripts()[0]
    assert [u.speaker for u in store.units()] == ["Mr. Bo Reed (West, CPC)", "Ms. Dee Fox", "Mr. Bo Reed"]
    coded = {c.code: next(u for u in store.units() if u.id == c.unit_id).text_in(transcript) for c in store.codings()}
    assert "small farms" in coded["farms"] and "rent relief" in coded["rent"]


def test_a_role_set_for_the_project_matches_every_label_and_later_imports(store, tmp_path):
    import_files(store, [_write_csv(tmp_path / "hearing.csv", HEARING)])
    set_role(store, "Mr. Bo Reed", "interviewer")
    roles = {r["speaker"]: r["role"] for r in speaker_rows(store)}
    assert roles["Mr. Bo Reed (West, CPC)"] == roles["Mr. Bo Reed"] == "interviewer"
    _write_csv(tmp_path / "second.csv", [("Mr. Bo Reed", "A question?"), ("Ms. Dee Fox", "An answer."),
                                         ("Hon. Cy Moss", "Another answer, with more words in it.")])
    report = import_files(store, [tmp_path / "second.csv"])
    assert report.speakers["second"]["interviewers"] == ["Mr. Bo Reed"]


def test_roles_and_their_memory_are_written_in_one_transaction(store, tmp_path, monkeypatch):
    import_files(store, [_write_csv(tmp_path / "hearing.csv", HEARING)])
    before = dump_database(store.directory)

    def fail(key, value):
        raise OSError("disk full")

    monkeypatch.setattr(store, "set_setting", fail)  # the remembered role cannot be written
    with pytest.raises(OSError):
        set_role(store, "Mr. Bo Reed", "interviewer")
    assert dump_database(store.directory) == before  # so the turns keep their roles too


def test_a_name_without_its_post_nominals_names_the_person(store, tmp_path):
    # Welsh committee meetings (QMSum education_*): 'speakers set "Lynne Neagle"' answered "no speaker
    # 'Lynne Neagle'" although the chair is 'Lynne Neagle AM' (and 'Lynne Neagle MS' in later meetings)
    rows = [("Lynne Neagle AM", "Welcome, item one."), ("Kirsty Williams AM", "Thank you, Chair, the answer is long."),
            ("Lynne Neagle MS", "Thank you. Next question."), ("Kirsty Williams AM", "Another answer.")]
    import_files(store, [_write_csv(tmp_path / "senedd.csv", rows)])
    set_role(store, "Lynne Neagle", "interviewer")
    roles = {r["speaker"]: r["role"] for r in speaker_rows(store)}
    assert roles == {"Lynne Neagle AM": "interviewer", "Lynne Neagle MS": "interviewer", "Kirsty Williams AM": "participant"}
    assert json.loads(store.setting("speakers.roles")) == {"lynne neagle am": "interviewer", "lynne neagle ms": "interviewer"}
    with pytest.raises(QcaError, match="no speaker 'Kirsty'"):
        set_role(store, "Kirsty", "other")


def test_setting_a_role_in_some_transcripts_only(store, tmp_path):
    _write_csv(tmp_path / "b.csv", HEARING)
    import_files(store, [_write_csv(tmp_path / "hearing.csv", HEARING), tmp_path / "b.csv"])
    set_role(store, "Ms. Dee Fox", "other", transcripts=["b"])
    roles = {(r["transcript"], r["speaker"]): r["role"] for r in speaker_rows(store)}
    assert roles[("b", "Ms. Dee Fox")] == "other" and roles[("hearing", "Ms. Dee Fox")] == "participant"
    assert store.setting("speakers.roles") is None


def test_a_role_change_that_would_drop_a_coded_unit_is_refused(project, tmp_path):
    with Store.open(project) as store:
        _coded_hearing(store, tmp_path)
    before = dump_database(project)
    with Store.open(project) as store, pytest.raises(ConflictError) as info:
        set_role(store, "Ms. Dee Fox", "interviewer")
    assert "\n" not in str(info.value) and "coding 'farms' by anna" in str(info.value)
    assert dump_database(project) == before


def test_unknown_speaker_and_role_are_user_errors(store, tmp_path):
    import_files(store, [_write_csv(tmp_path / "hearing.csv", HEARING)])
    with pytest.raises(QcaError, match="no speaker 'Ms. Dee Foks'.*Did you mean"):
        set_role(store, "Ms. Dee Foks", "other")
    with pytest.raises(QcaError, match="unknown role"):
        set_role(store, "Ms. Dee Fox", "boss")


def test_import_interviewer_on_an_existing_transcript_changes_its_roles(store, tmp_path):
    path = _write_csv(tmp_path / "hearing.csv", HEARING)
    import_files(store, [path])
    segment_project(store, options=TURNS)
    report = import_files(store, [path], interviewers=["Ms. Dee Fox", "The Chair"])
    assert report.unchanged == ["hearing"] and report.roles_changed == {"hearing": ["Ms. Dee Fox"]}
    assert "Ms. Dee Fox" not in {u.speaker for u in store.units()}


def test_cli_speakers_list_and_set(runner, project, tmp_path):
    path = _write_csv(tmp_path / "hearing.csv", HEARING)
    assert runner.invoke(main, ["import", "-p", str(project), str(path)]).exit_code == 0
    listed = runner.invoke(main, ["speakers", "-p", str(project), "--json"])
    assert listed.exit_code == 0 and len(json.loads(listed.output)) == 6
    result = runner.invoke(main, ["speakers", "set", "Ms. Dee Fox", "--role", "other", "-p", str(project)])
    assert result.exit_code == 0, result.output
    assert result.output == "hearing: Ms. Dee Fox → other\n"
    table = runner.invoke(main, ["speakers", "-p", str(project)])
    assert "other" in table.output and "Ms. Dee Fox" in table.output
    wrong = runner.invoke(main, ["speakers", "set", "Nobody", "--role", "other", "-p", str(project)])
    assert wrong.exit_code == 2 and wrong.output.startswith("Error: no speaker 'Nobody'")


@pytest.mark.skipif(not QMSUM.is_dir(), reason="the QMSum train meetings are not on this machine")
def test_qmsum_committee_meeting_chairs_yield_no_units(store, tmp_path):
    meeting = json.loads((QMSUM / "covid_1.json").read_text(encoding="utf-8"))["meeting_transcripts"]
    path = _write_csv(tmp_path / "covid_1.csv", [(t["speaker"], t["content"]) for t in meeting])
    report = import_files(store, [path])
    assert report.speakers["covid_1"]["interviewers"] == [
        "The Acting Chair (Mr. Bruce Stanton (Simcoe North, CPC))", "The Acting Chair (Mr. Bruce Stanton)",
        "The Chair (Hon. Anthony Rota (NipissingTimiskaming, Lib.))", "The Chair",
    ]
    segment_project(store, options=TURNS)
    transcript = store.transcripts()[0]
    texts = [u.text_in(transcript) for u in store.units()]
    chair_turns = sum(1 for t in meeting if "Chair" in t["speaker"].split("(")[0])
    assert len(texts) == len(meeting) - chair_turns
    assert not any(text.endswith("is next.") and len(text.split()) < 8 for text in texts)


@pytest.mark.skipif(not QMSUM.is_dir(), reason="the QMSum train meetings are not on this machine")
def test_qmsum_a_chair_found_in_one_meeting_is_the_chair_in_the_others(store, tmp_path):
    files = []
    for name in ("education_2", "education_15"):
        meeting = json.loads((QMSUM / f"{name}.json").read_text(encoding="utf-8"))["meeting_transcripts"]
        files.append(_write_csv(tmp_path / f"{name}.csv", [(t["speaker"], t["content"]) for t in meeting]))
    report = import_files(store, files)
    assert report.speakers["education_2"]["interviewers"] == report.speakers["education_15"]["interviewers"] == ["Lynne Neagle AM"]
    assert report.notes == ["education_15: Lynne Neagle AM treated as interviewer, as in other transcripts of the project "
                            "(qcassist speakers set NAME --role participant to change)."]


def test_one_named_person_keeps_one_role_across_an_import_but_numbered_speakers_do_not(store, tmp_path):
    asks = [("{0}", "Why did you come?"), ("{1}", "Because of the bus."), ("{0}", "And then?"), ("{1}", "We stayed.")]
    group = [("{0}", "We all came."), ("{1}", "Yes, we did."), ("{2}", "I came later, after the rain.")]
    files = []
    for kind, (a, b, c) in (("named", ("Maria", "Ole", "Kari")), ("numbered", ("Speaker 1", "Speaker 2", "Speaker 3"))):
        files.append(_write_csv(tmp_path / f"{kind}_1.csv", [(who.format(a, b), text) for who, text in asks]))
        files.append(_write_csv(tmp_path / f"{kind}_2.csv", [(who.format(a, b, c), text) for who, text in group]))
    report = import_files(store, files)
    assert report.speakers["named_2"]["interviewers"] == ["Maria"]
    assert report.speakers["numbered_1"]["interviewers"] == ["Speaker 1"]
    assert report.speakers["numbered_2"]["interviewers"] == []
    assert report.notes == ["named_2: Maria treated as interviewer, as in other transcripts of the project "
                            "(qcassist speakers set NAME --role participant to change)."]


def test_a_person_promoted_in_many_transcripts_gets_one_note(store, tmp_path):
    # 24 QMSum meetings printed "education_N: Lynne Neagle AM treated as interviewer, ..." 12 times
    asks = [("Maria", "Why did you come?"), ("Ole", "Because of the bus."), ("Maria", "And then?"), ("Ole", "We stayed.")]
    group = [("Maria", "We all came."), ("Ole", "Yes, we did."), ("Kari", "I came later, after the rain.")]
    files = [_write_csv(tmp_path / "asks.csv", asks)]
    files += [_write_csv(tmp_path / f"g{n}.csv", group) for n in range(1, 7)]
    report = import_files(store, files)
    assert all(report.speakers[f"g{n}"]["interviewers"] == ["Maria"] for n in range(1, 7))
    assert report.notes == ["g1, g2, g3, g4 and 2 more: Maria treated as interviewer, as in other transcripts of the "
                            "project (qcassist speakers set NAME --role participant to change)."]


def test_an_import_says_where_a_new_interviewer_is_a_participant_in_stored_transcripts(store, tmp_path):
    group = [("Maria", "We all came."), ("Ole", "Yes, we did."), ("Kari", "I came later, after the rain.")]
    import_files(store, [_write_csv(tmp_path / "group.csv", group)])
    asks = [("Maria", "Why did you come?"), ("Ole", "Because of the bus."), ("Maria", "And then?"), ("Ole", "We stayed.")]
    report = import_files(store, [_write_csv(tmp_path / "pair.csv", asks)])
    assert report.notes == ["Maria is interviewer in pair but a participant in group; make it one role with: "
                            "qcassist speakers set 'Maria' --role interviewer|participant"]
    assert {r["role"] for r in speaker_rows(store, ["group"])} == {"participant"}


@pytest.mark.parametrize("encoder", ["default", "tfidf"])
def test_setting_a_role_recuts_cohesive_units_with_the_recorded_encoder(store, tmp_path, fake_encoder, encoder):
    import_files(store, [_write_csv(tmp_path / "hearing.csv", HEARING)])
    segment_project(store, encoder=encoder)
    recorded = store.segmentation(store.transcripts()[0].id)
    report = set_role(store, "Hon. Cy Moss", "other")
    assert report.segmented == {"hearing": 3}
    assert store.segmentation(store.transcripts()[0].id) == recorded
    assert (fake_encoder.calls == []) == (encoder == "tfidf")  # the project's own TF-IDF, never the model


def test_swapping_two_roles_one_at_a_time_cuts_the_units_again(store, tmp_path):
    # a counselling session whose client asks most: making the therapist interviewer first left no participant
    # turns (0 units), and making the client participant then re-cut nothing, so the transcript stayed empty
    turns = [("Therapist", "Can I help you with something today, after your shift at the plant?"),
             ("Client", "Do you have nicotine patches? Can I use them only during the day at work?"),
             ("Therapist", "We recommend the patches to quit, so you would wear them all day long."),
             ("Client", "Why would I quit? Is it really that bad, if I only smoke after work with friends?")]
    import_files(store, [_write_csv(tmp_path / "session.csv", turns)])
    segment_project(store, options=TURNS)
    assert {r["speaker"]: r["role"] for r in speaker_rows(store)} == {"Therapist": "participant", "Client": "interviewer"}
    assert set_role(store, "Therapist", "interviewer").segmented == {"session": 0}
    report = set_role(store, "Client", "participant")
    assert report.segmented == {"session": 2}
    assert [u.speaker for u in store.units()] == ["Client", "Client"]


def test_a_known_interviewer_stays_interviewer_where_the_other_person_asks_most(store, tmp_path):
    # AnnoMI session 15: the client asks about nicotine patches, so the question rule made 'Client' the
    # interviewer and 'Therapist' (interviewer in the ten sessions before) a participant
    usual = [("Therapist", "What brings you in today?"), ("Client", "My wife worries about my smoking at home."),
             ("Therapist", "How do you feel about that?"), ("Client", "I see her point, but I like my evening smoke.")]
    asking = [("Therapist", "Can I help you with anything today?"),
              ("Client", "Do you sell nicotine patches? Can I wear them only at work?"),
              ("Therapist", "We recommend them to quit, so you would wear them all day long."),
              ("Client", "Why would I quit? Is it that bad if I only smoke after work?")]
    import_files(store, [_write_csv(tmp_path / "usual.csv", usual)])
    report = import_files(store, [_write_csv(tmp_path / "asking.csv", asking)])
    roles = {(r["transcript"], r["speaker"]): r["role"] for r in speaker_rows(store)}
    assert roles[("asking", "Therapist")] == "interviewer" and roles[("asking", "Client")] == "participant"
    assert any("asking: Therapist treated as interviewer, as in other transcripts of the project, and Client as "
               "participant" in note for note in report.notes)
