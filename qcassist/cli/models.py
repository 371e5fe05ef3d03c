"""Commands for the saved model versions: list them with their size on disk, prune the old ones."""

from __future__ import annotations

from pathlib import Path

import click

from ..model_versions import list_orphans, list_versions, plan_prune, prune
from ..store import Store
from .base import echo_json, json_option, main, project_option

MB = 1_000_000


@main.group()
def models() -> None:
    """The project's trained model versions (one per 'qcassist train'): list them, prune old ones."""


@models.command("list")
@project_option
@json_option
def list_cmd(project: Path, as_json: bool) -> None:
    """List model versions: created, method, units, kappa, size on disk, encoder; which is active.

    \b
    method: 'fast' (frozen encoder + classifier) or 'finetuned'; units: the coded
    units it learned from; kappa: its training's cross-validated kappa. The active
    version is the newest: suggest and review use it. Folders under classifiers/
    that no version owns (left by an interrupted train) are listed as orphans.
    """
    with Store.open(project) as store:
        versions, orphans = list_versions(store), list_orphans(store)
    if as_json:
        echo_json({"versions": [v.as_dict() for v in versions], "orphans": [o.as_dict() for o in orphans]})
        return
    if not versions:
        click.echo("No model versions yet: run 'qcassist train'.")
    else:
        click.echo(f"{'version':<28} {'created':<20} {'method':<9} {'units':>6} {'kappa':>6} {'size':>10}  encoder")
        for v in versions:
            size = f"{v.bytes / MB:.1f} MB" if v.bytes is not None else "missing"
            kappa = f"{v.kappa:.3f}" if v.kappa is not None else "-"
            units = str(v.units) if v.units is not None else "-"
            marker = "  (active)" if v.active else ""
            click.echo(f"{v.version:<28} {_when(v.created_at):<20} {v.method:<9} {units:>6} {kappa:>6} {size:>10}  "
                       f"{v.encoder}{marker}")
        total = sum(v.bytes or 0 for v in versions)
        click.echo(f"{len(versions)} version{'s' if len(versions) != 1 else ''}, {total / MB:.1f} MB in all.")
    for o in orphans:
        what = ("recent, perhaps a train still saving; prune leaves it" if o.recent
                else "left by an interrupted train or prune; 'qcassist models prune' removes it")
        click.echo(f"orphan folder classifiers/{o.name} ({o.bytes / MB:.1f} MB): not a registered version, {what}")


def _when(created_at: str) -> str:
    """'2026-11-30T06:12:10+00:00' as '2026-11-30 06:12 UTC' (times are stored in UTC)."""
    return created_at[:16].replace("T", " ") + " UTC" if created_at.endswith("+00:00") else created_at


@models.command("prune")
@project_option
@json_option
@click.option("--keep", default=1, show_default=True, type=click.IntRange(min=1),
              help="How many of the newest versions to keep (the active one counts).")
@click.option("--dry-run", is_flag=True, help="Say what would be removed, and remove nothing.")
def prune_cmd(project: Path, as_json: bool, keep: int, dry_run: bool) -> None:
    """Delete old model versions and orphan folders; say how much space was freed.

    \b
    Never the active (newest) version, nor a version that stored suggestions
    still come from ('review' and 'agree' read them). Orphan folders changed in
    the last 15 minutes are left alone: a train may still be saving one.
    """
    with Store.open(project) as store:
        if dry_run:
            remove, kept = plan_prune(store, keep=keep)
            everything = list_orphans(store)
            orphans = [o for o in everything if not o.recent]
            result = {"removed": [v.version for v in remove], "orphans_removed": [o.name for o in orphans],
                      "orphans_left": [o.name for o in everything if o.recent],
                      "kept": kept, "freed_bytes": sum(v.bytes or 0 for v in remove) + sum(o.bytes for o in orphans),
                      "dry_run": True}
        else:
            result = dict(prune(store, keep=keep).as_dict(), dry_run=False)
    if as_json:
        echo_json(result)
        return
    verb = "Would remove" if dry_run else "Removed"
    versions, orphans = len(result["removed"]), len(result["orphans_removed"])
    click.echo(f"{verb} {versions} model version{'s' if versions != 1 else ''} and {orphans} orphan "
               f"folder{'s' if orphans != 1 else ''}; {'would free' if dry_run else 'freed'} "
               f"{result['freed_bytes'] / MB:.1f} MB.")
    for version in result["removed"]:
        click.echo(f"  {'would remove' if dry_run else 'removed'} {version}")
    for name in result["orphans_removed"]:
        click.echo(f"  {'would remove' if dry_run else 'removed'} orphan folder classifiers/{name}")
    for version, why in result["kept"].items():
        click.echo(f"  kept {version}: {why}")
    for name in result["orphans_left"]:
        click.echo(f"  left orphan folder classifiers/{name}: changed in the last 15 minutes, "
                   "perhaps a train still saving")
