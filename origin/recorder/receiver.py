"""UDP sockets for RTP and one selector thread that serves many of them.

Multicast sockets join on a chosen interface with ``IP_MULTICAST_ALL = 0`` (Linux option 49),
so a socket only hears the groups *it* joined even when several recorders share a port, and
are bound to the group address as well. ``source`` adds a source-specific join
(``IP_ADD_SOURCE_MEMBERSHIP``). Unicast sockets bind ``ADDR:PORT`` directly.

:class:`ReceiverHub` runs one thread with an epoll selector: each readable socket is drained
with ``recv_into`` into one preallocated buffer and the datagrams go straight to the
stream's handler (the jitter buffer). No per-packet allocation beyond what the handler does.
"""

from __future__ import annotations

import errno
import ipaddress
import selectors
import socket
import threading
import time
from collections.abc import Callable
from typing import Literal

IP_MULTICAST_ALL = getattr(socket, "IP_MULTICAST_ALL", 49)
IP_ADD_SOURCE_MEMBERSHIP = getattr(socket, "IP_ADD_SOURCE_MEMBERSHIP", 39)
DEFAULT_RCVBUF = 4 * 1024 * 1024
#: datagrams taken from one socket before the next ready socket has its turn
TURN = 8
#: turns per cycle (at most TURN * MAX_TURNS datagrams per socket per cycle)
MAX_TURNS = 1024


class ReceiverError(OSError):
    """A socket could not be set up."""


def is_multicast(addr: str) -> bool:
    try:
        return ipaddress.IPv4Address(addr).is_multicast
    except ipaddress.AddressValueError as exc:
        raise ReceiverError(f"{addr!r} is not an IPv4 address") from exc


def open_rtp_socket(
    addr: str,
    port: int,
    *,
    interface: str | None = None,
    source: str | None = None,
    rcvbuf: int = DEFAULT_RCVBUF,
) -> socket.socket:
    """Open a non-blocking UDP socket receiving ``addr:port`` (multicast group or local unicast address)."""
    if not 0 < int(port) < 65536:
        raise ReceiverError(f"port={port} is out of range [1, 65535]")
    mc = is_multicast(addr)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        except OSError:
            pass
        if mc:
            s.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
            s.bind((addr, port))
            try:
                _join(s, addr, interface or "0.0.0.0", source)
            except OSError as exc:
                # no multicast route (isolated host/CI): fall back to loopback, where the
                # built-in sender also falls back
                if interface or exc.errno not in (errno.ENODEV, errno.ENETUNREACH):
                    raise
                _join(s, addr, "127.0.0.1", source)
        else:
            s.bind((addr, port))
        s.setblocking(False)
    except OSError as exc:
        s.close()
        raise ReceiverError(
            f"cannot receive on {addr}:{port}"
            f"{' via ' + interface if interface else ''}: {exc.strerror or exc}"
        ) from exc
    return s


def _join(s: socket.socket, group: str, interface: str, source: str | None) -> None:
    ifaddr = socket.inet_aton(interface)
    if source:
        mreq = socket.inet_aton(group) + ifaddr + socket.inet_aton(source)
        s.setsockopt(socket.IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, mreq)
    else:
        s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(group) + ifaddr)


Handler = Callable[[memoryview, int, float], None]
#: a change for the hub thread: add a socket (handler, tick, reader) or remove one (then set)
_Op = (
    tuple[
        Literal["add"],
        socket.socket,
        tuple[Handler, Callable[[float], None] | None, Callable[[bytearray], int]],
    ]
    | tuple[Literal["remove"], socket.socket, threading.Event]
)


