"""qcassist in a real terminal (pty), for the tests of the review and adjudication screens."""

from __future__ import annotations

import sys

import pexpect

QCASSIST = [sys.executable, "-m", "qcassist"]


def spawn_qcassist(*args: str, rows: int = 24, columns: int = 80) -> pexpect.spawn:
    """``qcassist ARGS`` in a pty of ``rows`` × ``columns``, 30 s for each expect."""
    return pexpect.spawn(QCASSIST[0], [*QCASSIST[1:], *args], dimensions=(rows, columns), timeout=30, encoding="utf-8")
