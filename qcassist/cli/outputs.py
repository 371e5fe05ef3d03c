"""Commands for outputs: the condensation sheet (condense) and the exports of units, codings, decisions, codebook."""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

import click

from ..codebook import ROW_FIELDS as CODEBOOK_FIELDS
from ..codebook import codebook_rows, write_codebook
from ..decisions import DECISION_FIELDS
from ..exports import CODING_FIELDS, check_names, coding_rows, filtered_decision_rows
from ..model import Condensate
from ..project import UNIT_FIELDS, iter_unit_rows
from ..store import Store
from ..safe_output import check_output_path, write_output, write_output_file
from .base import UserError, split_names, transcript_names_option, echo_json, force_option, json_option, main, project_option, raw_option, write_export
from .coding import EXPORT_FORMATS, export, model_encoder_option


def coders_option(func):
    return click.option("--coders", multiple=True, callback=split_names, metavar="A,B",
                        help="Only these coders (comma-separated or repeated). Default: every coder.")(func)


def format_option(func):
    return click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), default="csv", show_default=True)(func)


def output_option(func):
    """-o FILE with --force (an existing FILE is refused without it) and --raw (CSV formulas left as they are)."""
    func = raw_option(force_option(func))
    return click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
                        help="Write to this file instead of standard output.")(func)


# --- condense ----------------------------------------------------------------------


@main.command("condense")
@project_option
@json_option
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the sheet as Markdown to this file (default: standard output, unless --docx).")
@click.option("--docx", "docx_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the sheet as a Word document to this file.")
@coders_option
@model_encoder_option
@click.option("--set", "set_code", metavar="CODE", default=None,
              help="Save the condensate or the illustrative quotation of this code group, subgroup or code.")
