"""The one-string form of a (context, unit) pair.

A pair travels through qcassist as a single string so that caches, manifests and the
``Encoder`` protocol (texts in, vectors out) need no second channel. The string is hashed
into embedding caches: its format must never change silently.
"""

from __future__ import annotations

SEPARATOR = "\x1e"  # ASCII record separator: never typed in a transcript, removed from texts below
DEFAULT_CONTEXT_WORDS = 48


def _part(text: str, role: str | None) -> str:
    text = " ".join(text.replace(SEPARATOR, " ").split())
    role = " ".join((role or "").replace(SEPARATOR, " ").split())
    return f"{role}: {text}" if role else text


def unit_input(text: str, role: str | None) -> str:
    """The unit alone, "<role>: <text>" (whitespace collapsed): the unit-only candidate."""
    return _part(text, role)


def pair_input(
    text: str, role: str | None, context: str, context_role: str | None, *, context_words: int = DEFAULT_CONTEXT_WORDS
) -> str:
    """"<context_role>: <last context_words words of context>" + SEPARATOR + "<role>: <text>"; no context: the unit part."""
    words = context.replace(SEPARATOR, " ").split()
    kept = words[-context_words:] if context_words > 0 else []
    if not kept:
        return unit_input(text, role)
    return _part(" ".join(kept), context_role) + SEPARATOR + unit_input(text, role)


def split_input(value: str) -> tuple[str | None, str]:
    """(context part or None, unit part): what the tokenizer gets as text and text_pair."""
    context, separator, unit = value.partition(SEPARATOR)
    return (context, unit) if separator else (None, value)
