"""A real Hypercorn server for tests: ``app`` served in a background thread on 127.0.0.1.

The socket is bound (port 0) before Hypercorn starts, so there is no port race between parallel
workers. ``tests/`` is on ``sys.path`` (its ``conftest.py`` sits there): ``from liveserver import
LiveServer``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from typing import Any


class LiveServer:
    """``LiveServer(app).start()`` -> ``.url``, ``.ws_url``, ``.port``; ``.stop()`` when done."""

    def __init__(
        self, app: Any, host: str = "127.0.0.1", *, graceful_timeout: float = 2.0, port: int = 0
    ) -> None:
        self.app = app
        self.host = host
        self.port = port  # 0: a free one (a given port serves a restarted origin at the same URL)
        self.graceful_timeout = graceful_timeout
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: list[BaseException] = []

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def start(self, timeout: float = 20.0) -> LiveServer:
        """Start serving; returns once the server accepts connections (startup hooks done)."""
        from hypercorn.asyncio import serve
        from hypercorn.config import Config

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.set_inheritable(True)
        self.port = sock.getsockname()[1]
        config = Config()
        config.bind = [f"fd://{sock.detach()}"]
        config.accesslog = None
        config.errorlog = None
        config.graceful_timeout = self.graceful_timeout
        started = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            self._stop = asyncio.Event()

            async def trigger() -> None:
                started.set()
                assert self._stop is not None
                await self._stop.wait()

            try:
                loop.run_until_complete(serve(self.app, config, shutdown_trigger=trigger))
            except BaseException as exc:  # surfaced by start()
                self._error.append(exc)
                started.set()
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name=f"hypercorn-{self.port}", daemon=True)
        self._thread.start()
        if not started.wait(timeout):
            raise RuntimeError("server did not start")
        if self._error:
            raise RuntimeError(f"server failed: {self._error[0]!r}")
        for _ in range(int(timeout * 50)):
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    break
            except OSError:
                threading.Event().wait(0.02)
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(15)
        self._thread = None
