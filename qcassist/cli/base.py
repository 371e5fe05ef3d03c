"""Shared pieces of the command line: the main group, error handling, common options."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path

import click

from .. import __version__
from ..embed import DEFAULT_ENCODER
from ..errors import QcaError


class UserError(click.ClickException):
    """A QcaError shown as one line, exit code 2 (like click's usage errors)."""

    exit_code = 2


class QcaGroup(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except QcaError as exc:
            raise UserError(str(exc)) from None


def project_option(func):
    return click.option(
        "--project", "-p", "project", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
        show_default="current directory", help="Project directory (holds qcassist.db).",
    )(func)


def json_option(func):
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON instead of text.")(func)


def encoder_option(func):
    return click.option(
        "--encoder", default=DEFAULT_ENCODER, show_default=True,
        help="Sentence encoder: 'default' (packaged all-MiniLM-L6-v2, offline), 'tfidf' (TF-IDF/LSA, no torch), "
        "or any sentence-transformers model name or local path.",
    )(func)


def write_export(rows: list[dict], fields, fmt: str, output: Path | None, noun: str) -> None:
    """Rows as CSV/JSONL to a file (with a note on stderr) or to standard output."""
    from ..project import write_rows

    if output is None:
        write_rows(rows, fields, fmt, sys.stdout)
        return
    with open(output, "w", encoding="utf-8", newline="") as out:
        write_rows(rows, fields, fmt, out)
    click.echo(f"Wrote {len(rows)} {noun} to {output}", err=True)


def echo_json(data) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def warn(messages) -> None:
    for message in messages:
        click.echo(f"Warning: {message}", err=True)


@contextmanager
def progress_bar(total: int, label: str, enabled: bool):
    """A progress bar on a terminal's stderr; nothing in pipes, scripts or with --json."""
    if not enabled or total <= 1 or not sys.stderr.isatty():
        yield lambda _name: None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        yield lambda _name: bar.update(1)


@click.group(cls=QcaGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="qcassist")
def main() -> None:
    """qcassist: assisted qualitative coding of interview transcripts.

    \b
    A typical session:
      qcassist init -p study/                create a project directory
      qcassist import -p study/ interviews/*.txt
      qcassist speakers -p study/            who is interviewer / participant (speakers set to change)
      qcassist segment -p study/             cut participant turns into meaning units
      qcassist units -p study/ --format csv -o units.csv
      qcassist codebook import -p study/ codebook.yaml
      qcassist import-spans -p study/ seed.csv --coder anna   human-coded seed passages
      qcassist train -p study/ && qcassist suggest -p study/
      qcassist review -p study/              accept, reject or recode suggestions
      qcassist agree -p study/ --coders anna,bo
      qcassist condense -p study/ -o sheet.md
      qcassist report -p study/              one HTML file: corpus, codebook, model, agreement
      qcassist export qdpx -p study/ study.qdpx   for NVivo, ATLAS.ti, MAXQDA

    Everything runs locally; no text leaves your machine. Try 'qcassist demo' first.
    """