@click.option("--text", default=None, help="With --set: the condensate, your artificial quotation.")
@click.option("--from-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="With --set: read the condensate from this text file.")
@click.option("--quote", "quote_unit", type=int, default=None, metavar="UNIT_ID",
              help="With --set: the unit to show as the illustrative quotation (one coded under the group or code).")
@click.option("--clear-quote", is_flag=True, help="With --set: forget the picked quotation; propose the most central again.")
@force_option
def condense_cmd(project: Path, as_json: bool, output: Path | None, docx_path: Path | None, coders, encoder: str | None,
                 set_code: str | None, text: str | None, from_file: Path | None, quote_unit: int | None,
                 clear_quote: bool, force: bool) -> None:
    """Write the condensation sheet (Markdown, .docx), or save a condensate with --set.

    \b
    Systematic text condensation (Malterud): for each group and subgroup the sheet lists
    the units people coded under it (human and reviewed codings), how many of the
    participants they come from, a proposed illustrative quotation (the most central
    unit, unless you picked one) and your condensate, or a marked place for it. A unit
    counts for a code from the coders who gave it that code; where 'adjudicated' settled
    a unit, its codes stand for that unit. qcassist never writes condensates.

    \b
      qcassist condense -o sheet.md --docx sheet.docx
      qcassist condense --set "Being seen" --text "I was asked what I wanted ..."
      qcassist condense --set "Being seen" --from-file being-seen.txt
      qcassist condense --set "Being seen" --quote 12
      qcassist condense --set believed --text "They believed me ..."   a single code
    """
    from ..condense import condense, read_condensate_file, set_condensate, sheet_markdown, write_docx

    editing = text is not None or from_file is not None or quote_unit is not None or clear_quote
    if editing and set_code is None:
        raise UserError("--text, --from-file, --quote and --clear-quote go with --set CODE.")
    if text is not None and from_file is not None:
        raise UserError("give the condensate with --text or --from-file, not both.")
    if from_file is not None:
        text = read_condensate_file(from_file)
    with Store.open(project) as store:
        for path in (output, docx_path):  # refused before --set changes anything
            if path is not None:
                check_output_path(path, force=force, store_dir=project)
        if set_code is not None:
            saved = set_condensate(store, set_code, text=text, quote_unit=quote_unit, clear_quote=clear_quote)
            _echo_saved(saved, as_json)
            if output is None and docx_path is None:
                return  # with -o or --docx the sheet is written too, with the new condensate
        sheet = condense(store, encoder=encoder, coders=coders)
    if docx_path is not None:
        write_output_file(docx_path, lambda partial: write_docx(sheet, partial), force=force, store_dir=project)
        click.echo(f"Wrote the condensation sheet ({len(sheet.sections)} groups and subgroups) to {docx_path}", err=True)
    if output is not None:
        write_output(output, lambda out: out.write(sheet_markdown(sheet)), force=force, store_dir=project)
        click.echo(f"Wrote the condensation sheet ({len(sheet.sections)} groups and subgroups) to {output}", err=True)
    if set_code is None and as_json:
        echo_json(sheet.as_dict())
    elif set_code is None and output is None and docx_path is None:
        click.echo(sheet_markdown(sheet), nl=False)


def _echo_saved(saved: Condensate, as_json: bool) -> None:
    if as_json:
        echo_json(asdict(saved))
        return
    quotation = f"unit {saved.quote_unit} (picked)" if saved.quote_unit is not None else "proposed"
    click.echo(f"Saved {saved.code!r}: condensate of {len(saved.text)} characters; quotation {quotation}.")


# --- exports -----------------------------------------------------------------------


@export.command("units")
@project_option
@format_option
@output_option
@transcript_names_option
def export_units(project: Path, fmt: str, output: Path | None, force: bool, raw: bool, transcripts) -> None:
    """Meaning units: unit_id, transcript, order, speaker, role, start, end, start_time, text."""
    with Store.open(project) as store:  # rows are read as they are written: memory bounded on any corpus
        check_names("transcript", transcripts, store.transcript_names())
        write_export(iter_unit_rows(store, transcripts), UNIT_FIELDS, fmt, output, "units", force=force, raw=raw,
                     project=project)


@export.command("codings")
@project_option
@format_option
@output_option
@coders_option
@transcript_names_option
def export_codings(project: Path, fmt: str, output: Path | None, force: bool, raw: bool, coders, transcripts) -> None:
    """Codings with their exact span text, code path, coder and origin.

    Columns: coding_id, unit_id, external_id, transcript, speaker, start, end (the
    coder's own span, else the unit's), text, code, code_path, coder, origin
    (human, review, model), created_at, decision_id (for codings made in review).
    """
    with Store.open(project) as store:
        rows = coding_rows(store, coders=coders, transcripts=transcripts)
    write_export(rows, CODING_FIELDS, fmt, output, "codings", force=force, raw=raw, project=project)


@export.command("decisions")
@project_option
@format_option
@output_option
@coders_option
@transcript_names_option
def export_decisions(project: Path, fmt: str, output: Path | None, force: bool, raw: bool, coders, transcripts) -> None:
    """Review decisions, oldest first (an undo is its own row that reverses another)."""
    with Store.open(project) as store:
        rows = filtered_decision_rows(store, coders=coders, transcripts=transcripts)
    write_export(rows, DECISION_FIELDS, fmt, output, "decisions", force=force, raw=raw, project=project)


@export.command("codebook")
@project_option
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS + ("json", "yaml")), default="csv", show_default=True,
              help="csv/jsonl: one row a code (code, parent, level, description, path); json/yaml: the tree, re-importable.")
@output_option
def export_codebook(project: Path, fmt: str, output: Path | None, force: bool, raw: bool) -> None:
    """The codebook: code groups, subgroups and codes with their descriptions (re-importable).

    A CSV with neutralised formulas (a code named '=x' written as "'=x") reads back with
    the quote; use --raw, or json/yaml, for a file to import again.
    """
    with Store.open(project) as store:
        book = store.codebook()
    if fmt in EXPORT_FORMATS:
        write_export(codebook_rows(book), CODEBOOK_FIELDS, fmt, output, "codes", force=force, raw=raw, project=project)
        return
    if output is None:
        write_codebook(book, fmt, sys.stdout)
        return
    write_output(output, lambda out: write_codebook(book, fmt, out), force=force, store_dir=project)
    click.echo(f"Wrote {len(book.codes)} codes to {output}", err=True)
