"""Fixtures of the edge suite: two real origins (us-west, eu-west) and the edge in workerd.

``edge_pair`` is shared by a module's read-only tests; tests that kill or stop an origin build
their own with :func:`edgeenv.Origin` / :func:`edgeenv.Edge`.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

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

    def stop(self) -> None:
        if self.edge is not None:
            self.edge.stop()
        self.us.stop()
        self.eu.stop()


@pytest.fixture(scope="module")
def edge_pair(bundle: dict, tmp_path_factory: pytest.TempPathFactory):
    pair = Pair(tmp_path_factory.mktemp("edge")).start()
    yield pair
    pair.stop()


@pytest.fixture
def fresh_pair(bundle: dict, tmp_path: Path):
    """Origins and an edge of the test's own (for tests that kill or stop origins)."""
    pair = Pair(tmp_path)
    yield pair
    pair.stop()
