"""Code-suggestion benchmark on AnnoMI (expert-coded counselling transcripts), via the product's own path.

Four tasks, each imported with ``import_coded`` into a temporary project (one row a unit; the other
speaker's rows are context turns):
- therapist: main therapist behaviour (AnnoMI-simple.dev.csv), client: client talk type (same file);
- reflection: reflection subtype simple/complex, question: question subtype open/closed, on the therapist
  utterances that have one (AnnoMI-full.dev.csv; the 5 transcripts coded by every annotator take the
  annotators' majority, as AnnoMI-simple does for the two main columns; a tie leaves the utterance out).
For each task and method (fast: frozen encoder + head; finetuned: the tuned body's vectors + head;
network: the tuned network's own head; setfit / setfit-combined: as finetuned / combined, with the body tuned
contrastively, SetFit-style, ``FineTuneOptions(objective="contrastive")``) grouped 5-fold cross-validation by transcript
(``qcassist.evaluation``): kappa, macro-F1, per-code F1, ECE, the auto-accept tier (coverage at
precision >= 0.90); the TF-IDF + logistic regression baseline on the same folds (``qcassist.baseline``);
kappa with 32 labels per code (therapist); cross-validation and training seconds and peak memory; and
``suggest`` end to end against the raw encoder on the same inputs (unit texts for fast, the (unit,
context) pair strings for fine-tuned), each target of issue 12 met or not.

    .venv/bin/python benchmarks/suggest_annomi.py                                  # every task and method
    .venv/bin/python benchmarks/suggest_annomi.py --task therapist --method fast --no-learning-curve
    .venv/bin/python benchmarks/suggest_annomi.py --task client --method finetuned --folds-only 1 --epochs 1
    .venv/bin/python benchmarks/suggest_annomi.py --task therapist --method fast,setfit --per-code 32 --seeds 3 --no-train

Tuning happens on nothing but the dev files; 34 more transcripts are held out elsewhere.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import sys
import tempfile
import time
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

DATA_DIR = Path(os.environ.get("QCASSIST_ANNOMI_DIR", "/work/shared/datasets/annomi"))
SIMPLE, FULL = "AnnoMI-simple.dev.csv", "AnnoMI-full.dev.csv"
METHODS = ("fast", "finetuned", "combined", "network", "setfit", "setfit-combined")
# benchmark name -> (cross_validate's method, the fine-tuning objective): setfit reads the contrastively tuned body
CV_METHOD = {"setfit": ("finetuned", "contrastive"), "setfit-combined": ("combined", "contrastive")}
ECE_TARGET = 0.05
AUTO_ACCEPT_PRECISION = 0.90
TASKS = {
    "therapist": {"file": SIMPLE, "column": "main_therapist_behaviour", "where": "therapist",
                  "reference": "experts agree at kappa 0.74; fine-tuned RoBERTa (published) macro-F1 0.81",
                  "targets": {"kappa": 0.76, "macro_f1": 0.80, "kappa_at_32": 0.65}},
    "client": {"file": SIMPLE, "column": "client_talk_type", "where": "client",
               "reference": "experts agree at kappa 0.47; best published text-only systems macro-F1 ~0.58-0.60",
               "targets": {"kappa": 0.45, "macro_f1": 0.60, "auto_accept": 0.30}},
    "reflection": {"file": FULL, "column": "reflection_subtype", "where": "therapist",
                   "reference": "no per-scheme tuning: fast vs fine-tuned", "targets": {}},
    "question": {"file": FULL, "column": "question_subtype", "where": "therapist",
                 "reference": "no per-scheme tuning: fast vs fine-tuned", "targets": {}},
}
NONE = {"", "n/a", "nan"}  # how the files say an utterance has no such code
COLUMNS = ("transcript_id", "utterance_id", "interlocutor", "utterance_text")


def _peak_mib() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- the task's rows ------------------------------------------------------------------


def task_rows(task: str, data_dir: Path, limit_transcripts: int | None) -> list[dict]:
    """One row per utterance, in transcript and utterance order, with the task's code ('' = none)."""
    spec = TASKS[task]
    with open(data_dir / spec["file"], encoding="utf-8", newline="") as handle:
        raw = list(csv.DictReader(handle))
    by_utterance: dict[tuple[int, int], list[dict]] = defaultdict(list)
    for row in raw:
        by_utterance[(int(row["transcript_id"]), int(row["utterance_id"]))].append(row)
    keep = sorted({t for t, _ in by_utterance})[:limit_transcripts] if limit_transcripts else None
    rows = []
    for (transcript, utterance), coded in sorted(by_utterance.items()):
        if keep is not None and transcript not in keep:
            continue
        first = coded[0]
        code = _majority([a[spec["column"]] for a in coded]) if first["interlocutor"] == spec["where"] else ""
        rows.append({**{c: first[c] for c in COLUMNS}, "code": code})
    return rows


