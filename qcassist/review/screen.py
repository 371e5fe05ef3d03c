"""The keyboard-driven review screen: one unit in its turn, each of its suggestions decided on its own.

Thin over ``qcassist.decisions``: every key that decides calls one library function,
which commits before the screen says "Recorded". A unit leaves the queue once every
suggestion on it is decided (accept, reject or recode it, or add its code). Fits an
80×24 terminal and redraws on resize; plain ANSI escapes, no curses, so it runs in any
terminal and under pexpect/tmux.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..decisions import ReviewItem, decide, decided_suggestions, undo_last
from ..errors import QcaError
from ..model import Decision, Suggestion
from ..store import Store
from .codebox import pick_codes
from .keys import DOWN, END, HOME, LEFT, PAGE_DOWN, PAGE_UP, RESIZE, RIGHT, UP, Keys, terminal_size
from .layout import BOLD, CLEAR, DIM, RESET, REVERSE, ContextLines, context_lines, fit, scrolled, shown_context
from .saving import committed

HELP = "[a]ccept [r]eject re[c]ode [+]add ↑↓ pick [s]kip [u]ndo [m]emo [?]help [q]uit"
KEY_HELP = (
    "Each suggestion on a unit is decided on its own; the unit is done when all are.",
    "",
    "  ↑ ↓ or 1-9      pick the suggestion that a, r and c apply to",
    "  a               accept the picked suggestion",
    "  r               reject it (the model learns it is wrong here)",
    "  c               recode it: reject it and give other code(s) instead",
    "  +               add code(s) to the unit beside the ones it has",
    "                  (in the code box: type to search, ',' takes the first",
    "                   match and starts another, Enter ends, Esc cancels)",
    "  s               skip the unit (it comes back at the end of the queue)",
    "  u               undo the last decision (one code at a time)",
    "  m               write a memo; it is kept with the next decision",
    "  PgDn, Space     scroll a long unit and its neighbouring turns down",
    "  PgUp, b         and up again",
    "  ← →             back to the previous unit / forward again",
    "  q               quit; 'qcassist review' continues where you stopped",
    "",
    "Press any key to go back.",
)
SCROLL_KEYS = {PAGE_DOWN: 1, " ": 1, PAGE_UP: -1, "b": -1, HOME: -10**6, END: 10**6}


@dataclass
class ReviewState:
    """What the screen knows between keys."""

    queue: list[ReviewItem]
    position: int = 0
    cursor: int = 0  # the picked suggestion on the current unit
    scroll: int = 0  # lines the context is scrolled from where it starts
    seen: int = 1  # units of the queue shown so far (kept when a retrained queue arrives)
    reviewed: int = 0  # decisions this session, skips not counted
    accepted: int = 0
    message: str = ""
    memo: str = ""  # attached to the next decision on this unit
    show_help: bool = False
    decided: dict[int, dict[str, str]] = field(default_factory=dict)  # unit → code → action, this session's view
    codes: dict[int, tuple[str, ...]] = field(default_factory=dict)  # unit → the coder's codes on it
    recorded: dict[int, Decision] = field(default_factory=dict)  # this session's decisions by id, for undo
    latencies: list[float] = field(default_factory=list)  # seconds from key to next screen drawn

    @property
    def current(self) -> ReviewItem | None:
        return self.queue[self.position] if self.position < len(self.queue) else None

    def decided_on(self, item: ReviewItem) -> dict[str, str]:
        return self.decided.setdefault(item.unit_id, dict(item.decided))

    def codes_on(self, item: ReviewItem) -> tuple[str, ...]:
        return self.codes.get(item.unit_id, item.codes)

    def pending(self, item: ReviewItem) -> list[int]:
        """Indices of the suggestions on ``item`` not decided yet."""
        decided = self.decided_on(item)
        return [n for n, s in enumerate(item.suggestions) if s.code not in decided]

    def next_open(self) -> int:
        """The next position after the current one whose unit still has an undecided suggestion (or the end)."""
        return next((n for n in range(self.position + 1, len(self.queue)) if self.pending(self.queue[n])), len(self.queue))

    def units_left(self) -> int:
        # units not shown yet are all open (the queue holds only units with an undecided suggestion)
        shown = self.queue[: self.seen]
        return sum(1 for item in shown if self.pending(item)) + len(self.queue) - len(shown)

    def go_to(self, position: int, cursor: int | None = None) -> None:
        self.position = max(0, min(position, len(self.queue)))
        self.seen = max(self.seen, self.position + 1)
        self.scroll = 0
        self.memo = ""
        item = self.current
        if item is not None:
            pending = self.pending(item)
            self.cursor = cursor if cursor is not None else (pending[0] if pending else 0)


# --- drawing ---------------------------------------------------------------------------


def render(state: ReviewState, width: int | None = None, height: int | None = None) -> str:
    """The whole screen for the current unit, as one string that fits width × height."""
    width, height = screen_size(width, height)
    decisions = state.reviewed
    rate = f"{state.accepted / decisions:.0%}" if decisions else "–"
    header = (f"{BOLD}qcassist review{RESET}  " +
              fit(f"{decisions} decided · {_count(state.units_left(), 'unit')} left · accept rate {rate}", width - 17))
    item = state.current
    if state.show_help:
        return _screen([header, ""] + [fit(line, width) for line in KEY_HELP], state.message, width, height)
    if item is None:
        return _screen([header, "", "Nothing left to review. Press q to quit (← goes back)."], state.message, width, height)
    view = _view(state, item, width, height)
    shown, hint = shown_context(view.laid, view.room, state.scroll)
    where = f"{item.transcript} · unit {item.unit_id} (#{item.order})" + (f" · {hint}" if hint else "")
    lines = [header, f"{DIM}{fit(where, width)}{RESET}"] + shown + [""] + view.below
    return _screen(lines, state.message, width, height)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def screen_size(width: int | None, height: int | None) -> tuple[int, int]:
    """The width and height to draw in: the ones given, else the terminal's (at most 120 wide, at least 6 high)."""
    size = terminal_size()
    # never the last column: some terminals wrap a line that reaches it
    return min(width or size.columns, 120) - 1, max(height or size.lines, 6)


