"""Review: decisions as training data, decision files, undo, durability under SIGKILL, two reviewers, the real screen."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time

import pexpect
import pytest

from qcassist.cli import main
from qcassist.decisions import QueueFilter, apply_decisions_file, decide, review_queue, undo_last
from qcassist.errors import InputError
from qcassist.ingest.coded import CodedColumns
from qcassist.seed import import_coded
from qcassist.store import Store
from qcassist.suggest import suggest, train, training_set
from tests.conftest import coded_rows, dump_database, write_coded_csv
from tests.terminal import QCASSIST, spawn_qcassist



def _suggested_project(directory, n_transcripts=4, per_code=6, every=3):
    """A project with a TF-IDF-encoded model and suggestions for every third unit."""
    rows = coded_rows(n_transcripts=n_transcripts, per_code=per_code)
    for row in rows[::every]:
        row["code"] = ""
    path = directory.parent / f"{directory.name}-seed.csv"
    write_coded_csv(path, rows)
    with Store.create(directory) as store:
        import_coded(store, path, coder="seed", columns=CodedColumns(order="order"))
        train(store, encoder="tfidf")
        suggest(store)
    return directory


@pytest.fixture
def reviewed(tmp_path):
    return _suggested_project(tmp_path / "p")


def test_accept_reject_recode_become_training_data(reviewed):
    with Store.open(reviewed) as store:
        queue = review_queue(store, coder="ann")
        first, second, third = queue[:3]
        decide(store, first.unit_id, "accept", coder="ann", suggestion=first.top)
        decide(store, second.unit_id, "reject", coder="ann", suggestion=second.top)
        other = next(c.name for c in store.codebook().leaves if c.name != third.top.code)
        decide(store, third.unit_id, "recode", coder="ann", suggestion=third.top, codes=(other,))
        codings = {(c.unit_id, c.code): c for c in store.codings() if c.coder == "ann"}
        assert codings[(first.unit_id, first.top.code)].origin == "review"
        assert codings[(third.unit_id, other)].origin == "review"
        assert store.negatives() == {(second.unit_id, second.top.code), (third.unit_id, third.top.code)}
        data = training_set(store, __import__("qcassist.project", fromlist=["x"]).project_encoder(store, "tfidf"))
        assert first.unit_id in data.unit_ids and third.unit_id in data.unit_ids
        assert len(review_queue(store, coder="ann")) == len(queue) - 3  # decided units leave the queue


def test_undo_records_a_reversal_and_removes_its_coding(reviewed):
    with Store.open(reviewed) as store:
        item = review_queue(store, coder="ann")[0]
        accepted = decide(store, item.unit_id, "accept", coder="ann", suggestion=item.top)
        reversal = undo_last(store, coder="ann")
        assert reversal.action == "undo" and reversal.reverses == accepted.id
        assert not [c for c in store.codings() if c.coder == "ann"]
        assert [d.action for d in store.decisions()] == ["accept", "undo"]
        assert review_queue(store, coder="ann")[0].unit_id == item.unit_id  # back in the queue
        assert undo_last(store, coder="ann") is None  # nothing left to undo


def test_decisions_file_applies_all_or_nothing(reviewed, tmp_path):
    with Store.open(reviewed) as store:
        queue = review_queue(store, coder="ann")
    good = tmp_path / "decisions.csv"
    good.write_text(f"unit_id,action,code,memo\n{queue[0].unit_id},accept,,\n{queue[1].unit_id},reject,,too vague\n", encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text(f"unit_id,action,code\n{queue[2].unit_id},accept,\n{queue[3].unit_id},recode,trsut\n", encoding="utf-8")
    before = dump_database(reviewed)
    with Store.open(reviewed) as store, pytest.raises(InputError, match=r"bad.csv, line 3.*Did you mean 'trust'"):
        apply_decisions_file(store, bad, coder="ann")
    assert dump_database(reviewed) == before
    with Store.open(reviewed) as store:
        report = apply_decisions_file(store, good, coder="ann")
        assert report.applied == {"accept": 1, "reject": 1}
        assert store.decisions()[1].memo == "too vague"


def test_cli_review_decisions_and_export(runner, reviewed, tmp_path):
    with Store.open(reviewed) as store:
        unit = review_queue(store, coder="ann")[0].unit_id
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"unit_id": unit, "action": "accept"}) + "\n", encoding="utf-8")
    result = runner.invoke(main, ["review", "-p", str(reviewed), "--coder", "ann", "--decisions", str(path)])
    assert result.exit_code == 0 and "Applied 1 decisions" in result.output
    # the same file again (a script re-run) recorded every decision a second time and said "Applied 1" again
    again = runner.invoke(main, ["review", "-p", str(reviewed), "--coder", "ann", "--decisions", str(path)])
    assert again.output == "Applied 0 decisions; 1 already recorded, left as they were.\n"
    assert _decision_count(reviewed) == 1
    exported = runner.invoke(main, ["decisions", "export", "-p", str(reviewed), "--format", "jsonl"]).output
    row = json.loads(exported.splitlines()[0])
    assert row["unit_id"] == unit and row["action"] == "accept" and row["coder"] == "ann"


def _decision_count(directory) -> int:
    db = sqlite3.connect(directory / "qcassist.db")
    try:
        return db.execute("SELECT count(*) FROM decisions").fetchone()[0]
    finally:
        db.close()


def test_screen_in_a_real_terminal_accepts_rejects_undoes_and_quits(reviewed):
    child = spawn_qcassist("review", "-p", str(reviewed), "--coder", "ann", "--retrain-every", "0")
    child.expect("accept rate")
    child.expect(r"\[a\]ccept")
    child.send("a")
    child.expect("Recorded: accept")
    child.send("r")
    child.expect("Recorded: reject")
    child.send("u")
    child.expect("Undid the last decision")
    child.send("c")
    child.expect("recode .* to:")
    child.send("mon")
    child.send("\r")
    child.expect("Recorded: recode .* → money")
    child.send("q")
    child.expect("recorded this session")
    child.expect(pexpect.EOF)
    with Store.open(reviewed) as store:
        assert [d.action for d in store.decisions()] == ["accept", "reject", "undo", "recode"]


def test_every_decision_shown_as_recorded_survives_sigkill(reviewed):
    rng = random.Random(7)
    for attempt in range(6):
        child = spawn_qcassist("review", "-p", str(reviewed), "--coder", f"k{attempt}", "--retrain-every", "0")
        child.expect("accept rate")
        shown = 0
        for _ in range(rng.randint(1, 6)):
            child.send(rng.choice("ar"))
            child.expect("Recorded: ")
            shown += 1
        child.send(rng.choice("ar"))  # the last one may or may not be recorded when the kill lands
        time.sleep(rng.random() * 0.05)
        os.kill(child.pid, signal.SIGKILL)
        child.close(force=True)
        with Store.open(reviewed) as store:
            mine = [d for d in store.decisions() if d.coder == f"k{attempt}"]
        assert shown <= len(mine) <= shown + 1


def test_two_reviewers_at_once_lose_and_duplicate_nothing(reviewed, tmp_path):
    with Store.open(reviewed) as store:
        units = [item.unit_id for item in review_queue(store, coder="x")]
    files = []
    for name in ("one", "two"):
        path = tmp_path / f"{name}.csv"
        path.write_text("unit_id,action\n" + "".join(f"{u},accept\n" for u in units), encoding="utf-8")
        files.append(path)
    script = (
        "import sys\n"
        "from qcassist.store import Store\n"
        "from qcassist.decisions import review_queue, decide\n"
        "with Store.open(sys.argv[1]) as store:\n"
        "    for item in review_queue(store, coder=sys.argv[2]):\n"
        "        decide(store, item.unit_id, 'accept', coder=sys.argv[2], suggestion=item.top)\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(reviewed), coder], stderr=subprocess.PIPE) for coder in ("one", "two")]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    with Store.open(reviewed) as store:
        for coder in ("one", "two"):
            mine = [d.unit_id for d in store.decisions(coder=coder)]
            assert sorted(mine) == sorted(units)


def test_a_rejection_is_a_negative_for_that_code_only(reviewed):
    from qcassist.project import project_encoder

    with Store.open(reviewed) as store:
        item = review_queue(store, coder="ann")[0]
        decide(store, item.unit_id, "reject", coder="ann", suggestion=item.top)
        data = training_set(store, project_encoder(store, "tfidf"))
        row = list(data.unit_ids).index(item.unit_id)
        expected = [0 if code == item.top.code else -1 for code in data.codes]
        assert data.labels[row].tolist() == expected
        train(store, encoder="tfidf")  # the classifier trains with the partly known row


def test_background_retraining_hands_over_a_new_queue_from_a_new_model(reviewed):
    from qcassist.review.retrain import BackgroundRetrainer

    with Store.open(reviewed) as store:
        versions_before = store.latest_classifier()[0]
        queue = review_queue(store, coder="ann")
        for item in queue[:2]:
            decide(store, item.unit_id, "accept", coder="ann", suggestion=item.top)
    retrainer = BackgroundRetrainer(reviewed, 2, "ann", "sequential")
    try:
        assert retrainer.after_decision(2) is None  # started, not ready yet
        retrainer.wait(120)
        assert retrainer.error is None and retrainer.rounds == 1 and len(retrainer.seconds) == 1
    finally:
        retrainer.close()
    with Store.open(reviewed) as store:
        assert store.latest_classifier()[0] != versions_before
        fresh = review_queue(store, coder="ann")
    assert {i.unit_id for i in fresh}.isdisjoint({i.unit_id for i in queue[:2]})


def test_uncertainty_order_puts_the_smallest_margins_first(reviewed):
    import numpy as np

    from qcassist.decisions import _model_view

    with Store.open(reviewed) as store:
        queue = review_queue(store, coder="ann", strategy="uncertainty")
        probabilities, embeddings = _model_view(store, [item.unit_id for item in queue])
    top_two = np.sort(probabilities, axis=1)[:, -2:]
    margins = top_two[:, 1] - top_two[:, 0]
    assert len(queue) > 3 and embeddings.shape[0] == len(queue)
    assert list(margins) == sorted(margins)


def _descendants(pid: int) -> set[int]:
    """Every living process below ``pid`` (from /proc), zombies left out."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _opened_by(pids: set[int], name: str) -> bool:
    for pid in pids:
        try:
            if any(os.readlink(f"/proc/{pid}/fd/{fd}").endswith(name) for fd in os.listdir(f"/proc/{pid}/fd")):
                return True
        except OSError:
            continue
    return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the process tree from /proc")
