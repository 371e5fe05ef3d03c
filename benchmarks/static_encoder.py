"""Static encoder vs full MiniLM vs two-stage on AnnoMI, via the product's own code.

The dev CSV is imported as in ``suggest_annomi.py``; each encoder's training set is built with
``training_set`` and cross-validated with ``qcassist.evaluation.cross_validate`` (grouped 5-fold
by transcript, the same folds for every encoder: same units, labels and groups). Two-stage is the
static model's out-of-fold predictions with the units ``two_stage.uncertain_rows`` picks replaced
by the full model's out-of-fold predictions on the same fold: what ``suggest --rescore-uncertain``
does with a model trained by ``train --encoder static --rescore-encoder default``.
Encoding speed is each raw encoder (no embedding cache) after loading, measured in alternating
rounds (``speeds``) so that both see the same machine load.

    .venv/bin/python benchmarks/static_encoder.py                    # therapist task
    .venv/bin/python benchmarks/static_encoder.py --task client
    .venv/bin/python benchmarks/static_encoder.py --embedding-cache /tmp/annomi-embeddings.sqlite  # reruns: no re-encoding
"""

from __future__ import annotations

import argparse
import os
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


def speeds(encoders: dict, texts: list[str], rounds: int = 3) -> dict[str, tuple[float, float]]:
    """(units per wall second, units per CPU second) of each encoder after loading, in alternating rounds so
    both see the same machine load; CPU seconds (all threads) say less about what else runs on the machine.

    Each round: the full encoder on 128 texts, the static one on all texts for at least 1 s.
    """
    for encoder in encoders.values():
        encoder.encode(texts[:8])
    done = {name: 0 for name in encoders}
    wall = {name: 0.0 for name in encoders}
    cpu = {name: 0.0 for name in encoders}
    for round_ in range(rounds):
        for name, encoder in encoders.items():
            sample = texts[round_ * 128:(round_ + 1) * 128] if name == "default" else texts
            started, started_cpu = time.perf_counter(), time.process_time()
            while True:
                encoder.encode(sample)
                done[name] += len(sample)
                if name == "default" or time.perf_counter() - started >= 1.0:
                    break
            wall[name] += time.perf_counter() - started
            cpu[name] += time.process_time() - started_cpu
    return {name: (done[name] / wall[name], done[name] / cpu[name]) for name in encoders}


def two_stage(static_cv, full_cv, band: float):
    """The static model's out-of-fold predictions, with the uncertain units' taken from the full model."""
    from qcassist.two_stage import uncertain_rows

    rows = uncertain_rows(static_cv.probabilities, np.full(len(static_cv.codes), 0.5), exclusive=static_cv.exclusive,
                          band=band)
    probabilities, suggested = static_cv.probabilities.copy(), static_cv.suggested.copy()
    probabilities[rows], suggested[rows] = full_cv.probabilities[rows], full_cv.suggested[rows]
    return replace(static_cv, probabilities=probabilities, suggested=suggested), len(rows) / len(probabilities)


def run(task: str, data: Path, embedding_cache: Path | None) -> list[dict]:
    from qcassist.embed import CachedEncoder, SentenceTransformerEncoder
    from qcassist.evaluation import cross_validate
    from qcassist.static_encoder import StaticEncoder
    from qcassist.suggest import training_set

    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    encoders = {"default": SentenceTransformerEncoder(), "static": StaticEncoder()}
    static = encoders["static"]
    static.encode(["load or distil"])
    distil_seconds = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        store = annomi_store(tmp, task, data)
        exclusive = store.codebook().exclusive
        cache = embedding_cache or Path(tmp) / "embeddings.sqlite"
        sets = {spec: training_set(store, CachedEncoder(encoder, cache)) for spec, encoder in encoders.items()}
        store.close()
    texts = sets["default"].texts
    speed = speeds(encoders, texts)
    cvs = {spec: cross_validate(data, exclusive=exclusive, folds=5) for spec, data in sets.items()}
    rows = [{"name": "full MiniLM (default)", "speed": speed["default"], "share": 0.0, **_scores(cvs["default"])},
            {"name": "static (model2vec)", "speed": speed["static"], "share": 0.0, **_scores(cvs["static"])}]
    for band in BANDS:
        combined, share = two_stage(cvs["static"], cvs["default"], band)
        # a unit re-scored costs a full encoding on top of its static one
        mixed = tuple(1 / (1 / s + share / f) for s, f in zip(speed["static"], speed["default"]))
        rows.append({"name": f"two-stage, band {band:g}", "speed": mixed, "share": share, **_scores(combined)})
    print(f"\n== AnnoMI {task} task: {len(texts)} units, {len(set(sets['default'].groups))} transcripts, "
          f"codes {', '.join(sets['default'].codes)}; static encoder {static.id} (load/distil {distil_seconds:.0f} s)")
    print(f"{'path':<26} {'kappa':>6} {'macro-F1':>8} {'units/s':>9} {'units/CPU-s':>11} {'re-scored':>9}")
    for r in rows:
        print(f"{r['name']:<26} {r['kappa']:>6.3f} {r['macro_f1']:>8.3f} {r['speed'][0]:>9.0f} {r['speed'][1]:>11.0f} "
              f"{r['share']:>9.1%}")
    print(f"(two-stage speed: 1 / (1/static + share/full), encoding only; peak memory {_peak_mib():.0f} MiB; "
          f"1-minute load average {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end, on {os.cpu_count()} CPUs)")
    return rows


def _scores(cv) -> dict:
    from qcassist.evaluation import summarize

    result = summarize(cv)
    return {"kappa": result["kappa"], "macro_f1": result["macro_f1"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=tuple(TASKS), default="therapist")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--embedding-cache", type=Path, default=None,
                        help="an embedding cache file to keep between runs (default: a temporary one)")
    args = parser.parse_args(argv)
    if not args.data.exists():
        print(f"AnnoMI not found at {args.data}; pass --data", file=sys.stderr)
        return 2
    started = time.perf_counter()
    run(args.task, args.data, args.embedding_cache)
    print(f"total {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
