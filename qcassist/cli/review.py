"""Commands for review: review (interactive or from a decisions file) and decisions export."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..adjudication import ADJUDICATED, apply_adjudication_file, copy_agreed, disagreements
from ..decisions import DECISION_FIELDS, QueueFilter, apply_decisions_file, decision_rows, review_queue
from ..review.order import DEFAULT_STRATEGY, STRATEGIES
from ..store import Store
from .base import names_in, transcript_names_option, UserError, echo_json, force_option, raw_option, write_export, json_option, main, project_option
from .coding import EXPORT_FORMATS, _default_coder



@main.command("review")
@project_option
@json_option
@click.option("--coder", default=None, metavar="NAME", help="Recorded with every decision (default: your user name).")
@click.option("--strategy", type=click.Choice(list(STRATEGIES)), default=DEFAULT_STRATEGY, show_default=True,
              help="Review order: diverse (uncertain units spread over the corpus; fewest reviews to a good model "
              "in our simulation), uncertainty, stratified, random, or sequential (transcript order, to read in context).")
@click.option("--code", "codes", multiple=True, metavar="CODE", help="Only suggestions of this code (repeatable).")
@transcript_names_option
@click.option("--min-probability", default=0.0, show_default=True, help="Only suggestions at least this probable.")
@click.option("--max-probability", default=1.0, show_default=True, help="Only suggestions at most this probable.")
@click.option("--limit", type=int, default=None, help="Review at most this many units.")
@click.option("--retrain-every", default=25, show_default=True,
              help="Retrain and re-suggest in the background after this many decisions (0: never).")
@click.option("--refine", is_flag=True,
              help="Fine-tune the model on every decision so far in the background while you review (minutes; "
              "the screen does not wait); until it is done, and after, retraining refits the classifier only.")
@click.option("--decisions", "decisions_file", type=click.Path(path_type=Path), default=None,
              help="Apply a CSV/JSONL of decisions (unit_id, action, code, memo; one row per code, or several codes "
              "';'-separated; suggested_code names the suggestion a recode replaces) instead of the screen; "
              "with --adjudicate: unit_id, codes (';'-separated, empty for no code), memo.")
@click.option("--adjudicate", is_flag=True,
              help="Walk the disagreements between --coders instead of suggestions; your choice is stored as the "
              "adjudicated coder's coding (units the coders agree on are copied to it first, so it is a complete reference).")
@click.option("--coders", "adjudicate_coders", default=None, metavar="A,B[,...]", help="With --adjudicate: the coders whose disagreements to settle.")
@click.option("--as", "adjudicator", default=ADJUDICATED, show_default=True, metavar="CODER",
              help="With --adjudicate: the coder name the settled codes are stored under.")
def review_cmd(project: Path, as_json: bool, coder: str | None, strategy: str, codes, transcripts, min_probability: float,
               max_probability: float, limit: int | None, retrain_every: int, refine: bool, decisions_file: Path | None,
               adjudicate: bool, adjudicate_coders: str | None, adjudicator: str) -> None:
    """Review suggestions one unit at a time from the keyboard (or apply a decisions file).

    \b
    Each suggestion on a unit is decided on its own; the unit is done when all are.
    Keys: up/down or 1-9 pick a suggestion   a accept it   r reject it
          c recode it   + add code(s) to the unit   s skip the unit   u undo
          m memo   PgDn/PgUp scroll a long unit   left/right previous/next unit
          ? all keys   q quit
    Each decision is saved before the screen says "Recorded"; quit any time and run
    'qcassist review' again to continue where you stopped. Accepted and recoded
    codes become training data; rejections are kept as negatives.
    """
    coder = coder or _default_coder()
    if adjudicate:
        _adjudicate(project, as_json, coder, adjudicate_coders, adjudicator, codes, transcripts, limit, decisions_file)
        return
    if adjudicate_coders:
        raise UserError("--coders is for --adjudicate; to review one coder's suggestions use --coder NAME.")
    with Store.open(project) as store:
        if decisions_file is not None:
            report = apply_decisions_file(store, decisions_file, coder=coder)
            if as_json:
                echo_json(report.as_dict())
            else:
                counts = ", ".join(f"{n} {action}" for action, n in sorted(report.applied.items()))
                click.echo(f"Applied {report.as_dict()['total']} decisions" + (f": {counts}" if counts else "")
                           + (f"; {report.already} already recorded, left as they were" if report.already else "") + ".")
            return
        filters = QueueFilter(codes=tuple(codes), transcripts=tuple(transcripts), min_probability=min_probability,
                              max_probability=max_probability, limit=limit)
        queue = review_queue(store, coder=coder, strategy=strategy, filters=filters)
        if not queue:
            click.echo("Nothing to review: no undecided suggestions (run 'qcassist suggest' first?).")
            return
        if not sys.stdin.isatty():
            raise UserError("the review screen needs a terminal; use --decisions FILE in scripts.")
        from ..review.retrain import BackgroundRetrainer
        from ..review.screen import Keys, run_review

        retrainer = BackgroundRetrainer(project, retrain_every, coder, strategy, filters)
        if refine:
            retrainer.refine()
        try:
            with Keys() as keys:
                state = run_review(store, queue, coder=coder, keys=keys, on_decision=retrainer.after_decision)
        finally:
            discarded = retrainer.close()
    click.echo(f"\n{state.reviewed} decision{'' if state.reviewed == 1 else 's'} recorded this session ({state.accepted} accepted).")
    if discarded:
        click.echo("Stopped the background retraining that was still running; 'qcassist train' and "
                   "'qcassist suggest' update the model from every decision so far.")


def _adjudicate(project: Path, as_json: bool, person: str, coders: str | None, adjudicator: str, codes, transcripts,
                limit: int | None, decisions_file: Path | None) -> None:
    names = names_in(coders)
    if len(names) < 2:
        raise UserError("--adjudicate needs --coders A,B (the coders whose disagreements you settle).")
    if adjudicator in names:
        raise UserError(f"--as {adjudicator} is one of the coders being adjudicated; pick another name.")
    with Store.open(project) as store:
        with store.transaction():  # a bad decisions file leaves nothing behind, the copied agreement included
            copied = copy_agreed(store, names, adjudicator=adjudicator, codes=codes, transcripts=transcripts)
            found = disagreements(store, names, codes=codes, transcripts=transcripts, adjudicator=adjudicator)
            if decisions_file is not None:
                report = apply_adjudication_file(store, decisions_file, found, adjudicator=adjudicator, person=person)
        if copied and not as_json:
            click.echo(f"Copied {copied} codings the coders agree on to {adjudicator!r}.", err=True)
        if decisions_file is not None:
            if as_json:
                echo_json(report.as_dict())
            else:
                click.echo(f"Settled {report.settled} disagreements as {adjudicator!r}; {report.remaining} left.")
            return
        pending = [d for d in found if d.adjudicated is None][:limit]
        if not pending:
            click.echo(f"Nothing to adjudicate: {len(found)} disagreements between {', '.join(names)}, all settled.")
            return
        if not sys.stdin.isatty():
            raise UserError("the adjudication screen needs a terminal; use --decisions FILE in scripts.")
        from ..review.adjudicate import run_adjudication
        from ..review.screen import Keys

        with Keys() as keys:
            state = run_adjudication(store, pending, keys=keys, adjudicator=adjudicator, person=person)
    click.echo(f"\n{state.settled} disagreements settled this session, stored as coder {adjudicator!r}.")


@main.group()
def decisions() -> None:
    """Review decisions: export the full history."""


@decisions.command("export")
@project_option
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), default="csv", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None)
@force_option
@raw_option
def decisions_export(project: Path, fmt: str, output: Path | None, force: bool, raw: bool) -> None:
    """Every decision, oldest first (undo appears as its own row that reverses another)."""
    with Store.open(project) as store:
        rows = decision_rows(store)
    write_export(rows, DECISION_FIELDS, fmt, output, "decisions", force=force, raw=raw, project=project)
