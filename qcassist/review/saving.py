"""Saving from a review screen while other commands may be writing: wait visibly, never drop a decision."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from contextlib import contextmanager
from typing import TypeVar

from ..store import Store

BUSY_RETRY = 0.3  # seconds between tries while another command holds the database
T = TypeVar("T")


def is_busy(exc: sqlite3.OperationalError) -> bool:
    """Whether sqlite failed because another connection holds the database (worth trying again)."""
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def committed(write: Callable[[], T], store: Store, notify: Callable[[str], None]) -> T:
    """Run one store write until it commits; while another command holds the database, say so and retry.

    The key's decision is never dropped and never shown as recorded before it is.
    """
    started = time.monotonic()
    with _short_busy_timeout(store):
        while True:
            try:
                return write()
            except sqlite3.OperationalError as exc:
                if not is_busy(exc):
                    raise
                if store.db.in_transaction:  # a failed COMMIT leaves the transaction open
                    store.db.execute("ROLLBACK")
            waited = time.monotonic() - started
            notify(f"The project is busy (another qcassist command is writing); saving… {waited:.0f} s")
            time.sleep(BUSY_RETRY)


@contextmanager
def _short_busy_timeout(store: Store):
    """sqlite waits at most briefly per try, so the screen can say it is waiting instead of freezing."""
    before = store.db.execute("PRAGMA busy_timeout").fetchone()[0]
    store.db.execute("PRAGMA busy_timeout = 250")
    try:
        yield
    finally:
        store.db.execute(f"PRAGMA busy_timeout = {int(before)}")
