"""Throughput of --engine dask: the packaged MiniLM on real AnnoMI utterances, here and on 1 and 2 workers.

    PYTHONPATH=. HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/engine_throughput.py            # 2,000 utterances
    PYTHONPATH=. HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/engine_throughput.py --n 500

Rows, all on the same texts in one run, each into an empty embedding cache:
- local: CachedEncoder.encode in this process (what segment/suggest do without --engine;
  torch uses every core it sees), model loaded before the clock starts;
- dask 1 / dask 2: encode_with_engine on a local cluster of 1 or 2 worker processes, one
  thread each. "setup" is starting the cluster and loading the model in every worker; units/s
  counts only the encoding after it (what a long run converges to).
The last line is the 2-worker / 1-worker ratio of units/s. Not a timed assertion: a table.
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
    started = time.perf_counter()
    CachedEncoder(encoder, folder / "local.sqlite").encode(texts)
    seconds = time.perf_counter() - started
    return {"path": "local (no engine)", "setup": setup, "encode": seconds, "units_s": len(texts) / seconds}


def engine_row(texts: list[str], folder: Path, workers: int, batch_size: int) -> dict:
    cached = CachedEncoder(SentenceTransformerEncoder(), folder / f"dask{workers}.sqlite")
    report = encode_with_engine(cached, texts, options=EngineOptions(workers=workers, batch_size=batch_size))
    assert report.encoded == len(texts), report
    encode = report.seconds - report.setup_seconds
    return {"path": f"dask, {workers} worker{'s' if workers > 1 else ''} x 1 thread", "setup": report.setup_seconds,
            "encode": encode, "units_s": len(texts) / encode}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="utterances (default 2000)")
    parser.add_argument("--batch-size", type=int, default=64, help="texts per engine batch (default 64)")
    args = parser.parse_args()
    texts = annomi_utterances(ANNOMI, args.n)
    print(f"{len(texts)} AnnoMI utterances ({sum(map(len, texts)) / len(texts):.0f} characters on average), "
          f"{os.cpu_count()} CPUs seen, load average {os.getloadavg()[0]:.1f} at the start")
    print(f"| {'path':<28} | {'setup s':>8} | {'encode s':>8} | {'units/s':>8} |")
    print(f"|{'-' * 30}|{'-' * 9}:|{'-' * 9}:|{'-' * 9}:|", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for run in (lambda: local_row(texts, Path(folder)),
                    lambda: engine_row(texts, Path(folder), 1, args.batch_size),
                    lambda: engine_row(texts, Path(folder), 2, args.batch_size)):
            rows.append(run())
            row = rows[-1]
            print(f"| {row['path']:<28} | {row['setup']:>8.1f} | {row['encode']:>8.1f} | {row['units_s']:>8.1f} |",
                  flush=True)
    print(f"2 workers / 1 worker: {rows[2]['units_s'] / rows[1]['units_s']:.2f}x units/s; "
          f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
