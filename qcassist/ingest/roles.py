"""Who is the interviewer? Roles from ``--interviewer`` names or a documented heuristic.

Heuristic, used when no ``--interviewer`` name is given:
1. labels such as ``Interviewer``, ``I``, ``Q``, ``Int``, ``Moderator``, ``Facilitator``,
   ``Researcher``, ``Intervjuer`` (optionally numbered) are interviewers, and so is
   whoever chairs a meeting: a label whose name part (outside parentheses) contains
   Chair, Chairman, Chairwoman, Chairperson, Moderator, Facilitator or Host
   (``The Chair``, ``The Acting Chair (Mr. Bruce Stanton)``);
2. labels such as ``Note``, ``Comment``, ``Transcriber`` are ``other`` (kept as context);
3. if no label is recognised as an interviewer:
   - with two speakers, the one who asks most (share of turns containing ``?``, at
     least 30% and 15 points ahead of the other) is the interviewer;
   - with five or more (a committee meeting), a speaker who mostly hands the floor
     from one person to another ("Mr. Epp is next.", "Thank you. Ms. Shin?") is the
     interviewer: at least 5 turns and 10% of all turns, at least 75% of them between
     two different other speakers, and a median turn at most half as long as the
     others'. (In four-person design meetings everyone hands over like that.)
   - with three or more, asking most is not used: in committee meetings every
     member asks, and it made one member the interviewer in one meeting and a
     participant in the next;
4. everyone else is a participant.

A speaker is one person under every label variant: ``Mr. Dave Epp (Chatham-Kent, CPC)``
and ``Mr. Dave Epp`` share a ``person_key``, so ``--interviewer`` names and roles set
with ``qcassist speakers set`` apply to both. Across the transcripts of one import and
the project, ``qcassist.speakers`` keeps a person's role the same where it can.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from ..model import Role, Transcript

_INTERVIEWER = re.compile(
    r"^(interviewer|interviewerin|interviewee?r|int|i|q|mod|moderator|facilitator|researcher|host|intervjuer|intervjuar|haastattelija|entrevistador|enqu[eê]teur)\s*\d*$",
    re.IGNORECASE,
)
_OTHER = re.compile(r"^(note|notes|comment|transcriber|transcriber's note|translator|observer)$", re.IGNORECASE)
_CHAIR = re.compile(r"\b(chair|chairman|chairwoman|chairperson|moderator|facilitator|host)\b", re.IGNORECASE)
_TRAILING_PARENTHESES = re.compile(r"\s*\((?:[^()]|\([^()]*\))*\)\s*$")
MIN_QUESTION_SHARE = 0.30
MIN_QUESTION_LEAD = 0.15
TURN_GIVER_MIN_SPEAKERS = 5
TURN_GIVER_MIN_TURNS = 5
TURN_GIVER_MIN_SHARE = 0.10
TURN_GIVER_MIN_HANDOVERS = 0.75
TURN_GIVER_MAX_WORDS_RATIO = 0.5


def person_key(label: str) -> str:
    """One key for every label variant of a person: trailing parentheses dropped, spaces collapsed, casefolded."""
    name = label.strip()
    while True:
        shorter = _TRAILING_PARENTHESES.sub("", name)
        if shorter == name or not shorter:
            break
        name = shorter
    return " ".join(name.split()).casefold()


def is_chair(label: str) -> bool:
    """Whether a label names whoever chairs or moderates (by its name part, outside parentheses)."""
    head = label.split("(", 1)[0]
    return bool(_CHAIR.search(head))


def assign_roles(
    turns: Sequence[tuple[str, str]],
    interviewers: Iterable[str] = (),
) -> dict[str, Role]:
    """Map each speaker to a role. ``turns`` are (speaker, turn text) pairs in order."""
    speakers = list(dict.fromkeys(speaker for speaker, _ in turns))
    named = {person_key(name) for name in interviewers if name.strip()}
    if named:
        return {
            s: "interviewer" if person_key(s) in named else "other" if _OTHER.match(s.strip()) else "participant"
            for s in speakers
        }
    return _heuristic_roles(turns, speakers)


def _heuristic_roles(turns: Sequence[tuple[str, str]], speakers: list[str]) -> dict[str, Role]:
    roles: dict[str, Role] = {}
    for speaker in speakers:
        if _INTERVIEWER.match(speaker.strip()) or is_chair(speaker):
            roles[speaker] = "interviewer"
        elif _OTHER.match(speaker.strip()):
            roles[speaker] = "other"
        else:
            roles[speaker] = "participant"
    undecided = [s for s in speakers if roles[s] == "participant"]
    if "interviewer" in roles.values():
        return roles
    if len(undecided) == 2:
        asker = _main_asker(turns, undecided)
        if asker is not None:
            roles[asker] = "interviewer"
    elif len(undecided) >= TURN_GIVER_MIN_SPEAKERS:
        for giver in _turn_givers(turns, undecided):
            roles[giver] = "interviewer"
    return roles


def _turn_givers(turns: Sequence[tuple[str, str]], speakers: list[str]) -> list[str]:
    """Speakers who mostly hand the floor from one person to another, in turns shorter than theirs."""
    givers = []
    for speaker in speakers:
        own = [i for i, (who, _) in enumerate(turns) if who == speaker]
        if len(own) < TURN_GIVER_MIN_TURNS or len(own) < TURN_GIVER_MIN_SHARE * len(turns):
            continue
        between = [i for i in own if 0 < i < len(turns) - 1]
        handovers = sum(1 for i in between if speaker != turns[i - 1][0] != turns[i + 1][0] != speaker)
        own_words = statistics.median(len(turns[i][1].split()) for i in own)
        other_words = statistics.median(len(text.split()) for who, text in turns if who != speaker)
        if between and handovers >= TURN_GIVER_MIN_HANDOVERS * len(between) and own_words <= TURN_GIVER_MAX_WORDS_RATIO * other_words:
            givers.append(speaker)
    return givers


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


_GENERIC_LABEL = re.compile(
    r"^(?:speaker|participant|respondent|interviewee|person|client|patient|user|member|voice|unknown|\w{1,3})"
    r"(?:\s*[-_#]?\s*(?:\d+|[a-z]))?$",
    re.IGNORECASE,
)


def names_a_person(label: str) -> bool:
    """Whether a label names someone who may appear in several transcripts (not 'Speaker 2', 'P1', 'Grad A')."""
    words = person_key(label).split()
    if not words or any(ch.isdigit() for ch in label):
        return False
    return not _GENERIC_LABEL.match(" ".join(words)) and not (len(words) > 1 and len(words[-1]) == 1)


def with_roles(transcript: Transcript, roles: Mapping[str, str]) -> Transcript:
    """The transcript with the roles of the people in ``roles`` (person key → role) replaced."""
    turns = tuple(replace(t, role=roles.get(person_key(t.speaker), t.role)) for t in transcript.turns)
    return replace(transcript, turns=turns)


def interviewers_of(transcript: Transcript) -> list[str]:
    """Speaker labels treated as interviewers, in order of first turn."""
    return list(dict.fromkeys(t.speaker for t in transcript.turns if t.role == "interviewer"))


def consistent_roles(
    transcripts: Sequence[Transcript], elsewhere: Iterable[Transcript] = ()
) -> tuple[list[Transcript], list[str]]:
    """One role per person across transcripts whose roles came from the heuristic.

    A person taken for the interviewer (e.g. a committee chair) in one of them, or in a
    transcript ``elsewhere`` in the project, is the interviewer in the others too, unless
    that would leave a transcript without participant turns; where the heuristic made the
    other person the interviewer (not by a role label), that person becomes the participant. Only labels that name a
    person count: ``Speaker 2`` or ``B`` is someone else in every transcript. Returns the
    transcripts and a note per promotion.
    """
    asked = {person_key(s) for t in [*transcripts, *elsewhere] for s in interviewers_of(t) if names_a_person(s)}
    out: list[Transcript] = []
    promoted: dict[tuple[str, ...], list[str]] = {}  # the people promoted → the transcripts they were promoted in
    swapped: list[str] = []
    for transcript in transcripts:
        promote = {person_key(t.speaker): "interviewer" for t in transcript.turns
                   if t.role == "participant" and person_key(t.speaker) in asked}
        changed = with_roles(transcript, promote) if promote else transcript
        if promote and not changed.participant_turns:
            # the one who asked most here is the one who answers elsewhere (a client asking about patches in
            # AnnoMI's session 15): with the known interviewer promoted, the other person is the participant
            demote = {person_key(t.speaker): "participant" for t in transcript.turns if t.role == "interviewer"
                      and person_key(t.speaker) not in asked and not _INTERVIEWER.match(t.speaker.strip())
                      and not is_chair(t.speaker)}
            changed = with_roles(changed, demote)
            if demote and changed.participant_turns:
                swapped.append(f"{transcript.name}: {', '.join(interviewers_of(changed))} treated as interviewer, as in "
                               f"other transcripts of the project, and {', '.join(interviewers_of(transcript))} as "
                               "participant (qcassist speakers set NAME --role ROLE to change).")
                out.append(changed)
                continue
        if promote and changed.participant_turns:
            names = tuple(sorted({t.speaker for t in transcript.turns if person_key(t.speaker) in promote}))
            promoted.setdefault(names, []).append(transcript.name)
            out.append(changed)
        else:
            out.append(transcript)
    # one note per person, not per transcript: 24 QMSum meetings printed the same line for 12 of them
    notes = [f"{_some(where)}: {', '.join(names)} treated as interviewer, as in other transcripts of the project "
             "(qcassist speakers set NAME --role participant to change)." for names, where in promoted.items()]
    return out, notes + swapped


def _some(names: list[str], shown: int = 4) -> str:
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")
