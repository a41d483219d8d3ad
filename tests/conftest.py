"""Suite-wide test plumbing.

Playwright's sync API (shared headless Chromium in tests/browser, tests/parity and tests/web)
keeps its own asyncio loop registered as the thread's *running* loop for as long as the browser
lives. pytest-asyncio refuses to start a test loop while another one is marked running, so any
async test scheduled after a browser test in the same process would fail. Outside the browser
suites we hide that loop for the duration of the test (setup, call and teardown) and put it back
afterwards, so the shared browser keeps working for the browser tests that follow.
"""

from __future__ import annotations

from asyncio import events

import pytest

_BROWSER_DIRS = ("tests/browser/", "tests/parity/", "tests/web/")


def _hide_foreign_loop(item: pytest.Item):
    if item.nodeid.startswith(_BROWSER_DIRS):
        yield
        return
    loop = events._get_running_loop()
    if loop is not None:
        events._set_running_loop(None)
    try:
        yield
    finally:
        if loop is not None:
            events._set_running_loop(loop)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    yield from _hide_foreign_loop(item)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item):
    yield from _hide_foreign_loop(item)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item):
    yield from _hide_foreign_loop(item)


def pytest_configure(config: pytest.Config) -> None:
    # the DSP package reads no environment at import: the suite applies $AIMIXER_DSP_BACKEND
    # itself, as the CLI and the app factory do
    from aimixer_dsp.backend import apply_env

    apply_env()


# -- real PostgreSQL and Redis servers (tests/servers.py) -----------------------------------------


def _need(kind: str) -> None:
    import os

    from servers import missing_reason

    reason = missing_reason(kind)
    if reason is None:
        return
    if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
        pytest.fail(f"CI is set and the {kind} server cannot run: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL 15 server for the whole session (temp dir, free port, torn down)."""
    from servers import PostgresServer

    _need("postgres")
    srv = PostgresServer().start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def redis_server():
    """A real redis-server for the whole session (temp dir, free port, torn down)."""
    from servers import RedisServer

    _need("redis")
    srv = RedisServer().start()
    try:
        yield srv
    finally:
        srv.stop()


_DB_COUNTER = iter(range(1, 1 << 30))


@pytest.fixture
def pg_url(postgres_server) -> str:
    """The URL of a fresh, empty PostgreSQL database for this test."""
    import uuid

    return postgres_server.create_database(f"t_{uuid.uuid4().hex[:16]}")


@pytest.fixture
def redis_url(redis_server) -> str:
    """The URL of an empty Redis database (a distinct DB number per test, flushed first)."""
    import redis

    n = next(_DB_COUNTER) % redis_server.databases
    url = f"{redis_server.url}/{n}"
    with redis.Redis.from_url(url) as r:
        r.flushdb()
    return url
