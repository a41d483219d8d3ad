"""Origin server settings: defaults <- TOML file <- environment <- command line.

:func:`load_settings` builds a :class:`Settings`. Sources, later ones win:

1. the defaults below;
2. an optional TOML file (``--config PATH`` or ``AIMIXER_CONFIG=PATH``). Keys are the field
   names below, at top level or in tables whose name is a prefix (``[oidc] issuer = ...`` is
   ``oidc_issuer``; ``[rate_limit] standard = 50`` is ``rate_limit_standard``). A top-level
   ``[aimixer]`` table is also accepted. Unknown keys are an error naming the key;
3. environment variables ``AIMIXER_<FIELD>`` in upper case (``AIMIXER_PORT=9000``);
4. command-line options (``aimixer serve --host/--port/--workers/--data-dir/--database-url/
   --redis-url``).

Dev mode is on when ``AUDYN_DEV_MODE`` or ``AIMIXER_DEV_MODE`` is ``true``/``1``/``yes``/``on``
(either switch turns it on for the whole origin).

==========================  ===================================  =============================================
setting (env var)           default                              meaning
==========================  ===================================  =============================================
data_dir                    ``./data``                           directory holding ``aimixer.db`` and state
(AIMIXER_DATA_DIR)
database_url                (unset: SQLite in data_dir)          ``postgresql://user:pass@host:port/db`` for
(AIMIXER_DATABASE_URL)                                           state shared by several origins
redis_url                   (unset: in-process state)            ``redis://host:port/N``: shared rate limits,
(AIMIXER_REDIS_URL)                                              sessions, config, webhooks, studio, jobs
host (AIMIXER_HOST)         ``127.0.0.1``                        address ``aimixer serve`` binds
port (AIMIXER_PORT)         ``8000``                             TCP port
workers (AIMIXER_WORKERS)   ``1``                                Hypercorn worker processes (rate limits,
                                                                 sessions and metrics are per process)
region (AIMIXER_REGION)     ``local``                            reported by ``/health``
dev_mode                    ``false``                            keyless requests act as the dev admin
(AUDYN_DEV_MODE /                                                (standard tier); logged and shown in /health
AIMIXER_DEV_MODE)
log_level                   ``INFO``                             Python logging level
(AIMIXER_LOG_LEVEL)
secret_key                  generated, stored in the DB          HMAC key for mobile session tokens
(AIMIXER_SECRET_KEY)
model_path                  (genre module default)               ONNX genre model file (48-value window vectors)
(AIMIXER_MODEL_PATH)
matrix_model_path           ``models/genre_mfcc.onnx``           ONNX genre model for MFCC matrices and audio
(AIMIXER_MATRIX_MODEL_PATH)                                      (/classify-genre's spec flow)
dsp_backend                 ``auto``                             DSP path: ``auto`` | ``numpy`` | ``pure``
(AIMIXER_DSP_BACKEND)                                            (applied by the app factory)
analysis_max_seconds        ``120``                              max audio per /extract-features and
                                                                 /classify-genre request (s); 413 beyond
rate_limit_standard         ``1000``                             requests/minute per key, standard tier
rate_limit_premium          ``10000``                            requests/minute per key, premium tier
rate_limit_enterprise       ``0``                                0 = unlimited
session_ttl                 ``900``                              seconds an idle mixer session is kept
max_sessions                ``10000``                            sessions kept in memory (oldest evicted)
mobile_token_ttl            ``3600``                             lifetime of /mobile/session tokens (s)
max_body_bytes              ``4194304``                          max JSON request body (bytes)
stream_max_seconds          ``3600``                             max audio per /stream-audio request (s)
webhook_timeout             ``5.0``                              per-delivery HTTP timeout (s)
webhook_max_attempts        ``5``                                delivery attempts before giving up
webhook_backoff             ``1.0``                              first retry delay (s), doubled each retry
webhook_queue_size          ``1000``                             pending deliveries; beyond -> dropped+counted
archive_root                ``{data_dir}/archive``               studio recorder archive (studio API)
jobs_dir                    ``{data_dir}/jobs``                  file jobs' uploads and results (shared by
                                                                 the origins and ``aimixer worker``s)
job_max_bytes               ``536870912``                        largest ``POST /jobs`` upload (bytes)
job_max_seconds             ``14400``                            longest audio a job accepts (s)
job_heartbeat_timeout       ``30``                               a running job silent this long is
                                                                 re-queued (once) or failed
jobs_local_workers          ``1``                                local job processes without redis_url
max_recorders               ``6``                                studio recorders allowed
trusted_proxies             (unset: X-Forwarded-For ignored)     proxies (IPs or CIDRs, comma-separated: the
(AIMIXER_TRUSTED_PROXIES)                                        edge) whose X-Forwarded-For names the caller
cors_origins                (unset: same-origin pages only)      origins (``https://app.example``, comma-
(AIMIXER_CORS_ORIGINS)                                           separated, or ``*``) whose pages may call the API
oidc_issuer                 (unset)                              OIDC issuer URL (studio login)
oidc_client_id              (unset)                              OIDC client id / audience
oidc_client_secret          (unset)                              OIDC client secret
oidc_tenant_id              (unset)                              Entra ID tenant
oidc_jwks_url               (unset)                              JWKS URL (default: from discovery)
oidc_redirect_uri           (unset)                              OAuth redirect URI
oidc_admin_group            (unset)                              group/role claim value meaning admin
oidc_audience               (client id)                          accepted JWT audience
oidc_scopes                 ``openid profile email``             scopes asked at login
oidc_studio_map             (unset)                              JSON or ``key=studio,...`` (sub/oid/email/group)
web_dir                     ``web/``                             static web app served at ``/``
studio_active_default       ``6``                                active recorders on a fresh database
studio_control_recorder     ``1``                                recorder behind /api/control
studio_levels_hz            ``10``                               /ws/levels messages per second per client
studio_keepalive_s          ``15``                               seconds between keepalive messages
studio_ws_queue             ``8``                                per-client level queue (oldest dropped)
studio_stop_timeout         ``10``                               SIGTERM -> SIGKILL grace for recorders (s)
studio_sap                  ``true``                             run the SAP listener (discovered sources)
studio_sap_interfaces       (recorders' interfaces)              SAP discovery on these AES67 card addresses
==========================  ===================================  =============================================

Every field ``f`` can be set as ``AIMIXER_F`` (upper case). Booleans accept
``true/false/1/0/yes/no/on/off``.
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "Settings",
    "load_settings",
    "ConfigError",
    "env_bool",
    "redact_url",
    "trusted_networks",
    "parse_origins",
]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(ValueError):
    """A setting has a bad value or an unknown name (message names it)."""


def env_bool(value: str | bool | None, *, name: str = "value") -> bool:
    """Parse a boolean setting (``true/false/1/0/yes/no/on/off``)."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    v = str(value).strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise ConfigError(f"{name}={value!r} is not a boolean (true/false)")


