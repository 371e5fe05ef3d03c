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


def _migration_4(db: sqlite3.Connection) -> None:
    """Coders' own spans on codings, and the analyst's condensates per code group.

    A coder may code two different spans of one unit with one code (work from another
    QDA tool), so uniqueness now includes the span; SQLite cannot drop a table
    constraint, hence the rebuild.
    """
    _run_script(
        db,
        """
        CREATE TABLE codings_v4 (
            id INTEGER PRIMARY KEY,
            unit_id INTEGER NOT NULL REFERENCES units(id) ON DELETE RESTRICT,
            code TEXT NOT NULL REFERENCES codes(name) ON UPDATE CASCADE,
            coder TEXT NOT NULL,
            origin TEXT NOT NULL CHECK (origin IN ('human', 'model', 'review')),
            created_at TEXT NOT NULL,
            decision_id INTEGER REFERENCES decisions(id),
            span_start INTEGER,
            span_end INTEGER,
            CHECK ((span_start IS NULL) = (span_end IS NULL) AND (span_start IS NULL OR (0 <= span_start AND span_start < span_end)))
        );
        INSERT INTO codings_v4 (id, unit_id, code, coder, origin, created_at, decision_id)
            SELECT id, unit_id, code, coder, origin, created_at, decision_id FROM codings;
        DROP TABLE codings;
        ALTER TABLE codings_v4 RENAME TO codings;
        CREATE INDEX codings_by_unit ON codings (unit_id);
        CREATE UNIQUE INDEX codings_once ON codings (unit_id, code, coder, coalesce(span_start, -1), coalesce(span_end, -1));
        CREATE TABLE condensates (
            code TEXT PRIMARY KEY REFERENCES codes(name) ON UPDATE CASCADE ON DELETE CASCADE,
            text TEXT NOT NULL DEFAULT '',
            quote_unit INTEGER REFERENCES units(id) ON DELETE SET NULL,
            updated_at TEXT NOT NULL
        )
        """,
    )


def _migration_5(db: sqlite3.Connection) -> None:
    """Suggestions: a calibrated ``probability`` (classifier) or a similarity ``score`` (exemplar, description), never both.

    Earlier versions kept similarities in ``probability``; they move to ``score``.
    """
    _run_script(
        db,
        """
        CREATE TABLE suggestions_v5 (
            id INTEGER PRIMARY KEY,
            unit_id INTEGER NOT NULL REFERENCES units(id) ON DELETE CASCADE,
            code TEXT NOT NULL REFERENCES codes(name) ON UPDATE CASCADE,
            probability REAL,
            score REAL,
            model_version TEXT NOT NULL REFERENCES classifiers(version),
            source TEXT NOT NULL CHECK (source IN ('classifier', 'exemplar', 'description')),
            rationale TEXT NOT NULL DEFAULT '[]',
            created_at TEXT NOT NULL,
            UNIQUE (unit_id, code, model_version),
            CHECK ((source = 'classifier') = (probability IS NOT NULL) AND (probability IS NULL) = (score IS NOT NULL))
        );
        INSERT INTO suggestions_v5 (id, unit_id, code, probability, score, model_version, source, rationale, created_at)
            SELECT id, unit_id, code, CASE WHEN source = 'classifier' THEN probability END,
                   CASE WHEN source <> 'classifier' THEN probability END, model_version, source, rationale, created_at
            FROM suggestions;
        DROP TABLE suggestions;
        ALTER TABLE suggestions_v5 RENAME TO suggestions;
        CREATE INDEX suggestions_by_unit ON suggestions (unit_id)
        """,
    )


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_migration_1, _migration_2, _migration_3, _migration_4,
                                                          _migration_5]
SCHEMA_VERSION = len(MIGRATIONS)
