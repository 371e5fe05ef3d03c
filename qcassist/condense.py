"""Systematic text condensation (Malterud): the condensation sheet and the analyst's condensates.

For every code group and subgroup the sheet gathers the meaning units people coded under
it (human and reviewed codings, never unreviewed suggestions), counts the participants
who contribute, proposes an illustrative quotation — the unit most central to the group
in embedding space — unless the analyst picked one, and leaves a marked place for the
condensate. qcassist never writes a condensate: that is the analyst's artificial
quotation. A single code can carry a condensate and a picked quotation too.

Who coded what: a unit counts for a code from the coders who gave it that code. Where an
adjudicator (``adjudicated``) is among the coders and has settled a unit — copied the
agreed codes or decided a disagreement — its codes are the unit's codes and the other
coders' codes on that unit are left out, so a disagreement appears once, as settled.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np

from .codebook import codebook_rows, did_you_mean
from .decisions import settled_units
from .errors import InputError, QcaError
from .ingest.decode import read_text
from .model import Codebook, Coding, Condensate, Transcript, Turn
from .project import project_encoder
from .ratings import derived_coders
from .store import Store
from .suggest import HUMAN_ORIGINS, project_encoder_spec

PLACEHOLDER = "(write your condensate here; qcassist condense --set {code} --text \"...\")"
QuotationKind = Literal["picked", "picked-uncoded", "proposed"]


@dataclass(frozen=True, slots=True)
class Passage:
    """A coded stretch of text on the sheet: a meaning unit, or the coder's own span of it."""

    unit_id: int
    transcript: str
    speaker: str | None
    participant: str  # who is counted: the transcript, or "transcript: speaker" where it has several participants
    start: int
    end: int  # exclusive
    text: str
    codes: tuple[str, ...]
    coders: tuple[str, ...]  # everyone whose codes on this passage are on the sheet
    code_coders: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (code, the coders who gave it), per code

    def coders_of(self, code: str) -> tuple[str, ...]:
        """The coders who coded this passage with ``code``."""
        return next((who for name, who in self.code_coders if name == code), ())


@dataclass(frozen=True, slots=True)
class CodeNote:
    """The analyst's condensate and picked quotation for one code inside a group."""

    code: str
    condensate: str
    quotation: Passage | None


@dataclass(frozen=True, slots=True)
class Section:
    """One code group or subgroup: its passages, participants, quotation and condensate."""

    code: str
    path: tuple[str, ...]
    level: str  # group, subgroup, or code (a top-level code of a codebook without groups)
    description: str
    codes: tuple[str, ...]  # the codes whose passages are listed here (its children without children)
    passages: tuple[Passage, ...]  # every passage coded anywhere under it
    participants: tuple[str, ...]
    quotation: Passage | None
    quotation_kind: QuotationKind | None
    condensate: str
    code_notes: tuple[CodeNote, ...] = ()  # condensates and quotations the analyst set on its codes

    def note_for(self, code: str) -> CodeNote | None:
        return next((n for n in self.code_notes if n.code == code), None)

    def listed(self, code: str) -> list[Passage]:
        """The passages carrying ``code``, in transcript order."""
        return [p for p in self.passages if code in p.codes]


@dataclass(frozen=True, slots=True)
class CondensationSheet:
    """The whole sheet: a section per group and subgroup, and how it was made."""

    sections: tuple[Section, ...]
    participants: int  # N: everyone interviewed in the project
    by_speaker: tuple[str, ...]  # transcripts with several participants, counted by speaker
    coders: tuple[str, ...]  # coders whose codings are on the sheet
    encoder: str | None  # the encoder that proposed quotations; None when none was needed
    settled: tuple[tuple[str, int], ...] = ()  # (adjudicator, units whose codes it settled) on this sheet

    def as_dict(self) -> dict:
        return asdict(self)


# --- building the sheet ------------------------------------------------------------