@dataclass
class Settings:
    """All origin settings. See the module docstring for each field."""

    data_dir: Path = field(default_factory=lambda: Path("data"))
    database_url: str | None = None
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    region: str = "local"
    dev_mode: bool = False
    log_level: str = "INFO"
    secret_key: str | None = None
    model_path: str | None = None
    matrix_model_path: str | None = None
    dsp_backend: str = "auto"
    analysis_max_seconds: float = 120.0
    rate_limit_standard: int = 1000
    rate_limit_premium: int = 10000
    rate_limit_enterprise: int = 0
    session_ttl: float = 900.0
    max_sessions: int = 10000
    mobile_token_ttl: int = 3600
    max_body_bytes: int = 4 * 1024 * 1024
    stream_max_seconds: float = 3600.0
    webhook_timeout: float = 5.0
    webhook_max_attempts: int = 5
    webhook_backoff: float = 1.0
    webhook_queue_size: int = 1000
    archive_root: Path | None = None
    jobs_dir: Path | None = None
    job_max_bytes: int = 512 * 1024 * 1024
    job_max_seconds: float = 14400.0
    job_heartbeat_timeout: float = 30.0
    jobs_local_workers: int = 1
    max_recorders: int = 6
    trusted_proxies: str | None = None
    cors_origins: str | None = None
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_tenant_id: str | None = None
    oidc_jwks_url: str | None = None
    oidc_redirect_uri: str | None = None
    oidc_admin_group: str | None = None
    oidc_audience: str | None = None
    oidc_scopes: str | None = None
    oidc_studio_map: str | None = None
    web_dir: str | None = None
    studio_active_default: int | None = None
    studio_control_recorder: int | None = None
    studio_levels_hz: float | None = None
    studio_keepalive_s: float | None = None
    studio_ws_queue: int | None = None
    studio_stop_timeout: float | None = None
    studio_sap: bool | None = None
    studio_sap_interfaces: str | None = None
    #: raw extra tables from the TOML file that are not settings (e.g. ``[studio.xyz]``), for
    #: domain packages that want their own structured config.
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            if f.name == "extra":
                continue
            setattr(self, f.name, _coerce(f.name, getattr(self, f.name)))
        if self.archive_root is None:
            self.archive_root = Path(self.data_dir) / "archive"
        if self.jobs_dir is None:
            self.jobs_dir = Path(self.data_dir) / "jobs"
        if self.job_max_bytes < 1 or self.job_max_seconds <= 0 or self.job_heartbeat_timeout <= 0:
            raise ConfigError("job_max_bytes, job_max_seconds and job_heartbeat_timeout must be > 0")
        if self.jobs_local_workers < 1:
            raise ConfigError(f"jobs_local_workers={self.jobs_local_workers} must be >= 1")
        if not (0 <= self.port <= 65535):
            raise ConfigError(f"port={self.port} is out of range [0, 65535]")
        self.database_url = self.database_url or None
        self.redis_url = self.redis_url or None
        if self.database_url is not None and self.database_url.split("://", 1)[0] not in (
            "postgresql",
            "postgres",
        ):
            raise ConfigError("database_url must be a postgresql://user:pass@host:port/db URL (or unset)")
        if self.redis_url is not None and self.redis_url.split("://", 1)[0] not in (
            "redis",
            "rediss",
            "unix",
        ):
            raise ConfigError("redis_url must be a redis://host:port/N URL (or unset)")
        if self.workers < 1:
            raise ConfigError(f"workers={self.workers} must be >= 1")
        for name in ("rate_limit_standard", "rate_limit_premium", "rate_limit_enterprise"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name}={getattr(self, name)} must be >= 0 (0 = unlimited)")
        if not (1.0 <= self.analysis_max_seconds <= 3600.0):
            raise ConfigError(f"analysis_max_seconds={self.analysis_max_seconds} is out of range [1, 3600]")
        self.trusted_proxies = self.trusted_proxies or None
        trusted_networks(self.trusted_proxies)  # a bad entry is a ConfigError naming it
        self.cors_origins = self.cors_origins or None
        parse_origins(self.cors_origins)
        from aimixer_dsp.backend import BACKENDS

        self.dsp_backend = str(self.dsp_backend).strip().lower()
        if self.dsp_backend not in BACKENDS:
            raise ConfigError(f"dsp_backend={self.dsp_backend!r} is not one of {list(BACKENDS)}")

    @property
    def db_path(self) -> Path:
        """``{data_dir}/aimixer.db``."""
        return Path(self.data_dir) / "aimixer.db"

    def rate_limit_for(self, tier: str) -> int:
        """Requests per minute for ``tier``; 0 means unlimited."""
        return int(getattr(self, f"rate_limit_{tier}", self.rate_limit_standard))

    def as_dict(self) -> dict[str, Any]:
        """Settings as a plain dict (secrets masked)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name in ("secret_key", "oidc_client_secret") and v:
                v = "***"
            elif f.name in ("database_url", "redis_url") and v:
                v = redact_url(v)
            out[f.name] = str(v) if isinstance(v, Path) else v
        return out


@functools.lru_cache(maxsize=8)
def trusted_networks(text: str | None) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """The networks of a ``trusted_proxies`` value (``"127.0.0.1, 10.0.0.0/8"``)."""
    nets = []
    for item in (text or "").split(","):
        if item.strip():
            try:
                nets.append(ipaddress.ip_network(item.strip(), strict=False))
            except ValueError:
                raise ConfigError(
                    f"trusted_proxies: {item.strip()!r} is not an IP address or network"
                ) from None
    return tuple(nets)


_ORIGIN = re.compile(r"^https?://[a-z0-9.-]+(:[0-9]{1,5})?$|^https?://\[[0-9a-f:.]+\](:[0-9]{1,5})?$")


def parse_origins(text: str | None) -> frozenset[str] | None:
    """The ``cors_origins`` setting: ``None`` (off), ``{"*"}``, or exact origins
    (``scheme://host[:port]``, lower case, no path)."""
    items = [o.strip().lower() for o in (text or "").split(",") if o.strip()]
    if not items:
        return None
    if "*" in items:
        if len(items) > 1:
            raise ConfigError("cors_origins: '*' stands alone")
        return frozenset(items)
    for o in items:
        if not _ORIGIN.match(o):
            raise ConfigError(f"cors_origins: {o!r} is not an origin (scheme://host[:port], no path)")
    return frozenset(items)


def redact_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (for logs and ``as_dict``)."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    if ":" not in creds:
        return url
    return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}"


