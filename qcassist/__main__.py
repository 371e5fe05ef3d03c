"""``python -m qcassist``: the same as the ``qcassist`` command."""

from __future__ import annotations

import sys


def run() -> None:
    """The ``qcassist`` command; Ctrl-C while it is still starting up is one line and exit code 130."""
    try:
        from .cli import main
    except KeyboardInterrupt:
        sys.stderr.write("Error: interrupted while starting; nothing was changed.\n")
        sys.exit(130)
    main(prog_name="qcassist")


if __name__ == "__main__":
    run()
