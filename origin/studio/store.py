"""Studio state in the origin's database: studios, sources, recorder configs, assignments,
the active source, the active recorder count and the recorder event log.

Tables (schema ``studio``): ``studio_studios``, ``studio_recorders``, ``studio_sources``,
``studio_kv``, ``studio_events``. All writes go through :class:`StudioStore`, which also keeps a
small in-memory cache of the recorder -> studio assignment so the 10 Hz level broker never
queries the database.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from origin.storage import Storage, register_schema

__all__ = ["StudioStore", "default_recorder_config", "DEFAULT_ACTIVE", "STUDIO_COLORS"]

DEFAULT_ACTIVE = 6

#: Colours handed to studios created without one (Material palette, like Audyn's).
STUDIO_COLORS = ["#F44336", "#2196F3", "#4CAF50", "#FF9800", "#9C27B0", "#00BCD4", "#795548", "#607D8B"]

register_schema(
    "studio",
    [
        """
        CREATE TABLE IF NOT EXISTS studio_studios (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            color TEXT NOT NULL,
            enabled INTEGER NOT NULL DEFAULT 1,
            recorder_id INTEGER UNIQUE,
            created_at REAL NOT NULL
        );
        CREATE TABLE IF NOT EXISTS studio_recorders (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            config TEXT NOT NULL,
            desired_state TEXT NOT NULL DEFAULT 'stopped',
            pid INTEGER,
            updated_at REAL NOT NULL
        );
        CREATE TABLE IF NOT EXISTS studio_sources (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            type TEXT NOT NULL DEFAULT 'aes67',
            multicast_addr TEXT NOT NULL,
            port INTEGER NOT NULL,
            enabled INTEGER NOT NULL DEFAULT 1,
            extra TEXT NOT NULL DEFAULT '{}',
            created_at REAL NOT NULL
        );
        CREATE TABLE IF NOT EXISTS studio_kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS studio_events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            ts REAL NOT NULL,
            recorder_id INTEGER,
            kind TEXT NOT NULL,
            message TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS studio_events_rec ON studio_events(recorder_id, id);
        """
    ],
)


#: format of a source created without one (Audyn's defaults)
SOURCE_DEFAULTS = {"sample_rate": 48000, "channels": 2}


def default_recorder_config(n: int) -> dict[str, Any]:
    """Audyn's defaults for recorder ``n``: ``239.69.1.n:5004`` into ``{archive_root}/recorder{n}``.

    ``archive_root`` is stored *relative to the server archive root* (shown absolute by the API),
    so moving the server's archive root moves every recorder with it.
    """
    return {
        "multicast_addr": f"239.69.1.{n}",
        "port": 5004,
        "sample_rate": 48000,
        "channels": 2,
        "format": "wav",
        "archive_root": f"recorder{n}",
    }


def _studio_row(r: Any) -> dict[str, Any]:
    return {
        "id": r["id"],
        "name": r["name"],
        "description": r["description"],
        "color": r["color"],
        "enabled": bool(r["enabled"]),
        "recorder_id": r["recorder_id"],
    }


def _source_row(r: Any) -> dict[str, Any]:
    out = {
        "id": r["id"],
        "name": r["name"],
        "type": r["type"],
        "multicast_addr": r["multicast_addr"],
        "port": r["port"],
        "enabled": bool(r["enabled"]),
    }
    try:
        extra = json.loads(r["extra"] or "{}")
    except json.JSONDecodeError:
        extra = {}
    out.update({k: v for k, v in extra.items() if k not in out})
    out.setdefault("sample_rate", SOURCE_DEFAULTS["sample_rate"])
    out.setdefault("channels", SOURCE_DEFAULTS["channels"])
    return out


class StudioStore:
    """Async accessors for the studio tables (blocking SQLite work runs on the DB thread)."""

    def __init__(self, storage: Storage) -> None:
        self.db = storage
        self.assignments: dict[int, str] = {}  # recorder_id -> studio_id (cache)

    # -- setup ----------------------------------------------------------------------------------
    def ensure_defaults(self, max_recorders: int, active_default: int = DEFAULT_ACTIVE) -> None:
        """Create recorders ``1..max_recorders`` with Audyn's defaults and the active count if
        missing (synchronous; an existing database keeps its values)."""
        now = time.time()
        for n in range(1, max_recorders + 1):
            self.db.execute(
                "INSERT OR IGNORE INTO studio_recorders(id, name, config, desired_state, updated_at) "
                "VALUES(?, ?, ?, 'stopped', ?)",
                (n, f"Recorder {n}", json.dumps(default_recorder_config(n)), now),
            )
        self.db.execute(
            "INSERT OR IGNORE INTO studio_kv(key, value) VALUES('active_count', ?)",
            (str(max(1, min(active_default, max_recorders))),),
        )
        self.reload_assignments()

    def reload_assignments(self) -> None:
        rows = self.db.fetchall("SELECT id, recorder_id FROM studio_studios WHERE recorder_id IS NOT NULL")
        self.assignments = {int(r["recorder_id"]): r["id"] for r in rows}

    # -- kv -------------------------------------------------------------------------------------
    async def kv_get(self, key: str, default: str | None = None) -> str | None:
        row = await self.db.afetchone("SELECT value FROM studio_kv WHERE key=?", (key,))
        return row["value"] if row else default

    async def kv_set(self, key: str, value: str | None) -> None:
        if value is None:
            await self.db.aexecute("DELETE FROM studio_kv WHERE key=?", (key,))
        else:
            await self.db.aexecute(
                "INSERT INTO studio_kv(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (key, value),
            )

    def kv_get_sync(self, key: str, default: str | None = None) -> str | None:
        row = self.db.fetchone("SELECT value FROM studio_kv WHERE key=?", (key,))
        return row["value"] if row else default

    # -- recorders ------------------------------------------------------------------------------
    async def recorders(self) -> list[dict[str, Any]]:
        rows = await self.db.afetchall("SELECT * FROM studio_recorders ORDER BY id")
        return [self._rec(r) for r in rows]

    def recorders_sync(self) -> list[dict[str, Any]]:
        return [self._rec(r) for r in self.db.fetchall("SELECT * FROM studio_recorders ORDER BY id")]

    async def recorder(self, rid: int) -> dict[str, Any] | None:
        row = await self.db.afetchone("SELECT * FROM studio_recorders WHERE id=?", (rid,))
        return self._rec(row) if row else None

    @staticmethod
    def _rec(r: Any) -> dict[str, Any]:
        return {
            "id": int(r["id"]),
            "name": r["name"],
            "config": json.loads(r["config"]),
            "desired_state": r["desired_state"],
            "pid": r["pid"],
        }

    async def set_recorder_config(self, rid: int, config: dict[str, Any]) -> None:
        await self.db.aexecute(
            "UPDATE studio_recorders SET config=?, updated_at=? WHERE id=?",
            (json.dumps(config), time.time(), rid),
        )

    async def set_desired_state(self, rid: int, state: str) -> None:
        await self.db.aexecute(
            "UPDATE studio_recorders SET desired_state=?, updated_at=? WHERE id=?", (state, time.time(), rid)
        )

    async def set_pid(self, rid: int, pid: int | None) -> None:
        await self.db.aexecute("UPDATE studio_recorders SET pid=? WHERE id=?", (pid, rid))

    # -- studios --------------------------------------------------------------------------------
    async def studios(self) -> list[dict[str, Any]]:
        rows = await self.db.afetchall("SELECT * FROM studio_studios ORDER BY created_at, id")
        return [_studio_row(r) for r in rows]

    async def studio(self, sid: str) -> dict[str, Any] | None:
        row = await self.db.afetchone("SELECT * FROM studio_studios WHERE id=?", (sid,))
        return _studio_row(row) if row else None

    async def create_studio(
        self,
        name: str,
        description: str,
        color: str | None,
        enabled: bool = True,
        studio_id: str | None = None,
    ) -> dict[str, Any]:
        sid = studio_id or f"studio-{secrets.token_hex(4)}"
        if color is None:
            n = (await self.db.afetchone("SELECT COUNT(*) AS n FROM studio_studios"))["n"]
            color = STUDIO_COLORS[int(n) % len(STUDIO_COLORS)]
        await self.db.aexecute(
            "INSERT INTO studio_studios(id, name, description, color, enabled, recorder_id, created_at) "
            "VALUES(?, ?, ?, ?, ?, NULL, ?)",
            (sid, name, description, color, int(enabled), time.time()),
        )
        got = await self.studio(sid)
        assert got is not None
        return got

    async def update_studio(self, sid: str, fields: dict[str, Any]) -> dict[str, Any] | None:
        allowed = {k: v for k, v in fields.items() if k in ("name", "description", "color", "enabled")}
        if allowed:
            sets = ", ".join(f"{k}=?" for k in allowed)
            vals = [int(v) if k == "enabled" else v for k, v in allowed.items()]
            await self.db.aexecute(f"UPDATE studio_studios SET {sets} WHERE id=?", (*vals, sid))
        return await self.studio(sid)

    async def delete_studio(self, sid: str) -> bool:
        n = await self.db.aexecute("DELETE FROM studio_studios WHERE id=?", (sid,))
        await self.db.run(self.reload_assignments)
        return n > 0

    async def assign(self, sid: str, rid: int | None) -> dict[str, Any] | None:
        """Assign recorder ``rid`` to studio ``sid`` (moving it from another studio), or unassign."""

        def tx(conn: Any) -> None:
            if rid is not None:
                conn.execute(
                    "UPDATE studio_studios SET recorder_id=NULL WHERE recorder_id=? AND id<>?", (rid, sid)
                )
            conn.execute("UPDATE studio_studios SET recorder_id=? WHERE id=?", (rid, sid))

        await self.db.atransaction(tx)
        await self.db.run(self.reload_assignments)
        return await self.studio(sid)

    def studio_of(self, rid: int) -> str | None:
        return self.assignments.get(rid)

    # -- sources --------------------------------------------------------------------------------
    async def sources(self) -> list[dict[str, Any]]:
        rows = await self.db.afetchall("SELECT * FROM studio_sources ORDER BY created_at, id")
        return [_source_row(r) for r in rows]

    async def source(self, source_id: str) -> dict[str, Any] | None:
        row = await self.db.afetchone("SELECT * FROM studio_sources WHERE id=?", (source_id,))
        return _source_row(row) if row else None

    async def create_source(
        self, name: str, type_: str, addr: str, port: int, enabled: bool, extra: dict[str, Any]
    ) -> dict[str, Any]:
        def tx(conn: Any) -> str:
            n = 1
            existing = {r[0] for r in conn.execute("SELECT id FROM studio_sources").fetchall()}
            while f"source-{n}" in existing:
                n += 1
            sid = f"source-{n}"
            conn.execute(
                "INSERT INTO studio_sources(id, name, type, multicast_addr, port, enabled, extra, created_at) "
                "VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
                (sid, name, type_, addr, port, int(enabled), json.dumps(extra), time.time()),
            )
            return sid

        sid = await self.db.atransaction(tx)
        got = await self.source(sid)
        assert got is not None
        return got

    async def update_source(
        self, source_id: str, name: str, addr: str, port: int, enabled: bool, extra: dict[str, Any]
    ) -> dict[str, Any] | None:
        await self.db.aexecute(
            "UPDATE studio_sources SET name=?, multicast_addr=?, port=?, enabled=?, extra=? WHERE id=?",
            (name, addr, port, int(enabled), json.dumps(extra), source_id),
        )
        return await self.source(source_id)

    async def source_extra(self, source_id: str) -> dict[str, Any]:
        row = await self.db.afetchone("SELECT extra FROM studio_sources WHERE id=?", (source_id,))
        try:
            return json.loads(row["extra"] or "{}") if row else {}
        except json.JSONDecodeError:
            return {}

    # -- per-user settings ----------------------------------------------------------------------
    async def selected_studio(self, user_id: str) -> str | None:
        return await self.kv_get(f"selected_studio:{user_id}")

    async def select_studio(self, user_id: str, studio_id: str | None) -> None:
        await self.kv_set(f"selected_studio:{user_id}", studio_id)

    async def delete_source(self, source_id: str) -> bool:
        n = await self.db.aexecute("DELETE FROM studio_sources WHERE id=?", (source_id,))
        if n and await self.kv_get("active_source_id") == source_id:
            await self.kv_set("active_source_id", None)
        return n > 0

    # -- events ---------------------------------------------------------------------------------
    async def add_event(self, rid: int | None, kind: str, message: str) -> None:
        await self.db.aexecute(
            "INSERT INTO studio_events(ts, recorder_id, kind, message) VALUES(?, ?, ?, ?)",
            (time.time(), rid, kind, message),
        )

    async def events(self, rid: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
        if rid is None:
            rows = await self.db.afetchall("SELECT * FROM studio_events ORDER BY id DESC LIMIT ?", (limit,))
        else:
            rows = await self.db.afetchall(
                "SELECT * FROM studio_events WHERE recorder_id=? ORDER BY id DESC LIMIT ?", (rid, limit)
            )
        return [
            {
                "id": r["id"],
                "timestamp": r["ts"],
                "recorder_id": r["recorder_id"],
                "kind": r["kind"],
                "message": r["message"],
            }
            for r in rows
        ]
