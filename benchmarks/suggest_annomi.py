"""Code-suggestion benchmark on AnnoMI (expert-coded counselling transcripts), via the product's own path.

For each task the dev CSV is imported with ``import_coded`` into a temporary project
(one row a unit; the other speaker's rows are context turns), then:
- grouped 5-fold cross-validation by transcript (``qcassist.evaluation``): macro-F1,
  Cohen's kappa, per-code F1, ECE, the auto-accept tier (precision >= 0.90);
- the learning curve (8, 16, 32, 64, 128 labels per code, 3 seeds, and all);
- timings: encoding units/s (empty cache), training seconds (``train``), suggest
  end to end units/s against the raw encoder on the same texts, in one run; peak memory.

    .venv/bin/python benchmarks/suggest_annomi.py                 # both tasks
    .venv/bin/python benchmarks/suggest_annomi.py --task therapist --no-learning-curve

Tuning happens on nothing but this dev file; 34 more transcripts are held out elsewhere.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_DATA = Path(os.environ.get("QCASSIST_ANNOMI", "/work/shared/datasets/annomi/AnnoMI-simple.dev.csv"))
TASKS = {
    "therapist": {"code_column": "main_therapist_behaviour", "where": "therapist",
                  "reference": "frozen MiniLM + LR kappa 0.63 / F1 0.70; TF-IDF + LR kappa 0.66 / F1 0.71; experts agree at kappa 0.74",
                  "targets": {"kappa": 0.75, "macro_f1": 0.80}},
    "client": {"code_column": "client_talk_type", "where": "client",
               "reference": "frozen MiniLM + LR kappa 0.29 / F1 0.51; experts agree at kappa 0.47",
               "targets": {"kappa": 0.45, "macro_f1": 0.62}},
}


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_task(name: str, data: Path, encoder_spec: str, with_curve: bool, options=None) -> dict:
    from qcassist.classify import TrainOptions
    from qcassist.embed import SentenceTransformerEncoder, TfidfEncoder
    from qcassist.evaluation import cross_validate, learning_curve, summarize
    from qcassist.ingest.coded import CodedColumns
    from qcassist.project import project_encoder
    from qcassist.seed import import_coded
    from qcassist.store import Store
    from qcassist.suggest import suggest, train, training_set

    task = TASKS[name]
    columns = CodedColumns(text="utterance_text", codes=task["code_column"], transcript="transcript_id",
                           order="utterance_id", speaker="interlocutor")
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.create(tmp)
        import_coded(store, data, coder="expert", columns=columns, where=[("interlocutor", task["where"])])
        encoder = project_encoder(store, encoder_spec)
        started = time.perf_counter()
        dataset = training_set(store, encoder)
        encode_seconds = time.perf_counter() - started
        exclusive = store.codebook().exclusive
        options = options or TrainOptions()
        started = time.perf_counter()
        cv = cross_validate(dataset, exclusive=exclusive, options=options, folds=5)
        cv_seconds = time.perf_counter() - started
        result = summarize(cv)
        curve = learning_curve(dataset, exclusive=exclusive, options=options) if with_curve else []

        started = time.perf_counter()
        train_report = train(store, encoder=encoder_spec, options=options)
        train_seconds = time.perf_counter() - started

        # suggest end to end vs the raw encoder, same texts, both uncached, one run
        raw = SentenceTransformerEncoder(encoder_spec) if encoder_spec != "tfidf" else TfidfEncoder().fit(dataset.texts)
        raw.encode(dataset.texts[:8])  # load the model outside the timing
        started = time.perf_counter()
        raw.encode(dataset.texts)
        raw_seconds = time.perf_counter() - started
        (store.cache_dir / "embeddings.sqlite").unlink()
        started = time.perf_counter()
        report = suggest(store, encoder=encoder_spec, include_coded=True)
        suggest_seconds = time.perf_counter() - started
        store.close()
    n = len(dataset.texts)
    return {
        "task": name, "units": n, "transcripts": len(set(dataset.groups)), "codes": dataset.codes,
        "exclusive": exclusive, "result": result, "curve": curve, "encoder": train_report.encoder,
        "encode_units_per_s": n / encode_seconds, "cv_seconds": cv_seconds, "train_seconds": train_seconds,
        "raw_units_per_s": n / raw_seconds, "suggest_units_per_s": report.units / suggest_seconds,
        "suggestions": report.suggestions, "peak_mib": _peak_mib(),
    }


def print_task(r: dict) -> None:
    task = TASKS[r["task"]]
    res = r["result"]
    print(f"\n== {r['task']} task: {r['units']} units in {r['transcripts']} transcripts, codes {', '.join(r['codes'])} "
          f"({'exclusive' if r['exclusive'] else 'multi-label'}), encoder {r['encoder']}")
    print(f"reference: {task['reference']}")
    print(f"{'code':<18} {'precision':>9} {'recall':>7} {'F1':>6} {'support':>8}")
    for code, m in res["per_code"].items():
        print(f"{code:<18} {m['precision']:>9.3f} {m['recall']:>7.3f} {m['f1']:>6.3f} {m['support']:>8}")
    tier = res["auto_accept"]
    rows = [
        ("Cohen's kappa", f"{res['kappa']:.3f}", f">= {task['targets']['kappa']}", res["kappa"] >= task["targets"]["kappa"]),
        ("macro-F1", f"{res['macro_f1']:.3f}", f">= {task['targets']['macro_f1']}", res["macro_f1"] >= task["targets"]["macro_f1"]),
        ("ECE (10 bins, top code)", f"{res['ece']:.3f}", "<= 0.05", res["ece"] <= 0.05),
    ]
    if r["task"] == "therapist":
        covered = tier["coverage"] if tier["threshold"] is not None else 0.0
        rows.append(("auto-accept coverage", f"{covered:.1%} at p >= {tier['threshold'] or float('nan'):.2f} "
                     f"(precision {tier['precision'] or 0:.3f})", ">= 40% at precision 0.90", covered >= 0.40))
    print(f"\n{'measure':<26} {'value':<40} {'target':<26} met")
    for label, value, target, met in rows:
        print(f"{label:<26} {value:<40} {target:<26} {'yes' if met else 'NO'}")
    if r["curve"]:
        print("\nlearning curve (grouped 5-fold CV; training folds cut to n labels per code, mean of 3 seeds):")
        print(f"{'labels/code':>11} {'macro-F1':>9} {'kappa':>7} {'sd':>6} {'ECE':>6}")
        for point in r["curve"]:
            print(f"{str(point['per_code']):>11} {point['macro_f1']:>9.3f} {point['kappa']:>7.3f} {point['kappa_sd']:>6.3f} "
                  f"{point['ece']:>6.3f}")
        if r["task"] == "therapist":
            at32 = next((p for p in r["curve"] if p["per_code"] == 32), None)
            if at32:
                print(f"target kappa >= 0.60 with 32 labels per code: {at32['kappa']:.3f} -> {'met' if at32['kappa'] >= 0.6 else 'NOT met'}")
    ratio = r["suggest_units_per_s"] / r["raw_units_per_s"]
    print(f"\ntimings: encoding {r['encode_units_per_s']:.0f} units/s (empty cache); 5-fold CV {r['cv_seconds']:.1f} s; "
          f"train {r['train_seconds']:.1f} s (embeddings cached)")
    print(f"suggest end to end {r['suggest_units_per_s']:.0f} units/s vs raw encoder {r['raw_units_per_s']:.0f} units/s "
          f"on the same texts, one run: {ratio:.2f}x (target >= 0.9x: {'met' if ratio >= 0.9 else 'NOT met'}); "
          f"{r['suggestions']} suggestions; peak memory {r['peak_mib']:.0f} MiB")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=("therapist", "client", "both"), default="both")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--encoder", default="default", help="'default', 'tfidf' or a sentence-transformers name/path")
    parser.add_argument("--no-learning-curve", action="store_true")
    parser.add_argument("--C", type=float, default=None, help="override the classifier's C")
    parser.add_argument("--balanced", action="store_true", help="class_weight='balanced'")
    args = parser.parse_args(argv)
    if not args.data.exists():
        print(f"AnnoMI not found at {args.data}; pass --data", file=sys.stderr)
        return 2
    from qcassist.classify import TrainOptions

    defaults = TrainOptions()
    options = TrainOptions(C=args.C if args.C is not None else defaults.C,
                           class_weight="balanced" if args.balanced else None)
    print(f"classifier: C={options.C}, class_weight={options.class_weight}")
    started = time.perf_counter()
    for name in (("therapist", "client") if args.task == "both" else (args.task,)):
        print_task(run_task(name, args.data, args.encoder, not args.no_learning_curve, options))
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
