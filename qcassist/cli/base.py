"""Shared pieces of the command line: the main group, error handling, common options."""

from __future__ import annotations

import errno
import json
import os
import sys
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

import click

from .. import __version__
from ..embed import DEFAULT_ENCODER
from ..errors import describe_failure
from ..safe_output import write_output, write_rows


class UserError(click.ClickException):
    """A QcaError shown as one line, exit code 2 (like click's usage errors)."""

    exit_code = 2


class InternalError(click.ClickException):
    """A bug: one line without --debug, exit code 1."""

    exit_code = 1


class Interrupted(click.ClickException):
    """Ctrl-C: one line, exit code 130 (128 + SIGINT) like other Unix tools."""

    exit_code = 130


INTERRUPTED = "interrupted; the step in progress was rolled back, and what was saved before it is kept."


class QcaGroup(click.Group):
    """The main group, and the CLI's one error path.

    Anticipated failures (QcaError, sqlite, OSError, parser, Unicode and recursion errors)
    become one ``Error:`` line and exit code 2; Ctrl-C one line and 130; anything else is
    a bug: one line and exit code 1, or the traceback with ``qcassist --debug``.
    """

    def invoke(self, ctx: click.Context):
        debug = ctx.params.get("debug") or os.environ.get("QCASSIST_DEBUG") == "1"
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            if debug:
                raise
            raise Interrupted(INTERRUPTED) from None
        except Exception as exc:
            if debug or (isinstance(exc, OSError) and exc.errno == errno.EPIPE):
                raise  # a closed pipe (qcassist units | head) is click's to handle quietly
            message = describe_failure(exc, database=_last_database())
            if message is None:
                raise InternalError(f"internal error ({type(exc).__name__}: {_first_line(exc)}); "
                                    "run with 'qcassist --debug ...' for the traceback and report it.") from None
            raise UserError(message) from None


def _last_database():
    from ..store import opened_databases

    return opened_databases[-1] if opened_databases else None


def _first_line(exc: BaseException) -> str:
    lines = str(exc).splitlines()
    return lines[0][:200] if lines else "no message"


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
        "'static' (model2vec distilled from the default, ~100x faster, for large corpora), "
        "or any sentence-transformers model name or local path.",
    )(func)


def force_option(func):
    return click.option("--force", is_flag=True,
                        help="Replace the output file if it exists (never the project's own files).")(func)


def names_in(*values: str | None) -> tuple[str, ...]:
    """The names in 'A,B' strings (any number of them; None or empty ones add none), in order."""
    return tuple(name.strip() for value in values if value for name in value.split(",") if name.strip())


def split_names(_ctx, _param, values) -> tuple[str, ...]:
    """Option callback: NAME,NAME given once or repeated → a tuple of names."""
    return names_in(*values)


def transcript_names_option(func):
    """--transcripts T1,T2 (comma-separated or repeated), as every command spells it; --transcript still works."""
    return click.option(
        "--transcripts", "--transcript", "transcripts", multiple=True, metavar="T1,T2", callback=split_names,
        help="Only these transcripts (comma-separated or repeated). Default: all.")(func)


def raw_option(func):
    return click.option("--raw", is_flag=True,
                        help="CSV: write cells as they are. By default a text cell starting with = + - @ tab or "
                        "carriage return gets a leading ' so spreadsheets do not run it as a formula.")(func)


def write_export(rows: Iterable[dict], fields, fmt: str, output: Path | None, noun: str, *, force: bool = False,
                 raw: bool = False, project: Path | None = None) -> None:
    """Rows (a list, or a generator written as it comes) as CSV/JSONL to a file (safely: see safe_output; with a
    note on stderr) or to standard output."""
    if output is None:
        write_rows(rows, fields, fmt, sys.stdout, raw=raw)
        return
    written = write_output(output, lambda out: write_rows(rows, fields, fmt, out, raw=raw), force=force, store_dir=project)
    click.echo(f"Wrote {written} {noun} to {output}", err=True)


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
@click.option("--debug", is_flag=True, help="Show the Python traceback of a failure (for bug reports).")
def main(debug: bool) -> None:
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
