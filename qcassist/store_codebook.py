"""The store's codebook edits: renaming, merging and deleting codes, and the codebook's change log.

A mixin of ``Store``, like ``store_coding``. Codes are stored by name; the tables made
from them (codings, suggestions, condensates, child codes) follow a code's new name
through the schema's ``ON UPDATE CASCADE`` or through the rows rewritten here.

Review decisions are append-only history, so their rows keep the code names they were
recorded with. Each rename, merge or removal is appended to a change log (the setting
``codebook.changes``) together with the newest decision id at that moment, and
``current_code_names`` reads decisions through the log: a decision made before a rename
of ``a`` to ``b`` speaks of ``b``; one made after a new ``a`` was added speaks of the new ``a``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import replace

from .model import Decision

CHANGES_KEY = "codebook.changes"


class CodebookTables:
    db: sqlite3.Connection
    decisions: Callable[..., list[Decision]]  # provided by store_coding's mixin

    def transaction(self) -> AbstractContextManager[None]:  # provided by Store
        raise NotImplementedError

    def setting(self, key: str, default: str | None = None) -> str | None:  # provided by Store
        raise NotImplementedError

    def set_setting(self, key: str, value: str) -> None:  # provided by Store
        raise NotImplementedError

    # --- what uses a code ----------------------------------------------------------

    def code_usage(self, name: str) -> dict[str, int]:
        """How many codings, suggestions, decisions and condensates name this code (decisions through renames)."""
        def one(sql: str) -> int:
            return self.db.execute(sql, (name,)).fetchone()[0]

        decisions = sum(
            1 for d in self.decisions()
            if d.suggested_code == name or name in d.final_codes
        )
        return {
            "codings": one("SELECT count(*) FROM codings WHERE code = ?"),
            "suggestions": one("SELECT count(*) FROM suggestions WHERE code = ?"),
            "decisions": decisions,
            "condensates": one("SELECT count(*) FROM condensates WHERE code = ?"),
        }

    # --- edits (callers validate and wrap them in one transaction) -----------------

    def rename_code_rows(self, old: str, new: str) -> None:
        """Rename a code; child codes, codings, suggestions and its condensate follow (ON UPDATE CASCADE)."""
        self.db.execute("UPDATE codes SET name = ? WHERE name = ?", (new, old))

    def merge_code_rows(self, source: str, into: str) -> dict[str, int]:
        """Fold ``source`` into ``into`` and delete it: its child codes, codings, suggestions and condensate move.

        A coding that ``into`` already has (same unit, coder and span) is kept once, the
        coder's own (imported) one before one made by review; of two suggestions for one
        unit by one model the likelier stays. Returns how many rows moved and merged.
        """
        self.db.execute("UPDATE codes SET parent = ? WHERE parent = ?", (into, source))
        moved = merged = 0
        rows = self.db.execute(
            "SELECT id, unit_id, coder, origin, span_start, span_end FROM codings WHERE code = ? ORDER BY id", (source,)
        ).fetchall()
        for coding_id, unit_id, coder, origin, span_start, span_end in rows:
            twin = self.db.execute(
                "SELECT id, origin FROM codings WHERE code = ? AND unit_id = ? AND coder = ? AND span_start IS ? AND span_end IS ?",
                (into, unit_id, coder, span_start, span_end),
            ).fetchone()
            if twin is None:
                self.db.execute("UPDATE codings SET code = ? WHERE id = ?", (into, coding_id))
                moved += 1
                continue
            merged += 1
            if twin[1] == "review" and origin == "human":
                self.db.execute("DELETE FROM codings WHERE id = ?", (twin[0],))
                self.db.execute("UPDATE codings SET code = ? WHERE id = ?", (into, coding_id))
            else:
                self.db.execute("DELETE FROM codings WHERE id = ?", (coding_id,))
        suggestions = self.db.execute(
            "SELECT id, unit_id, model_version, probability, score FROM suggestions WHERE code = ?", (source,)
        ).fetchall()
        for suggestion_id, unit_id, version, probability, score in suggestions:
            twin = self.db.execute(
                "SELECT id, probability, score FROM suggestions WHERE code = ? AND unit_id = ? AND model_version = ?",
                (into, unit_id, version),
            ).fetchone()
            if twin is None:
                self.db.execute("UPDATE suggestions SET code = ? WHERE id = ?", (into, suggestion_id))
            elif _strength(twin[1], twin[2]) >= _strength(probability, score):
                self.db.execute("DELETE FROM suggestions WHERE id = ?", (suggestion_id,))
            else:
                self.db.execute("DELETE FROM suggestions WHERE id = ?", (twin[0],))
                self.db.execute("UPDATE suggestions SET code = ? WHERE id = ?", (into, suggestion_id))
        self._merge_condensate(source, into)
        self.db.execute("DELETE FROM codes WHERE name = ?", (source,))
        return {"codings_moved": moved, "codings_merged": merged, "suggestions": len(suggestions)}

    def _merge_condensate(self, source: str, into: str) -> None:
        """The analyst's own text is never lost: two condensates become one, the target's first."""
        mine = self.db.execute("SELECT text, quote_unit FROM condensates WHERE code = ?", (source,)).fetchone()
        if mine is None:
            return
        theirs = self.db.execute("SELECT text, quote_unit FROM condensates WHERE code = ?", (into,)).fetchone()
        if theirs is None:
            self.db.execute("UPDATE condensates SET code = ? WHERE code = ?", (into, source))
            return
        text = "\n\n".join(t for t in (theirs[0], mine[0]) if t.strip())
        self.db.execute(
            "UPDATE condensates SET text = ?, quote_unit = ? WHERE code = ?",
            (text, theirs[1] if theirs[1] is not None else mine[1], into),
        )
        self.db.execute("DELETE FROM condensates WHERE code = ?", (source,))

    def delete_code_rows(self, name: str) -> dict[str, int]:
        """Delete a code with its codings, suggestions and condensate (the caller has refused or been told to)."""
        codings = self.db.execute("DELETE FROM codings WHERE code = ?", (name,)).rowcount
        suggestions = self.db.execute("DELETE FROM suggestions WHERE code = ?", (name,)).rowcount
        self.db.execute("DELETE FROM condensates WHERE code = ?", (name,))
        self.db.execute("DELETE FROM codes WHERE name = ?", (name,))
        return {"codings_dropped": codings, "suggestions": suggestions}

    # --- the change log ------------------------------------------------------------

    def code_changes(self) -> list[dict]:
        """The codebook's renames, merges, removals and moves, oldest first."""
        return json.loads(self.setting(CHANGES_KEY) or "[]")

    def log_code_change(self, change: dict) -> dict:
        """Append a change, stamped with the newest decision it applies to."""
        last = self.db.execute("SELECT coalesce(max(id), 0) FROM decisions").fetchone()[0]
        entry = {**change, "last_decision": last}
        self.set_setting(CHANGES_KEY, json.dumps([*self.code_changes(), entry], ensure_ascii=False))
        return entry

    def current_code_names(self, decisions: Iterable[Decision]) -> list[Decision]:
        """Decisions with their code names read through later renames, merges and removals."""
        changes = [c for c in self.code_changes() if c["change"] in ("rename", "merge", "remove")]
        decisions = list(decisions)
        if not changes:
            return decisions
        return [_through(d, changes) for d in decisions]


def _through(decision: Decision, changes: list[dict]) -> Decision:
    suggested, final = decision.suggested_code, list(decision.final_codes)
    for change in changes:
        if decision.id is None or decision.id > change["last_decision"]:
            continue  # the decision came after this change: it already uses the new names
        mapping = _mapping(change)
        if suggested in mapping:
            suggested = mapping[suggested]
        final = [mapping.get(code, code) for code in final]
    final = [code for code in dict.fromkeys(final) if code is not None]  # a merge can name one code twice
    if suggested == decision.suggested_code and tuple(final) == decision.final_codes:
        return decision
    return replace(decision, suggested_code=suggested, final_codes=tuple(final))


def _mapping(change: dict) -> dict[str, str | None]:
    if change["change"] == "rename":
        return {change["code"]: change["into"]}
    if change["change"] == "merge":
        return {code: change["into"] for code in change["codes"]}
    return {change["code"]: None}


def _strength(probability: float | None, score: float | None) -> tuple[bool, float]:
    """Which of two suggestions for one unit to keep: a calibrated probability beats a similarity score,
    then the higher value (the two are not on one scale, so they are never compared with each other)."""
    return (probability is not None, probability if probability is not None else score)
