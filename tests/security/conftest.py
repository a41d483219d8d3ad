"""A production-mode origin (``aimixer serve``, no dev mode) in a subprocess, for the probes.

The server is a real ``python -m origin.cli serve`` process (Hypercorn, the settings a deployment
gets), so a probe that crashes it, or grows its memory, is seen as such: the fixture exposes the
pid for RSS readings and checks after each module that the process is still alive.

Fixtures
--------
prod_server (session scope)
    ``.url``, ``.ws_url``, ``.port``, ``.pid``, ``.data_dir``, ``.archive``, ``.keys`` (name ->
    secret: ``admin`` with role admin, ``mixer`` with the default role, ``studio`` with role
    studio for studio ``st-sec``), ``.key_ids``, ``.rss()`` (bytes), ``.alive()``,
    ``.cli(*argv)`` (runs ``aimixer`` against the same data dir), ``.oidc`` (a
    :class:`LocalOIDCProvider` the server trusts).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIMIXER_", "AUDYN_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "wasm"), str(ROOT / "models")])
    env["AIMIXER_DATA_DIR"] = str(data_dir)
    env["AIMIXER_ARCHIVE_ROOT"] = str(data_dir / "archive")
    env["AIMIXER_STUDIO_SAP"] = "false"
    env["AIMIXER_LOG_LEVEL"] = "WARNING"
    env.update(extra)
    return env


def rss_of(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


@dataclass
class ProdServer:
    data_dir: Path
    port: int
    proc: subprocess.Popen
    env: dict[str, str]
    keys: dict[str, str] = field(default_factory=dict)
    key_ids: dict[str, str] = field(default_factory=dict)
    oidc: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def archive(self) -> Path:
        return self.data_dir / "archive"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def rss(self) -> int:
        return rss_of(self.pid)

    def log(self) -> str:
        """What the server wrote to stderr so far."""
        return (self.data_dir / "server.log").read_text(errors="replace")

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[name]}"}

    def cli(self, *argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "origin.cli", *argv],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def start_server(data_dir: Path, *, port: int | None = None, **env_extra: str) -> ProdServer:
    """Start ``aimixer serve`` on ``data_dir`` and wait until ``/health`` answers."""
    port = port or free_tcp_port()
    env = server_env(data_dir, **env_extra)
    log = open(data_dir / "server.log", "ab")  # noqa: SIM115 - the child writes it; closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "origin.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log,  # a file, not a pipe nobody reads (a full pipe would stall the server)
    )
    log.close()
    srv = ProdServer(data_dir=data_dir, port=port, proc=proc, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = (data_dir / "server.log").read_text(errors="replace")
            raise RuntimeError(f"server exited with {proc.returncode}: {err[-2000:]}")
        try:
            if httpx.get(f"{srv.url}/health", timeout=1.0).status_code in (200, 503):
                return srv
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    srv.stop()
    raise RuntimeError("server did not answer /health within 60 s")


def make_keys(data_dir: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Keys ``admin`` (role admin), ``mixer`` (default role), ``studio`` (studio st-sec)."""
    from origin.auth.apikeys import create_key
    from origin.migrations import app_schemas
    from origin.storage import open_storage

    keys: dict[str, str] = {}
    ids: dict[str, str] = {}
    with open_storage(data_dir / "aimixer.db", app_schemas()) as storage:
        for name, kwargs in (
            ("admin", {"role": "admin"}),
            ("mixer", {}),
            ("studio", {"role": "studio", "studio_id": "st-sec"}),
            ("victim", {"role": "admin"}),
        ):
            rec, secret = create_key(storage, name, **kwargs)
            keys[name], ids[name] = secret, rec.id
    return keys, ids


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[Any]:
    from oidc_provider import LocalOIDCProvider

    with LocalOIDCProvider() as p:
        yield p


@pytest.fixture(scope="session")
def prod_server(tmp_path_factory: pytest.TempPathFactory, oidc_provider: Any) -> Iterator[ProdServer]:
    data_dir = tmp_path_factory.mktemp("secdata")
    keys, ids = make_keys(data_dir)
    srv = start_server(
        data_dir,
        AIMIXER_OIDC_ISSUER=oidc_provider.issuer,
        AIMIXER_OIDC_CLIENT_ID=oidc_provider.client_id,
        # level messages at 50 Hz fill a stalled client's buffers in ~3 s instead of ~12 s
        AIMIXER_STUDIO_LEVELS_HZ="50",
    )
    srv.keys, srv.key_ids = keys, ids
    srv.oidc = oidc_provider
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def server_tools() -> Any:
    """``start_server``, ``make_keys`` and ``ROOT`` for probes that run their own server (a test
    module cannot ``import conftest``: under xdist that name is ``tests/conftest.py``)."""
    from types import SimpleNamespace

    return SimpleNamespace(
        start_server=start_server, make_keys=make_keys, start_sender=start_sender, ROOT=ROOT
    )


def start_sender(group: str, port: int, program: str) -> subprocess.Popen:
    """A real ``aimixer sender`` of ``program`` to ``group:port`` on loopback (terminate it when done)."""
    return subprocess.Popen(
        [sys.executable, "-m", "origin.cli", "sender", "--dest", f"{group}:{port}"]
        + ["--interface", "127.0.0.1", "--program", program],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
