"""Detached recorder workers: they outlive the origin, and the next origin re-adopts them.

With a run directory (``{data_dir}/run``), :class:`origin.studio.supervisor.Supervisor` starts
each worker so that the origin's death does not stop it:

* no parent-death signal, its own session, stdout unused, stderr to ``recorder-N.log``;
* it reports over a Unix datagram socket (:mod:`origin.recorder.report`) whose abstract address
  is derived from the run directory, so whichever origin binds it next gets the reports;
* it holds ``recorder-N.lock`` (an ``flock`` with its pid) for its whole life.

When an origin starts supervising it calls :meth:`Supervisor.adopt_running`: every recorder
whose lock is held by a live worker is *adopted* (watched through a pidfd, fed by the socket)
instead of started again; the engine already continues its files, so nothing is lost or
overwritten. A graceful origin stop still stops the workers (SIGTERM, the file is finalised).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import signal
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from origin.recorder import protocol
from origin.recorder.report import lock_holder, socket_address

__all__ = ["RunDir", "AdoptedProcess", "ReportEndpoint"]


class RunDir:
    """File names and socket addresses of the detached workers under ``path``."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._tag = hashlib.sha256(str(self.path.resolve()).encode()).hexdigest()[:16]

    def lock(self, rid: int) -> Path:
        return self.path / f"recorder-{rid}.lock"

    def log(self, rid: int) -> Path:
        return self.path / f"recorder-{rid}.log"

    def socket_name(self, rid: int) -> str:
        """``@aimixer-<hash of the run dir>-<rid>``: an abstract address (no file, no length limit)."""
        return f"@aimixer-{self._tag}-{rid}"

    def holder(self, rid: int) -> int | None:
        """pid of the live worker of recorder ``rid`` (``None`` when none holds its lock)."""
        return lock_holder(self.lock(rid))

    def log_tail(self, rid: int, lines: int = 20) -> list[str]:
        try:
            with open(self.log(rid), "rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - 8192))
                text = fh.read().decode("utf-8", "replace")
        except OSError:
            return []
        return [line[:500] for line in text.splitlines()[-lines:] if line.strip()]


class AdoptedProcess:
    """A worker this process did not start: the subset of ``asyncio.subprocess.Process`` the
    supervisor uses (``pid``, ``returncode``, ``send_signal``, ``kill``, ``wait``).

    Its exit status is not ours to read: ``returncode`` becomes ``0`` once it is gone and
    :attr:`adopted` tells the supervisor not to trust it.
    """

    adopted = True

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        try:
            self._pidfd: int | None = os.pidfd_open(pid)
        except (AttributeError, OSError):
            self._pidfd = None

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    async def wait(self) -> int:
        if self.returncode is not None:
            return self.returncode
        loop = asyncio.get_running_loop()
        try:
            if self._pidfd is not None:
                done: asyncio.Future[None] = loop.create_future()

                def _exited() -> None:
                    if not done.done():
                        done.set_result(None)

                loop.add_reader(self._pidfd, _exited)
                try:
                    await done
                finally:
                    loop.remove_reader(self._pidfd)
            else:  # no pidfd: poll
                while _alive(self.pid):
                    await asyncio.sleep(0.2)
        finally:
            if self._pidfd is not None:
                with contextlib.suppress(OSError):
                    os.close(self._pidfd)
                self._pidfd = None
        self.returncode = 0
        return 0


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, on_message: Callable[[protocol.Message], None]) -> None:
        self.on_message = on_message

    def datagram_received(self, data: bytes, addr: Any) -> None:
        msg = protocol.parse(data)
        if msg is not None:
            self.on_message(msg)


class ReportEndpoint:
    """The supervisor's end of one recorder's report socket (bound until :meth:`close`)."""

    def __init__(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    @classmethod
    async def bind(cls, name: str, on_message: Callable[[protocol.Message], None]) -> ReportEndpoint:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.bind(socket_address(name))
        sock.setblocking(False)
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: _Protocol(on_message), sock=sock
        )
        return cls(transport)

    def close(self) -> None:
        self.transport.close()
