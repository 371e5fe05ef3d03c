"""Commands for exchange with other QDA tools: export qdpx / qdc (REFI-QDA). Import goes through 'qcassist import'."""

from __future__ import annotations

from pathlib import Path

import click

from ..store import Store
from .base import echo_json, force_option, json_option, project_option, warn
from .coding import export


@export.command("qdpx")
@project_option
@json_option
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--include-suggestions", is_flag=True,
              help="Also export the model's suggestions, attributed to a User 'qcassist model VERSION' with the "
              "probability in each selection's description.")
@click.option("--coder", "coders", multiple=True, metavar="NAME", help="Only this coder's codings (repeatable).")
@force_option
def export_qdpx_command(project: Path, as_json: bool, file: Path, include_suggestions: bool, coders, force: bool) -> None:
    """Write the project as a REFI-QDA project FILE (.qdpx) for NVivo, ATLAS.ti, MAXQDA or QualCoder.

    Transcripts become text sources, the codebook keeps its groups (not codable),
    every coder becomes a User, and each coded span a selection with its codes.
    Review memos become Notes linked from a selection over their unit, and
    condensates Notes linked from their code group. The file is written to a
    temporary file and renamed into place; an existing FILE is replaced only with
    --force, and the project's own files (database, models, cache) never are.
    """
    with Store.open(project) as store:
        from ..refi import export_qdpx

        report = export_qdpx(store, file, include_suggestions=include_suggestions, coders=coders or None,
                             force=force)
    if as_json:
        echo_json(report.as_dict())
        return
    click.echo(f"Wrote {file}: {report.sources} sources, {report.codes} codes, {report.users} users, "
               f"{report.codings} codings" + (f", {report.suggestions} suggestions" if include_suggestions else "")
               + (f", {report.notes} notes (memos and condensates)" if report.notes else "") + ".")


@export.command("qdc")
@project_option
@json_option
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@force_option
def export_qdc_command(project: Path, as_json: bool, file: Path, force: bool) -> None:
    """Write the codebook alone as a REFI-QDA codebook FILE (.qdc)."""
    with Store.open(project) as store:
        from ..refi import export_qdc

        report = export_qdc(store, file, force=force)
    if as_json:
        echo_json(report.as_dict())
        return
    click.echo(f"Wrote {file}: {report.codes} codes.")


def echo_refi_import(report, as_json: bool) -> None:
    """The summary of a .qdpx or .qdc import (used by 'qcassist import')."""
    from ..refi import RefiImportReport

    if isinstance(report, RefiImportReport):
        warn(report.warnings)
    if as_json:
        echo_json(report.as_dict())
        return
    codes = f"{len(report.codes_added)} codes added, {len(report.codes_updated)} updated"
    if not isinstance(report, RefiImportReport):
        click.echo(f"Imported codebook {report.path}: {codes}.")
        return
    missing = f", {len(report.sources_missing)} not in the file (skipped)" if report.sources_missing else ""
    click.echo(f"Imported {report.path}: {len(report.sources_added)} sources added, {len(report.sources_reused)} "
               f"already in the project{missing}; {codes}; {len(report.users)} users; {report.codings_added} codings "
               f"from {report.selections} selections.")
    if report.users:
        click.echo(f"Coders: {', '.join(report.users)}")
    for source, convention in report.offsets.items():
        click.echo(f"{source}: positions counted as {convention}; converted to characters.")
    if report.extra_units:
        click.echo(f"{report.extra_units} coded spans lay outside every meaning unit and got a unit of their own.")
