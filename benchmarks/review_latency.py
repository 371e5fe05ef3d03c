"""Review latency: time from a keypress that decides to the next unit drawn, with 10,000 labelled units.

Builds a synthetic project (10,000 coded units plus uncoded ones to review, TF-IDF
encoder so that it needs no model weights), trains and suggests, then drives the real
review loop (``qcassist.review.screen.run_review``) with scripted keys while the
background retrainer runs every ``--retrain-every`` decisions, and prints latency
percentiles. The target is p95 < 100 ms.

    .venv/bin/python benchmarks/review_latency.py [--labelled 10000] [--decisions 300]
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import sys
import tempfile
import time
from pathlib import Path

WORDS = {
    "trust": "trust listened kind believed respect honest warm patient".split(),
    "money": "rent debt bank money bills benefit loan wages".split(),
    "access": "waiting bus appointment phone queue referral letter form".split(),
    "family": "sister mother son father daughter wife home children".split(),
}
FILLER = "the team really and then we it was very so but just".split()


def synthetic_csv(path: Path, labelled: int, unlabelled: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    codes = list(WORDS)
    per_transcript = 100
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["transcript", "order", "speaker", "text", "code"])
        for i in range(labelled + unlabelled):
            code = codes[i % len(codes)]
            text = " ".join(rng.choice(WORDS[code]) if rng.random() < 0.5 else rng.choice(FILLER) for _ in range(12))
            writer.writerow([f"t{i // per_transcript:04d}", i % per_transcript, "P", text.capitalize() + ".",
                             code if i < labelled else ""])


class ScriptedKeys:
    """Keys from a script, paced like a fast reviewer."""

    def __init__(self, keys: str, pause: float):
        self.keys = list(keys)
        self.pause = pause

    def read(self) -> str:
        time.sleep(self.pause)
        return self.keys.pop(0) if self.keys else "q"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labelled", type=int, default=10_000)
    parser.add_argument("--unlabelled", type=int, default=1_000)
    parser.add_argument("--decisions", type=int, default=300)
    parser.add_argument("--retrain-every", type=int, default=25)
    parser.add_argument("--pause", type=float, default=0.2, help="seconds between keys (a fast reviewer)")
    args = parser.parse_args(argv)

    from qcassist.decisions import QueueFilter, review_queue
    from qcassist.ingest.coded import CodedColumns
    from qcassist.review.retrain import BackgroundRetrainer
    from qcassist.review.screen import run_review
    from qcassist.seed import import_coded
    from qcassist.store import Store
    from qcassist.suggest import suggest, train

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "project"
        seed = Path(tmp) / "seed.csv"
        synthetic_csv(seed, args.labelled, args.unlabelled)
        started = time.perf_counter()
        with Store.create(directory) as store:
            import_coded(store, seed, coder="seed", columns=CodedColumns(order="order"))
            train_started = time.perf_counter()
            train(store, encoder="tfidf")
            train_seconds = time.perf_counter() - train_started
            suggest(store)
        setup_seconds = time.perf_counter() - started
        rng = random.Random(1)
        keys = "".join(rng.choice("aaar") for _ in range(args.decisions))
        with Store.open(directory) as store:
            queue = review_queue(store, coder="bench", strategy="sequential")
            retrainer = BackgroundRetrainer(directory, args.retrain_every, "bench", "sequential", QueueFilter())
            state = run_review(store, queue, coder="bench", keys=ScriptedKeys(keys, args.pause), out=io.StringIO(),
                               on_decision=retrainer.after_decision)
            retrainer.wait(600)
            retrainer.close()
            recorded = len(store.decisions(coder="bench"))
    latencies = sorted(state.latencies[:-1])  # the last is the quit key
    ms = [x * 1000 for x in latencies]

    def pct(p: float) -> float:
        return ms[min(len(ms) - 1, int(round(p / 100 * (len(ms) - 1))))]

    print(f"review latency with {args.labelled:,} labelled units, {args.unlabelled:,} to review "
          f"(TF-IDF encoder; setup {setup_seconds:.0f} s, of which one training {train_seconds:.1f} s)")
    print(f"{len(ms)} decisions, {args.pause * 1000:.0f} ms between keys, background retrain every "
          f"{args.retrain_every} decisions: {retrainer.rounds} rounds finished"
          + (f", last error: {retrainer.error}" if retrainer.error else ""))
    print(f"key → next unit drawn: p50 {pct(50):.1f} ms, p95 {pct(95):.1f} ms, p99 {pct(99):.1f} ms, max {ms[-1]:.1f} ms")
    print(f"target p95 < 100 ms: {'met' if pct(95) < 100 else 'NOT met'}; decisions in the database: {recorded}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