def test_sigkill_of_the_review_ends_its_retraining_and_no_model_is_written_afterwards(reviewed):
    models = reviewed / "classifiers"
    with Store.open(reviewed) as store:
        versions = store.classifier_versions()
    # under a shell, as a person runs it: killing the review then hangs up no terminal, so nothing but the
    # retraining's own care can end it
    command = " ".join(QCASSIST + ["review", "-p", str(reviewed), "--coder", "ann", "--retrain-every", "1",
                                   "--strategy", "sequential"])
    child = pexpect.spawn("/bin/sh", ["-c", f"{command}; sleep 60"], dimensions=(24, 80), timeout=30, encoding="utf-8")
    child.expect(r"\[a\]ccept")
    (review,) = _descendants(child.pid)
    other = sqlite3.connect(reviewed / "qcassist.db", isolation_level=None)
    child.send("a")
    child.expect("Recorded: accept")
    # the write lock held from here: a round that is still alive cannot commit a model before it is checked
    other.execute("BEGIN IMMEDIATE")
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 30
        while not _opened_by(_descendants(review), "qcassist.db") and time.monotonic() < deadline:
            time.sleep(0.02)
        workers = _descendants(review)
        assert _opened_by(workers, "qcassist.db"), "the decision started no retraining"
        os.kill(review, signal.SIGKILL)  # mid-retraining
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [pid for pid in workers if _alive(pid)], "retraining processes outlived the review"
        folders = set(os.listdir(models))
    finally:
        other.execute("ROLLBACK")
        other.close()
        child.close(force=True)
        for pid in [p for p in workers if _alive(p)]:  # a failed run leaves no orphans behind either
            os.kill(pid, signal.SIGKILL)
    time.sleep(1)
    with Store.open(reviewed) as store:
        assert store.classifier_versions() == versions
        assert [d.action for d in store.decisions()] == ["accept"]
    assert set(os.listdir(models)) == folders


