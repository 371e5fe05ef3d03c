"""The built-in demo: three fictional interviews, a codebook and a small human-coded seed.

``run_demo`` is the README's main job: import, segment, export the units, then import
the codebook and seed codings, train, and suggest codes for the rest, ready for
``qcassist review``.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..embed import DEFAULT_ENCODER
from ..project import ImportReport, Progress, SegmentReport, import_files, segment_project, unit_rows, write_units
from ..safe_output import write_output
from ..store import Store

SEED_CODER = "demo-seed"


def demo_files() -> list[Path]:
    """The fictional demo interviews shipped inside the package."""
    return sorted(p for p in _folder().iterdir() if p.name.startswith("interview_"))


def _folder() -> Path:
    return Path(str(resources.files("qcassist.demo")))


@dataclass
class DemoReport:
    imported: ImportReport
    segmented: SegmentReport
    units_csv: Path
    seed_codings: int
    model_version: str
    suggestions: int
    units_with_suggestion: int
    sheet: Path
    report: Path
    seed_codings_in_project: int = 0  # more than seed_codings when the demo ran here before

    @property
    def rerun(self) -> bool:
        """The demo project was already set up: nothing new was imported or seeded."""
        return not self.imported.added and self.seed_codings < self.seed_codings_in_project

    def as_dict(self) -> dict:
        return {
            "import": self.imported.as_dict(), "segment": self.segmented.as_dict(), "units_csv": str(self.units_csv),
            "seed_codings": self.seed_codings, "seed_codings_in_project": self.seed_codings_in_project,
            "model_version": self.model_version,
            "suggestions": self.suggestions, "units_with_suggestion": self.units_with_suggestion,
            "condensation_sheet": str(self.sheet), "report": str(self.report),
        }


def run_demo(directory: str | Path, *, encoder: str = DEFAULT_ENCODER, progress: Progress | None = None) -> DemoReport:
    """Import and segment the demo corpus in ``directory``, export units.csv, then seed, train and suggest,
    and write the condensation sheet (condensation.md) and the project report (report.html)."""
    from ..condense import condense, sheet_markdown
    from ..report import write_report
    from ..seed import import_codebook, import_spans
    from ..suggest import suggest, train

    with Store.create(directory) as store:
        imported = import_files(store, demo_files())
        segmented = segment_project(store, encoder=encoder, progress=progress)
        # the demo's own files, replaced on a re-run: written whole (temp file, fsync, rename), never over the project's
        out_path = Path(directory) / "units.csv"
        rows = unit_rows(store)
        write_output(out_path, lambda out: write_units(rows, "csv", out), owned=True, store_dir=directory)
        import_codebook(store, _folder() / "codebook.yaml")
        seeded = import_spans(store, _folder() / "seed_spans.csv", coder=SEED_CODER)
        # a re-run keeps the project (and any review done in it) and reports what it already holds
        seed_total = len(store.codings(coders=[SEED_CODER]))
        trained = train(store, encoder=encoder)
        suggested = suggest(store)
        sheet = Path(directory) / "condensation.md"
        text = sheet_markdown(condense(store, encoder=encoder))
        write_output(sheet, lambda out: out.write(text), owned=True, store_dir=directory)
        report = write_report(store, Path(directory) / "report.html")
    return DemoReport(imported, segmented, out_path, seeded.codings_added, trained.version,
                      suggested.suggestions, suggested.units_with_suggestion, sheet, report, seed_total)
