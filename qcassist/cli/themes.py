"""qcassist themes: preliminary themes before a codebook exists, and adopting them as codes."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..safe_output import write_output, write_rows
from ..store import Store
from .base import UserError, force_option, main, project_option, raw_option, split_names, transcript_names_option


def selection_options(func):
    """Which units are grouped and how: the same for listing and adopting, so theme ids match."""
    for option in reversed([
        transcript_names_option,
        click.option("--speakers", multiple=True, callback=split_names, metavar="S1,S2",
                     help="Only these speakers' units, whatever their role. Default: every participant's units."),
        click.option("--uncoded-only", is_flag=True, help="Leave out units someone has coded or accepted a code for."),
        click.option("--min-size", type=int, default=5, show_default=True, help="Fewest units a theme may have."),
        click.option("--min-words", type=int, default=3, show_default=True,
                     help="Units with fewer words that are not stop words or fillers fit no theme."),
        click.option("--language", default=None,
                     help="Stop words for labels (en, nb, de, ...). Default: the language the project was segmented in."),
        click.option("--encoder", default=None,
                     help="Sentence encoder ('default', 'tfidf', 'static', or a sentence-transformers name/path). "
                     "Default: the one 'train' recorded for the project, else the packaged MiniLM -- not the one "
                     "'segment' used: pass --encoder tfidf again for a project cut with it."),
        click.option("--seed", type=int, default=0, show_default=True, help="Seed for the clustering of many units."),
    ]):
        func = option(func)
    return func


def _options(transcripts, speakers, uncoded_only, min_size, min_words, language, encoder, seed):
    from ..themes import ThemeOptions  # scikit-learn and friends load only when a theme command runs

    return ThemeOptions(transcripts=transcripts, speakers=speakers, uncoded_only=uncoded_only, min_size=min_size, min_words=min_words,
                        language=language, encoder=encoder, seed=seed)


@main.group("themes", invoke_without_command=True)
@project_option
@selection_options
@click.option("--format", "fmt", type=click.Choice(("text", "csv", "jsonl", "yaml")), default="text", show_default=True,
              help="text: the listing; csv/jsonl: one row a unit with its theme; yaml: a codebook draft to edit and adopt.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file instead of standard output.")
@force_option
@raw_option
@click.pass_context
def themes(ctx: click.Context, project: Path, transcripts, speakers, uncoded_only: bool, min_size: int, min_words: int, language, encoder,
           seed: int, fmt: str, output: Path | None, force: bool, raw: bool) -> None:
    """Preliminary themes of the meaning units, before there is a codebook.

    Groups the units (participants' by default) into candidate themes, each with its most
    distinctive terms, most central quotations, size and "n of N participants"; candidate
    code groups where the themes form them; and the units that fit no theme. Changes
    nothing in the project. Adopt a theme as a code with 'qcassist themes adopt'.
    """
    options = _options(transcripts, speakers, uncoded_only, min_size, min_words, language, encoder, seed)
    if ctx.invoked_subcommand is not None:
        ctx.obj = {"project": project, "options": options}  # 'themes -p DIR --min-size 8 adopt ...' works too
        return
    from ..themes import find_themes, listing, theme_rows, write_draft
    from ..themes.listing import ROW_FIELDS

    with Store.open(project) as store:
        run = find_themes(store, options)

    def write(out) -> None:
        if fmt == "text":
            out.write(listing(run))
        elif fmt == "yaml":
            write_draft(run, out)
        else:
            write_rows(theme_rows(run), ROW_FIELDS, fmt, out, raw=raw)

    if output is None:
        write(sys.stdout)
        return
    write_output(output, write, force=force, store_dir=project)
    click.echo(f"Wrote {len(run.themes)} themes ({run.units} units) to {output}", err=True)


@themes.command("adopt")
@click.argument("theme_id", required=False)
@click.option("--project", "-p", "project", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Project directory (holds qcassist.db). Default: the one given to 'themes', else the current directory.")
@click.option("--as", "name", default=None, metavar="NAME", help="The new code's name.")
@click.option("--under", default=None, metavar="GROUP", help="Put the code under this code group (made if new).")
@click.option("--from", "draft", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="Adopt every theme an edited YAML draft (themes --format yaml) still names, with its names and groups.")
@selection_options
@click.pass_context
def adopt_cmd(ctx: click.Context, theme_id: str | None, project: Path | None, name: str | None, under: str | None, draft: Path | None, transcripts,
              speakers, uncoded_only: bool, min_size: int, min_words: int, language, encoder, seed: int) -> None:
    """Adopt a theme as a code: its units become suggestions (source 'theme') to accept or reject in review.

    Give the same options as the listing, so THEME_ID names the same theme. Creates no codings.
    """
    if (draft is None) == (theme_id is None):
        raise UserError("give a THEME_ID with --as NAME, or --from DRAFT.yaml (not both).")
    if theme_id is not None and not name:
        raise UserError(f"give theme {theme_id} a code name with --as NAME.")
    from ..themes import ThemeOptions, adopt, adopt_from_draft

    options = _options(transcripts, speakers, uncoded_only, min_size, min_words, language, encoder, seed)
    if options == ThemeOptions():
        options = ctx.obj["options"]  # given before 'adopt', or the defaults
    with Store.open(project or ctx.obj["project"]) as store:
        if draft is not None:
            adoptions = adopt_from_draft(store, draft, options=options)
        else:
            adoptions = [adopt(store, theme_id, name=name, under=under, options=options)]
    for a in adoptions:
        place = f" under {a.parent!r}" if a.parent else ""
        click.echo(f"Adopted {a.theme} ({', '.join(a.label)}) as {a.code!r}{place}: {a.units} units to review.")
    click.echo("Review them with 'qcassist review' (accepted ones train the classifier).")