class ReceiverHub:
    """One thread, one selector, many RTP sockets.

    ``add(sock, handler, tick)`` registers a socket: ``handler(view, nbytes, now)`` per datagram,
    ``tick(now)`` about every 20 ms (idle flushes). Registration is thread-safe. The thread polls
    the selector without blocking and then sleeps ``poll_s`` (default 20 ms): every socket is
    drained about 50 times a second whatever the packet rate, so wake-ups (the dominant cost,
    not the packets) stay fixed. The socket buffers (4 MiB requested) absorb the 20 ms. Ready
    sockets are drained in turns of :data:`TURN` datagrams (fair, and the two legs of a
    redundant stream stay in step).
    """

    def __init__(self, *, bufsize: int = 65536, tick_s: float = 0.02, poll_s: float = 0.02) -> None:
        self._sel = selectors.DefaultSelector()
        self._buf = bytearray(bufsize)
        self._view = memoryview(self._buf)
        self._lock = threading.Lock()
        self._pending: list[_Op] = []
        self._ticks: dict[int, Callable[[float], None]] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._count = 0
        self.tick_s = tick_s
        self.poll_s = poll_s
        self.errors = 0

    def add(
        self,
        sock: socket.socket,
        handler: Handler,
        tick: Callable[[float], None] | None = None,
        recv: Callable[[bytearray], int] | None = None,
    ) -> None:
        """Serve ``sock``: ``recv(buf)`` (default ``sock.recv_into``) reads each datagram."""
        with self._lock:
            self._pending.append(("add", sock, (handler, tick, recv or sock.recv_into)))
            self._count += 1
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="rtp-hub", daemon=True)
                self._thread.start()

    def remove(self, sock: socket.socket, wait: bool = True) -> None:
        done = threading.Event()
        with self._lock:
            self._pending.append(("remove", sock, done))
            self._count -= 1
        if wait and self._thread is not None and self._thread.is_alive():
            done.wait(1.0)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)

    def _apply(self) -> None:
        with self._lock:
            ops, self._pending = self._pending, []
        for op in ops:
            sock = op[1]
            if op[0] == "add":
                handler, tick, recv = op[2]
                self._sel.register(sock, selectors.EVENT_READ, (recv, handler))
                if tick is not None:
                    self._ticks[sock.fileno()] = tick
            else:
                try:
                    self._ticks.pop(sock.fileno(), None)
                    self._sel.unregister(sock)
                except (KeyError, ValueError):
                    pass
                op[2].set()

    def _run(self) -> None:
        buf, view = self._buf, self._view
        sel = self._sel
        mono = time.monotonic
        sleep = time.sleep
        last_tick = 0.0
        tick_s = self.tick_s
        poll_s = self.poll_s
        while not self._stop.is_set():
            if self._pending:
                self._apply()
            if not sel.get_map():
                sleep(tick_s)
                continue
            # Poll without a timeout, then sleep: one timer wake-up per cycle however many
            # packets and sockets there are (wake-ups, not packets, dominate the cost here).
            ready = sel.select(0)
            now = mono()
            # Drain the ready sockets in turns of TURN datagrams, so sockets that carry the same
            # stream (ST 2022-7 legs) are handled in step even after the thread was starved.
            active = [key.data for key, _ in ready]
            for _ in range(MAX_TURNS):
                if not active:
                    break
                still = []
                for recv_into, handler in active:
                    for _ in range(TURN):
                        try:
                            n = recv_into(buf)
                        except BlockingIOError:
                            break
                        except OSError:
                            self.errors += 1
                            break
                        try:
                            handler(view, n, now)
                        except Exception:  # the hot path counts, never dies
                            self.errors += 1
                    else:
                        still.append((recv_into, handler))
                active = still
            if now - last_tick >= tick_s:
                last_tick = now
                for t in list(self._ticks.values()):
                    try:
                        t(now)
                    except Exception:
                        self.errors += 1
            sleep(poll_s)


_default_hub: ReceiverHub | None = None
_default_lock = threading.Lock()


def default_hub() -> ReceiverHub:
    """The process-wide hub shared by recorders that are not given their own."""
    global _default_hub
    with _default_lock:
        if _default_hub is None:
            _default_hub = ReceiverHub()
        return _default_hub
