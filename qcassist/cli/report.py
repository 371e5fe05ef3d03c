"""The report command: one self-contained HTML file about the project."""

from __future__ import annotations

from pathlib import Path

import click

from ..report import build_report, default_comparisons
from ..safe_output import check_output_path, write_output
from ..store import Store
from .base import UserError, names_in, force_option, main, progress_bar, project_option


def _comparisons(values: tuple[str, ...]) -> list[tuple[str, ...]] | None:
    """--coders A,B (repeatable) as coder tuples; None lets the report choose."""
    if not values:
        return None
    comparisons = []
    for value in values:
        coders = names_in(value)
        if len(coders) < 2:
            raise UserError(f"--coders {value!r} must name two or more coders separated by commas, e.g. --coders anna,bo.")
        comparisons.append(coders)
    return comparisons


@main.command("report")
@project_option
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the HTML file.  [default: report.html in the project directory]")
@click.option("--coders", multiple=True, metavar="A,B",
              help="Coders to compare for agreement, comma-separated (repeatable for several comparisons; 'model' is "
              "the model's suggestions). Default: the people together (not 'adjudicated'), and each person against "
              "the model on the units both judged.")
@click.option("--bootstrap", default=1000, show_default=True, type=click.IntRange(min=0),
              help="Bootstrap resamples of transcripts for the agreement confidence intervals (0: none).")
@force_option
def report_cmd(project: Path, output: Path | None, coders: tuple[str, ...], bootstrap: int, force: bool) -> None:
    """Write a report on the project as one HTML file that opens offline.

    \b
    Corpus, codebook use per code and transcript, model quality from the last
    'qcassist evaluate', agreement between coders with confidence intervals,
    and review progress.
    """
    comparisons = _comparisons(coders)
    owned = output is None  # the default report.html in the project is qcassist's: replaced without --force
    path = output or project / "report.html"
    with Store.open(project) as store:
        check_output_path(path, force=force, store_dir=project, owned=owned)  # before the slow part
        count = len(comparisons if comparisons is not None else default_comparisons(store))
        with progress_bar(count, "Agreement for the report", enabled=True) as step:
            page = build_report(store, comparisons=comparisons, bootstrap=bootstrap, progress=step)
    write_output(path, lambda out: out.write(page), force=force, store_dir=project, owned=owned)
    click.echo(str(path))