def _majority(labels: list[str]) -> str:
    """The code most annotators gave: '' when half or more gave none, or on a tie between codes."""
    codes = Counter(label.strip() for label in labels if label.strip().lower() not in NONE)
    if 2 * sum(codes.values()) <= len(labels):
        return ""
    ranked = codes.most_common(2)
    return "" if len(ranked) == 2 and ranked[0][1] == ranked[1][1] else ranked[0][0]


# --- one task -----------------------------------------------------------------------


def run_task(name: str, args, finetune) -> dict:
    from qcassist.ingest.coded import CodedColumns
    from qcassist.project import project_encoder
    from qcassist.seed import import_coded
    from qcassist.store import Store
    from qcassist.suggest import training_set

    rows = task_rows(name, args.data_dir, args.limit_transcripts)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{name}.csv"
        with open(path, "w", encoding="utf-8", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=[*COLUMNS, "code"])
            writer.writeheader()
            writer.writerows(rows)
        store = Store.create(Path(tmp) / "project")
        columns = CodedColumns(text="utterance_text", codes="code", transcript="transcript_id", order="utterance_id",
                               speaker="interlocutor")
        import_coded(store, path, coder="expert", columns=columns, where=[("interlocutor", TASKS[name]["where"])])
        encoder = project_encoder(store, args.encoder)
        started = time.perf_counter()
        data = training_set(store, encoder, context_words=finetune.context_words if finetune else None)
        encode_seconds = time.perf_counter() - started
        exclusive = store.codebook().exclusive
        result = {"task": name, "units": len(data.texts), "transcripts": len(set(data.groups)), "codes": data.codes,
                  "exclusive": exclusive, "encode_units_per_s": len(data.texts) / encode_seconds, "methods": {}}
        args.bodies = {}  # one fine-tuning per fold, shared by the tuned methods of this task
        for method in args.methods:
            result["methods"][method] = run_method(store, data, method, exclusive, args, finetune, want_curve=(
                name == "therapist" and not args.no_learning_curve))
            print(f"  [{name}/{method}] kappa {result['methods'][method]['summary']['kappa']:.3f}, "
                  f"{time.perf_counter() - started:.0f} s so far", file=sys.stderr, flush=True)
        result["baseline"] = result["methods"][args.methods[0]].pop("baseline_summary")
        for m in result["methods"].values():
            m.pop("baseline_summary", None)
        store.close()
    return result


def run_method(store, data, method: str, exclusive: bool, args, finetune, *, want_curve: bool) -> dict:
    """Cross-validation (and the baseline on its folds), the 32-labels point, and train/suggest timings."""
    from qcassist.baseline import baseline_cross_validate, folds_of
    from qcassist.evaluation import summarize

    if args.per_code is not None:
        return _few_labels(data, method, exclusive, args, finetune)
    started = time.perf_counter()
    cv, tested = _cross_validate(data, method, exclusive, args, finetune)
    cv_seconds = time.perf_counter() - started
    folds = folds_of(data, cv)
    folds = replace(folds, splits=folds.splits[:len(tested)])
    baseline = baseline_cross_validate(data, folds, exclusive=exclusive)
    rows = _tested_rows(tested)
    out = {"summary": summarize(_only(cv, rows)), "baseline_summary": summarize(_only(baseline, rows)),
           "folds_run": len(tested), "cv_seconds": cv_seconds, "peak_mib_after_cv": _peak_mib()}
    if want_curve and method == "fast" and args.folds_only is None:
        from qcassist.evaluation import learning_curve

        # 3 seeds; its 32 point is the target's
        out["curve"] = learning_curve(data, exclusive=exclusive, options=args.options)
        point = next((p for p in out["curve"] if p["per_code"] == 32), None)
        if point:
            out["at_32"] = {"kappa": point["kappa"], "seeds": 3}
    elif want_curve:
        out["at_32"] = _at_32(data, method, exclusive, args, finetune)
    if method in ("fast", "finetuned") and not args.no_train:  # the product trains these two
        out.update(_train_and_suggest(store, data, method, args, finetune))
    return out


