"""Real PostgreSQL 15 and Redis servers for tests, each in a temp dir on a free TCP port.

``tests/`` is on ``sys.path``: ``from servers import PostgresServer, RedisServer``. The pytest
fixtures live in ``tests/conftest.py`` (``postgres_server``, ``redis_server`` — session-scoped —
and the per-test ``pg_url`` / ``redis_url`` that hand each test a fresh database).

PostgreSQL: ``initdb`` and ``pg_ctl`` from ``/usr/lib/postgresql/15/bin`` (Debian's package, put
there by ``scripts/setup.sh``), run as the ``postgres`` user when we are root (the server refuses
to run as root), trust authentication on 127.0.0.1 only, fsync off (a test cluster).
Redis: ``redis-server`` with no persistence, bound to 127.0.0.1.

When a binary is missing the fixtures skip with the reason, unless ``CI`` is set (``CI=true``),
where they fail instead: CI must run these tests.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["PostgresServer", "RedisServer", "free_tcp_port", "missing_reason", "PG_BIN"]

PG_BIN = Path(os.environ.get("AIMIXER_PG_BIN", "/usr/lib/postgresql/15/bin"))


def free_tcp_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen | None, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with status {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def missing_reason(kind: str) -> str | None:
    """Why the ``kind`` (``"postgres"`` or ``"redis"``) server cannot run here, or None."""
    if kind == "redis":
        return None if shutil.which("redis-server") else "redis-server is not installed (scripts/setup.sh)"
    for tool in ("initdb", "pg_ctl", "postgres"):
        if not (PG_BIN / tool).exists():
            return f"{PG_BIN / tool} is missing (PostgreSQL 15, scripts/setup.sh)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to run the server"
    return None


class RedisServer:
    """``RedisServer().start()`` -> ``.url`` (``redis://127.0.0.1:PORT``); ``.stop()``."""

    def __init__(self, databases: int = 1024) -> None:
        self.databases = databases
        self.port = 0
        self.dir: str | None = None
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> RedisServer:
        self.dir = tempfile.mkdtemp(prefix="aimixer-redis-")
        self.port = free_tcp_port()
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--databases", str(self.databases),
                "--dir", self.dir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _wait_port(self.port, self.proc, 20)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)


class PostgresServer:
    """``PostgresServer().start()`` -> ``.url(dbname)``; ``.create_database(name)``; ``.stop()``."""

    def __init__(self) -> None:
        self.port = 0
        self.dir: str | None = None
        self._user: str | None = None

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def _run(self, *cmd: str, timeout: float = 60) -> None:
        argv = [str(c) for c in cmd]
        if self._user:
            argv = ["runuser", "-u", self._user, "--", *argv]
        res = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        if res.returncode:
            raise RuntimeError(f"{' '.join(argv)} failed ({res.returncode}): {res.stderr.strip()[-2000:]}")

    def start(self) -> PostgresServer:
        self.dir = tempfile.mkdtemp(prefix="aimixer-pg-")
        if os.geteuid() == 0:
            self._user = "postgres"
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        data = Path(self.dir) / "data"
        self._run(
            PG_BIN / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8",
            "--locale=C",
        )  # fmt: skip
        self.port = free_tcp_port()
        opts = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(PG_BIN / "pg_ctl", "-D", data, "-o", opts, "-l", Path(self.dir) / "log", "-w", "start")
        _wait_port(self.port, None, 30)
        return self

    def create_database(self, name: str) -> str:
        """Create database ``name`` (letters, digits, underscore); returns its URL."""
        import psycopg

        if not name.replace("_", "").isalnum():
            raise ValueError(f"bad database name {name!r}")
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if self.dir:
            with contextlib.suppress(Exception):
                self._run(PG_BIN / "pg_ctl", "-D", Path(self.dir) / "data", "-m", "immediate", "-w", "stop")
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
