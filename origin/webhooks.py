"""Webhook subscriptions and their delivery engine.

Events: ``processing.complete`` (end of a ``/stream-audio`` upload or of a WebSocket stream),
``genre.detected`` (a session's genre verdict changed) and ``error.occurred`` (a processing
request failed). Payload, as in the spec::

    {"event": "processing.complete", "timestamp": 1640995200000, "data": {...}}

Each POST carries ``Content-Type: application/json`` and

* ``X-AIMixer-Signature: sha256=<hex>`` — HMAC-SHA256 of the exact body bytes with the
  webhook's secret (compare with :func:`verify_signature` / ``hmac.compare_digest``);
* ``X-AIMixer-Event``, ``X-AIMixer-Delivery`` (delivery id), ``X-AIMixer-Timestamp`` (ms).

Delivery never blocks audio: :meth:`WebhookEngine.emit` only enqueues (a full queue drops the
event and counts it). A 2xx answer is success; connection errors, timeouts, 408, 429 and 5xx
are retried after ``backoff * 2**(attempt-1)`` seconds up to ``max_attempts``; other 4xx fail at
once. Every attempt is logged in ``webhook_deliveries``.

The ``webhook_deliveries`` table is also the durable queue. A delivery is written (``pending``)
before its first attempt and holds a lease (``lease_until``) while an origin works on it; a
retry records when it is due (``next_attempt_at``). Every origin sweeps the table every
``sweep_interval`` seconds and takes over ``pending``/``retrying`` deliveries whose lease has run
out (claimed with one conditional ``UPDATE``, so exactly one origin wins): an origin that dies
mid-retry — or a single origin restarted — loses no delivery, and the receiver sees the same
``X-AIMixer-Delivery`` id again (deliveries are at least once).
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from origin.recorder.alerts import ALERT_EVENTS
from origin.storage import Schema, Storage

if TYPE_CHECKING:
    import httpx

    from origin.metrics import Metrics

__all__ = [
    "EVENTS",
    "WebhookEngine",
    "queue_event",
    "WebhookError",
    "sign",
    "verify_signature",
    "SIGNATURE_HEADER",
]

log = logging.getLogger("origin.webhooks")

#: the mixer's events (a new webhook gets these by default) and the studio recorders' alerts
#: (``origin.recorder.alerts.ALERT_EVENTS``; subscribe to them by name)
DEFAULT_EVENTS = ("processing.complete", "genre.detected", "error.occurred", "job.complete", "job.failed")
RECORDER_EVENTS = ALERT_EVENTS
EVENTS = DEFAULT_EVENTS + RECORDER_EVENTS
SIGNATURE_HEADER = "X-AIMixer-Signature"

WEBHOOKS_SCHEMA = Schema(
    "webhooks",
    [
        """
        CREATE TABLE IF NOT EXISTS webhooks (
            id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            url TEXT NOT NULL,
            events TEXT NOT NULL,
            secret TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL
        );
        CREATE INDEX IF NOT EXISTS webhooks_owner ON webhooks(owner);
        CREATE TABLE IF NOT EXISTS webhook_deliveries (
            id TEXT PRIMARY KEY,
            webhook_id TEXT NOT NULL,
            event TEXT NOT NULL,
            payload TEXT NOT NULL,
            status TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            response_code INTEGER,
            error TEXT,
            created_at DOUBLE PRECISION NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL
        );
        CREATE INDEX IF NOT EXISTS webhook_deliveries_hook ON webhook_deliveries(webhook_id, created_at);
        """,
        # version 2: the table is the durable delivery queue (lease + due time)
        """
        ALTER TABLE webhook_deliveries ADD COLUMN next_attempt_at DOUBLE PRECISION;
        ALTER TABLE webhook_deliveries ADD COLUMN lease_until DOUBLE PRECISION;
        CREATE INDEX IF NOT EXISTS webhook_deliveries_open ON webhook_deliveries(status, lease_until);
        """,
    ],
)


class WebhookError(ValueError):
    """Invalid webhook definition (message names the field)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def sign(secret: str, body: bytes) -> str:
    """``sha256=<hex>`` HMAC-SHA256 signature of ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str) -> bool:
    """True when ``header`` is the signature of ``body`` under ``secret``."""
    return hmac.compare_digest(sign(secret, body), header or "")


def _public(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "url": row["url"],
        "events": json.loads(row["events"]),
        "createdAt": int(row["created_at"] * 1000),
    }


def queue_event(storage: Storage, owner: str, event: str, data: dict[str, Any]) -> int:
    """Put ``event`` for ``owner``'s matching webhooks on the durable queue (synchronous, for
    processes without a delivery engine such as ``aimixer worker``): the next sweep of any origin
    delivers them. Returns the number of deliveries queued."""
    if event not in EVENTS:
        raise ValueError(f"unknown event {event!r}")
    rows = storage.fetchall("SELECT id, events FROM webhooks WHERE owner=?", (owner,))
    targets = [r["id"] for r in rows if event in json.loads(r["events"])]
    if not targets:
        return 0
    now = time.time()
    body = json.dumps(
        {"event": event, "timestamp": int(now * 1000), "data": data},
        separators=(",", ":"),
        allow_nan=False,
        default=str,
    )
    storage.executemany(
        "INSERT INTO webhook_deliveries(id, webhook_id, event, payload, status, attempts, created_at,"
        " updated_at, next_attempt_at, lease_until) VALUES(?, ?, ?, ?, 'pending', 0, ?, ?, ?, NULL)",
        [("dlv_" + secrets.token_hex(8), hook_id, event, body, now, now, now) for hook_id in targets],
    )
    return len(targets)


class WebhookEngine:
    """Subscriptions in the database and an asynchronous delivery queue."""

    def __init__(
        self,
        storage: Storage,
        *,
        timeout: float = 5.0,
        max_attempts: int = 5,
        backoff: float = 1.0,
        queue_size: int = 1000,
        metrics: Metrics | None = None,
        concurrency: int = 8,
        lease: float | None = None,
        sweep_interval: float = 2.0,
    ) -> None:
        self.storage = storage
        self.timeout = timeout
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff
        self.queue_size = queue_size
        self.metrics = metrics
        self.concurrency = concurrency
        #: seconds a delivery stays claimed by this origin past its next action
        self.lease = lease if lease is not None else timeout + 10.0
        self.sweep_interval = sweep_interval
        self._sweeper: asyncio.Task[None] | None = None
        self._hooks: dict[str, list[dict[str, Any]]] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._sem: asyncio.Semaphore | None = None
        self._client: httpx.AsyncClient | None = None
        self.dropped = 0

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> None:
        import httpx

        self._sem = asyncio.Semaphore(self.concurrency)
        self._client = httpx.AsyncClient(timeout=self.timeout, follow_redirects=False)
        await self._reload()
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep_loop())

    async def stop(self, drain: float = 2.0) -> None:
        """Wait up to ``drain`` seconds for in-flight deliveries, then cancel the rest (their rows
        stay queued and are resumed by any origin once their lease runs out)."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._sweeper
            self._sweeper = None
        if self._tasks:
            _done, pending = await asyncio.wait(set(self._tasks), timeout=drain)
            for t in pending:
                t.cancel()
            for t in pending:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until no delivery is in flight (tests)."""
        deadline = time.monotonic() + timeout
        while self._tasks and time.monotonic() < deadline:
            await asyncio.wait(set(self._tasks), timeout=max(0.0, deadline - time.monotonic()))

    async def _reload(self) -> None:
        rows = await self.storage.afetchall("SELECT * FROM webhooks ORDER BY created_at")
        hooks: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            hooks.setdefault(r["owner"], []).append(
                {
                    "id": r["id"],
                    "url": r["url"],
                    "events": set(json.loads(r["events"])),
                    "secret": r["secret"],
                }
            )
        self._hooks = hooks

    # -- subscriptions -----------------------------------------------------------------------------
    @staticmethod
    def validate(url: Any, events: Any, secret: Any) -> tuple[str, list[str], str | None]:
        """Check a definition; raises :class:`WebhookError` naming the field."""
        if not isinstance(url, str) or not url:
            raise WebhookError("url", "url is required (an http:// or https:// URL)")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2048:
            raise WebhookError("url", f"url={url!r} is not an http(s) URL")
        if events is None:
            events = list(DEFAULT_EVENTS)
        if not isinstance(events, list) or not events or not all(isinstance(e, str) for e in events):
            raise WebhookError("events", f"events must be a non-empty list of {list(EVENTS)}")
        bad = [e for e in events if e not in EVENTS]
        if bad:
            raise WebhookError("events", f"events={bad[0]!r} is not one of {list(EVENTS)}")
        if secret is not None and (not isinstance(secret, str) or not (8 <= len(secret) <= 256)):
            raise WebhookError("secret", "secret must be a string of 8 to 256 characters")
        return url, list(dict.fromkeys(events)), secret

    async def create(self, owner: str, url: Any, events: Any = None, secret: Any = None) -> dict[str, Any]:
        """Create a subscription; the answer includes the secret (only here)."""
        url, events, secret = self.validate(url, events, secret)
        secret = secret or "whsec_" + secrets.token_urlsafe(24)
        hook_id = "wh_" + secrets.token_hex(8)
        now = time.time()
        await self.storage.aexecute(
            "INSERT INTO webhooks(id, owner, url, events, secret, created_at) VALUES(?, ?, ?, ?, ?, ?)",
            (hook_id, owner, url, json.dumps(events), secret, now),
        )
        await self._reload()
        return {"id": hook_id, "url": url, "events": events, "secret": secret, "createdAt": int(now * 1000)}

    async def list(self, owner: str) -> list[dict[str, Any]]:
        rows = await self.storage.afetchall(
            "SELECT * FROM webhooks WHERE owner=? ORDER BY created_at", (owner,)
        )
        return [_public(r) for r in rows]

    async def delete(self, owner: str, hook_id: str) -> bool:
        n = await self.storage.aexecute("DELETE FROM webhooks WHERE id=? AND owner=?", (hook_id, owner))
        if n:
            await self._reload()
        return n > 0

    async def deliveries(
        self, owner: str, hook_id: str, limit: int = 100
    ) -> builtins.list[dict[str, Any]] | None:  # ``list`` is the method above
        """Delivery log of a webhook (newest first), or ``None`` if it is not the owner's."""
        row = await self.storage.afetchone("SELECT id FROM webhooks WHERE id=? AND owner=?", (hook_id, owner))
        if row is None:
            return None
        rows = await self.storage.afetchall(
            "SELECT * FROM webhook_deliveries WHERE webhook_id=? ORDER BY created_at DESC LIMIT ?",
            (hook_id, limit),
        )
        return [
            {
                "id": r["id"],
                "event": r["event"],
                "status": r["status"],
                "attempts": r["attempts"],
                "responseCode": r["response_code"],
                "error": r["error"],
                "createdAt": int(r["created_at"] * 1000),
                "updatedAt": int(r["updated_at"] * 1000),
            }
            for r in rows
        ]

    # -- delivery ----------------------------------------------------------------------------------
    def emit_subscribers(self, event: str, data: dict[str, Any]) -> int:
        """:meth:`emit` to every owner with a webhook for ``event`` (the studio's recorder alerts:
        a machine client subscribes to them by name)."""
        if self._hooks is None:
            return 0
        return self.emit(list(self._hooks), event, data)

    def emit(self, owners: str | Iterable[str], event: str, data: dict[str, Any]) -> int:
        """Queue ``event`` for every matching webhook of ``owners``; never blocks. Returns the count."""
        if event not in EVENTS:
            raise ValueError(f"unknown event {event!r}")
        if self._hooks is None or self._sem is None:
            return 0
        owners = [owners] if isinstance(owners, str) else list(dict.fromkeys(owners))
        targets = [h for o in owners for h in self._hooks.get(o, ()) if event in h["events"]]
        if not targets:
            return 0
        payload = {"event": event, "timestamp": int(time.time() * 1000), "data": data}
        body = json.dumps(payload, separators=(",", ":"), allow_nan=False, default=str).encode()
        n = 0
        for hook in targets:
            if len(self._tasks) >= self.queue_size:
                self.dropped += 1
                if self.metrics is not None:
                    self.metrics.webhook_deliveries.labels(event, "dropped").inc()
                log.warning("webhook queue full; dropped %s for %s", event, hook["id"])
                continue
            task = asyncio.get_running_loop().create_task(self._deliver(hook, event, body))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            n += 1
        return n

    async def _log(
        self,
        delivery_id: str,
        hook_id: str,
        event: str,
        body: bytes,
        status: str,
        attempts: int,
        code: int | None,
        error: str | None,
        created: float,
        next_at: float | None = None,
    ) -> None:
        now = time.time()
        lease = (max(now, next_at or now) + self.lease) if status in ("pending", "retrying") else None
        with contextlib.suppress(Exception):
            await self.storage.aexecute(
                "INSERT INTO webhook_deliveries(id, webhook_id, event, payload, status, attempts, response_code,"
                " error, created_at, updated_at, next_attempt_at, lease_until)"
                " VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET status=excluded.status, attempts=excluded.attempts,"
                " response_code=excluded.response_code, error=excluded.error, updated_at=excluded.updated_at,"
                " next_attempt_at=excluded.next_attempt_at, lease_until=excluded.lease_until",
                (
                    delivery_id,
                    hook_id,
                    event,
                    body.decode(),
                    status,
                    attempts,
                    code,
                    error,
                    created,
                    now,
                    next_at if status in ("pending", "retrying") else None,
                    lease,
                ),
            )

    async def _deliver(
        self,
        hook: dict[str, Any],
        event: str,
        body: bytes,
        resume: tuple[str, int, float, float] | None = None,
    ) -> None:
        """Deliver ``body``; ``resume = (delivery id, attempts made, created, due)`` continues a
        delivery taken over from the queue."""
        assert self._sem is not None
        if resume is None:
            delivery_id = "dlv_" + secrets.token_hex(8)
            created = time.time()
            done = 0
            await self._log(delivery_id, hook["id"], event, body, "pending", 0, None, None, created, created)
        else:
            delivery_id, done, created, due = resume
            if due > time.time():
                await asyncio.sleep(due - time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "aimixer-webhooks/1",
            SIGNATURE_HEADER: sign(hook["secret"], body),
            "X-AIMixer-Event": event,
            "X-AIMixer-Delivery": delivery_id,
            "X-AIMixer-Timestamp": str(int(created * 1000)),
        }
        code: int | None = None
        error: str | None = None
        for attempt in range(done + 1, self.max_attempts + 1):
            retry = False
            try:
                async with self._sem:
                    if self._client is None:
                        raise RuntimeError("the webhook engine is stopped")
                    resp = await self._client.post(hook["url"], content=body, headers=headers)
                code, error = resp.status_code, None
                if 200 <= code < 300:
                    await self._log(
                        delivery_id, hook["id"], event, body, "delivered", attempt, code, None, created
                    )
                    if self.metrics is not None:
                        self.metrics.webhook_deliveries.labels(event, "delivered").inc()
                    return
                error = f"HTTP {code}"
                retry = code in (408, 429) or code >= 500
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection refused, timeout, bad URL...
                code, error, retry = None, f"{type(exc).__name__}: {exc}"[:500], True
            final = not retry or attempt == self.max_attempts
            delay = self.backoff * 2 ** (attempt - 1)
            await self._log(
                delivery_id,
                hook["id"],
                event,
                body,
                "failed" if final else "retrying",
                attempt,
                code,
                error,
                created,
                None if final else time.time() + delay,
            )
            if final:
                break
            await asyncio.sleep(delay)
        if self.metrics is not None:
            self.metrics.webhook_deliveries.labels(event, "failed").inc()
        log.info("webhook %s delivery %s failed: %s", hook["id"], delivery_id, error)

    # -- the durable queue: take over deliveries whose origin went away ----------------------------
    async def _sweep_loop(self) -> None:
        while True:
            with contextlib.suppress(Exception):
                await self.resume_abandoned()
            await asyncio.sleep(self.sweep_interval)

    async def resume_abandoned(self, limit: int = 50) -> int:
        """Claim queued deliveries whose lease ran out and deliver them here; returns the count."""
        if self._sem is None:
            return 0
        now = time.time()
        rows = await self.storage.afetchall(
            "SELECT d.id, d.webhook_id, d.event, d.payload, d.attempts, d.created_at, d.next_attempt_at,"
            " d.lease_until, w.url, w.secret, w.events FROM webhook_deliveries d"
            " LEFT JOIN webhooks w ON w.id = d.webhook_id"
            " WHERE d.status IN ('pending', 'retrying') AND (d.lease_until IS NULL OR d.lease_until < ?)"
            " ORDER BY d.created_at LIMIT ?",
            (now, limit),
        )
        n = 0
        for r in rows:
            if len(self._tasks) >= self.queue_size:
                break
            due = float(r["next_attempt_at"] or now)
            claimed = await self.storage.aexecute(
                "UPDATE webhook_deliveries SET lease_until=? WHERE id=? AND status IN ('pending', 'retrying')"
                " AND (lease_until IS NULL OR lease_until < ?)",
                (max(now, due) + self.lease, r["id"], now),
            )
            if claimed != 1:
                continue  # another origin got it first
            if r["url"] is None:  # the webhook was deleted meanwhile
                await self._log(
                    r["id"], r["webhook_id"], r["event"], r["payload"].encode(), "failed",
                    int(r["attempts"]), None, "webhook deleted", float(r["created_at"]),
                )  # fmt: skip
                continue
            hook = {"id": r["webhook_id"], "url": r["url"], "secret": r["secret"], "events": set()}
            resume = (r["id"], int(r["attempts"]), float(r["created_at"]), due)
            task = asyncio.get_running_loop().create_task(
                self._deliver(hook, r["event"], r["payload"].encode(), resume)
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            log.info("webhook delivery %s resumed after %d attempt(s)", r["id"], int(r["attempts"]))
            n += 1
        return n
