"""One studio supervisor for several origins: a leader elected through a Redis lease.

With ``redis_url`` set, every origin serves the whole studio API, but only the **leader** runs
recorder workers. Keys and channels (under ``aimixer:studio:``):

==================  ==========================================================================
``leader``          the lease: ``SET NX PX`` with this origin's id; renewed every
                    :data:`RENEW_S` seconds by a compare-and-renew script, lasts :data:`LEASE_S`
``cmd``             a list of commands (``start``/``stop``) that followers push and the leader
                    pops (``BLPOP``); the answer goes to ``reply:{id}`` (a list, 30 s TTL)
``runtimes``        the leader's recorder views as JSON, refreshed and published on the channel
                    of the same name at the levels rate: followers show them in the API and
                    feed their ``/ws/levels`` clients from them
==================  ==========================================================================

A follower tries to take the lease every :data:`RENEW_S` seconds. When a leader dies (even with
``kill -9``) its lease runs out after at most :data:`LEASE_S` seconds and another origin takes
over: it becomes the supervisor and resumes every recorder whose desired state is ``recording``
(:meth:`origin.studio.StudioService.resume_recorders`). The archive goes on under the engine's
rules: a new file never overwrites an old one. A leader that fails to renew its lease (Redis
unreachable, or another origin holds it) stops its workers and becomes a follower.

The desired state of every recorder stays in the database, as with one origin; the leader is
only the one process that acts on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import socket
import time
from typing import Any

from origin.errors import StudioError
from origin.shared import PREFIX

__all__ = ["StudioLeadership", "RemoteSupervisor", "RemoteRuntime", "LEASE_S", "RENEW_S"]

log = logging.getLogger("origin.studio.leader")

LEASE_S = 3.0
RENEW_S = 1.0
KEY = PREFIX + "studio:"

_RENEW_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RemoteRuntime:
    """A recorder as the leader last reported it (the read side of :class:`Runtime`)."""

    def __init__(self, rid: int, data: dict[str, Any] | None, stale: bool) -> None:
        d = data or {}
        self.rid = rid
        self.state: str = str(d.get("state", "stopped"))
        self.restarts: int = int(d.get("restarts", 0))
        self.current_file: str | None = d.get("current_file")
        #: the worker's last stream counters, as the leader reported them
        self.stats: dict[str, Any] = dict(d.get("stats") or {})
        self._running = bool(d.get("running", False))
        self._view: dict[str, Any] = d.get("view") or {
            "state": "stopped",
            "levels": [],
            "start_time": None,
            "bytes_written": 0,
            "current_file": None,
            "errors": [],
        }
        self._stale = stale

    @property
    def running(self) -> bool:
        return self._running

    def live_levels(self) -> list[dict[str, Any]]:
        levels = list(self._view.get("levels") or [])
        if self._stale:  # no leader has reported lately: silence, like a quiet worker
            return [
                dict(c, level_db=-120.0, level_linear=0.0, peak_db=-120.0, clipping=False) for c in levels
            ]
        return levels

    def view(self) -> dict[str, Any]:
        return dict(self._view, levels=self.live_levels())


class RemoteSupervisor:
    """What a follower has instead of a :class:`Supervisor`: reads come from the leader's last
    report, ``start``/``stop`` are sent to the leader and answered by it."""

    def __init__(self, leadership: StudioLeadership) -> None:
        self.leadership = leadership
        self.closing = False

    @property
    def runtimes(self) -> dict[int, RemoteRuntime]:
        return {rid: self.runtime(rid) for rid in self.leadership.snapshot}

    def runtime(self, rid: int) -> RemoteRuntime:
        snap = self.leadership.snapshot
        return RemoteRuntime(rid, snap.get(rid), self.leadership.snapshot_stale)

    async def start(self, rid: int, config: dict[str, Any], *, wait: float = 3.0) -> RemoteRuntime:
        await self.leadership.command("start", rid, config=config, wait=wait)
        return self.runtime(rid)

    async def stop(self, rid: int) -> RemoteRuntime:
        await self.leadership.command("stop", rid)
        return self.runtime(rid)

    async def shutdown(self) -> None:
        self.closing = True


class LeaderUnavailable(StudioError):
    """No leader answered a command in time (the API answers 503 with ``detail``)."""

    def __init__(self, message: str) -> None:
        super().__init__(503, message)


class StudioLeadership:
    """Runs the election, the command loop (leader) and the state feed for one origin."""

    def __init__(
        self, service: Any, shared: Any, *, lease_s: float = LEASE_S, renew_s: float = RENEW_S
    ) -> None:
        self.service = service
        self.shared = shared
        self.client = shared.client
        self.lease_s = lease_s
        self.renew_s = renew_s
        self.me = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.is_leader = False
        self.snapshot: dict[int, dict[str, Any]] = {}
        self.snapshot_at = 0.0
        self.local_supervisor = service.supervisor
        self.remote = RemoteSupervisor(self)
        self._renew = self.client.register_script(_RENEW_LUA)
        self._release = self.client.register_script(_RELEASE_LUA)
        self._tasks: list[asyncio.Task[Any]] = []
        self._leader_tasks: list[asyncio.Task[Any]] = []
        self._transition = asyncio.Lock()

    @property
    def snapshot_stale(self) -> bool:
        return time.monotonic() - self.snapshot_at > 2 * self.lease_s

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        self.service.supervisor = self.remote
        self.service.supervising = True  # commands are forwarded to the leader
        with contextlib.suppress(Exception):
            await self._load_snapshot()
        self.shared.subscribe("studio:runtimes", self._on_runtimes)
        try:
            await self._elect_once()
        except Exception as exc:  # Redis not there yet: the election loop keeps trying
            log.warning("studio election: %s", exc)
        self._tasks.append(asyncio.get_running_loop().create_task(self._elect_loop()))

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()
        if self.is_leader:
            await self._demote(release=True)

    # -- election -------------------------------------------------------------------------------
    async def _elect_loop(self) -> None:
        while True:
            await asyncio.sleep(self.renew_s)
            try:
                await self._elect_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("studio election: %s", exc)
                if self.is_leader:
                    await self._demote(release=False)

    async def _elect_once(self) -> None:
        ms = int(self.lease_s * 1000)
        if self.is_leader:
            if not await self._renew(keys=[KEY + "leader"], args=[self.me, ms]):
                log.warning("studio leadership lost (lease taken or expired)")
                await self._demote(release=False)
            return
        if await self.client.set(KEY + "leader", self.me, nx=True, px=ms):
            await self._promote()

    async def _promote(self) -> None:
        async with self._transition:
            if self.is_leader:
                return
            log.info("this origin (%s) is now the studio leader", self.me)
            self.is_leader = True
            self.service.supervisor = self.local_supervisor
            self.local_supervisor.closing = False
            loop = asyncio.get_running_loop()
            self._leader_tasks = [
                loop.create_task(self._command_loop()),
                loop.create_task(self._publish_loop()),
            ]
            await self.service.resume_recorders()
            await self._publish()

    async def _demote(self, *, release: bool) -> None:
        async with self._transition:
            if not self.is_leader:
                return
            self.is_leader = False
            for t in self._leader_tasks:
                t.cancel()
            for t in self._leader_tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
            self._leader_tasks.clear()
            await self.local_supervisor.shutdown()  # the next leader resumes them
            self.service.supervisor = self.remote
            if release:
                with contextlib.suppress(Exception):
                    await self._release(keys=[KEY + "leader"], args=[self.me])
            log.info("this origin (%s) is no longer the studio leader", self.me)

    # -- state feed -----------------------------------------------------------------------------
    def _local_snapshot(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for rid, rt in self.local_supervisor.runtimes.items():
            out[str(rid)] = {
                "state": rt.state,
                "running": rt.running,
                "restarts": rt.restarts,
                "current_file": rt.current_file,
                "view": rt.view(),
                "stats": dict(rt.stats),
            }
        return out

    async def _publish(self) -> None:
        snap = self._local_snapshot()
        self._set_snapshot(snap)
        data = json.dumps({"leader": self.me, "runtimes": snap}, allow_nan=False)
        await self.client.set(KEY + "runtimes", data, px=int(self.lease_s * 2000))
        await self.shared.publish("studio:runtimes", data)

    async def _publish_loop(self) -> None:
        period = 1.0 / max(0.5, float(self.service.levels_hz or 10.0))
        while True:
            with contextlib.suppress(Exception):
                await self._publish()
            await asyncio.sleep(period)

    def _set_snapshot(self, snap: dict[str, Any]) -> None:
        self.snapshot = {int(k): v for k, v in snap.items() if str(k).isdigit() and isinstance(v, dict)}
        self.snapshot_at = time.monotonic()

    async def _on_runtimes(self, data: bytes) -> None:
        if self.is_leader:
            return
        doc = json.loads(data)
        if isinstance(doc, dict) and isinstance(doc.get("runtimes"), dict):
            self._set_snapshot(doc["runtimes"])

    async def _load_snapshot(self) -> None:
        raw = await self.client.get(KEY + "runtimes")
        if raw:
            await self._on_runtimes(raw)

    # -- commands -------------------------------------------------------------------------------
    async def command(self, op: str, rid: int, **args: Any) -> dict[str, Any]:
        """Run ``op`` on recorder ``rid`` where the recorders are: here if we lead, else on the
        leader (through Redis); raises :class:`LeaderUnavailable` when no leader answers."""
        if self.is_leader:
            return await self._execute({"op": op, "rid": rid, **args})
        cid = secrets.token_hex(8)
        wait = float(args.get("wait", 3.0) or 0.0)
        await self.client.rpush(KEY + "cmd", json.dumps({"id": cid, "op": op, "rid": rid, **args}))
        got = await self.client.blpop([KEY + f"reply:{cid}"], timeout=wait + 15.0)
        if got is None:
            raise LeaderUnavailable("no studio leader answered; retry in a few seconds")
        reply = json.loads(got[1])
        if isinstance(reply.get("runtimes"), dict):
            self._set_snapshot(reply["runtimes"])
        if reply.get("error"):
            raise LeaderUnavailable(str(reply["error"]))
        return reply

    async def _execute(self, cmd: dict[str, Any]) -> dict[str, Any]:
        sup = self.local_supervisor
        rid = int(cmd["rid"])
        if cmd["op"] == "start":
            await sup.start(rid, dict(cmd.get("config") or {}), wait=float(cmd.get("wait", 3.0)))
        elif cmd["op"] == "stop":
            await sup.stop(rid)
        else:
            return {"error": f"unknown command {cmd['op']!r}"}
        snap = self._local_snapshot()
        self._set_snapshot(snap)
        return {"ok": True, "runtimes": snap}

    async def _command_loop(self) -> None:
        while True:
            try:
                got = await self.client.blpop([KEY + "cmd"], timeout=1)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("studio command queue: %s", exc)
                await asyncio.sleep(0.5)
                continue
            if got is None:
                continue
            asyncio.get_running_loop().create_task(self._serve_command(got[1]))

    async def _serve_command(self, raw: bytes) -> None:
        try:
            cmd = json.loads(raw)
            if not isinstance(cmd, dict) or not isinstance(cmd.get("id"), str) or len(cmd["id"]) > 64:
                return
            try:
                reply = await self._execute(cmd)
            except Exception as exc:  # reported to the follower, which answers 503
                reply = {"error": f"{type(exc).__name__}: {exc}"}
            key = KEY + f"reply:{cmd['id']}"
            await self.client.rpush(key, json.dumps(reply, allow_nan=False))
            await self.client.expire(key, 30)
        except Exception as exc:
            log.warning("studio command failed: %s", exc)
