"""Commands for coding: codebook, import-coded, import-spans, train, suggest, evaluate, export."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

import click

from ..classify import TrainOptions
from ..codebook import FORMATS as CODEBOOK_FORMATS
from ..codebook import codebook_rows, write_codebook
from ..ingest.coded import CodedColumns
from ..seed import import_codebook, import_coded, import_spans
from ..store import Store
from ..project import write_rows
from ..suggest import SUGGESTION_FIELDS, evaluate, suggest, suggestion_rows, train
from .base import UserError, echo_json, write_export, encoder_option, json_option, main, project_option

EXPORT_FORMATS = ("csv", "jsonl")
_DEFAULTS = TrainOptions()


def _default_coder() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "coder"


def coder_option(func):
    return click.option("--coder", default=None, metavar="NAME",
                        help="Who coded this (default: your user name).")(func)


def model_encoder_option(func):
    return click.option(
        "--encoder", default=None,
        help="Sentence encoder: 'default' (packaged all-MiniLM-L6-v2), 'tfidf', or a sentence-transformers "
        "name/path. Default: the one the project's model was trained with.",
    )(func)


# --- codebook ----------------------------------------------------------------------


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


# --- importing human codings -------------------------------------------------------


@main.command("import-coded")
@project_option
@json_option
@click.argument("file", type=click.Path(path_type=Path))
@coder_option
@click.option("--text-column", default="text", show_default=True, help="Column with the unit's text.")
@click.option("--code-column", default="code", show_default=True, help="Column with the code(s); empty = uncoded unit.")
@click.option("--code-separator", default=None, metavar="SEP", help="Split the code cell on SEP for several codes per unit (e.g. ';').")
@click.option("--transcript-column", default="transcript", show_default=True, help="Column naming the transcript.")
@click.option("--order-column", default=None, help="Column with the order of rows within a transcript.")
@click.option("--speaker-column", default="speaker", show_default=True, help="Column with the speaker.")
@click.option("--id-column", default=None, help="Column with an external unit id, kept verbatim in exports.")
@click.option("--where", "where", multiple=True, metavar="COLUMN=VALUE",
              help="Only rows with this value are units (repeatable); other rows stay as context turns.")
@click.option("--exclusive/--multi-label", default=None,
              help="For a codebook made from the file's codes: one code per unit (default without "
              "--code-separator) or several.")
def import_coded_cmd(project: Path, as_json: bool, file: Path, coder: str | None, text_column, code_column,
                     code_separator, transcript_column, order_column, speaker_column, id_column, where,
                     exclusive: bool | None) -> None:
    """Import data already cut into units and coded, one row a unit (e.g. a CSV from another study).

    \b
    Example (AnnoMI, therapist behaviour):
      qcassist import-coded AnnoMI-simple.dev.csv --coder expert \\
        --text-column utterance_text --code-column main_therapist_behaviour \\
        --transcript-column transcript_id --order-column utterance_id \\
        --speaker-column interlocutor --where interlocutor=therapist
    """
    filters = []
    for item in where:
        if "=" not in item:
            raise UserError(f"--where {item!r} must look like COLUMN=VALUE.")
        column, value = item.split("=", 1)
        filters.append((column, value))
    columns = CodedColumns(text=text_column, codes=code_column, transcript=transcript_column, order=order_column,
                           speaker=speaker_column, external_id=id_column)
    with Store.open(project) as store:
        report = import_coded(store, file, coder=coder or _default_coder(), columns=columns, where=filters,
                              code_separator=code_separator, exclusive=exclusive)
    if as_json:
        echo_json(report.as_dict())
        return
    click.echo(f"{report.units} units ({report.coded_units} coded, {report.uncoded_units} to predict) in "
               f"{len(report.transcripts_added) + len(report.transcripts_reused)} transcripts; "
               f"{report.codings_added} codings added, {report.context_turns} context turns.")
    if report.codes_created:
        click.echo(f"Made a{'n exclusive' if report.exclusive else ' multi-label'} codebook from the codes found: "
                   f"{', '.join(report.codes_created)}")


@main.command("import-spans")
@project_option
@json_option
@click.argument("file", type=click.Path(path_type=Path))
@coder_option
def import_spans_cmd(project: Path, as_json: bool, file: Path, coder: str | None) -> None:
    """Import codings given as character spans (CSV/JSONL: transcript, start, end, code[, coder]).

    Each span codes the meaning units it overlaps by at least half (of the unit or of the span).
    """
    with Store.open(project) as store:
        report = import_spans(store, file, coder=coder or _default_coder())
    if as_json:
        echo_json(report.as_dict())
        return
    click.echo(f"{report.spans} spans coded {report.units_coded} units ({report.codings_added} new codings).")


# --- train, suggest, evaluate ------------------------------------------------------


def training_options(func):
    func = click.option("--C", "c", default=_DEFAULTS.C, show_default=True, type=float,
                        help="Inverse regularization strength of the logistic regression.")(func)
    func = click.option("--balanced", is_flag=True, help="Weight codes inversely to their frequency.")(func)
    func = click.option("--min-examples", default=_DEFAULTS.min_classifier_examples, show_default=True,
                        help="Codes with fewer coded units are suggested by similarity to their examples.")(func)
    func = click.option("--only-coder", "coders", multiple=True, metavar="NAME",
                        help="Train on this coder's codings only (repeatable). Default: every human coder.")(func)
    return func


def _train_options(c: float, balanced: bool, min_examples: int) -> TrainOptions:
    return TrainOptions(C=c, class_weight="balanced" if balanced else None, min_classifier_examples=min_examples)


@main.command("train")
@project_option
@json_option
@encoder_option
@training_options
def train_cmd(project: Path, as_json: bool, encoder: str, c: float, balanced: bool, min_examples: int, coders) -> None:
    """Train the project's code classifier on its human codings (a new model version each time)."""
    with Store.open(project) as store:
        report = train(store, encoder=encoder, options=_train_options(c, balanced, min_examples), coders=coders)
    if as_json:
        echo_json(report.as_dict())
        return
    click.echo(f"Trained model {report.version} on {report.units} coded units in {report.seconds:.1f} s "
               f"(encoder {report.encoder}).")
    click.echo(f"  classifier: {', '.join(report.classifier_codes) or 'none'}")
    if report.exemplar_codes:
        click.echo(f"  few examples, suggested by similarity to them: {', '.join(report.exemplar_codes)}")
    if report.description_codes:
        click.echo(f"  no examples, suggested from their description: {', '.join(report.description_codes)}")


