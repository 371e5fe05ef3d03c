"""Writing REFI-QDA: a project as .qdpx (project.qde + sources/), the codebook alone as .qdc.

Everything is deterministic (GUIDs from ``refi_guid``, sorted output, fixed zip
timestamps), so exporting an unchanged project twice gives identical files.
"""

from __future__ import annotations

import hashlib
import uuid
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from lxml import etree

from . import __version__
from .errors import ConflictError, QcaError
from .model import Codebook, Coding, Condensate, Decision, MeaningUnit, Suggestion, Transcript
from .decisions import standing
from .safe_output import check_output_path, write_output
from .store import Store

PROJECT_NS = "urn:QDA-XML:project:1.0"
CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
MODEL_USER_PREFIX = "qcassist model "  # + model version: the User that machine suggestions are attributed to
# A fixed namespace, so the same transcript, code or coder gets the same GUID in every
# export (re-exports are identical and other tools recognise what they saw before).
_GUID_NAMESPACE = uuid.UUID("6f1c3c52-0e57-4c1b-9a55-6a2f1e6b7d10")
ORIGIN = f"qcassist {__version__}"
# One colour per top-level code group (its codes share it): readable on white, distinct in a legend.
PALETTE = ("#1F77B4", "#D62728", "#2CA02C", "#9467BD", "#FF7F0E", "#17BECF",
           "#8C564B", "#E377C2", "#7F7F7F", "#BCBD22", "#393B79", "#637939")
SELECTION_NAME_CHARS = 60  # selections are named by the start of their text, as NVivo and MAXQDA do
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so re-exports are byte-identical


@dataclass
class ExportReport:
    path: str
    sources: int = 0
    codes: int = 0
    users: int = 0
    codings: int = 0
    suggestions: int = 0
    notes: int = 0  # decision memos and condensates

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True, slots=True)
class _Selection:
    """One PlainTextSelection: a span coded by one user, with the codes and the earliest date."""

    start: int
    end: int
    user: str
    codes: tuple[str, ...]
    created_at: str = ""
    description: str = ""  # a suggestion's model, source and probability
    suggested: bool = False


# --- .qdpx -------------------------------------------------------------------------


def export_qdpx(
    store: Store,
    path: str | Path,
    *,
    include_suggestions: bool = False,
    coders: Sequence[str] | None = None,
    name: str | None = None,
    force: bool = False,
) -> ExportReport:
    """Write the project as a REFI-QDA .qdpx: codebook, coders as Users, transcripts and their coded spans, memos as Notes.

    Reads one transcript at a time and only the units something refers to, so memory grows with
    the codings and the XML, not with the corpus's text: the sources' texts are read again from
    the store, one at a time, when the archive is written.
    """
    check_output_path(path, force=force, store_dir=store.directory)  # before the work, refused in one line
    codings = _chosen_codings(store, coders)
    suggestions = store.suggestions() if include_suggestions else []
    codebook = store.codebook()
    memos = _memos(store, coders)
    condensates = [c for c in store.condensates().values() if c.text.strip() and codebook.get(c.code) is not None]
    units = store.units_by_id({c.unit_id for c in codings} | {s.unit_id for s in suggestions} | {m.unit_id for m in memos}
                              | {c.quote_unit for c in condensates if c.quote_unit is not None})
    users = sorted({c.coder for c in codings} | {m.coder for m in memos}) + sorted({model_user_name(s.model_version) for s in suggestions})
    root = etree.Element(_q("Project"), nsmap={None: PROJECT_NS})
    root.set("name", name or store.directory.resolve().name)
    root.set("origin", ORIGIN)
    if users:
        _add_users(root, users)
    if codebook.codes:
        _add_codes(etree.SubElement(root, _q("CodeBook")), codebook, {c.code for c in codings} | {s.code for s in suggestions},
                   notes={c.code: condensate_guid(c.code) for c in condensates})
    by_transcript = _selections_by_transcript(units, codings, suggestions)
    memos_by_transcript: dict[int, list[Decision]] = {}
    for memo in memos:
        memos_by_transcript.setdefault(units[memo.unit_id].transcript_id, []).append(memo)
    sources = None
    members: dict[str, tuple[int, str]] = {}  # archive member -> transcript id, hash of the text the XML describes
    for transcript in store.iter_transcripts():
        if sources is None:
            sources = etree.SubElement(root, _q("Sources"))
        guid = _source_guid(transcript)
        members[f"sources/{guid}.txt"] = (transcript.id, _text_hash(transcript.text))
        _add_source(sources, transcript, guid, by_transcript.get(transcript.id, []))
        _add_memo_anchors(sources[-1], transcript, units, memos_by_transcript.get(transcript.id, []))
    if memos or condensates:
        _add_notes(root, _TranscriptsById(store), units, memos, condensates)
    _write_zip(Path(path), _xml_bytes(root), _SourceTexts(store, members), force=force, project=store.directory)
    return ExportReport(str(path), len(members), len(codebook.codes), len(users),
                        sum(len(s.codes) for sels in by_transcript.values() for s in sels if not s.suggested),
                        len(suggestions), len(memos) + len(condensates))


