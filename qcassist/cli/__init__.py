"""The command line: parse → one library call → echo. The only package that knows click."""

from __future__ import annotations

from . import agreement, codebook, coding, corpus, interop, models, outputs, report, review, speakers, themes  # noqa: F401  (registers the commands)
from .base import main

__all__ = ["main"]


if __name__ == "__main__":
    main()
