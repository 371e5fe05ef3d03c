"""The adjudication screen: one disagreement at a time, the person picks what stands.

Same terminal conventions as the review screen (plain ANSI, 80×24, single keys, the
unit in its whole turn, resize and scroll); each key that settles a unit calls
``qcassist.adjudication.adjudicate``, which commits before the next unit is drawn. A
unit can be settled on several codes (``c``: search and take codes one after another).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from ..adjudication import ADJUDICATED, Disagreement, adjudicate
from ..decisions import undo_last
from ..errors import QcaError
from ..store import Store
from .context import UnitContext
from .keys import RESIZE, Keys, terminal_size
from .layout import BOLD, CLEAR, DIM, RESET, context_lines, fit, scrolled, shown_context
from .codebox import pick_codes
from .saving import committed
from .screen import SCROLL_KEYS, drawer, screen_size

HELP = "[1-9] take that coder's codes [c]ode(s) [n]o code [s]kip [u]ndo PgDn [q]uit"


@dataclass
class AdjudicationState:
    items: list[Disagreement]
    position: int = 0
    settled: int = 0
    scroll: int = 0
    message: str = ""
    history: list[int] = field(default_factory=list)  # positions settled this session, for undo

    @property
    def current(self) -> Disagreement | None:
        return self.items[self.position] if self.position < len(self.items) else None

    def go_to(self, position: int) -> None:
        self.position = position
        self.scroll = 0


def render(state: AdjudicationState, width: int | None = None, height: int | None = None) -> str:
    """The whole screen for the current disagreement, as one string that fits width × height."""
    width, height = screen_size(width, height)
    item = state.current
    lines = [f"{BOLD}qcassist adjudicate{RESET}  " + fit(f"{state.settled} settled · {len(state.items) - state.position} left", width - 21)]
    if item is None:
        lines += ["", "No disagreements left. Press q to quit."]
    else:
        below, laid, room = _layout(state, item, width, height)
        shown, hint = shown_context(laid, room, state.scroll)
        where = f"{item.transcript} · unit {item.unit_id}" + (f" · {hint}" if hint else "")
        lines += [f"{DIM}{fit(where, width)}{RESET}"] + shown + [""] + below
    lines = lines[: height - 2]
    lines += [""] * (height - 2 - len(lines))
    return CLEAR + "\n".join(lines + [fit(state.message, width), fit(HELP, width)])


def _layout(state: AdjudicationState, item: Disagreement, width: int, height: int):
    below = [f"{BOLD}{number}{RESET} " + fit(f"{coder}: {', '.join(codes) or '(no code)'}", width - 2)
             for number, (coder, codes) in enumerate(item.codes.items(), start=1)]
    if item.adjudicated is not None:
        below.append(f"{DIM}{fit('settled before: ' + (', '.join(item.adjudicated) or '(no code)'), width)}{RESET}")
    room = max(height - 5 - len(below), 1)
    return below, context_lines(_context(item), width), room


def _context(item: Disagreement) -> UnitContext:
    if item.context is not None:
        return item.context
    return UnitContext(item.speaker, item.text, 0, len(item.text), item.before, item.after)


def run_adjudication(
    store: Store, items: list[Disagreement], *, keys: Keys, out=None, adjudicator: str = ADJUDICATED, person: str = ""
) -> AdjudicationState:
    """The adjudication loop: draw, read a key, settle (committed), draw the next disagreement."""
    out = out or sys.stdout
    state = AdjudicationState(items)
    leaves = [c.name for c in store.codebook().leaves]
    draw = drawer(state, render, out)
    draw()
    while True:
        key = keys.read()
        item = state.current
        if key in ("q", ""):
            break
        chosen: tuple[str, ...] | None = None
        if key == "u":
            _undo(store, state, adjudicator, draw)
        elif item is None:
            state.message = state.message if key == RESIZE else "No disagreements left."
        elif key.isdigit() and 1 <= int(key) <= len(item.codes):
            chosen = list(item.codes.values())[int(key) - 1]
        elif key == "c":
            width = min(terminal_size().columns, 120)
            chosen = pick_codes(keys, out, leaves, "code(s):", width)
            state.message = "" if chosen else "Cancelled."
        elif key == "n":
            chosen = ()
        elif key == "s":
            state.go_to(state.position + 1)
            state.message = "Skipped."
        elif key in SCROLL_KEYS:
            _, laid, room = _layout(state, item, *screen_size(None, None))
            state.scroll = scrolled(laid, room, state.scroll, SCROLL_KEYS[key])
        if chosen is not None and item is not None:
            try:
                decision = committed(lambda: adjudicate(store, item, chosen, adjudicator=adjudicator, person=person),
                                     store, draw)
            except QcaError as exc:
                state.message = str(exc)
            else:
                state.message = f"Recorded: unit {decision.unit_id} → {', '.join(chosen) or '(no code)'}"
                state.history.append(state.position)
                state.go_to(state.position + 1)
                state.settled += 1
        draw()
    return state


def _undo(store: Store, state: AdjudicationState, adjudicator: str, draw) -> None:
    if not state.history:
        state.message = "Nothing settled this session to undo."
        return
    reversal = committed(lambda: undo_last(store, coder=adjudicator), store, draw)
    state.go_to(state.history.pop())
    state.settled -= 1
    state.message = f"Undid the settlement of unit {reversal.unit_id if reversal else '?'}."
