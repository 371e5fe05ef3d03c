"""The project database's schema: small registered migrations, one per schema version."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable


def _run_script(db: sqlite3.Connection, script: str) -> None:
    """Run statements one by one: executescript would COMMIT the migration's transaction."""
    for statement in script.split(";\n"):
        if statement.strip():
            db.execute(statement)


def _migration_1(db: sqlite3.Connection) -> None:
    _run_script(
        db,
        """
        CREATE TABLE transcripts (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            source_path TEXT NOT NULL,
            text TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            metadata TEXT NOT NULL DEFAULT '{}',
            segmentation TEXT,
            imported_at TEXT NOT NULL
        );
        CREATE TABLE turns (
            transcript_id INTEGER NOT NULL REFERENCES transcripts(id) ON DELETE CASCADE,
            idx INTEGER NOT NULL,
            speaker TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('interviewer', 'participant', 'other')),
            start INTEGER NOT NULL,
            "end" INTEGER NOT NULL,
            start_time REAL,
            end_time REAL,
            PRIMARY KEY (transcript_id, idx),
            CHECK (0 <= start AND start <= "end")
        );
        CREATE TABLE units (
            id INTEGER PRIMARY KEY,
            transcript_id INTEGER NOT NULL REFERENCES transcripts(id) ON DELETE CASCADE,
            start INTEGER NOT NULL,
            "end" INTEGER NOT NULL,
            turn_idx INTEGER,
            speaker TEXT,
            CHECK (0 <= start AND start < "end")
        );
        CREATE INDEX units_by_transcript ON units (transcript_id, start);
        CREATE TABLE codes (
            name TEXT PRIMARY KEY,
            parent TEXT REFERENCES codes(name) ON UPDATE CASCADE,
            description TEXT NOT NULL DEFAULT '',
            position INTEGER NOT NULL
        );
        -- A coding outlives nothing silently: deleting a coded unit fails (RESTRICT).
        CREATE TABLE codings (
            id INTEGER PRIMARY KEY,
            unit_id INTEGER NOT NULL REFERENCES units(id) ON DELETE RESTRICT,
            code TEXT NOT NULL REFERENCES codes(name) ON UPDATE CASCADE,
            coder TEXT NOT NULL,
            origin TEXT NOT NULL CHECK (origin IN ('human', 'model', 'review')),
            created_at TEXT NOT NULL,
            UNIQUE (unit_id, code, coder)
        );
        CREATE INDEX codings_by_unit ON codings (unit_id);
        """
    )


def _migration_2(db: sqlite3.Connection) -> None:
    """Suggestions: external unit ids, project settings, saved classifiers, suggestions, evaluations."""
    _run_script(
        db,
        """
        ALTER TABLE units ADD COLUMN external_id TEXT;
        CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        CREATE TABLE classifiers (
            version TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            encoder TEXT NOT NULL,
            manifest TEXT NOT NULL
        );
        -- Suggestions are model output and can be re-made: they go with their unit.
        CREATE TABLE suggestions (
            id INTEGER PRIMARY KEY,
            unit_id INTEGER NOT NULL REFERENCES units(id) ON DELETE CASCADE,
            code TEXT NOT NULL REFERENCES codes(name) ON UPDATE CASCADE,
            probability REAL NOT NULL,
            model_version TEXT NOT NULL REFERENCES classifiers(version),
            source TEXT NOT NULL CHECK (source IN ('classifier', 'exemplar', 'description')),
            rationale TEXT NOT NULL DEFAULT '[]',
            created_at TEXT NOT NULL,
            UNIQUE (unit_id, code, model_version)
        );
        CREATE INDEX suggestions_by_unit ON suggestions (unit_id);
        CREATE TABLE evaluations (
            id INTEGER PRIMARY KEY,
            created_at TEXT NOT NULL,
            result TEXT NOT NULL
        )
        """,
    )


def _migration_3(db: sqlite3.Connection) -> None:
    """Review: decisions are append-only history; codings they made point back to them."""
    _run_script(
        db,
        """
        CREATE TABLE decisions (
            id INTEGER PRIMARY KEY,
            unit_id INTEGER NOT NULL REFERENCES units(id) ON DELETE RESTRICT,
            action TEXT NOT NULL CHECK (action IN ('accept', 'reject', 'recode', 'add', 'skip', 'undo')),
            coder TEXT NOT NULL,
            suggested_code TEXT,
            probability REAL,
            model_version TEXT,
            final_codes TEXT NOT NULL DEFAULT '[]',
            memo TEXT NOT NULL DEFAULT '',
            reverses INTEGER REFERENCES decisions(id),
            created_at TEXT NOT NULL
        );
        CREATE INDEX decisions_by_unit ON decisions (unit_id);
        ALTER TABLE codings ADD COLUMN decision_id INTEGER REFERENCES decisions(id)
        """,
    )


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_migration_1, _migration_2, _migration_3]
SCHEMA_VERSION = len(MIGRATIONS)
