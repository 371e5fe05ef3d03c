"""Speaker labels as real transcripts write them, found without regex backtracking.

A label is what comes before the first ``:`` at a line start (outside parentheses, so
``The Acting Chair (Mr. Bruce Stanton (Simcoe North, CPC)):`` is one label), or a
``[Name]`` in brackets. Whether a candidate looks like a *name* is decided here; whether
it starts a turn is a document-level decision made by the text reader.

Every scan is a single pass over at most ``MAX_LABEL_CHARS`` characters, so hostile
lines (long runs of spaces, thousands of parentheses) cost linear time.
"""

from __future__ import annotations

import re

from .roles import _INTERVIEWER, _OTHER

MAX_LABEL_CHARS = 120
MAX_NAME_WORDS = 10  # outside parentheses: "Hon. Pierre Poilievre" is 3, "Senator Mary Jane van der Berg" 6
MAX_PLAIN_WORDS = 4  # a label that is not name-like ("anna", "jsmith") counts only if short and repeated
_LABEL_PUNCTUATION = set(".'’-&/_")
_QUOTES = "'’\"“‘"
# titles and post-nominals: a label that carries one is a person's name even if said once
TITLES = {"hon", "hon.", "dr", "dr.", "mr", "mr.", "ms", "ms.", "mrs", "mrs.", "miss", "prof", "prof.",
          "sen.", "senator", "rev", "rev.", "sir", "dame", "lord", "lady", "madam", "the", "cllr", "councillor"}
POST_NOMINALS = {"am", "mp", "ms", "msp", "mla", "mep", "qc", "kc", "mpp", "mna", "td", "ma", "phd", "md"}
# lowercase words inside names ("Minister of Finance" is in parentheses, but "Ursula von der Leyen" is not)
PARTICLES = {"of", "the", "and", "for", "de", "del", "della", "di", "da", "do", "dos", "das", "du", "van", "von",
             "der", "den", "ten", "ter", "la", "le", "les", "los", "las", "y", "e", "bin", "ibn", "al", "el", "st", "st."}
# stage directions, notes and header fields ("Date: 12 May"), never speakers
NOT_SPEAKERS = re.compile(
    r"(inaudible|unclear|unintelligible|indistinct|laughs?|laughter|pause|crosstalk|silence|music|overlapping|"
    r"sighs?|coughs?|applause|cheers|cheering|interruption|noise|background noise|sic|break|end|"
    r"end of interview|note|nb|ps|e\.g|i\.e|example|examples|for example|http|https|re|subject|date|time|"
    r"location|place|duration|tel|email|fax|www|title|file|audio|recording|recorded|language|speakers|"
    r"participants|transcript|project|source|keywords|summary|agenda|attendees|present|apologies|minutes)",
    re.IGNORECASE,
)
_PARTICIPANT_WORD = re.compile(
    r"(p|participant|respondent|r|a|interviewee|informant|ip|deltaker|patient|client|pt)\s*\d*", re.IGNORECASE
)


def colon_label_at(line: str, pos: int) -> tuple[str, int] | None:
    """(label, index after the colon) for ``Label:`` at ``pos``, the colon outside parentheses."""
    if pos >= len(line) or not line[pos].isalpha():
        return None
    depth = 0
    limit = min(len(line), pos + MAX_LABEL_CHARS + 1)
    for i in range(pos, limit):
        ch = line[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                return None
        elif ch == ":" and depth == 0:
            if i + 1 < len(line) and not line[i + 1].isspace():
                return None  # "10:30", "http://": a colon inside a word is not a label's end
            label = line[pos:i].rstrip()
            return (label, i + 1) if label else None
        elif not (ch.isalnum() or ch.isspace() or ch in _LABEL_PUNCTUATION or (depth and ch in ",;")):
            return None
    return None


def bracket_label_at(line: str, pos: int) -> tuple[str, int] | None:
    """(label, index after it and an optional colon) for ``[Name]`` or ``[Name]:`` at ``pos``."""
    if not line.startswith("[", pos):
        return None
    close = line.find("]", pos + 1, pos + MAX_LABEL_CHARS + 2)
    if close < 0 or "\n" in line[pos:close]:
        return None
    label = line[pos + 1 : close].strip()
    if not label:
        return None
    end = close + 1
    rest = len(line) - len(line[end:].lstrip(" \t"))
    if line.startswith(":", rest):
        end = rest + 1
    return label, end


def outside_parentheses(label: str) -> str:
    """The label without its parenthesised parts: 'The Chair (Hon. A (B, Lib.))' → 'The Chair'."""
    kept, depth = [], 0
    for ch in label:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif depth == 0:
            kept.append(ch)
    return " ".join("".join(kept).split())


def is_role_label(label: str) -> bool:
    """Interviewer, participant and note words (``Interviewer``, ``P1``, ``Transcriber``)."""
    label = label.strip()
    return bool(_INTERVIEWER.fullmatch(label) or _PARTICIPANT_WORD.fullmatch(label) or _OTHER.fullmatch(label))


def looks_like_a_name(label: str) -> bool:
    """Capitalised words (with name particles, titles, numbers), not a sentence or a heading word."""
    if _is_heading_word(label):
        return False
    if is_role_label(label):
        return True
    words = outside_parentheses(label).split()
    if not words or len(words) > MAX_NAME_WORDS:
        return False
    if words[0].casefold() in PARTICLES and words[0].casefold() != "the":
        return False
    return all(_is_name_word(word) for word in words)


def _is_name_word(word: str) -> bool:
    if word[0] in _QUOTES:
        return False  # "The 'Healthy Weight: Healthy Wales' plan": a quotation, not a name
    if word.casefold() in PARTICLES or word.casefold() in TITLES:
        return True
    # "d'Entremont", "al-Hassan": the part after the apostrophe or hyphen carries the capital
    letters = re.split(r"['’-]", word.strip(".&/"))[-1]
    if not letters:
        return True
    first = letters[0]
    return first.isupper() or first.isdigit() or not first.islower()  # uncased scripts have no capitals


def is_strong_label(label: str) -> bool:
    """A name that is a speaker even if it occurs once: a title, a parenthesis, two or more words, a role."""
    if is_role_label(label):
        return True
    words = outside_parentheses(label).split()
    if "(" in label or len(words) >= 2:
        return True
    return bool(words) and (words[0].casefold() in TITLES or words[-1].casefold() in POST_NOMINALS)


def is_plain_label(label: str) -> bool:
    """Short enough to be a label however it is written (lowercase names, user ids); not a heading word."""
    return len(outside_parentheses(label).split()) <= MAX_PLAIN_WORDS and not _is_heading_word(label)


def _is_heading_word(label: str) -> bool:
    """A stage direction, note or header field ("Laughter.", "Date"), whatever its end punctuation."""
    return bool(NOT_SPEAKERS.fullmatch(label.strip().rstrip(".!?")))
