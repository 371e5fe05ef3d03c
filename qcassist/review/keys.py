"""Keys from the terminal, as text: multi-byte UTF-8 (æøå, –, emoji), arrows and page keys, resizes.

A terminal sends a character like ``å`` as two bytes, and an emoji as four; bytes are
decoded with one incremental UTF-8 decoder so a character split across reads still
arrives whole. Escape sequences become named keys (``UP``, ``PAGE_DOWN``, …); a lone
Esc stays ``"\\x1b"``. A terminal resize (SIGWINCH) arrives as the key ``RESIZE`` so the
screen redraws at the new size. ``""`` means the input ended.
"""

from __future__ import annotations

import codecs
import os
import select
import signal
import sys
import threading
import unicodedata
from collections import deque

UP, DOWN, LEFT, RIGHT = "<up>", "<down>", "<left>", "<right>"
PAGE_UP, PAGE_DOWN, HOME, END = "<page-up>", "<page-down>", "<home>", "<end>"
RESIZE, UNKNOWN = "<resize>", "<unknown>"
ESC = "\x1b"
BACKSPACE = ("\x7f", "\b")
ESCAPE_WAIT = 0.05  # seconds to wait after Esc for the rest of an arrow key's sequence

_SEQUENCES = {"A": UP, "B": DOWN, "C": RIGHT, "D": LEFT, "H": HOME, "F": END, "1~": HOME, "7~": HOME,
              "4~": END, "8~": END, "5~": PAGE_UP, "6~": PAGE_DOWN}


def cell_width(text: str) -> int:
    """Columns ``text`` takes in a terminal: wide (East Asian, most emoji) count 2, combining marks 0."""
    width = 0
    for char in text:
        if unicodedata.combining(char) or char in "\u200b\u200c\u200d\ufe0e\ufe0f":
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def is_text(key: str) -> bool:
    """Whether a key is a character to type (letters, marks, emoji parts), not a control or a named key."""
    return len(key) == 1 and unicodedata.category(key) != "Cc"


class Keys:
    """Single keypresses from a terminal (cbreak mode), or characters from a pipe or a text stream."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdin
        self._saved = None
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending: deque[str] = deque()
        self._wake: tuple[int, int] | None = None  # self-pipe: the resize handler writes, read() wakes up
        self._previous_handler = None
        try:
            self._fd: int | None = self.stream.fileno()
        except (AttributeError, OSError, ValueError):  # io.StringIO and friends: read characters directly
            self._fd = None

    def __enter__(self) -> Keys:
        if self._fd is not None and os.isatty(self._fd):
            import termios
            import tty

            self._saved = termios.tcgetattr(self._fd)
            tty.setcbreak(self._fd)
            self._watch_resizes()
        return self

    def __exit__(self, *exc) -> None:
        if self._saved is not None:
            import termios

            termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)
        if self._wake is not None:
            signal.signal(signal.SIGWINCH, self._previous_handler or signal.SIG_DFL)
            for fd in self._wake:
                os.close(fd)
            self._wake = None

    def _watch_resizes(self) -> None:
        if not hasattr(signal, "SIGWINCH") or threading.current_thread() is not threading.main_thread():
            return
        self._wake = os.pipe()
        os.set_blocking(self._wake[1], False)
        wake = self._wake[1]

        def on_resize(signum, frame) -> None:
            try:
                os.write(wake, b"\0")
            except OSError:  # the pipe is full: a redraw is already due
                pass

        self._previous_handler = signal.signal(signal.SIGWINCH, on_resize)

    def read(self) -> str:
        """The next key: a character, a named key (``UP``, ``RESIZE``, …), Esc, or "" at the end of input."""
        key = self._next(None)
        if key == ESC:
            return self._escape_sequence()
        return key

    def _next(self, timeout: float | None) -> str | None:
        while not self._pending:
            if not self._fill(timeout):
                return None
        return self._pending.popleft()

    def _fill(self, timeout: float | None) -> bool:
        """Read what the terminal has into the pending keys; False if nothing came within ``timeout``."""
        if self._fd is None:
            self._pending.append(self.stream.read(1))
            return True
        watched = [self._fd] + ([self._wake[0]] if self._wake else [])
        ready, _, _ = select.select(watched, [], [], timeout)
        if not ready:
            return False
        if self._wake and self._wake[0] in ready:
            os.read(self._wake[0], 1024)
            self._pending.append(RESIZE)
            return True
        data = os.read(self._fd, 1024)
        if not data:
            self._pending.append(self._decoder.decode(b"", final=True))
            self._pending.append("")  # end of input
            return True
        # a character cut between two reads decodes to "" now and whole with the next bytes
        self._pending.extend(self._decoder.decode(data))
        return True

    def _escape_sequence(self) -> str:
        introducer = self._next(ESCAPE_WAIT)
        if introducer is None:
            return ESC
        if introducer not in ("[", "O"):
            self._pending.appendleft(introducer)
            return ESC
        body = ""
        while True:
            char = self._next(ESCAPE_WAIT)
            if char is None or char in ("", RESIZE):
                if char is not None:
                    self._pending.appendleft(char)
                return UNKNOWN
            body += char
            if "@" <= char <= "~":  # the final byte of a CSI or SS3 sequence
                return _SEQUENCES.get(body, UNKNOWN)

    def line(self, prompt: str, out, initial: str = "") -> str | None:
        """Read a line with echo (memos); Enter ends it, Esc cancels (None)."""
        out.write(f"\r\n\x1b[K{prompt}{initial}")
        out.flush()
        chars: list[str] = list(initial)
        while True:
            key = self.read()
            if key in ("\r", "\n", ""):
                return "".join(chars)
            if key == ESC:
                return None
            if key in BACKSPACE:
                if chars:
                    erased = cell_width(chars.pop())
                    out.write("\b \b" * erased)
            elif is_text(key):
                chars.append(key)
                out.write(key)
            out.flush()


def terminal_size() -> os.terminal_size:
    """The terminal's size now: asked of the terminal itself, since $COLUMNS/$LINES go stale on a resize."""
    for stream in (sys.__stdout__, sys.__stdin__):
        try:
            return os.get_terminal_size(stream.fileno())
        except (AttributeError, OSError, ValueError):
            continue
    import shutil

    return shutil.get_terminal_size((80, 24))
