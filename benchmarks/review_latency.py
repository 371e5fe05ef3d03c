"""Review latency: time from a keypress that decides to the next unit drawn, while retraining runs in the background.

Three modes, each driving the real review loop (``qcassist.review.screen.run_review``) with
scripted keys (3 accepts to 1 reject) beside ``BackgroundRetrainer``, as ``qcassist review`` does:
- tfidf (default): a synthetic project of 10,000 coded units (TF-IDF encoder, no model weights),
  retrained and re-suggested every ``--retrain-every`` decisions;
- refine: the first ``--transcripts`` AnnoMI dev transcripts, therapist utterances coded with their
  expert labels except in the last ``--review-transcripts`` (the units to review), a fast model on
  the packaged MiniLM, and ``review --refine``'s full fine-tune running in the background from the
  first key; the review goes on until the fine-tune has finished and ``--after`` more keys;
- head: the same project with a fine-tuned latest model, so that every-N retraining refits only
  its head on the body's vectors (the head refit is also timed alone, before the review).
Prints latency percentiles (all decisions, and split by what ran in the background), the
background rounds and their seconds, and the load average. The target is p95 < 100 ms.
The AnnoMI projects are built in a separate process, so that the review process imports no
torch, as in ``qcassist review``.

    .venv/bin/python benchmarks/review_latency.py [--labelled 10000] [--decisions 300]
    .venv/bin/python benchmarks/review_latency.py --mode refine [--transcripts 16 --epochs 2]
    .venv/bin/python benchmarks/review_latency.py --mode head [--transcripts 16 --epochs 1]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import multiprocessing
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
ANNOMI_COLUMNS = dict(text="utterance_text", codes="code", transcript="transcript_id", order="utterance_id",
                      speaker="interlocutor")


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


def annomi_csv(path: Path, transcripts: int, review_transcripts: int) -> dict:
    """AnnoMI's therapist task for the first ``transcripts`` transcripts, the last ``review_transcripts`` left uncoded."""
    from suggest_annomi import COLUMNS, DATA_DIR, task_rows  # this folder is on sys.path when run as a script

    rows = task_rows("therapist", DATA_DIR, transcripts)
    names = list(dict.fromkeys(row["transcript_id"] for row in rows))
    to_review = set(names[len(names) - review_transcripts:])
    for row in rows:
        if row["transcript_id"] in to_review:
            row["code"] = ""
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=[*COLUMNS, "code"])
        writer.writeheader()
        writer.writerows(rows)
    units = [row for row in rows if row["interlocutor"] == "therapist"]
    return {"transcripts": len(names), "coded": sum(1 for row in units if row["code"]),
            "to_review": sum(1 for row in units if row["transcript_id"] in to_review)}


def build_tfidf(directory: Path, args) -> dict:
    from qcassist.ingest.coded import CodedColumns
    from qcassist.seed import import_coded
    from qcassist.store import Store
    from qcassist.suggest import suggest, train

    seed = directory.parent / "seed.csv"
    synthetic_csv(seed, args.labelled, args.unlabelled)
    with Store.create(directory) as store:
        import_coded(store, seed, coder="seed", columns=CodedColumns(order="order"))
        started = time.perf_counter()
        train(store, encoder="tfidf")
        info = {"train_s": time.perf_counter() - started}
        suggest(store)
    return info


def build_annomi(directory: Path, args, out: Path) -> None:
    """The AnnoMI project for refine/head (run in its own process); its figures go to ``out`` as JSON."""
    from qcassist.ingest.coded import CodedColumns
    from qcassist.seed import import_coded
    from qcassist.store import Store
    from qcassist.suggest import suggest, train
    from qcassist.training import train_head

    seed = directory.parent / "seed.csv"
    info = annomi_csv(seed, args.transcripts, args.review_transcripts)
    with Store.create(directory) as store:
        import_coded(store, seed, coder="expert", columns=CodedColumns(**ANNOMI_COLUMNS),
                     where=[("interlocutor", "therapist")])
        started = time.perf_counter()
        train(store)  # fast, on the packaged MiniLM
        info["train_s"] = time.perf_counter() - started
        if args.mode == "head":
            started = time.perf_counter()
            train(store, method="finetuned", finetune=finetune_options(args))
            info["finetune_s"] = time.perf_counter() - started
            started = time.perf_counter()
            train_head(store)  # what each every-N round does first, timed alone
            info["head_refit_s"] = time.perf_counter() - started
        started = time.perf_counter()
        suggest(store)  # what each every-N round does next
        info["suggest_s"] = time.perf_counter() - started
    out.write_text(json.dumps(info))


