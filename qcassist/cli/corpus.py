"""Commands for the corpus: init, import, segment, units, status, demo."""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path

import click

from ..ingest import ColumnMap
from ..demo import run_demo
from ..project import UNIT_FIELDS, UNIT_FORMATS, import_files, iter_unit_rows, project_status, segment_project, unit_rows
from ..segment import STRATEGIES, SegmentOptions
from ..store import DB_NAME, Store
from .base import names_in, transcript_names_option, UserError, force_option, raw_option, write_export, echo_json, progress_bar, warn, encoder_option, json_option, main, project_option
from .engine import engine_from, engine_options
from .interop import echo_refi_import


@main.command()
@project_option
@json_option
def init(project: Path, as_json: bool) -> None:
    """Create a project in a directory (default: the current one).

    Safe to run again on an existing project: it only upgrades the database schema.
    """
    existed = (project / DB_NAME).exists()
    with Store.create(project):
        pass
    if as_json:
        echo_json({"project": str(project.resolve()), "created": not existed})
    else:
        click.echo(f"{'Project already exists' if existed else 'Created project'} in {project.resolve()}")


@main.command("import")
@project_option
@json_option
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--interviewer", "interviewers", multiple=True, metavar="NAME",
              help="Speaker label of an interviewer (repeatable); also sets the roles of a transcript already imported. "
              "Without it, labels like Interviewer/I/Q/Moderator/The Chair are interviewers, or else the speaker who "
              "asks most (two speakers) or mostly hands the floor on (meetings).")
@click.option("--replace", is_flag=True, help="Adopt the turns of a transcript already imported whose turns differ "
              "(e.g. a better .csv of the same meeting); codings and review decisions move to the new units.")
@click.option("--speaker-column", default="speaker", show_default=True, help="CSV/JSONL: column with the speaker.")
@click.option("--text-column", default="text", show_default=True, help="CSV/JSONL: column with what was said.")
@click.option("--transcript-column", default="transcript", show_default=True,
              help="CSV/JSONL: column naming the transcript; if absent, the file is one transcript.")
@click.option("--start-column", default="start", show_default=True, help="CSV/JSONL: optional start time column.")
@click.option("--end-column", default="end", show_default=True, help="CSV/JSONL: optional end time column.")
@click.option("--coder-prefix", default=None, metavar="TEXT",
              help=".qdpx: put TEXT before every coder name from the file (e.g. 'nvivo-'), to keep them apart.")
@click.option("--strategy", type=click.Choice(STRATEGIES), default="cohesive", show_default=True,
              help=".qdpx: how its sources are cut into meaning units (as 'qcassist segment').")
@click.option("--sources-dir", type=click.Path(file_okay=False, exists=True, path_type=Path), default=None,
              metavar="DIR", help=".qdpx: read sources the project keeps outside the file from DIR (only from there).")
@encoder_option
def import_(project: Path, as_json: bool, files, interviewers, replace, speaker_column, text_column,
            transcript_column, start_column, end_column, coder_prefix, strategy, sources_dir, encoder) -> None:
    """Import transcript FILES into the project, or a REFI-QDA project or codebook.

    \b
    Formats:
      .txt .md    speaker labels (Interviewer:, P1:, Name:, [Name]) and optional
                  timestamps (#00:01:02#, [00:01:02], (00:01:02))
      .docx       paragraphs with speaker labels, or speaker/text tables
      .vtt .srt   Zoom/Teams/Otter captions; a speaker's consecutive cues merge
      .csv .tsv .jsonl   one row a turn (see the --*-column options)
      .qdpx       a REFI-QDA project from NVivo, ATLAS.ti, MAXQDA, QualCoder:
                  sources, codebook, users as coders, codings on meaning units
                  (qcassist import qdpx FILE.qdpx)
      .qdc        a REFI-QDA codebook (qcassist import qdc FILE.qdc)

    Text may be UTF-8 (with or without BOM), UTF-16 with BOM, or Windows-1252
    (with a warning). Importing the same conversation again, from any format,
    changes nothing; with other turns it is refused (saying which turns differ)
    unless --replace. If any file fails, nothing is imported.
    """
    refi = _refi_file(files)
    if refi is not None:
        from ..refi import import_qdc, import_qdpx

        kind, file = refi
        with Store.open(project) as store:
            if kind == "qdc":
                result = import_qdc(store, file)
            else:
                result = import_qdpx(store, file, coder_prefix=coder_prefix, interviewers=tuple(interviewers),
                                     options=SegmentOptions(strategy=strategy), encoder=encoder,
                                     sources_dir=sources_dir)
        echo_refi_import(result, as_json)
        return
    columns = ColumnMap(speaker_column, text_column, transcript_column, start_column, end_column)
    with Store.open(project) as store:
        report = import_files(store, files, interviewers=interviewers, columns=columns, replace=replace, encoder=encoder)
    warn(report.warnings)
    if as_json:
        echo_json(report.as_dict())
        return
    echo_import(report)


