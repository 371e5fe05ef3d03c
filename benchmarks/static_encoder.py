"""Static encoder vs full MiniLM vs two-stage on AnnoMI, via the product's own code.

The dev CSV is imported as in ``suggest_annomi.py``; each encoder's training set is built with
``training_set`` and cross-validated with ``qcassist.evaluation.cross_validate`` (grouped 5-fold
by transcript, the same folds for every encoder: same units, labels and groups). Two-stage is the
static model's out-of-fold predictions with the units ``two_stage.uncertain_rows`` picks replaced
by the full model's out-of-fold predictions on the same fold: what ``suggest --rescore-uncertain``
does with a model trained by ``train --encoder static --rescore-encoder default``.
Encoding speed is each raw encoder (no embedding cache) after loading: the full one on 512 of the
task's units, the static one on all of them, repeated for 2 s.

    .venv/bin/python benchmarks/static_encoder.py                    # therapist task
    .venv/bin/python benchmarks/static_encoder.py --task client
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from suggest_annomi import DEFAULT_DATA, TASKS, _peak_mib  # noqa: E402

BANDS = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3)


def annomi_store(directory: str, task: str, data: Path):
    """A project holding one AnnoMI task, imported as suggest_annomi.py does."""
    from qcassist.ingest.coded import CodedColumns
    from qcassist.seed import import_coded
    from qcassist.store import Store

    columns = CodedColumns(text="utterance_text", codes=TASKS[task]["code_column"], transcript="transcript_id",
                           order="utterance_id", speaker="interlocutor")
    store = Store.create(directory)
    import_coded(store, data, coder="expert", columns=columns, where=[("interlocutor", TASKS[task]["where"])])
    return store


def units_per_second(encoder, texts: list[str], min_seconds: float = 2.0) -> float:
    """Raw encoding speed after loading, repeated until ``min_seconds`` have passed (the static one is fast)."""
    encoder.encode(texts[:8])
    done, started = 0, time.perf_counter()
    while True:
        encoder.encode(texts)
        done += len(texts)
        if time.perf_counter() - started >= min_seconds:
            return done / (time.perf_counter() - started)


def two_stage(static_cv, full_cv, band: float):
    """The static model's out-of-fold predictions, with the uncertain units' taken from the full model."""
    from qcassist.two_stage import uncertain_rows

    rows = uncertain_rows(static_cv.probabilities, np.full(len(static_cv.codes), 0.5), exclusive=static_cv.exclusive,
                          band=band)
    probabilities, suggested = static_cv.probabilities.copy(), static_cv.suggested.copy()
    probabilities[rows], suggested[rows] = full_cv.probabilities[rows], full_cv.suggested[rows]
    return replace(static_cv, probabilities=probabilities, suggested=suggested), len(rows) / len(probabilities)


def run(task: str, data: Path) -> list[dict]:
    from qcassist.embed import SentenceTransformerEncoder
    from qcassist.evaluation import cross_validate
    from qcassist.project import project_encoder
    from qcassist.static_encoder import StaticEncoder
    from qcassist.suggest import training_set

    with tempfile.TemporaryDirectory() as tmp:
        store = annomi_store(tmp, task, data)
        exclusive = store.codebook().exclusive
        started = time.perf_counter()
        static = StaticEncoder()
        static.encode(["load or distil"])
        distil_seconds = time.perf_counter() - started
        sets = {spec: training_set(store, project_encoder(store, spec)) for spec in ("default", "static")}
        store.close()
    texts = sets["default"].texts
    speed = {"default": units_per_second(SentenceTransformerEncoder(), texts[:512], 0.0),  # ~100 units/s: a sample
             "static": units_per_second(static, texts)}
    cvs = {spec: cross_validate(data, exclusive=exclusive, folds=5) for spec, data in sets.items()}
    rows = [{"name": "full MiniLM (default)", "speed": speed["default"], "share": 0.0, **_scores(cvs["default"])},
            {"name": "static (model2vec)", "speed": speed["static"], "share": 0.0, **_scores(cvs["static"])}]
    for band in BANDS:
        combined, share = two_stage(cvs["static"], cvs["default"], band)
        # a unit re-scored costs a full encoding on top of its static one
        per_unit = 1 / speed["static"] + share / speed["default"]
        rows.append({"name": f"two-stage, band {band:g}", "speed": 1 / per_unit, "share": share, **_scores(combined)})
    print(f"\n== AnnoMI {task} task: {len(texts)} units, {len(set(sets['default'].groups))} transcripts, "
          f"codes {', '.join(sets['default'].codes)}; static encoder {static.id} (load/distil {distil_seconds:.0f} s)")
    print(f"{'path':<26} {'kappa':>6} {'macro-F1':>8} {'units/s':>9} {'re-scored':>9}")
    for r in rows:
        print(f"{r['name']:<26} {r['kappa']:>6.3f} {r['macro_f1']:>8.3f} {r['speed']:>9.0f} {r['share']:>9.1%}")
    print(f"(two-stage units/s: 1 / (1/static + share/full), encoding only; peak memory {_peak_mib():.0f} MiB)")
    return rows


def _scores(cv) -> dict:
    from qcassist.evaluation import summarize

    result = summarize(cv)
    return {"kappa": result["kappa"], "macro_f1": result["macro_f1"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=tuple(TASKS), default="therapist")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args(argv)
    if not args.data.exists():
        print(f"AnnoMI not found at {args.data}; pass --data", file=sys.stderr)
        return 2
    started = time.perf_counter()
    run(args.task, args.data)
    print(f"total {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