def finetune_options(args) -> dict:
    return {"epochs": args.epochs, "max_minutes": args.max_minutes}


class ScriptedKeys:
    """Keys from a script, paced like a fast reviewer; ``before`` is called before each key, ``stop`` may end early."""

    def __init__(self, keys: str, pause: float, before=lambda: None, stop=lambda: False):
        self.keys = list(keys)
        self.pause = pause
        self.before = before
        self.stop = stop

    def read(self) -> str:
        time.sleep(self.pause)
        if not self.keys or self.stop():
            return "q"
        self.before()
        return self.keys.pop(0)


class Probe:
    """Per key: what ran in the background when it was pressed, and whether it recorded a decision."""

    def __init__(self, retrainer, refining: bool):
        self.retrainer = retrainer
        self.refining = refining  # the first round is --refine's fine-tune
        self.phases: list[str] = []
        self.decided: list[bool] = []
        self.refine_done_at: int | None = None  # the decision that collected the fine-tune's result
        self.refine_error: str | None = None

    def before_key(self) -> None:
        refine_running = self.refining and not self.retrainer.seconds
        self.phases.append("refine" if self.retrainer.busy and refine_running else
                           "round" if self.retrainer.busy else "idle")
        self.decided.append(False)

    def after_decision(self, reviewed: int):
        self.decided[-1] = True
        queue = self.retrainer.after_decision(reviewed)
        if self.refining and self.refine_done_at is None and self.retrainer.seconds:
            self.refine_done_at = reviewed
            self.refine_error = self.retrainer.error  # None: the fine-tuned model's queue was handed over
        return queue

    def keys_after_refine(self) -> int:
        return 0 if self.refine_done_at is None else sum(self.decided) - self.refine_done_at

    def queue_done(self, keys: int = 10) -> bool:
        """The last ``keys`` keys recorded nothing: the queue is used up."""
        return len(self.decided) >= keys and not any(self.decided[-keys:])


def percentiles(seconds: list[float]) -> str:
    if not seconds:
        return "none"
    ms = sorted(x * 1000 for x in seconds)

    def pct(p: float) -> float:
        return ms[min(len(ms) - 1, int(round(p / 100 * (len(ms) - 1))))]

    return f"p50 {pct(50):.1f} ms, p95 {pct(95):.1f} ms, p99 {pct(99):.1f} ms, max {ms[-1]:.1f} ms ({len(ms)} keys)"


def p95(seconds: list[float]) -> float:
    ms = sorted(x * 1000 for x in seconds)
    return ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))] if ms else 0.0


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def build(directory: Path, args) -> dict:
    if args.mode == "tfidf":
        return build_tfidf(directory, args)
    out = directory.parent / "setup.json"
    process = multiprocessing.get_context("spawn").Process(target=build_annomi, args=(directory, args, out))
    process.start()
    process.join()
    if process.exitcode != 0:
        raise SystemExit(f"building the AnnoMI project failed (exit code {process.exitcode})")
    return json.loads(out.read_text())


