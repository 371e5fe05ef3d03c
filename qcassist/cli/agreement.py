"""Commands for agreement between coders: agree, disagreements."""

from __future__ import annotations

from pathlib import Path

import click

from ..adjudication import DISAGREEMENT_FIELDS, disagreements
from ..agreement import DEFAULT_BOOTSTRAP, DEFAULT_MIN_OVERLAP, DEFAULT_ORIGIN, ORIGINS, Agreement, agree, agreement_steps
from ..store import Store
from ..safe_output import write_output
from .base import echo_json, names_in, force_option, json_option, main, progress_bar, project_option, raw_option, write_export


def comparison_options(func):
    """Which coders, codes and transcripts to compare, and how units are lined up."""
    options = [
        click.option("--coders", required=True, metavar="A,B[,C...]",
                     help="Coders to compare, comma-separated; 'model' is the latest suggestions, 'model:VERSION' one model."),
        click.option("--codes", default=None, metavar="CODE,...", help="Only these codes (a group stands for the codes under it)."),
        click.option("--transcripts", default=None, metavar="NAME,...", help="Only these transcripts."),
        click.option("--min-overlap", default=DEFAULT_MIN_OVERLAP, show_default=True,
                     help="A coder's own span counts on a unit when the shared characters are at least this share "
                     "of the unit or of the span."),
        click.option("--include-uncoded", is_flag=True,
                     help="Count units no chosen coder coded (agreement on 'no code'); off by default."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@main.command("agree")
@project_option
@json_option
@comparison_options
@click.option("--reference", default=None, metavar="CODER", help="Reference for precision/recall and the confusion matrix (default: the first coder).")
@click.option("--bootstrap", default=DEFAULT_BOOTSTRAP, show_default=True, help="Bootstrap rounds over transcripts for 95% CIs (0: none).")
@click.option("--seed", default=0, show_default=True, help="Random seed of the bootstrap.")
@click.option("--origin", type=click.Choice(ORIGINS), default=DEFAULT_ORIGIN, show_default=True,
              help="Which codings of a person count: 'human' those they made directly (imported, hand-coded, "
              "adjudicated), 'review' those made by reviewing suggestions, 'any' all.")
def agree_cmd(project: Path, as_json: bool, coders: str, codes: str | None, transcripts: str | None, min_overlap: float,
              include_uncoded: bool, reference: str | None, bootstrap: int, seed: int, origin: str) -> None:
    """How far coders agree: percent agreement, Cohen's and Fleiss' kappa, Krippendorff's alpha, Gwet's AC1,
    per-code precision/recall/F1 and binary kappa/alpha, and a confusion matrix.

    \b
    Example:
      qcassist agree --coders anna,ben           two people
      qcassist agree --coders adjudicated,model  the model against the adjudicated reference,
                                                 on the units it judged (after 'suggest --all')

    Confidence intervals need at least 5 transcripts. Low agreement is a result, not an
    error: the exit code is 0 whenever the figures were computed.
    """
    with Store.open(project) as store:
        steps = agreement_steps(store, names_in(codes)) if bootstrap else 0
        with progress_bar(steps, "Agreement", enabled=not as_json) as step:
            result = agree(store, names_in(coders), codes=names_in(codes), transcripts=names_in(transcripts), reference=reference,
                           min_overlap=min_overlap, include_uncoded=include_uncoded, origin=origin, bootstrap=bootstrap,
                           seed=seed, progress=step)
    if as_json:
        echo_json(result.as_dict())
    else:
        click.echo(format_agreement(result))


ORIGIN_WORDS = {"human": "direct codings only", "review": "reviewed codings only", "any": "direct and reviewed codings"}


def format_agreement(result: Agreement) -> str:
    lines = [
        f"Coders: {', '.join(result.coders)} (reference {result.reference}) · {result.units} units in {result.transcripts} transcript{'' if result.transcripts == 1 else 's'}"
        + f" · {ORIGIN_WORDS[result.origin]}"
        + (f" · 95% CI from {result.bootstrap} bootstrap rounds over transcripts" if result.bootstrap else ""),
    ]
    lost = {c: n for c, n in result.unaligned.items() if n}
    if lost:
        lines.append("Could not align to any unit (min overlap "
                     f"{result.min_overlap:g}): " + ", ".join(f"{c} {n} spans" for c, n in lost.items()))
    lines.append("")
    for name, entry in result.statistics.items():
        lines.append(f"  {name.replace('_', ' '):<20} {_value(entry['value']):>6}  {_interval(entry.get('ci')):<17} {entry.get('label') or ''}")
    lines += ["", "  Thresholds: kappa/AC1 (Landis & Koch) <0 poor, .00 slight, .21 fair, .41 moderate, .61 substantial, .81 almost perfect;",
              "              alpha (Krippendorff) ≥ .667 tentative conclusions, ≥ .800 reliable.", ""]
    width = max([len(e["code"]) for e in result.per_code] + [4])
    lines.append(f"  {'code':<{width}}  support  precision  recall  F1     kappa  alpha  (vs {result.reference})")
    for e in result.per_code:
        lines.append(f"  {e['code']:<{width}}  {e['support']:>7}  {_value(e['precision']):>9}  {_value(e['recall']):>6}  "
                     f"{_value(e['f1']):<6} {_value(e['kappa']):<6} {_value(e['alpha'])}")
    if result.confusion:
        labels = result.confusion["labels"]
        cell = max([len(label) for label in labels] + [5])
        lines += ["", f"  Confusion: rows {result.confusion['rows']}, columns {result.confusion['columns']}",
                  "  " + " " * cell + " " + " ".join(f"{label[:cell]:>{cell}}" for label in labels)]
        for label, row in zip(labels, result.confusion["matrix"]):
            lines.append(f"  {label:<{cell}} " + " ".join(f"{n:>{cell}}" for n in row))
    lines += [f"Note: {note}" for note in result.notes]
    return "\n".join(lines)


def _value(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _interval(ci: list[float] | None) -> str:
    return "" if not ci else f"[{ci[0]:.3f}, {ci[1]:.3f}]"


@main.command("disagreements")
@project_option
@comparison_options
@click.option("--format", "fmt", type=click.Choice(["text", "csv", "jsonl"]), default="text", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--pending", is_flag=True, help="Only units not adjudicated yet.")
@force_option
@raw_option
def disagreements_cmd(project: Path, coders: str, codes: str | None, transcripts: str | None, min_overlap: float,
                      include_uncoded: bool, fmt: str, output: Path | None, pending: bool, force: bool, raw: bool) -> None:
    """List the units where the chosen coders differ, with each coder's codes and the turns around them.

    Settle them with 'qcassist review --adjudicate --coders A,B'.
    """
    with Store.open(project) as store:
        found = disagreements(store, names_in(coders), codes=names_in(codes), transcripts=names_in(transcripts),
                              min_overlap=min_overlap, include_uncoded=include_uncoded)
    if pending:
        found = [d for d in found if d.adjudicated is None]
    if fmt != "text":
        write_export([d.as_row() for d in found], DISAGREEMENT_FIELDS, fmt, output, "disagreements", force=force, raw=raw,
                     project=project)
        return
    lines = []
    for d in found:
        lines.append(f"{d.transcript} · unit {d.unit_id} [{d.start}:{d.end}]"
                     + (f" · settled: {', '.join(d.adjudicated) or '(no code)'}" if d.adjudicated is not None else ""))
        for turn in d.before[-1:]:
            lines.append(f"    {turn.speaker}: {turn.text}")
        lines.append(f"  > {d.speaker or ''}: {d.text}")
        for coder, chosen in d.codes.items():
            lines.append(f"      {coder}: {', '.join(chosen) or '(no code)'}")
        lines.append("")
    lines.append(f"{len(found)} disagreements ({sum(d.adjudicated is None for d in found)} not adjudicated).")
    text = "\n".join(lines)
    if output:
        write_output(output, lambda out: out.write(text + "\n"), force=force, store_dir=project)
        click.echo(f"Wrote {len(found)} disagreements to {output}", err=True)
    else:
        click.echo(text)
