"""Real processes for the edge suite: ``aimixer serve`` origins and ``aimixer edge`` (workerd).

Every origin is its own ``python -m origin.cli serve`` process on a free loopback port, so a test
can ``kill -9`` it; the edge is ``python -m origin.cli edge`` (which execs ``node edge/run.mjs``,
which runs the workerd binary). ``shared_state_env()`` gives both origins the shared-state
settings (PostgreSQL + Redis) when the origin has them; see ``HAS_SHARED_STATE``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIMIXER_", "AUDYN_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "wasm"), str(ROOT / "models")])
    env.update(extra or {})
    return env


def _has_shared_state_settings() -> bool:
    try:
        from origin.config import load_settings

        s = load_settings(env={})
    except Exception:  # noqa: BLE001 - any failure means "not available"
        return False
    return hasattr(s, "redis_url") and hasattr(s, "database_url")


#: The origins on this branch can share sessions (issue 14's PostgreSQL + Redis settings).
HAS_SHARED_STATE = _has_shared_state_settings()


class Origin:
    """``aimixer serve`` in a child process (dev mode unless ``dev=False``)."""

    def __init__(
        self,
        name: str,
        data_dir: Path,
        *,
        dev: bool = True,
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.data_dir = Path(data_dir)
        self.dev = dev
        self.extra_env = {"AIMIXER_REGION": name, "AIMIXER_STUDIO_SAP": "false", **(env or {})}
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log = self.data_dir / f"origin-{name}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> Origin:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "origin.cli", "serve", "--port", str(self.port)]
        cmd += ["--data-dir", str(self.data_dir)]
        if self.dev:
            cmd.append("--dev")
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=_env(self.extra_env), stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"origin {self.name} exited: {self.log.read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            time.sleep(0.1)
        raise RuntimeError(f"origin {self.name} did not start")

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def counter(self, endpoint: str, method: str = "GET") -> float:
        """Sum of ``ai_mixer_requests_total`` for ``endpoint`` (every status) from /metrics."""
        text = httpx.get(self.url + "/metrics", timeout=5).text
        total = 0.0
        pat = re.compile(r"^ai_mixer_requests_total\{([^}]*)\} ([0-9.e+]+)$")
        for line in text.splitlines():
            m = pat.match(line)
            if not m:
                continue
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
            if labels.get("endpoint") == endpoint and labels.get("method") == method:
                total += float(m.group(2))
        return total


class Edge:
    """``aimixer edge`` (workerd via Miniflare) in a child process, in front of ``origins``."""

    def __init__(self, origins: list[Origin], *, home: str | None = None, extra: list[str] | None = None):
        self.origins = origins
        self.port = free_port()
        args = [sys.executable, "-m", "origin.cli", "edge", "--port", str(self.port)]
        for o in origins:
            args += ["--origin", f"{o.name}={o.url}"]
        if home:
            args += ["--home", home]
        self.args = args + list(extra or [])
        self.proc: subprocess.Popen | None = None
        self.output: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> Edge:
        self.proc = subprocess.Popen(
            self.args, cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("edge exited: " + "".join(self.output)[-3000:])
            self.output.append(line)
            if line.startswith("{") and "ready" in line:
                json.loads(line)
                break
        else:
            raise RuntimeError("edge did not start")
        # keep draining its output so a chatty runtime can never block on a full pipe
        import threading

        def drain() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:
                self.output.append(line)

        threading.Thread(target=drain, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def health(self) -> dict[str, Any]:
        return httpx.get(self.url + "/edge/health", timeout=10).json()

    def wait_state(self, name: str, state: str, timeout: float = 20.0) -> dict[str, Any]:
        """Poll /edge/health until origin ``name`` is in ``state``; returns its entry."""
        deadline = time.monotonic() + timeout
        entry: dict[str, Any] = {}
        while time.monotonic() < deadline:
            entry = next(o for o in self.health()["origins"] if o["name"] == name)
            if entry["state"] == state:
                return entry
            time.sleep(0.2)
        raise AssertionError(f"{name} never became {state}: {entry}")


FRAME = 960


def sine_frame(freq: float = 440.0, amp: float = 0.3, offset: int = 0) -> list[float]:
    import math

    return [amp * math.sin(2 * math.pi * freq * (n + offset) / 48000) for n in range(FRAME)]
