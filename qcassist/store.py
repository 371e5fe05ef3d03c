"""The project store: one SQLite database per project directory; with ``store_coding`` the only code that knows SQL.

WAL mode, foreign keys on, a busy timeout, a schema version (``PRAGMA user_version``)
with small registered migrations, and ``transaction()`` so each command writes all or
nothing.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from .errors import ProjectError
from .model import Code, Codebook, MeaningUnit, Suggestion, Transcript, Turn
from .schema import MIGRATIONS, SCHEMA_VERSION
from .store_codebook import CodebookTables
from .store_coding import CodingTables, now

DB_NAME = "qcassist.db"
CACHE_DIR = ".qcassist-cache"
BUSY_TIMEOUT_MS = 10_000


__all__ = ["Store", "now", "DB_NAME"]


class Store(CodingTables, CodebookTables):
    """An open project. Use ``Store.create`` or ``Store.open``; close it, or use it as a context manager."""

    def __init__(self, directory: Path, db: sqlite3.Connection):
        self.directory = directory
        self.db = db
        self._depth = 0

    # --- opening -----------------------------------------------------------------

    @classmethod
    def create(cls, directory: str | Path) -> Store:
        """Make ``directory`` a project (idempotent on an existing project)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        return cls._open(directory, create=True)

    @classmethod
    def open(cls, directory: str | Path) -> Store:
        """Open an existing project; ProjectError if it is not one."""
        directory = Path(directory)
        if not (directory / DB_NAME).is_file():
            raise ProjectError(
                f"{directory}: not a qcassist project (no {DB_NAME}); run 'qcassist init' there or pass --project DIR."
            )
        return cls._open(directory, create=False)

    @classmethod
    def _open(cls, directory: Path, *, create: bool) -> Store:
        path = directory / DB_NAME
        db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        try:
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            db.execute("PRAGMA foreign_keys = ON")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version == 0 and not create:
                raise ProjectError(f"{path}: database has no qcassist schema (empty or foreign file); move it away and run 'qcassist init'.")
            if version > SCHEMA_VERSION:
                raise ProjectError(
                    f"{path}: made by a newer qcassist (schema {version}, this one knows {SCHEMA_VERSION}); upgrade qcassist."
                )
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = FULL")  # a decision shown as recorded survives a crash
            store = cls(directory, db)
            store._migrate(version)
            return store
        except sqlite3.DatabaseError as exc:
            db.close()
            raise ProjectError(f"{path}: not a readable qcassist database ({exc}); restore it from a backup or move it away.") from None
        except ProjectError:
            db.close()
            raise

    def _migrate(self, version: int) -> None:
        for number in range(version, SCHEMA_VERSION):
            with self.transaction():
                MIGRATIONS[number](self.db)
                self.db.execute(f"PRAGMA user_version = {number + 1}")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def cache_dir(self) -> Path:
        return self.directory / CACHE_DIR

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together or not at all; nested uses join the outer one."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self.db.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            self.db.execute("COMMIT")
        finally:
            self._depth = 0

    # --- transcripts -------------------------------------------------------------

    def add_transcript(self, transcript: Transcript) -> Transcript:
        with self.transaction():
            cursor = self.db.execute(
                "INSERT INTO transcripts (name, source_path, text, content_hash, metadata, imported_at) VALUES (?, ?, ?, ?, ?, ?)",
                (transcript.name, transcript.source_path, transcript.text, transcript.content_hash,
                 json.dumps(transcript.metadata, sort_keys=True), now()),
            )
            transcript_id = cursor.lastrowid
            self.db.executemany(
                'INSERT INTO turns (transcript_id, idx, speaker, role, start, "end", start_time, end_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
                [(transcript_id, i, t.speaker, t.role, t.start, t.end, t.start_time, t.end_time) for i, t in enumerate(transcript.turns)],
            )
        return replace(transcript, id=transcript_id)

    def delete_transcript(self, transcript_id: int) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM units WHERE transcript_id = ?", (transcript_id,))
            self.db.execute("DELETE FROM transcripts WHERE id = ?", (transcript_id,))

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
    ) -> list[MeaningUnit]:
        """Swap a transcript's units for new ones, moving codings first.

        ``moves`` maps coding id → index of its new unit. A coding whose unit disappears
        without a move makes the whole call fail (the codings table RESTRICTs it). Two
        identical codings landing on one unit are kept once.
        """
        moves = moves or {}
        with self.transaction():
            old_ids = [row[0] for row in self.db.execute("SELECT id FROM units WHERE transcript_id = ?", (transcript_id,))]
            stored = [self._insert_unit(unit) for unit in units]
            for coding_id, index in moves.items():
                target = stored[index].id
                duplicate = self.db.execute(
                    "SELECT 1 FROM codings c JOIN codings d ON d.code = c.code AND d.coder = c.coder "
                    "AND d.span_start IS c.span_start AND d.span_end IS c.span_end WHERE c.id = ? AND d.unit_id = ?", (coding_id, target),
                ).fetchone()
                if duplicate:
                    self.db.execute("DELETE FROM codings WHERE id = ?", (coding_id,))
                else:
                    self.db.execute("UPDATE codings SET unit_id = ? WHERE id = ?", (target, coding_id))
            self.db.executemany("DELETE FROM units WHERE id = ?", [(i,) for i in old_ids])
            self.db.execute(
                "UPDATE transcripts SET segmentation = ? WHERE id = ?", (json.dumps(segmentation, sort_keys=True), transcript_id)
            )
        return stored

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

    # --- codebook ----------------------------------------------------------------

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

    def save_codebook(self, codebook: Codebook) -> None:
        """Insert or update codes (parents first); codes in use are never deleted here."""
        with self.transaction():
            self.set_setting("codebook.exclusive", "true" if codebook.exclusive else "false")
            position = {code.name: i for i, code in enumerate(codebook.codes)}
            for code in _parents_first(codebook):
                self.db.execute(
                    "INSERT INTO codes (name, parent, description, position) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET parent = excluded.parent, description = excluded.description, position = excluded.position",
                    (code.name, code.parent, code.description, position[code.name]),
                )

    def codebook(self) -> Codebook:
        rows = self.db.execute("SELECT name, parent, description FROM codes ORDER BY position").fetchall()
        return Codebook(tuple(Code(*row) for row in rows), exclusive=self.setting("codebook.exclusive") == "true")

    # --- settings ----------------------------------------------------------------

    def setting(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_setting(self, key: str, value: str) -> None:
        with self.transaction():
            self.db.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # --- classifiers and suggestions ---------------------------------------------

    def add_classifier(self, version: str, encoder: str, manifest: dict) -> None:
        with self.transaction():
            self.db.execute(
                "INSERT INTO classifiers (version, created_at, encoder, manifest) VALUES (?, ?, ?, ?)",
                (version, now(), encoder, json.dumps(manifest, sort_keys=True)),
            )

    def classifier_versions(self) -> set[str]:
        return {row[0] for row in self.db.execute("SELECT version FROM classifiers")}

    def latest_classifier(self) -> tuple[str, dict] | None:
        row = self.db.execute("SELECT version, manifest FROM classifiers ORDER BY created_at DESC, rowid DESC LIMIT 1").fetchone()
        return (row[0], json.loads(row[1])) if row else None

    def replace_suggestions(self, suggestions: Iterable[Suggestion], unit_ids: Iterable[int]) -> int:
        """Drop earlier suggestions for these units and store the new ones, in one transaction."""
        with self.transaction():
            self.db.executemany("DELETE FROM suggestions WHERE unit_id = ?", [(i,) for i in unit_ids])
            rows = [
                (s.unit_id, s.code, s.probability, s.model_version, s.source, json.dumps(list(s.rationale)), s.created_at or now())
                for s in suggestions
            ]
            self.db.executemany(
                "INSERT INTO suggestions (unit_id, code, probability, model_version, source, rationale, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        return len(rows)

    def suggestions(self, transcript_id: int | None = None) -> list[Suggestion]:
        sql = (
            "SELECT s.unit_id, s.code, s.probability, s.model_version, s.source, s.rationale, s.created_at, s.id "
            "FROM suggestions s JOIN units u ON u.id = s.unit_id"
        )
        args: tuple = ()
        if transcript_id is not None:
            sql += " WHERE u.transcript_id = ?"
            args = (transcript_id,)
        rows = self.db.execute(sql + " ORDER BY u.transcript_id, u.start, s.probability DESC", args)
        return [Suggestion(u, c, p, v, src, tuple(json.loads(r)), t, i) for u, c, p, v, src, r, t, i in rows]

    def add_evaluation(self, result: dict) -> None:
        with self.transaction():
            self.db.execute("INSERT INTO evaluations (created_at, result) VALUES (?, ?)", (now(), json.dumps(result)))

    def latest_evaluation(self) -> dict | None:
        row = self.db.execute("SELECT result FROM evaluations ORDER BY id DESC LIMIT 1").fetchone()
        return json.loads(row[0]) if row else None

    # --- summaries ---------------------------------------------------------------

    def counts(self) -> list[dict]:
        """Per transcript: turns, participant turns, units, codings, segmentation strategy."""
        rows = self.db.execute(
            """
            SELECT t.id, t.name, t.metadata, t.segmentation,
                   (SELECT count(*) FROM turns WHERE transcript_id = t.id),
                   (SELECT count(*) FROM turns WHERE transcript_id = t.id AND role = 'participant'),
                   (SELECT count(*) FROM units WHERE transcript_id = t.id),
                   (SELECT count(*) FROM codings c JOIN units u ON u.id = c.unit_id WHERE u.transcript_id = t.id),
                   length(t.text)
            FROM transcripts t ORDER BY t.id
            """
        ).fetchall()
        return [
            {
                "transcript": name, "id": tid, "format": json.loads(meta).get("format", ""),
                "characters": chars, "turns": turns, "participant_turns": pturns, "units": units,
                "codings": codings, "segmentation": json.loads(seg)["strategy"] if seg else None,
            }
            for tid, name, meta, seg, turns, pturns, units, codings, chars in rows
        ]


def _parents_first(codebook: Codebook) -> list[Code]:
    ordered: list[Code] = []
    placed: set[str] = set()
    pending = list(codebook.codes)
    while pending:
        ready = [c for c in pending if c.parent is None or c.parent in placed]
        if not ready:
            raise ValueError(f"codebook has a cycle or unknown parent among: {', '.join(c.name for c in pending)}")
        for code in ready:
            ordered.append(code)
            placed.add(code.name)
        pending = [c for c in pending if c.name not in placed]
    return ordered
