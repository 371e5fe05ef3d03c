"""Retraining in the background while the analyst reviews, so the screen never waits for it."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from ..decisions import QueueFilter, ReviewItem, review_queue
from ..store import Store


def retrain_and_queue(directory: Path, coder: str, strategy: str, filters: QueueFilter) -> list[ReviewItem]:
    """Retrain on everything decided so far, re-suggest, and build the next review queue."""
    from ..suggest import suggest, train

    with Store.open(directory) as store:
        train(store)
        suggest(store)
        return review_queue(store, coder=coder, strategy=strategy, filters=filters)


class BackgroundRetrainer:
    """Every ``every`` decisions, retrain and re-suggest in another process; hand over the new queue when ready.

    A separate process (not a thread) keeps the model fit from competing with the
    screen for the interpreter lock; it opens its own connection to the project, and
    WAL mode with a busy timeout lets both write.
    """

    def __init__(self, directory: Path, every: int, coder: str, strategy: str, filters: QueueFilter = QueueFilter()):
        self.directory = Path(directory)
        self.every = every
        self.args = (self.directory, coder, strategy, filters)
        self.rounds = 0
        self.error: str | None = None
        self._pool: ProcessPoolExecutor | None = None
        self._future: Future | None = None

    def after_decision(self, reviewed: int) -> list[ReviewItem] | None:
        """Called after each decision: maybe start a round; return a finished round's queue once."""
        ready = self._collect()
        if self.every > 0 and reviewed and reviewed % self.every == 0 and self._future is None:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
            self._future = self._pool.submit(retrain_and_queue, *self.args)
        return ready

    def _collect(self) -> list[ReviewItem] | None:
        if self._future is None or not self._future.done():
            return None
        future, self._future = self._future, None
        try:
            queue = future.result()
        except Exception as exc:  # a failed retrain must not end the review: keep the old queue
            self.error = f"{type(exc).__name__}: {exc}"
            return None
        self.rounds += 1
        return queue

    @property
    def busy(self) -> bool:
        return self._future is not None and not self._future.done()

    def wait(self, timeout: float | None = None) -> None:
        if self._future is not None:
            try:
                self._future.result(timeout)
            except Exception:  # reported through _collect
                pass
            self._collect()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
