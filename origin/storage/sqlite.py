"""The SQLite backend: one connection in WAL mode and one database thread (the embedded default)."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from origin.storage import Params, Schema, Storage, StorageError

__all__ = ["SQLiteStorage"]

log = logging.getLogger("origin.storage")
T = TypeVar("T")


class SQLiteStorage(Storage):
    """One SQLite database file (parent directories are created; ``":memory:"`` works).

    Rows are :class:`sqlite3.Row` (index or key access).
    """

    dialect = "sqlite"

    def __init__(self, path: str | Path, schemas: Iterable[Schema] = ()) -> None:
        super().__init__(schemas)
        self.path = str(path)
        self._conn: sqlite3.Connection | None = None

    def __repr__(self) -> str:
        return f"SQLiteStorage({self.path!r})"

    # -- lifecycle ------------------------------------------------------------------------------
    def open(self) -> SQLiteStorage:
        """Open the database, enable WAL and apply pending migrations. Returns ``self``."""
        if not self.closed:
            return self
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open database {self.path}: {exc}") from exc
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_versions (name TEXT PRIMARY KEY, version INTEGER NOT NULL)"
        )
        self._conn = conn
        self._start_executor()
        self.closed = False
        self.migrate()
        return self

    def close(self) -> None:
        """Close the connection and the worker thread (idempotent)."""
        if self.closed:
            return
        self.closed = True
        self._stop_executor()
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StorageError("storage is closed")
        return self._conn

    def _migrate_schema(self, schema: Schema) -> int:
        name = schema.name
        with self._lock:
            conn = self.conn
            row = conn.execute("SELECT version FROM schema_versions WHERE name=?", (name,)).fetchone()
            current = row[0] if row else 0
            for i in range(current, len(schema.steps)):
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    row = conn.execute("SELECT version FROM schema_versions WHERE name=?", (name,)).fetchone()
                    if row and row[0] > i:  # another process got there first
                        conn.execute("COMMIT")
                        continue
                    for stmt in split_sql(schema.step_sql(i, self.dialect)):
                        conn.execute(stmt)
                    conn.execute(
                        "INSERT INTO schema_versions(name, version) VALUES(?, ?) "
                        "ON CONFLICT(name) DO UPDATE SET version=excluded.version",
                        (name, i + 1),
                    )
                    conn.execute("COMMIT")
                except sqlite3.Error as exc:
                    conn.execute("ROLLBACK")
                    raise StorageError(f"migration {name} v{i + 1} failed: {exc}") from exc
        return len(schema.steps)

    # -- synchronous API ------------------------------------------------------------------------
    def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement (autocommit); returns the affected row count."""
        with self._lock:
            return self.conn.execute(sql, params).rowcount

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run ``sql`` for every row, in one transaction."""
        with self._lock:
            conn = self.conn
            conn.execute("BEGIN")
            try:
                conn.executemany(sql, rows)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        """First row of a query, or ``None``."""
        with self._lock:
            return self.conn.execute(sql, params).fetchone()

    def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        """All rows of a query."""
        with self._lock:
            return self.conn.execute(sql, params).fetchall()

    def transaction(self, fn: Callable[[Any], T]) -> T:
        """Run ``fn(conn)`` inside ``BEGIN IMMEDIATE``/``COMMIT`` (rollback on error)."""
        with self._lock:
            conn = self.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
                conn.execute("COMMIT")
                return result
            except BaseException:
                conn.execute("ROLLBACK")
                raise


def split_sql(script: str) -> list[str]:
    """Split a migration script into statements (``sqlite3.complete_statement`` aware)."""
    out: list[str] = []
    buf = ""
    for piece in script.split(";"):
        buf += piece + ";"
        if sqlite3.complete_statement(buf):
            if buf.strip().strip(";").strip():
                out.append(buf.strip())
            buf = ""
    if buf.strip().strip(";").strip():
        out.append(buf.strip())
    return out
