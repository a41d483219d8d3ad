"""``aimixer serve``: run the origin (mixer API, studio API, browser bundle) on Hypercorn.

Options override the settings from the environment / ``--config`` TOML file
(see :mod:`origin.config`): ``--host``, ``--port``, ``--workers``, ``--data-dir``,
``--database-url``, ``--redis-url``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import socket
import stat
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

log = logging.getLogger("origin.serve")

__all__ = ["register", "run", "hypercorn_config", "add_state_options", "state_env"]


def add_state_options(p: Any) -> None:
    """``--database-url`` and ``--redis-url``, shared by every command that touches state."""
    p.add_argument(
        "--database-url",
        help="postgresql://user:pass@host:port/db (default: SQLite in the data dir / AIMIXER_DATABASE_URL)",
    )
    p.add_argument(
        "--redis-url", help="redis://host:port/N for shared state (default: in-process / AIMIXER_REDIS_URL)"
    )


def state_env(settings: Any) -> dict[str, str]:
    """The environment that hands the resolved state settings to child processes."""
    env = {"AIMIXER_DATA_DIR": str(settings.data_dir)}
    if settings.database_url:
        env["AIMIXER_DATABASE_URL"] = settings.database_url
    if settings.redis_url:
        env["AIMIXER_REDIS_URL"] = settings.redis_url
    return env


def register(sub: Any) -> None:
    p = sub.add_parser("serve", help="run the origin server (Hypercorn)")
    p.add_argument("--host", help="bind address (default 127.0.0.1 / AIMIXER_HOST)")
    p.add_argument("--port", type=int, help="TCP port (default 8000 / AIMIXER_PORT)")
    p.add_argument("--workers", type=int, help="worker processes (default 1)")
    p.add_argument("--data-dir", help="directory of aimixer.db (default ./data / AIMIXER_DATA_DIR)")
    p.add_argument("--config", help="TOML settings file (default $AIMIXER_CONFIG)")
    add_state_options(p)
    p.add_argument("--dev", action="store_true", help="dev mode (same as AIMIXER_DEV_MODE=true)")
    p.set_defaults(func=run)


def _settings(args: argparse.Namespace) -> Any:
    from origin.cli import CLIError
    from origin.config import ConfigError, load_settings

    try:
        return load_settings(
            args.config,
            host=args.host,
            port=args.port,
            workers=args.workers,
            data_dir=args.data_dir,
            database_url=args.database_url,
            redis_url=args.redis_url,
            dev_mode=True if getattr(args, "dev", False) else None,
        )
    except ConfigError as exc:
        raise CLIError(str(exc)) from None


#: Unsent bytes the kernel may hold per connection before the socket stops being writable
#: (``TCP_NOTSENT_LOWAT``): a client that stops reading makes our writes wait after this much,
#: instead of after the auto-tuned send buffer (megabytes), so slow WebSocket clients are
#: noticed (and closed, see ``origin.studio.broker``) within seconds and hold little memory.
#: Data already sent but not yet acknowledged does not count, so bulk downloads keep their speed.
NOTSENT_LOWAT_BYTES = 16 * 1024


def bound_send_buffer(sock: Any) -> None:
    """Set ``TCP_NOTSENT_LOWAT`` on a TCP socket (listening sockets pass it to accepted ones)."""
    import socket

    opt = getattr(socket, "TCP_NOTSENT_LOWAT", 25)  # 25 on Linux
    if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM:
        sock.setsockopt(socket.IPPROTO_TCP, opt, NOTSENT_LOWAT_BYTES)


def _config_class() -> type:
    """The Hypercorn config class, built on first use (no Hypercorn import at module import)."""
    cls = globals().get("OriginConfig")
    if cls is None:
        from hypercorn.config import Config

        class _OriginConfig(Config):
            """Hypercorn config whose listening sockets bound each connection's unsent data."""

            def create_sockets(self) -> Any:
                sockets = super().create_sockets()
                for group in (sockets.secure_sockets, sockets.insecure_sockets):
                    for sock in group:
                        bound_send_buffer(sock)
                return sockets

        _OriginConfig.__module__ = __name__
        _OriginConfig.__qualname__ = "OriginConfig"
        cls = globals()["OriginConfig"] = _OriginConfig
    return cls


def __getattr__(name: str) -> Any:
    # ``OriginConfig`` is looked up by name when a worker process unpickles its config
    # (``--workers N`` spawns): build it there on demand.
    if name == "OriginConfig":
        return _config_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def hypercorn_config(settings: Any) -> Any:
    """A Hypercorn :class:`~hypercorn.config.Config` for ``settings``."""
    cfg = _config_class()()
    host = settings.host
    cfg.bind = [f"[{host}]:{settings.port}" if ":" in host else f"{host}:{settings.port}"]
    cfg.workers = settings.workers
    cfg.accesslog = None
    cfg.errorlog = "-"
    cfg.keep_alive_timeout = 75
    cfg.graceful_timeout = 5
    # No protocol pings: Hypercorn's ping task keeps every closed connection's state alive for
    # a full interval (a flood of short connections then holds memory); /ws/levels sends its
    # own keepalive message every 15 s and /ws clients stream continuously.
    cfg.websocket_ping_interval = None
    from origin.wslimits import MAX_MESSAGE_BYTES, install

    install(MAX_MESSAGE_BYTES)  # bounded message buffer and inflate inside Hypercorn
    cfg.websocket_max_message_size = MAX_MESSAGE_BYTES
    if _have_uvloop():
        cfg.worker_class = "uvloop"
    return cfg


