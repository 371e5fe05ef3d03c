"""How qcassist's time and memory grow with the corpus (issue 13, item 1).

Builds corpora of about N meaning units from real text (QMSum train meetings and AnnoMI
utterances), runs the whole pipeline on each as separate ``python -m qcassist`` processes
under ``/usr/bin/time -v``, and prints per step: wall time, peak RSS, database size after
the step and units/s, then the log-log slope of time and memory between sizes (1 = linear).

Texts are recombined so that every participant sentence is distinct: each is the first part
of one real sentence spliced onto the last part of another (seeded), and every size gets a new
project, so the embedding cache never serves a text from an earlier run. Within a run, suggest
finds a unit that is one whole sentence in the cache segment filled (about a third of turns
have one sentence; the JSON records how many), as it would in a real project. Codings for train/agree are synthesised: ~2% of the
units (those naming a keyword, 1 in 20 by a hash of their text) get a code from keywords, for two coders; the second
coder takes the next code on ~1 unit in 7 so the coders disagree a little. The codebook is
multi-label: with an exclusive one, 'train' refuses units the two coders coded differently.

    .venv/bin/python benchmarks/scale.py --sizes 10000,100000 --encoder tfidf
    .venv/bin/python benchmarks/scale.py --sizes 2000 --encoder default

Timings never assert; the script only prints (and with --json-out writes) what it measured.
"""

from __future__ import annotations

import argparse
import csv
import glob
import hashlib
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QMSUM = Path("/work/shared/datasets/qmsum/train")
ANNOMI = Path("/work/shared/datasets/annomi/AnnoMI-full.dev.csv")
TURNS_PER_TRANSCRIPT = 60
UNITS_PER_TURN = 1.0  # cohesive TF-IDF segmentation keeps these 1-3 sentence turns whole (measured)

# Keyword -> code; a unit gets the first code one of whose words it contains.
CODES = {
    "time": ("time", "week", "day", "year", "hour", "month"),
    "money": ("money", "pay", "cost", "budget", "cheap", "price"),
    "people": ("people", "person", "friend", "family", "kids", "wife"),
    "technology": ("data", "system", "recogni", "model", "computer", "software"),
    "health": ("drink", "smok", "health", "doctor", "weight", "alcohol"),
    "feeling": ("feel", "worr", "happy", "afraid", "hard", "stress"),
}
STEPS = ("import", "segment", "export-units", "seed", "train", "suggest", "agree", "export-qdpx", "report")
# What a user of a large project runs besides the pipeline: timed only when named in --steps or with --extra,
# after STEPS, so a default run (and the JSON of earlier runs) stays as it was.
EXTRA_STEPS = ("status", "speakers", "units", "export-suggestions", "review", "review-decisions", "decisions-export",
               "export-codings", "disagreements", "condense", "evaluate", "themes")
REVIEW_DECISIONS = 20  # units decided by the review-decisions step (a coder's session), from the first suggested units


