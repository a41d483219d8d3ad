"""One supervised child process per running recorder.

Each recorder that should record runs ``python -m origin.cli record ... --levels`` as a child
process (so a dying worker is a real dead process, and crash safety comes from the engine's
archive rules: a restart continues the period's WAV or picks the next free name, never
overwrites). The supervisor reads the worker's JSON lines (``levels``, ``stats``, ``event``) and
keeps the recorder's live state in memory:

* ``recording``  the worker is alive (for a restarted worker: once it reported again);
* ``error``      the worker died; ``errors`` holds the reason (exit status / signal and the
  last stderr line). It is restarted with exponential backoff (0.5 s doubling to 15 s; reset
  after 30 s of healthy running) and every death/restart is written to the event log;
* ``stopped``    not running. Stopping sends SIGTERM (the engine finalises the file) and
  SIGKILL only after ``stop_timeout`` seconds.

Two ways to run workers:

* **attached** (no ``run_dir``; tests that inject a fake worker): the worker reports on stdout,
  gets ``PR_SET_PDEATHSIG=SIGTERM`` (Linux) and its own session, so it finalises and exits if
  the origin dies;
* **detached** (``run_dir``, what the studio uses): the worker outlives the origin, reports over
  a datagram socket and holds a lock file; the next origin re-adopts it with
  :meth:`Supervisor.adopt_running` (see :mod:`origin.studio.detached`). Recording never stops
  because the HTTP process died.

The *desired* state (``recording``/``stopped``) is kept in the database; at start-up the origin
adopts the live workers and starts every other recorder whose desired state is recording.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as _dt
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from origin.recorder import protocol
from origin.studio.broker import sanitize_channels

__all__ = ["Supervisor", "Runtime", "describe_exit"]

log = logging.getLogger("origin.studio.supervisor")

BACKOFF_MIN = 0.5
BACKOFF_MAX = 15.0
HEALTHY_AFTER = 30.0
MAX_ERRORS = 10
LEVELS_STALE_S = 1.5


def describe_exit(returncode: int | None) -> str:
    """Human text for a child's exit status (negative = killed by a signal)."""
    if returncode is None:
        return "worker vanished"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"worker killed by {name}"
    return f"worker exited with status {returncode}"


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    return _dt.datetime.fromtimestamp(t, _dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pdeathsig() -> None:  # pragma: no cover - runs in the child between fork and exec
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort (non-Linux)
        pass


@dataclass(eq=False)
class Runtime:
    """Live state of one recorder (what the API shows)."""

    rid: int
    state: str = "stopped"
    levels: list[dict[str, Any]] = field(default_factory=list)
    levels_at: float = 0.0
    start_time: float | None = None
    bytes_written: int = 0
    current_file: str | None = None
    errors: list[str] = field(default_factory=list)
    pid: int | None = None
    restarts: int = 0
    stats: dict[str, Any] = field(default_factory=dict)
    engine_errors: list[str] = field(default_factory=list)
    proc: asyncio.subprocess.Process | None = None
    task: asyncio.Task[None] | None = None
    stop_requested: bool = False
    stop_event: asyncio.Event = field(default_factory=asyncio.Event)
    reported: asyncio.Event = field(default_factory=asyncio.Event)
    stderr_tail: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=20))
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    recovering: bool = False
    adopted: bool = False
    report_chain: asyncio.Future[None] | None = None

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def live_levels(self) -> list[dict[str, Any]]:
        """Current channel levels (floored to silence when the worker went quiet)."""
        if self.state != "recording" or not self.levels:
            return (
                []
                if self.state == "stopped"
                else [
                    dict(
                        c,
                        level_db=-120.0,
                        level_linear=0.0,
                        peak_db=-120.0,
                        true_peak_db=-120.0,
                        clipping=False,
                    )
                    for c in self.levels
                ]
            )
        if time.monotonic() - self.levels_at > LEVELS_STALE_S:
            return [
                dict(
                    c, level_db=-120.0, level_linear=0.0, peak_db=-120.0, true_peak_db=-120.0, clipping=False
                )
                for c in self.levels
            ]
        return self.levels

    def add_error(self, msg: str) -> None:
        self.errors.append(msg)
        del self.errors[:-MAX_ERRORS]

    def view(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "levels": self.live_levels(),
            "start_time": _iso(self.start_time),
            "bytes_written": int(self.bytes_written),
            "current_file": self.current_file,
            "errors": list(self.errors) + [e for e in self.engine_errors if e not in self.errors],
        }


