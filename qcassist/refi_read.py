"""Reading REFI-QDA files into model objects: .qdpx projects and .qdc codebooks from NVivo, ATLAS.ti, MAXQDA, QualCoder or qcassist.

A pure stage (no store): ``read_qdpx`` checks the whole file and returns the codes,
the sources as transcripts (speaker turns read from the plain text as ``qcassist
import`` does) and each source's coded spans as character offsets into that text.
Elements are matched by local name, so files with a wrong or missing namespace
still read. ``refi.import_qdpx`` writes the result into a project.
"""

from __future__ import annotations

import bisect
import tempfile
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from lxml import etree

from .errors import InputError
from .ingest.decode import decode_bytes, normalize_newlines
from .ingest.docx import read_docx
from .ingest.text import parse_labelled_text
from .model import Code, Transcript
from .refi_archive import MB, ArchiveLimits, SourceFiles, points_outside
from .refi_write import MODEL_USER_PREFIX

# How a tool may have counted positions, as the extra units one character takes.
# MAXQDA (and others on Windows) count a line break as two (CR LF); NVivo counts
# characters outside the Basic Multilingual Plane (emoji) as two UTF-16 units.
OFFSET_CONVENTIONS: dict[str, Callable[[str], int]] = {
    "characters": lambda ch: 0,
    "crlf": lambda ch: int(ch == "\n"),
    "utf16": lambda ch: int(ord(ch) > 0xFFFF),
    "crlf+utf16": lambda ch: int(ch == "\n") + int(ord(ch) > 0xFFFF),
}


@dataclass(frozen=True, slots=True)
class Span:
    """One coded span of a source: character offsets into its normalized text."""

    start: int
    end: int
    code: str
    coder: str
    origin: str = "human"
    created_at: str = ""


@dataclass
class Source:
    """A text source as a transcript, with its coded spans and how the tool counted positions."""

    transcript: Transcript
    spans: list[Span]
    convention: str = "characters"


@dataclass
class RefiProject:
    """What a .qdpx holds that qcassist keeps."""

    codes: list[Code] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    selections: int = 0
    warnings: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # sources whose text was not in the .qdpx (skipped)


@dataclass
class _Selection:
    start: int | None  # positions as the tool wrote them; None: the whole source
    end: int | None
    name: str
    line: int
    codings: list[tuple[str, str, str]]  # (code, coder, created_at)


# --- .qdpx -------------------------------------------------------------------------


def read_qdpx(
    path: str | Path,
    *,
    coder_prefix: str = "",
    interviewers: tuple[str, ...] = (),
    sources_dir: str | Path | None = None,
    limits: ArchiveLimits | None = None,
) -> RefiProject:
    """Read and check a whole REFI-QDA project file; InputError names the file and line of anything wrong.

    Sources are read from inside the .qdpx only; ``sources_dir`` names a folder whose
    files may stand in for sources the project points to outside it.
    """
    path = Path(path)
    if path.exists() and not path.is_file():
        raise InputError(str(path), "is not a regular file.")
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise InputError(str(path), "does not exist.") from None
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InputError(str(path), f"is not a .qdpx file (a zip archive): {exc}. Export the project again from its tool.") from None
    with archive:
        files = SourceFiles(archive, path, limits=limits or ArchiveLimits.from_env(),
                            sources_dir=Path(sources_dir) if sources_dir is not None else None)
        member = files.project_member()
        where = f"{path}:{member}"
        root = _parse_xml(files.read_member(member), where, "Project")
        return _ProjectReader(files, path, where, root, coder_prefix, interviewers).read()


def _parse_xml(data: bytes, where: str, root_name: str):
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise InputError(where, f"is not well-formed XML ({exc.msg}).", line=exc.lineno or None) from None
    if _local(root) != root_name:
        raise InputError(where, f"the root element is {_local(root)!r}, not {root_name!r}; is this the right kind of file?",
                         line=root.sourceline)
    return root


