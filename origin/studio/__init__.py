"""The Audyn-compatible studio API on the origin (``spec/audyn-api.md``).

:func:`init_app` registers the blueprints (``/api/recorders``, ``/api/studios``,
``/api/control``, ``/api/sources``, ``/api/assets``, ``/api/stream``, ``/ws/levels``,
``/auth/*``), the web app (``/``, ``/studio/``) and the OIDC authenticator, and puts a
:class:`StudioService` on ``app.extensions["studio"]``. Engines (supervisor, level broker, SAP
listener) start when the app starts serving and stop when it stops.

With ``redis_url`` set, several origins share the studio: one of them, elected through a Redis
lease, runs the recorders and the others forward commands to it and show its state
(:mod:`origin.studio.leader`). Without it, a file lock in ``data_dir`` picks the one supervising
process, as before.

Settings (``origin.config.Settings`` fields, else ``AIMIXER_*`` environment variables):

===============================  =========  =========================================================
setting                          default    meaning
===============================  =========  =========================================================
archive_root                     data/archive  the one archive root (server config only)
max_recorders                    (Settings)  highest recorder id / max active count
studio_active_default            6          active recorders on a fresh database
studio_control_recorder          1          recorder behind the control API (single-capture view)
studio_levels_hz                 10         WebSocket level messages per second per client
studio_keepalive_s               15         seconds between ``{"type": "keepalive"}`` messages
studio_ws_queue                  8          per-client WebSocket queue (messages)
studio_stop_timeout              10         seconds between SIGTERM and SIGKILL when stopping
studio_sap                       true       run the SAP listener for ``/api/sources/discovered``
studio_sap_interfaces            (auto)     comma-separated AES67 card addresses SAP listens on
                                            (default: the recorders' ``interface`` values, else
                                            the default route's card)
===============================  =========  =========================================================
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from pathlib import Path
from typing import Any

from quart import Quart

from origin.studio.broker import LevelBroker
from origin.studio.common import USER_RECORDER_KEYS
from origin.studio.store import DEFAULT_ACTIVE, StudioStore
from origin.studio.supervisor import Supervisor, terminate_stale

__all__ = ["init_app", "StudioService", "setting"]

log = logging.getLogger("origin.studio")

_PROJECT_ROOT = str(Path(__file__).resolve().parents[2])


def setting(settings: Any, name: str, default: Any, cast: type = str) -> Any:
    """A studio setting: ``Settings`` attribute, else ``AIMIXER_<NAME>`` env, else ``default``."""
    v = getattr(settings, name, None)
    if v is None:
        extra = getattr(settings, "extra", None) or {}
        tbl = extra.get("studio") if isinstance(extra, dict) else None
        key = name[len("studio_") :] if name.startswith("studio_") else name
        if isinstance(tbl, dict) and key in tbl:
            v = tbl[key]
    if v is None:
        v = os.environ.get(f"AIMIXER_{name.upper()}")
    if v is None:
        return default
    try:
        if cast is bool:
            return str(v).strip().lower() in ("1", "true", "yes", "on")
        return cast(v)
    except (TypeError, ValueError):
        log.warning("ignoring bad setting %s=%r", name, v)
        return default


#: config keys stored per recorder -> CLI flag of ``aimixer record`` (see build_command): the
#: client-settable ones plus those set from a discovered source
RECORDER_CONFIG_KEYS = (
    *USER_RECORDER_KEYS,
    "source_filter",
    "redundant_source_filter",
    "mediaclk_offset",
    "source_id",
    "session_name",
)


#: worker stats shown as the recorder's ``stats`` (packet health and stream counters)
STREAM_COUNTERS = (
    "received",
    "lost",
    "late",
    "reordered",
    "duplicate",
    "foreign",
    "malformed",
    "silence_frames",
    "relocks",
    "frames_written",
    "seconds",
    "vox",
)


def _stream_counters(stats: dict[str, Any]) -> dict[str, Any]:
    return {k: stats[k] for k in STREAM_COUNTERS if k in stats}


class StudioService:
    """Everything the studio API needs, held on ``app.extensions["studio"]``."""

    def __init__(self, app: Quart) -> None:
        self.app = app
        settings = app.extensions["settings"]
        self.settings = settings
        self.archive_root = Path(settings.archive_root or Path(settings.data_dir) / "archive").resolve()
        self.archive_root.mkdir(parents=True, exist_ok=True)
        self.max_recorders = max(1, int(getattr(settings, "max_recorders", 6) or 6))
        self.control_recorder = min(
            self.max_recorders, max(1, setting(settings, "studio_control_recorder", 1, int))
        )
        self.levels_hz = setting(settings, "studio_levels_hz", 10.0, float)
        self.storage = app.extensions["storage"]
        self.store = StudioStore(self.storage)
        self.store.ensure_defaults(
            self.max_recorders, setting(settings, "studio_active_default", DEFAULT_ACTIVE, int)
        )
        self.active_count = min(self.max_recorders, int(self.store.kv_get_sync("active_count") or 1))
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PROJECT_ROOT, env.get("PYTHONPATH", "")) if p)
        self.supervisor = Supervisor(
            self.build_command,
            on_event=self.store.add_event,
            on_pid=self.store.set_pid,
            on_alert=self.route_alert,
            env=env,
            stop_timeout=setting(settings, "studio_stop_timeout", 10.0, float),
            run_dir=Path(settings.data_dir) / "run",  # detached workers: they outlive the origin
        )
        self.broker = LevelBroker(
            self.levels_snapshot,
            rate_hz=self.levels_hz,
            queue_size=setting(settings, "studio_ws_queue", 8, int),
            keepalive_s=setting(settings, "studio_keepalive_s", 15.0, float),
        )
        self.sap = None
        self.sap_enabled = setting(settings, "studio_sap", True, bool)
        self.names = {r["id"]: r["name"] for r in self.store.recorders_sync()}
        self._lock_fh: Any = None
        self.supervising = False
        shared = app.extensions.get("shared")
        self.leadership: Any = None
        if shared is not None:
            from origin.studio.leader import StudioLeadership

            self.leadership = StudioLeadership(self, shared)

    # -- worker command -------------------------------------------------------------------------
    def abs_archive(self, rel_or_abs: str) -> Path:
        """A recorder's archive folder as an absolute path (stored relative to the root)."""
        p = Path(rel_or_abs)
        return p if p.is_absolute() else self.archive_root / p

    def build_command(self, rid: int, cfg: dict[str, Any]) -> list[str]:
        """argv of the worker for recorder ``rid`` (``python -m origin.cli record ... --levels``)."""
        from origin.studio.workercmd import worker_argv

        return worker_argv(cfg, self.abs_archive(cfg["archive_root"]))

    # -- views ----------------------------------------------------------------------------------
    def public_config(self, cfg: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in cfg.items() if k in RECORDER_CONFIG_KEYS and v is not None}
        out["archive_root"] = str(self.abs_archive(cfg["archive_root"]))
        return out

    def recorder_config_view(self, cfg: dict[str, Any]) -> dict[str, Any]:
        """A recorder's ``config`` as the API shows it: :meth:`public_config` plus Audyn's
        ``source_type``, ``bit_depth`` (from ``bits``) and ``vox_enabled``."""
        from origin.studio.common import BITS_TO_BIT_DEPTH

        out = self.public_config(cfg)
        out["source_type"] = "aes67"
        out["bit_depth"] = BITS_TO_BIT_DEPTH.get(cfg.get("bits") or "24", 24)
        out.setdefault("vox_enabled", False)
        return out

    def recorder_view(self, rec: dict[str, Any]) -> dict[str, Any]:
        """The spec's ``Recorder`` object."""
        rid = rec["id"]
        rt = self.supervisor.runtime(rid)
        live = rt.view()
        return {
            "id": rid,
            "name": rec["name"],
            "enabled": rid <= self.active_count,
            "state": live["state"],
            "config": self.recorder_config_view(rec["config"]),
            "studio_id": self.store.studio_of(rid),
            "levels": live["levels"],
            "start_time": live["start_time"],
            "bytes_written": live["bytes_written"],
            "current_file": live["current_file"],
            "errors": live["errors"],
            "restarts": rt.restarts,
            "stats": _stream_counters(rt.stats),
        }

    def route_alert(self, rid: int, event: str, data: dict[str, Any]) -> None:
        """A recorder alert (already in the event log) to the levels WebSocket and the webhooks."""
        ts = time.time()
        self.broker.publish_event(
            rid, self.store.studio_of(rid), {"event": event, "timestamp": round(ts, 3), "data": data}
        )
        mixer = self.app.extensions.get("mixer")
        hooks = getattr(mixer, "webhooks", None)
        if hooks is not None:
            hooks.emit_subscribers(event, {"recorder_id": rid, "recorder_name": self.names.get(rid), **data})

    def levels_snapshot(self) -> list[dict[str, Any]]:
        """Per active recorder: id, name, studio, state, channels (for the level broker)."""
        out = []
        for rid in range(1, self.active_count + 1):
            rt = self.supervisor.runtime(rid)
            out.append(
                {
                    "recorder_id": rid,
                    "recorder_name": self.names.get(rid, f"Recorder {rid}"),
                    "studio_id": self.store.studio_of(rid),
                    "state": rt.state,
                    "channels": rt.live_levels(),
                }
            )
        return out

    def recording_files(self) -> set[str]:
        """Real paths of files being written right now."""
        out = set()
        for rt in self.supervisor.runtimes.values():
            if rt.running and rt.current_file:
                out.add(os.path.realpath(rt.current_file))
        return out

    # -- lifecycle ------------------------------------------------------------------------------
    def _acquire_lock(self) -> bool:
        path = Path(self.settings.data_dir) / "studio-supervisor.lock"
        try:
            fh = open(path, "a+")  # noqa: SIM115 - held for the life of the service
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        self._lock_fh = fh
        return True

    def _release_lock(self) -> None:
        if self._lock_fh is not None:
            try:
                fcntl.flock(self._lock_fh.fileno(), fcntl.LOCK_UN)
            finally:
                self._lock_fh.close()
                self._lock_fh = None

    async def startup(self) -> None:
        self.supervisor.closing = False
        self.broker.start()
        if self.sap_enabled:
            from origin.studio.discovery import start_sap

            self.sap = await start_sap(self)
        if self.leadership is not None:  # several origins: the elected leader supervises
            await self.leadership.start()
            return
        self.supervising = self._acquire_lock()
        if not self.supervising:
            log.warning(
                "another origin process supervises the recorders of %s; this one only serves",
                self.settings.data_dir,
            )
            return
        await self.resume_recorders()

    async def resume_recorders(self) -> None:
        """Become the supervisor (at start-up, or when this origin is elected studio leader):
        adopt the workers a previous origin left recording, start the other recorders whose
        desired state is recording, and stop workers nobody wants."""
        self.active_count = min(self.max_recorders, int(await self.store.kv_get("active_count") or 1))
        recs = await self.store.recorders()
        wanted = {
            rec["id"]: rec["config"]
            for rec in recs
            if rec["desired_state"] == "recording" and rec["id"] <= self.active_count
        }
        adopted = await self.supervisor.adopt_running(wanted)
        for rid in sorted(adopted):
            await self.store.add_event(
                rid, "resume", "recording continued by a worker that outlived the origin"
            )
        for rec in recs:
            if rec["pid"] and rec["id"] not in adopted:  # a worker without a lock (older origin)
                await self.storage.run(terminate_stale, rec["pid"])
                await self.store.set_pid(rec["id"], None)
        for rec in recs:
            if rec["id"] in wanted and rec["id"] not in adopted:
                self.abs_archive(rec["config"]["archive_root"]).mkdir(parents=True, exist_ok=True)
                await self.store.add_event(rec["id"], "resume", "recording resumed after origin start")
                await self.supervisor.start(rec["id"], rec["config"], wait=0)

    async def start_recorder(self, rec: dict[str, Any], *, wait: float = 3.0) -> None:
        """Start recorder ``rec`` (a store row): it must be active and its archive folder inside
        the archive root; records the desired state and a ``start`` event, then starts its
        worker (waiting up to ``wait`` s for the first report). ``StudioError`` 400 otherwise."""
        from origin.errors import StudioError
        from origin.studio.paths import is_within

        rid = rec["id"]
        if rid > self.active_count:
            raise StudioError(400, f"Recorder {rid} is not active (active recorders: {self.active_count})")
        folder = self.abs_archive(rec["config"]["archive_root"])
        if not is_within(folder, self.archive_root):
            raise StudioError(
                400, "archive_root is outside the server archive root; update the recorder config"
            )
        folder.mkdir(parents=True, exist_ok=True)
        await self.store.set_desired_state(rid, "recording")
        await self.store.add_event(rid, "start", "start requested")
        await self.supervisor.start(rid, rec["config"], wait=wait)

    async def update_config(self, rec: dict[str, Any], cleaned: dict[str, Any]) -> dict[str, Any]:
        """Merge validated fields ``cleaned`` into recorder ``rec``'s config and store it (with a
        ``config`` event); ``rec["config"]`` is updated and returned. Refused (400) while the
        recorder records."""
        from origin.errors import StudioError
        from origin.studio.recorders import merge_config

        rid = rec["id"]
        if self.supervisor.runtime(rid).running:
            raise StudioError(400, "Cannot update config while recording")
        cfg = await merge_config(rec["config"], cleaned)
        await self.store.set_recorder_config(rid, cfg)
        await self.store.add_event(rid, "config", f"configuration updated: {sorted(cleaned)}")
        rec["config"] = cfg
        return cfg

    async def shutdown(self) -> None:
        t0 = time.monotonic()
        if self.leadership is not None:
            await self.leadership.stop()
        await self.supervisor.shutdown()
        await self.broker.stop()
        if self.sap is not None:
            from origin.studio.discovery import stop_sap

            await stop_sap(self.sap)
            self.sap = None
        self._release_lock()
        log.info("studio engines stopped in %.1f s", time.monotonic() - t0)


def init_app(app: Quart) -> None:
    """Register the studio API, the web app and the OIDC authenticator on ``app``."""
    from origin.auth import add_authenticator
    from origin.auth.oidc import OIDCClient, OIDCConfig, make_authenticator
    from origin.studio import (
        assets,
        auth_routes,
        control,
        discovery_api,
        loudness,
        recorders,
        sources,
        stream,
        studios,
        system,
        ws,
    )
    from origin.webapp import init_app as init_webapp

    service = StudioService(app)
    app.extensions["studio"] = service
    oidc = OIDCClient(OIDCConfig.from_settings(service.settings), service.storage)
    app.extensions["oidc"] = oidc
    add_authenticator(app, make_authenticator(oidc))

    for mod in (
        recorders,
        studios,
        control,
        sources,
        assets,
        stream,
        ws,
        auth_routes,
        discovery_api,
        system,
        loudness,
    ):
        app.register_blueprint(mod.bp)
    init_webapp(app)

    @app.before_serving
    async def _studio_start() -> None:
        await service.startup()

    @app.after_serving
    async def _studio_stop() -> None:
        await service.shutdown()