def test_a_retraining_whose_session_is_gone_writes_nothing(reviewed):
    from qcassist.review.retrain import SessionGone, retrain_and_queue

    before = dump_database(reviewed)
    with pytest.raises(SessionGone):
        retrain_and_queue(reviewed, "ann", "sequential", QueueFilter(), alive=lambda: False)
    assert dump_database(reviewed) == before


def test_a_decisions_file_decides_several_codes_of_a_unit(tmp_path):
    from tests.test_review_screen import norwegian_project

    directory = tmp_path / "p"
    ids = norwegian_project(directory)
    unit = ids["Jeg fikk håp igjen."]
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"unit_id": unit, "action": "accept", "code": ["håp", "tid"]}) + "\n"
                    + json.dumps({"unit_id": unit, "action": "recode", "suggested_code": "tillit", "code": "økonomi"}) + "\n",
                    encoding="utf-8")
    with Store.open(directory) as store:
        report = apply_decisions_file(store, path, coder="ann")
        assert report.applied == {"accept": 2, "recode": 1}
        assert [(d.action, d.suggested_code, d.final_codes) for d in store.decisions()] == [
            ("accept", "håp", ("håp",)), ("accept", "tid", ("tid",)), ("recode", "tillit", ("økonomi",))]
        assert unit not in [item.unit_id for item in review_queue(store, coder="ann")]