def _have_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def _factory() -> Any:  # used by worker processes (settings come from the environment)
    from origin.app import create_app
    from origin.wslimits import MAX_MESSAGE_BYTES, install

    install(MAX_MESSAGE_BYTES)  # worker processes are fresh interpreters
    app = create_app()
    gc.collect()
    gc.freeze()
    return app


def _listening_ports() -> set[int]:
    """The TCP ports this process listens on (Linux: ``/proc/self/fd``; elsewhere none)."""
    return {port for _, port, listening in _tcp_sockets() if listening}


def _cut_connections(ports: set[int]) -> int:
    """Shut down (both ways) every connected TCP socket of this process on one of ``ports``;
    returns how many. The event loop then sees the connection fail: a send that waited on a
    client that stopped reading ends with an error, and the connection's task finishes."""
    n = 0
    for sock, port, listening in _tcp_sockets():
        if listening or port not in ports:
            continue
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:  # not connected
            continue
        n += 1
    return n


def _tcp_sockets() -> Iterator[tuple[socket.socket, int, bool]]:
    """``(socket, local port, listening)`` for each TCP socket of this process. Each socket is a
    duplicate descriptor, closed after its turn: the event loop's own are never closed."""
    try:
        fds = [int(n) for n in os.listdir("/proc/self/fd")]
    except OSError:
        return
    for fd in fds:
        try:
            if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                continue
            sock = socket.socket(fileno=os.dup(fd))
        except OSError:
            continue
        with sock:
            if sock.family not in (socket.AF_INET, socket.AF_INET6) or sock.type != socket.SOCK_STREAM:
                continue
            try:
                port = sock.getsockname()[1]
                listening = bool(sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN))
            except OSError:
                continue
            yield sock, port, listening


def _shutdown_trigger(grace: float) -> Callable[[], Awaitable[None]]:
    """Hypercorn's ``shutdown_trigger`` for one process: returns on SIGTERM or SIGINT. Hypercorn
    then stops accepting, closes idle connections, gives busy ones ``grace`` seconds and cancels
    what is left. A connection whose client stopped reading (a download, a followed recording)
    does not end even then: its task waits for ever to flush the unsent data, and so does the
    process. So a second before ``grace`` is up, the connections still open on our ports are
    cut: their sends fail, their tasks end, and the app's own shutdown runs."""

    async def trigger() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        ports = _listening_ports()  # before Hypercorn closes the listening sockets

        def cut() -> None:
            n = _cut_connections(ports)
            if n:
                log.warning("shutdown: cut %d connection(s) still open %.0f s after the signal", n, delay)

        delay = max(grace - 1.0, 0.0)
        loop.call_later(delay, cut)

    return trigger


def run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    logging.basicConfig(
        level=getattr(logging, str(settings.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    cfg = hypercorn_config(settings)
    print(
        f"aimixer origin on http://{settings.host}:{settings.port} (data {settings.data_dir}, "
        f"{settings.workers} worker(s){', DEV MODE' if settings.dev_mode else ''})",
        flush=True,
    )
    if settings.workers > 1:
        # worker processes rebuild the app from the environment: pass the resolved settings on
        from hypercorn.run import run as hc_run

        os.environ.update(
            {
                "AIMIXER_HOST": settings.host,
                "AIMIXER_PORT": str(settings.port),
                "AIMIXER_WORKERS": str(settings.workers),
                **state_env(settings),
            }
        )
        if settings.dev_mode:
            os.environ["AIMIXER_DEV_MODE"] = "true"
        if args.config:
            os.environ["AIMIXER_CONFIG"] = str(args.config)
        from origin.app import create_app

        create_app(settings).extensions["storage"].close()  # create the DB and secret once, up front
        cfg.application_path = "origin.commands.serve:_factory()"
        return int(hc_run(cfg) or 0)
    from hypercorn.asyncio import serve

    from origin.app import create_app

    app = create_app(settings)
    # Long-lived startup objects need no more cyclic-GC scans: shorter collector pauses on the
    # audio path (worker processes do the same in _factory).
    gc.collect()
    gc.freeze()
    try:
        trigger = _shutdown_trigger(cfg.graceful_timeout)
        if _have_uvloop():
            import uvloop

            uvloop.run(serve(app, cfg, shutdown_trigger=trigger))
        else:
            asyncio.run(serve(app, cfg, shutdown_trigger=trigger))
    except KeyboardInterrupt:
        pass
    return 0
