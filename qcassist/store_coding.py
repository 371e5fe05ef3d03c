"""The store's coding tables: codings, review decisions and condensates.

A mixin of ``Store`` (kept apart so neither file grows past a screenful of seams); it
uses only ``self.db`` and ``self.transaction()``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import datetime, timezone

from .model import Coding, Condensate, Decision

_CODING_COLUMNS = "c.unit_id, c.code, c.coder, c.origin, c.created_at, c.id, c.span_start, c.span_end"
_DECISION_COLUMNS = ("d.unit_id, d.action, d.coder, d.suggested_code, d.probability, d.model_version, d.final_codes,"
                     " d.memo, d.reverses, d.created_at, d.id")
_INSERT_CODING = (
    "INSERT OR IGNORE INTO codings (unit_id, code, coder, origin, created_at, span_start, span_end) VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class CodingTables:
    db: sqlite3.Connection
    current_code_names: Callable[[Iterable[Decision]], list[Decision]]  # provided by store_codebook's mixin

    def transaction(self) -> AbstractContextManager[None]:  # provided by Store
        raise NotImplementedError

    # --- codings -----------------------------------------------------------------

    def add_coding(self, coding: Coding) -> Coding:
        """Store one coding; an identical one (unit, code, coder, span) is an IntegrityError."""
        created = coding.created_at or now()
        with self.transaction():
            cursor = self.db.execute(_INSERT_CODING.replace("OR IGNORE ", ""), _coding_row(coding, created))
        return replace(coding, id=cursor.lastrowid, created_at=created)

    def add_codings(self, codings: Iterable[Coding]) -> int:
        """Add many codings at once; an identical (unit, code, coder, span) coding is kept once. Returns how many were new."""
        created = now()
        with self.transaction():
            before = self.db.total_changes
            self.db.executemany(_INSERT_CODING, [_coding_row(c, c.created_at or created) for c in codings])
            return self.db.total_changes - before

    def codings(self, transcript_id: int | None = None, *, coders: Iterable[str] | None = None) -> list[Coding]:
        """Codings in the order they were made, optionally of one transcript and some coders."""
        sql = f"SELECT {_CODING_COLUMNS} FROM codings c JOIN units u ON u.id = c.unit_id WHERE 1"
        args: list = []
        if transcript_id is not None:
            sql += " AND u.transcript_id = ?"
            args.append(transcript_id)
        if coders is not None:
            coders = list(coders)
            sql += f" AND c.coder IN ({', '.join('?' * len(coders))})"
            args.extend(coders)
        return [Coding(*row) for row in self.db.execute(sql + " ORDER BY c.id", args)]

    def coders(self) -> list[dict]:
        """Every coder with codings: how many codings and units, and the origins of their codings."""
        rows = self.db.execute(
            "SELECT coder, count(*), count(DISTINCT unit_id), group_concat(DISTINCT origin), min(created_at), max(created_at) "
            "FROM codings GROUP BY coder ORDER BY coder"
        ).fetchall()
        return [
            {"coder": coder, "codings": n, "units": units, "origins": sorted(origins.split(",")), "first": first, "last": last}
            for coder, n, units, origins, first, last in rows
        ]

    # --- review decisions --------------------------------------------------------

    def record_decision(self, decision: Decision) -> Decision:
        """Store one decision and its effect on the codings, in one committed transaction."""
        with self.transaction():
            created = decision.created_at or now()
            cursor = self.db.execute(
                "INSERT INTO decisions (unit_id, action, coder, suggested_code, probability, model_version, final_codes,"
                " memo, reverses, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (decision.unit_id, decision.action, decision.coder, decision.suggested_code, decision.probability,
                 decision.model_version, json.dumps(list(decision.final_codes)), decision.memo, decision.reverses, created),
            )
            stored = replace(decision, id=cursor.lastrowid, created_at=created)
            if decision.action == "undo":
                self.db.execute("DELETE FROM codings WHERE decision_id = ?", (decision.reverses,))
            elif decision.action in ("accept", "recode", "add"):
                self.db.executemany(
                    "INSERT OR IGNORE INTO codings (unit_id, code, coder, origin, created_at, decision_id) VALUES (?, ?, ?, 'review', ?, ?)",
                    [(decision.unit_id, code, decision.coder, created, stored.id) for code in decision.final_codes],
                )
        return stored

    def decisions(self, *, coder: str | None = None) -> list[Decision]:
        sql = f"SELECT {_DECISION_COLUMNS} FROM decisions d"
        args: tuple = ()
        if coder is not None:
            sql += " WHERE coder = ?"
            args = (coder,)
        rows = self.db.execute(sql + " ORDER BY id", args).fetchall()
        return self.current_code_names(_decision(row) for row in rows)  # the rows keep the names as recorded; see store_codebook

    def negatives(self) -> set[tuple[int, str]]:
        """(unit, code) pairs a reviewer rejected (reject, or recode away), not undone, not since coded.

        Codes are read through the codebook's later renames and merges (``current_code_names``).
        """
        rows = self.db.execute(
            f"""
            SELECT {_DECISION_COLUMNS} FROM decisions d
            WHERE d.action IN ('reject', 'recode') AND d.suggested_code IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM decisions u WHERE u.action = 'undo' AND u.reverses = d.id)
            ORDER BY d.id
            """
        ).fetchall()
        rejected = self.current_code_names(_decision(row) for row in rows)
        coded = set(self.db.execute("SELECT unit_id, code FROM codings WHERE origin IN ('human', 'review')").fetchall())
        return {(d.unit_id, d.suggested_code) for d in rejected
                if d.suggested_code is not None and (d.unit_id, d.suggested_code) not in coded}

    # --- condensates ---------------------------------------------------------------

    def condensates(self) -> dict[str, Condensate]:
        rows = self.db.execute("SELECT code, text, quote_unit, updated_at FROM condensates ORDER BY code").fetchall()
        return {row[0]: Condensate(*row) for row in rows}

    def save_condensate(self, condensate: Condensate) -> Condensate:
        """Insert or replace the condensate of one code group (the code must exist; the unit too, if given)."""
        stored = replace(condensate, updated_at=now())
        with self.transaction():
            self.db.execute(
                "INSERT INTO condensates (code, text, quote_unit, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (code) DO UPDATE SET text = excluded.text, quote_unit = excluded.quote_unit, updated_at = excluded.updated_at",
                (stored.code, stored.text, stored.quote_unit, stored.updated_at),
            )
        return stored

    def coding_decisions(self) -> dict[int, int]:
        """Coding id → id of the review decision that made it (codings from files have none)."""
        rows = self.db.execute("SELECT id, decision_id FROM codings WHERE decision_id IS NOT NULL").fetchall()
        return dict(rows)


def _decision(row: tuple) -> Decision:
    unit_id, action, coder, suggested, probability, version, final, memo, reverses, created, decision_id = row
    return Decision(unit_id, action, coder, suggested, probability, version, tuple(json.loads(final)), memo, reverses,
                    created, decision_id)


def _coding_row(coding: Coding, created: str) -> tuple:
    return (coding.unit_id, coding.code, coding.coder, coding.origin, created, coding.start, coding.end)
