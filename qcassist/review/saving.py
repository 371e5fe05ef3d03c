"""Saving from a review screen while other commands may be writing: wait visibly, never drop a decision."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

from ..errors import BusyError
from ..store import Store

BUSY_RETRY = 0.3  # seconds between tries when a statement outside a transaction meets the lock
T = TypeVar("T")


def is_busy(exc: sqlite3.OperationalError) -> bool:
    """Whether sqlite failed because another connection holds the database (worth trying again)."""
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def committed(write: Callable[[], T], store: Store, notify: Callable[[str], None]) -> T:
    """Run one store write until it commits; while another command holds the database, say so on screen.

    The key's decision is never dropped and never shown as recorded before it is: the
    store waits for the lock and reports each wait here, and when it gives up (after
    QCASSIST_LOCK_WAIT seconds) this tries again.
    """
    started = time.monotonic()

    def waiting(_: float = 0.0) -> None:
        notify(f"The project is busy (another qcassist command is writing); saving… {time.monotonic() - started:.0f} s")

    previous, store.on_busy = store.on_busy, waiting
    try:
        while True:
            try:
                return write()
            except BusyError:
                waiting()
            except sqlite3.OperationalError as exc:  # a statement outside a transaction met the lock
                if not is_busy(exc):
                    raise
                waiting()
                time.sleep(BUSY_RETRY)
    finally:
        store.on_busy = previous
