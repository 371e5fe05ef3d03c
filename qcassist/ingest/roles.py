"""Who is the interviewer? Roles from ``--interviewer`` names or a documented heuristic.

Heuristic, used when no ``--interviewer`` name is given:
1. labels such as ``Interviewer``, ``I``, ``Q``, ``Int``, ``Moderator``, ``Facilitator``,
   ``Researcher``, ``Intervjuer`` (optionally numbered) are interviewers;
2. labels such as ``Note``, ``Comment``, ``Transcriber`` are ``other`` (kept as context);
3. if no label is recognised as an interviewer and there are two or more speakers, the
   speaker who asks most (share of turns containing ``?``, at least 30% and 15 points
   ahead of everyone else) is the interviewer;
4. everyone else is a participant.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from ..model import Role

_INTERVIEWER = re.compile(
    r"^(interviewer|interviewerin|interviewee?r|int|i|q|mod|moderator|facilitator|researcher|host|intervjuer|intervjuar|haastattelija|entrevistador|enqu[eê]teur)\s*\d*$",
    re.IGNORECASE,
)
_OTHER = re.compile(r"^(note|notes|comment|transcriber|transcriber's note|translator|observer)$", re.IGNORECASE)
MIN_QUESTION_SHARE = 0.30
MIN_QUESTION_LEAD = 0.15


def assign_roles(
    turns: Sequence[tuple[str, str]],
    interviewers: Iterable[str] = (),
) -> dict[str, Role]:
    """Map each speaker to a role. ``turns`` are (speaker, turn text) pairs in order."""
    speakers = list(dict.fromkeys(speaker for speaker, _ in turns))
    named = {name.strip().casefold() for name in interviewers if name.strip()}
    if named:
        return {
            s: "interviewer" if s.strip().casefold() in named else "other" if _OTHER.match(s.strip()) else "participant"
            for s in speakers
        }
    roles: dict[str, Role] = {}
    for speaker in speakers:
        if _INTERVIEWER.match(speaker.strip()):
            roles[speaker] = "interviewer"
        elif _OTHER.match(speaker.strip()):
            roles[speaker] = "other"
        else:
            roles[speaker] = "participant"
    undecided = [s for s in speakers if roles[s] == "participant"]
    if "interviewer" not in roles.values() and len(undecided) >= 2:
        asker = _main_asker(turns, undecided)
        if asker is not None:
            roles[asker] = "interviewer"
    return roles


def _main_asker(turns: Sequence[tuple[str, str]], speakers: list[str]) -> str | None:
    shares = {}
    for speaker in speakers:
        texts = [text for s, text in turns if s == speaker]
        shares[speaker] = sum("?" in t for t in texts) / len(texts)
    ranked = sorted(shares.items(), key=lambda kv: kv[1], reverse=True)
    (top, top_share), (_, second_share) = ranked[0], ranked[1]
    if top_share >= MIN_QUESTION_SHARE and top_share - second_share >= MIN_QUESTION_LEAD:
        return top
    return None