def condense(store: Store, *, encoder: str | None = None, coders: Sequence[str] = ()) -> CondensationSheet:
    """The condensation sheet of every code group and subgroup, from human and reviewed codings."""
    book = store.codebook()
    if not book.codes:
        raise QcaError("the project has no codebook; run 'qcassist codebook import FILE' first.")
    known = sorted({c["coder"] for c in store.coders()})
    for coder in coders:
        if coder not in known:
            listed = ", ".join(known) or "none"
            raise QcaError(f"no codings by coder {coder!r} (coders: {listed}).{did_you_mean(coder, known)}")
    names = {transcript_id: name for name, transcript_id in store.transcript_ids().items()}  # in id order
    # every participant counts, read from the turns' speakers and roles, never the transcripts' texts
    summaries = {t.id: t.turns for t in store.speaker_summaries()}  # one turn per (speaker, role), first turn first
    participant_of, total, by_speaker = _count_participants(store, names, summaries)
    codings = [c for c in store.codings(coders=coders or None) if c.origin in HUMAN_ORIGINS]
    settled = _settled_by_adjudicators(store, codings)
    passages = _passages(store, names, participant_of, codings, settled)
    saved = store.condensates()
    drafts = [_draft(book, row, passages) for row in _section_rows(book)]
    unpicked = [d for d in drafts if d.code not in saved or saved[d.code].quote_unit is None]
    proposals, encoder_id = _proposals(store, encoder, unpicked)
    sections = tuple(
        replace(_finish(store, d, saved.get(d.code), proposals.get(d.code), participant_of),
                code_notes=_code_notes(store, d, saved, participant_of))
        for d in drafts
    )
    used = sorted({coder for p in passages for coder in p.coders})
    counts = Counter(settled.values())
    return CondensationSheet(sections, total, by_speaker, tuple(used), encoder_id, tuple(sorted(counts.items())))


def _section_rows(book: Codebook) -> list[dict]:
    """Codebook rows that get a section: groups and subgroups, and top-level codes of a flat codebook."""
    return [row for row in codebook_rows(book) if row["level"] != "code" or not row["parent"]]


def _participants(store: Store, transcripts: Sequence[Transcript]) -> tuple[dict[tuple[int, str | None], str], int, tuple[str, ...]]:
    """Who counts as a participant: the transcript, or each speaker in a transcript with several participants."""
    return _count_participants(store, {t.id: t.name for t in transcripts}, {t.id: t.turns for t in transcripts})


def _count_participants(store: Store, names: dict[int, str], turns: dict[int, Sequence[Turn]]
                        ) -> tuple[dict[tuple[int, str | None], str], int, tuple[str, ...]]:
    """``_participants`` of the transcripts in ``names`` (id → name, in id order) from their ``turns`` (the
    speakers and roles are what counts: ``store.speaker_summaries()`` gives them without the texts) and the
    speakers of their units."""
    speakers: dict[int, list[str]] = {}
    for transcript_id in names:
        found = [turn.speaker for turn in turns.get(transcript_id, ()) if turn.role == "participant"]
        found += [u.speaker for u in store.units(transcript_id) if u.speaker]
        speakers[transcript_id] = list(dict.fromkeys(found))
    participant_of: dict[tuple[int, str | None], str] = {}
    for transcript_id, name in names.items():
        several = len(speakers[transcript_id]) > 1
        participant_of[(transcript_id, None)] = name
        for speaker in speakers[transcript_id]:
            participant_of[(transcript_id, speaker)] = f"{name}: {speaker}" if several else name
    total = sum(max(1, len(speakers[transcript_id])) for transcript_id in names)
    return participant_of, total, tuple(name for transcript_id, name in names.items() if len(speakers[transcript_id]) > 1)


def _passages(store: Store, names: dict[int, str], participant_of: dict, codings: Sequence[Coding],
              settled: dict[int, str]) -> list[Passage]:
    """One passage per coded (unit, span), with each code and the coders who gave it, in transcript order.

    Only the coded units are read, and the texts of their transcripts one transcript at a time.
    """
    units = store.units_by_id({c.unit_id for c in codings})
    gathered: dict[tuple[int, int, int], dict[str, dict[str, None]]] = {}
    for coding in codings:
        adjudicator = settled.get(coding.unit_id)
        if adjudicator is not None and coding.coder != adjudicator:
            continue  # the adjudicator's settlement stands for this unit
        unit = units[coding.unit_id]
        start, end = (coding.start, coding.end) if coding.start is not None else (unit.start, unit.end)
        gathered.setdefault((unit.id, start, end), {}).setdefault(coding.code, {})[coding.coder] = None
    texts = _passage_texts(store, units, gathered)
    passages = []
    for (unit_id, start, end), by_code in gathered.items():
        unit = units[unit_id]
        name = names[unit.transcript_id]
        who = tuple(dict.fromkeys(coder for coders_ in by_code.values() for coder in coders_))
        passages.append(Passage(
            unit_id, name, unit.speaker, participant_of.get((unit.transcript_id, unit.speaker), name),
            start, end, texts[(unit_id, start, end)], tuple(by_code), who,
            tuple((code, tuple(coders_)) for code, coders_ in by_code.items()),
        ))
    order = {transcript_id: i for i, transcript_id in enumerate(names)}
    return sorted(passages, key=lambda p: (order[units[p.unit_id].transcript_id], p.start, p.end))