@dataclass(frozen=True)
class _View:
    laid: ContextLines  # the unit's context, every line
    room: int  # lines the context gets
    below: list[str]  # the suggestions and notes under the context


def _view(state: ReviewState, item: ReviewItem, width: int, height: int) -> _View:
    below = _decision_lines(state, item, width)
    room = height - 2 - 2 - len(below) - 1  # header lines, message and help, decisions, a blank line
    if room < 3:  # a very low terminal: fewer suggestion details, more of the unit
        below = below[: max(1, len(below) - (3 - room))]
        room = height - 5 - len(below)
    return _View(context_lines(item.context, width), max(room, 1), below)


def scroll(state: ReviewState, pages: float, width: int | None = None, height: int | None = None) -> None:
    """Move the current unit's context by ``pages`` screens (one line of overlap), within its lines."""
    item = state.current
    if item is None:
        return
    view = _view(state, item, *screen_size(width, height))
    state.scroll = scrolled(view.laid, view.room, state.scroll, pages)


def _screen(lines: list[str], message: str, width: int, height: int) -> str:
    lines = lines[: height - 2]
    lines += [""] * (height - 2 - len(lines))
    return CLEAR + "\n".join(lines + [fit(message, width), fit(HELP, width)])


def _decision_lines(state: ReviewState, item: ReviewItem, width: int) -> list[str]:
    """One line per suggestion (the picked one marked), the picked one's reasons, the coder's codes."""
    decided = state.decided_on(item)
    suggestions = item.suggestions
    visible = range(len(suggestions))
    if len(suggestions) > 6:  # many suggestions: a window of six around the cursor
        first = min(max(state.cursor - 2, 0), len(suggestions) - 6)
        visible = range(first, first + 6)
    lines = []
    for n in visible:
        lines.append(_suggestion_line(n, suggestions[n], decided.get(suggestions[n].code), n == state.cursor, width))
    picked = suggestions[min(state.cursor, len(suggestions) - 1)]
    for unit_id in picked.rationale[:2]:
        text = " ".join(item.rationale_texts.get(unit_id, "").split())
        lines.append(f"{DIM}{fit(f'    like #{unit_id}: {text}', width)}{RESET}")
    codes = state.codes_on(item)
    if codes or state.memo:
        note = f"your codes: {', '.join(codes) or '–'}" + (f"   memo: {state.memo}" if state.memo else "")
        lines.append(fit(note, width))
    return lines


