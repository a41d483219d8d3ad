"""The origin's storage interface, with a SQLite and a PostgreSQL backend.

=========================================  ==============================================
``database_url`` (``AIMIXER_DATABASE_URL``)  backend
=========================================  ==============================================
unset                                      :class:`SQLiteStorage` on ``{data_dir}/aimixer.db``
``postgresql://user:pass@host:port/db``     :class:`PostgresStorage` (psycopg 3)
=========================================  ==============================================

Each domain declares its tables once, as a :class:`Schema` constant (no work at import)::

    SCHEMA = Schema("webhooks", [
        "CREATE TABLE webhooks (...)",            # version 1
        "ALTER TABLE webhooks ADD COLUMN x TEXT", # version 2
    ])

The app factory and the CLI collect the schemas explicitly (:func:`origin.migrations.app_schemas`)
and pass them to :func:`open_storage`; opening applies the pending steps in order, each in a
transaction, and records the version reached per schema in ``schema_versions``. The same steps run
on both backends: a step is either one SQL script in the subset both dialects share (``TEXT``,
``INTEGER``, ``BIGINT``, ``DOUBLE PRECISION``, ``ON CONFLICT ... DO ...``, ``?`` placeholders), or
a ``{"sqlite": ..., "postgresql": ...}`` mapping when the dialects differ (auto-increment keys).
Two origins starting at once are safe: SQLite migrates under ``BEGIN IMMEDIATE``, PostgreSQL under
a transaction-wide advisory lock, and each step re-reads the recorded version before it runs.

Queries use ``?`` placeholders on both backends (the PostgreSQL backend rewrites them to ``%s``).
Rows allow index and column-name access (``row[0]``, ``row["name"]``, ``tuple(row)``).

:class:`Storage` is the interface: the synchronous methods (:meth:`~Storage.execute`,
:meth:`~Storage.fetchone`, :meth:`~Storage.fetchall`, :meth:`~Storage.transaction`) are for the CLI
and tests; the ``a``-prefixed coroutines run the same work on the backend's database thread, so
the event loop never blocks on I/O. ``transaction(fn)`` calls ``fn(conn)`` where ``conn`` has
``execute(sql, params) -> cursor`` (``fetchone``/``fetchall``) on both backends.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Self, TypeVar

__all__ = [
    "Schema",
    "Storage",
    "StorageError",
    "SQLiteStorage",
    "PostgresStorage",
    "open_storage",
    "storage_for",
    "is_postgres_url",
    "CORE_SCHEMA",
]

if TYPE_CHECKING:
    from origin.config import Settings

T = TypeVar("T")
Params = Sequence[Any] | dict[str, Any]
Step = str | Mapping[str, str]


class Cursor(Protocol):
    """What :meth:`Connection.execute` returns, on both backends."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    """What :meth:`Storage.transaction` hands its function: ``execute(sql, params)`` with ``?``
    placeholders, on both backends."""

    def execute(self, sql: str, params: Params = ..., /) -> Cursor: ...


class StorageError(RuntimeError):
    """The database cannot be opened or migrated."""


@dataclass(frozen=True)
class Schema:
    """The tables of one domain: ``steps[i]`` brings the schema to version ``i + 1``.

    A step is a SQL script that runs on both dialects, or ``{"sqlite": sql, "postgresql": sql}``.
    """

    name: str
    steps: tuple[Step, ...]

    def __init__(self, name: str, steps: Step | Sequence[Step]) -> None:
        if not name or len(name) > 64:
            raise StorageError(f"schema name {name!r} must be 1-64 characters")
        seq = (steps,) if isinstance(steps, str | Mapping) else tuple(steps)
        for s in seq:
            if isinstance(s, Mapping) and set(s) != {"sqlite", "postgresql"}:
                raise StorageError(f"schema {name!r}: a per-dialect step needs 'sqlite' and 'postgresql'")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "steps", seq)

    def step_sql(self, index: int, dialect: str) -> str:
        """The SQL of step ``index`` for ``dialect`` (``"sqlite"`` or ``"postgresql"``)."""
        step = self.steps[index]
        return step if isinstance(step, str) else step[dialect]


#: The storage's own table: a small key/value store (:meth:`Storage.kv_get` and friends).
CORE_SCHEMA = Schema("core", ["CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);"])


def merge_schemas(schemas: Iterable[Schema]) -> dict[str, Schema]:
    """``{name: schema}``; a name given twice must agree on the common prefix (the longer wins)."""
    out: dict[str, Schema] = {}
    for s in schemas:
        old = out.get(s.name)
        if old is not None:
            n = min(len(old.steps), len(s.steps))
            if old.steps[:n] != s.steps[:n]:
                raise StorageError(f"schema {s.name!r} given twice with different migrations")
            if len(old.steps) >= len(s.steps):
                continue
        out[s.name] = s
    return out


class Storage:
    """The storage interface. Backends implement the connection and migration hooks
    (``_connect``, ``_disconnect``, ``_lock_migrations``, ``_run_script``, ``_driver_errors``) and
    the synchronous query methods; :meth:`open`, :meth:`close`, the migration loop, the
    asynchronous methods and the key/value helpers are shared.

    Parameters
    ----------
    schemas : iterable of Schema
        Migrated by :meth:`open` (the core ``kv`` table is always included).
    """

    dialect = "?"

    def __init__(self, schemas: Iterable[Schema] = ()) -> None:
        self.schemas = merge_schemas([CORE_SCHEMA, *schemas])
        self._lock = threading.RLock()
        self._executor: ThreadPoolExecutor | None = None
        self.closed = True

    # -- lifecycle (backends implement _connect, _disconnect and the migration hooks) -----------
    def _connect(self) -> None:  # pragma: no cover - abstract
        """Open the connection (a :class:`StorageError` when the database cannot be reached)."""
        raise NotImplementedError

    def _disconnect(self) -> None:  # pragma: no cover - abstract
        """Close the connection, if any (called under the lock)."""
        raise NotImplementedError

    def _lock_migrations(self, conn: Connection) -> None:
        """Inside a :meth:`transaction`: hold the lock that serialises migrating origins (none
        needed where the transaction itself is exclusive)."""

    def _run_script(self, conn: Connection, sql: str) -> None:  # pragma: no cover - abstract
        """Run one migration step's SQL (possibly several statements) on ``conn``."""
        raise NotImplementedError

    def _driver_errors(self) -> tuple[type[BaseException], ...]:  # pragma: no cover - abstract
        """The driver's exception classes, reported as :class:`StorageError` by migrations."""
        raise NotImplementedError

    def open(self) -> Self:
        """Connect, create ``schema_versions`` and apply pending migrations. Returns ``self``."""
        if not self.closed:
            return self
        self._connect()
        self._start_executor()
        self.closed = False
        try:
            self.transaction(self._create_versions_table)
            self.migrate()
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Close the connection and the worker thread (idempotent)."""
        if self.closed:
            return
        self.closed = True
        self._stop_executor()
        with self._lock:
            self._disconnect()

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start_executor(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"aimixer-{self.dialect}")

    def _stop_executor(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def migrate(self, schemas: Iterable[Schema] = ()) -> dict[str, int]:
        """Apply the pending steps of the known schemas plus ``schemas``; ``{name: version}``."""
        self.schemas = merge_schemas([*self.schemas.values(), *schemas])
        return {s.name: self._migrate_schema(s) for s in self.schemas.values()}

    def _create_versions_table(self, conn: Connection) -> None:
        self._lock_migrations(conn)
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_versions (name TEXT PRIMARY KEY, version INTEGER NOT NULL)"
        )

    def _migrate_schema(self, schema: Schema) -> int:
        """Bring ``schema`` to its last version: each step in its own transaction, under the
        migration lock, after re-reading the version (another origin may have got there first)."""
        name = schema.name

        def step(conn: Connection, i: int) -> None:
            self._lock_migrations(conn)
            row = conn.execute("SELECT version FROM schema_versions WHERE name=?", (name,)).fetchone()
            if row and row[0] > i:  # done before (by us or another origin)
                return
            self._run_script(conn, schema.step_sql(i, self.dialect))
            conn.execute(
                "INSERT INTO schema_versions(name, version) VALUES(?, ?) "
                "ON CONFLICT(name) DO UPDATE SET version=excluded.version",
                (name, i + 1),
            )

        with self._lock:
            for i in range(self.schema_version(name), len(schema.steps)):
                try:
                    self.transaction(functools.partial(step, i=i))
                except self._driver_errors() as exc:
                    raise StorageError(f"migration {name} v{i + 1} failed: {exc}") from exc
        return len(schema.steps)

    def schema_version(self, name: str) -> int:
        """Version of schema ``name`` in this database (0 if absent)."""
        row = self.fetchone("SELECT version FROM schema_versions WHERE name=?", (name,))
        return int(row[0]) if row else 0

    # -- synchronous API (backends implement) ---------------------------------------------------
    def execute(self, sql: str, params: Params = ()) -> int:  # pragma: no cover - abstract
        """Run one statement (autocommit); returns the affected row count."""
        raise NotImplementedError

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:  # pragma: no cover
        """Run ``sql`` for every row, in one transaction."""
        raise NotImplementedError

    def fetchone(self, sql: str, params: Params = ()) -> Any:  # pragma: no cover - abstract
        """First row of a query, or ``None``."""
        raise NotImplementedError

    def fetchall(self, sql: str, params: Params = ()) -> list[Any]:  # pragma: no cover - abstract
        """All rows of a query."""
        raise NotImplementedError

    def transaction(self, fn: Callable[[Connection], T]) -> T:  # pragma: no cover - abstract
        """Run ``fn(conn)`` in one transaction (rollback on error)."""
        raise NotImplementedError

    # -- asynchronous API -----------------------------------------------------------------------
    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the database thread and await its result."""
        if self._executor is None:
            raise StorageError("storage is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: fn(*args))

    async def aexecute(self, sql: str, params: Params = ()) -> int:
        """Async :meth:`execute`."""
        return await self.run(self.execute, sql, params)

    async def aexecutemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Async :meth:`executemany`."""
        rows = list(rows)
        await self.run(self.executemany, sql, rows)

    async def afetchone(self, sql: str, params: Params = ()) -> Any:
        """Async :meth:`fetchone`."""
        return await self.run(self.fetchone, sql, params)

    async def afetchall(self, sql: str, params: Params = ()) -> list[Any]:
        """Async :meth:`fetchall`."""
        return await self.run(self.fetchall, sql, params)

    async def atransaction(self, fn: Callable[[Connection], T]) -> T:
        """Async :meth:`transaction`."""
        return await self.run(self.transaction, fn)

    async def ping(self) -> bool:
        """A real query (``SELECT 1``); True when the database answers."""
        try:
            row = await self.afetchone("SELECT 1")
        except Exception:
            return False
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
        self.execute("INSERT INTO kv(key, value) VALUES(?, ?) ON CONFLICT(key) DO NOTHING", (key, value))
        got = self.kv_get(key)
        assert got is not None
        return got


def is_postgres_url(url: str | None) -> bool:
    """True for ``postgresql://`` / ``postgres://`` URLs."""
    return bool(url) and str(url).split("://", 1)[0] in ("postgresql", "postgres")


def open_storage(target: str | Path, schemas: Iterable[Schema] = ()) -> Storage:
    """Open the backend for ``target`` and migrate ``schemas``.

    Parameters
    ----------
    target : str or Path
        A ``postgresql://`` URL, or a SQLite file path (``":memory:"`` works).
    schemas : iterable of Schema
        The schemas to migrate (see :func:`origin.migrations.app_schemas`).
    """
    if is_postgres_url(str(target)):
        return PostgresStorage(str(target), schemas).open()
    return SQLiteStorage(target, schemas).open()


def storage_for(settings: Settings, schemas: Iterable[Schema] = ()) -> Storage:
    """The opened storage selected by ``settings.database_url`` (SQLite under ``data_dir`` if unset)."""
    url = getattr(settings, "database_url", None)
    return open_storage(url or settings.db_path, schemas)


from origin.storage.postgres import PostgresStorage  # noqa: E402
from origin.storage.sqlite import SQLiteStorage  # noqa: E402
