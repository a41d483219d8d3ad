"""In-memory store of mixer sessions (one DSP/loudness/genre state per ``sessionId``).

Sessions are scoped by owner (the caller's :attr:`origin.auth.Principal.owner_id`), so two API
keys using the same ``sessionId`` never share state. An idle session expires after ``ttl``
seconds; beyond ``max_sessions`` the least recently used one is evicted. Each entry has an
``asyncio.Lock`` so concurrent requests of one session run one at a time, in order of arrival.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SessionEntry", "SessionStore", "SESSION_ID_RE", "new_session_id"]

SESSION_ID_RE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def new_session_id() -> str:
    """A fresh session id (``sess_`` + 24 hex digits)."""
    return "sess_" + secrets.token_hex(12)


@dataclass
class SessionEntry:
    """One session: the DSP state object plus bookkeeping."""

    id: str
    owner: str
    session: Any
    created: float
    last_used: float
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    meta: dict[str, Any] = field(default_factory=dict)
    frames: int = 0
    last_genre: str | None = None


class SessionStore:
    """Sessions keyed by ``(owner, session id)``.

    Parameters
    ----------
    factory : callable
        ``factory(session_id) -> session object`` (a ``MixerSession``).
    ttl : float
        Idle seconds before a session expires.
    max_sessions : int
        Most sessions kept; the least recently used is evicted beyond it.
    on_evict : callable, optional
        Called with each expired/evicted/removed :class:`SessionEntry`.
    """

    def __init__(
        self,
        factory: Callable[[str], Any],
        *,
        ttl: float = 900.0,
        max_sessions: int = 10000,
        clock: Callable[[], float] = time.monotonic,
        on_evict: Callable[[SessionEntry], None] | None = None,
    ) -> None:
        self.factory = factory
        self.ttl = ttl
        self.max_sessions = max_sessions
        self._clock = clock
        self._entries: OrderedDict[tuple[str, str], SessionEntry] = OrderedDict()
        self.on_evict = on_evict

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, owner: str, session_id: str) -> SessionEntry | None:
        """The live session, or ``None`` (expired ones are dropped)."""
        key = (owner, session_id)
        entry = self._entries.get(key)
        if entry is None:
            return None
        now = self._clock()
        if now - entry.last_used > self.ttl:
            self._drop(key)
            return None
        entry.last_used = now
        self._entries.move_to_end(key)
        return entry

    def get_or_create(self, owner: str, session_id: str, **meta: Any) -> SessionEntry:
        """The session ``session_id`` of ``owner``, created if absent or expired."""
        entry = self.get(owner, session_id)
        if entry is not None:
            return entry
        now = self._clock()
        entry = SessionEntry(session_id, owner, self.factory(session_id), now, now, meta=dict(meta))
        self._entries[(owner, session_id)] = entry
        self.sweep()
        while len(self._entries) > self.max_sessions:
            self._drop(next(iter(self._entries)))
        return entry

    def remove(self, owner: str, session_id: str) -> bool:
        """Forget a session; True if it existed."""
        return self._drop((owner, session_id)) is not None

    def _drop(self, key: tuple[str, str]) -> SessionEntry | None:
        entry = self._entries.pop(key, None)
        if entry is not None and self.on_evict is not None:
            try:
                self.on_evict(entry)
            except Exception:  # pragma: no cover - callbacks must not break the store
                pass
        return entry

    def sweep(self) -> int:
        """Drop expired sessions; returns how many."""
        now = self._clock()
        n = 0
        while self._entries:
            key, entry = next(iter(self._entries.items()))
            if now - entry.last_used <= self.ttl:
                break
            self._drop(key)
            n += 1
        return n