_DONE = {"accept": ("✓", "accepted"), "reject": ("✗", "rejected"), "recode": ("→", "recoded"), "add": ("✓", "coded")}


def _suggestion_line(number: int, suggestion: Suggestion, action: str | None, picked: bool, width: int) -> str:
    mark, said = _DONE.get(action or "", ("·", ""))
    kind = "" if suggestion.source == "classifier" else f" ({suggestion.source})"  # sim= already says similarity
    label = f"{number + 1}" if number < 9 else " "
    text = f"{'›' if picked else ' '}{label} {mark} {suggestion.code}  {suggestion.shown}{kind}"
    if said:
        text += f"  {said}"
    text = fit(text, width)
    if picked:
        return f"{BOLD}{REVERSE if action is None else ''}{text}{RESET}"
    return f"{DIM}{text}{RESET}" if action else text


# --- the loop -----------------------------------------------------------------------------


def run_review(
    store: Store,
    queue: list[ReviewItem],
    *,
    coder: str,
    keys: Keys,
    out=None,
    on_decision: Callable[[int], list[ReviewItem] | None] | None = None,
) -> ReviewState:
    """The review loop: draw, read a key, record, draw again."""
    out = out or sys.stdout
    state = ReviewState(queue)
    state.go_to(0)
    leaves = [c.name for c in store.codebook().leaves]
    draw = drawer(state, render, out)
    draw()
    while True:
        key = keys.read()
        started = time.perf_counter()
        if state.show_help and key != RESIZE:
            state.show_help = False
        elif key in ("q", ""):
            break
        else:
            decision = _on_key(key, state, store, keys, out, coder, leaves, draw)
            if decision is not None and decision.action != "skip" and on_decision is not None:
                _take_new_queue(state, on_decision(state.reviewed))
        draw()
        state.latencies.append(time.perf_counter() - started)
    return state


def drawer(state, render: Callable, out) -> Callable[[str | None], None]:
    """Redraw the whole screen with ``render(state)``; a message given replaces the message line first
    (``committed`` passes its "database busy" notices this way)."""

    def draw(message: str | None = None) -> None:
        if message is not None:
            state.message = message
        out.write(render(state))
        out.flush()

    return draw


def _on_key(key: str, state: ReviewState, store: Store, keys: Keys, out, coder: str, leaves: list[str],
            draw: Callable[[str | None], None]) -> Decision | None:
    """Act on one key; returns the decision it recorded, if any."""
    item = state.current
    if key == "?":
        state.show_help = True
    elif key == "u":
        _undo(state, store, coder, draw)
    elif key in (LEFT, RIGHT):
        target = state.position + (1 if key == RIGHT else -1)
        if 0 <= target <= len(state.queue):
            state.go_to(target)
            state.message = ""
        else:  # nowhere to go: say so, and keep the memo being written (go_to would drop it)
            state.message = "This is the first unit." if key == LEFT else "This is the end of the queue."
    elif item is None:
        state.message = "Nothing left to review; press q to quit." if key != RESIZE else state.message
    elif key in (UP, DOWN):
        state.cursor = min(max(state.cursor + (1 if key == DOWN else -1), 0), len(item.suggestions) - 1)
    elif key.isdigit() and 1 <= int(key) <= min(len(item.suggestions), 9):
        state.cursor = int(key) - 1
    elif key in SCROLL_KEYS:
        scroll(state, SCROLL_KEYS[key])
    elif key == "m":
        memo = keys.line("memo: ", out, state.memo)
        if memo is not None:
            state.memo = memo
        state.message = "Memo kept for this unit's next decision." if state.memo else "No memo."
    elif key in ("a", "r", "c", "+", "s"):
        return _decide_key(key, state, store, keys, out, coder, leaves, draw)
    return None


