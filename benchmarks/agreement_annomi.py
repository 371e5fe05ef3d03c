"""Human–human against model–human agreement on AnnoMI, via the product's own path.

AnnoMI-full's dev file has five transcripts (172 therapist utterances) coded by all ten
annotators. This benchmark puts them side by side with the model:

- human–human: Fleiss' kappa, Krippendorff's alpha and Gwet's AC1 over the ten
  annotators, and Cohen's kappa of every annotator pair (mean, min, max);
- model–human: a model trained on the *other* transcripts of AnnoMI-simple (one
  expert label per utterance; the five shared transcripts are left out so the model
  never saw them) suggests codes for the shared utterances; Cohen's kappa of the
  model against each annotator (mean, min, max), and alpha of the ten annotators
  with the model added as an eleventh coder.

CIs are bootstrap over the five transcripts (few: read them as rough).

    .venv/bin/python benchmarks/agreement_annomi.py            # default encoder (MiniLM)
    .venv/bin/python benchmarks/agreement_annomi.py --encoder tfidf
"""

from __future__ import annotations

import argparse
import csv
import itertools
import os
import statistics
import tempfile
import time
from pathlib import Path

FOLDER = Path(os.environ.get("QCASSIST_ANNOMI_DIR", "/work/shared/datasets/annomi"))
COLUMNS = dict(text="utterance_text", codes="main_therapist_behaviour", transcript="transcript_id",
               order="utterance_id", speaker="interlocutor")


def _write(path: Path, rows: list[dict]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _fmt(entry: dict) -> str:
    ci = entry.get("ci")
    return f"{entry['value']:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoder", default="default")
    parser.add_argument("--bootstrap", type=int, default=1000)
    args = parser.parse_args()

    from qcassist.agreement import agree
    from qcassist.ingest.coded import CodedColumns
    from qcassist.seed import import_coded
    from qcassist.store import Store
    from qcassist.suggest import suggest, train

    full = list(csv.DictReader((FOLDER / "AnnoMI-full.dev.csv").open(encoding="utf-8", newline="")))
    simple = list(csv.DictReader((FOLDER / "AnnoMI-simple.dev.csv").open(encoding="utf-8", newline="")))
    annotators: dict[str, set[str]] = {}
    for row in full:
        annotators.setdefault(row["transcript_id"], set()).add(row["annotator_id"])
    shared = sorted(t for t, who in annotators.items() if len(who) == 10)
    columns = CodedColumns(**COLUMNS)
    coders = [f"annotator_{k}" for k in range(10)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        store = Store.create(folder / "project")
        training = _write(folder / "train.csv", [r for r in simple if r["transcript_id"] not in shared])
        import_coded(store, training, coder="expert", columns=columns, where=[("interlocutor", "therapist")])
        for k, coder in enumerate(coders):
            mine = _write(folder / f"{coder}.csv", [r for r in full if r["annotator_id"] == str(k) and r["transcript_id"] in shared])
            import_coded(store, mine, coder=coder, columns=columns, where=[("interlocutor", "therapist")])
        started = time.perf_counter()
        train(store, encoder=args.encoder, coders=["expert"])
        suggest(store, include_coded=True)
        seconds = time.perf_counter() - started
        options = dict(transcripts=shared, bootstrap=args.bootstrap)
        humans = agree(store, coders, **options)
        with_model = agree(store, coders + ["model"], **options)
        pairs = {pair: agree(store, list(pair), transcripts=shared, bootstrap=0).statistics["cohen_kappa"]["value"]
                 for pair in itertools.combinations(coders, 2)}
        model_pairs = {c: agree(store, [c, "model"], **options) for c in coders}
        store.close()

    model_kappas = [r.statistics["cohen_kappa"]["value"] for r in model_pairs.values()]
    print(f"AnnoMI-full dev, therapist behaviour: {len(shared)} transcripts × 10 annotators, {humans.units} utterances;"
          f" model trained on {len(set(r['transcript_id'] for r in simple)) - len(shared)} other transcripts"
          f" ({args.encoder} encoder, train+suggest {seconds:.0f} s)")
    print(f"  human–human  Fleiss kappa {_fmt(humans.statistics['fleiss_kappa'])}")
    print(f"               Krippendorff alpha {_fmt(humans.statistics['krippendorff_alpha'])}")
    print(f"               Gwet AC1 {_fmt(humans.statistics['gwet_ac1'])}")
    print(f"               pairwise Cohen kappa mean {statistics.mean(pairs.values()):.3f} "
          f"(min {min(pairs.values()):.3f}, max {max(pairs.values()):.3f}, {len(pairs)} pairs)")
    print(f"  model–human  Cohen kappa vs each annotator mean {statistics.mean(model_kappas):.3f} "
          f"(min {min(model_kappas):.3f}, max {max(model_kappas):.3f})")
    best = max(model_pairs.values(), key=lambda r: r.statistics["cohen_kappa"]["value"])
    print(f"               e.g. vs {best.coders[0]}: kappa {_fmt(best.statistics['cohen_kappa'])}")
    print(f"               alpha of the 10 annotators + model {_fmt(with_model.statistics['krippendorff_alpha'])}"
          f" (annotators alone {humans.statistics['krippendorff_alpha']['value']:.3f})")
    print("  per-code F1 of the model against annotator_0 (reference):")
    for entry in model_pairs["annotator_0"].per_code:
        print(f"    {entry['code']:<16} F1 {entry['f1']:.3f}  kappa {entry['kappa']:.3f}")


if __name__ == "__main__":
    main()
