"""The review screen in a real terminal (pty): several suggestions per unit, Norwegian at the keyboard,
the unit in its whole turn, resizing, and a busy database that must not cost a decision."""

from __future__ import annotations

import os
import re
import sqlite3
import time

import pexpect

from qcassist.decisions import QueueFilter, review_queue
from qcassist.model import Code, Codebook, MeaningUnit, Suggestion, Transcript, Turn
from qcassist.store import Store
from tests.terminal import spawn_qcassist

INTERVIEW = [
    ("Intervjuer", "Hva betydde teamet for deg?"),
    ("Kari", "Jeg fikk håp igjen. De kom hver uke, også når jeg avlyste. Sykepleieren lyttet til meg – alltid."),
    ("Intervjuer", "Var noe vanskelig?"),
    ("Kari", "Økonomien var vanskelig. Regningene hopet seg opp."),
]
CODES = ("håp", "tillit", "økonomi", "tid")
# unit (participant sentence) → suggestions (code, probability), best first
SUGGESTED = {
    "Jeg fikk håp igjen.": [("håp", 0.8), ("tillit", 0.6), ("tid", 0.3)],
    "De kom hver uke, også når jeg avlyste.": [("tillit", 0.7)],
    "Sykepleieren lyttet til meg – alltid.": [("tillit", 0.9)],
    "Økonomien var vanskelig.": [("økonomi", 0.85), ("håp", 0.2)],
}


def interview(name: str, turns: list[tuple[str, str]]) -> Transcript:
    text, spans = "", []
    for speaker, said in turns:
        start = len(text) + len(speaker) + 2
        text += f"{speaker}: {said}\n"
        spans.append(Turn(speaker, "interviewer" if speaker == "Intervjuer" else "participant", start, start + len(said)))
    return Transcript(name, text, tuple(spans))


def sentence_units(transcript: Transcript, whole: tuple[str, ...] = ()) -> list[MeaningUnit]:
    """One unit per sentence of the participant's turns; a text in ``whole`` is one unit however many sentences."""
    units = []
    for index, turn in enumerate(transcript.turns):
        if turn.role != "participant":
            continue
        said = transcript.turn_text(turn)
        kept = [(said.find(text), said.find(text) + len(text)) for text in whole if text in said]
        spans = [(m.start() + len(m.group()) - len(m.group().lstrip()), m.end()) for m in re.finditer(r"[^.!?]+[.!?]", said)]
        spans = sorted(kept + [(a, b) for a, b in spans if not any(s <= a < e for s, e in kept)])
        units += [MeaningUnit(transcript.id, turn.start + a, turn.start + b, index, turn.speaker) for a, b in spans]
    return units


def norwegian_project(directory, *, turns=INTERVIEW, suggested=SUGGESTED, second: list | None = None) -> dict[str, int]:
    """A project without a trained model: interviews in Norwegian, one unit per sentence, suggestions made
    by hand. Returns unit text → unit id."""
    ids: dict[str, int] = {}
    with Store.create(directory) as store:
        store.save_codebook(Codebook(tuple(Code(c) for c in CODES)))
        store.add_classifier("v1", "hand", {"version": "v1"})
        for name, said in (("kari", turns), ("ola", second)):
            if said is None:
                continue
            transcript = store.add_transcript(interview(name, said))
            for unit in store.add_units(sentence_units(transcript, tuple(suggested)), {"method": "sentences"}):
                ids[unit.text_in(transcript)] = unit.id
        store.replace_suggestions(
            [Suggestion(ids[text], code, p, "v1", "classifier") for text, pairs in suggested.items() for code, p in pairs],
            ids.values())
    return ids


def spawn_review(directory, *extra, rows=24, columns=80):
    return spawn_qcassist("review", "-p", str(directory), "--coder", "ann", "--strategy", "sequential",
                          "--retrain-every", "0", *extra, rows=rows, columns=columns)


def test_each_suggestion_is_decided_on_its_own_and_the_unit_leaves_when_all_are(tmp_path):
    directory = tmp_path / "p"
    ids = norwegian_project(directory)
    first = ids["Jeg fikk håp igjen."]
    child = spawn_review(directory)
    child.expect(f"unit {first} ")
    child.expect(r"\[a\]ccept")
    child.send("a")  # the cursor starts on the best suggestion
    child.expect("Recorded: accept håp")
    child.send("3")
    child.send("r")
    child.expect("Recorded: reject tid")
    child.send("+")
    child.expect("add code")
    child.send("øko\r")
    child.expect(r"your codes: håp, økonomi")  # added beside the accepted one, not instead of it
    child.expect("Recorded: add økonomi")
    child.send("c")  # the cursor is on the one suggestion left, tillit
    child.expect("recode tillit to:")
    child.send("tid\r")
    child.expect(f"unit {ids['De kom hver uke, også når jeg avlyste.']} ")  # the next unit
    child.expect(f"Recorded: recode tillit → tid · unit {first} done")
    child.send("u")
    child.expect(rf"Undid the last decision \(recode tillit\) on unit {first}")
    child.send("a")
    child.expect(f"Recorded: accept tillit · unit {first} done")
    child.send("q")
    child.expect("4 decisions recorded this session")
    child.expect(pexpect.EOF)
    with Store.open(directory) as store:
        mine = store.decisions(coder="ann")
        assert [(d.action, d.suggested_code, d.final_codes) for d in mine] == [
            ("accept", "håp", ("håp",)), ("reject", "tid", ()), ("add", None, ("økonomi",)),
            ("recode", "tillit", ("tid",)), ("undo", "tillit", ()), ("accept", "tillit", ("tillit",))]
        assert sorted(c.code for c in store.codings(coders=["ann"]) if c.unit_id == first) == ["håp", "tillit", "økonomi"]
        assert (first, "tid") in store.negatives()
        queue = review_queue(store, coder="ann")
    assert first not in [item.unit_id for item in queue]
    assert [item.unit_id for item in queue][:1] == [ids["De kom hver uke, også når jeg avlyste."]]