class _ProjectReader:
    """Reads one project.qde (and the source files it points to) into codes and sources."""

    def __init__(self, files: SourceFiles, path: Path, where: str, root, prefix: str, interviewers):
        self.files, self.path, self.where, self.root = files, path, where, root
        self.prefix, self.interviewers = prefix, tuple(interviewers)
        self.project = RefiProject()
        self.users: dict[str, str] = {}
        self.code_names: dict[str, str] = {}
        self.source_names: set[str] = set()
        self.source_guids: set[str] = set()

    def read(self) -> RefiProject:
        for user in _children(_child(self.root, "Users"), "User"):
            guid = _guid(self._attr(user, "guid"))
            if guid in self.users:  # which name their codings belong to would be a guess
                raise InputError(self.where, f"two Users have the GUID {guid}; each must have its own.", line=user.sourceline)
            self.users[guid] = user.get("name") or user.get("id") or guid
        codebook = _child(self.root, "CodeBook")
        if codebook is not None:
            self.project.codes = read_codes(_child(codebook, "Codes"), self.where, self.code_names, self.project.warnings)
        for element in _children(_child(self.root, "Sources")):
            if _local(element) != "TextSource":
                lost = sum(1 for e in element.iter() if _local(e) == "Coding")
                self.project.warnings.append(
                    f"{self.where}, line {element.sourceline}: skipped a {_local(element)} {element.get('name', '')!r}"
                    + (f" and its {lost} codings" if lost else "") + " (qcassist imports text sources only).")
                continue
            source = self._source(element)
            if source is not None:
                self.project.sources.append(source)
        ignored = [f"{len(_children(_child(self.root, part)))} {part}" for part in ("Notes", "Links", "Sets", "Graphs")
                   if _child(self.root, part) is not None and len(_children(_child(self.root, part)))]
        if ignored:
            self.project.warnings.append(f"{self.where}: not imported: {', '.join(ignored)} (qcassist keeps sources, "
                                        "codebook, users and codings).")
        return self.project

    def _source(self, element) -> Source | None:
        guid = _guid(self._attr(element, "guid"))
        if guid in self.source_guids:
            raise InputError(self.where, f"two sources have the GUID {guid}; each must have its own.", line=element.sourceline)
        self.source_guids.add(guid)
        name = unicodedata.normalize("NFC", element.get("name") or guid)  # macOS tools write names decomposed
        if name in self.source_names:  # tools allow one name in two folders; transcript names are unique
            name = f"{name} ({guid[:8]})"
        self.source_names.add(name)
        found = self._text(element, name)
        if found is None:
            return None
        text, had_crlf, transcript = found
        if transcript is None:
            try:
                transcript, warnings = parse_labelled_text(text, name=name, path=f"{self.where} ({name})",
                                                           interviewers=self.interviewers)
            except InputError as exc:
                if any(_local(e) == "Coding" for e in element.iter()):
                    raise
                # e.g. a memo or a document with only the researcher speaking: nothing coded is lost
                self.project.warnings.append(f"{exc} Skipped this source; it has no codings.")
                return None
            self.project.warnings.extend(warnings)
        transcript = replace(transcript, name=name, source_path=f"{self.path}:{name}",
                             metadata=dict(transcript.metadata, format="qdpx"))
        default_user = element.get("creatingUser")
        selections = [self._selection(sel, default_user) for sel in _children(element, "PlainTextSelection")]
        uncoded = sum(1 for sel in selections if not sel.codings)
        if uncoded:
            self.project.warnings.append(f"{self.where}: source {name!r}: {uncoded} selections without a code "
                                        "(quotations or memos) were not imported.")
        whole = [self._coding(c, default_user, None) for c in _children(element, "Coding")]
        if whole:
            selections.append(_Selection(None, None, "", element.sourceline, whole))
        convention = choose_convention(text, [s for s in selections if s.start is not None], prefer_crlf=had_crlf)
        positions = tool_positions(text, convention)
        spans = [span for sel in selections for span in self._spans(sel, text, name, positions)]
        self.project.selections += len(selections)
        return Source(transcript, spans, convention)

    def _text(self, element, name: str) -> tuple[str, bool, Transcript | None] | None:
        """The source's plain text, whether it had CR LF line breaks, and a transcript when read from .docx."""
        content = _child(element, "PlainTextContent")
        if content is not None:
            raw = "".join(content.itertext())  # text around unexpanded entity references too
            return normalize_newlines(raw), "\r" in raw, None
        plain, rich = element.get("plainTextPath"), element.get("richTextPath")
        docx = bool(rich) and rich.lower().endswith(".docx")
        if plain and (not docx or self.files.find(plain) is not None):  # else the .docx may be there instead
            data = self._read_file(plain, element, name)
            if data is None:
                return None
            if not data.strip():
                self.project.warnings.append(f"{self.where}: source {name!r} is empty; skipped.")
                return None
            decoded = decode_bytes(data, f"{self.where} ({name})")
            self.project.warnings.extend(decoded.warnings)
            return decoded.text, b"\r" in data, None
        if docx:
            transcript = self._docx(rich, element, name)
            if transcript is None:
                return None
            self.project.warnings.append(f"{self.where}: source {name!r} has no plain text; read its .docx, so coded "
                                        "positions may be off where the tool rendered the document differently.")
            return transcript.text, False, transcript
        kind = f"only rich text ({rich})" if rich else "no text"
        raise InputError(self.where, f"source {name!r} has {kind}: qcassist needs PlainTextContent, a plainTextPath, "
                         "or a .docx. Export the project again with plain text.", line=element.sourceline)

    def _read_file(self, reference: str, element, name: str) -> bytes | None:
        """The source file's bytes from inside the .qdpx (or the sources folder); None, with a warning, when absent."""
        found = self.files.find(reference)
        if found is not None:
            return self.files.read(found)
        lost = sum(1 for e in element.iter() if _local(e) == "Coding")
        self.project.missing.append(name)
        outside = self.files.sources_dir is None and points_outside(reference)
        why = ("which points outside the .qdpx; sources are read only from inside it (pass a folder for external "
               "sources to read them from there)") if outside else "which is not in the .qdpx"
        self.project.warnings.append(f"{self.where}, line {element.sourceline}: skipped source {name!r}"
                                     + (f" and its {lost} codings" if lost else "") + f": its text is at {reference}, {why}.")
        return None

    def _docx(self, reference: str, element, name: str) -> Transcript | None:
        data = self._read_file(reference, element, name)
        if data is None:
            return None
        with tempfile.TemporaryDirectory() as folder:
            file = Path(folder) / "source.docx"
            file.write_bytes(data)
            try:
                transcript, warnings = read_docx(file, interviewers=self.interviewers)
            except InputError as exc:
                raise InputError(self.where, f"source {name!r}: {exc}", line=element.sourceline) from None
        self.project.warnings.extend(warnings)
        return transcript

    def _selection(self, element, default_user: str | None) -> _Selection:
        start, end = (self._position(element, a) for a in ("startPosition", "endPosition"))
        user = element.get("creatingUser") or default_user
        codings = [self._coding(c, user, element.get("creationDateTime")) for c in _children(element, "Coding")]
        return _Selection(start, end, element.get("name") or "", element.sourceline, codings)

    def _coding(self, element, default_user: str | None, default_date: str | None) -> tuple[str, str, str]:
        ref = _child(element, "CodeRef")
        if ref is None:
            raise InputError(self.where, "a Coding has no CodeRef.", line=element.sourceline)
        guid = _guid(self._attr(ref, "targetGUID"))
        code = self.code_names.get(guid)
        if code is None:
            raise InputError(self.where, f"a Coding refers to code {guid}, which is not in the CodeBook.", line=ref.sourceline)
        created = element.get("creationDateTime") or default_date or ""
        return code, self._coder(element.get("creatingUser") or default_user), _iso_datetime(created)

    def _coder(self, user_guid: str | None) -> str:
        if not user_guid:
            name = self.path.stem  # no user anywhere: the file is the best name for whoever coded it
        else:
            name = self.users.get(_guid(user_guid), _guid(user_guid))
        return self.prefix + name

    def _spans(self, selection: _Selection, text: str, source: str, positions: list[int]) -> list[Span]:
        if selection.start is None:
            start, end = 0, len(text)
        else:
            if selection.start < 0:
                raise InputError(self.where, f"selection in source {source!r} starts at {selection.start}, before the text.",
                                 line=selection.line)
            if selection.end > positions[-1]:
                raise InputError(self.where, f"selection {selection.start}-{selection.end} in source {source!r} is past its "
                                 f"end ({len(text)} characters).", line=selection.line)
            start, end = to_characters(positions, selection.start), to_characters(positions, selection.end)
            if selection.start > selection.end:
                raise InputError(self.where, f"selection in source {source!r} starts ({selection.start}) after it ends "
                                 f"({selection.end}).", line=selection.line)
            if start == end:
                self.project.warnings.append(f"{self.where}, line {selection.line}: skipped an empty selection.")
                return []
        return [Span(start, end, code, coder, _origin(coder, self.prefix), created)
                for code, coder, created in selection.codings]

    def _position(self, element, attribute: str) -> int:
        value = self._attr(element, attribute)
        try:
            return int(value)
        except ValueError:
            raise InputError(self.where, f"{attribute} {value!r} is not a whole number.", line=element.sourceline) from None

    def _attr(self, element, attribute: str) -> str:
        value = element.get(attribute)
        if value is None:
            raise InputError(self.where, f"a {_local(element)} has no {attribute}.", line=element.sourceline)
        return value


