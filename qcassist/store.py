"""The project store: one SQLite database per project directory; with ``store_corpus``, ``store_coding`` and
``store_codebook`` the only code that knows SQL.

WAL mode, foreign keys on, a busy timeout, a schema version (``PRAGMA user_version``)
with small registered migrations, and ``transaction()`` so each command writes all or
nothing. A transaction that meets another command's write waits for it with a notice
instead of failing; sqlite errors on opening or writing become a ProjectError with one
accurate sentence (busy, read-only, disk full, corrupt).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import BusyError, ProjectError, sqlite_failure, warn_user
from .model import Code, Codebook, Suggestion
from .schema import MIGRATIONS, SCHEMA_VERSION
from .store_codebook import CodebookTables
from .store_coding import CodingTables, now
from .store_corpus import CorpusTables

DB_NAME = "qcassist.db"
CACHE_DIR = ".qcassist-cache"
BUSY_TIMEOUT_MS = 10_000
# A write transaction that meets another command's says so after WAIT_NOTICE_S and gives up after
# LOCK_WAIT_S (QCASSIST_LOCK_WAIT seconds): long enough for a big import, short of hanging a script.
WAIT_NOTICE_S = 1.0
LOCK_WAIT_S = float(os.environ.get("QCASSIST_LOCK_WAIT", 600))
# The databases this process opened, newest last: the CLI's error line names the file a bare sqlite3 error came from.
opened_databases: list[Path] = []


__all__ = ["Store", "now", "DB_NAME"]


def _readable_only_as_immutable(path: Path) -> bool:
    """True when the database's folder cannot be written and no -wal holds changes not yet in the file:
    then nobody can change the database while it is read, and reading the file alone misses nothing."""
    wal = path.with_name(path.name + "-wal")
    try:
        return not os.access(path.parent, os.W_OK) and (not wal.exists() or wal.stat().st_size == 0)
    except OSError:
        return False


class Store(CorpusTables, CodingTables, CodebookTables):
    """An open project. Use ``Store.create`` or ``Store.open``; close it, or use it as a context manager."""

    def __init__(self, directory: Path, db: sqlite3.Connection):
        self.directory = directory
        self.db = db
        self._depth = 0
        self._before_commit: dict[str, Callable[[], None]] = {}
        # called with the seconds waited while another command holds the database (the review screen
        # shows it on screen); None: one notice on standard error
        self.on_busy: Callable[[float], None] | None = None

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
        opened_databases.append(path)
        del opened_databases[:-8]  # only the latest few matter
        try:
            db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        except sqlite3.Error as exc:
            raise ProjectError(sqlite_failure(exc, path)) from None
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
            if db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                db.execute("PRAGMA journal_mode = WAL")  # only when needed: a read-only project still opens
            db.execute("PRAGMA synchronous = FULL")  # a decision shown as recorded survives a crash
            store = cls(directory, db)
            store._migrate(version)
            return store
        except sqlite3.DatabaseError as exc:
            db.close()
            if not create and _readable_only_as_immutable(path):
                return cls._open_immutable(directory, path)
            raise ProjectError(sqlite_failure(exc, path)) from None
        except BaseException:
            db.close()
            raise

    @classmethod
    def _open_immutable(cls, directory: Path, path: Path) -> Store:
        """A project in a folder nobody can write (a read-only mount or share): SQLite cannot make the -shm
        file it needs to read a WAL database, but no other command can write there either, so the file is read
        as it is (``immutable=1``); every write then fails as read-only, with one line."""
        try:
            db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True, isolation_level=None)
        except sqlite3.Error as exc:
            raise ProjectError(sqlite_failure(exc, path)) from None
        try:
            db.execute("PRAGMA foreign_keys = ON")
            version = db.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            db.close()
            raise ProjectError(sqlite_failure(exc, path)) from None
        if version != SCHEMA_VERSION:  # no schema, a newer one, or one that needs a migration it cannot write
            db.close()
            raise ProjectError(f"{path}: its folder is read-only and the database has schema {version}, not "
                               f"{SCHEMA_VERSION}; copy the project somewhere writable and run the command there.")
        return cls(directory, db)

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
    def path(self) -> Path:
        """The database file."""
        return self.directory / DB_NAME

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
        self._begin()
        self._depth = 1
        try:
            yield
        except sqlite3.OperationalError as exc:  # disk full, read-only, I/O error: one accurate line
            self._rollback()
            raise ProjectError(sqlite_failure(exc, self.path)) from exc
        except BaseException:
            self._rollback()
            raise
        else:
            try:
                self._run_before_commit()
                self.db.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                self._rollback()
                raise ProjectError(sqlite_failure(exc, self.path)) from exc
            except BaseException:
                self._rollback()
                raise
        finally:
            self._depth = 0

    def before_commit(self, key: str, action: Callable[[], None]) -> None:
        """Run ``action`` in the next write transaction just before it commits (once per ``key``; kept until one commits).

        For files that belong with what the transaction records (a fitted TF-IDF encoder):
        a command that fails first leaves none behind; one that cannot write them commits nothing.
        """
        self._before_commit[key] = action

    def _run_before_commit(self) -> None:
        while self._before_commit:
            key, action = next(iter(self._before_commit.items()))
            action()
            del self._before_commit[key]

    def _begin(self) -> None:
        """BEGIN IMMEDIATE, waiting for another command's write to finish (with a notice) rather than failing."""
        started = time.monotonic()
        told = False
        self.db.execute(f"PRAGMA busy_timeout = {int(WAIT_NOTICE_S * 1000)}")
        try:
            while True:
                try:
                    self.db.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as exc:
                    if not _is_busy(exc):
                        raise ProjectError(sqlite_failure(exc, self.path)) from exc
                    waited = time.monotonic() - started
                    if waited >= LOCK_WAIT_S:
                        raise BusyError(
                            f"{self.path} is busy: another qcassist command has been writing to it for "
                            f"{waited:.0f} s; try again when it has finished (nothing was changed)."
                        ) from None
                    if self.on_busy is not None:
                        self.on_busy(waited)
                    elif not told:
                        warn_user("waiting for another qcassist command to finish…")
                        told = True
        finally:
            self.db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    def _rollback(self) -> None:
        """Roll back; SQLite may already have rolled back itself (disk full, I/O error)."""
        if self.db.in_transaction:
            try:
                self.db.execute("ROLLBACK")
            except sqlite3.OperationalError:
                pass

    # --- codebook ----------------------------------------------------------------

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

    def classifiers(self) -> list[tuple[str, str, str, dict]]:
        """(version, created_at, encoder, manifest) of every registered model, newest (the active one) first."""
        rows = self.db.execute("SELECT version, created_at, encoder, manifest FROM classifiers "
                               "ORDER BY created_at DESC, rowid DESC")
        return [(v, t, e, json.loads(m)) for v, t, e, m in rows]

    def suggestions_per_version(self) -> dict[str, int]:
        """How many stored suggestions each model version made (their rows keep the version registered)."""
        return dict(self.db.execute("SELECT model_version, count(*) FROM suggestions GROUP BY model_version"))

    def remove_classifier(self, version: str) -> None:
        """Forget a model version (its folder is the caller's to remove); one no suggestion points to."""
        with self.transaction():
            self.db.execute("DELETE FROM classifiers WHERE version = ?", (version,))

    def replace_suggestions(self, suggestions: Iterable[Suggestion], unit_ids: Iterable[int]) -> int:
        """Drop earlier suggestions for these units and store the new ones, in one transaction."""
        with self.transaction():
            self.db.executemany("DELETE FROM suggestions WHERE unit_id = ?", [(i,) for i in unit_ids])
            rows = [
                (s.unit_id, s.code, s.probability, s.score, s.model_version, s.source, json.dumps(list(s.rationale)),
                 s.created_at or now())
                for s in suggestions
            ]
            self.db.executemany(
                "INSERT INTO suggestions (unit_id, code, probability, score, model_version, source, rationale, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        return len(rows)

    def suggestions(self, transcript_id: int | None = None) -> list[Suggestion]:
        sql = (
            "SELECT s.unit_id, s.code, s.probability, s.model_version, s.source, s.rationale, s.created_at, s.id, s.score "
            "FROM suggestions s JOIN units u ON u.id = s.unit_id"
        )
        args: tuple = ()
        if transcript_id is not None:
            sql += " WHERE u.transcript_id = ?"
            args = (transcript_id,)
        # a unit's suggestions strongest first: calibrated ones by probability, then the similarity-based ones
        rows = self.db.execute(
            sql + " ORDER BY u.transcript_id, u.start, s.probability IS NULL, coalesce(s.probability, s.score) DESC, s.code", args
        )
        return [Suggestion(u, c, p, v, src, tuple(json.loads(r)), t, i, score)
                for u, c, p, v, src, r, t, i, score in rows]

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


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text