def _cross_validate(data, method: str, exclusive: bool, args, finetune, *, per_code=None, seed=0):
    """Grouped 5-fold CV of ``method``; with --folds-only N, only the first N folds (the splits run are returned)."""
    from qcassist import evaluation

    if method in CV_METHOD:
        method, objective = CV_METHOD[method]
        finetune = replace(finetune, objective=objective)
    extra = {} if method == "fast" else {"method": method, "finetune_options": finetune, "base": args.encoder,
                                         "bodies": args.bodies}
    with _first_folds(evaluation, args.folds_only) as tested:
        cv = evaluation.cross_validate(data, exclusive=exclusive, options=args.options, folds=5, per_code=per_code,
                                       seed=seed, **extra)
    return cv, tested


@contextmanager
def _first_folds(evaluation, limit: int | None):
    """Make evaluation's GroupKFold yield only its first ``limit`` splits; record the test rows of each."""
    original = evaluation.GroupKFold
    tested: list = []

    class FirstFolds(original):
        def split(self, X, y=None, groups=None):
            for n, (train, test) in enumerate(super().split(X, y, groups)):
                if limit is not None and n >= limit:
                    return
                tested.append(test)
                yield train, test

    evaluation.GroupKFold = FirstFolds
    try:
        yield tested
    finally:
        evaluation.GroupKFold = original


def _tested_rows(tested):
    import numpy as np

    return np.sort(np.concatenate(tested))


def _only(cv, rows):
    """The cross-validation restricted to the units its folds tested (all of them without --folds-only)."""
    return replace(cv, labels=cv.labels[rows], probabilities=cv.probabilities[rows], suggested=cv.suggested[rows])


def _at_32(data, method: str, exclusive: bool, args, finetune) -> dict:
    """Kappa when each training fold keeps 32 coded units per code (3 seeds for fast, 1 for the fine-tuned)."""
    import numpy as np

    from qcassist.evaluation import summarize

    kappas = []
    for seed in ((0, 1, 2) if method == "fast" else (0,)):
        cv, tested = _cross_validate(data, method, exclusive, args, finetune, per_code=32, seed=seed)
        kappas.append(summarize(_only(cv, _tested_rows(tested)))["kappa"])
    return {"kappa": float(np.mean(kappas)), "seeds": len(kappas)}


def _few_labels(data, method: str, exclusive: bool, args, finetune) -> dict:
    """--per-code N: the whole cross-validation with N coded units per code in each training fold, for --seeds draws
    (the same draws for every method, and for the TF-IDF baseline); tables show seed 0, kappa is also given per seed and
    per fold."""
    import numpy as np

    from qcassist.baseline import baseline_cross_validate, folds_of
    from qcassist.evaluation import _subsample, summarize

    started = time.perf_counter()
    out: dict = {"per_seed": []}
    for seed in range(args.seeds):
        cv, tested = _cross_validate(data, method, exclusive, args, finetune, per_code=args.per_code, seed=seed)
        folds = folds_of(data, cv)
        rng = np.random.default_rng(seed)  # cross_validate's draws, in its fold order
        Y = data.labels[np.ix_(folds.rows, folds.columns)]
        splits = [(_subsample(train, Y, args.per_code, rng), test) for train, test in folds.splits[:len(tested)]]
        baseline = baseline_cross_validate(data, replace(folds, splits=splits), exclusive=exclusive)
        rows = _tested_rows(tested)
        summary = summarize(_only(cv, rows))
        out["per_seed"].append({"seed": seed, "kappa": summary["kappa"], "macro_f1": summary["macro_f1"],
                                "baseline_kappa": summarize(_only(baseline, rows))["kappa"],
                                "fold_kappas": [summarize(_only(cv, np.sort(t)))["kappa"] for t in tested]})
        if seed == 0:
            out.update(summary=summary, baseline_summary=summarize(_only(baseline, rows)), folds_run=len(tested))
    out.update(cv_seconds=time.perf_counter() - started, peak_mib_after_cv=_peak_mib(), per_code=args.per_code)
    if args.per_code == 32:
        out["at_32"] = {"kappa": float(np.mean([s["kappa"] for s in out["per_seed"]])), "seeds": args.seeds}
    return out


