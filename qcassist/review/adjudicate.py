"""The adjudication screen: one disagreement at a time, the person picks what stands.

Same terminal conventions as the review screen (plain ANSI, 80×24, single keys); each
key that settles a unit calls ``qcassist.adjudication.adjudicate``, which commits
before the next unit is drawn.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, field

from ..adjudication import ADJUDICATED, Disagreement, adjudicate
from ..decisions import undo_last
from ..store import Store
from .screen import BOLD, CLEAR, DIM, RESET, Keys, pick_code, unit_in_context

HELP = "[1-9] take that coder's codes  [c]ode  [n]o code  [s]kip  [u]ndo  [q]uit"


@dataclass
class AdjudicationState:
    items: list[Disagreement]
    position: int = 0
    settled: int = 0
    message: str = ""
    history: list[int] = field(default_factory=list)  # positions settled this session, for undo

    @property
    def current(self) -> Disagreement | None:
        return self.items[self.position] if self.position < len(self.items) else None


def render(state: AdjudicationState, width: int | None = None, height: int | None = None) -> str:
    size = shutil.get_terminal_size((80, 24))
    width = min(width or size.columns, 120)
    height = height or size.lines
    item = state.current
    lines = [f"{BOLD}qcassist adjudicate{RESET}  {state.settled} settled · {len(state.items) - state.position} left"]
    if item is None:
        lines += ["", "No disagreements left. Press q to quit."]
        return CLEAR + "\n".join(lines + [HELP[: width - 1]])
    lines.append(f"{DIM}{item.transcript} · unit {item.unit_id}{RESET}")
    body = unit_in_context(item, width)
    for number, (coder, codes) in enumerate(item.codes.items(), start=1):
        body.append(f"{BOLD}{number}{RESET} {coder}: {', '.join(codes) or '(no code)'}"[: width + len(BOLD) + len(RESET)])
    if item.adjudicated is not None:
        body.append(f"{DIM}settled before: {', '.join(item.adjudicated) or '(no code)'}{RESET}")
    budget = height - 2 - len(lines)
    lines += body[:budget]
    lines += [""] * (height - 2 - len(lines))
    lines += [state.message[: width - 1], HELP[: width - 1]]
    return CLEAR + "\n".join(lines)


def run_adjudication(
    store: Store, items: list[Disagreement], *, keys: Keys, out=None, adjudicator: str = ADJUDICATED, person: str = ""
) -> AdjudicationState:
    out = out or sys.stdout
    state = AdjudicationState(items)
    leaves = [c.name for c in store.codebook().leaves]
    out.write(render(state))
    out.flush()
    while True:
        key = keys.read()
        item = state.current
        if key in ("q", ""):
            break
        chosen: tuple[str, ...] | None = None
        if item is None:
            state.message = "No disagreements left."
        elif key.isdigit() and 1 <= int(key) <= len(item.codes):
            chosen = list(item.codes.values())[int(key) - 1]
        elif key == "c":
            code = pick_code(keys, out, leaves, "code:")
            chosen = (code,) if code else None
            state.message = "" if code else "Cancelled."
        elif key == "n":
            chosen = ()
        elif key == "s":
            state.position += 1
            state.message = "Skipped."
        elif key == "u":
            _undo(store, state, adjudicator)
        if chosen is not None and item is not None:
            decision = adjudicate(store, item, chosen, adjudicator=adjudicator, person=person)
            state.message = f"Recorded: unit {decision.unit_id} → {', '.join(chosen) or '(no code)'}"
            state.history.append(state.position)
            state.position += 1
            state.settled += 1
        out.write(render(state))
        out.flush()
    return state


def _undo(store: Store, state: AdjudicationState, adjudicator: str) -> None:
    if not state.history:
        state.message = "Nothing settled this session to undo."
        return
    reversal = undo_last(store, coder=adjudicator)
    state.position = state.history.pop()
    state.settled -= 1
    state.message = f"Undid the settlement of unit {reversal.unit_id if reversal else '?'}."
