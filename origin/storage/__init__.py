"""The origin's storage interface: one SQLite database, ``{data_dir}/aimixer.db``.

Each domain keeps its tables in its own module and declares them with
:func:`register_schema`::

    from origin.storage import register_schema
    register_schema("webhooks", [
        "CREATE TABLE webhooks (...)",            # version 1
        "ALTER TABLE webhooks ADD COLUMN x TEXT", # version 2
    ])

Migrations are applied in order, each in a transaction, and the version reached per schema is
recorded in ``schema_versions``; re-opening a database applies only the new steps. A schema
registered after :meth:`Storage.open` is migrated at once.

:class:`Storage` owns one connection in WAL mode and a single worker thread. The synchronous
methods (:meth:`execute`, :meth:`fetchone`, :meth:`fetchall`, :meth:`transaction`) are for CLI
commands and tests; the ``a``-prefixed coroutines run the same work on the worker thread so the
event loop never blocks on disk. Rows are :class:`sqlite3.Row` (index or key access).

Another backend (e.g. PostgreSQL) would implement the same methods.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["Storage", "register_schema", "registered_schemas", "StorageError"]

log = logging.getLogger("origin.storage")
T = TypeVar("T")

_SCHEMAS: dict[str, list[str]] = {}
_OPEN: list[Storage] = []
_REG_LOCK = threading.Lock()


class StorageError(RuntimeError):
    """The database cannot be opened or migrated."""


def register_schema(name: str, migrations: str | Sequence[str]) -> None:
    """Declare the tables of domain ``name``.

    Parameters
    ----------
    name : str
        Domain name (unique), e.g. ``"apikeys"``.
    migrations : str or sequence of str
        SQL scripts; script ``i`` (0-based) brings the schema to version ``i + 1``. A single
        string is version 1. Registering again with more steps extends the schema; the
        already-registered prefix must be unchanged.
    """
    steps = [migrations] if isinstance(migrations, str) else list(migrations)
    with _REG_LOCK:
        old = _SCHEMAS.get(name)
        if old is not None and steps[: len(old)] != old:
            raise StorageError(f"schema {name!r} re-registered with different migrations")
        if old is None or len(steps) > len(old):
            _SCHEMAS[name] = steps
        opened = list(_OPEN)
    for st in opened:
        if not st.closed:
            st.migrate()


def registered_schemas() -> dict[str, int]:
    """``{name: latest version}`` of every registered schema."""
    with _REG_LOCK:
        return {k: len(v) for k, v in _SCHEMAS.items()}


class Storage:
    """One SQLite database with registered, versioned schemas.

    Parameters
    ----------
    path : str or Path
        Database file (parent directories are created). ``":memory:"`` works for tests.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.RLock()
        self._executor: ThreadPoolExecutor | None = None
        self.closed = True

    # -- lifecycle ------------------------------------------------------------------------------
    def open(self) -> Storage:
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
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aimixer-db")
        self.closed = False
        with _REG_LOCK:
            _OPEN.append(self)
        self.migrate()
        return self

    def close(self) -> None:
        """Close the connection and the worker thread (idempotent)."""
        if self.closed:
            return
        with _REG_LOCK:
            if self in _OPEN:
                _OPEN.remove(self)
        self.closed = True
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> Storage:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StorageError("storage is closed")
        return self._conn

    def migrate(self) -> dict[str, int]:
        """Apply pending migrations of every registered schema; returns ``{name: version}``."""
        with _REG_LOCK:
            schemas = {k: list(v) for k, v in _SCHEMAS.items()}
        done: dict[str, int] = {}
        with self._lock:
            conn = self.conn
            for name, steps in schemas.items():
                row = conn.execute("SELECT version FROM schema_versions WHERE name=?", (name,)).fetchone()
                current = row[0] if row else 0
                for i in range(current, len(steps)):
                    try:
                        conn.execute("BEGIN IMMEDIATE")
                        row = conn.execute(
                            "SELECT version FROM schema_versions WHERE name=?", (name,)
                        ).fetchone()
                        if row and row[0] > i:  # another process got there first
                            conn.execute("COMMIT")
                            continue
                        for stmt in _split_sql(steps[i]):
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
                done[name] = len(steps)
        return done

    def schema_version(self, name: str) -> int:
        """Version of schema ``name`` in this database (0 if absent)."""
        row = self.fetchone("SELECT version FROM schema_versions WHERE name=?", (name,))
        return int(row[0]) if row else 0

    # -- synchronous API ------------------------------------------------------------------------
    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> int:
        """Run one statement (autocommit); returns ``lastrowid`` for INSERT else ``rowcount``."""
        with self._lock:
            cur = self.conn.execute(sql, params)
            return cur.lastrowid if sql.lstrip()[:6].upper() == "INSERT" and cur.lastrowid else cur.rowcount

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

    def fetchone(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Row | None:
        """First row of a query, or ``None``."""
        with self._lock:
            return self.conn.execute(sql, params).fetchone()

    def fetchall(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        """All rows of a query."""
        with self._lock:
            return self.conn.execute(sql, params).fetchall()

    def transaction(self, fn: Callable[[sqlite3.Connection], T]) -> T:
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

    # -- asynchronous API -----------------------------------------------------------------------
    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the database thread and await its result."""
        if self._executor is None:
            raise StorageError("storage is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: fn(*args))

    async def aexecute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> int:
        """Async :meth:`execute`."""
        return await self.run(self.execute, sql, params)

    async def aexecutemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Async :meth:`executemany`."""
        rows = list(rows)
        await self.run(self.executemany, sql, rows)

    async def afetchone(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Row | None:
        """Async :meth:`fetchone`."""
        return await self.run(self.fetchone, sql, params)

    async def afetchall(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        """Async :meth:`fetchall`."""
        return await self.run(self.fetchall, sql, params)

    async def atransaction(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Async :meth:`transaction`."""
        return await self.run(self.transaction, fn)

    async def ping(self) -> bool:
        """A real query (``SELECT 1``); True when the database answers."""
        row = await self.afetchone("SELECT 1")
        return bool(row and row[0] == 1)

    # -- small key/value store ------------------------------------------------------------------
    def kv_get(self, key: str, default: str | None = None) -> str | None:
        """Read a value from the ``kv`` table."""
        row = self.fetchone("SELECT value FROM kv WHERE key=?", (key,))
        return row[0] if row else default

    def kv_set(self, key: str, value: str) -> None:
        """Write a value to the ``kv`` table."""
        self.execute(
            "INSERT INTO kv(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (key, value),
        )

    def kv_setdefault(self, key: str, value: str) -> str:
        """Store ``value`` unless ``key`` exists; return the stored value (atomic)."""
        self.execute("INSERT OR IGNORE INTO kv(key, value) VALUES(?, ?)", (key, value))
        got = self.kv_get(key)
        assert got is not None
        return got


def _split_sql(script: str) -> list[str]:
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


register_schema("core", ["CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);"])