def test_a_unit_with_one_suggestion_decided_comes_back_with_the_rest(tmp_path):
    directory = tmp_path / "p"
    ids = norwegian_project(directory)
    first = ids["Jeg fikk håp igjen."]
    child = spawn_review(directory)
    child.expect(r"\[a\]ccept")
    child.send("r")
    child.expect("Recorded: reject håp")
    child.send("q")
    child.expect(pexpect.EOF)
    with Store.open(directory) as store:
        item = review_queue(store, coder="ann")[0]
    assert item.unit_id == first
    assert [s.code for s in item.pending] == ["tillit", "tid"] and item.decided == {"håp": "reject"}


def test_memo_and_code_search_keep_norwegian_an_em_dash_and_an_emoji(tmp_path):
    directory = tmp_path / "p"
    ids = norwegian_project(directory)
    child = spawn_review(directory)
    child.expect(r"\[a\]ccept")
    child.send("m")
    child.expect("memo: ")
    child.send("Må sjekkes – æ")
    # one character's two bytes in two reads: the decoder must wait for the second
    os.write(child.child_fd, "ø".encode()[:1])
    time.sleep(0.2)
    os.write(child.child_fd, "ø".encode()[1:])
    child.send("å 👩‍💻\r")
    child.expect("memo: Må sjekkes – æøå 👩‍💻")
    child.expect("Memo kept")
    child.send("2")
    child.send("c")
    child.expect("recode tillit to:")
    child.send("hå")
    child.expect("hå▏  håp")  # the search finds the code by its Norwegian letters
    child.send("\r")
    child.expect("Recorded: recode tillit → håp")
    child.send("q")
    child.expect(pexpect.EOF)
    with Store.open(directory) as store:
        (decision,) = store.decisions(coder="ann")
    assert decision.unit_id == ids["Jeg fikk håp igjen."]
    assert decision.memo == "Må sjekkes – æøå 👩‍💻"
    assert decision.final_codes == ("håp",)


def test_a_busy_database_delays_a_decision_without_losing_it(tmp_path):
    directory = tmp_path / "p"
    norwegian_project(directory)
    child = spawn_review(directory)
    child.expect(r"\[a\]ccept")
    other = sqlite3.connect(directory / "qcassist.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another command writing
        child.send("a")
        child.expect("The project is busy")
        assert other.execute("SELECT count(*) FROM decisions").fetchone()[0] == 0
        other.execute("ROLLBACK")
    finally:
        other.close()
    child.expect("Recorded: accept håp")
    assert "Warning" not in child.before  # the wait is shown on the screen, not printed across it
    child.send("q")
    child.expect("1 decision recorded")
    child.expect(pexpect.EOF)
    with Store.open(directory) as store:
        assert [d.action for d in store.decisions()] == ["accept"]


LONG = " ".join(f"Setning nummer {n} handler om hvordan teamet hjalp meg i hverdagen." for n in range(1, 31)) + " SLUTTORD."


def test_a_long_unit_scrolls_and_the_screen_redraws_when_the_terminal_is_resized(tmp_path):
    directory = tmp_path / "p"
    turns = [("Intervjuer", "Fortell."), ("Kari", f"Før. {LONG} Etter.")]
    norwegian_project(directory, turns=turns, suggested={LONG: [("tid", 0.5)]})
    child = spawn_review(directory)
    child.expect("unit continues: PgDn")
    child.expect(r"\[a\]ccept")
    child.send("\x1b[6~")  # PgDn
    child.expect("SLUTTORD")
    child.send("\x1b[5~")  # PgUp
    child.expect("lines 1-")
    child.setwinsize(60, 120)  # all of it fits now
    child.expect("Etter")
    child.send("q")
    child.expect(pexpect.EOF)


def test_rationale_texts_come_from_every_transcript_when_the_queue_is_one_transcripts(tmp_path):
    directory = tmp_path / "p"
    ids = norwegian_project(directory, second=[("Intervjuer", "Og du?"), ("Ola", "Jeg stolte på dem.")])
    with Store.open(directory) as store:
        cited = ids["Jeg stolte på dem."]
        store.replace_suggestions([Suggestion(ids["Jeg fikk håp igjen."], "tillit", None, "v1", "exemplar", (cited,), score=0.7)],
                                  [ids["Jeg fikk håp igjen."]])
        (item,) = [i for i in review_queue(store, coder="ann", filters=QueueFilter(transcripts=("kari",)))
                   if i.unit_id == ids["Jeg fikk håp igjen."]]
    assert item.rationale_texts == {cited: "Jeg stolte på dem."}


def test_adding_every_suggested_code_by_hand_settles_those_suggestions(tmp_path):
    from qcassist.decisions import decide

    directory = tmp_path / "p"
    ids = norwegian_project(directory)
    unit = ids["Økonomien var vanskelig."]
    with Store.open(directory) as store:
        decide(store, unit, "add", coder="ann", codes=("økonomi", "håp"))
        assert unit not in [item.unit_id for item in review_queue(store, coder="ann")]
