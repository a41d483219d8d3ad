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
