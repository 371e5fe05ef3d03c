"""Retraining in the background while the analyst reviews, so the screen never waits for it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from ..decisions import ReviewItem


class BackgroundRetrainer:
    """Every ``every`` decisions, retrain and re-suggest in a thread; hand over the new queue when ready.

    The thread opens its own connection to the project (SQLite connections belong to one
    thread); WAL mode and the busy timeout let it write while the screen records decisions.
    """

    def __init__(self, directory: Path, every: int, rebuild: Callable[[Path], list[ReviewItem]]):
        self.directory = directory
        self.every = every
        self.rebuild = rebuild
        self.rounds = 0
        self.error: str | None = None
        self._thread: threading.Thread | None = None
        self._ready: list[ReviewItem] | None = None
        self._lock = threading.Lock()

    def after_decision(self, reviewed: int) -> list[ReviewItem] | None:
        """Called after each decision: maybe start a round; return a finished round's queue once."""
        with self._lock:
            ready, self._ready = self._ready, None
        if self.every > 0 and reviewed and reviewed % self.every == 0 and not self.busy:
            self._thread = threading.Thread(target=self._round, daemon=True)
            self._thread.start()
        return ready

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _round(self) -> None:
        try:
            queue = self.rebuild(self.directory)
        except Exception as exc:  # a failed retrain must not end the review: keep the old queue
            self.error = f"{type(exc).__name__}: {exc}"
            return
        with self._lock:
            self._ready = queue
            self.rounds += 1

    def wait(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)
