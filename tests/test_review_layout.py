"""The review screen's pieces without a terminal: keys decoded as UTF-8 text, wrapping that keeps offsets,
the unit highlighted in its whole turn, scrolling a long unit, and every size the screen is drawn at."""

from __future__ import annotations

import os
import re
import threading
import time

import pytest

from qcassist.decisions import ReviewItem
from qcassist.model import Suggestion
from qcassist.review.context import ContextTurn, UnitContext
from qcassist.review.keys import DOWN, ESC, PAGE_DOWN, UP, Keys, cell_width
from qcassist.review.layout import REVERSE, context_lines, fit, wrap_spans
from qcassist.review.screen import ReviewState, render, scroll

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def plain(line: str) -> str:
    return ANSI.sub("", line)


def keys_from(*chunks: bytes, pause: float = 0.0):
    """Keys reading a pipe that receives ``chunks`` one after another (``pause`` seconds apart)."""
    read, write = os.pipe()

    def feed() -> None:
        for chunk in chunks:
            os.write(write, chunk)
            time.sleep(pause)
        os.close(write)

    threading.Thread(target=feed, daemon=True).start()
    return Keys(os.fdopen(read, "rb", buffering=0))


def read_all(keys: Keys) -> list[str]:
    out = []
    while (key := keys.read()) != "":
        out.append(key)
    return out


def test_keys_decode_characters_split_across_reads():
    text = "Må – æøå 👩‍💻"
    data = text.encode()
    chunks = [data[i:i + 1] for i in range(len(data))]  # one byte per read: every multi-byte character split
    assert "".join(read_all(keys_from(*chunks, pause=0.002))) == text


def test_keys_name_arrows_and_page_keys_and_keep_a_lone_escape():
    keys = keys_from(b"\x1b[A\x1b[B\x1b[6~", b"\x1b", b"x", pause=0.2)
    assert read_all(keys) == [UP, DOWN, PAGE_DOWN, ESC, "x"]


def test_cell_width_counts_wide_characters_twice_and_joiners_not_at_all():
    assert cell_width("æøå") == 3
    assert cell_width("👍") == 2
    assert cell_width("👩‍💻") == 4
    assert cell_width(fit("Må sjekkes – æøå 👍👍👍", 12)) <= 12


def test_wrapping_keeps_offsets_and_widths():
    text = "Jeg   fikk håp igjen.\nDe kom hver uke, også når jeg avlyste. " + "x" * 30
    lines = wrap_spans(text, 12)
    for line in lines:
        words = [text[a:b] for a, b in line]
        assert cell_width(" ".join(words)) <= 12
    assert [text[a:b] for line in lines for a, b in line][:3] == ["Jeg", "fikk", "håp"]
    assert "".join(text[a:b] for line in lines for a, b in line if text[a] == "x") == "x" * 30  # a long word is cut


TURN = "Before the team I was alone. My sister found them, actually. The nurse, Tom, stood outside and said he could come back."
UNIT = "My sister found them, actually."


def context(turn_text: str = TURN, unit: str = UNIT) -> UnitContext:
    start = turn_text.index(unit)
    return UnitContext("Maria", turn_text, start, start + len(unit),
                       (ContextTurn("Interviewer", "And how did the team become part of that?"),),
                       (ContextTurn("Interviewer", "What did the team help you with?"),))


def item(ctx: UnitContext, suggestions=(("trust", 0.8), ("money", 0.4))) -> ReviewItem:
    text = ctx.turn_text[ctx.start:ctx.end]
    return ReviewItem(7, "interview_02", 2, "Maria", text, ctx,
                      tuple(Suggestion(7, code, p, "v1") for code, p in suggestions))


def test_the_unit_is_highlighted_inside_its_whole_turn():
    laid = context_lines(context(), 79)
    shown = [plain(line) for line in laid.lines]
    joined = " ".join(shown)
    assert "Before the team I was alone." in joined and "he could come back." in joined  # the rest of the turn
    assert shown[0].startswith("Interviewer: And how") and shown[-1].startswith("Interviewer: What did")
    highlighted = "".join(re.findall(re.escape(REVERSE) + r"(.*?)\x1b\[0m", "\n".join(laid.lines)))
    assert highlighted == UNIT


@pytest.mark.parametrize("width,height", [(80, 24), (60, 15), (120, 40), (40, 10), (200, 60)])
def test_the_screen_fills_exactly_the_terminal_at_every_size(width, height):
    state = ReviewState([item(context())])
    state.go_to(0)
    lines = render(state, width=width, height=height).split("\n")
    assert len(lines) == height
    assert all(cell_width(plain(line)) < min(width, 120) for line in lines)
    assert "trust" in plain("\n".join(lines))


def test_a_long_unit_is_paged_through_to_its_last_word():
    long_unit = " ".join(f"Sentence {n} says how the team helped with everyday things." for n in range(1, 40)) + " LASTWORD."
    ctx = context(f"First. {long_unit} After.", long_unit)
    state = ReviewState([item(ctx)])
    state.go_to(0)
    first = [plain(line) for line in render(state, width=80, height=24).split("\n")]
    assert "unit continues: PgDn" in first[1]
    assert not any("LASTWORD" in line for line in first)
    seen = set(first)
    for _ in range(10):
        scroll(state, 1, width=80, height=24)
        seen |= {plain(line) for line in render(state, width=80, height=24).split("\n")}
    assert any("LASTWORD" in line for line in seen)
    for n in range(1, 40):  # no line of the unit was skipped between pages
        assert any(f"Sentence {n} " in line for line in seen) or any(line.endswith(f"Sentence {n}") for line in seen)
    scroll(state, -100, width=80, height=24)
    assert [plain(line) for line in render(state, width=80, height=24).split("\n")][2].startswith("Interviewer")


def test_left_on_the_first_unit_says_so_and_keeps_the_memo():
    # at 80x24 in tmux, <- on the first unit did nothing visible and silently dropped the memo being written
    from qcassist.review.keys import LEFT
    from qcassist.review.screen import _on_key

    state = ReviewState([item(context())])
    state.go_to(0)
    state.memo = "Må sjekkes – æøå"
    _on_key(LEFT, state, None, None, None, "kari", [], lambda message=None: None)
    assert state.position == 0 and state.memo == "Må sjekkes – æøå" and state.message == "This is the first unit."
