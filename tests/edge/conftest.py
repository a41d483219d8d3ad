"""Fixtures of the edge suite: two real origins (us-west, eu-west) and the edge in workerd.

``edge_pair`` is shared by the tests that leave both origins running; ``pair`` hands tests that
kill or stop origins a module-wide pair with both origins up again. Tests that need other
origins build their own with :class:`edgeenv.Origin` / :class:`edgeenv.Edge`.
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import httpx
import pytest
from edgeenv import ROOT, Edge, Origin


def _needs() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed"
    if not (ROOT / "node_modules" / "miniflare").is_dir():
        return "npm packages missing (npm ci): miniflare/workerd"
    return None


@pytest.fixture(scope="session", autouse=True)
def _edge_runtime() -> None:
    reason = _needs()
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="session")
def bundle() -> dict:
    """The browser bundle (``wasm/dist``), built once (file-locked across xdist workers)."""
    from browserenv import parity_support

    return parity_support().ensure_bundle()


class Pair:
    def __init__(self, tmp: Path) -> None:
        self.us = Origin("us-west", tmp / "us")
        self.eu = Origin("eu-west", tmp / "eu")
        self.edge: Edge | None = None

    def start(self, **edge_kw) -> Pair:
        starters = [threading.Thread(target=o.start) for o in (self.us, self.eu)]
        for t in starters:
            t.start()
        for t in starters:
            t.join()
        for o in (self.us, self.eu):
            if o.proc is None or o.proc.poll() is not None:
                raise RuntimeError(f"origin {o.name} did not start")
        self.edge = Edge([self.us, self.eu], home="us-west", **edge_kw).start()
        return self

    def revive(self) -> None:
        """Start any origin that was killed and wait until the edge's probes see it healthy."""
        assert self.edge is not None
        for o in (self.us, self.eu):
            if o.proc is None or o.proc.poll() is not None:
                o.start()
        for o in (self.us, self.eu):
            self.edge.wait_state(o.name, "healthy")
        deadline = time.monotonic() + 15  # and the edge's isolate routes to the home region again
        while httpx.get(self.edge.url + "/health").headers.get("x-aimixer-origin") != "us-west":
            assert time.monotonic() < deadline, "traffic never came back to us-west"
            time.sleep(0.1)

    def stop(self) -> None:
        if self.edge is not None:
            self.edge.stop()
        self.us.stop()
        self.eu.stop()


@pytest.fixture(scope="session")
def edge_pair(bundle: dict, tmp_path_factory: pytest.TempPathFactory):
    """Shared by the tests that leave both origins running."""
    pair = Pair(tmp_path_factory.mktemp("edge")).start()
    yield pair
    pair.stop()


@pytest.fixture(scope="session")
def failover_pair(bundle: dict, tmp_path_factory: pytest.TempPathFactory):
    """For tests that kill or stop origins (one per test process): each test gets it with both
    origins up again (``revive``)."""
    pair = Pair(tmp_path_factory.mktemp("failover")).start()
    yield pair
    pair.stop()


@pytest.fixture
def pair(failover_pair: Pair) -> Pair:
    failover_pair.revive()
    return failover_pair
