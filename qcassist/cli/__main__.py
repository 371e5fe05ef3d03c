"""``python -m qcassist.cli``: the same as the ``qcassist`` command."""

from . import main

main(prog_name="qcassist")