def _train_and_suggest(store, data, method: str, args, finetune) -> dict:
    """Train as ``method`` on every coded unit, then suggest on every unit with an empty cache, against the raw
    encoder on the same inputs (unit texts for fast; the (unit, context) pair strings for fine-tuned)."""
    from qcassist.embed import SentenceTransformerEncoder, TfidfEncoder
    from qcassist.suggest import suggest, train
    from qcassist.training import pair_inputs, project_units

    started = time.perf_counter()
    kwargs = {} if method == "fast" else {"method": method, "finetune": finetune}
    report = train(store, encoder=args.encoder, options=args.options, **kwargs)
    train_seconds = time.perf_counter() - started
    peak_train = _peak_mib()
    units = project_units(store)
    inputs = [u.text for u in units] if method == "fast" else pair_inputs(units, finetune.context_words)
    raw = SentenceTransformerEncoder(args.encoder) if args.encoder != "tfidf" else TfidfEncoder().fit(inputs)
    raw.encode(inputs[:8])  # load the model outside the timing
    started = time.perf_counter()
    raw.encode(inputs)
    raw_seconds = time.perf_counter() - started
    (store.cache_dir / "embeddings.sqlite").unlink(missing_ok=True)
    started = time.perf_counter()
    suggested = suggest(store, encoder=None, include_coded=True)
    suggest_seconds = time.perf_counter() - started
    return {"train_seconds": train_seconds, "peak_mib_after_train": peak_train, "encoder": report.encoder,
            "saved_method": getattr(report, "method", "fast"), "raw_units_per_s": len(inputs) / raw_seconds,
            "suggest_units_per_s": suggested.units / suggest_seconds, "suggestions": suggested.suggestions}


# --- printing -------------------------------------------------------------------------


def verdicts(task: str, method: str, m: dict) -> list[tuple[str, str, str, bool]]:
    """(measure, value, target, met) for every issue 12 target that applies to this task and method."""
    targets, s = TASKS[task]["targets"], m["summary"]
    tier = s["auto_accept"]
    rows = []
    if "kappa" in targets:
        rows.append(("Cohen's kappa", f"{s['kappa']:.3f}", f">= {targets['kappa']}", s["kappa"] >= targets["kappa"]))
    if "macro_f1" in targets:
        rows.append(("macro-F1", f"{s['macro_f1']:.3f}", f">= {targets['macro_f1']}", s["macro_f1"] >= targets["macro_f1"]))
    if "kappa_at_32" in targets and "at_32" in m:
        k = m["at_32"]["kappa"]
        rows.append(("kappa, 32 labels/code", f"{k:.3f} ({m['at_32']['seeds']} seed(s))", f">= {targets['kappa_at_32']}",
                     k >= targets["kappa_at_32"]))
    if "auto_accept" in targets:
        rows.append(("auto-accept coverage", f"{tier['coverage']:.1%}", f">= {targets['auto_accept']:.0%} at precision "
                     f"{AUTO_ACCEPT_PRECISION}", tier["threshold"] is not None and tier["coverage"] >= targets["auto_accept"]))
    rows.append(("ECE (10 bins, top code)", f"{s['ece']:.3f}", f"<= {ECE_TARGET}", s["ece"] <= ECE_TARGET))
    if "suggest_units_per_s" in m:
        ratio = m["suggest_units_per_s"] / m["raw_units_per_s"]
        floor = 0.9 if method == "fast" else 0.8
        rows.append(("suggest / raw encoder", f"{ratio:.2f}x", f">= {floor}x", ratio >= floor))
    return rows


