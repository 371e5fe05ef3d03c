"""``python -m qcassist``: the same as the ``qcassist`` command."""

from .cli import main

main(prog_name="qcassist")