def _passage_texts(store: Store, units: dict, spans) -> dict[tuple[int, int, int], str]:
    """The text of every (unit id, start, end), reading each transcript that holds one once."""
    by_transcript: dict[int, list[tuple[int, int, int]]] = {}
    for span in spans:
        by_transcript.setdefault(units[span[0]].transcript_id, []).append(span)
    texts = {}
    for transcript_id, held in by_transcript.items():
        text = store.transcript(transcript_id).text
        texts.update((span, text[span[1]:span[2]]) for span in held)
    return texts


def _settled_by_adjudicators(store: Store, codings: Sequence[Coding]) -> dict[int, str]:
    """Unit → the adjudicator among the coders of ``codings`` who settled it (with codes, or on no code)."""
    settled: dict[int, str] = {}
    for adjudicator in sorted(derived_coders(store) & {c.coder for c in codings}):
        units = {c.unit_id for c in codings if c.coder == adjudicator}
        for unit_id in units | settled_units(store, adjudicator):
            settled.setdefault(unit_id, adjudicator)
    return settled


def _under(book: Codebook, code: str) -> set[str]:
    """The code and everything below it."""
    found = {code}
    for child in book.children(code):
        found |= _under(book, child.name)
    return found


def _draft(book: Codebook, row: dict, passages: list[Passage]) -> Section:
    code = row["code"]
    under = _under(book, code)
    mine = tuple(p for p in passages if under.intersection(p.codes))
    listed = [c.name for c in book.children(code) if not book.children(c.name)]
    if not book.children(code) or any(code in p.codes for p in mine):
        listed.insert(0, code)  # a top-level code without children, or codings made on the group itself
    return Section(code, book.path(code), row["level"], row["description"], tuple(listed), mine,
                   tuple(dict.fromkeys(p.participant for p in mine)), None, None, "")


def most_central(vectors: np.ndarray) -> int:
    """Index of the row with the highest mean cosine similarity to the other rows (the first on ties)."""
    n = len(vectors)
    if n <= 2:
        return 0  # one passage, or two equally central ones
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    normed = vectors / np.where(norms == 0, 1, norms)
    similarity = normed @ normed.T
    mean = (similarity.sum(axis=1) - np.diag(similarity)) / (n - 1)
    return int(np.argmax(mean))


def _proposals(store: Store, encoder: str | None, sections: list[Section]) -> tuple[dict[str, Passage], str | None]:
    """The most central passage of each section without the analyst's pick; the encoder loads only if needed."""
    proposals = {s.code: s.passages[0] for s in sections if 0 < len(s.passages) <= 2}
    crowded = [s for s in sections if len(s.passages) > 2]
    if not crowded:
        return proposals, None
    encoder_obj = project_encoder(store, project_encoder_spec(store, encoder))
    texts = list(dict.fromkeys(p.text for s in crowded for p in s.passages))
    vectors = dict(zip(texts, encoder_obj.encode(texts)))
    for section in crowded:
        chosen = most_central(np.stack([vectors[p.text] for p in section.passages]))
        proposals[section.code] = section.passages[chosen]
    return proposals, encoder_obj.id


def _finish(store: Store, draft: Section, saved: Condensate | None, proposal: Passage | None, participant_of: dict) -> Section:
    """The draft with its quotation (the analyst's pick, else the proposal) and condensate."""
    if saved is None or saved.quote_unit is None:
        return replace(draft, quotation=proposal, quotation_kind="proposed" if proposal else None,
                       condensate=saved.text if saved else "")
    picked = next((p for p in draft.passages if p.unit_id == saved.quote_unit), None)
    if picked is None:  # the pick stays, though no codings on this sheet put it under the group (any more)
        return replace(draft, quotation=_unit_passage(store, saved.quote_unit, participant_of),
                       quotation_kind="picked-uncoded", condensate=saved.text)
    return replace(draft, quotation=picked, quotation_kind="picked", condensate=saved.text)


def _code_notes(store: Store, section: Section, saved: dict[str, Condensate], participant_of: dict) -> tuple[CodeNote, ...]:
    """The condensates and picked quotations of the codes listed in a section (not the section's own code)."""
    notes = []
    for code in section.codes:
        if code == section.code or code not in saved:
            continue
        quote_unit = saved[code].quote_unit
        quotation = None
        if quote_unit is not None:
            quotation = next((p for p in section.listed(code) if p.unit_id == quote_unit), None) \
                or _unit_passage(store, quote_unit, participant_of)
        notes.append(CodeNote(code, saved[code].text, quotation))
    return tuple(notes)


