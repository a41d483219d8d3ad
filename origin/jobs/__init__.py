"""File jobs: whole songs and recordings processed or analysed outside the request.

:class:`JobService` (``app.extensions["jobs"]``) stores the upload under ``jobs_dir``, writes the
job row (:mod:`origin.jobs.store`) and hands the job id to a queue:

* with ``redis_url``: an **RQ** queue named :data:`QUEUE` in that Redis, run by ``aimixer worker``
  processes on any host (they need the same database and ``jobs_dir``);
* without it: a local process pool of ``jobs_local_workers`` processes in the origin.

Either way the work is :func:`origin.jobs.work.run_job`. Every origin also reaps: a ``running`` job
whose heartbeat is older than ``job_heartbeat_timeout`` (its worker was killed) is queued again
while it has attempts left (:data:`origin.jobs.store.MAX_ATTEMPTS`), else failed with the reason
and a ``job.failed`` webhook. A job is never left ``running``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import multiprocessing
import shutil
from typing import Any

from origin.jobs.store import JobStore
from origin.jobs.work import job_dir, run_job

__all__ = ["JobService", "QUEUE"]

log = logging.getLogger("origin.jobs")

#: the RQ queue name
QUEUE = "aimixer-jobs"


class JobService:
    def __init__(self, settings: Any, storage: Any) -> None:
        self.settings = settings
        self.storage = storage
        self.store = JobStore(storage)
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._queue: Any = None
        self._task: asyncio.Task[None] | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        self.settings.jobs_dir.mkdir(parents=True, exist_ok=True)
        self._task = asyncio.get_running_loop().create_task(self._reaper())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        if self._queue is not None:
            with contextlib.suppress(Exception):
                self._queue.connection.close()
            self._queue = None

    @property
    def backend(self) -> str:
        return "rq" if self.settings.redis_url else "local"

    # -- queueing -------------------------------------------------------------------------------
    def rq_queue(self) -> Any:
        if self._queue is None:
            import redis
            from rq import Queue

            self._queue = Queue(QUEUE, connection=redis.Redis.from_url(self.settings.redis_url))
        return self._queue

    def _enqueue_sync(self, job_id: str) -> None:
        if self.settings.redis_url:
            timeout = int(self.settings.job_max_seconds * 4 + 600)  # RQ's own hard stop
            self.rq_queue().enqueue(
                "origin.jobs.work.run_job", job_id, job_timeout=timeout, result_ttl=0, failure_ttl=86400
            )
            return
        if self._pool is None:
            self._pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=self.settings.jobs_local_workers, mp_context=multiprocessing.get_context("spawn")
            )
        fut = self._pool.submit(run_job, job_id, self.settings)
        fut.add_done_callback(self._local_done)

    def _local_done(self, fut: concurrent.futures.Future[str]) -> None:
        exc = fut.exception()
        if isinstance(exc, concurrent.futures.process.BrokenProcessPool):
            log.warning("local job pool broke (a job process died); the reaper re-queues its job")
            self._pool = None

    async def enqueue(self, job_id: str) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self._enqueue_sync, job_id)

    # -- the reaper -----------------------------------------------------------------------------
    async def reap_once(self) -> tuple[list[str], list[dict[str, Any]]]:
        from origin.webhooks import queue_event

        requeued, failed = await self.storage.run(self.store.reap, self.settings.job_heartbeat_timeout)
        for job_id in requeued:
            log.warning("job %s: worker lost; queued again", job_id)
            await self.enqueue(job_id)
        for f in failed:
            log.warning("job %s failed: %s", f["id"], f["error"])
            data = {"jobId": f["id"], "state": "failed", "error": f["error"]}
            with contextlib.suppress(Exception):
                await self.storage.run(queue_event, self.storage, f["owner"], "job.failed", data)
        return requeued, failed

    async def _reaper(self) -> None:
        period = max(0.5, min(5.0, self.settings.job_heartbeat_timeout / 3))
        while True:
            await asyncio.sleep(period)
            try:
                await self.reap_once()
            except Exception as exc:
                log.warning("job reaper: %s", exc)

    # -- files ----------------------------------------------------------------------------------
    def remove_files(self, job_id: str) -> None:
        shutil.rmtree(job_dir(self.settings.jobs_dir, job_id), ignore_errors=True)