def review(directory: Path, args):
    """Drive the review loop with scripted keys beside the background retrainer; (state, probe, retrainer, recorded)."""
    from qcassist.decisions import QueueFilter, review_queue
    from qcassist.review.retrain import BackgroundRetrainer
    from qcassist.review.screen import run_review
    from qcassist.store import Store

    rng = random.Random(1)
    keys = "".join(rng.choice("aaar") for _ in range(args.decisions))
    with Store.open(directory) as store:
        queue = review_queue(store, coder="bench", strategy="sequential")
        retrainer = BackgroundRetrainer(directory, args.retrain_every, "bench", "sequential", QueueFilter())
        probe = Probe(retrainer, refining=args.mode == "refine")
        after_refine = (lambda: probe.keys_after_refine() >= args.after) if args.mode == "refine" else (lambda: False)
        stop = lambda: after_refine() or probe.queue_done()  # noqa: E731
        if args.mode == "refine":
            retrainer.refine(finetune=finetune_options(args))
        try:
            state = run_review(store, queue, coder="bench", keys=ScriptedKeys(keys, args.pause, probe.before_key, stop),
                               out=io.StringIO(), on_decision=probe.after_decision)
            still_running = retrainer.busy
            retrainer.wait(600)
        finally:
            retrainer.close()
        recorded = len(store.decisions(coder="bench"))
    return state, probe, retrainer, still_running, recorded


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("tfidf", "refine", "head"), default="tfidf")
    parser.add_argument("--labelled", type=int, default=10_000, help="tfidf: coded synthetic units")
    parser.add_argument("--unlabelled", type=int, default=1_000, help="tfidf: synthetic units to review")
    parser.add_argument("--transcripts", type=int, default=16, help="refine/head: the first AnnoMI dev transcripts")
    parser.add_argument("--review-transcripts", type=int, default=6, help="refine/head: of those, left uncoded")
    parser.add_argument("--epochs", type=int, default=2, help="refine/head: fine-tuning epochs")
    parser.add_argument("--max-minutes", type=float, default=None, help="refine/head: fine-tuning budget")
    parser.add_argument("--after", type=int, default=30, help="refine: decisions once the fine-tune is done")
    parser.add_argument("--decisions", type=int, default=300, help="at most this many keys")
    parser.add_argument("--retrain-every", type=int, default=25)
    parser.add_argument("--pause", type=float, default=0.2, help="seconds between keys (a fast reviewer)")
    args = parser.parse_args(argv)

    load_before = loadavg()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "project"
        started = time.perf_counter()
        info = build(directory, args)
        setup_seconds = time.perf_counter() - started
        state, probe, retrainer, still_running, recorded = review(directory, args)
    keys = list(zip(state.latencies, probe.phases, probe.decided))  # the quit key drew nothing after a key
    decided = [latency for latency, _, was in keys if was]
    report(args, info, setup_seconds, keys, decided, probe, retrainer, still_running, recorded, load_before)
    return 0


def report(args, info, setup_seconds, keys, decided, probe, retrainer, still_running, recorded, load_before) -> None:
    if args.mode == "tfidf":
        print(f"review latency with {args.labelled:,} labelled units, {args.unlabelled:,} to review "
              f"(TF-IDF encoder; setup {setup_seconds:.0f} s, of which one training {info['train_s']:.1f} s)")
    else:
        print(f"review latency, {args.mode} mode: AnnoMI therapist task, {info['transcripts']} dev transcripts, "
              f"{info['coded']} units coded by the experts, {info['to_review']} to review (packaged MiniLM; setup "
              f"{setup_seconds:.0f} s: fast training {info['train_s']:.1f} s"
              + (f", fine-tuning {info['finetune_s']:.0f} s, head refit alone {info['head_refit_s']:.1f} s"
                 if args.mode == "head" else "") + f", suggest {info['suggest_s']:.1f} s" + f"); fine-tuning epochs {args.epochs}, max minutes {args.max_minutes}")
    print(f"{len(decided)} decisions, {args.pause * 1000:.0f} ms between keys, background retrain every "
          f"{args.retrain_every} decisions: {retrainer.rounds} rounds finished, seconds each (start to hand-over): "
          + ", ".join(f"{s:.1f}" for s in retrainer.seconds)
          + (f"; last error: {retrainer.error}" if retrainer.error else ""))
    if args.mode == "refine":
        done = probe.refine_done_at
        print("the --refine fine-tune " + ("did NOT finish during the run" if done is None else
              f"FAILED at decision {done}: {probe.refine_error}" if probe.refine_error else
              f"finished during the run, handed over at decision {done}") + ("; a round was still running at the end" if still_running else ""))
    print(f"key → next unit drawn, every decision: {percentiles(decided)}")
    for phase, what in (("refine", "while the --refine fine-tune ran"), ("round", "while an every-N round ran"),
                        ("idle", "with nothing running")):
        subset = [latency for latency, was_phase, was in keys if was and was_phase == phase]
        if subset:
            print(f"  {what}: {percentiles(subset)}")
    print(f"target p95 < 100 ms: {'met' if p95(decided) < 100 else 'NOT met'}; decisions in the database: {recorded}; "
          f"torch imported by the review process: {'yes' if 'torch' in sys.modules else 'no'}")
    print(f"load average before {load_before}, after {loadavg()} (2 cores shared with other work: contention inflates these)")


if __name__ == "__main__":
    sys.exit(main())
