"""The SQLite backend: one connection in WAL mode and one database thread (the embedded default)."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from origin.storage import Connection, Params, Schema, Storage, StorageError

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
    def _connect(self) -> None:
        """Open the database file and enable WAL."""
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
        self._conn = conn

    def _disconnect(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StorageError("storage is closed")
        return self._conn

    # migrations run in transaction() (BEGIN IMMEDIATE: one writer at a time, no other lock needed)
    def _run_script(self, conn: Connection, sql: str) -> None:
        for stmt in split_sql(sql):
            conn.execute(stmt)

    def _driver_errors(self) -> tuple[type[BaseException], ...]:
        return (sqlite3.Error,)

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
            row: sqlite3.Row | None = self.conn.execute(sql, params).fetchone()
            return row

    def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        """All rows of a query."""
        with self._lock:
            return self.conn.execute(sql, params).fetchall()

    def transaction(self, fn: Callable[[Connection], T]) -> T:
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