def clean(text: str) -> str:
    text = re.sub(r"\{[^}]*\}", "", text)  # QMSum's {disfmarker}, {vocalsound}
    text = re.sub(r" ([,.?!;:])", r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


def sentence_pool() -> tuple[list[str], list[str]]:
    """Distinct real sentences (5-40 words) and the questions among them, in a fixed order."""
    sentences: set[str] = set()
    for path in sorted(glob.glob(str(QMSUM / "*.json"))):
        for turn in json.loads(Path(path).read_text())["meeting_transcripts"]:
            sentences.update(re.split(r"(?<=[.?!])\s+", clean(turn["content"])))
    with ANNOMI.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            sentences.update(re.split(r"(?<=[.?!])\s+", clean(row["utterance_text"])))
    pool = sorted(s for s in sentences if 5 <= len(s.split()) <= 40)
    return pool, [s for s in pool if s.endswith("?")]


def spliced_sentences(pool: list[str], rng: random.Random):
    """Yield distinct sentences: the head of one real sentence joined to the tail of another."""
    seen: set[str] = set()
    while True:
        a, b = rng.sample(pool, 2)
        wa, wb = a.split(), b.split()
        head = wa[: max(2, len(wa) // 2)]
        tail = wb[len(wb) // 2 :]
        text = " ".join(head + tail)
        if text not in seen:
            seen.add(text)
            yield text


def build_corpus(directory: Path, n_units: int, seed: int) -> dict:
    """Write transcripts (.txt, Interviewer/P1 turns) for about ``n_units`` units; return corpus facts."""
    pool, questions = sentence_pool()
    rng = random.Random(seed)
    sentences = spliced_sentences(pool, rng)
    n_turns = max(1, round(n_units / UNITS_PER_TURN))
    directory.mkdir(parents=True)
    written = one_sentence = 0
    transcripts = 0
    while written < n_turns:
        lines = []
        for _ in range(min(TURNS_PER_TRANSCRIPT, n_turns - written)):
            lines.append(f"Interviewer: {rng.choice(questions)}")
            n_sentences = rng.randint(1, 3)
            lines.append("P1: " + " ".join(next(sentences) for _ in range(n_sentences)))
            written += 1
            one_sentence += n_sentences == 1
        transcripts += 1
        (directory / f"t{transcripts:06d}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"transcripts": transcripts, "participant_turns": n_turns, "one_sentence_turns": one_sentence,
            "pool_sentences": len(pool)}


def code_for(text: str) -> str | None:
    lowered = text.lower()
    for code, words in CODES.items():
        if any(w in lowered for w in words):
            return code
    return None


def write_seed(units_csv: Path, directory: Path) -> tuple[Path, Path, int]:
    """Seed spans for coders anna and bo on ~2% of units; returns both files and the unit count."""
    names = list(CODES)
    rows_a, rows_b = [], []
    with units_csv.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            digest = int(hashlib.sha256(row["text"].encode()).hexdigest()[:8], 16)
            code = code_for(row["text"])  # about 2 in 5 units name a keyword: take 1 in 20 of those
            if code is None or digest % 20:
                continue
            span = {"transcript": row["transcript"], "start": row["start"], "end": row["end"]}
            rows_a.append({**span, "code": code})
            other = names[(names.index(code) + 1) % len(names)] if digest % 7 == 0 else code
            rows_b.append({**span, "code": other})
    paths = []
    for coder, rows in (("anna", rows_a), ("bo", rows_b)):
        path = directory / f"seed_{coder}.csv"
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=["transcript", "start", "end", "code"])
            writer.writeheader()
            writer.writerows(rows)
        paths.append(path)
    return paths[0], paths[1], len(rows_a)


def count_units(units_csv: Path) -> int:
    with units_csv.open(newline="", encoding="utf-8") as f:
        return sum(1 for _ in csv.DictReader(f))


def run_step(args: list[str], env: dict, *, keys: str | None = None) -> dict:
    """One ``python -m qcassist`` process under /usr/bin/time -v: wall seconds and peak RSS (MiB).

    ``keys``: run it on a pseudo-terminal and type these once it first draws (the review screen).
    """
    # -P: not the working directory first on sys.path, so PYTHONPATH (--code) picks the checkout timed
    command = ["/usr/bin/time", "-v", sys.executable, "-P", "-m", "qcassist", *args]
    started = time.perf_counter()
    if keys is None:
        done = subprocess.run(command, env=env, capture_output=True, text=True)
    else:
        done = run_on_terminal(command, env, keys)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"qcassist {' '.join(args[:2])} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    rss_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
    cpu = sum(float(re.search(rf"{kind} time \(seconds\): ([\d.]+)", done.stderr).group(1)) for kind in ("User", "System"))
    return {"seconds": seconds, "cpu_seconds": cpu, "rss_mib": rss_kib / 1024}


def run_on_terminal(command: list[str], env: dict, keys: str) -> subprocess.CompletedProcess:
    """Run ``command`` with a pseudo-terminal as its stdin and stdout (stderr a pipe: /usr/bin/time writes there),
    and type ``keys`` after its first output: the review screen puts the terminal in cbreak mode, dropping
    what was typed before, and only then draws. Typed again if it is still running a while after."""
    import fcntl
    import pty
    import select
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))  # rows, columns
    process = subprocess.Popen(command, env=env, stdin=slave, stdout=slave, stderr=subprocess.PIPE)
    os.close(slave)
    shown, errors = bytearray(), bytearray()
    typed_at = None
    open_fds = {master, process.stderr.fileno()}
    while open_fds:
        ready, _, _ = select.select(list(open_fds), [], [], 1.0)
        for fd in ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the terminal's other end closed (EIO on Linux)
                chunk = b""
            if not chunk:
                open_fds.discard(fd)
            (shown if fd == master else errors).extend(chunk)
        if shown and process.poll() is None and (typed_at is None or time.perf_counter() - typed_at > 30):
            os.write(master, keys.encode())
            typed_at = time.perf_counter()
        if process.poll() is not None and not ready:
            break
    process.wait()
    os.close(master)
    return subprocess.CompletedProcess(command, process.returncode, shown.decode("utf-8", "replace"),
                                       errors.decode("utf-8", "replace"))


def run_size(n_units: int, *, encoder: str, seed: int, work: Path, env: dict, only: tuple[str, ...] = STEPS,
             log=print) -> dict:
    """Build a corpus of about ``n_units`` units and time every step on it (wall, CPU, peak RSS, database size).

    ``only``: the steps after seeding to run (those before it always run, to make the project). A ``work``
    folder that already holds the seeded project of an earlier run with this encoder is reused as it is.
    """
    project = work / "project"
    p = ["-p", str(project)]
    baseline = run_step(["--version"], env)["rss_mib"]  # the interpreter and qcassist's own imports
    steps: dict[str, dict] = {}
    saved = work / "seeded.json"
    if saved.exists() and json.loads(saved.read_text())["encoder"] == encoder:
        facts = json.loads(saved.read_text())
        log(f"  reusing the seeded project in {work}", flush=True)
    else:
        facts = seeded_project(n_units, encoder=encoder, seed=seed, work=work, env=env, steps=steps, log=log)
        saved.write_text(json.dumps({**facts, "encoder": encoder, "setup_steps": steps}))

    def step(name: str, args: list[str], keys: str | None = None) -> None:
        if name not in only:
            return
        steps[name] = run_step(args, env, keys=keys)
        steps[name]["db_mib"] = (project / "qcassist.db").stat().st_size / 2**20
        log(f"  {name:<18} {steps[name]['seconds']:8.1f} s  {steps[name]['cpu_seconds']:8.1f} s CPU  "
            f"{steps[name]['rss_mib']:8.0f} MiB", flush=True)

    step("train", ["train", *p, "--encoder", encoder])
    step("suggest", ["suggest", *p])
    step("agree", ["agree", *p, "--coders", "anna,bo"])
    step("export-qdpx", ["export", "qdpx", *p, str(work / "study.qdpx")])
    step("report", ["report", *p, "-o", str(work / "report.html")])
    extra_steps(step, p, work, env, only)
    return {"target": n_units, **facts, "encoder": encoder, "baseline_rss_mib": baseline, "steps": steps}


def extra_steps(step, p: list[str], work: Path, env: dict, only: tuple[str, ...]) -> None:
    """The commands besides the pipeline (EXTRA_STEPS), on the trained and suggested project, those in ``only``.

    review opens the review screen on a terminal (the queue built in the default, diverse order) and quits;
    review-decisions applies a decisions file for REVIEW_DECISIONS units, as a coder's session in a script would.
    """
    step("status", ["status", *p, "--json"])
    step("speakers", ["speakers", *p, "--json"])
    step("units", ["units", *p, "--format", "csv", "-o", str(work / "units-listing.csv"), "--force"])
    suggestions_csv = work / "suggestions.csv"
    step("export-suggestions", ["export", "suggestions", *p, "-o", str(suggestions_csv), "--force"])
    step("review", ["review", *p, "--coder", "carl"], keys="q")
    if "review-decisions" in only:
        if not suggestions_csv.exists():
            run_step(["export", "suggestions", *p, "-o", str(suggestions_csv)], env)
        decisions_csv = write_decisions(suggestions_csv, work)
        step("review-decisions", ["review", *p, "--coder", "carl", "--decisions", str(decisions_csv)])
    step("decisions-export", ["decisions", "export", *p, "-o", str(work / "decisions.csv"), "--force"])
    step("export-codings", ["export", "codings", *p, "-o", str(work / "codings.csv"), "--force"])
    step("disagreements", ["disagreements", *p, "--coders", "anna,bo", "-o", str(work / "disagreements.txt"),
                           "--force"])
    step("condense", ["condense", *p, "-o", str(work / "condensation.md"), "--force"])
    step("evaluate", ["evaluate", *p, "--json"])
    step("themes", ["themes", *p, "-o", str(work / "themes.txt"), "--force"])


def write_decisions(suggestions_csv: Path, work: Path) -> Path:
    """A decisions file for the first REVIEW_DECISIONS suggested units: accept the top suggestion of every
    other one, reject the rest's."""
    units: list[str] = []
    with suggestions_csv.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["unit_id"] not in units:
                units.append(row["unit_id"])
            if len(units) == REVIEW_DECISIONS:
                break
    path = work / "decisions-in.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["unit_id", "action"])
        writer.writerows([unit, "accept" if i % 2 == 0 else "reject"] for i, unit in enumerate(units))
    return path


def seeded_project(n_units: int, *, encoder: str, seed: int, work: Path, env: dict, steps: dict, log) -> dict:
    """Corpus, project, import, segment, export units and two coders' seed codings, timed into ``steps``."""
    corpus_dir = work / "corpus"
    project = work / "project"
    facts = build_corpus(corpus_dir, n_units, seed)
    p = ["-p", str(project)]
    run_step(["init", *p], env)
    codebook = work / "codebook.yaml"
    codebook.write_text("exclusive: false\ncodes:\n" + "".join(f"  - code: {c}\n" for c in CODES))
    files = sorted(str(f) for f in corpus_dir.glob("*.txt"))
    units_csv = work / "units.csv"

    def step(name: str, args: list[str]) -> None:
        steps[name] = run_step(args, env)
        steps[name]["db_mib"] = (project / "qcassist.db").stat().st_size / 2**20
        log(f"  {name:<18} {steps[name]['seconds']:8.1f} s  {steps[name]['cpu_seconds']:8.1f} s CPU  "
            f"{steps[name]['rss_mib']:8.0f} MiB", flush=True)

    step("import", ["import", *p, *files])
    step("segment", ["segment", *p, "--encoder", encoder])
    step("export-units", ["export", "units", *p, "-o", str(units_csv)])
    units = count_units(units_csv)
    seed_a, seed_b, seeded = write_seed(units_csv, work)
    run_step(["codebook", "import", *p, str(codebook)], env)
    started = time.perf_counter()
    a = run_step(["import-spans", *p, str(seed_a), "--coder", "anna"], env)
    b = run_step(["import-spans", *p, str(seed_b), "--coder", "bo"], env)
    steps["seed"] = {"seconds": time.perf_counter() - started, "cpu_seconds": a["cpu_seconds"] + b["cpu_seconds"], "rss_mib": max(a["rss_mib"], b["rss_mib"]),
                     "db_mib": (project / "qcassist.db").stat().st_size / 2**20}
    return {"units": units, "seeded": seeded, **facts}


def slope(x1: float, y1: float, x2: float, y2: float) -> float:
    return math.log(y2 / y1) / math.log(x2 / x1)


def print_table(results: list[dict]) -> None:
    extra = any(n in r["steps"] for r in results for n in EXTRA_STEPS)
    w = 19 if extra else 13  # room for 'export-suggestions'
    for r in results:
        print(f"\n{r['units']:,} units ({r['transcripts']:,} transcripts, {r['participant_turns']:,} participant turns, "
              f"{r['seeded']:,} seeded units per coder, encoder {r['encoder']})")
        print(f"{'step':<{w}}{'wall s':>9}{'CPU s':>9}{'units/CPU s':>13}{'peak RSS MiB':>14}{'db MiB':>9}")
        for name in (n for n in STEPS + EXTRA_STEPS if n in r["steps"]):
            s = r["steps"][name]
            print(f"{name:<{w}}{s['seconds']:>9.1f}{s['cpu_seconds']:>9.1f}{r['units'] / s['cpu_seconds']:>13,.0f}"
                  f"{s['rss_mib']:>14,.0f}{s['db_mib']:>9.1f}")
        for label, names in (("total", STEPS), ("extra total", EXTRA_STEPS)):
            timed = [r["steps"][n] for n in names if n in r["steps"]]
            if timed:  # the pipeline's total, and the extra commands' apart from it
                wall, cpu = sum(s["seconds"] for s in timed), sum(s["cpu_seconds"] for s in timed)
                print(f"{label:<{w}}{wall:>9.1f}{cpu:>9.1f}{r['units'] / cpu:>13,.0f}")
    pairs = []
    for encoder in dict.fromkeys(r["encoder"] for r in results):  # slopes only between runs of one encoder
        ordered = sorted((r for r in results if r["encoder"] == encoder), key=lambda r: r["units"])
        pairs += zip(ordered, ordered[1:])
    for small, large in pairs:
        print(f"\nlog-log slope {small['units']:,} -> {large['units']:,} units (1.0 = linear): CPU time, peak RSS, "
              "peak RSS above the interpreter with qcassist imported (qcassist --version)")
        for name in (n for n in STEPS + EXTRA_STEPS if n in small["steps"] and n in large["steps"]):
            s, l = small["steps"][name], large["steps"][name]
            above = slope(small["units"], max(s["rss_mib"] - small["baseline_rss_mib"], 1),
                          large["units"], max(l["rss_mib"] - large["baseline_rss_mib"], 1))
            print(f"{name:<{w}} CPU {slope(small['units'], s['cpu_seconds'], large['units'], l['cpu_seconds']):5.2f}"
                  f"   RSS {slope(small['units'], s['rss_mib'], large['units'], l['rss_mib']):5.2f}   RSS above baseline {above:5.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="meaning units per corpus, comma-separated")
    parser.add_argument("--encoder", default="tfidf", help="'tfidf' (size sweeps) or 'default' (MiniLM)")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--work", type=Path, help="keep the corpora and projects here (default: a temporary folder)")
    parser.add_argument("--code", type=Path, default=Path(__file__).resolve().parents[1],
                        help="the qcassist checkout to time (e.g. an older one, for before/after)")
    parser.add_argument("--steps", default=",".join(STEPS),
                        help="steps to time, comma-separated; those up to 'seed' always run when the project is made, "
                             "and a --work folder of an earlier run is reused from its seeded project; also "
                             f"these, not timed by default: {', '.join(EXTRA_STEPS)}")
    parser.add_argument("--extra", action="store_true", help="also time every one of the extra steps (after the others)")
    parser.add_argument("--json-out", type=Path, help="also write the measurements as JSON")
    parser.add_argument("--add", type=Path, action="append", default=[], help="JSON of earlier runs to tabulate with these")
    args = parser.parse_args()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(args.code.resolve()), env.get("PYTHONPATH")]))
    sizes = [int(s) for s in args.sizes.split(",") if s]
    only = tuple(s for s in args.steps.split(",") if s) + (EXTRA_STEPS if args.extra else ())
    if set(only) - set(STEPS + EXTRA_STEPS):
        parser.error(f"unknown steps {sorted(set(only) - set(STEPS + EXTRA_STEPS))}; the steps are "
                     f"{', '.join(STEPS + EXTRA_STEPS)}")
    if any(n < 1000 for n in sizes):
        parser.error("sizes below 1000 units leave some codes with a single seeded unit, and train refuses them")
    results = [r for path in args.add for r in json.loads(path.read_text())]
    root = args.work or Path(tempfile.mkdtemp(prefix="qcassist-scale-"))
    try:
        for n in sizes:
            print(f"corpus of ~{n:,} units, encoder {args.encoder}", flush=True)
            results.append(run_size(n, encoder=args.encoder, seed=args.seed, work=root / f"n{n}", env=env, only=only))
            if args.json_out:
                args.json_out.write_text(json.dumps(results, indent=1))
    finally:
        if args.work is None:
            shutil.rmtree(root, ignore_errors=True)
    print_table(results)


if __name__ == "__main__":
    main()
