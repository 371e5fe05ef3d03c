"""The keyboard-driven review screen: shows one unit in context and records what the analyst decides.

Thin over ``qcassist.decisions``: every key that decides calls one library function,
which commits before the next unit is drawn. Fits an 80×24 terminal; plain ANSI
escapes, no curses, so it runs in any terminal and under pexpect/tmux.
"""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..decisions import ReviewItem, decide, undo_last
from ..store import Store

HELP = "[a]ccept [r]eject re[c]ode [+]add [s]kip [u]ndo [m]emo [q]uit"
CLEAR = "\x1b[2J\x1b[H"
BOLD, REVERSE, DIM, RESET = "\x1b[1m", "\x1b[7m", "\x1b[2m", "\x1b[0m"


@dataclass
class ReviewState:
    """What the screen knows between keys."""

    queue: list[ReviewItem]
    position: int = 0
    reviewed: int = 0
    accepted: int = 0
    message: str = ""
    memo: str = ""  # attached to the next decision on this unit
    actions: list[str] = field(default_factory=list)  # this session's decisions, for undo
    latencies: list[float] = field(default_factory=list)  # seconds from key to next screen drawn
    decided_units: set[int] = field(default_factory=set)

    @property
    def current(self) -> ReviewItem | None:
        return self.queue[self.position] if self.position < len(self.queue) else None


def render(state: ReviewState, codes_shown: int = 3, width: int | None = None, height: int | None = None) -> str:
    """The whole screen for the current unit, as one string that fits width × height."""
    size = shutil.get_terminal_size((80, 24))
    width = min(width or size.columns, 120)
    height = height or size.lines
    item = state.current
    rate = f"{state.accepted / state.reviewed:.0%}" if state.reviewed else "–"
    lines = [f"{BOLD}qcassist review{RESET}  {state.reviewed} reviewed · {len(state.queue) - state.position} left · accept rate {rate}"]
    if item is None:
        lines += ["", "Nothing left to review. Press q to quit."]
        return CLEAR + "\n".join(lines[: height - 1] + [HELP])
    lines.append(f"{DIM}{item.transcript} · unit {item.unit_id} (#{item.order}){RESET}")
    budget = height - 2 - len(lines)  # help line + message line
    body = unit_in_context(item, width)
    for suggestion in item.suggestions[:codes_shown]:
        kind = "" if suggestion.source == "classifier" else f" ({suggestion.source} similarity)"
        body.append(f"{BOLD}→ {suggestion.code}{RESET}  {suggestion.shown}{kind}")
    top = item.top
    for unit_id in top.rationale[:2]:
        text = item.rationale_texts.get(unit_id, "")
        body += _wrap(f"  like #{unit_id}: {text}", width, 1, DIM)
    lines += body[:budget]
    lines += [""] * (height - 2 - len(lines))
    lines.append(state.message[: width - 1])
    lines.append(HELP[: width - 1])
    return CLEAR + "\n".join(lines)


def unit_in_context(item, width: int) -> list[str]:
    """The turn before (dim), the unit (highlighted), the turn after (dim), then a blank line.

    ``item`` has ``before``/``after`` context turns, ``speaker`` and ``text`` (a review item or a disagreement).
    """
    lines: list[str] = []
    for turn in item.before[-1:]:
        lines += _wrap(f"{turn.speaker}: {turn.text}", width, 2, DIM)
    lines += _wrap(f"{item.speaker or ''}: {item.text}", width, 6, REVERSE)
    for turn in item.after[:1]:
        lines += _wrap(f"{turn.speaker}: {turn.text}", width, 2, DIM)
    return lines + [""]


def _wrap(text: str, width: int, max_lines: int, style: str) -> list[str]:
    wrapped = textwrap.wrap(" ".join(text.split()), width - 1) or [""]
    if len(wrapped) > max_lines:
        wrapped = wrapped[:max_lines]
        wrapped[-1] = wrapped[-1][: width - 2] + "…"
    return [f"{style}{line}{RESET}" for line in wrapped]