def _text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class _SourceTexts(Mapping):
    """The archive's source texts, read from the store one at a time as they are written (member name -> text)."""

    def __init__(self, store: Store, members: dict[str, tuple[int, str]]):
        self.store = store
        self.members = members

    def __iter__(self):
        return iter(self.members)

    def __len__(self) -> int:
        return len(self.members)

    def __getitem__(self, member: str) -> str:
        transcript_id, described = self.members[member]
        try:
            text = self.store.transcript(transcript_id).text
        except KeyError:
            text = None
        if text is None or _text_hash(text) != described:
            raise ConflictError("another qcassist command changed or removed a transcript while it was being exported; "
                                "no file was written. Run the export again.")
        return text


class _TranscriptsById(dict):
    """Transcripts by id, read from the store on first use: the notes need only the few that memos refer to."""

    def __init__(self, store: Store):
        super().__init__()
        self.store = store

    def __missing__(self, transcript_id: int) -> Transcript:
        self[transcript_id] = transcript = self.store.transcript(transcript_id)
        return transcript


def _chosen_codings(store: Store, coders: Sequence[str] | None) -> list[Coding]:
    if not coders:
        return store.codings()
    known = {row["coder"] for row in store.coders()}
    missing = [c for c in coders if c not in known]
    if missing:
        raise QcaError(f"no codings by {', '.join(missing)} in the project (coders: {', '.join(sorted(known)) or 'none'}).")
    return store.codings(coders=coders)


def _add_users(root, users: Iterable[str]) -> None:
    element = etree.SubElement(root, _q("Users"))
    for user in users:
        etree.SubElement(element, _q("User"), guid=_user_guid(user), name=user)


def _add_codes(parent, codebook: Codebook, used: set[str], ns: str = PROJECT_NS, *, notes: dict[str, str] | None = None) -> None:
    codes = etree.SubElement(parent, _q("Codes", ns))
    for index, top in enumerate(codebook.children(None)):
        _add_code(codes, codebook, top.name, PALETTE[index % len(PALETTE)], used, ns, notes or {})


def _add_code(parent, codebook: Codebook, name: str, colour: str, used: set[str], ns: str, notes: dict[str, str]) -> None:
    code = codebook.get(name)
    children = codebook.children(name)
    # Groups and subgroups only organise codes, unless someone coded with one anyway.
    codable = not children or name in used
    element = etree.SubElement(parent, _q("Code", ns), guid=code_guid(name), name=name,
                               isCodable="true" if codable else "false", color=colour)
    if code.description:
        etree.SubElement(element, _q("Description", ns)).text = code.description
    if name in notes:  # the group's condensate
        etree.SubElement(element, _q("NoteRef", ns), targetGUID=notes[name])
    for child in children:
        _add_code(element, codebook, child.name, colour, used, ns, notes)


def _selections_by_transcript(
    units: dict[int, MeaningUnit], codings: list[Coding], suggestions: list[Suggestion]
) -> dict[int, list[_Selection]]:
    """Codings grouped into one selection per (span, coder); each suggestion its own selection, with its probability."""
    grouped: dict[tuple[int, int, int, str], list[Coding]] = {}
    for coding in codings:
        unit = units[coding.unit_id]
        start, end = (coding.start, coding.end) if coding.start is not None else (unit.start, unit.end)
        grouped.setdefault((unit.transcript_id, start, end, coding.coder), []).append(coding)
    result: dict[int, list[_Selection]] = {}
    for (transcript_id, start, end, coder), group in grouped.items():
        codes = tuple(sorted({c.code for c in group}))
        created = min((d for d in (_datetime(c.created_at) for c in group) if d), default="")
        result.setdefault(transcript_id, []).append(_Selection(start, end, coder, codes, created))
    for s in suggestions:
        unit = units[s.unit_id]
        note = (f"Suggested by qcassist model {s.model_version} ({s.source}): probability {s.probability:.3f}"
                if s.probability is not None else
                f"Suggested by qcassist model {s.model_version} ({s.source}): similarity {s.strength:.3f} "
                "(not a calibrated probability)")
        result.setdefault(unit.transcript_id, []).append(
            _Selection(unit.start, unit.end, model_user_name(s.model_version), (s.code,), _datetime(s.created_at),
                       note, suggested=True)
        )
    for selections in result.values():
        selections.sort(key=lambda s: (s.start, s.end, s.user, s.codes))
    return result


