"""Laying text out on the screen: wrapping by terminal columns, the unit highlighted inside its turn,
and which lines of a long context fit (scrolling). Pure: strings in, strings out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .context import UnitContext
from .keys import cell_width

BOLD, REVERSE, DIM, RESET = "\x1b[1m", "\x1b[7m", "\x1b[2m", "\x1b[0m"
CLEAR = "\x1b[2J\x1b[H"  # clear the screen, cursor home
_WORD = re.compile(r"\S+")


def fit(text: str, width: int) -> str:
    """``text`` cut to ``width`` columns, with … where it was cut."""
    if cell_width(text) <= width:
        return text
    out, used = [], 0
    for char in text:
        w = cell_width(char)
        if used + w > width - 1:
            break
        out.append(char)
        used += w
    return "".join(out) + "…"


def wrap_spans(text: str, width: int) -> list[list[tuple[int, int]]]:
    """Lines of ``(start, end)`` word spans into ``text``, each line at most ``width`` columns.

    Runs of whitespace become one space; a word longer than a line is cut across lines.
    Unlike textwrap, offsets into the original text survive, so a span can be highlighted.
    """
    lines: list[list[tuple[int, int]]] = []
    line: list[tuple[int, int]] = []
    used = 0
    for match in _WORD.finditer(text):
        for start, end in _pieces(text, match.start(), match.end(), width):
            w = cell_width(text[start:end])
            if line and used + 1 + w > width:
                lines.append(line)
                line, used = [], 0
            used += w + (1 if line else 0)
            line.append((start, end))
    if line:
        lines.append(line)
    return lines or [[]]


def _pieces(text: str, start: int, end: int, width: int) -> list[tuple[int, int]]:
    """A word cut into pieces of at most ``width`` columns (one piece if it fits)."""
    pieces, piece_start, used = [], start, 0
    for i in range(start, end):
        w = cell_width(text[i])
        if used + w > width and i > piece_start:
            pieces.append((piece_start, i))
            piece_start, used = i, 0
        used += w
    pieces.append((piece_start, end))
    return pieces


def styled_lines(text: str, width: int, *, style: str = "", mark: tuple[int, int] | None = None) -> list[tuple[str, bool]]:
    """``text`` wrapped to ``width``, each line in ``style`` with the characters in ``mark`` reversed.

    Returns (line, whether the line shows part of ``mark``) pairs.
    """
    out = []
    for spans in wrap_spans(text, width):
        segments: list[tuple[str, bool]] = []
        for n, (start, end) in enumerate(spans):
            if n:
                previous_end = spans[n - 1][1]
                gap_marked = mark is not None and mark[0] <= previous_end and start <= mark[1]
                segments.append((" ", gap_marked))
            if mark is None:
                segments.append((text[start:end], False))
                continue
            cuts = sorted({start, end, min(max(mark[0], start), end), min(max(mark[1], start), end)})
            for a, b in zip(cuts, cuts[1:]):
                segments.append((text[a:b], mark[0] <= a and b <= mark[1]))
        shows_mark = any(marked and part.strip() for part, marked in segments)
        body = "".join(f"{REVERSE}{part}{RESET}{style}" if marked else part for part, marked in _merged(segments))
        out.append((f"{style}{body}{RESET}" if style or shows_mark else body, shows_mark))
    return out


def _merged(segments: list[tuple[str, bool]]) -> list[tuple[str, bool]]:
    merged: list[tuple[str, bool]] = []
    for part, marked in segments:
        if merged and merged[-1][1] == marked:
            merged[-1] = (merged[-1][0] + part, marked)
        else:
            merged.append((part, marked))
    return merged


@dataclass(frozen=True)
class ContextLines:
    """A unit's context laid out: every line, and the first and last line showing the unit."""

    lines: tuple[str, ...]
    first: int
    last: int


def context_lines(context: UnitContext, width: int) -> ContextLines:
    """Turns before (dim), the unit's whole turn with the unit reversed, turns after (dim)."""
    lines: list[str] = []
    for turn in context.before:
        lines += [line for line, _ in styled_lines(f"{turn.speaker}: {turn.text}", width, style=DIM)]
    prefix = f"{context.speaker or ''}: "
    own = styled_lines(prefix + context.turn_text, width, mark=(len(prefix) + context.start, len(prefix) + context.end))
    marked = [n for n, (_, shows) in enumerate(own) if shows] or [0]
    first, last = len(lines) + marked[0], len(lines) + marked[-1]
    lines += [line for line, _ in own]
    for turn in context.after:
        lines += [line for line, _ in styled_lines(f"{turn.speaker}: {turn.text}", width, style=DIM)]
    return ContextLines(tuple(lines), first, last)


def window_start(laid: ContextLines, height: int, scroll: int = 0) -> int:
    """The first line to show in ``height`` lines: the whole unit with context around it when it fits,
    else the unit's start; ``scroll`` moves the window by that many lines (clamped)."""
    total = len(laid.lines)
    unit = laid.last - laid.first + 1
    if unit <= height:
        spare = height - unit
        after = total - 1 - laid.last
        # half the spare lines before the unit, more when the turns after are short
        start = laid.first - min(laid.first, max(spare // 2, spare - after))
    else:
        start = laid.first
    return min(max(start + scroll, 0), max(total - height, 0))


def shown_context(laid: ContextLines, room: int, scroll: int = 0) -> tuple[list[str], str]:
    """The ``room`` lines of context to draw (padded), and a hint for the line above it when not all fit."""
    start = window_start(laid, room, scroll)
    shown = list(laid.lines[start:start + room])
    total = len(laid.lines)
    hint = ""
    if total > room:
        if laid.last >= start + room:
            more = "unit continues: PgDn"
        else:
            more = "more: PgDn" if start + room < total else "PgUp: back"
        hint = f"lines {start + 1}-{start + len(shown)} of {total} · {more}"
    return shown + [""] * (room - len(shown)), hint


def scrolled(laid: ContextLines, room: int, scroll: int, pages: float) -> int:
    """The scroll offset after moving ``pages`` screens (one line of overlap), kept within the lines."""
    step = max(room - 1, 1)
    home = window_start(laid, room, 0)
    start = window_start(laid, room, scroll)
    target = min(max(start + int(pages * step), 0), max(len(laid.lines) - room, 0))
    return target - home
