"""Throughput of --engine dask: the packaged MiniLM on real AnnoMI utterances, here and on 1 and 2 workers.

    PYTHONPATH=. HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/engine_throughput.py            # 2,000 utterances
    PYTHONPATH=. HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/engine_throughput.py --n 500

Rows, all on the same texts in one run, each into an empty embedding cache:
- local: CachedEncoder.encode in this process (what segment/suggest do without --engine;
  torch uses every core it sees), model loaded before the clock starts;
- dask 1 / dask 2: encode_with_engine on a local cluster of 1 or 2 worker processes, one
  thread each, texts in batches of --batch-size. "setup" is from the call until the first batch
  is committed (connecting, loading the model in every worker, the first batch); units/s and
  units per CPU-second count only what follows (what a long run converges to).
units/CPU-s divides by the CPU time the encoding processes used (this process for local, the
workers for dask): on a machine shared with other work, wall-clock rates say how busy it was,
CPU rates say what a dedicated core delivers. The last lines give the 2-worker / 1-worker ratio
of units/s, and units per CPU-second per worker. Not a timed assertion: a table.
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
from pathlib import Path

from qcassist.embed import CachedEncoder, SentenceTransformerEncoder
from qcassist.engine import EngineOptions, encode_with_engine

ANNOMI = Path(os.environ.get("QCASSIST_ANNOMI", "/work/shared/datasets/annomi/AnnoMI-simple.dev.csv"))


def annomi_utterances(path: Path, n: int) -> list[str]:
    """The first n distinct utterance texts (distinct, so nothing is a cache hit)."""
    texts: dict[str, None] = {}
    with open(path, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            text = row["utterance_text"].strip()
            if text:
                texts.setdefault(text)
                if len(texts) == n:
                    break
    return list(texts)


def local_row(texts: list[str], folder: Path) -> dict:
    encoder = SentenceTransformerEncoder()
    started = time.perf_counter()
    encoder.encode(["load the model"])
    setup = time.perf_counter() - started
    started, cpu = time.perf_counter(), time.process_time()
    CachedEncoder(encoder, folder / "local.sqlite").encode(texts)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"path": "local (no engine)", "setup": setup, "encode": seconds, "units_s": len(texts) / seconds,
            "units_cpu_s": len(texts) / cpu}


def engine_row(texts: list[str], folder: Path, workers: int, batch_size: int) -> dict:
    """Steady state: from the first committed batch (cluster up, model loaded everywhere) to the last."""
    import logging

    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
            Client(cluster, set_as_default=False) as client:
        first: dict = {}

        def at_commit(report) -> None:
            if not first:
                first.update(units=report.encoded, at=time.perf_counter(), cpu=_worker_cpu(client))

        cached = CachedEncoder(SentenceTransformerEncoder(), folder / f"dask{workers}.sqlite")
        started = time.perf_counter()
        report = encode_with_engine(cached, texts, on_batch=at_commit,
                                    options=EngineOptions(scheduler=cluster.scheduler_address, batch_size=batch_size))
        ended, cpu = time.perf_counter(), _worker_cpu(client) - first["cpu"]
    assert report.encoded == len(texts), report
    units = len(texts) - first["units"]
    return {"path": f"dask, {workers} worker{'s' if workers > 1 else ''} x 1 thread", "setup": first["at"] - started,
            "encode": ended - first["at"], "units_s": units / (ended - first["at"]), "units_cpu_s": units / cpu}


def _worker_cpu(client) -> float:
    """CPU seconds the worker processes have used so far, all together."""
    import psutil

    def used() -> float:
        times = psutil.Process().cpu_times()
        return times.user + times.system

    return sum(client.run(used).values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="utterances (default 2000)")
    parser.add_argument("--batch-size", type=int, default=64, help="texts per engine batch (default 64)")
    args = parser.parse_args()
    texts = annomi_utterances(ANNOMI, args.n)
    print(f"{len(texts)} AnnoMI utterances ({sum(map(len, texts)) / len(texts):.0f} characters on average), "
          f"{os.cpu_count()} CPUs seen, load average {os.getloadavg()[0]:.1f} at the start")
    print(f"| {'path':<28} | {'setup s':>8} | {'encode s':>8} | {'units/s':>8} | {'units/CPU-s':>11} |")
    print(f"|{'-' * 30}|{'-' * 9}:|{'-' * 9}:|{'-' * 9}:|{'-' * 12}:|", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for run in (lambda: local_row(texts, Path(folder)),
                    lambda: engine_row(texts, Path(folder), 1, args.batch_size),
                    lambda: engine_row(texts, Path(folder), 2, args.batch_size)):
            rows.append(run())
            row = rows[-1]
            print(f"| {row['path']:<28} | {row['setup']:>8.1f} | {row['encode']:>8.1f} | {row['units_s']:>8.1f} "
                  f"| {row['units_cpu_s']:>11.1f} |", flush=True)
    print(f"2 workers / 1 worker: {rows[2]['units_s'] / rows[1]['units_s']:.2f}x units/s; "
          f"load average {os.getloadavg()[0]:.1f} at the end")
    print(f"units per CPU-second of a worker (what one dedicated core gives): {rows[1]['units_cpu_s']:.1f} with 1 "
          f"worker, {rows[2]['units_cpu_s']:.1f} with 2")


if __name__ == "__main__":
    main()