def _add_source(sources, transcript: Transcript, guid: str, selections: list[_Selection]) -> None:
    element = etree.SubElement(sources, _q("TextSource"), guid=guid, name=transcript.name,
                               plainTextPath=f"internal://{guid}.txt")
    etree.SubElement(element, _q("Description")).text = _speaker_summary(transcript)
    for selection in selections:
        sel_guid = refi_guid("selection", guid, selection.start, selection.end, selection.user, *selection.codes)
        sel = _add_selection(element, transcript, sel_guid, selection.start, selection.end, selection.user,
                             selection.created_at)
        if selection.description:
            etree.SubElement(sel, _q("Description")).text = selection.description
        for code in selection.codes:
            coding = etree.SubElement(sel, _q("Coding"), guid=refi_guid("coding", sel_guid, code),
                                      creatingUser=_user_guid(selection.user))
            if selection.created_at:
                coding.set("creationDateTime", selection.created_at)
            etree.SubElement(coding, _q("CodeRef"), targetGUID=code_guid(code))


def _add_selection(source, transcript: Transcript, guid: str, start: int, end: int, user: str, created_at: str):
    """A PlainTextSelection over start–end of the transcript, named by its first characters."""
    attrs = {"guid": guid, "name": transcript.text[start:end][:SELECTION_NAME_CHARS],
             "startPosition": str(start), "endPosition": str(end), "creatingUser": _user_guid(user)}
    if created_at:
        attrs["creationDateTime"] = created_at
    return etree.SubElement(source, _q("PlainTextSelection"), attrs)


# --- Notes: decision memos and condensates -----------------------------------------------


def _memos(store: Store, coders: Sequence[str] | None) -> list[Decision]:
    """Standing decisions with a memo (an undone decision's memo went with it), of the chosen coders."""
    return [d for d in standing(store.decisions()) if d.memo.strip() and (not coders or d.coder in coders)]


def memo_guid(decision: Decision) -> str:
    return refi_guid("memo", decision.unit_id, decision.coder, decision.created_at, decision.memo)


def condensate_guid(code: str) -> str:
    return refi_guid("condensate", code)


def _add_memo_anchors(source, transcript: Transcript, units: dict[int, MeaningUnit], memos: list[Decision]) -> None:
    """An uncoded selection over each memo's unit, pointing to its Note (as memos on quotations are exchanged)."""
    for memo in sorted(memos, key=lambda d: (units[d.unit_id].start, d.id or 0)):
        unit = units[memo.unit_id]
        # after the coded selections: _add_source writes nothing else that the schema orders after them
        selection = _add_selection(source, transcript, refi_guid("memo selection", memo_guid(memo)), unit.start, unit.end,
                                   memo.coder, _datetime(memo.created_at))
        etree.SubElement(selection, _q("Description")).text = f"Review memo ({_decision_words(memo)})"
        etree.SubElement(selection, _q("NoteRef"), targetGUID=memo_guid(memo))


