"""--engine dask: real local clusters (worker processes, no mocks), a killed worker, a crashed coordinator."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sqlite3
import time
import warnings

import pytest

distributed = pytest.importorskip("distributed", reason="--engine dask needs the 'distributed' package (pip install distributed)")

from qcassist.cli import main  # noqa: E402
from qcassist.embed import CachedEncoder  # noqa: E402
from qcassist.engine import EncoderSpec, EngineError, EngineOptions, encode_with_engine  # noqa: E402
from qcassist.ingest.coded import CodedColumns  # noqa: E402
from qcassist.project import import_files, segment_project  # noqa: E402
from qcassist.seed import import_coded  # noqa: E402
from qcassist.store import Store  # noqa: E402
from qcassist.suggest import suggest, train  # noqa: E402
from qcassist.segment import SegmentOptions  # noqa: E402
from tests.conftest import HashEncoder, coded_rows, dump_database, write_coded_csv  # noqa: E402

DEMO = os.path.join(os.path.dirname(__file__), "..", "qcassist", "demo")


class SpecHashEncoder(HashEncoder):
    """The conftest hash encoder, rebuildable on a worker from its spec; ``delay`` seconds per batch."""

    def __init__(self, tag: str = "test", delay: float = 0.0):
        super().__init__()
        self.tag, self.delay = tag, delay
        self.id = f"test-hash-64-{tag}"

    def encode(self, texts):
        time.sleep(self.delay)
        return super().encode(texts)

    def engine_spec(self) -> EncoderSpec:
        return EncoderSpec("factory", self.id, model="tests.test_engine:SpecHashEncoder",
                           state={"tag": self.tag, "delay": self.delay})


def _cluster():
    with warnings.catch_warnings():  # "Port 8787 is already in use": the module's cluster holds it
        warnings.simplefilter("ignore", UserWarning)
        return distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                        dashboard_address=None, silence_logs=logging.CRITICAL)


@pytest.fixture(scope="module")
def cluster():
    """One real local cluster of two worker processes for the module; afterwards none of its processes lives on."""
    with _cluster() as running, distributed.Client(running, set_as_default=False) as client:
        pids = set(client.run(os.getpid).values())
        yield running
    time.sleep(0.5)
    assert not [pid for pid in pids if _alive(pid)], "worker processes outlived their cluster"


def _new_processes_alive(before: set[int]) -> list[int]:
    """Child processes started since ``before`` that still run (multiprocessing's resource tracker may stay)."""
    import psutil

    return [p.pid for p in psutil.Process().children(recursive=True)
            if p.pid not in before and _alive(p.pid) and "resource_tracker" not in " ".join(_cmdline(p))]


def _cmdline(process) -> list[str]:
    import psutil

    try:
        return process.cmdline()
    except psutil.Error:
        return []


def _children() -> set[int]:
    import psutil

    return {p.pid for p in psutil.Process().children(recursive=True)}


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _texts(n: int, tag: str = "") -> list[str]:
    rows = coded_rows(n_transcripts=max(1, n // 15 + 1), per_code=5, seed=len(tag))
    return [f"{tag}{i} {row['text']}" for i, row in enumerate(rows)][:n]


def _cache_rows(path) -> int:
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT count(*) FROM embeddings").fetchone()[0]
    finally:
        db.close()


def _assert_cache_holds_local_vectors(path, tag: str, texts: list[str]) -> None:
    """Every text's cached vector is byte for byte the one the encoder makes here, and nothing else is cached."""
    reader = CachedEncoder(SpecHashEncoder(tag), path)
    vectors = reader.encode(texts)
    assert reader.misses == 0
    assert vectors.tobytes() == HashEncoder().encode(texts).tobytes()
    assert _cache_rows(path) == len(set(texts))


# --- the coordinator and its workers ---------------------------------------------------------


def test_workers_load_the_encoder_once_each_and_fill_the_cache(cluster, tmp_path):
    texts = _texts(60, "once")
    cached = CachedEncoder(SpecHashEncoder("once"), tmp_path / "cache.sqlite")
    report = encode_with_engine(cached, texts + texts[:5], options=EngineOptions(scheduler=cluster.scheduler_address,
                                                                                 batch_size=4))
    assert (report.texts, report.cached, report.encoded, report.batches, report.workers) == (60, 0, 60, 15, 2)
    assert cached.encoder.calls == []  # nothing was encoded in this process
    _assert_cache_holds_local_vectors(tmp_path / "cache.sqlite", "once", texts)
    from qcassist import engine_worker

    with distributed.Client(cluster, set_as_default=False) as client:
        assert sorted(n.get("test-hash-64-once") for n in client.run(engine_worker.loads).values()) == [1, 1]


def test_a_killed_worker_loses_no_batch(tmp_path):
    texts = _texts(72, "kill")
    cached = CachedEncoder(SpecHashEncoder("kill", delay=0.15), tmp_path / "cache.sqlite")
    with _cluster() as running, distributed.Client(running, set_as_default=False) as client:
        before = client.run(os.getpid)
        killed = []

        def kill_one(report):
            if not killed:  # after the first commit: both workers are busy with further batches
                killed.append(min(before.values()))
                os.kill(killed[0], signal.SIGKILL)

        report = encode_with_engine(cached, texts, on_batch=kill_one,
                                    options=EngineOptions(scheduler=running.scheduler_address, batch_size=4))
        client.wait_for_workers(2, timeout=30)
        after = client.run(os.getpid)
    assert killed and killed[0] not in after.values() and len(after) == 2  # the nanny started a new worker
    assert (report.encoded, report.committed_batches) == (72, 18)
    _assert_cache_holds_local_vectors(tmp_path / "cache.sqlite", "kill", texts)


class CoordinatorCrash(Exception):
    pass


def test_a_rerun_after_a_coordinator_crash_encodes_only_the_rest(cluster, tmp_path):
    texts = _texts(40, "crash")
    options = EngineOptions(scheduler=cluster.scheduler_address, batch_size=5)

    def crash_after_three(report):
        if report.committed_batches == 3:
            raise CoordinatorCrash

    with pytest.raises(CoordinatorCrash):
        encode_with_engine(CachedEncoder(SpecHashEncoder("crash"), tmp_path / "cache.sqlite"), texts,
                           options=options, on_batch=crash_after_three)
    assert _cache_rows(tmp_path / "cache.sqlite") == 15  # three whole batches, committed
    again = encode_with_engine(CachedEncoder(SpecHashEncoder("crash"), tmp_path / "cache.sqlite"), texts, options=options)
    assert (again.cached, again.encoded, again.batches) == (15, 25, 5)
    _assert_cache_holds_local_vectors(tmp_path / "cache.sqlite", "crash", texts)


COORDINATOR = """
import sys, time
from qcassist.embed import CachedEncoder
from qcassist.engine import EngineOptions, encode_with_engine
from tests.test_engine import SpecHashEncoder, _texts

def after_commit(report):
    print(report.committed_batches, flush=True)
    if report.committed_batches == 2:
        time.sleep(120)  # held here, between commits, until the test kills this process

encode_with_engine(CachedEncoder(SpecHashEncoder("sigkill", delay=0.05), sys.argv[2]), _texts(40, "sigkill"),
                   options=EngineOptions(scheduler=sys.argv[1], batch_size=5), on_batch=after_commit)
"""


def test_a_coordinator_killed_mid_run_keeps_its_commits_and_the_rerun_encodes_the_rest(cluster, tmp_path):
    import subprocess
    import sys

    root = os.path.join(os.path.dirname(__file__), "..")
    path = tmp_path / "cache.sqlite"
    coordinator = subprocess.Popen([sys.executable, "-c", COORDINATOR, cluster.scheduler_address, str(path)],
                                   cwd=root, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                   env=dict(os.environ, PYTHONPATH=os.path.abspath(root)))
    try:
        for line in coordinator.stdout:
            if line.strip() == "2":
                coordinator.send_signal(signal.SIGKILL)  # no clean-up runs: a power cut of the coordinator
                break
    finally:
        coordinator.kill()
        coordinator.wait(timeout=30)
    assert _cache_rows(path) == 10  # the two batches committed before the kill, and nothing of the others
    texts = _texts(40, "sigkill")
    again = encode_with_engine(CachedEncoder(SpecHashEncoder("sigkill"), path), texts,
                               options=EngineOptions(scheduler=cluster.scheduler_address, batch_size=5))
    assert (again.cached, again.encoded) == (10, 30)
    _assert_cache_holds_local_vectors(path, "sigkill", texts)


def test_an_encoder_a_worker_cannot_rebuild_is_refused_before_any_cluster(tmp_path):
    with pytest.raises(EngineError, match="cannot be rebuilt on a Dask worker"):
        encode_with_engine(CachedEncoder(HashEncoder(), tmp_path / "cache.sqlite"), ["a text"],
                           options=EngineOptions(scheduler="tcp://127.0.0.1:9"))


def test_an_unreachable_scheduler_is_one_sentence(tmp_path):
    with pytest.raises(EngineError, match=r"cannot reach the Dask scheduler at tcp://127.0.0.1:9 .*'dask scheduler'"):
        encode_with_engine(CachedEncoder(SpecHashEncoder("gone"), tmp_path / "cache.sqlite"), ["a text"],
                           options=EngineOptions(scheduler="tcp://127.0.0.1:9", connect_timeout=1))


def test_a_worker_with_another_model_is_refused(cluster, tmp_path):
    spec = EncoderSpec("factory", "some-other-model", model="tests.test_engine:SpecHashEncoder", state={"tag": "x"})

    class Claims(SpecHashEncoder):
        def engine_spec(self):
            return spec

    with pytest.raises(EngineError, match="rebuilt the encoder as test-hash-64-x, not some-other-model"):
        encode_with_engine(CachedEncoder(Claims("x"), tmp_path / "cache.sqlite"), ["a text"],
                           options=EngineOptions(scheduler=cluster.scheduler_address))
    assert not (tmp_path / "cache.sqlite").exists() or _cache_rows(tmp_path / "cache.sqlite") == 0


# --- the commands: the same rows as the local path -------------------------------------------


def _rows(directory, sql: str) -> list[tuple]:
    db = sqlite3.connect(directory / "qcassist.db")
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def _no_encoding_here(monkeypatch) -> None:
    """From now on TF-IDF encoding fails in this process (the coordinator); worker processes are not patched."""
    def refuse(self, texts):
        raise AssertionError(f"the coordinator encoded {len(texts)} texts itself")

    monkeypatch.setattr("qcassist.embed.TfidfEncoder.encode", refuse)


SUGGESTIONS = ("SELECT unit_id, code, probability, model_version, source, rationale FROM suggestions "
               "ORDER BY unit_id, code")


def test_suggest_on_a_local_dask_cluster_stores_the_same_suggestions(runner, tmp_path, monkeypatch):
    seed = tmp_path / "seed.csv"
    rows = coded_rows(n_transcripts=4, per_code=6)
    for row in rows[::4]:
        row["code"] = ""
    write_coded_csv(seed, rows)
    local, dask = tmp_path / "local", tmp_path / "dask"
    Store.create(local).close()
    with Store.open(local) as store:
        import_coded(store, seed, coder="anna", columns=CodedColumns(order="order"))
        train(store, encoder="tfidf")
    shutil.copytree(local, dask)
    with Store.open(local) as store:
        suggest(store)
    _no_encoding_here(monkeypatch)
    children = _children()
    result = runner.invoke(main, ["suggest", "-p", str(dask), "--engine", "dask", "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert _new_processes_alive(children) == []  # the command's local cluster is gone with it
    assert _rows(dask, SUGGESTIONS) == _rows(local, SUGGESTIONS) != []
    setting = "SELECT value FROM settings WHERE key = 'suggest.skipped_units'"
    assert _rows(dask, setting) == _rows(local, setting)


def test_segment_with_the_engine_cuts_the_same_units(cluster, runner, tmp_path, monkeypatch):
    local, dask, cli = tmp_path / "local", tmp_path / "dask", tmp_path / "cli"
    Store.create(local).close()
    with Store.open(local) as store:
        import_files(store, [os.path.join(DEMO, "interview_01.txt"), os.path.join(DEMO, "interview_02.txt")])
    shutil.copytree(local, dask)
    shutil.copytree(local, cli)
    with Store.open(local) as store:
        segment_project(store, encoder="tfidf", options=SegmentOptions())
    _no_encoding_here(monkeypatch)
    with Store.open(dask) as store:
        segment_project(store, encoder="tfidf", options=SegmentOptions(),
                        engine=EngineOptions(scheduler=cluster.scheduler_address, batch_size=16))
    result = runner.invoke(main, ["segment", "-p", str(cli), "--encoder", "tfidf", "--engine", "dask",
                                  "--scheduler", cluster.scheduler_address])
    assert result.exit_code == 0, result.output
    units = "SELECT id, transcript_id, start, \"end\", turn_idx, speaker FROM units ORDER BY id"
    segmentation = "SELECT segmentation FROM transcripts ORDER BY id"
    for engine in (dask, cli):
        assert _rows(engine, units) == _rows(local, units) != []
        assert _rows(engine, segmentation) == _rows(local, segmentation)


def test_scheduler_without_engine_dask_is_refused_and_changes_nothing(runner, project):
    before = dump_database(project)
    result = runner.invoke(main, ["segment", "-p", str(project), "--scheduler", "tcp://127.0.0.1:8786"])
    assert result.exit_code == 2 and result.output == "Error: --scheduler ADDRESS needs --engine dask.\n"
    assert dump_database(project) == before


def test_the_packaged_minilm_encodes_the_same_on_a_worker(tmp_path):
    from qcassist.embed import SentenceTransformerEncoder

    texts = ["I trust the nurse.", "The rent is too high.", "The bus never comes on time.", "I have hope now."]
    cached = CachedEncoder(SentenceTransformerEncoder(), tmp_path / "cache.sqlite")
    # one worker (the library's own local cluster): the model is loaded there and here, not in two workers
    report = encode_with_engine(cached, texts, options=EngineOptions(workers=1, batch_size=2))
    assert (report.workers, report.encoded, report.batches) == (1, 4, 2)
    remote = CachedEncoder(SentenceTransformerEncoder(), tmp_path / "cache.sqlite").encode(texts)
    here = SentenceTransformerEncoder().encode(texts)
    assert remote.shape == here.shape == (4, 384)
    assert abs(remote - here).max() < 1e-5  # batches of 2 there, of 4 here: padding may move the last bits