def _unit_passage(store: Store, unit_id: int, participant_of: dict) -> Passage:
    unit = store.units_by_id([unit_id])[unit_id]
    transcript = store.transcript(unit.transcript_id)
    participant = participant_of.get((transcript.id, unit.speaker), transcript.name)
    return Passage(unit.id, transcript.name, unit.speaker, participant, unit.start, unit.end, unit.text_in(transcript), (), ())


# --- the analyst's condensates -----------------------------------------------------


def set_condensate(store: Store, code: str, *, text: str | None = None, quote_unit: int | None = None,
                   clear_quote: bool = False) -> Condensate:
    """Save the analyst's condensate text and/or illustrative quotation for a code group, subgroup or code."""
    book = store.codebook()
    if book.get(code) is None:
        names = [c.name for c in book.codes]
        raise QcaError(f"no code or code group named {code!r} in the codebook.{did_you_mean(code, names)}")
    if text is None and quote_unit is None and not clear_quote:
        raise QcaError("nothing to set: give --text, --from-file, --quote UNIT_ID or --clear-quote.")
    if quote_unit is not None and clear_quote:
        raise QcaError("--quote and --clear-quote contradict each other; give one.")
    if quote_unit is not None:
        _check_quote(store, book, code, quote_unit)
    existing = store.condensates().get(code, Condensate(code))
    new_text = existing.text if text is None else text.replace("\r\n", "\n").strip()
    new_quote = None if clear_quote else (existing.quote_unit if quote_unit is None else quote_unit)
    return store.save_condensate(Condensate(code, new_text, new_quote))


def _check_quote(store: Store, book: Codebook, code: str, unit_id: int) -> None:
    if store.missing_unit_ids([unit_id]):
        raise QcaError(f"no unit {unit_id} in the project; the sheet lists each passage with its unit id.")
    under = _under(book, code)
    codes = sorted({c.code for c in store.codings() if c.unit_id == unit_id and c.origin in HUMAN_ORIGINS})
    if not under.intersection(codes):
        has = f"its codes: {', '.join(codes)}" if codes else "it has no codings"
        raise QcaError(f"unit {unit_id} is not coded {'under' if book.children(code) else 'with'} {code!r} ({has}); "
                       f"pick a unit the sheet lists under {code!r}.")


def read_condensate_file(path: str | Path) -> str:
    """A condensate written in a text file (any of the encodings transcripts come in)."""
    text = read_text(path).text.strip()
    if not text:
        raise InputError(str(path), "is empty; write the condensate in it, or use --text.")
    return text


# --- Markdown ----------------------------------------------------------------------

_LEVELS = {"group": "Code group", "subgroup": "Subgroup", "code": "Code"}


def sheet_markdown(sheet: CondensationSheet) -> str:
    """The sheet as Markdown, one heading per group and subgroup in codebook order."""
    lines = ["# Condensation sheet", "", *_preamble(sheet)]
    for section in sheet.sections:
        lines += ["", f"{'#' * min(6, len(section.path) + 1)} {section.code}", ""]
        lines.append(f"*{_LEVELS[section.level]}.*" + (f" {section.description}" if section.description else ""))
        lines += ["", _counts(sheet, section)]
        for (heading, listed), code in zip(_listings(section), section.codes):
            if heading:
                lines += ["", f"**{heading}** ({len(listed)})"]
            lines += [""] + ([f"- {_source(p, code)}: {_one_line(p.text)}" for p in listed] or ["- (none coded yet)"])
            note = section.note_for(code)
            if note is not None and note.condensate:
                lines += ["", f"*Condensate of {code}:*", "", *_quoted(note.condensate)]
            if note is not None and note.quotation is not None:
                lines += ["", f"*Quotation for {code} (picked by the analyst):*", "", *_quoted(note.quotation.text), ">",
                          f"> — {_source(note.quotation)}"]
        lines += ["", "**Condensate:**", ""]
        lines += _quoted(section.condensate) if section.condensate else [f"> *{_placeholder(section.code)}*"]
        lines += ["", f"**Illustrative quotation** ({_quotation_note(section)}):"]
        if section.quotation is not None:
            lines += ["", *_quoted(section.quotation.text), ">", f"> — {_source(section.quotation)}"]
    return "\n".join(lines) + "\n"


