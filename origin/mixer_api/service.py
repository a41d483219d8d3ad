"""The mixer engines held on ``app.extensions["mixer"]``.

:class:`MixerService` owns the session store, rate limiter, metrics, persisted stats, webhook
engine, genre model and the persisted server DSP config, and implements the one processing
path shared by ``/process-audio``, ``/stream-audio`` and ``/ws``.

DSP runs on the event loop: one 960-sample frame through the chain takes well under a
millisecond (see ``bench/bench_origin.py``), less than a thread hop would cost. Genre model
inference (once per second per auto-genre session) and long feature extractions run in a
thread pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from aimixer_dsp.mixer import NullGenreTracker  # shared with the browser engine

from origin.config import Settings
from origin.jsonutil import dumps, loads
from origin.metrics import Metrics
from origin.ratelimit import RateLimiter
from origin.sessions import SessionEntry, SessionStore
from origin.shared import RedisRateLimiter, SharedState
from origin.stats import StatsRecorder
from origin.storage import Storage
from origin.webhooks import WebhookEngine

__all__ = ["MixerService", "GenreService", "ConfigStore", "NullGenreTracker"]

log = logging.getLogger("origin.mixer")

CONFIG_KEY = "mixer.config.dsp"


class GenreService:
    """Loads the genre model from :mod:`origin.genre` and degrades gracefully without it."""

    RETRY_SECONDS = 30.0

    def __init__(self, model_path: str | None = None, matrix_model_path: str | None = None) -> None:
        self.model_path = model_path
        self.matrix_model_path = matrix_model_path
        self.model: Any = None
        self.matrix_model: Any = None  # the MFCC-statistics model (MFCC matrices and audio)
        self.matrix_error: str | None = "genre model not loaded yet"
        self.error: str | None = "genre model not loaded yet"
        self._last_attempt = -1e9
        self._lock = asyncio.Lock()

    @property
    def available(self) -> bool:
        return self.model is not None

    @property
    def version(self) -> str | None:
        return None if self.model is None else str(getattr(self.model, "version", "unknown"))

    @property
    def classes(self) -> list[str]:
        from aimixer_dsp import GENRES

        if self.model is None:
            return list(GENRES)
        return list(getattr(self.model, "classes", GENRES))

    def load(self) -> bool:
        """Try to load the model (blocking). True on success."""
        self._last_attempt = time.monotonic()
        try:
            from origin import genre as genre_mod
        except ImportError as exc:
            self.error = f"the genre model module is not installed ({exc})"
            return False
        try:
            if self.model_path and hasattr(genre_mod, "load_model"):
                model = genre_mod.load_model(self.model_path)
            else:
                model = genre_mod.load_default_model()
        except Exception as exc:  # missing file, bad ONNX, missing onnxruntime...
            self.error = f"the genre model could not be loaded: {exc}"
            return False
        if model is None:
            self.error = "the genre model is not available"
            return False
        self.model = model
        self.error = None
        log.info("genre model loaded (version %s)", self.version)
        try:
            from aimixer_train.inference import load_model, matrix_model_path

            self.matrix_model = load_model(matrix_model_path(self.matrix_model_path))
            self.matrix_error = None
        except Exception as exc:  # missing file, bad ONNX...
            self.matrix_error = f"the MFCC genre model could not be loaded: {exc}"
            log.warning("%s (MFCC matrices and audio cannot be classified)", self.matrix_error)
        return True

    async def ensure(self) -> bool:
        """Load the model if needed (in a thread, retried at most every 30 s)."""
        if self.model is not None:
            return True
        async with self._lock:
            if self.model is None and time.monotonic() - self._last_attempt > self.RETRY_SECONDS:
                await asyncio.get_running_loop().run_in_executor(None, self.load)
        return self.model is not None

    def predict(self, vector: list[float]) -> dict[str, float]:
        if self.model is None:
            raise RuntimeError(self.error or "genre model unavailable")
        return {str(k): float(v) for k, v in self.model.predict_proba(vector).items()}


class ConfigStore:
    """The server DSP config: user overrides persisted in the DB, merged over the defaults.

    Only fields set with ``PUT /config`` are stored, so genre presets still apply to the others.
    The in-memory copy is refreshed from the database every second (other worker processes and
    origins); with Redis, an update is also published on ``aimixer:config`` and every origin
    re-reads it as soon as it hears it.
    """

    def __init__(self, storage: Storage, shared: SharedState | None = None) -> None:
        self.storage = storage
        self.shared = shared
        self.overrides: dict[str, Any] = {}
        self.version = 0
        self._merged: tuple[Any, dict[str, Any]] | None = None  # (exact key, overrides <- request)

    def load(self) -> None:
        raw = self.storage.kv_get(CONFIG_KEY)
        self.overrides = loads(raw) if raw else {}

    async def aload(self) -> None:
        await self.storage.run(self.load)

    def full(self) -> dict[str, Any]:
        from aimixer_dsp.presets import DEFAULT_SETTINGS, merge_config

        return merge_config(DEFAULT_SETTINGS, self.overrides)

    async def update(self, partial: dict[str, Any]) -> dict[str, Any]:
        from aimixer_dsp.presets import merge_config, validate_config

        validate_config(partial)
        new = merge_config(self.overrides, partial)
        validate_config(new)
        await self.storage.run(self.storage.kv_set, CONFIG_KEY, dumps(new).decode())
        self.overrides = new
        self.version += 1
        if self.shared is not None:
            with contextlib.suppress(Exception):  # the one-second refresh still carries it
                await self.shared.publish("config", b"changed")
        return self.full()

    def effective(self, request_config: dict[str, Any] | None) -> dict[str, Any] | None:
        """The config for one call: server overrides <- request config."""
        if not self.overrides:
            return request_config
        if not request_config:
            return self.overrides
        from aimixer_dsp.mixer import config_cache_key
        from aimixer_dsp.presets import merge_config

        # The same request config on top of the same overrides merges to the same dict: keep the
        # last one (exact keys: equal values of the same types), so a stream or a client that
        # repeats its config does not deep-copy both on every frame.
        ko, kr = config_cache_key(self.overrides), config_cache_key(request_config)
        key = None if ko is None or kr is None else (ko, kr)
        cached = self._merged
        if key is not None and cached is not None and cached[0] == key:
            return cached[1]
        merged = merge_config(self.overrides, request_config)
        if key is not None:
            self._merged = (key, merged)
        return merged


class MixerService:
    """All long-lived mixer state of one app."""

    def __init__(
        self, settings: Settings, storage: Storage, app_secret: str = "", *, shared: SharedState | None = None
    ) -> None:
        self.settings = settings
        self.storage = storage
        self.app_secret = app_secret
        self.shared = shared
        self.metrics = Metrics()
        self.limiter: RateLimiter | RedisRateLimiter = shared.limiter if shared is not None else RateLimiter()
        self.stats = StatsRecorder(storage)
        self.webhooks = WebhookEngine(
            storage,
            timeout=settings.webhook_timeout,
            max_attempts=settings.webhook_max_attempts,
            backoff=settings.webhook_backoff,
            queue_size=settings.webhook_queue_size,
            metrics=self.metrics,
        )
        self.genre = GenreService(settings.model_path, settings.matrix_model_path)
        self.config = ConfigStore(storage, shared)
        self.config.load()
        self.sessions = SessionStore(
            self._session_factory, ttl=settings.session_ttl, max_sessions=settings.max_sessions
        )
        self.executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="aimixer-work")
        self._tasks: list[asyncio.Task[Any]] = []
        self._fresh_pool: list[Any] = []

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        if self.shared is not None:

            async def _config_changed(_data: bytes) -> None:
                await self.config.aload()

            self.shared.subscribe("config", _config_changed)
        await self.stats.start()
        await self.webhooks.start()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.genre.load)
        if not self.genre.available:
            log.warning(
                "genre model unavailable: %s (genre 'auto' and /classify-genre degrade)", self.genre.error
            )

        async def housekeeping() -> None:
            while True:
                await asyncio.sleep(1.0)
                with contextlib.suppress(Exception):
                    self.sessions.sweep()
                    self.metrics.active_sessions.set(len(self.sessions))
                    await self.config.aload()

        self._tasks.append(loop.create_task(housekeeping()))

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()
        await self.webhooks.stop()
        await self.stats.stop()
        self.executor.shutdown(wait=False, cancel_futures=True)

    # -- sessions --------------------------------------------------------------------------------
    def new_mixer(self, tracked: bool = False) -> Any:
        """A fresh ``MixerSession``; with ``tracked`` it gets a streaming genre classifier."""
        from aimixer_dsp.mixer import MixerSession

        return MixerSession(genre_tracker=self.new_tracker() if tracked else NullGenreTracker())

    def new_tracker(self) -> Any:
        """A streaming genre classifier (window/hop from the model), or the null tracker."""
        if not self.genre.available:
            return NullGenreTracker()
        from aimixer_dsp.genre import StreamingGenreClassifier

        m = self.genre.model
        kwargs = {
            k: getattr(m, k) for k in ("window_s", "hop_s") if isinstance(getattr(m, k, None), int | float)
        }
        return StreamingGenreClassifier(**kwargs)

    def _session_factory(self, session_id: str) -> Any:
        # The classifier is attached on the first frame that asks for genre "auto" (it costs
        # about as much as the DSP chain per frame, so sessions that never use auto skip it).
        return self.new_mixer(tracked=False)

    def session(self, owner: str, session_id: str) -> SessionEntry:
        entry = self.sessions.get_or_create(owner, session_id)
        self.metrics.active_sessions.set(len(self.sessions))
        return entry

    # -- processing ------------------------------------------------------------------------------
    async def process(
        self,
        samples: np.ndarray,
        config: dict[str, Any] | None,
        *,
        entry: SessionEntry | None = None,
        owner: str | None = None,
        metrics: bool = True,
    ) -> tuple[dict[str, Any], float]:
        """Run one frame; returns ``(result, elapsed_ms)``. Raises DSP errors (-> 400).

        ``metrics=False``: the caller reports no metrics for this frame (a ``/ws`` stream between
        its ``metricsEvery`` frames), so ``result["metrics"]``/``["appliedSettings"]`` are ``None``.
        """
        effective = self.config.effective(config)
        if entry is None:
            t0 = time.perf_counter()
            mixer = self._fresh_pool.pop() if self._fresh_pool else self.new_mixer(False)
            try:
                result = mixer.process(samples, effective, metrics=metrics)
            finally:
                mixer.reset()
                if len(self._fresh_pool) < 64:
                    self._fresh_pool.append(mixer)
            elapsed = (time.perf_counter() - t0) * 1000.0
        else:
            async with entry.lock:
                self._attach_tracker(entry, effective)
                t0 = time.perf_counter()
                result = entry.session.process(samples, effective, metrics=metrics)
                elapsed = (time.perf_counter() - t0) * 1000.0
                entry.frames += 1
                tracker = entry.session.genre_tracker
                if not isinstance(tracker, NullGenreTracker):
                    # webrtcvad voice activity of the last classified window: an origin-only extra
                    # metric (not a model input: the browser has no webrtcvad), same timing as the
                    # genre verdict (computed after frame N, reported from frame N+1).
                    if metrics:
                        result["metrics"]["voiceActivity"] = entry.meta.get("voiceActivity")
                    _push_window_audio(entry, samples, float(getattr(tracker, "window_s", 3.0)))
                await self._classify_pending(entry, owner)
        n = int(samples.shape[0])
        self.metrics.processing_duration.observe(elapsed / 1000.0)
        self.metrics.samples_processed.inc(n)
        return result, elapsed

    async def prepare(self, entry: SessionEntry, config: dict[str, Any] | None) -> None:
        """Set ``entry``'s session up for a real-time stream with ``config`` before its first frame
        (settings applied, meter created, the genre classifier attached for "auto"), so that the
        first frame costs what the next ones do. Raises DSP errors for a bad config."""
        effective = self.config.effective(config)
        async with entry.lock:
            self._attach_tracker(entry, effective)
            entry.session.prepare(effective, channels=1)

    def _attach_tracker(self, entry: SessionEntry, effective: dict[str, Any] | None) -> None:
        # the classifier is attached on the session's first "auto" frame (or stream start)
        if (
            effective is not None
            and effective.get("genre") == "auto"
            and isinstance(entry.session.genre_tracker, NullGenreTracker)
            and self.genre.available
        ):
            entry.session.genre_tracker = self.new_tracker()

    async def _classify_pending(self, entry: SessionEntry, owner: str | None) -> None:
        mixer = entry.session
        tracker = getattr(mixer, "genre_tracker", None)
        if tracker is None or tracker.pending_features is None or not self.genre.available:
            return
        feats = tracker.pending_features
        try:
            probs = await asyncio.get_running_loop().run_in_executor(self.executor, self.genre.predict, feats)
        except Exception as exc:
            log.warning("genre inference failed for session %s: %s", entry.id, exc)
            return
        changed = tracker.apply(probs)
        window = _window_audio(entry)
        if window is not None:
            from origin.genre import voice_activity

            with contextlib.suppress(Exception):
                va = await asyncio.get_running_loop().run_in_executor(self.executor, voice_activity, window)
                entry.meta["voiceActivity"] = round(float(va), 4)
        if changed and tracker.genre is not None:
            self.stats.record_genre(tracker.genre)
            self.metrics.genre_detections.labels(tracker.genre).inc()
            if owner is not None:
                self.webhooks.emit(
                    owner,
                    "genre.detected",
                    {
                        "sessionId": entry.id,
                        "genre": tracker.genre,
                        "confidence": round(float(tracker.confidence), 4),
                        "probabilities": probs,
                        "duration": round(entry.frames * 0.02, 3),
                    },
                )

    async def run_blocking(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn`` in the worker pool."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, lambda: fn(*args, **kwargs))

    def emit_error(self, owner: str | None, code: str, message: str, **data: Any) -> None:
        """Queue an ``error.occurred`` webhook (never raises)."""
        if owner is None:
            return
        with contextlib.suppress(Exception):
            self.webhooks.emit(owner, "error.occurred", {"code": code, "message": message, **data})


def _push_window_audio(entry: SessionEntry, samples: np.ndarray, window_s: float) -> None:
    """Keep the session's last ``window_s`` seconds of input audio in a ring (for voiceActivity)."""
    ring = entry.meta.get("vad_ring")
    if ring is None:
        ring = entry.meta["vad_ring"] = np.zeros(max(1, int(round(window_s * 48000))), dtype=np.float64)
        entry.meta["vad_pos"] = 0
        entry.meta["vad_filled"] = 0
    x = np.asarray(samples, dtype=np.float64).reshape(-1)[-ring.size :]
    pos = entry.meta["vad_pos"]
    first = min(x.size, ring.size - pos)
    ring[pos : pos + first] = x[:first]
    ring[: x.size - first] = x[first:]
    entry.meta["vad_pos"] = (pos + x.size) % ring.size
    entry.meta["vad_filled"] = min(ring.size, entry.meta["vad_filled"] + x.size)


def _window_audio(entry: SessionEntry) -> np.ndarray | None:
    """The ring's audio in time order (None before any audio was kept)."""
    ring = entry.meta.get("vad_ring")
    if ring is None or not entry.meta.get("vad_filled"):
        return None
    pos = entry.meta["vad_pos"]
    ordered = np.concatenate((ring[pos:], ring[:pos]))
    return ordered[ordered.size - entry.meta["vad_filled"] :]