def test_a_decisions_file_row_that_is_not_an_object_or_names_no_suggestion_is_one_error(tmp_path):
    from tests.test_review_screen import norwegian_project

    directory = tmp_path / "p"
    ids = norwegian_project(directory)
    listed = tmp_path / "list.jsonl"
    listed.write_text('[1, "accept"]\n', encoding="utf-8")
    missing = tmp_path / "missing.csv"
    missing.write_text(f"unit_id,action,code\n{ids['Jeg fikk håp igjen.']},accept,økonomi\n", encoding="utf-8")
    before = dump_database(directory)
    with Store.open(directory) as store:
        with pytest.raises(InputError, match=r"list.jsonl, line 1.*JSON list, not an object"):
            apply_decisions_file(store, listed, coder="ann")
        with pytest.raises(InputError, match=r"missing.csv, line 2.*no suggestion for code 'økonomi' to accept"):
            apply_decisions_file(store, missing, coder="ann")
    assert dump_database(directory) == before


def test_quitting_the_review_discards_an_unfinished_retraining(reviewed):
    from qcassist.review.retrain import BackgroundRetrainer

    before = dump_database(reviewed)
    retrainer = BackgroundRetrainer(reviewed, 1, "ann", "sequential")
    assert retrainer.after_decision(1) is None and retrainer.busy  # a round started; it takes seconds
    assert retrainer.close() is True
    assert not retrainer.busy
    time.sleep(0.5)
    assert dump_database(reviewed) == before
