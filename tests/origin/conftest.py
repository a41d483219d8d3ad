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

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from liveserver import LiveServer
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


@pytest.fixture(params=["sqlite", "postgresql"])
def storage_target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A storage target for each backend: a SQLite file, then a fresh PostgreSQL database URL."""
    if request.param == "sqlite":
        return str(tmp_path / "aimixer.db")
    return str(request.getfixturevalue("pg_url"))