def _origin(coder: str, prefix: str) -> str:
    """Suggestions qcassist exported come back as the model's codings, kept out of training."""
    return "model" if coder[len(prefix):].startswith(MODEL_USER_PREFIX) else "human"


# --- offsets -----------------------------------------------------------------------


def tool_positions(text: str, convention: str) -> list[int]:
    """For each character index 0..len(text), the position a tool with this convention gives it."""
    extra = OFFSET_CONVENTIONS[convention]
    positions = [0]
    for ch in text:
        positions.append(positions[-1] + 1 + extra(ch))
    return positions


def to_characters(positions: list[int], position: int) -> int:
    """The character index of a tool position (one inside a two-unit character maps to that character)."""
    return bisect.bisect_right(positions, position) - 1


def choose_convention(text: str, selections: list[_Selection], *, prefer_crlf: bool) -> str:
    """How the tool counted: the convention under which selections fit, match their names and cut at word edges.

    Ties go to plain characters, or to CR LF when the source file itself had CR LF
    line breaks (then those positions index the file exactly as it was given).
    """
    candidates = ["characters"]
    if not selections:
        return "characters"  # nothing to convert
    if "\n" in text:
        candidates.insert(0 if prefer_crlf else 1, "crlf")
    if any(ord(ch) > 0xFFFF for ch in text):
        candidates += ["utf16", "crlf+utf16"] if "\n" in text else ["utf16"]
    if len(candidates) == 1:
        return candidates[0]
    scores = {c: _score(text, tool_positions(text, c), selections) for c in candidates}
    return max(candidates, key=lambda c: (scores[c], -candidates.index(c)))


