"""The store's corpus tables: transcripts, their turns and meaning units.

A mixin of ``Store`` (kept apart so neither file grows past a screenful of seams); it
uses only ``self.db`` and ``self.transaction()``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import replace

from .model import MeaningUnit, Transcript, Turn
from .store_coding import now

ID_CHUNK = 500  # ids bound in one IN (...) query: below SQLite's limit on bound parameters


class CorpusTables:
    db: sqlite3.Connection

    def transaction(self) -> AbstractContextManager[None]:  # provided by Store
        raise NotImplementedError

    # --- transcripts -------------------------------------------------------------

    def add_transcript(self, transcript: Transcript) -> Transcript:
        with self.transaction():
            cursor = self.db.execute(
                "INSERT INTO transcripts (name, source_path, text, content_hash, metadata, imported_at) VALUES (?, ?, ?, ?, ?, ?)",
                (transcript.name, transcript.source_path, transcript.text, transcript.content_hash,
                 json.dumps(transcript.metadata, sort_keys=True), now()),
            )
            transcript_id = cursor.lastrowid
            self._insert_turns(transcript_id, transcript.turns)
        return replace(transcript, id=transcript_id)

    def delete_transcript(self, transcript_id: int) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM units WHERE transcript_id = ?", (transcript_id,))
            self.db.execute("DELETE FROM transcripts WHERE id = ?", (transcript_id,))

    def replace_transcript(self, transcript_id: int, transcript: Transcript) -> Transcript:
        """Give a stored transcript a new text and turns, keeping its id (its units are re-made by the caller)."""
        with self.transaction():
            self.db.execute(
                "UPDATE transcripts SET source_path = ?, text = ?, content_hash = ?, metadata = ?, imported_at = ? WHERE id = ?",
                (transcript.source_path, transcript.text, transcript.content_hash,
                 json.dumps(transcript.metadata, sort_keys=True), now(), transcript_id),
            )
            self.db.execute("DELETE FROM turns WHERE transcript_id = ?", (transcript_id,))
            self._insert_turns(transcript_id, transcript.turns)
        return replace(transcript, id=transcript_id)

    def set_turn_roles(self, transcript_id: int, roles: dict[str, str]) -> None:
        """Set the role of every turn of the named speakers (speaker label → role)."""
        with self.transaction():
            self.db.executemany(
                "UPDATE turns SET role = ? WHERE transcript_id = ? AND speaker = ?",
                [(role, transcript_id, speaker) for speaker, role in roles.items()],
            )

    def _insert_turns(self, transcript_id: int, turns) -> None:
        self.db.executemany(
            'INSERT INTO turns (transcript_id, idx, speaker, role, start, "end", start_time, end_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
            [(transcript_id, i, t.speaker, t.role, t.start, t.end, t.start_time, t.end_time) for i, t in enumerate(turns)],
        )

    def transcript(self, transcript_id: int) -> Transcript:
        row = self.db.execute("SELECT * FROM transcripts WHERE id = ?", (transcript_id,)).fetchone()
        if row is None:
            raise KeyError(transcript_id)
        return self._transcript_from_row(row)

    def transcript_by_name(self, name: str) -> Transcript | None:
        row = self.db.execute("SELECT * FROM transcripts WHERE name = ?", (name,)).fetchone()
        return self._transcript_from_row(row) if row else None

    def transcripts(self) -> list[Transcript]:
        rows = self.db.execute("SELECT * FROM transcripts ORDER BY id").fetchall()
        return [self._transcript_from_row(row) for row in rows]

    def transcript_names(self) -> list[str]:
        """Every transcript's name, in id order, without reading their texts."""
        return list(self.transcript_ids())

    def transcript_ids(self) -> dict[str, int]:
        """Every transcript's id by name, in id order, without reading their texts."""
        return dict(self.db.execute("SELECT name, id FROM transcripts ORDER BY id"))

    def speaker_summaries(self) -> list[Transcript]:
        """Each transcript's speakers and roles without its text: one turn per (speaker, role), in order of first turn.

        For checks across the project (one person, one role) that would otherwise read every text.
        """
        rows = self.db.execute(
            "SELECT tr.id, tr.name, tu.speaker, tu.role FROM turns tu JOIN transcripts tr ON tr.id = tu.transcript_id"
            " GROUP BY tu.transcript_id, tu.speaker, tu.role ORDER BY tu.transcript_id, MIN(tu.idx)"
        )
        summaries: dict[int, tuple[str, list[Turn]]] = {}
        for transcript_id, name, speaker, role in rows:
            summaries.setdefault(transcript_id, (name, []))[1].append(Turn(speaker, role, 0, 0))
        return [Transcript(name, "", tuple(turns), id=tid) for tid, (name, turns) in summaries.items()]

    def iter_transcripts(self, page: int = 64) -> Iterator[Transcript]:
        """Every transcript in id order, read ``page`` at a time: memory stays bounded on any corpus.

        Pages are keyed by id rather than one open cursor, so the caller may write between them.
        """
        last = 0
        while True:
            rows = self.db.execute("SELECT * FROM transcripts WHERE id > ? ORDER BY id LIMIT ?", (last, page)).fetchall()
            for row in rows:
                yield self._transcript_from_row(row)
            if len(rows) < page:
                return
            last = rows[-1][0]

    def _transcript_from_row(self, row: tuple) -> Transcript:
        transcript_id, name, source_path, text, content_hash, metadata, _segmentation, _imported = row
        turns = tuple(
            Turn(speaker, role, start, end, start_time, end_time)
            for speaker, role, start, end, start_time, end_time in self.db.execute(
                'SELECT speaker, role, start, "end", start_time, end_time FROM turns WHERE transcript_id = ? ORDER BY idx',
                (transcript_id,),
            )
        )
        return Transcript(name, text, turns, source_path, content_hash, json.loads(metadata), transcript_id)

    def segmentation(self, transcript_id: int) -> dict | None:
        row = self.db.execute("SELECT segmentation FROM transcripts WHERE id = ?", (transcript_id,)).fetchone()
        return json.loads(row[0]) if row and row[0] else None

    # --- units -------------------------------------------------------------------

    def replace_units(
        self,
        transcript_id: int,
        units: Iterable[MeaningUnit],
        segmentation: dict,
        moves: dict[int, int] | None = None,
        spans: dict[int, tuple[int, int]] | None = None,
    ) -> list[MeaningUnit]:
        """Swap a transcript's units for new ones, moving the work on the old units first.

        ``moves`` maps old unit id → index of its new unit: its codings, review decisions
        (history, so moving means pointing them at the new unit), a condensate's chosen
        quotation and suggestion rationales follow. ``spans`` gives codings' own spans in
        a new text (coding id → span). An old unit with codings or decisions and no move
        makes the whole call fail (RESTRICT). Two identical codings landing on one unit
        are kept once.
        """
        moves = moves or {}
        spans = spans or {}
        with self.transaction():
            old_ids = [row[0] for row in self.db.execute("SELECT id FROM units WHERE transcript_id = ?", (transcript_id,))]
            stored = [self._insert_unit(unit) for unit in units]
            targets = {old: stored[index].id for old, index in moves.items()}
            for old, target in targets.items():
                self._move_codings(old, target, spans)
                self.db.execute("UPDATE decisions SET unit_id = ? WHERE unit_id = ?", (target, old))
                self.db.execute("UPDATE condensates SET quote_unit = ? WHERE quote_unit = ?", (target, old))
            self._remap_rationales(targets)
            self.db.executemany("DELETE FROM units WHERE id = ?", [(i,) for i in old_ids])
            self.db.execute(
                "UPDATE transcripts SET segmentation = ? WHERE id = ?", (json.dumps(segmentation, sort_keys=True), transcript_id)
            )
        return stored

    def _move_codings(self, old: int, target: int, spans: dict[int, tuple[int, int]]) -> None:
        rows = self.db.execute(
            "SELECT id, code, coder, span_start, span_end FROM codings WHERE unit_id = ? ORDER BY id", (old,)
        ).fetchall()
        for coding_id, code, coder, span_start, span_end in rows:
            if span_start is not None and coding_id in spans:
                span_start, span_end = spans[coding_id]
            duplicate = self.db.execute(
                "SELECT 1 FROM codings WHERE unit_id = ? AND code = ? AND coder = ? AND span_start IS ? AND span_end IS ?",
                (target, code, coder, span_start, span_end),
            ).fetchone()
            if duplicate:
                self.db.execute("DELETE FROM codings WHERE id = ?", (coding_id,))
            else:
                self.db.execute(
                    "UPDATE codings SET unit_id = ?, span_start = ?, span_end = ? WHERE id = ?",
                    (target, span_start, span_end, coding_id),
                )

    def _remap_rationales(self, targets: dict[int, int]) -> None:
        """Suggestions elsewhere cite coded units by id; point them at where those units went."""
        if not targets:
            return
        for suggestion_id, rationale in self.db.execute("SELECT id, rationale FROM suggestions").fetchall():
            ids = json.loads(rationale)
            if any(i in targets for i in ids):
                remapped = list(dict.fromkeys(targets.get(i, i) for i in ids))
                self.db.execute("UPDATE suggestions SET rationale = ? WHERE id = ?", (json.dumps(remapped), suggestion_id))

    def _insert_unit(self, unit: MeaningUnit) -> MeaningUnit:
        cursor = self.db.execute(
            'INSERT INTO units (transcript_id, start, "end", turn_idx, speaker, external_id) VALUES (?, ?, ?, ?, ?, ?)',
            (unit.transcript_id, unit.start, unit.end, unit.turn_index, unit.speaker, unit.external_id),
        )
        return replace(unit, id=cursor.lastrowid)

    def units(self, transcript_id: int | None = None) -> list[MeaningUnit]:
        sql = 'SELECT transcript_id, start, "end", turn_idx, speaker, id, external_id FROM units'
        args: tuple = ()
        if transcript_id is not None:
            sql += " WHERE transcript_id = ?"
            args = (transcript_id,)
        rows = self.db.execute(sql + " ORDER BY transcript_id, start", args).fetchall()
        return [MeaningUnit(*row) for row in rows]

    def units_by_id(self, ids: Iterable[int]) -> dict[int, MeaningUnit]:
        """The units with these ids (absent ones left out), read in chunks: for callers that need a few, not all."""
        wanted = sorted(set(ids))
        found: dict[int, MeaningUnit] = {}
        for i in range(0, len(wanted), ID_CHUNK):
            chunk = wanted[i:i + ID_CHUNK]
            rows = self.db.execute(
                'SELECT transcript_id, start, "end", turn_idx, speaker, id, external_id FROM units WHERE id IN '
                f'({",".join("?" * len(chunk))})', chunk,
            )
            found.update((row[5], MeaningUnit(*row)) for row in rows)
        return found

    def missing_unit_ids(self, ids: Iterable[int]) -> list[int]:
        """Those of ``ids`` that name no unit (re-cut or removed), in order, checked in chunks: no unit is read."""
        ids = list(ids)
        missing: list[int] = []
        for i in range(0, len(ids), ID_CHUNK):
            chunk = ids[i:i + ID_CHUNK]
            present = {row[0] for row in self.db.execute(
                f'SELECT id FROM units WHERE id IN ({",".join("?" * len(chunk))})', chunk)}
            missing += [unit_id for unit_id in chunk if unit_id not in present]
        return missing

    def add_units(self, units: Iterable[MeaningUnit], segmentation: dict) -> list[MeaningUnit]:
        """Add units to transcripts that have none yet (e.g. units cut by another tool)."""
        with self.transaction():
            stored = [self._insert_unit(unit) for unit in units]
            for transcript_id in {u.transcript_id for u in stored}:
                self.db.execute(
                    "UPDATE transcripts SET segmentation = ? WHERE id = ?",
                    (json.dumps(segmentation, sort_keys=True), transcript_id),
                )
        return stored