def _decide_key(key: str, state: ReviewState, store: Store, keys: Keys, out, coder: str, leaves: list[str],
                draw: Callable[[str | None], None]) -> Decision | None:
    item = state.current
    picked = item.suggestions[state.cursor]
    already = state.decided_on(item).get(picked.code)
    if key in ("a", "r", "c") and already is not None:
        state.message = f"{picked.code} is already {_DONE[already][1]}; u undoes the last decision."
        return None
    codes: tuple[str, ...] = ()
    if key in ("c", "+"):
        width = min(terminal_size().columns, 120)
        codes = pick_codes(keys, out, leaves, f"recode {picked.code} to:" if key == "c" else "add code(s):", width) or ()
        if not codes:
            state.message = "Cancelled."
            return None
    action = {"a": "accept", "r": "reject", "c": "recode", "+": "add", "s": "skip"}[key]
    suggestion = None if action == "add" else picked
    try:
        decision = committed(lambda: decide(store, item.unit_id, action, coder=coder, suggestion=suggestion,
                                            codes=codes, memo=state.memo), store, draw)
    except QcaError as exc:
        state.message = str(exc)
        return None
    _after_decision(state, item, decision)
    return decision


def _after_decision(state: ReviewState, item: ReviewItem, decision: Decision) -> None:
    state.recorded[decision.id] = decision
    state.memo = ""
    if decision.action == "skip":
        state.message = f"Skipped unit {item.unit_id}."
        state.go_to(state.next_open())
        return
    state.reviewed += 1
    state.accepted += decision.action == "accept"
    decided = state.decided_on(item)
    for code in decision.final_codes if decision.action in ("add", "recode") else ():
        decided[code] = "add"
    if decision.action != "add":
        decided[decision.suggested_code] = decision.action
    state.codes[item.unit_id] = tuple(sorted(set(state.codes_on(item)) | set(decision.final_codes)))
    said = ", ".join(decision.final_codes) if decision.action in ("add", "recode") else decision.suggested_code
    arrow = f"{decision.suggested_code} → " if decision.action == "recode" else ""
    state.message = f"Recorded: {decision.action} {arrow}{said}"
    pending = state.pending(item)
    if not pending:
        state.message += f" · unit {item.unit_id} done"
        state.go_to(state.next_open())
    elif decision.action != "add" or state.cursor not in pending:
        state.cursor = next((n for n in pending if n > state.cursor), pending[0])


def _undo(state: ReviewState, store: Store, coder: str, draw: Callable[[str | None], None]) -> None:
    reversal = committed(lambda: undo_last(store, coder=coder), store, draw)
    if reversal is None:
        state.message = "Nothing to undo."
        return
    undone = state.recorded.pop(reversal.reverses, None)
    if undone is not None and undone.action != "skip":
        state.reviewed -= 1
        state.accepted -= undone.action == "accept"
    where = next((n for n, i in enumerate(state.queue[: state.seen]) if i.unit_id == reversal.unit_id), None)
    what = f" ({undone.action} {undone.suggested_code or ', '.join(undone.final_codes)})" if undone else ""
    if where is None:
        state.message = f"Undid the last decision{what} on unit {reversal.unit_id} (not among the units shown now)."
        return
    item = state.queue[where]
    fresh = decided_suggestions(store, coder).get(item.unit_id, {})  # what still stands, all sessions
    state.decided[item.unit_id] = {code: action for code, action in fresh.items()}
    state.codes[item.unit_id] = tuple(sorted({c.code for c in store.codings(coders=[coder]) if c.unit_id == item.unit_id}))
    codes = [s.code for s in item.suggestions]
    cursor = codes.index(reversal.suggested_code) if reversal.suggested_code in codes else None
    if where != state.position:
        state.go_to(where, cursor)
    elif cursor is not None:
        state.cursor = cursor
    state.message = f"Undid the last decision{what} on unit {reversal.unit_id}."


def _take_new_queue(state: ReviewState, fresh: list[ReviewItem] | None) -> None:
    """A retrained model's queue replaces what is ahead; the units already shown keep their places."""
    if fresh is None:
        return
    kept = state.queue[: state.seen]
    shown = {item.unit_id for item in kept}
    state.queue = kept + [item for item in fresh if item.unit_id not in shown]