def _score(text: str, positions: list[int], selections: list[_Selection]) -> tuple[int, int, int]:
    fits = named = clean = 0
    for sel in selections:
        if sel.start < 0 or sel.end > positions[-1] or sel.start > sel.end:
            continue
        fits += 1
        start, end = to_characters(positions, sel.start), to_characters(positions, sel.end)
        span = text[start:end]
        if span and len(sel.name) >= 4 and (span.startswith(sel.name) or sel.name.startswith(span[:40])):
            named += 1
        clean += _word_edge(text, start) + _word_edge(text, end)
    return fits, named, clean


def _word_edge(text: str, index: int) -> int:
    return int(index in (0, len(text)) or not (text[index - 1].isalnum() and text[index].isalnum()))


# --- codes and .qdc ----------------------------------------------------------------


def read_codes(element, where: str, names: dict[str, str], warnings: list[str] | None = None) -> list[Code]:
    """Nested Code elements as a flat list (parents first); fills ``names`` (guid -> code name).

    Other tools allow one name under two parents ("Other"); later ones become "Parent/Name".
    A code with codes under it is a group here whatever its isCodable; a non-codable code
    with nothing under it (an empty folder) has no place in a qcassist codebook and is left
    out, with a warning.
    """
    codes: list[Code] = []

    def visit(code_element, parent: str | None) -> None:
        if code_element.get("isCodable") == "false" and not _children(code_element, "Code"):
            if warnings is not None:
                warnings.append(f"{where}, line {code_element.sourceline}: left out the empty, non-codable code "
                                f"{code_element.get('name')!r}.")
            return
        guid = code_element.get("guid")
        name = code_element.get("name")
        name = unicodedata.normalize("NFC", name) if name is not None else None
        if not guid or name is None or not name.strip():
            raise InputError(where, "a Code has no guid or an empty name; give every code a name in the tool and "
                             "export again.", line=code_element.sourceline)
        if _guid(guid) in names:  # codings would land on whichever code came last
            raise InputError(where, f"two codes have the GUID {_guid(guid)}; each must have its own.",
                             line=code_element.sourceline)
        if any(c.name == name for c in codes):
            name = f"{parent}/{name}" if parent else f"{name} ({guid})"
        description = _child(code_element, "Description")
        codes.append(Code(name, parent, (description.text or "").strip() if description is not None else ""))
        names[_guid(guid)] = name
        for child in _children(code_element, "Code"):
            visit(child, name)

    for top in _children(element, "Code"):
        visit(top, None)
    return codes


