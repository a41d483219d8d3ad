"""Where a recorder worker sends its JSON line protocol, and the lock that marks it alive.

A supervised worker (``aimixer record --levels``) reports levels, stats and events as JSON
objects (see :mod:`origin.recorder`). Two transports:

* **stdout** (the default): one JSON object per line. When stdout is gone the worker stops.
* **a Unix datagram socket** (``--report-socket NAME``): one JSON object per datagram, sent
  without blocking to the supervisor bound at ``NAME`` (``@name`` is a Linux abstract address).
  When no supervisor is bound (the origin died) or its buffer is full, the report is dropped
  and counted, and the worker keeps recording. The next origin binds the same address and
  receives the following reports: that is how a worker outlives its origin and is re-adopted.

``--lock-file PATH`` makes the worker hold an exclusive ``flock`` on ``PATH`` for its whole life
and write its pid there (:func:`hold_lock`). A supervisor that finds the lock held knows a live
worker owns that recorder (:func:`lock_holder`), without trusting a pid that may have been
reused.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
import sys
from pathlib import Path

from origin.recorder.protocol import Message, dumps

__all__ = ["Reporter", "hold_lock", "lock_holder", "socket_address", "LockHeld"]


def socket_address(name: str) -> str | bytes:
    """A ``--report-socket`` value as a ``sendto``/``bind`` address (``@x`` -> abstract ``\\0x``)."""
    return b"\0" + name[1:].encode() if name.startswith("@") else name


class Reporter:
    """Sends protocol objects to stdout or to a datagram socket (see the module docstring)."""

    def __init__(self, socket_name: str | None = None) -> None:
        self.address = socket_address(socket_name) if socket_name else None
        self.sock: socket.socket | None = None
        self.dropped = 0
        if self.address is not None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.sock.setblocking(False)

    def emit(self, obj: Message) -> bool:
        """Send ``obj``; ``False`` only when stdout is gone (the worker should then stop)."""
        try:
            data = dumps(obj)
        except ValueError:
            return True
        if self.sock is None:
            try:
                sys.stdout.write(data + "\n")
                sys.stdout.flush()
                return True
            except (BrokenPipeError, ValueError, OSError):
                return False
        assert self.address is not None  # a socket has an address
        try:
            self.sock.sendto(data.encode(), self.address)
        except OSError:  # nobody bound (origin gone), buffer full, message too big: drop it
            self.dropped += 1
        return True


class LockHeld(RuntimeError):
    """Another live process holds the recorder lock (``pid`` when known)."""

    def __init__(self, path: str | os.PathLike[str], pid: int | None) -> None:
        super().__init__(f"recorder lock {path} is held by pid {pid if pid else '?'}")
        self.pid = pid


def hold_lock(path: str | os.PathLike[str]) -> int:
    """Take the exclusive lock on ``path`` for this process's life and write our pid into it.

    Returns the descriptor (keep it open). Raises :class:`LockHeld` when a live process has it.
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            raise LockHeld(path, _read_pid(path)) from None
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def lock_holder(path: str | os.PathLike[str]) -> int | None:
    """The pid of the live process holding the lock on ``path``, else ``None`` (not held)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            pid = None
            for _ in range(50):  # the holder writes its pid just after taking the lock
                pid = _read_pid(path)
                if pid:
                    break
                import time

                time.sleep(0.01)
            return pid
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read_pid(path: str | os.PathLike[str]) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        text = Path(path).read_text().strip()
        return int(text) if text else None
    return None