def _add_notes(root, names: dict[int, Transcript], units: dict[int, MeaningUnit], memos: list[Decision],
               condensates: list[Condensate]) -> None:
    notes = etree.SubElement(root, _q("Notes"))
    for memo in memos:
        unit = units[memo.unit_id]
        transcript = names[unit.transcript_id]
        attrs = {"guid": memo_guid(memo), "name": f"Memo on unit {memo.unit_id} of {transcript.name}",
                 "creatingUser": _user_guid(memo.coder)}
        created = _datetime(memo.created_at)
        if created:
            attrs["creationDateTime"] = created
        note = etree.SubElement(notes, _q("Note"), attrs)
        etree.SubElement(note, _q("Description")).text = f"qcassist review memo by {memo.coder} ({_decision_words(memo)})"
        etree.SubElement(note, _q("PlainTextContent")).text = memo.memo
    for condensate in sorted(condensates, key=lambda c: c.code):
        text = condensate.text.strip()
        quote = units.get(condensate.quote_unit) if condensate.quote_unit is not None else None
        if quote is not None:
            text += f"\n\nIllustrative quotation ({names[quote.transcript_id].name}): {quote.text_in(names[quote.transcript_id])}"
        note = etree.SubElement(notes, _q("Note"), guid=condensate_guid(condensate.code),
                                name=f"Condensate: {condensate.code}")
        created = _datetime(condensate.updated_at)
        if created:
            note.set("creationDateTime", created)
        etree.SubElement(note, _q("Description")).text = f"qcassist condensate of the code group {condensate.code}"
        etree.SubElement(note, _q("PlainTextContent")).text = text


def _decision_words(decision: Decision) -> str:
    codes = ", ".join(decision.final_codes) or decision.suggested_code or ""
    return f"{decision.action} {codes}".strip()


def _speaker_summary(transcript: Transcript) -> str:
    """Speakers and roles, for people reading the project in another tool (turns are re-read from the labels)."""
    roles: dict[str, str] = {}
    for turn in transcript.turns:
        roles.setdefault(turn.speaker, turn.role)
    speakers = ", ".join(f"{speaker} ({role})" for speaker, role in roles.items())
    return f"Interview transcript from qcassist; {len(transcript.turns)} speaker turns; speakers: {speakers}."


def _datetime(value: str) -> str:
    """An ISO date-time as xsd:dateTime, or '' when there is none (older rows)."""
    try:
        return datetime.fromisoformat(value).isoformat() if value else ""
    except ValueError:
        return ""


def _write_zip(path: Path, qde: bytes, texts: Mapping[str, str], *, force: bool, project: Path) -> None:
    """The archive: project.qde first, then the sources in name order."""

    def write(stream) -> None:
        with zipfile.ZipFile(stream, "w", zipfile.ZIP_DEFLATED) as archive:
            _add_member(archive, "project.qde", qde)
            for member in sorted(texts):
                _add_member(archive, member, texts[member].encode("utf-8"))

    write_output(path, write, binary=True, force=force, store_dir=project)


def _add_member(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    archive.writestr(info, data)


# --- .qdc --------------------------------------------------------------------------


def export_qdc(store: Store, path: str | Path, *, force: bool = False) -> ExportReport:
    """Write the codebook alone as a REFI-QDA .qdc (root CodeBook in urn:QDA-XML:codebook:1.0)."""
    codebook = store.codebook()
    if not codebook.codes:
        raise QcaError("the project has no codebook to export; import one first (qcassist codebook import).")
    root = etree.Element(_q("CodeBook", CODEBOOK_NS), nsmap={None: CODEBOOK_NS})
    root.set("origin", ORIGIN)
    _add_codes(root, codebook, set(), CODEBOOK_NS)  # the same Code elements as a project's, in the codebook namespace
    data = _xml_bytes(root)
    write_output(path, lambda stream: stream.write(data), binary=True, force=force, store_dir=store.directory)
    return ExportReport(str(path), codes=len(codebook.codes))


# --- shared ------------------------------------------------------------------------


def refi_guid(kind: str, *parts: object) -> str:
    """A deterministic 8-4-4-4-12 GUID for one exported object (uuid5 of its kind and identifying parts)."""
    return str(uuid.uuid5(_GUID_NAMESPACE, "\x1f".join([kind, *(str(p) for p in parts)]))).upper()


def model_user_name(version: str) -> str:
    """The User for one model version's suggestions, so other tools show them apart from people's codings."""
    return f"{MODEL_USER_PREFIX}{version}"


def code_guid(name: str) -> str:
    return refi_guid("code", name)


def _user_guid(name: str) -> str:
    return refi_guid("user", name)


def _source_guid(transcript: Transcript) -> str:
    return refi_guid("source", transcript.name, transcript.content_hash or transcript.text)


def _q(tag: str, ns: str = PROJECT_NS) -> str:
    return f"{{{ns}}}{tag}"


def _xml_bytes(root) -> bytes:
    """UTF-8 without a byte-order mark (ATLAS.ti and MAXQDA want none)."""
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