EventSink = Callable[[int, str, str], Awaitable[None]]
PidSink = Callable[[int, int | None], Awaitable[None]]


class Supervisor:
    """Starts, watches, restarts and stops recorder workers.

    Parameters
    ----------
    build_command : callable
        ``build_command(recorder_id, config) -> list[str]`` argv of the worker.
    on_event : coroutine function
        ``on_event(recorder_id, kind, message)``: persist an event.
    on_pid : coroutine function
        ``on_pid(recorder_id, pid or None)``: persist the worker pid.
    on_alert : callable, optional
        ``on_alert(recorder_id, event, data)`` for the alert events (``recorder.*``, see
        :mod:`origin.recorder.alerts`): the worker's, plus ``recorder.error`` when a worker
        dies and ``recorder.restarted`` when it is started again. Must not block.
    env : dict, optional
        Environment of the workers.
    stop_timeout : float
        Seconds to wait after SIGTERM before SIGKILL.
    """

    def __init__(
        self,
        build_command: Callable[[int, dict[str, Any]], list[str]],
        *,
        on_event: EventSink | None = None,
        on_pid: PidSink | None = None,
        on_alert: Callable[[int, str, dict[str, Any]], None] | None = None,
        env: dict[str, str] | None = None,
        stop_timeout: float = 10.0,
        backoff_min: float = BACKOFF_MIN,
        backoff_max: float = BACKOFF_MAX,
        run_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        from origin.studio.detached import RunDir

        self.run_dir = RunDir(run_dir) if run_dir is not None else None
        self.build_command = build_command
        self.on_event = on_event
        self.on_pid = on_pid
        self.on_alert = on_alert
        self.env = env
        self.stop_timeout = stop_timeout
        self.backoff_min = backoff_min
        self.backoff_max = backoff_max
        self.runtimes: dict[int, Runtime] = {}
        self.closing = False

    def runtime(self, rid: int) -> Runtime:
        rt = self.runtimes.get(rid)
        if rt is None:
            rt = self.runtimes[rid] = Runtime(rid)
        return rt

    async def _event(self, rid: int, kind: str, message: str) -> None:
        if kind in ("worker_died", "worker_spawn_failed"):
            log.warning("recorder %s: %s", rid, message)
        elif kind.startswith("engine_"):
            log.debug("recorder %s: %s: %s", rid, kind, message)
        else:
            log.info("recorder %s: %s: %s", rid, kind, message)
        if self.on_event is not None:
            try:
                await self.on_event(rid, kind, message)
            except Exception:  # noqa: BLE001 - the event log must never break supervision
                log.exception("cannot record event for recorder %s", rid)

    async def _alert(self, rid: int, event: str, data: dict[str, Any]) -> None:
        """Persist an alert (its own kind in the event log) and hand it to ``on_alert``."""
        await self._event(rid, event, json.dumps(data, default=str)[:1000])
        if self.on_alert is not None:
            try:
                self.on_alert(rid, event, data)
            except Exception:  # noqa: BLE001 - alert fan-out must never break supervision
                log.exception("cannot route alert %s of recorder %s", event, rid)

    async def _pid(self, rid: int, pid: int | None) -> None:
        if self.on_pid is not None:
            with contextlib.suppress(Exception):
                await self.on_pid(rid, pid)

    # -- public ---------------------------------------------------------------------------------
    async def adopt_running(self, wanted: dict[int, dict[str, Any]]) -> set[int]:
        """Take over the live detached workers left by a previous origin (the entry point for
        whichever origin supervises the recorders, e.g. after winning an election).

        ``wanted`` maps each recorder that should record to its config. A live worker of a
        wanted recorder is adopted (its file continues, no restart); a live worker of any other
        recorder is stopped (SIGTERM). Returns the adopted recorder ids; start the others.
        """
        if self.run_dir is None:
            return set()
        from origin.studio.detached import AdoptedProcess

        adopted: set[int] = set()
        for path in sorted(self.run_dir.path.glob("recorder-*.lock")):
            try:
                rid = int(path.stem.split("-", 1)[1])
            except ValueError:
                continue
            pid = await asyncio.get_running_loop().run_in_executor(None, self.run_dir.holder, rid)
            if pid is None or self.runtime(rid).running:
                continue
            proc = AdoptedProcess(pid)
            if rid not in wanted:
                await self._event(rid, "worker_orphan_stopped", f"pid {pid} (recorder not wanted)")
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
                continue
            await self.start(rid, wanted[rid], wait=0, adopt=proc)
            adopted.add(rid)
        return adopted

    async def start(
        self, rid: int, config: dict[str, Any], *, wait: float = 3.0, adopt: Any = None
    ) -> Runtime:
        """Start recorder ``rid`` (no-op when running). Waits up to ``wait`` s for the first report.

        ``adopt`` (an :class:`origin.studio.detached.AdoptedProcess`) supervises that live worker
        instead of spawning one (see :meth:`adopt_running`)."""
        rt = self.runtime(rid)
        async with rt.lock:
            if rt.running:
                return rt
            rt.stop_requested = False
            rt.stop_event = asyncio.Event()
            rt.reported = asyncio.Event()
            rt.errors = []
            rt.engine_errors = []
            rt.levels = []
            rt.bytes_written = 0
            rt.current_file = None
            rt.stats = {}
            rt.restarts = 0
            rt.start_time = time.time()
            rt.state = "recording"
            rt.adopted = adopt is not None
            rt.task = asyncio.get_running_loop().create_task(
                self._supervise(rt, dict(config), adopt), name=f"recorder-{rid}"
            )
        if wait > 0:
            done = asyncio.ensure_future(rt.reported.wait())
            try:
                await asyncio.wait({done, rt.task}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            finally:
                done.cancel()
            # a worker that died at once has state "error" already (set by the supervise loop)
            for _ in range(20):
                if (
                    rt.state == "error"
                    or rt.reported.is_set()
                    or rt.proc is not None
                    and rt.proc.returncode is None
                ):
                    break
                await asyncio.sleep(0.05)
        return rt

    async def stop(self, rid: int) -> Runtime:
        """Stop recorder ``rid`` cleanly (SIGTERM, then SIGKILL after ``stop_timeout``)."""
        rt = self.runtime(rid)
        async with rt.lock:
            rt.stop_requested = True
            rt.stop_event.set()
            proc = rt.proc
            if proc is not None and proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
            if rt.task is not None:
                try:
                    await asyncio.wait_for(asyncio.shield(rt.task), self.stop_timeout)
                except TimeoutError:
                    if rt.proc is not None and rt.proc.returncode is None:
                        with contextlib.suppress(ProcessLookupError):
                            rt.proc.kill()
                        await self._event(
                            rid,
                            "worker_killed",
                            f"worker did not stop within {self.stop_timeout:.0f} s after SIGTERM; killed",
                        )
                    with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                        await asyncio.wait_for(asyncio.shield(rt.task), 5.0)
                except asyncio.CancelledError:
                    pass
            rt.task = None
            rt.state = "stopped"
            rt.levels = []
            rt.current_file = None
            rt.start_time = None
        return rt

    async def shutdown(self) -> None:
        """Stop every worker (the desired state in the DB is left alone, so they resume)."""
        self.closing = True
        await asyncio.gather(
            *(self.stop(rid) for rid, rt in list(self.runtimes.items()) if rt.running), return_exceptions=True
        )

    # -- the loop -------------------------------------------------------------------------------
    async def _spawn(self, rt: Runtime, config: dict[str, Any]) -> asyncio.subprocess.Process:
        argv = self.build_command(rt.rid, config)
        if self.run_dir is not None:
            argv = [
                *argv,
                "--report-socket",
                self.run_dir.socket_name(rt.rid),
                "--lock-file",
                str(self.run_dir.lock(rt.rid)),
            ]
            with open(self.run_dir.log(rt.rid), "wb") as log:  # the child keeps its own copy
                return await asyncio.create_subprocess_exec(
                    *argv,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=log,
                    env=self.env,
                    start_new_session=True,  # no parent-death signal: it outlives the origin
                )
        return await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self.env,
            start_new_session=True,
            preexec_fn=_pdeathsig if sys.platform.startswith("linux") else None,
            limit=1 << 20,
        )

    async def _read_stdout(self, rt: Runtime, stream: asyncio.StreamReader, recovering: bool) -> None:
        while True:
            try:
                line = await stream.readline()
            except (ValueError, asyncio.LimitOverrunError):
                continue  # an over-long line: skip it
            if not line:
                return
            msg = protocol.parse(line)
            if msg is None:
                continue
            await self._handle(rt, msg, recovering)
            recovering = False if rt.state == "recording" else recovering

    async def _read_stderr(self, rt: Runtime, stream: asyncio.StreamReader) -> None:
        while True:
            try:
                line = await stream.readline()
            except (ValueError, asyncio.LimitOverrunError):
                continue
            if not line:
                return
            text = line.decode("utf-8", "replace").rstrip()
            if text:
                rt.stderr_tail.append(text[:500])

    async def _handle(self, rt: Runtime, msg: protocol.Message, recovering: bool) -> None:
        """Apply one report (from :func:`origin.recorder.protocol.parse`)."""
        if msg["type"] == protocol.LEVELS:
            rt.levels = sanitize_channels(msg.get("channels"))
            rt.levels_at = time.monotonic()
        elif msg["type"] == protocol.STATS:
            self._apply_stats(rt, msg)
        elif msg["type"] == protocol.EVENT:
            name = msg["event"]
            detail = {k: v for k, v in msg.items() if k not in ("type", "event")}
            path = msg.get("path")
            if name == protocol.FILE_OPEN and isinstance(path, str):
                rt.current_file = path
            if name.startswith("recorder."):
                await self._alert(rt.rid, name, detail)
            else:
                await self._event(rt.rid, f"engine_{name}", json.dumps(detail, default=str)[:1000])
        else:
            return
        if not rt.reported.is_set():
            rt.reported.set()
        if rt.state != "recording" and not rt.stop_requested:
            rt.state = "recording"
            if recovering:
                await self._event(rt.rid, "worker_recovered", f"recording again (restart #{rt.restarts})")

    @staticmethod
    def _apply_stats(rt: Runtime, msg: protocol.StatsMessage) -> None:
        rt.stats = {k: v for k, v in msg.items() if k != "type"}
        bw = msg.get("bytes_written")
        if isinstance(bw, int | float) and not isinstance(bw, bool):
            rt.bytes_written = int(bw)
        cf = msg.get("current_file")
        if isinstance(cf, str) and cf:
            rt.current_file = cf
        errs = msg.get("errors")
        if isinstance(errs, list):
            rt.engine_errors = [str(e) for e in errs[-MAX_ERRORS:]]

    def _on_report(self, rt: Runtime, msg: protocol.Message) -> None:
        """A datagram from a detached worker (handled in order on the event loop)."""
        prev = rt.report_chain

        async def handle() -> None:
            if prev is not None:
                with contextlib.suppress(Exception):
                    await prev
            await self._handle(rt, msg, rt.recovering)
            if rt.state == "recording":
                rt.recovering = False

        rt.report_chain = asyncio.ensure_future(handle())

    async def _supervise(self, rt: Runtime, config: dict[str, Any], adopt: Any = None) -> None:
        backoff = self.backoff_min
        recovering = False
        endpoint = None
        if self.run_dir is not None:
            from origin.studio.detached import ReportEndpoint

            try:
                endpoint = await ReportEndpoint.bind(
                    self.run_dir.socket_name(rt.rid), lambda m: self._on_report(rt, m)
                )
            except OSError as exc:
                await self._event(rt.rid, "worker_reports_lost", f"cannot bind the report socket: {exc}")
        try:
            while not rt.stop_requested:
                spawned_at = time.monotonic()
                try:
                    if adopt is not None:
                        proc, adopt = adopt, None
                    else:
                        proc = await self._spawn(rt, config)
                except (OSError, ValueError) as exc:
                    rt.state = "error"
                    msg = f"cannot start worker: {exc}"
                    rt.add_error(msg)
                    await self._event(rt.rid, "worker_spawn_failed", msg)
                else:
                    rt.proc = proc
                    rt.pid = proc.pid
                    rt.stderr_tail.clear()
                    rt.recovering = recovering
                    await self._pid(rt.rid, proc.pid)
                    adopted = getattr(proc, "adopted", False)
                    if adopted:
                        await self._event(
                            rt.rid, "worker_adopted", f"pid {proc.pid} (left by a previous origin)"
                        )
                    else:
                        await self._event(rt.rid, "worker_started", f"pid {proc.pid}")
                    readers = []
                    if self.run_dir is None:  # attached: the protocol comes on stdout
                        assert proc.stdout is not None and proc.stderr is not None
                        readers = [
                            asyncio.ensure_future(self._read_stdout(rt, proc.stdout, recovering)),
                            asyncio.ensure_future(self._read_stderr(rt, proc.stderr)),
                        ]
                    try:
                        rc = await proc.wait()
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(asyncio.gather(*readers, return_exceptions=True), 2.0)
                    finally:
                        for r in readers:
                            r.cancel()
                    rt.proc = None
                    rt.pid = None
                    if self.run_dir is not None:
                        rt.stderr_tail.extend(self.run_dir.log_tail(rt.rid))
                    await self._pid(rt.rid, None)
                    if adopted and not rt.stop_requested:
                        rc = None  # not our child: its exit status is unknown
                    if rt.stop_requested:
                        if rc not in (0, -signal.SIGTERM):
                            await self._event(rt.rid, "worker_stopped", describe_exit(rc))
                        else:
                            await self._event(rt.rid, "worker_stopped", "stopped cleanly")
                        break
                    reason = describe_exit(rc)
                    tail = next((line for line in reversed(rt.stderr_tail) if line.strip()), "")
                    if tail:
                        reason = f"{reason}: {tail}"
                    rt.state = "error"
                    rt.add_error(f"{_iso(time.time())} {reason}")
                    await self._event(rt.rid, "worker_died", reason)
                    await self._alert(rt.rid, "recorder.error", {"message": reason})
                if time.monotonic() - spawned_at > HEALTHY_AFTER:
                    backoff = self.backoff_min
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(rt.stop_event.wait(), backoff)
                if rt.stop_requested:
                    break
                rt.restarts += 1
                recovering = True
                await self._event(rt.rid, "worker_restart", f"restart #{rt.restarts} after {backoff:.1f} s")
                await self._alert(
                    rt.rid, "recorder.restarted", {"restarts": rt.restarts, "after_s": round(backoff, 1)}
                )
                backoff = min(backoff * 2, self.backoff_max)
        except asyncio.CancelledError:
            proc = rt.proc
            if proc is not None and proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
            raise
        finally:
            if endpoint is not None:
                endpoint.close()
            if rt.stop_requested:
                rt.state = "stopped"


def terminate_stale(pid: int | None, timeout: float = 10.0) -> bool:
    """Terminate a leftover worker ``pid`` from a previous origin (only if it is our recorder).

    Returns True when a process was signalled.
    """
    if not pid or pid == os.getpid():
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            cmd = fh.read().split(b"\x00")
    except OSError:
        return False
    if b"origin.cli" not in cmd or b"record" not in cmd:
        return False
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _alive(pid):
                return True
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)
    return True


def _alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False
