"""The PostgreSQL backend, on psycopg 3 (the PostgreSQL project's own maintained driver).

One connection (autocommit) and one database thread per :class:`PostgresStorage`, the same model
as the SQLite backend, so ``transaction(fn)`` hands ``fn`` a connection it may use synchronously on
both. Queries are written once with ``?`` placeholders; they are rewritten to psycopg's ``%s`` (and
a literal ``%`` to ``%%``) outside quoted strings, once per distinct statement. Migrations take a
transaction-level advisory lock (:data:`MIGRATION_LOCK`), so origins that start together apply each
step exactly once. A connection found broken is replaced before the next statement.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from origin.config import redact_url
from origin.storage import Connection, Params, Schema, Storage, StorageError

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresStorage", "PgRow", "to_pyformat", "MIGRATION_LOCK"]

log = logging.getLogger("origin.storage")
T = TypeVar("T")

#: ``pg_advisory_xact_lock`` key held while a migration step runs (any constant bigint).
MIGRATION_LOCK = 0x41494D4958455201  # "AIMIXER" + 1


class PgRow(tuple[Any, ...]):
    """A result row with index and column-name access (like :class:`sqlite3.Row`)."""

    __slots__ = ()
    _index: dict[str, int]

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            try:
                return tuple.__getitem__(self, self._index[key])
            except KeyError:
                raise IndexError(f"no such column: {key}") from None
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


@functools.lru_cache(maxsize=64)
def _row_class(names: tuple[str, ...]) -> type[PgRow]:
    return type("PgRow", (PgRow,), {"__slots__": (), "_index": {n: i for i, n in enumerate(names)}})


def _row_factory(cursor: psycopg.Cursor[Any]) -> Callable[[Sequence[Any]], PgRow]:
    desc = cursor.description
    cls = _row_class(tuple(c.name for c in desc) if desc else ())
    return lambda values: cls(values)


@functools.lru_cache(maxsize=1024)
def to_pyformat(sql: str) -> str:
    """``?`` -> ``%s`` and ``%`` -> ``%%`` outside single-quoted strings and double-quoted names."""
    out: list[str] = []
    quote = ""
    for ch in sql:
        if quote:
            out.append("%%" if ch == "%" else ch)
            if ch == quote:
                quote = ""
        elif ch in ("'", '"'):
            quote = ch
            out.append(ch)
        elif ch == "?":
            out.append("%s")
        elif ch == "%":
            out.append("%%")
        else:
            out.append(ch)
    return "".join(out)


def _query(sql: str, params: Params) -> tuple[str, Any]:
    # without parameters psycopg sends the text as is (no placeholder parsing, so no %% escape)
    return (to_pyformat(sql), params) if params else (sql, None)


class _Conn:
    """What ``transaction(fn)`` passes to ``fn``: ``execute``/``executemany`` with ``?`` SQL."""

    __slots__ = ("raw",)

    def __init__(self, raw: psycopg.Connection[PgRow]) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Params = ()) -> psycopg.Cursor[PgRow]:
        return self.raw.execute(*_query(sql, params))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self.raw.cursor() as cur:
            cur.executemany(to_pyformat(sql), list(rows))


class PostgresStorage(Storage):
    """A PostgreSQL database at ``url`` (``postgresql://user:pass@host:port/db``)."""

    dialect = "postgresql"

    def __init__(self, url: str, schemas: Iterable[Schema] = (), *, connect_timeout: float = 10.0) -> None:
        super().__init__(schemas)
        self.url = url
        self.connect_timeout = connect_timeout
        self._raw: psycopg.Connection[PgRow] | None = None

    def __repr__(self) -> str:
        return f"PostgresStorage({redact_url(self.url)!r})"

    # -- lifecycle ------------------------------------------------------------------------------
    def _connect(self) -> None:
        self._raw = self._new_connection()

    def _new_connection(self) -> psycopg.Connection[PgRow]:
        import psycopg

        try:
            return psycopg.connect(
                self.url, autocommit=True, row_factory=_row_factory, connect_timeout=int(self.connect_timeout)
            )
        except psycopg.Error as exc:
            reason = " ".join(str(exc).split())  # psycopg's message spans lines
            raise StorageError(f"cannot open database {redact_url(self.url)}: {reason}") from exc

    def _disconnect(self) -> None:
        if self._raw is not None:
            self._raw.close()
            self._raw = None

    @property
    def conn(self) -> psycopg.Connection[PgRow]:
        """The live psycopg connection (reconnects once if the old one broke)."""
        if self._raw is None:
            raise StorageError("storage is closed")
        if self._raw.broken or self._raw.closed:
            log.warning("PostgreSQL connection lost; reconnecting")
            self._raw = self._new_connection()
        return self._raw

    def _lock_migrations(self, conn: Connection) -> None:
        conn.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))

    def _run_script(self, conn: Connection, sql: str) -> None:
        conn.execute(sql)  # no parameters: sent as is, several statements allowed

    def _driver_errors(self) -> tuple[type[BaseException], ...]:
        import psycopg

        return (psycopg.Error,)

    # -- synchronous API ------------------------------------------------------------------------
    def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement (autocommit); returns the affected row count."""
        with self._lock:
            return self.conn.execute(*_query(sql, params)).rowcount

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run ``sql`` for every row, in one transaction."""
        with self._lock:
            conn = self.conn
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(to_pyformat(sql), list(rows))

    def fetchone(self, sql: str, params: Params = ()) -> PgRow | None:
        """First row of a query, or ``None``."""
        with self._lock:
            return self.conn.execute(*_query(sql, params)).fetchone()

    def fetchall(self, sql: str, params: Params = ()) -> list[PgRow]:
        """All rows of a query."""
        with self._lock:
            return self.conn.execute(*_query(sql, params)).fetchall()

    def transaction(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn(conn)`` in one transaction (rollback on error)."""
        with self._lock:
            conn = self.conn
            with conn.transaction():
                return fn(_Conn(conn))
