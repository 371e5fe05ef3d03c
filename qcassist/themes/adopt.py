"""Adopting preliminary themes as codes, and the suggestions that follow from them.

``adopt`` adds a code (under a group, made if needed) whose description comes from the
theme, so the description-based zero-shot suggestions work at once, and records the
theme's units with their similarity to its centre. It creates no codings: those units
are offered in review as suggestions with source ``theme`` (``theme_suggestions``), and
only what the analyst accepts becomes a coding and trains the classifier.

Where they live: the suggestions table allows only classifier/exemplar/description
suggestions of a saved model, so adopted themes are recorded in the settings table
(``themes.adopted``). That also keeps them apart from ``suggest``, which replaces the
model's suggestions only: a theme suggestion stays until the unit is decided.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..codebook import read_codebook
from ..errors import InputError, QcaError
from ..model import Code, Codebook, Suggestion
from ..store import Store
from .build import ADOPTED_SETTING, Theme, ThemeOptions, ThemeRun, current_adoptions, find_themes

MARKER = re.compile(r"\s*\[theme (T\d+) of run ([0-9a-f]{10})\]\s*$")


@dataclass(frozen=True)
class Adoption:
    theme: str
    code: str
    parent: str | None
    units: int
    label: tuple[str, ...]


def draft_marker(theme: Theme, run_id: str) -> str:
    return f"[theme {theme.id} of run {run_id}]"


def adopt(store: Store, theme_id: str, *, name: str, under: str | None = None,
          options: ThemeOptions = ThemeOptions()) -> Adoption:
    """Run themes with ``options`` and adopt one of them as the code ``name`` (under ``under``)."""
    run = find_themes(store, options)
    return adopt_many(store, run, [(run.theme(theme_id), name, under)])[0]


def adopt_from_draft(store: Store, path: str | Path, *, options: ThemeOptions = ThemeOptions()) -> list[Adoption]:
    """Adopt every theme an edited YAML draft (``themes --format yaml``) still names, under the names given there."""
    book = read_codebook(path)
    run = find_themes(store, options)
    picks = []
    groups = []
    taken: dict[str, str] = {}  # theme id → the code that names it
    descriptions: dict[str, str] = {}
    for code in book.codes:
        match = MARKER.search(code.description)
        if match is None:
            if not book.children(code.name):
                continue  # a code of the analyst's own without a theme: 'codebook import' is for those
            groups.append(code)
            continue
        theme_id, run_id = match.groups()
        if run_id != run.run_id:
            raise InputError(str(path), f"code {code.name!r} names run {run_id}, but these options and units give run "
                             f"{run.run_id}; run 'qcassist themes --format yaml' again with the same options.",
                             field=code.name)
        if theme_id in taken:  # one theme's units offered under two codes would be one suggestion asked twice
            raise InputError(str(path), f"theme {theme_id} is named by both {taken[theme_id]!r} and {code.name!r}; "
                             "keep its '[theme ..]' end on one code only.", field=code.name)
        taken[theme_id] = code.name
        try:
            theme = run.theme(theme_id)
        except QcaError as exc:
            raise InputError(str(path), str(exc), field=code.name) from None
        picks.append((theme, code.name, code.parent))
        descriptions[code.name] = MARKER.sub("", code.description).strip()  # as the analyst edited it
    if not picks:
        raise InputError(str(path), "names no theme; keep the '[theme T.. of run ..]' ends of the descriptions you adopt.")
    return adopt_many(store, run, picks, groups=groups, descriptions=descriptions)


def adopt_many(store: Store, run: ThemeRun, picks: list[tuple[Theme, str, str | None]], *,
               groups: list[Code] = (), descriptions: dict[str, str] | None = None) -> list[Adoption]:
    """Add the codes (and missing groups) and record the adoptions, in one transaction.

    A code's description is ``descriptions[name]`` where given and not empty (a draft's, as edited), else the theme's.
    """
    book = store.codebook()
    entries = current_adoptions(store)  # an ended one (its code removed) would come back under a reused name
    new_codes = _plan(book, run, picks, groups, entries, descriptions or {})
    grouped = sorted({m.transcript for t in run.themes for m in t.members} | {m.transcript for m in run.unthemed})
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    adoptions = []
    for theme, name, parent in picks:
        entries.append({"theme": theme.id, "run_id": run.run_id, "code": name, "parent": parent, "label": list(theme.label),
                        "units": [[m.unit_id, m.similarity] for m in theme.members], "parameters": run.parameters,
                        "transcripts": grouped, "adopted_at": now})  # so a later run can tell which units are new
        adoptions.append(Adoption(theme.id, name, parent, len(theme.members), theme.label))
    with store.transaction():
        store.save_codebook(Codebook(book.codes + tuple(new_codes), exclusive=book.exclusive))
        store.set_setting(ADOPTED_SETTING, json.dumps(entries, ensure_ascii=False))
    return adoptions


def _plan(book: Codebook, run: ThemeRun, picks, groups, entries: list[dict], descriptions: dict[str, str]) -> list[Code]:
    """The codes to add; every check before anything is written."""
    adopted = {(e["run_id"], e["theme"]): e["code"] for e in entries}
    names: set[str] = set()
    new: list[Code] = []
    group_descriptions = {g.name: g.description for g in groups}
    for theme, name, parent in picks:
        name = name.strip()
        if not name:
            raise QcaError(f"give theme {theme.id} a code name with --as NAME.")
        if (run.run_id, theme.id) in adopted:
            raise QcaError(f"theme {theme.id} of run {run.run_id} is already adopted as {adopted[(run.run_id, theme.id)]!r}.")
        if book.get(name) is not None or name in names:
            raise QcaError(f"the codebook already has a code {name!r}; choose another name with --as.")
        if parent is not None:
            existing = book.get(parent)
            if existing is not None and not book.children(parent) and parent not in names:
                raise QcaError(f"{parent!r} is a code, not a group; choose a group or a new name for --under.")
            if existing is None and parent not in names:
                if parent in {n for _, n, _ in picks}:
                    raise QcaError(f"{parent!r} is adopted as a code and cannot also be a group.")
                new.append(Code(parent, None, group_descriptions.get(parent, "")))
                names.add(parent)
        new.append(Code(name, parent, descriptions.get(name) or theme.description))  # else its terms and central quotation
        names.add(name)
    return new


def theme_suggestions(store: Store) -> list[Suggestion]:
    """Adopted themes' units as suggestions (source ``theme``, a similarity score, no probability).

    Left out: units that someone has already coded with that code, and themes whose code
    is no longer a leaf of the codebook (renamed, removed or given children). Deciding a
    unit in review settles it for that coder as any suggestion does.
    """
    coded = {(c.unit_id, c.code) for c in store.codings()}
    existing = {u.id for u in store.units()}
    found = []
    for entry in current_adoptions(store):
        for unit_id, score in entry["units"]:
            if unit_id in existing and (unit_id, entry["code"]) not in coded:
                found.append(Suggestion(unit_id, entry["code"], None, f"theme:{entry['run_id']}:{entry['theme']}",
                                        "theme", score=float(score), created_at=entry["adopted_at"]))
    return sorted(found, key=lambda s: (s.unit_id, -s.score, s.code))

