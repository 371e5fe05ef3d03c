"""Rows for the exports that had no row builder yet: codings; and filters over the existing ones.

Units, suggestions, decisions and the codebook keep their builders where they live
(``project.unit_rows``, ``suggest.suggestion_rows``, ``decisions.decision_rows``,
``codebook.codebook_rows``); this module adds the codings export and the ``--coders`` /
``--transcripts`` checks the export commands share.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .codebook import did_you_mean
from .decisions import decision_rows
from .errors import QcaError
from .store import Store

CODING_FIELDS = ("coding_id", "unit_id", "external_id", "transcript", "speaker", "start", "end", "text", "code",
                 "code_path", "coder", "origin", "created_at", "decision_id")


def check_names(kind: str, requested: Iterable[str], known: Iterable[str]) -> None:
    """QcaError naming the first of ``requested`` that is not ``known``, with the closest match."""
    known = sorted(set(known))
    for name in requested:
        if name not in known:
            listed = ", ".join(known) or "none"
            raise QcaError(f"no {kind} {name!r} in the project ({kind}s: {listed}).{did_you_mean(name, known)}")


def coding_rows(store: Store, *, coders: Sequence[str] = (), transcripts: Sequence[str] = ()) -> list[dict]:
    """Every coding in transcript order: its span (the coder's own, else the unit's) and text, code path, coder, origin."""
    check_names("coder", coders, (c["coder"] for c in store.coders()))
    ids = store.transcript_ids()
    check_names("transcript", transcripts, list(ids))
    # one transcript at a time, in id order: the rows hold the coded spans' texts, never the whole corpus
    chosen = ((store.transcript(ids[name]) for name in sorted(set(transcripts), key=ids.get)) if transcripts
              else store.iter_transcripts())
    book = store.codebook()
    decisions = store.coding_decisions()
    rows = []
    for transcript in chosen:
        units = {u.id: u for u in store.units(transcript.id)}
        codings = store.codings(transcript.id, coders=coders or None)
        for coding in sorted(codings, key=lambda c: (_span(c, units)[0], units[c.unit_id].start, c.id)):
            unit = units[coding.unit_id]
            start, end = _span(coding, units)
            rows.append({
                "coding_id": coding.id, "unit_id": unit.id, "external_id": unit.external_id,
                "transcript": transcript.name, "speaker": unit.speaker, "start": start, "end": end,
                "text": transcript.text[start:end], "code": coding.code,
                "code_path": " > ".join(book.path(coding.code)), "coder": coding.coder, "origin": coding.origin,
                "created_at": coding.created_at, "decision_id": decisions.get(coding.id),
            })
    return rows


def _span(coding, units) -> tuple[int, int]:
    if coding.start is not None:
        return coding.start, coding.end
    unit = units[coding.unit_id]
    return unit.start, unit.end


def filtered_decision_rows(store: Store, *, coders: Sequence[str] = (), transcripts: Sequence[str] = ()) -> list[dict]:
    """``decisions.decision_rows``, only those of some coders and transcripts."""
    rows = decision_rows(store)
    check_names("coder", coders, (r["coder"] for r in rows))
    check_names("transcript", transcripts, store.transcript_names())
    return [r for r in rows if (not coders or r["coder"] in coders) and (not transcripts or r["transcript"] in transcripts)]
