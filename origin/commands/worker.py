"""``aimixer worker``: run file jobs from the Redis queue (``POST /jobs`` on any origin).

::

    aimixer worker --redis-url redis://host:6379/0 --database-url postgresql://... [--burst]

The worker is an RQ worker on the queue ``aimixer-jobs``; each job runs in a forked work horse
(:func:`origin.jobs.work.run_job`). It needs the same database (``database_url``) and the same
``jobs_dir`` as the origins (a shared mount when it runs on another host). ``--burst`` exits when
the queue is empty. Without ``redis_url`` there is nothing to do: the origin then runs jobs in
its own process pool.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
from typing import Any

from origin.commands.serve import add_state_options

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser("worker", help="run file jobs from the Redis queue (RQ)")
    p.add_argument("--data-dir", help="data directory (jobs_dir defaults to DATA_DIR/jobs)")
    p.add_argument("--config", help="TOML settings file (default $AIMIXER_CONFIG)")
    add_state_options(p)
    p.add_argument("--burst", action="store_true", help="exit once the queue is empty")
    p.add_argument("--name", help="worker name (default host:pid)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from origin.cli import CLIError
    from origin.config import ConfigError, load_settings
    from origin.storage import StorageError

    try:
        settings = load_settings(
            args.config, data_dir=args.data_dir, database_url=args.database_url, redis_url=args.redis_url
        )
    except ConfigError as exc:
        raise CLIError(str(exc)) from None
    if not settings.redis_url:
        raise CLIError("aimixer worker needs --redis-url (without Redis the origin runs jobs itself)")
    logging.basicConfig(
        level=getattr(logging, str(settings.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    import redis
    from rq import Worker

    from origin.jobs import QUEUE
    from origin.jobs.work import set_worker_settings
    from origin.migrations import open_app_storage

    try:
        open_app_storage(settings).close()  # the schema is there before the first job
    except StorageError as exc:
        raise CLIError(str(exc)) from None
    assert settings.jobs_dir is not None  # Settings fills it in ({data_dir}/jobs)
    settings.jobs_dir.mkdir(parents=True, exist_ok=True)
    set_worker_settings(settings)
    conn = redis.Redis.from_url(settings.redis_url)
    try:
        conn.ping()
    except redis.RedisError as exc:
        raise CLIError(f"cannot reach Redis: {' '.join(str(exc).split())}") from None
    name = args.name or f"aimixer-{socket.gethostname()}-{os.getpid()}"
    print(f"aimixer worker {name} on queue {QUEUE}", flush=True)
    worker = Worker([QUEUE], connection=conn, name=name)
    worker.work(burst=args.burst, logging_level=str(settings.log_level).upper())
    return 0