def read_qdc(path: str | Path) -> list[Code]:
    """The codes of a REFI-QDA codebook file (.qdc), parents first."""
    path = Path(path)
    if not path.exists():
        raise InputError(str(path), "does not exist.")
    if not path.is_file():
        raise InputError(str(path), "is not a regular file.")
    limit = ArchiveLimits.from_env().member_mb
    if path.stat().st_size > limit * MB:
        raise InputError(str(path), f"is over the {limit} MB limit for a codebook (set QCASSIST_QDPX_MAX_MEMBER_MB "
                         "to allow more).")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(str(path), f"cannot be read ({exc.strerror or exc}).") from None
    root = _parse_xml(data, str(path), "CodeBook")
    codes = read_codes(_child(root, "Codes"), str(path), {})
    if not codes:
        raise InputError(str(path), "the codebook has no codes.")
    return codes


# --- XML helpers -------------------------------------------------------------------


def _local(element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _child(element, name: str):
    if element is None:
        return None
    return next((c for c in element if _local(c) == name), None)


def _children(element, name: str | None = None) -> list:
    if element is None:
        return []
    return [c for c in element if isinstance(c.tag, str) and (name is None or _local(c) == name)]


def _iso_datetime(value: str) -> str:
    """xsd:dateTime as ISO 8601, or '' (the store then records the import time)."""
    try:
        return datetime.fromisoformat(value.strip()).isoformat() if value else ""
    except ValueError:
        return ""


def _guid(value: str) -> str:
    """GUIDs compare without braces and case ({ABC-...} in one tool is abc-... in another)."""
    return value.strip().strip("{}").lower()