def print_task(r: dict, args) -> None:
    task, methods, base = r["task"], r["methods"], r["baseline"]
    names = list(methods)
    print(f"\n== {task}: {r['units']} coded units in {r['transcripts']} transcripts, codes {', '.join(r['codes'])} "
          f"({'exclusive' if r['exclusive'] else 'multi-label'}); folds run: "
          f"{next(iter(methods.values()))['folds_run']} of 5")
    print(f"reference: {TASKS[task]['reference']}")
    header = "".join(f"{n:>11}" for n in names) + f"{'TF-IDF+LR':>11}"
    print(f"\n{'F1 per code':<22}{header}{'support':>9}")
    for code in base["per_code"]:
        cells = "".join(f"{methods[n]['summary']['per_code'][code]['f1']:>11.3f}" for n in names)
        print(f"{code:<22}{cells}{base['per_code'][code]['f1']:>11.3f}{base['per_code'][code]['support']:>9}")
    print(f"\n{'measure':<22}{header}")
    for label, key in (("Cohen's kappa", "kappa"), ("macro-F1", "macro_f1"), ("ECE", "ece")):
        cells = "".join(f"{methods[n]['summary'][key]:>11.3f}" for n in names)
        print(f"{label:<22}{cells}{base[key]:>11.3f}")
    cells = "".join(f"{_tier(methods[n]['summary']['auto_accept']):>11}" for n in names)
    print(f"{'auto-accept @0.90':<22}{cells}{_tier(base['auto_accept']):>11}")
    cells = "".join(f"{methods[n]['summary']['kappa'] - base['kappa']:>+11.3f}" for n in names)
    print(f"{'kappa over TF-IDF+LR':<22}{cells}")
    if "fast" in methods and len(names) > 1:
        cells = "".join(f"{methods[n]['summary']['kappa'] - methods['fast']['summary']['kappa']:>+11.3f}" for n in names)
        print(f"{'kappa over fast':<22}{cells}")
    for n in names:
        m = methods[n]
        line = f"{n}: {m['folds_run']}-fold CV {m['cv_seconds']:.0f} s, peak {m['peak_mib_after_cv']:.0f} MiB"
        if "train_seconds" in m:
            line += (f"; train (all units) {m['train_seconds']:.0f} s, saved as {m['saved_method']}, peak "
                     f"{m['peak_mib_after_train']:.0f} MiB; suggest {m['suggest_units_per_s']:.0f} units/s vs raw "
                     f"encoder {m['raw_units_per_s']:.0f} units/s on the same inputs")
        print(line)
    for n in names:
        if "per_seed" in methods[n]:
            print(_few_labels_line(n, methods[n]))
    if "curve" in methods.get("fast", {}):
        print("learning curve (fast; training folds cut to n labels per code, mean of 3 seeds): " + ", ".join(
            f"{p['per_code']}: kappa {p['kappa']:.3f}" for p in methods["fast"]["curve"]))
    print(f"\n{'method':<10} {'measure':<24} {'value':<26} {'target':<26} met")
    for n in names:
        for label, value, target, met in verdicts(task, n, methods[n]):
            print(f"{n:<10} {label:<24} {value:<26} {target:<26} {'yes' if met else 'NO'}")


def _few_labels_line(name: str, m: dict) -> str:
    """Kappa with --per-code labels: mean and each seed's, the spread over every (seed, fold), the baseline's mean."""
    seeds = m["per_seed"]
    folds = [k for s in seeds for k in s["fold_kappas"]]
    each = ", ".join(f"{s['kappa']:.3f}" for s in seeds)
    mean = sum(s["kappa"] for s in seeds) / len(seeds)
    baseline = sum(s["baseline_kappa"] for s in seeds) / len(seeds)
    return (f"{name}, {m['per_code']} labels per code: kappa {mean:.3f} (seeds: {each}); per fold "
            f"{min(folds):.3f} to {max(folds):.3f}; TF-IDF+LR on the same units {baseline:.3f}")


