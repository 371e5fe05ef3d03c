"""Commands for the codebook: import, show, and rename, merge, remove, move as it matures."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..codebook import FORMATS as CODEBOOK_FORMATS
from ..codebook import codebook_rows, write_codebook
from ..seed import import_codebook
from ..store import Store
from .base import UserError, echo_json, json_option, main, project_option


@main.group()
def codebook() -> None:
    """Import, show and change the codebook (code groups → subgroups → codes): rename, merge, remove, move."""


@codebook.command("import")
@project_option
@json_option
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--exclusive/--multi-label", default=None,
              help="Each unit gets one code (exclusive) or may get several (multi-label). Default: from the file, else multi-label.")
def codebook_import(project: Path, as_json: bool, file: Path, exclusive: bool | None) -> None:
    """Add or update codes from FILE (.csv with code, parent, description columns; .json; .yaml).

    Codes already in the project but not in FILE are kept.
    """
    with Store.open(project) as store:
        report = import_codebook(store, file, exclusive=exclusive)
    if as_json:
        echo_json(report.as_dict())
        return
    click.echo(f"Added {len(report.added)} codes, updated {len(report.updated)}; "
               f"{'exclusive (one code per unit)' if report.exclusive else 'multi-label'}.")


@codebook.command("show")
@project_option
@click.option("--format", "fmt", type=click.Choice(("tree",) + CODEBOOK_FORMATS), default="tree", show_default=True,
              help="tree: readable; csv/json/yaml: for other tools (re-importable).")
def codebook_show(project: Path, fmt: str) -> None:
    """Show the codebook with the number of human codings per code."""
    with Store.open(project) as store:
        book = store.codebook()
        counts: dict[str, int] = {}
        for coding in store.codings():
            if coding.origin != "model":
                counts[coding.code] = counts.get(coding.code, 0) + 1
    if fmt != "tree":
        write_codebook(book, fmt, sys.stdout)
        return
    if not book.codes:
        click.echo("The codebook is empty; add codes with 'qcassist codebook import FILE'.")
        return
    click.echo(f"Codebook ({'exclusive' if book.exclusive else 'multi-label'}):")
    for row in codebook_rows(book):
        depth = row["path"].count(" > ")
        count = f"  [{counts.get(row['code'], 0)}]" if row["level"] == "code" else ""
        description = f" — {row['description']}" if row["description"] else ""
        click.echo(f"{'  ' * depth}{row['code']}{count}{description}")


@codebook.command("rename")
@project_option
@json_option
@click.argument("old")
@click.argument("new")
def codebook_rename(project: Path, as_json: bool, old: str, new: str) -> None:
    """Rename code or group OLD to NEW; what was coded with it follows.

    Codings, suggestions, its condensate and the codes under it go along.
    Review decisions keep the name they were recorded with and are read as NEW.
    """
    from ..codebook_edit import rename_code

    with Store.open(project) as store:
        edit = rename_code(store, old, new)
    _echo_edit(edit, as_json, f"Renamed {old!r} to {new!r}")


@codebook.command("merge")
@project_option
@json_option
@click.argument("sources", nargs=-1, required=True)
@click.option("--into", "into", required=True, metavar="CODE", help="The code that takes in the others.")
def codebook_merge(project: Path, as_json: bool, sources: tuple[str, ...], into: str) -> None:
    """Merge the SOURCES codes into the --into code and remove them.

    \b
    Their codings, suggestions, condensates and child codes move to the --into code;
    a unit a coder coded with both keeps one coding.
      qcassist codebook merge 'felt heard' 'listened to' --into 'being heard'
    """
    from ..codebook_edit import merge_codes

    with Store.open(project) as store:
        edit = merge_codes(store, sources, into)
    _echo_edit(edit, as_json, f"Merged {', '.join(repr(s) for s in edit.codes)} into {into!r}")


@codebook.command("remove")
@project_option
@json_option
@click.argument("code")
@click.option("--drop-codings", is_flag=True, help="Also delete the code's codings (refused without it when it has any).")
def codebook_remove(project: Path, as_json: bool, code: str, drop_codings: bool) -> None:
    """Remove CODE (with --drop-codings if it has codings; a group only when empty).

    Its suggestions and condensate go with it; review decisions about it stay in the history.
    """
    from ..codebook_edit import remove_code

    with Store.open(project) as store:
        edit = remove_code(store, code, drop_codings=drop_codings)
    _echo_edit(edit, as_json, f"Removed {code!r}")


@codebook.command("move")
@project_option
@json_option
@click.argument("code")
@click.option("--under", "group", default=None, metavar="GROUP", help="The group to move CODE (and its codes) under.")
@click.option("--top", is_flag=True, help="Make CODE a top-level group.")
def codebook_move(project: Path, as_json: bool, code: str, group: str | None, top: bool) -> None:
    """Move CODE and the codes under it under GROUP (as its last code), or to the top."""
    from ..codebook_edit import move_code

    if (group is None) == (not top):
        raise UserError("say where to: --under GROUP or --top.")
    with Store.open(project) as store:
        edit = move_code(store, code, under=group)
    _echo_edit(edit, as_json, f"Moved {code!r} {'under ' + repr(group) if group else 'to the top'}")


def _echo_edit(edit, as_json: bool, done: str) -> None:
    if as_json:
        echo_json(edit.as_dict())
        return
    parts = []
    if edit.codings_moved:
        parts.append(f"{_count(edit.codings_moved, 'coding')} carried over")
    if edit.codings_merged:
        parts.append(f"{_count(edit.codings_merged, 'coding')} kept once (the unit already had the code)")
    if edit.codings_dropped:
        parts.append(f"{_count(edit.codings_dropped, 'coding')} deleted")
    if edit.suggestions:
        parts.append(f"{_count(edit.suggestions, 'suggestion')} {'deleted' if edit.change == 'remove' else 'carried over'}")
    if edit.decisions:
        decisions = _count(edit.decisions, "review decision")
        parts.append(f"{decisions} now read the new name" if edit.change != "remove"
                     else f"{decisions} about it stay in the history only")
    if edit.children_moved:
        parts.append(f"codes moved with it: {', '.join(edit.children_moved)}")
    click.echo(f"{done}" + (f": {'; '.join(parts)}." if parts else "."))
    if edit.stale_model:
        click.echo(f"Model {edit.stale_model} knows the old codes: run 'qcassist train' before 'qcassist suggest'.")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
