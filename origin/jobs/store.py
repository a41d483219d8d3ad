"""The ``jobs`` table: a file job's state, shared by the origins and the workers."""

from __future__ import annotations

import json
import time
from typing import Any

from origin.storage import Schema, Storage

__all__ = ["JOBS_SCHEMA", "JobStore", "STATES", "FINAL_STATES", "MAX_ATTEMPTS"]

#: queued -> running -> complete | failed; cancelled from queued or running (DELETE).
STATES = ("queued", "running", "complete", "failed", "cancelled")
FINAL_STATES = ("complete", "failed", "cancelled")
#: a job whose worker died is queued again this many times in all, then failed
MAX_ATTEMPTS = 2

JOBS_SCHEMA = Schema(
    "jobs",
    [
        """
        CREATE TABLE IF NOT EXISTS jobs (
            id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            kind TEXT NOT NULL,
            state TEXT NOT NULL,
            progress DOUBLE PRECISION NOT NULL DEFAULT 0,
            config TEXT NOT NULL DEFAULT '{}',
            input_name TEXT NOT NULL DEFAULT '',
            output_format TEXT NOT NULL DEFAULT 'wav',
            result TEXT,
            error TEXT,
            worker TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            created_at DOUBLE PRECISION NOT NULL,
            started_at DOUBLE PRECISION,
            finished_at DOUBLE PRECISION,
            heartbeat_at DOUBLE PRECISION
        );
        CREATE INDEX IF NOT EXISTS jobs_owner ON jobs(owner, created_at);
        CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state, heartbeat_at);
        """
    ],
)


class JobStore:
    """Synchronous job-row operations (workers call them directly, origins on the DB thread)."""

    def __init__(self, storage: Storage) -> None:
        self.db = storage

    def create(self, job_id: str, owner: str, kind: str, config: dict[str, Any], name: str, fmt: str) -> None:
        self.db.execute(
            "INSERT INTO jobs(id, owner, kind, state, config, input_name, output_format, created_at)"
            " VALUES(?, ?, ?, 'queued', ?, ?, ?, ?)",
            (job_id, owner, kind, json.dumps(config), name, fmt, time.time()),
        )

    def get(self, job_id: str) -> dict[str, Any] | None:
        row = self.db.fetchone("SELECT * FROM jobs WHERE id=?", (job_id,))
        return None if row is None else {k: row[k] for k in row.keys()}

    def claim(self, job_id: str, worker: str) -> dict[str, Any] | None:
        """Mark a queued job running for ``worker``; None when it is not queued any more."""
        now = time.time()
        n = self.db.execute(
            "UPDATE jobs SET state='running', worker=?, started_at=?, heartbeat_at=?, progress=0,"
            " attempts=attempts+1 WHERE id=? AND state='queued'",
            (worker, now, now, job_id),
        )
        return self.get(job_id) if n == 1 else None

    def heartbeat(self, job_id: str, worker: str, progress: float) -> str | None:
        """Record progress; returns the job's state (``cancelled`` tells the worker to stop)."""
        self.db.execute(
            "UPDATE jobs SET heartbeat_at=?, progress=? WHERE id=? AND worker=? AND state='running'",
            (time.time(), round(min(max(progress, 0.0), 1.0), 4), job_id, worker),
        )
        row = self.db.fetchone("SELECT state, worker FROM jobs WHERE id=?", (job_id,))
        if row is None:
            return None
        return row["state"] if row["worker"] == worker else "taken"

    def finish(
        self, job_id: str, worker: str, state: str, result: Any = None, error: str | None = None
    ) -> bool:
        n = self.db.execute(
            "UPDATE jobs SET state=?, result=?, error=?, finished_at=?, progress=?"
            " WHERE id=? AND worker=? AND state='running'",
            (
                state,
                None if result is None else json.dumps(result, allow_nan=False),
                error,
                time.time(),
                1.0 if state == "complete" else 0.0,
                job_id,
                worker,
            ),
        )
        return n == 1

    def cancel(self, job_id: str) -> bool:
        n = self.db.execute(
            "UPDATE jobs SET state='cancelled', finished_at=? WHERE id=? AND state IN ('queued', 'running')",
            (time.time(), job_id),
        )
        return n == 1

    def delete(self, job_id: str) -> None:
        self.db.execute("DELETE FROM jobs WHERE id=?", (job_id,))

    def reap(self, timeout: float) -> tuple[list[str], list[dict[str, Any]]]:
        """Jobs whose worker went silent for ``timeout`` s: queued again while attempts remain,
        else failed with the reason. Returns ``(requeued ids, failed rows)``."""
        now = time.time()
        rows = self.db.fetchall(
            "SELECT id, owner, attempts, worker, heartbeat_at FROM jobs WHERE state='running' AND heartbeat_at < ?",
            (now - timeout,),
        )
        requeued: list[str] = []
        failed: list[dict[str, Any]] = []
        for r in rows:
            silent = round(now - float(r["heartbeat_at"]), 1)
            if int(r["attempts"]) < MAX_ATTEMPTS:
                n = self.db.execute(
                    "UPDATE jobs SET state='queued', worker=NULL, progress=0,"
                    " error=? WHERE id=? AND state='running' AND worker=? AND heartbeat_at=?",
                    (
                        f"worker {r['worker']} lost (silent {silent} s); queued again",
                        r["id"],
                        r["worker"],
                        r["heartbeat_at"],
                    ),
                )
                if n == 1:
                    requeued.append(r["id"])
            else:
                reason = f"worker {r['worker']} lost (silent {silent} s) after {r['attempts']} attempts"
                n = self.db.execute(
                    "UPDATE jobs SET state='failed', error=?, finished_at=? WHERE id=? AND state='running'"
                    " AND worker=? AND heartbeat_at=?",
                    (reason, now, r["id"], r["worker"], r["heartbeat_at"]),
                )
                if n == 1:
                    failed.append({"id": r["id"], "owner": r["owner"], "error": reason})
        return requeued, failed