def echo_import(report) -> None:
    """What an import did, per transcript: speakers, turns and who was taken for the interviewer."""
    for label, names in (("Imported", report.added), ("Replaced", report.replaced), ("Unchanged", report.unchanged)):
        if names:
            click.echo(f"{label} {len(names)}: {', '.join(names)}")
    for name in report.same_turns:
        click.echo(f"  {name}: same turns as stored (this file renders them differently); nothing changed.")
    for name, summary in report.speakers.items():
        asked = ", ".join(summary["interviewers"]) or "none (every speaker is a participant)"
        click.echo(f"  {name}: {summary['speakers']} speakers, {summary['turns']} turns; interviewer: {asked}")
    for name, speakers in report.roles_changed.items():
        click.echo(f"  {name}: new role for {', '.join(speakers)}")
    for note in report.notes:
        click.echo(f"  {note}")
    if report.carried or report.moved_decisions:
        click.echo(f"Moved {len(report.carried)} codings and {report.moved_decisions} review decisions to the new units.")
    if report.speakers:
        click.echo("Check or change roles with 'qcassist speakers' and 'qcassist speakers set NAME --role ROLE'.")


_REFI_KINDS = ("qdpx", "qdc")


def _refi_file(files) -> tuple[str, Path] | None:
    """('qdpx'|'qdc', file) when FILES name a REFI-QDA file ('qdpx FILE' or a .qdpx/.qdc path), else None."""
    first = str(files[0])
    if first in _REFI_KINDS and not Path(first).exists():
        if len(files) != 2:
            raise UserError(f"'qcassist import {first}' takes one file: qcassist import {first} FILE.{first}")
        return first, Path(files[1])
    refi = [f for f in files if f.suffix.lower().lstrip(".") in _REFI_KINDS]
    if not refi:
        return None
    if len(files) != 1:
        raise UserError(f"import {refi[0]} on its own: a REFI-QDA file brings its own transcripts and codings.")
    return refi[0].suffix.lower().lstrip("."), refi[0]


@main.command()
@project_option
@json_option
@encoder_option
@click.option("--strategy", type=click.Choice(STRATEGIES), default="cohesive", show_default=True,
              help="cohesive: merge a turn's sentences while they stay on one point; sentence: one unit per "
              "sentence; turn: one unit per turn.")
@transcript_names_option
@click.option("--resegment", is_flag=True,
              help="Redo transcripts that already have units. Codings and review decisions move to the new unit "
              "that overlaps most; if one would have no unit, nothing changes.")
@click.option("--language", default="en", show_default=True, help="spaCy language code for sentence splitting (e.g. nb, de).")
@click.option("--spacy-model", default=None, metavar="NAME", help="An installed spaCy pipeline to use instead (e.g. en_core_web_sm).")
@click.option("--role", "roles", multiple=True, type=click.Choice(["participant", "interviewer", "other"]),
              default=("participant",), show_default=True, help="Whose turns become units (repeatable).")
@click.option("--window", default=2, show_default=True, help="cohesive: sentences compared on each side of a gap.")
@click.option("--threshold", default=1.1, show_default=True, help="cohesive: cut score needed to split (higher = longer units).")
@click.option("--question-bonus", default=0.2, show_default=True, help="cohesive: added to the cut score before a question.")
@click.option("--min-sentences", default=1, show_default=True, help="cohesive: fewest sentences between two cohesion cuts.")
@click.option("--min-chars", default=40, show_default=True, help="cohesive: shorter units merge into a neighbour.")
@click.option("--max-chars", default=500, show_default=True, help="cohesive: longer units are split at their weakest point.")
@engine_options
def segment(project: Path, as_json: bool, encoder: str, strategy: str, transcripts, resegment: bool, language: str,
            spacy_model: str | None, roles, window, threshold, question_bonus, min_sentences, min_chars, max_chars,
            engine: str, scheduler: str | None, workers: int) -> None:
    """Cut transcripts into candidate meaning units (participant turns by default).

    Units never cross a speaker turn or a paragraph. Transcripts that already have
    units are skipped unless you pass --resegment.
    """
    options = SegmentOptions(
        strategy=strategy, language=language, spacy_model=spacy_model, roles=tuple(roles), window=window,
        threshold=threshold, question_bonus=question_bonus, min_sentences=min_sentences,
        min_chars=min_chars, max_chars=max_chars,
    )
    dask_options = engine_from(engine, scheduler, workers)
    with Store.open(project) as store:
        total = len(transcripts) or len(store.transcript_names())
        with progress_bar(total, "Segmenting", not as_json) as tick:
            report = segment_project(
                store, options=options, encoder=encoder, transcripts=transcripts, resegment=resegment, progress=tick,
                engine=dask_options,
            )
    if as_json:
        echo_json(report.as_dict())
        return
    for name, count in report.segmented.items():
        click.echo(f"{name}: {count} meaning units")
    if report.skipped:
        click.echo(f"Skipped {len(report.skipped)} already segmented (use --resegment to redo): {', '.join(report.skipped)}")
    for move in report.carried:
        click.echo(
            f"Moved coding {move['code']!r} ({move['coder']}) in {move['transcript']} from characters "
            f"{move['old_unit'][0]}-{move['old_unit'][1]} to unit {move['new_unit_id']} ({move['new_unit'][0]}-{move['new_unit'][1]})"
        )
    if report.moved_decisions:
        click.echo(f"Moved {report.moved_decisions} review decisions with their units (the history is kept).")


