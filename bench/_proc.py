"""Small helpers the benchmarks share: free loopback ports and process CPU time from ``/proc``."""

from __future__ import annotations

import os
import socket

CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A loopback port that was free a moment ago (TCP, or UDP with ``socket.SOCK_DGRAM``)."""
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cpu_seconds(pid: int) -> float:
    """utime + stime of process ``pid`` in seconds (0.0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0.0


def tree_cpu_seconds(pid: int | None) -> float:
    """:func:`cpu_seconds` of ``pid`` plus its direct children (e.g. Hypercorn's workers)."""
    if not pid:
        return 0.0
    pids = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                pids += [int(c) for c in fh.read().split()]
    except OSError:
        pass
    return sum(cpu_seconds(p) for p in pids)