def _tier(tier: dict) -> str:
    return f"{tier['coverage']:.0%}@{tier['threshold']:.2f}" if tier["threshold"] is not None else "none"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=(*TASKS, "both", "all"), default="all", help="'both': therapist and client")
    parser.add_argument("--method", default="all",
                        help=f"one of {', '.join(METHODS)}, several joined by commas, 'all', or 'tuned' (the "
                        "fine-tuned candidates without fast)")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help=f"folder holding {SIMPLE} and {FULL}")
    parser.add_argument("--encoder", default="default", help="'default', 'tfidf' or a sentence-transformers name/path")
    parser.add_argument("--no-learning-curve", action="store_true", help="skip the 32-labels point and the curve")
    parser.add_argument("--per-code", type=int, default=None, metavar="N",
                        help="cross-validate with only N coded units per code in each training fold (no curve, no train)")
    parser.add_argument("--seeds", type=int, default=1, metavar="S", help="with --per-code: this many draws of the units")
    parser.add_argument("--no-train", action="store_true", help="skip train/suggest timings (cross-validation only)")
    parser.add_argument("--folds-only", type=int, default=None, metavar="N", help="run only the first N outer folds")
    parser.add_argument("--limit-transcripts", type=int, default=None, metavar="N", help="only the first N transcripts")
    parser.add_argument("--max-minutes", type=float, default=None, help="fine-tuning: stop each run after this")
    parser.add_argument("--tuned-layers", type=int, default=None, help="fine-tuning: top layers trained")
    parser.add_argument("--epochs", type=int, default=None, help="fine-tuning: epochs")
    parser.add_argument("--learning-rate", type=float, default=None, help="fine-tuning: the body's learning rate")
    parser.add_argument("--batch-size", type=int, default=None, help="fine-tuning: units per batch (setfit: its pairs)")
    parser.add_argument("--C", type=float, default=None, help="override the head's C")
    parser.add_argument("--balanced", action="store_true", help="class_weight='balanced' for the head")
    parser.add_argument("--json", type=Path, default=None, metavar="OUT", help="write every figure to this JSON file")
    args = parser.parse_args(argv)
    missing = [name for name in (SIMPLE, FULL) if not (args.data_dir / name).exists()]
    if missing:
        print(f"AnnoMI not found: {', '.join(missing)} missing in {args.data_dir}; pass --data-dir", file=sys.stderr)
        return 2
    from qcassist.classify import TrainOptions

    args.options = TrainOptions(C=args.C if args.C is not None else TrainOptions().C,
                                class_weight="balanced" if args.balanced else None)
    args.methods = (list(METHODS) if args.method == "all" else list(METHODS[1:]) if args.method == "tuned"
                    else args.method.split(","))
    unknown = [m for m in args.methods if m not in METHODS]
    if unknown:
        parser.error(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}")
    tasks = list(TASKS) if args.task == "all" else ["therapist", "client"] if args.task == "both" else [args.task]
    finetune = _finetune_options(args) if args.methods != ["fast"] else None
    print(f"methods {', '.join(args.methods)}; head C={args.options.C}, class_weight={args.options.class_weight}; "
          f"fine-tuning {finetune}; device {_device(args.methods)}")
    started = time.perf_counter()
    results = []
    for name in tasks:
        results.append(run_task(name, args, finetune))
        print_task(results[-1], args)
    total = time.perf_counter() - started
    print(f"\ntotal {total:.0f} s; peak memory {_peak_mib():.0f} MiB")
    if args.json:
        argv_used = list(sys.argv[1:] if argv is None else argv)
        args.json.write_text(json.dumps({"finetune": finetune.as_dict() if finetune else None, "argv": argv_used,
                                         "head": {"C": args.options.C, "class_weight": args.options.class_weight},
                                         "tasks": results,
                                         "seconds": total, "peak_mib": _peak_mib()}, indent=1, default=float), "utf-8")
    return 0


def _finetune_options(args):
    from qcassist.finetune import FineTuneOptions

    given = {"max_minutes": args.max_minutes, "tuned_layers": args.tuned_layers, "epochs": args.epochs,
             "learning_rate": args.learning_rate, "batch_size": args.batch_size}
    return FineTuneOptions(**{k: v for k, v in given.items() if v is not None})


def _device(methods: list[str]) -> str:
    if methods == ["fast"]:
        return "cpu (no fine-tuning)"
    import torch

    if torch.cuda.is_available():
        return f"cuda ({torch.cuda.get_device_name(0)})"
    return f"cpu ({torch.get_num_threads()} threads)"


if __name__ == "__main__":
    sys.exit(main())
