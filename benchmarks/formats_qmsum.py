"""One meeting, any format: turns found per format, and what a second import of the same meeting says.

For every QMSum committee meeting (covid_*, education_* in ../shared/datasets/qmsum/train)
the JSON's turns are rendered as `.txt` (`Speaker: text` paragraphs), `.vtt`, `.srt` and
`.csv` (the renderings the tests use, tests/qmsum.py). Each file is read on its own (turns
found, against the JSON's), then all four are imported into one project in that order:
the first adds the transcript, the others must find the same turns ("same turns"); a
refusal prints what differed.

    python benchmarks/formats_qmsum.py [--all-meetings]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
from pathlib import Path

from qcassist.errors import QcaError
from qcassist.ingest import read_transcripts
from qcassist.project import import_files
from qcassist.store import Store

_HELPERS = Path(__file__).resolve().parents[1] / "tests" / "qmsum.py"
_spec = importlib.util.spec_from_file_location("qmsum_renderings", _HELPERS)
qmsum = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(qmsum)

RENDERINGS = (("txt", qmsum.as_paragraphs), ("vtt", qmsum.as_vtt), ("srt", qmsum.as_srt), ("csv", qmsum.as_csv))


def measure(path: Path, folder: Path) -> dict:
    turns = qmsum.meeting_turns(path)
    files, found = [], {}
    for ext, render in RENDERINGS:
        file = folder / f"{path.stem}.{ext}"
        file.write_text(render(turns), encoding="utf-8")
        [transcript] = read_transcripts(file).transcripts
        found[ext] = len(transcript.turns)
        files.append(file)
    verdicts = []
    with Store.create(folder / "project") as store:
        for file in files:
            try:
                report = import_files(store, [file])
            except QcaError as exc:
                verdicts.append(f"{file.suffix[1:]}: refused ({exc})")
                continue
            if report.added:
                verdicts.append(f"{file.suffix[1:]}: added")
            elif path.stem in report.same_turns or report.unchanged:
                verdicts.append(f"{file.suffix[1:]}: same turns")
            else:
                verdicts.append(f"{file.suffix[1:]}: {report.as_dict()}")
    return {"json": len(turns), "json_merged": len(qmsum.merged_turns(turns)), **found, "imports": verdicts}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all-meetings", action="store_true", help="Every train meeting, not only covid_* and education_*.")
    args = parser.parse_args()
    paths = [p for p in qmsum.meeting_paths() if args.all_meetings or p.stem.startswith(("covid", "education"))]
    if not paths:
        print(f"no QMSum meetings under {qmsum.QMSUM}", file=sys.stderr)
        return 1
    print(f"{'meeting':14s} {'json':>5s} {'merged':>6s} {'txt':>5s} {'vtt':>5s} {'srt':>5s} {'csv':>5s}  imports (txt, then vtt, srt, csv)")
    equal = 0
    for path in paths:
        with tempfile.TemporaryDirectory() as folder:
            row = measure(path, Path(folder))
        ok = row["txt"] == row["csv"] == row["json"] and row["vtt"] == row["srt"] == row["json_merged"]
        same = all(v.endswith(("added", "same turns")) for v in row["imports"])
        equal += ok and same
        print(f"{path.stem:14s} {row['json']:5d} {row['json_merged']:6d} {row['txt']:5d} {row['vtt']:5d} {row['srt']:5d} "
              f"{row['csv']:5d}  {'; '.join(row['imports'])}")
    print(f"\n{equal} of {len(paths)} meetings: every format finds the JSON's turns (subtitles: consecutive turns of one "
          "speaker merged) and every second import finds the same turns.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