def _preamble(sheet: CondensationSheet) -> list[str]:
    counted = "one per transcript"
    if sheet.by_speaker:
        counted += f"; by speaker in {', '.join(sheet.by_speaker)}, which have several participants"
    proposer = f"encoder {sheet.encoder}" if sheet.encoder else "the project's encoder"
    return [
        ("Meaning units sorted into code groups and subgroups (systematic text condensation). For each, "
         "write a condensate — an artificial quotation in the participants' words, in the first person — "
         "and check the illustrative quotation. qcassist never writes condensates."),
        "",
        f"- Codings: human and reviewed codings by {', '.join(sheet.coders) or 'nobody yet'}.",
        *(f"- Adjudication: {adjudicator} settled {n} units; there its codes stand instead of the coders'."
          for adjudicator, n in sheet.settled),
        f"- Participants: {sheet.participants} ({counted}).",
        (f"- Proposed quotations: the unit most similar on average to its group's other units ({proposer}); "
         "pick another with `qcassist condense --set CODE --quote UNIT_ID`."),
    ]


def _counts(sheet: CondensationSheet, section: Section) -> str:
    return (f"**Participants:** {len(section.participants)} of {sheet.participants} · "
            f"**meaning units:** {len(section.passages)}")


def _listings(section: Section) -> list[tuple[str, list[Passage]]]:
    """(heading, passages) per listed code; no heading when the section lists only its own code."""
    if section.codes == (section.code,):
        return [("", section.listed(section.code))]
    return [(f"{code} (coded on the {_LEVELS[section.level].lower()} itself)" if code == section.code else code,
             section.listed(code)) for code in section.codes]


def _source(p: Passage, code: str | None = None) -> str:
    """Where the passage is from, and who coded it (with ``code``, when given)."""
    who = p.coders_of(code) if code is not None else p.coders
    coders = f" (coded by {', '.join(who)})" if who else ""
    return f"{p.transcript}, {p.speaker or 'unknown speaker'}, unit {p.unit_id} [{p.start}:{p.end}]{coders}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _quoted(text: str) -> list[str]:
    return [f"> {line}" if line else ">" for line in text.split("\n")]


def _placeholder(code: str) -> str:
    return PLACEHOLDER.format(code=f'"{code}"' if " " in code else code)


def _quotation_note(section: Section) -> str:
    return {
        "picked": "picked by the analyst",
        "picked-uncoded": "picked by the analyst; not coded under this group in the codings on this sheet",
        "proposed": f"proposed: the most central of {len(section.passages)} units",
        None: "none: no meaning units coded under it yet",
    }[section.quotation_kind]


# --- Word --------------------------------------------------------------------------


def write_docx(sheet: CondensationSheet, path: str | Path) -> None:
    """The sheet as a Word document, with the same content as the Markdown."""
    import docx  # python-docx; imported here so the Markdown sheet does not pay for it

    document = docx.Document()
    document.add_heading("Condensation sheet", level=0)
    for line in _preamble(sheet):
        if line:
            style = "List Bullet" if line.startswith("- ") else None
            document.add_paragraph(line.removeprefix("- ").replace("`", ""), style=style)
    for section in sheet.sections:
        document.add_heading(section.code, level=min(9, len(section.path)))
        intro = document.add_paragraph()
        intro.add_run(f"{_LEVELS[section.level]}. ").italic = True
        intro.add_run(section.description)
        document.add_paragraph(_counts(sheet, section).replace("**", ""))
        for (heading, listed), code in zip(_listings(section), section.codes):
            if heading:
                document.add_paragraph().add_run(f"{heading} ({len(listed)})").bold = True
            for p in listed:
                item = document.add_paragraph(style="List Bullet")
                item.add_run(f"{_source(p, code)}: ").italic = True
                item.add_run(_one_line(p.text))
            note = section.note_for(code)
            if note is not None and note.condensate:
                document.add_paragraph().add_run(f"Condensate of {code}:").italic = True
                document.add_paragraph(note.condensate, style="Quote")
            if note is not None and note.quotation is not None:
                document.add_paragraph().add_run(f"Quotation for {code} (picked by the analyst):").italic = True
                document.add_paragraph(note.quotation.text, style="Quote")
                document.add_paragraph(f"— {_source(note.quotation)}")
        document.add_paragraph().add_run("Condensate:").bold = True
        if section.condensate:
            document.add_paragraph(section.condensate, style="Quote")
        else:
            document.add_paragraph(style="Quote").add_run(_placeholder(section.code)).italic = True
        document.add_paragraph().add_run(f"Illustrative quotation ({_quotation_note(section)}):").bold = True
        if section.quotation is not None:
            document.add_paragraph(section.quotation.text, style="Quote")
            document.add_paragraph(f"— {_source(section.quotation)}")
    document.save(str(path))
