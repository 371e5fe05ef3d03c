"""The --engine, --scheduler and --workers options shared by the encoding-heavy commands (segment, suggest)."""

from __future__ import annotations

import click

from ..engine import ENGINES, EngineOptions
from .base import UserError


def engine_options(func):
    """Stack the three options; the command gets ``engine``, ``scheduler`` and ``workers``."""
    func = click.option("--workers", default=2, show_default=True, type=click.IntRange(min=1),
                        help="--engine dask without --scheduler: worker processes of the local cluster "
                        "(one thread each).")(func)
    func = click.option("--scheduler", default=None, metavar="ADDRESS",
                        help="--engine dask: a running Dask scheduler (e.g. tcp://10.0.0.5:8786) instead of a "
                        "local cluster.")(func)
    func = click.option("--engine", type=click.Choice(ENGINES), default="local", show_default=True,
                        help="Where the encoding runs: in this process, or on a Dask cluster (workers encode; "
                        "this process writes the project).")(func)
    return func


def engine_from(engine: str, scheduler: str | None, workers: int) -> EngineOptions | None:
    """The library's EngineOptions for the parsed options; None for the local path."""
    if engine == "local":
        if scheduler:
            raise UserError("--scheduler ADDRESS needs --engine dask.")
        return None
    return EngineOptions(scheduler=scheduler, workers=workers)
