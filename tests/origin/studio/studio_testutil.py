"""Helpers shared by the studio tests (unique multicast groups, free ports, polling)."""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Callable


def free_udp_port() -> int:
    for _ in range(200):
        port = random.randint(20000, 60000)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind(("0.0.0.0", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("no free UDP port")


def unique_group() -> str:
    rnd = random.SystemRandom()
    return f"239.71.{rnd.randint(1, 254)}.{rnd.randint(1, 254)}"


def wait_for(pred: Callable[[], object], timeout: float = 10.0, step: float = 0.05) -> object:
    """Poll ``pred`` until it returns something truthy (returned) or ``timeout`` passes (falsy)."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > end:
            return v
        time.sleep(step)
