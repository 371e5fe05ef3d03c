"""Commands for coding: import-coded, import-spans, train, suggest, evaluate, export."""

from __future__ import annotations

import getpass
import math
import sys
from contextlib import contextmanager
from pathlib import Path

import click

from ..train_options import TrainOptions
from ..ingest.coded import CodedColumns
from ..seed import import_coded, import_spans
from ..store import Store
from ..project import write_rows
from ..suggest_limits import SuggestLimits
from .base import (UserError, echo_json, encoder_option, force_option, json_option, main, progress_bar, project_option,
                   raw_option, warn, write_export)
from .engine import engine_from, engine_options

EXPORT_FORMATS = ("csv", "jsonl")
_DEFAULTS = TrainOptions()
_LIMITS = SuggestLimits()


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
        help="Sentence encoder: 'default' (packaged all-MiniLM-L6-v2), 'tfidf', 'static', or a sentence-transformers "
        "name/path. Default: the one the project's model was trained with.",
    )(func)


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


def finetune_options(func):
    func = click.option("--method", type=click.Choice(("auto", "fast", "finetuned")), default="auto", show_default=True,
                        help="fast: the encoder's vectors and a classifier (seconds). finetuned: also tune the encoder "
                        "on your codings, each unit read with the turn before it (minutes). auto: both, on the same "
                        "held-out fifth of the transcripts; keeps the better and says by how much.")(func)
    func = click.option("--max-minutes", type=click.FloatRange(min=0, min_open=True), default=None,
                        help="Stop fine-tuning after this long and keep the best epoch so far.")(func)
    func = click.option("--epochs", type=click.IntRange(min=1), default=None,
                        help="Fine-tuning epochs (default 3).")(func)
    func = click.option("--tuned-layers", type=click.IntRange(min=0), default=None,
                        help="Top encoder layers the fine-tuning changes (default 2).")(func)
    return func


def _finetune_options(max_minutes: float | None, epochs: int | None, tuned_layers: int | None) -> dict:
    """The fine-tuning options given (FineTuneOptions fields): made into options only if a fine-tuning runs."""
    chosen = {"max_minutes": max_minutes, "epochs": epochs, "tuned_layers": tuned_layers}
    return {k: v for k, v in chosen.items() if v is not None}