@main.command("suggest")
@project_option
@json_option
@model_encoder_option
@click.option("--all", "include_coded", is_flag=True, help="Also suggest for units people already coded.")
@click.option("--format", "fmt", type=click.Choice(("summary",) + EXPORT_FORMATS), default="summary", show_default=True,
              help="What to print after storing the suggestions.")
def suggest_cmd(project: Path, as_json: bool, encoder: str | None, include_coded: bool, fmt: str) -> None:
    """Suggest codes for uncoded units with the latest model and store them for review.

    Each suggestion carries a probability (calibrated for the classifier; a
    similarity for codes with few or no examples) and the 3 most similar
    human-coded units as its rationale. Units below every code's threshold get none.
    """
    with Store.open(project) as store:
        report = suggest(store, encoder=encoder, include_coded=include_coded)
        rows = suggestion_rows(store) if fmt != "summary" else []
    if as_json:
        echo_json(report.as_dict())
    elif fmt != "summary":
        write_rows(rows, SUGGESTION_FIELDS, fmt, sys.stdout)
    else:
        click.echo(f"Model {report.model_version}: {report.suggestions} suggestions for "
                   f"{report.units_with_suggestion} of {report.units} units.")


@main.command("evaluate")
@project_option
@json_option
@encoder_option
@training_options
@click.option("--folds", default=5, show_default=True, help="Cross-validation folds (grouped by transcript).")
@click.option("--no-learning-curve", is_flag=True, help="Skip the learning curve (faster).")
def evaluate_cmd(project: Path, as_json: bool, encoder: str, c: float, balanced: bool, min_examples: int, coders,
                 folds: int, no_learning_curve: bool) -> None:
    """Cross-validate the classifier on the human codings, grouped by transcript.

    Prints per-code precision/recall/F1, macro-F1, Cohen's kappa, the expected
    calibration error, the auto-accept tier (precision >= 0.90) and a learning curve.
    """
    with Store.open(project) as store:
        result = evaluate(store, encoder=encoder, options=_train_options(c, balanced, min_examples), folds=folds,
                          with_learning_curve=not no_learning_curve, coders=coders)
    if as_json:
        echo_json(result)
        return
    click.echo(f"{result['units']} coded units in {result['transcripts']} transcripts, {result['folds']}-fold CV "
               f"grouped by transcript ({result['mode']}).")
    click.echo(f"{'code':<24} {'precision':>9} {'recall':>7} {'F1':>6} {'support':>8}")
    for code, m in result["per_code"].items():
        click.echo(f"{code[:24]:<24} {m['precision']:>9.3f} {m['recall']:>7.3f} {m['f1']:>6.3f} {m['support']:>8}")
    click.echo(f"macro-F1 {result['macro_f1']:.3f}   kappa {result['kappa']:.3f} ({result['kappa_kind']})   "
               f"ECE {result['ece']:.3f}")
    tier = result["auto_accept"]
    if tier["threshold"] is not None:
        click.echo(f"auto-accept tier: probability >= {tier['threshold']:.2f} gives precision {tier['precision']:.3f} "
                   f"on {tier['coverage']:.0%} of suggestions")
    else:
        click.echo("auto-accept tier: no probability cut reaches precision 0.90")
    for point in result.get("learning_curve", []):
        click.echo(f"  learning curve {str(point['per_code']):>4} per code: macro-F1 {point['macro_f1']:.3f}  "
                   f"kappa {point['kappa']:.3f}")


# --- export ------------------------------------------------------------------------


@main.group()
def export() -> None:
    """Export the project's work: units, codings, decisions, suggestions, codebook (CSV/JSONL), and
    REFI-QDA projects (.qdpx) and codebooks (.qdc) for NVivo, ATLAS.ti, MAXQDA and QualCoder."""


@export.command("suggestions")
@project_option
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), default="csv", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file instead of standard output.")
def export_suggestions(project: Path, fmt: str, output: Path | None) -> None:
    """Stored suggestions: unit id, external id, transcript, order, code, probability, source, rationale ids."""
    with Store.open(project) as store:
        rows = suggestion_rows(store)
    write_export(rows, SUGGESTION_FIELDS, fmt, output, "suggestions")
