"""Retraining in the background while the analyst reviews, so the screen never waits for it.

Each round runs in a spawned process of its own (not a thread: the model fit would
compete with the screen for the interpreter lock) with its own connection to the
project. A round never outlives its review session: on Linux the kernel kills it when
the review process dies (``PR_SET_PDEATHSIG``), elsewhere a watchdog thread notices that
its parent is gone; and it checks that the session is alive before each step that
writes, so a retrain whose session is gone writes no model and no suggestions. The
multiprocessing resource tracker exits once both are gone.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ..decisions import QueueFilter, ReviewItem, review_queue
from ..store import Store

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
WATCH_EVERY = 0.2  # seconds between the watchdog's looks at the parent


class SessionGone(RuntimeError):
    """The review session that asked for this retraining has ended; its result would be unwanted."""


def retrain_and_queue(directory: Path, coder: str, strategy: str, filters: QueueFilter,
                      alive: Callable[[], bool] = lambda: True, refine: bool = False,
                      finetune: dict | None = None) -> list[ReviewItem]:
    """Retrain on everything decided so far, re-suggest, and build the next review queue.

    A fine-tuned latest model gets its head refitted on its body's vectors (seconds); ``refine`` asks for a
    full fine-tune instead, with ``finetune``'s options (``FineTuneOptions`` fields; None: the defaults). ``alive`` is asked before each write; when it says the session is gone this
    raises SessionGone and the project is left as it was.
    """
    from ..suggest import suggest
    from ..training import train, train_head

    with Store.open(directory) as store:
        _check(alive)
        latest = store.latest_classifier()
        if refine:
            train(store, method="finetuned", finetune=finetune)
        elif latest is not None and latest[1].get("method") == "finetuned":
            train_head(store)
        else:
            train(store)
        _check(alive)
        suggest(store)
        return review_queue(store, coder=coder, strategy=strategy, filters=filters)


def _check(alive: Callable[[], bool]) -> None:
    if not alive():
        raise SessionGone("the review session ended; this retraining is discarded")


def die_with_parent(parent: int) -> None:
    """Make this process end when process ``parent`` does (now, if it already has)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):  # no prctl: the watchdog below still works
            pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True, name="parent-watch").start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(WATCH_EVERY)
    os._exit(1)  # orphaned: write nothing more


def _round(sender, parent: int, directory: Path, coder: str, strategy: str, filters: QueueFilter,
           refine: bool = False, finetune: dict | None = None) -> None:
    """The body of one retraining process: its result, or the error, goes back through ``sender``."""
    die_with_parent(parent)
    try:
        result = ("queue", retrain_and_queue(directory, coder, strategy, filters, lambda: os.getppid() == parent,
                                             refine=refine, finetune=finetune))
    except Exception as exc:
        result = ("error", f"{type(exc).__name__}: {exc}")
    try:
        sender.send(result)
    except OSError:  # the session closed the pipe: nobody wants the result
        pass
    sender.close()


class BackgroundRetrainer:
    """Every ``every`` decisions, retrain and re-suggest in another process; hand over the new queue when ready.

    Call ``after_decision`` from the thread that lives as long as the session (the main
    thread): on Linux a round ends when the thread that started it does.
    """

    def __init__(self, directory: Path, every: int, coder: str, strategy: str, filters: QueueFilter = QueueFilter()):
        self.directory = Path(directory)
        self.every = every
        self.args = (self.directory, coder, strategy, filters)
        self.rounds = 0
        self.seconds: list[float] = []  # each finished round, from its start to the decision that collected it
        self.error: str | None = None
        self._process = None
        self._receiver = None
        self._started = 0.0
        self._exiting: list = []  # rounds that sent their result and are shutting down; joined at close()

    def after_decision(self, reviewed: int) -> list[ReviewItem] | None:
        """Called after each decision: maybe start a round; return a finished round's queue once."""
        ready = self._collect()
        if self.every > 0 and reviewed and reviewed % self.every == 0 and self._process is None:
            self._start()
        return ready

    def refine(self, finetune: dict | None = None) -> None:
        """Start a full fine-tune now (review --refine; ``finetune``: its options); the every-N rounds wait until it is done."""
        if self._process is None:
            self._start(refine=True, finetune=finetune)

    def _start(self, refine: bool = False, finetune: dict | None = None) -> None:
        context = multiprocessing.get_context("spawn")  # fork would copy the screen's open database connection
        self._receiver, sender = context.Pipe(duplex=False)
        self._process = context.Process(target=_round, args=(sender, os.getpid(), *self.args, refine, finetune),
                                        daemon=True, name="qcassist-retrain")
        self._process.start()
        self._started = time.monotonic()
        sender.close()  # the child holds the only writing end, so its death reads as EOF here

    def _collect(self, timeout: float = 0.0) -> list[ReviewItem] | None:
        if self._process is None:
            return None
        if not self._receiver.poll(timeout):
            if self._process.is_alive():
                return None
        try:
            kind, payload = self._receiver.recv()
        except (EOFError, OSError):
            kind, payload = "error", f"the retraining process ended without a result (exit code {self._process.exitcode})"
        self.seconds.append(time.monotonic() - self._started)
        self._finish()
        if kind == "error":  # a failed retrain must not end the review: keep the old queue
            self.error = payload
            return None
        self.rounds += 1
        return payload

    def _finish(self) -> None:
        # not joined here: a process takes a while to exit after its result, and the screen must not wait
        self._receiver.close()
        self._exiting.append(self._process)
        self._process = self._receiver = None

    @property
    def busy(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def wait(self, timeout: float | None = None) -> list[ReviewItem] | None:
        """Wait up to ``timeout`` seconds for the running round; its queue, if it finished."""
        if self._process is None:
            return None
        return self._collect(timeout=timeout if timeout is not None else 10**9)

    def close(self) -> bool:
        """End the session's retraining; True when an unfinished round was discarded."""
        discarded = False
        if self._process is not None:
            discarded = self._process.is_alive()
            if discarded:
                self._process.kill()  # mid-write is safe: sqlite rolls back what the round had not committed
            self._finish()
        for process in self._exiting:
            process.join(5)
            if process.is_alive():  # it sent its result; whatever keeps it is not worth waiting for
                process.kill()
                process.join()
        self._exiting.clear()
        return discarded