class Keys:
    """Single keypresses from a terminal (cbreak mode), or characters from a pipe."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdin
        self._saved = None

    def __enter__(self) -> Keys:
        if self.stream.isatty():
            import termios
            import tty

            self._saved = termios.tcgetattr(self.stream.fileno())
            tty.setcbreak(self.stream.fileno())
        return self

    def __exit__(self, *exc) -> None:
        if self._saved is not None:
            import termios

            termios.tcsetattr(self.stream.fileno(), termios.TCSADRAIN, self._saved)

    def read(self) -> str:
        if self.stream.isatty():
            return os.read(self.stream.fileno(), 1).decode("utf-8", "replace")
        return self.stream.read(1)

    def line(self, prompt: str, out) -> str:
        """Read a line with echo, for memos and code search."""
        out.write(f"\r\n{prompt}")
        out.flush()
        chars: list[str] = []
        while True:
            key = self.read()
            if key in ("\r", "\n", ""):
                return "".join(chars)
            if key in ("\x7f", "\b"):
                if chars:
                    chars.pop()
                    out.write("\b \b")
            elif key == "\x1b":
                return ""
            else:
                chars.append(key)
                out.write(key)
            out.flush()


def pick_code(keys: Keys, out, leaves: list[str], prompt: str) -> str | None:
    """Type-ahead code search: type letters, Enter takes the first match, Esc cancels."""
    typed = ""
    while True:
        matches = [c for c in leaves if typed.casefold() in c.casefold()] if typed else leaves
        out.write(f"\r\x1b[K{prompt} {typed}▏ " + " | ".join(matches[:6])[:70])
        out.flush()
        key = keys.read()
        if key in ("\r", "\n"):
            return matches[0] if matches else None
        if key in ("\x1b", ""):
            return None
        if key in ("\x7f", "\b"):
            typed = typed[:-1]
        elif key.isprintable():
            typed += key


def run_review(
    store: Store,
    queue: list[ReviewItem],
    *,
    coder: str,
    keys: Keys,
    out=None,
    on_decision: Callable[[int], list[ReviewItem] | None] | None = None,
) -> ReviewState:
    """The review loop: draw, read a key, record, draw the next unit."""
    out = out or sys.stdout
    state = ReviewState(queue)
    leaves = [c.name for c in store.codebook().leaves]
    lock = threading.Lock()
    out.write(render(state))
    out.flush()
    while True:
        key = keys.read()
        started = time.perf_counter()
        item = state.current
        if key in ("q", ""):
            break
        decided = None
        with lock:
            if item is None:
                state.message = "Nothing left to review."
            elif key == "a":
                decided = decide(store, item.unit_id, "accept", coder=coder, suggestion=item.top, memo=state.memo)
            elif key == "r":
                decided = decide(store, item.unit_id, "reject", coder=coder, suggestion=item.top, memo=state.memo)
            elif key in ("c", "+"):
                code = pick_code(keys, out, leaves, "recode to:" if key == "c" else "add code:")
                if code:
                    decided = decide(store, item.unit_id, "recode" if key == "c" else "add", coder=coder,
                                     suggestion=item.top, codes=(code,), memo=state.memo)
                else:
                    state.message = "Cancelled."
            elif key == "s":
                decided = decide(store, item.unit_id, "skip", coder=coder, suggestion=item.top, memo=state.memo)
            elif key == "m":
                state.memo = keys.line("memo: ", out)
                state.message = "Memo kept for this unit's decision." if state.memo else "No memo."
            elif key == "u":
                reversal = undo_last(store, coder=coder)
                if reversal is None:
                    state.message = "Nothing to undo."
                else:
                    state.message = f"Undid the last decision on unit {reversal.unit_id}."
                    if state.position > 0 and state.queue[state.position - 1].unit_id == reversal.unit_id:
                        state.position -= 1
                    last = state.actions.pop() if state.actions else None
                    state.reviewed -= last not in (None, "skip")
                    state.accepted -= last == "accept"
                    state.decided_units.discard(reversal.unit_id)
            elif key == "?":
                state.message = HELP
            if decided is not None:
                state.message = f"Recorded: {decided.action} {', '.join(decided.final_codes) or decided.suggested_code or ''}".strip()
                state.position += 1
                state.memo = ""
                state.actions.append(decided.action)
                state.reviewed += decided.action != "skip"
                state.accepted += decided.action == "accept"
                if decided.action != "skip":
                    state.decided_units.add(decided.unit_id)
                fresh = on_decision(state.reviewed) if on_decision is not None else None
                if fresh is not None:  # a retrained model's queue, minus what was decided meanwhile
                    state.queue = state.queue[: state.position] + [
                        i for i in fresh if i.unit_id not in state.decided_units and i.unit_id != item.unit_id
                    ]
        out.write(render(state))
        out.flush()
        state.latencies.append(time.perf_counter() - started)
    return state
