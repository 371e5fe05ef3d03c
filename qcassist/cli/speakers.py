"""Commands for speakers: list them with their roles, and set a role."""

from __future__ import annotations

from pathlib import Path

import click

from ..model import ROLES
from ..speakers import set_role, speaker_rows
from ..store import Store
from .base import names_in, transcript_names_option, echo_json, encoder_option, json_option, main, progress_bar


def _project_choice(func):
    return click.option(
        "--project", "-p", "project", type=click.Path(file_okay=False, path_type=Path), default=None,
        help="Project directory (holds qcassist.db).  [default: current directory]",
    )(func)


@main.group(invoke_without_command=True)
@_project_choice
@json_option
@transcript_names_option
@click.pass_context
def speakers(ctx: click.Context, project: Path | None, as_json: bool, transcripts) -> None:
    """List speakers per transcript with their role, turns and words.

    \b
    Only participant turns become meaning units (unless 'segment --role' says
    otherwise). Change a role with:
      qcassist speakers set NAME --role interviewer|participant|other
    """
    ctx.obj = project or Path(".")
    if ctx.invoked_subcommand is not None:
        return
    with Store.open(ctx.obj) as store:
        rows = speaker_rows(store, transcripts)
    if as_json:
        echo_json(rows)
        return
    click.echo(f"{'transcript':<24} {'role':<11} {'turns':>6} {'words':>7}  speaker")
    for row in rows:
        click.echo(f"{row['transcript'][:24]:<24} {row['role']:<11} {row['turns']:>6} {row['words']:>7}  {row['speaker']}")


@speakers.command("set")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(ROLES), help="The speaker's new role.")
@click.option("--transcripts", default="", metavar="A,B",
              help="Only in these transcripts (comma-separated).  [default: all, and transcripts imported later]")
@_project_choice
@json_option
@encoder_option
@click.pass_obj
def set_(group_project: Path, name: str, role: str, transcripts: str, project: Path | None, as_json: bool,
         encoder: str) -> None:
    """Give speaker NAME a role and re-derive which turns yield meaning units.

    NAME matches every label of that person ('Mr. Dave Epp' also matches
    'Mr. Dave Epp (Chatham-Kent, CPC)'). Segmented transcripts are re-segmented
    with the options they were segmented with; codings and review decisions move
    to the new units as with 'segment --resegment'. If a coded unit would
    disappear (e.g. a coded participant becomes interviewer), nothing changes.
    """
    names = names_in(transcripts)
    with Store.open(project or group_project) as store:
        with progress_bar(len(names) or len(store.transcripts()), "Re-segmenting", not as_json) as tick:
            report = set_role(store, name, role, transcripts=names, encoder=encoder, progress=tick)
    if as_json:
        echo_json(report.as_dict())
        return
    if not report.changed:
        click.echo(f"{name} already has the role {role}; nothing changed.")
    for transcript, labels in report.changed.items():
        units = report.segmented.get(transcript)
        after = f"; {units} meaning units" if units is not None else ""
        click.echo(f"{transcript}: {', '.join(labels)} → {role}{after}")
    for transcript in report.kept_units:
        click.echo(f"{transcript}: its units came from another tool and were kept as they are.")
    if report.carried or report.moved_decisions:
        click.echo(f"Moved {len(report.carried)} codings and {report.moved_decisions} review decisions to the new units.")
