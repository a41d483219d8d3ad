"""Network helpers for suites that run real senders and receivers in parallel (pytest-xdist).

``tests/`` is on ``sys.path`` (its ``conftest.py`` sits there), so any test imports these as
``from netutil import ...``.
"""

from __future__ import annotations

import random
import socket


def free_udp_port() -> int:
    """A UDP port that was free a moment ago (random, so parallel workers rarely collide)."""
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


def free_tcp_port() -> int:
    """A TCP port of 127.0.0.1 that was free a moment ago (for a server started in a child)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def unique_group(prefix: str) -> str:
    """A random multicast group under ``prefix`` (e.g. ``"239.69"``); each suite keeps its own."""
    rnd = random.SystemRandom()
    return f"{prefix}.{rnd.randint(1, 254)}.{rnd.randint(1, 254)}"
