"""Codebooks as analysts write them (.csv, .json, .yaml) → ``Codebook``, and back.

A CSV lists one code a row (``code``, optional ``parent`` and ``description``); JSON and
YAML may list codes the same way or nest them under ``children``. Whatever the file, the
codes come back in tree order: each top-level group, then its subgroups and codes, with
siblings in the order the file gives them.
"""

from __future__ import annotations

import csv
import difflib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from .errors import InputError
from .ingest.decode import read_text
from .ingest.table import _cell, _csv_rows
from .model import Code, Codebook
from .safe_output import write_output

SUFFIXES: dict[str, str] = {".csv": "csv", ".tsv": "csv", ".json": "json", ".yaml": "yaml", ".yml": "yaml"}
FORMATS: tuple[str, ...] = ("csv", "json", "yaml")
ROW_FIELDS: tuple[str, ...] = ("code", "parent", "level", "description", "path")

# keys a code may have in JSON/YAML; level and path are what write_codebook's rows add, and are derived
_ITEM_KEYS = ("code", "name", "parent", "description", "children", "level", "path")
_TOP_KEYS = ("exclusive", "codes")


@dataclass(frozen=True, slots=True)
class _Entry:
    """A code as read, with where it was read from (a CSV line or a JSON/YAML field)."""

    name: str
    parent: str | None
    description: str
    line: int | None = None
    field: str | None = None

    @property
    def where(self) -> str:
        return f"line {self.line}" if self.line is not None else str(self.field)


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """" Did you mean 'x'?" for the closest of ``choices`` to ``name``, or "" when none is close."""
    choices = list(choices)
    same_but_case = [c for c in choices if c.lower() == name.lower()]
    close = same_but_case or difflib.get_close_matches(name, choices, n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def read_codebook(path: str | Path, *, exclusive: bool | None = None) -> Codebook:
    """Read a codebook file; ``exclusive``, when given, overrides what the file says."""
    path = Path(path)
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise InputError(str(path), f"unknown codebook type {path.suffix or '(none)'!r}; use .csv, .json or .yaml.")
    text = read_text(path).text
    try:
        if kind == "csv":
            entries, file_exclusive = _csv_entries(text, str(path)), False
        else:
            entries, file_exclusive = _tree_file_entries(_load(text, kind, str(path)), str(path))
        codes = _checked_codes(entries, str(path))
    except RecursionError:  # the parsers and the tree walk recurse once per level
        raise InputError(str(path), "is nested too deeply to be a codebook (hundreds of levels); "
                         "a codebook has a few levels of groups.") from None
    return Codebook(codes, file_exclusive if exclusive is None else exclusive)


def codebook_rows(codebook: Codebook) -> list[dict[str, str]]:
    """One dict a code, in tree order: code, parent, level (group/subgroup/code), description, path."""
    parents = {c.parent for c in codebook.codes}
    rows = []
    for code in tree_order(codebook.codes):
        path = codebook.path(code.name)
        if code.name not in parents:
            level = "code"
        else:
            level = "group" if len(path) == 1 else "subgroup"
        rows.append({
            "code": code.name,
            "parent": code.parent or "",
            "level": level,
            "description": code.description,
            "path": " > ".join(path),
        })
    return rows


def write_codebook(codebook: Codebook, fmt: str, out: str | Path | TextIO, *, force: bool = False) -> None:
    """Write ``codebook`` as csv, json or yaml to a path or an open text stream.

    A path is written as every output is (``safe_output``): whole or not at all, never over a project's
    files, and an existing file only with ``force``.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown codebook format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if isinstance(out, (str, Path)):
        write_output(out, lambda stream: _write(codebook, fmt, stream), force=force)
    else:
        _write(codebook, fmt, out)


def _write(codebook: Codebook, fmt: str, stream: TextIO) -> None:
    if fmt == "csv":
        # the CSV has no place for `exclusive`: the caller passes it (--exclusive) when reading back
        writer = csv.DictWriter(stream, fieldnames=ROW_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(codebook_rows(codebook))
        return
    tree = {"exclusive": codebook.exclusive, "codes": _nested(codebook, None)}
    if fmt == "json":
        stream.write(json.dumps(tree, ensure_ascii=False, indent=2) + "\n")
    else:
        import yaml  # only needed for YAML; imported here so the rest works without it

        stream.write(yaml.safe_dump(tree, sort_keys=False, allow_unicode=True, default_flow_style=False))


def _nested(codebook: Codebook, parent: str | None) -> list[dict[str, Any]]:
    items = []
    for code in codebook.children(parent):
        item: dict[str, Any] = {"code": code.name}
        if code.description:
            item["description"] = code.description
        children = _nested(codebook, code.name)
        if children:
            item["children"] = children
        items.append(item)
    return items


# --- reading -----------------------------------------------------------------------------


def _csv_entries(text: str, path: str) -> list[_Entry]:
    header, rows = _csv_rows(text, path)
    by_lower = {h.lower(): h for h in reversed(header)}  # the first of two same-named columns wins
    name_column = by_lower.get("code") or by_lower.get("name")
    if name_column is None:
        raise InputError(
            path,
            f"has no column 'code' (columns: {', '.join(header) or 'none'}); name the column of code names 'code'.",
            field="code",
        )
    parent_column = by_lower.get("parent")
    description_column = by_lower.get("description")
    entries = []
    for line, row in rows:
        if not any(_cell(row, column) for column in header):
            continue  # spreadsheets leave blank rows between groups
        name = _code_name(_cell(row, name_column), path, line=line, field=name_column)
        entries.append(_Entry(
            name,
            _cell(row, parent_column) or None,
            _cell(row, description_column),
            line=line,
        ))
    return entries


def _load(text: str, kind: str, path: str) -> Any:
    if kind == "json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(path, f"is not valid JSON ({exc.msg}).", line=exc.lineno) from None
    import yaml  # only needed for YAML

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or "cannot be parsed"
        raise InputError(path, f"is not valid YAML ({problem}).", line=mark.line + 1 if mark else None) from None


def _tree_file_entries(data: Any, path: str) -> tuple[list[_Entry], bool]:
    if isinstance(data, list):
        items, exclusive = data, False
    elif isinstance(data, dict):
        top = {str(k).lower(): v for k, v in data.items()}
        for key in top:
            if key not in _TOP_KEYS:
                raise InputError(
                    path, f"unknown key {key!r}; a codebook has 'exclusive' and 'codes'.{did_you_mean(key, _TOP_KEYS)}", field=key
                )
        if "codes" not in top:
            raise InputError(path, "has no 'codes' list.", field="codes")
        items, exclusive = top["codes"], top.get("exclusive", False)
        if not isinstance(exclusive, bool):
            raise InputError(path, f"'exclusive' must be true or false, not {exclusive!r}.", field="exclusive")
    else:
        raise InputError(path, "must hold a list of codes or an object with a 'codes' list.")
    entries: list[_Entry] = []
    _item_entries(items, None, "codes", path, entries)
    return entries, exclusive


def _item_entries(items: Any, parent: str | None, where: str, path: str, out: list[_Entry]) -> None:
    if not isinstance(items, list):
        raise InputError(path, "must be a list of codes.", field=where)
    for index, item in enumerate(items):
        here = f"{where}[{index}]"
        if isinstance(item, str):  # `children: [listened to, came back]` in YAML
            out.append(_Entry(_code_name(item, path, field=here), parent, "", field=here))
            continue
        if not isinstance(item, dict):
            raise InputError(path, f"a code must be an object with a 'code' (or a name), not {item!r}.", field=here)
        item = {str(k).lower(): v for k, v in item.items()}
        for key in item:
            if key not in _ITEM_KEYS:
                raise InputError(
                    path, f"unknown key {key!r} in a code (known: code, parent, description, children).{did_you_mean(key, _ITEM_KEYS)}",
                    field=f"{here}.{key}",
                )
        name_key = "code" if "code" in item else "name"
        name = _code_name(_scalar(item.get(name_key), path, f"{here}.{name_key}"), path, field=f"{here}.{name_key}")
        stated_parent = _scalar(item.get("parent"), path, f"{here}.parent") or None
        if parent is not None and stated_parent is not None and stated_parent != parent:
            raise InputError(
                path, f"code {name!r} sits under {parent!r} but says its parent is {stated_parent!r}; remove one.",
                field=f"{here}.parent",
            )
        out.append(_Entry(name, parent or stated_parent, _scalar(item.get("description"), path, f"{here}.description"), field=here))
        if item.get("children") is not None:
            _item_entries(item["children"], name, f"{here}.children", path, out)


def _scalar(value: Any, path: str, field: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.replace("\r\n", "\n").strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    # YAML reads `yes` as true and `1.10` as 1.1: turning them back into text would change them
    raise InputError(path, f"{value!r} must be text; put it in quotes.", field=field)


def _code_name(name: str, path: str, *, line: int | None = None, field: str | None = None) -> str:
    if not name:
        raise InputError(path, "empty code name; every code needs one.", line=line, field=field)
    if "\n" in name or "\r" in name:
        raise InputError(path, f"code name {name!r} spans several lines; a code name is one line.", line=line, field=field)
    return name


def _checked_codes(entries: list[_Entry], path: str) -> tuple[Code, ...]:
    if not entries:
        raise InputError(path, "has no codes.")
    first: dict[str, _Entry] = {}
    for entry in entries:
        if entry.name in first:
            raise InputError(
                path, f"duplicate code {entry.name!r} (first at {first[entry.name].where}); code names must be unique.",
                line=entry.line, field=entry.field,
            )
        first[entry.name] = entry
    for entry in entries:
        if entry.parent is not None and entry.parent not in first:
            raise InputError(
                path,
                f"unknown parent {entry.parent!r} for code {entry.name!r}.{did_you_mean(entry.parent, first)}",
                line=entry.line, field="parent" if entry.line is not None else f"{entry.field}.parent",
            )
    cycle = _find_cycle({e.name: e.parent for e in entries})
    if cycle:
        at = min((first[name] for name in cycle), key=entries.index)
        if len(cycle) == 1:
            problem = f"code {cycle[0]!r} is its own parent; give it another parent or none."
        else:
            chain = " → ".join(repr(name) for name in [*cycle, cycle[0]])
            problem = f"the codes {chain} are each other's parents (a cycle); give one of them a parent outside the cycle."
        raise InputError(
            path, problem,
            line=at.line, field="parent" if at.line is not None else f"{at.field}.parent",
        )
    return tree_order(tuple(Code(e.name, e.parent, e.description) for e in entries))


def _find_cycle(parent_of: dict[str, str | None]) -> list[str]:
    """The names of the first cycle found, in parent order, or [] when there is none."""
    done: set[str] = set()
    for start in parent_of:
        walk: list[str] = []
        current: str | None = start
        while current is not None and current not in done:
            if current in walk:
                return walk[walk.index(current) :]
            walk.append(current)
            current = parent_of.get(current)
        done.update(walk)
    return []


def tree_order(codes: tuple[Code, ...]) -> tuple[Code, ...]:
    """Codes depth-first from the top groups, siblings in their given order."""
    names = {c.name for c in codes}
    children: dict[str | None, list[Code]] = {}
    for code in codes:
        # a parent outside the codebook makes the code a top-level one here
        children.setdefault(code.parent if code.parent in names else None, []).append(code)
    ordered: list[Code] = []
    stack = list(reversed(children.get(None, [])))
    while stack:
        code = stack.pop()
        ordered.append(code)
        stack.extend(reversed(children.get(code.name, [])))
    # codes in a cycle are never reached from the top; keep them so that nothing is lost silently
    reached = {c.name for c in ordered}
    return tuple(ordered) + tuple(c for c in codes if c.name not in reached)
