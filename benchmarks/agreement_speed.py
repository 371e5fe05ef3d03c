"""How long ``agree`` takes on a project of AnnoMI's size: 4,000 units, 100 transcripts, 1,000 bootstrap rounds.

A synthetic project (no model needed): coder ``anna`` codes every unit with one of five
codes; ``bo`` and ``cy`` agree with her on about 80% of units. It times ``agree`` for two
coders and for three, with the bootstrap (which resamples transcript-level tables) and
without it. Before the bootstrap was computed from summed tables, two coders took
378–590 s here.

    .venv/bin/python benchmarks/agreement_speed.py
    .venv/bin/python benchmarks/agreement_speed.py --units 4000 --transcripts 100 --bootstrap 1000
"""

from __future__ import annotations

import argparse
import csv
import random
import tempfile
import time
from pathlib import Path

CODES = ("question", "reflection", "therapist_input", "other", "affirm")


def _write(path: Path, rows: list[dict]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=["transcript", "order", "text", "code"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=4000)
    parser.add_argument("--transcripts", type=int, default=100)
    parser.add_argument("--bootstrap", type=int, default=1000)
    args = parser.parse_args()

    from qcassist.agreement import agree
    from qcassist.ingest.coded import CodedColumns
    from qcassist.seed import import_coded
    from qcassist.store import Store

    rng = random.Random(0)
    anna = [{"transcript": f"t{i % args.transcripts}", "order": i, "text": f"utterance {i} " + "words " * (i % 7),
             "code": rng.choice(CODES)} for i in range(args.units)]
    others = {name: [dict(r, code=r["code"] if rng.random() < 0.8 else rng.choice(CODES)) for r in anna]
              for name in ("bo", "cy")}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with Store.create(folder / "project") as store:
            for name, rows in {"anna": anna, **others}.items():
                import_coded(store, _write(folder / f"{name}.csv", rows), coder=name, columns=CodedColumns(order="order"))
            print(f"{args.units} units in {args.transcripts} transcripts, {len(CODES)} codes")
            print(f"  {'coders':<14} {'bootstrap':>9}  {'seconds':>7}  kappa/alpha [95% CI]")
            for coders in (["anna", "bo"], ["anna", "bo", "cy"]):
                for rounds in (0, args.bootstrap):
                    started = time.perf_counter()
                    result = agree(store, coders, bootstrap=rounds)
                    seconds = time.perf_counter() - started
                    name = "cohen_kappa" if len(coders) == 2 else "krippendorff_alpha"
                    entry = result.statistics[name]
                    ci = f" [{entry['ci'][0]:.3f}, {entry['ci'][1]:.3f}]" if entry["ci"] else ""
                    print(f"  {','.join(coders):<14} {rounds:>9}  {seconds:>7.2f}  {name} {entry['value']:.3f}{ci}")


if __name__ == "__main__":
    main()