@contextmanager
def _finetune_progress(enabled: bool):
    """One status line on a terminal's stderr while fine-tuning: epoch, step, loss, elapsed and ETA."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    shown = []

    def show(state: dict) -> None:
        done = state["step"] / max(1, state["steps"])  # of the phase: the whole run's steps, when training
        bar = f"[{'#' * int(done * 24):<24}]"
        if state.get("phase") == "preparing":  # the frozen layers' outputs, computed once before the epochs
            what = f"Preparing   {bar}"
        else:
            loss = state.get("loss")
            what = f"Fine-tuning {bar} epoch {state['epoch']}/{state['epochs']}" + (
                f"  loss {loss:.3f}" if isinstance(loss, float) and math.isfinite(loss) else "")
        click.echo(f"\r{what}  {_minutes(state['elapsed'])} elapsed, ETA {_minutes(state['eta'])}  ", nl=False, err=True)
        shown.append(True)

    try:
        yield show
    finally:
        if shown:
            click.echo("", err=True)


def _minutes(seconds) -> str:
    if seconds is None:
        return "?"
    seconds = int(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s"


@main.command("train")
@project_option
@json_option
@encoder_option
@training_options
@finetune_options
@click.option("--rescore-encoder", default=None, metavar="ENCODER",
              help="Also train a second-stage model on this encoder (e.g. 'default' beside --encoder static), saved in "
              "the same version, for 'suggest --rescore-uncertain' (fast models only).")
def train_cmd(project: Path, as_json: bool, encoder: str, c: float, balanced: bool, min_examples: int, coders,
              method: str, max_minutes: float | None, epochs: int | None, tuned_layers: int | None,
              rescore_encoder: str | None) -> None:
    """Train the project's code classifier on its human codings (a new model version each time).

    \b
    --method auto (the default) also fine-tunes the encoder on the codings when
    there are enough (200 coded units, 4 transcripts) and keeps whichever model
    agrees better with people on a held-out fifth of the transcripts. Ctrl-C
    leaves the previous model in place.
    """
    from ..suggest import train

    finetune = _finetune_options(max_minutes, epochs, tuned_layers) if method != "fast" else None
    with Store.open(project) as store, _finetune_progress(not as_json) as progress:
        report = train(store, encoder=encoder, options=_train_options(c, balanced, min_examples), coders=coders,
                       method=method, finetune=finetune, progress=progress, rescore_encoder=rescore_encoder)
    if as_json:
        echo_json(report.as_dict())
        return
    _echo_train_report(report)


def _echo_train_report(report) -> None:
    from ..train_methods import comparison_line

    if report.comparison:
        click.echo(comparison_line(report.comparison).capitalize() + ".")
    elif report.note and report.method == "fast":
        click.echo(report.note[0].upper() + report.note[1:] + ".")
    kind = ", fine-tuned" if report.method == "finetuned" else ""
    click.echo(f"Trained model {report.version} on {report.units} coded units in {report.seconds:.1f} s "
               f"(encoder {report.encoder}{kind}).")
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
@click.option("--cap-factor", default=_LIMITS.cap_factor, show_default=True, type=click.FloatRange(min=0),
              help="Suggest a code on at most this many times its share of the seed units (0: no cap).")
@click.option("--min-kappa", default=_LIMITS.min_code_kappa, show_default=True, type=float,
              help="Leave out codes whose cross-validated kappa is below this (the model does about as well as "
              "chance on them); lower it to see them anyway.")
@click.option("--format", "fmt", type=click.Choice(("summary",) + EXPORT_FORMATS), default="summary", show_default=True,
              help="What to print after storing the suggestions.")
@engine_options
@click.option("--rescore-uncertain", is_flag=True,
              help="Two-stage: re-score the units the model is unsure of with its second-stage model on the full "
              "encoder (train with --encoder static --rescore-encoder default).")
def suggest_cmd(project: Path, as_json: bool, encoder: str | None, include_coded: bool, cap_factor: float,
                min_kappa: float, fmt: str, engine: str, scheduler: str | None, workers: int,
                rescore_uncertain: bool) -> None:
    """Suggest codes for uncoded units with the latest model and store them for review.

    \b
    Each suggestion carries either a calibrated probability (the classifier:
    of suggestions at p=0.80 about 8 in 10 are right) or a similarity score
    (codes with few or no examples: not a probability), its source, and the 3
    most similar human-coded units as its rationale. A suggestion is made only
    above its code's threshold, for codes the model tells apart better than
    chance, and for at most --cap-factor times the code's share of the seed
    units. The summary says how many units got none, and why; a weak model
    (cross-validated kappa below 0.4) or codes with fewer than 8 examples get
    a warning.
    """
    from ..suggest import SUGGESTION_FIELDS, suggest, suggestion_rows

    limits = SuggestLimits(cap_factor=cap_factor, min_code_kappa=min_kappa)
    dask_options = engine_from(engine, scheduler, workers)
    with Store.open(project) as store:
        with progress_bar(len(store.transcript_names()), "Suggesting", not as_json and fmt == "summary") as tick:
            report = suggest(store, encoder=encoder, include_coded=include_coded, limits=limits, progress=tick,
                             engine=dask_options, rescore_uncertain=rescore_uncertain)
        rows = suggestion_rows(store) if fmt != "summary" else []
    warn(report.warnings)
    if as_json:
        echo_json(report.as_dict())
    elif fmt != "summary":
        write_rows(rows, SUGGESTION_FIELDS, fmt, sys.stdout)
    else:
        _echo_suggest_summary(report, limits)


def _echo_suggest_summary(report, limits: SuggestLimits) -> None:
    click.echo(f"Model {report.model_version}: {report.suggestions} suggestions for "
               f"{report.units_with_suggestion} of {report.units} units.")
    if report.rescored:
        done = report.rescored
        click.echo(f"Re-scored {done['units']} of {done['of']} units the first stage was unsure of "
                   f"(within {done['band']:g}) with {done['encoder']}.")
    without = report.units - report.units_with_suggestion
    if without:
        reasons = {"below threshold": "below every code's threshold",
                   "capped": f"lost theirs to a code's cap (--cap-factor {limits.cap_factor:g})",
                   "below the weak-model floor": f"below p = {limits.weak_min_probability:g} (weak model)",
                   "unreliable code": f"proposed only codes left out for kappa below {limits.min_code_kappa:g}"}
        parts = [f"{n} {reasons[reason]}" for reason, n in report.units_without.items()]
        click.echo(f"No suggestion for {without} units: {'; '.join(parts)}.")
    for code, cap in report.capped.items():
        click.echo(f"  capped: {code} on {cap['kept']} of its {cap['candidates']} candidate units")
    if report.unreliable:
        listed = ", ".join(f"{code} (kappa {kappa:.2f})" for code, kappa in report.unreliable.items())
        click.echo(f"  not suggested, the model does about as well as chance on them: {listed}")
    if report.no_model:
        click.echo(f"  no model (no coded units, no description): {', '.join(report.no_model)}")


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

    Prints per-code precision/recall/F1 (and which codes were left out for having
    fewer coded units than folds), macro-F1, Cohen's kappa, the expected calibration
    error, the auto-accept tier (the lowest probability at which suggestions are right
    90% of the time; none when that rests on fewer than 30 suggestions or on p = 1.00)
    and a learning curve; beside them a plain TF-IDF + logistic regression baseline
    (word 1-2-grams of the unit text) on the same folds, and what the model adds over it.
    """
    from ..suggest import evaluate

    with Store.open(project) as store:
        result = evaluate(store, encoder=encoder, options=_train_options(c, balanced, min_examples), folds=folds,
                          with_learning_curve=not no_learning_curve, coders=coders)
    if as_json:
        echo_json(result)
        return
    click.echo(f"{result['units']} coded units in {result['transcripts']} transcripts, {result['folds']}-fold CV "
               f"grouped by transcript ({result['mode']}).")
    active = result.get("active_model")
    if active:  # the figures below are the fast model's: say so, and what the fine-tuned one scored
        kappa = "n/a" if active["holdout_kappa"] is None else f"{active['holdout_kappa']:.3f}"
        click.echo(f"These are the fast model's figures; the active model {active['version']} is fine-tuned "
                   f"(kappa {kappa} on its {active['holdout_transcripts']} held-out transcripts).")
    click.echo(f"{'code':<24} {'precision':>9} {'recall':>7} {'F1':>6} {'support':>8}")
    for code, m in result["per_code"].items():
        click.echo(f"{code[:24]:<24} {m['precision']:>9.3f} {m['recall']:>7.3f} {m['f1']:>6.3f} {m['support']:>8}")
    if result.get("dropped_codes"):
        listed = ", ".join(f"{code} ({n})" for code, n in result["dropped_codes"].items())
        click.echo(f"left out, fewer than {result['min_examples']} coded units (one per fold) to cross-validate: {listed}")
    click.echo(f"macro-F1 {result['macro_f1']:.3f}   kappa {result['kappa']:.3f} ({result['kappa_kind']})   "
               f"ECE {result['ece']:.3f}")
    if result.get("baseline"):
        _echo_baseline(result["baseline"])
    tier = result["auto_accept"]
    if tier["threshold"] is not None:
        click.echo(f"auto-accept tier: probability >= {tier['threshold']:.2f} gives precision {tier['precision']:.3f} "
                   f"on {tier['coverage']:.0%} of suggestions")
    else:
        click.echo(f"auto-accept tier: none; {tier.get('reason') or 'no probability cut reaches precision 0.90'}")
    for point in result.get("learning_curve", []):
        click.echo(f"  learning curve {str(point['per_code']):>4} per code: macro-F1 {point['macro_f1']:.3f}  "
                   f"kappa {point['kappa']:.3f}  ECE {point['ece']:.3f}")


def _echo_baseline(baseline: dict) -> None:
    from ..baseline import describe_gain

    click.echo(f"baseline {baseline['name']} ({baseline['features']}), same folds: macro-F1 {baseline['macro_f1']:.3f}   "
               f"kappa {baseline['kappa']:.3f}")
    click.echo(describe_gain(baseline))


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
@force_option
@raw_option
def export_suggestions(project: Path, fmt: str, output: Path | None, force: bool, raw: bool) -> None:
    """Stored suggestions: unit id, external id, transcript, order, code, probability (calibrated, classifier
    only), score (similarity, for codes with few or no examples), source, model version, rationale ids, text."""
    from ..suggest import SUGGESTION_FIELDS, suggestion_rows

    with Store.open(project) as store:
        rows = suggestion_rows(store)
    write_export(rows, SUGGESTION_FIELDS, fmt, output, "suggestions", force=force, raw=raw, project=project)
