"""Shared fixtures for the origin tests (mixer API, studio, wasm serving).

Fixtures
--------
settings
    :class:`origin.config.Settings` on a fresh ``tmp_path`` data dir, dev mode ON, the process
    environment ignored. Override fields with ``make_settings(**fields)``.
make_settings
    ``make_settings(**fields) -> Settings`` on the same tmp data dir (dev mode on unless given).
app_packages
    Domain packages to register (default ``None`` = all); a test directory may override it.
app
    ``create_app(settings, packages=app_packages)`` with its startup hooks run (``app.test_app()``) and shut down after.
client
    The Quart test client of ``app``.
make_app
    ``async with make_app(**fields) as app`` -> a served test app with those settings.
serve_app
    ``serve_app(app) -> LiveServer``: a real Hypercorn server in a background thread, on a free
    port of 127.0.0.1 (socket bound before Hypercorn starts, so no port race). ``.url``,
    ``.ws_url``, ``.port``, ``.stop()`` (also automatic at teardown). Serve a *fresh* app (one
    that is not also used with the test client).
live_server
    ``serve_app(create_app(settings))``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from quart import Quart

from origin.app import create_app
from origin.config import Settings, load_settings


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d


@pytest.fixture
def make_settings(data_dir: Path) -> Callable[..., Settings]:
    def _make(**fields: Any) -> Settings:
        fields.setdefault("data_dir", data_dir)
        fields.setdefault("dev_mode", True)
        return load_settings(env={}, **fields)

    return _make


@pytest.fixture
def app_packages() -> tuple[str, ...] | None:
    """Domain packages the ``app`` fixtures register (None = all); override per directory."""
    return None


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
async def app(settings: Settings, app_packages: tuple[str, ...] | None) -> AsyncIterator[Quart]:
    application = create_app(settings, packages=app_packages)
    async with application.test_app():
        yield application


@pytest.fixture
def client(app: Quart) -> Any:
    return app.test_client()


@pytest.fixture
def make_app(
    make_settings: Callable[..., Settings], app_packages: tuple[str, ...] | None
) -> Callable[..., Any]:
    @contextlib.asynccontextmanager
    async def _make(**fields: Any) -> AsyncIterator[Quart]:
        application = create_app(make_settings(**fields), packages=app_packages)
        async with application.test_app():
            yield application

    return _make


@dataclass
class LiveServer:
    """A Hypercorn server running ``app`` in its own thread and event loop."""

    app: Quart
    host: str = "127.0.0.1"
    port: int = 0
    _thread: threading.Thread | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _stop: asyncio.Event | None = None
    _error: list[BaseException] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def start(self, timeout: float = 20.0) -> LiveServer:
        from hypercorn.asyncio import serve
        from hypercorn.config import Config

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        sock.set_inheritable(True)
        self.port = sock.getsockname()[1]
        config = Config()
        config.bind = [f"fd://{sock.detach()}"]
        config.accesslog = None
        config.errorlog = None
        config.graceful_timeout = 2
        started = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            self._stop = asyncio.Event()

            async def main() -> None:
                async def trigger() -> None:
                    started.set()
                    assert self._stop is not None
                    await self._stop.wait()

                await serve(self.app, config, shutdown_trigger=trigger)

            try:
                loop.run_until_complete(main())
            except BaseException as exc:  # surfaced by start()/stop()
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
        # wait until it accepts connections (startup hooks done)
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


@pytest.fixture
def serve_app() -> Iterator[Callable[[Quart], LiveServer]]:
    servers: list[LiveServer] = []

    def _serve(application: Quart) -> LiveServer:
        srv = LiveServer(application).start()
        servers.append(srv)
        return srv

    yield _serve
    for srv in reversed(servers):
        srv.stop()


@pytest.fixture
def live_server(
    settings: Settings, serve_app: Callable[[Quart], LiveServer], app_packages: tuple[str, ...] | None
) -> LiveServer:
    return serve_app(create_app(settings, packages=app_packages))
