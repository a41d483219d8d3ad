"""Fixtures for the studio API tests: unique multicast groups, a real test sender, wait helpers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parents[2]
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))


from studio_testutil import free_udp_port, unique_group  # noqa: E402


@pytest.fixture
def stream_addr() -> tuple[str, int]:
    """A unique multicast group and a free port on loopback (tests run in parallel)."""
    return unique_group(), free_udp_port()


@pytest.fixture
def start_sender() -> Iterator[Callable[..., subprocess.Popen]]:
    """``start_sender(group, port, program="tone")``: a real ``aimixer sender`` on loopback."""
    procs: list[subprocess.Popen] = []

    def _start(group: str, port: int, program: str = "tone", *extra: str) -> subprocess.Popen:
        p = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "origin.cli",
                "sender",
                "--dest",
                f"{group}:{port}",
                "--interface",
                "127.0.0.1",
                "--program",
                program,
                *extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        procs.append(p)
        return p

    yield _start
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
