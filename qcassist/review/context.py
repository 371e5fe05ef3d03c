"""A meaning unit in its context: the whole turn it sits in, and the turns around it.

Pure over model objects (no store, no screen): both review screens and the
disagreement list draw from what ``unit_context`` returns.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model import MeaningUnit, Transcript

CONTEXT_TURNS = 5  # turns kept on each side; the screen shows as many as fit


@dataclass(frozen=True)
class ContextTurn:
    speaker: str
    text: str


@dataclass(frozen=True)
class UnitContext:
    """The turn holding a unit (``turn_text[start:end]`` is the unit) and the turns before and after it."""

    speaker: str | None
    turn_text: str
    start: int
    end: int
    before: tuple[ContextTurn, ...] = ()  # oldest first
    after: tuple[ContextTurn, ...] = ()


def context_turns(transcript: Transcript) -> list[ContextTurn]:
    """Every turn of a transcript as (speaker, text); share one list between its units' contexts."""
    return [ContextTurn(t.speaker, transcript.turn_text(t)) for t in transcript.turns]


def unit_context(transcript: Transcript, unit: MeaningUnit, turns: int = CONTEXT_TURNS,
                 around: list[ContextTurn] | None = None) -> UnitContext:
    """The unit's whole turn with the unit's place in it, and up to ``turns`` turns on each side.

    ``around`` is ``context_turns(transcript)``, computed once per transcript by callers with many units.
    """
    index = _turn_of(transcript, unit)
    if index is None:  # a unit outside every turn (e.g. a coded table without turns): the unit alone
        text = unit.text_in(transcript)
        return UnitContext(unit.speaker, text, 0, len(text))
    turn = transcript.turns[index]
    # a unit that runs past its turn's end (spans imported from elsewhere) still shows whole
    start, end = min(turn.start, unit.start), max(turn.end, unit.end)
    around = around if around is not None else context_turns(transcript)
    return UnitContext(
        turn.speaker or unit.speaker, transcript.text[start:end], unit.start - start, unit.end - start,
        tuple(around[max(0, index - turns):index]), tuple(around[index + 1:index + 1 + turns]),
    )


def _turn_of(transcript: Transcript, unit: MeaningUnit) -> int | None:
    if unit.turn_index is not None and 0 <= unit.turn_index < len(transcript.turns):
        turn = transcript.turns[unit.turn_index]
        if turn.start <= unit.start < turn.end:
            return unit.turn_index
    for index, turn in enumerate(transcript.turns):
        if turn.start <= unit.start < turn.end:
            return index
    return None
