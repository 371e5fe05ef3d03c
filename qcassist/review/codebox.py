"""The code box of the review screens: search the codebook as you type, take one code or several."""

from __future__ import annotations

from .keys import BACKSPACE, ESC, Keys, is_text
from .layout import fit



def pick_codes(keys: Keys, out, leaves: list[str], prompt: str, width: int = 80) -> tuple[str, ...] | None:
    """Code search: type to filter, ',' takes the first match and starts another, Enter ends, Esc cancels.

    Taking a code that is already chosen takes it out again. None when cancelled or nothing chosen.
    """
    chosen: list[str] = []
    typed = ""
    while True:
        matches = _matches(typed, leaves)
        so_far = ", ".join(chosen) + (", " if chosen else "")
        hint = " | ".join(matches[:6]) if matches else "(no code matches)"
        out.write("\r\x1b[K" + fit(f"{prompt} {so_far}{typed}▏  {hint}", width - 1))
        out.flush()
        key = keys.read()
        if key in (ESC, ""):
            return None
        if key in ("\r", "\n", ",", "\t"):
            if typed and matches:
                code = matches[0]
                chosen.remove(code) if code in chosen else chosen.append(code)
                typed = ""
            if key in ("\r", "\n"):
                return tuple(chosen) or None
        elif key in BACKSPACE:
            if typed:
                typed = typed[:-1]
            elif chosen:
                chosen.pop()
        elif is_text(key):
            typed += key


def _matches(typed: str, leaves: list[str]) -> list[str]:
    """Codes containing ``typed`` (any case, any script), those starting with it first."""
    if not typed:
        return list(leaves)
    folded = typed.casefold()
    starting = [c for c in leaves if c.casefold().startswith(folded)]
    return starting + [c for c in leaves if folded in c.casefold() and c not in starting]
