"""What a job does, in whichever process runs it (``aimixer worker`` or the local pool).

:func:`run_job` claims the job row (``queued`` -> ``running``), beats a heartbeat with the
progress every :data:`HEARTBEAT_S` seconds from a thread (so a long DSP block never looks like a
dead worker), runs the file through the DSP chain (``kind == "process"``: the same code as
``aimixer process``) or analyses it (``kind == "analysis"``: loudness summary and the genre
timeline), stores the result, and queues ``job.complete``/``job.failed`` webhooks on the durable
delivery queue. A ``DELETE`` seen at a heartbeat stops the work.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from pathlib import Path
from typing import Any

__all__ = [
    "TARGET_KEY",
    "run_job",
    "job_dir",
    "input_path",
    "output_path",
    "HEARTBEAT_S",
    "set_worker_settings",
]

log = logging.getLogger("origin.jobs")

HEARTBEAT_S = 1.0
#: where a process job's loudness normalisation (``{target, targetLufs, truePeakCeiling}``) is
#: kept in its stored config, beside the chain's fields (``POST /jobs`` puts it there)
TARGET_KEY = "loudnessTarget"
_SETTINGS: Any = None
_STORAGE: Any = None


class Cancelled(Exception):
    """The job was cancelled (or taken over) while it ran."""


def set_worker_settings(settings: Any) -> None:
    """Settings that :func:`run_job` uses in this process (set by ``aimixer worker``)."""
    global _SETTINGS
    _SETTINGS = settings


def job_dir(jobs_dir: str | Path, job_id: str) -> Path:
    if not job_id.replace("_", "").isalnum() or len(job_id) > 64:
        raise ValueError(f"bad job id {job_id!r}")
    return Path(jobs_dir) / job_id


def input_path(jobs_dir: str | Path, job_id: str) -> Path:
    return job_dir(jobs_dir, job_id) / "input"


def output_path(jobs_dir: str | Path, job_id: str, fmt: str) -> Path:
    return job_dir(jobs_dir, job_id) / f"output.{fmt}"


def _storage(settings: Any) -> Any:
    global _STORAGE
    if _STORAGE is None or _STORAGE.closed or os.getpid() != getattr(_STORAGE, "_aimixer_pid", None):
        from origin.migrations import open_app_storage

        _STORAGE = open_app_storage(settings)
        _STORAGE._aimixer_pid = os.getpid()
    return _STORAGE


def run_job(job_id: str, settings: Any = None) -> str:
    """Run job ``job_id`` here; returns its final state (or ``skipped`` if it was not queued)."""
    from origin.config import load_settings
    from origin.jobs.store import JobStore
    from origin.webhooks import queue_event

    settings = settings or _SETTINGS or load_settings()
    storage = _storage(settings)
    store = JobStore(storage)
    worker = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"
    job = store.claim(job_id, worker)
    if job is None:
        return "skipped"
    progress = [0.0]
    stop = threading.Event()
    cancelled = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_S):
            try:
                state = store.heartbeat(job_id, worker, progress[0])
            except Exception as exc:  # the next beat tries again
                log.warning("job %s heartbeat failed: %s", job_id, exc)
                continue
            if state != "running":
                cancelled.set()

    def on_progress(done: int, total: int) -> None:
        progress[0] = done / total if total else 0.0
        if cancelled.is_set():
            raise Cancelled()

    hb = threading.Thread(target=beat, name=f"job-{job_id}-heartbeat", daemon=True)
    hb.start()
    state, result, error = "failed", None, None
    try:
        result = _work(settings, job, on_progress)
        state = "complete"
    except Cancelled:
        state = "cancelled"
    except Exception as exc:  # reported on the job, never raised into the queue library
        error = " ".join(str(exc).split())[:500] or type(exc).__name__
        log.warning("job %s failed: %s", job_id, error)
    finally:
        stop.set()
        hb.join(5)
    if state == "cancelled":
        return state
    if not store.finish(job_id, worker, state, result, error):
        return "taken"  # cancelled or re-queued meanwhile: someone else owns the outcome
    event = "job.complete" if state == "complete" else "job.failed"
    data: dict[str, Any] = {"jobId": job_id, "kind": job["kind"], "state": state}
    if error:
        data["error"] = error
    try:
        queue_event(storage, job["owner"], event, data)
    except Exception as exc:
        log.warning("job %s: webhook not queued: %s", job_id, exc)
    return state


def _work(settings: Any, job: dict[str, Any], on_progress: Any) -> dict[str, Any]:
    jobs_dir = settings.jobs_dir
    src = input_path(jobs_dir, job["id"])
    config = json.loads(job["config"] or "{}")
    if job["kind"] == "analysis":
        return _analyse(str(src), on_progress)
    from origin.commands.process import process_file

    genre = config.pop("genre", None)
    target = config.pop(TARGET_KEY, None)
    normalize = None if target is None else (target["targetLufs"], target["truePeakCeiling"])
    dst = output_path(jobs_dir, job["id"], job["output_format"])
    out = process_file(
        str(src), str(dst), config, genre, progress=False, on_progress=on_progress, normalize=normalize
    )
    if target is not None:
        out["normalization"] = {"target": target["target"], **out["normalization"]}
    return _finite(out)


def _analyse(path: str, on_progress: Any) -> dict[str, Any]:
    from origin.commands.analyze import LevelStats, iter_blocks, open_audio

    with open_audio(path) as f:
        stats = LevelStats(f.samplerate, f.channels)
        done = 0
        for block in iter_blocks(f):
            stats.push(block)
            done += block.shape[0]
            on_progress(done, 2 * f.frames)  # the first half: levels; the second: genre
    out: dict[str, Any] = {"loudness": stats.summary()}
    try:
        import origin.genre as og

        out["genre"] = og.classify_signal(og.load_audio(path), og.load_default_model(), vad=False)
    except Exception as exc:  # no model installed, too short...
        out["genre"] = None
        out["genreError"] = " ".join(str(exc).split())[:300]
    on_progress(1, 1)
    return _finite(out)


def _finite(obj: Any) -> Any:
    """JSON-safe copy: non-finite floats become None, NumPy values plain numbers."""
    import math

    if isinstance(obj, dict):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, str | bytes):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