@main.command()
@project_option
@click.option("--format", "fmt", type=click.Choice(UNIT_FORMATS), default="table", show_default=True,
              help="table: readable listing; csv / jsonl: every field, for spreadsheets and scripts.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file instead of standard output.")
@click.option("--transcripts", "transcripts", multiple=True, metavar="T1,T2",
              help="Only these transcripts (comma-separated or repeated). Default: all.")
@click.option("--transcript", "transcript", multiple=True, hidden=True)  # the old spelling, still accepted
@force_option
@raw_option
def units(project: Path, fmt: str, output: Path | None, transcripts, transcript, force: bool, raw: bool) -> None:
    """List or export meaning units (id, transcript, speaker, offsets, text)."""
    names = names_in(*transcripts, *transcript)
    with Store.open(project) as store:  # rows are read as they are written: memory bounded on any corpus
        rows = iter_unit_rows(store, names)
        if fmt == "table":
            if output is not None:
                raise UserError("--output needs --format csv or jsonl.")
            for row in rows:
                text = row["text"].replace("\n", " ")
                click.echo(f"{row['unit_id']:>5}  {row['transcript']}  {row['speaker']}  "
                           f"[{row['start']}:{row['end']}]  {text[:100]}{'…' if len(text) > 100 else ''}")
            return
        write_export(rows, UNIT_FIELDS, fmt, output, "units", force=force, raw=raw, project=project)


@main.command()
@project_option
@json_option
def status(project: Path, as_json: bool) -> None:
    """Counts per transcript: turns, participant turns, meaning units, codings."""
    with Store.open(project) as store:
        summary = project_status(store)
    if as_json:
        echo_json(summary)
        return
    click.echo(f"Project {summary['project']}")
    header = f"{'transcript':<24} {'format':<6} {'turns':>6} {'partic.':>7} {'units':>6} {'codings':>7}  segmented"
    click.echo(header)
    for row in summary["transcripts"]:
        click.echo(f"{row['transcript'][:24]:<24} {row['format']:<6} {row['turns']:>6} {row['participant_turns']:>7} "
                   f"{row['units']:>6} {row['codings']:>7}  {row['segmentation'] or 'no'}")
    t = summary["totals"]
    click.echo(f"{'total (' + str(t['transcripts']) + ')':<24} {'':<6} {t['turns']:>6} {t['participant_turns']:>7} "
               f"{t['units']:>6} {t['codings']:>7}")


@main.command()
@click.option("--project", "-p", "project", type=click.Path(file_okay=False, path_type=Path),
              default=Path("qcassist-demo"), show_default=True, help="Directory for the demo project.")
@json_option
@encoder_option
def demo(project: Path, as_json: bool, encoder: str) -> None:
    """Run the main job on the built-in demo corpus: import, segment, export, suggest, condense, report.

    Three short fictional interviews (.txt with two label styles, and a Zoom-style
    .vtt) are imported into a demo project, cut into meaning units with the default
    cohesive strategy, and the units are printed and written to units.csv there.
    Then the demo codebook and a small human-coded seed are imported, a model is
    trained and codes are suggested for the other units, ready for 'qcassist review'.
    Last, the condensation sheet (condensation.md) and the project report (report.html)
    are written there.
    """
    report = run_demo(project, encoder=encoder)
    if as_json:
        echo_json(report.as_dict())
        return
    with Store.open(project) as store:
        rows = unit_rows(store)
    for row in rows:
        click.echo(f"[{row['transcript']} #{row['order']} {row['speaker']}] {row['text']}")
    transcripts = len(report.imported.added) + len(report.imported.unchanged)
    click.echo(f"\n{len(rows)} meaning units from {transcripts} transcripts written to {report.units_csv}.")
    if report.rerun:
        seeded = (f"The demo project was already set up here: kept its {report.seed_codings_in_project} seed codings "
                  f"and any review done in it (delete {project} for a fresh start)")
    else:
        seeded = f"Seeded {report.seed_codings} human codings"
    click.echo(f"{seeded}; model {report.model_version} suggested {report.suggestions} codes for "
               f"{report.units_with_suggestion} units.")
    click.echo(f"Condensation sheet: {report.sheet}; report: {report.report}")
    command, where = qcassist_command(), shlex.quote(str(project))
    click.echo(f"Next: {command} review -p {where}   (or: {command} status -p {where})")


def qcassist_command(which=shutil.which) -> str:
    """How to run this qcassist from the user's shell: the bare name only when that finds this very one."""
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path()
    if script.name != "qcassist" or not script.is_file():
        script = Path(sys.executable).with_name("qcassist")  # run as 'python -m qcassist': the venv's script
    on_path = which("qcassist")
    if on_path and script.is_file() and Path(on_path).resolve() == script.resolve():
        return "qcassist"
    if script.is_file():
        return shlex.quote(str(script))
    return f"{shlex.quote(sys.executable)} -m qcassist"
