"""Real ``aimixer serve`` origin processes for multi-origin tests (and the edge tests later).

``tests/`` is on ``sys.path``: ``from origins import Origin``. ``Origin(env, data_dir).start()``
runs ``python -m origin.cli serve`` on a free port of 127.0.0.1 with the given environment
(``AIMIXER_DATABASE_URL``, ``AIMIXER_REDIS_URL`` ...), waits for ``/health`` and keeps its log in
``data_dir/origin.log``. ``.kill9()`` ends it with SIGKILL, ``.stop()`` with SIGTERM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from servers import free_tcp_port

__all__ = ["Origin"]


class Origin:
    def __init__(self, env: dict[str, str], data_dir: Path, *extra_args: str) -> None:
        self.env = env
        self.data_dir = Path(data_dir)
        self.extra_args = extra_args
        self.port = 0
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> Origin:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_tcp_port()
        log = open(self.data_dir / "origin.log", "ab")  # noqa: SIM115 - closed with the process
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIMIXER_", "AUDYN_"))}
        env.update(self.env)
        env["PYTHONUNBUFFERED"] = "1"
        root = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(
            [root, f"{root}/wasm", f"{root}/models", env.get("PYTHONPATH", "")]
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "origin.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port),
             "--data-dir", str(self.data_dir), *self.extra_args],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"origin exited ({self.proc.returncode}); log:\n{self.log()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code in (200, 503):
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"origin did not answer within {timeout} s; log:\n{self.log()[-3000:]}")

    def log(self) -> str:
        try:
            return (self.data_dir / "origin.log").read_text(errors="replace")
        except OSError:
            return ""

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
