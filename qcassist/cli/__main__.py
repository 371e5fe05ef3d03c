"""``python -m qcassist.cli``: the same as the ``qcassist`` command."""

from ..__main__ import run

run()
