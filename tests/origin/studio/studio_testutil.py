"""Helpers shared by the studio tests (unique multicast groups, free ports, polling)."""

from __future__ import annotations

import time
from collections.abc import Callable

import netutil
from netutil import free_udp_port

__all__ = ["free_udp_port", "unique_group", "wait_for"]


def unique_group() -> str:
    return netutil.unique_group("239.71")


def wait_for(pred: Callable[[], object], timeout: float = 10.0, step: float = 0.05) -> object:
    """Poll ``pred`` until it returns something truthy (returned) or ``timeout`` passes (falsy)."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > end:
            return v
        time.sleep(step)