_FIELD_TYPES: dict[str, str] = {}


def _field_kinds() -> dict[str, str]:
    if not _FIELD_TYPES:
        for f in dataclasses.fields(Settings):
            t = str(f.type)
            if "Path" in t:
                kind = "path"
            elif "bool" in t:
                kind = "bool"
            elif t.startswith("int"):
                kind = "int"
            elif t.startswith("float"):
                kind = "float"
            elif "dict" in t:
                kind = "dict"
            else:
                kind = "str"
            _FIELD_TYPES[f.name] = kind
    return _FIELD_TYPES


def _coerce(name: str, value: Any) -> Any:
    kind = _field_kinds().get(name, "str")
    if value is None:
        return None
    try:
        if kind == "path":
            return Path(os.path.expanduser(str(value)))
        if kind == "bool":
            return env_bool(value, name=name)
        if kind == "int":
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        if kind == "float":
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind == "str":
            return str(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name}={value!r} is not a valid {kind}") from exc
    return value


def _flatten_toml(data: Mapping[str, Any], names: set[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    values: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    if "aimixer" in data and isinstance(data["aimixer"], Mapping):
        data = {**{k: v for k, v in data.items() if k != "aimixer"}, **data["aimixer"]}
    for key, val in data.items():
        k = key.replace("-", "_")
        if isinstance(val, Mapping):
            sub = {f"{k}_{kk.replace('-', '_')}": vv for kk, vv in val.items()}
            known = {kk: vv for kk, vv in sub.items() if kk in names}
            if known and len(known) == len(sub):
                values.update(known)
            elif known:
                unknown = sorted(set(sub) - set(known))
                raise ConfigError(f"unknown setting {unknown[0]!r} in [{key}]")
            else:
                extra[key] = dict(val)
        elif k in names:
            values[k] = val
        else:
            raise ConfigError(f"unknown setting {key!r} in the config file")
    return values, extra


def load_settings(
    config_path: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build :class:`Settings` from defaults, TOML, environment and ``overrides``.

    Parameters
    ----------
    config_path : path, optional
        TOML file; defaults to ``$AIMIXER_CONFIG`` when set.
    env : mapping, optional
        Environment to read (default ``os.environ``).
    **overrides
        Explicit values (e.g. from the command line); ``None`` values are ignored.

    Raises
    ------
    ConfigError
        For an unreadable file, an unknown key or a bad value (the message names it).
    """
    env = os.environ if env is None else env
    names = {f.name for f in dataclasses.fields(Settings)} - {"extra"}
    values: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    path = config_path or env.get("AIMIXER_CONFIG")
    if path:
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
        except RecursionError:  # tomllib recurses per nesting level
            raise ConfigError(f"config file {path} nests too deep") from None
        values, extra = _flatten_toml(data, names)
    for name in names:
        key = f"AIMIXER_{name.upper()}"
        if key in env:
            values[name] = env[key]
    dev_sources = [env.get("AUDYN_DEV_MODE"), env.get("AIMIXER_DEV_MODE")]
    if any(v is not None and v.strip().lower() in _TRUE for v in dev_sources):
        values["dev_mode"] = True
    elif "AIMIXER_DEV_MODE" in env or "AUDYN_DEV_MODE" in env:
        values.setdefault("dev_mode", False)
        # an explicit "false" in env only wins over the file if no switch says true
        if all(v is None or v.strip().lower() in _FALSE for v in dev_sources):
            values["dev_mode"] = False
    for k, v in overrides.items():
        if k not in names:
            raise ConfigError(f"unknown setting {k!r}")
        if v is not None:
            values[k] = v
    return Settings(**values, extra=extra)
