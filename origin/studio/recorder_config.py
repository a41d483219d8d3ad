"""Recorder and control configuration bodies, declared once (pydantic) and checked by that declaration.

:class:`RecorderConfig` (``PUT /api/recorders/{id}/config`` and the format fields of a source)
and :class:`ControlConfig` (``POST /api/control/config``) are pydantic models whose fields are
``Annotated[Any, check]``: each :class:`origin.fieldcheck.Check` is both the field's JSON Schema in
``/openapi.json`` and its validator, so the document and the check are one declaration. A bad
value raises :class:`origin.errors.StudioError` from inside the validator (pydantic lets it
through), answered ``400 {"detail": "..."}`` with the messages these bodies have always had
("port=70000 is out of range [1, 65535]", "Unknown config field 'x'", ...). Fields are checked in
declaration order, so the first bad field is the one reported, as before.

Bodies reach these models only after the bounded JSON parse (:func:`origin.studio.common.json_body`:
size, depth and digits limited before parsing).
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, create_model, model_validator

from origin.errors import StudioError
from origin.fieldcheck import Check

__all__ = [
    "RecorderConfig",
    "ControlConfig",
    "validate_recorder_config",
    "channel_names_field",
    "USER_RECORDER_KEYS",
    "AUDYN_RECORDER_KEYS",
    "VOX_KEYS",
    "CONTROL_KEYS",
    "IGNORED_KEYS",
    "BIT_DEPTH_TO_BITS",
    "BITS_TO_BIT_DEPTH",
]

#: ``bit_depth`` (Audyn, integer) <-> ``bits`` (ours): 32 is 32-bit float WAV
BIT_DEPTH_TO_BITS = {16: "16", 24: "24", 32: "32f"}
BITS_TO_BIT_DEPTH = {v: k for k, v in BIT_DEPTH_TO_BITS.items()}


# -- the checks (messages kept from the hand-written validation) ------------------------------------


def _int(key: str, v: Any, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int | float) or (isinstance(v, float) and not v.is_integer()):
        raise StudioError(400, f"{key} must be an integer")
    v = int(v)
    if not lo <= v <= hi:
        raise StudioError(400, f"{key}={v} is out of range [{lo}, {hi}]")
    return v


def _choice(key: str, v: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(v, str) or v not in choices:
        raise StudioError(400, f"{key}={v!r} is not one of {', '.join(choices)}")
    return v


def _ipv4(key: str, v: Any) -> str:
    try:
        addr = ipaddress.IPv4Address(str(v).strip())
    except (ipaddress.AddressValueError, ValueError):
        raise StudioError(400, f"{key}={v!r} is not an IPv4 address") from None
    return str(addr)


def _bounded(key: str, v: Any, lo: float, hi: float, *, nullable: bool = False) -> float | None:
    """A finite number in ``[lo, hi]`` (alert thresholds); one message for every failure."""
    if v is None and nullable:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or not lo <= v <= hi:
        raise StudioError(
            400, f"{key} must be a number in [{lo:g}, {hi:g}]" + (" or null" if nullable else "")
        )
    return float(v)


def _number(key: str, v: Any, lo: float, hi: float) -> float:
    """A number in ``[lo, hi]`` (VOX levels): type and range reported apart."""
    if isinstance(v, bool) or not isinstance(v, int | float) or v != v:
        raise StudioError(400, f"{key} must be a number")
    if not lo <= v <= hi:
        raise StudioError(400, f"{key}={v} is out of range [{lo:g}, {hi:g}]")
    return float(v)


def _bool(key: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise StudioError(400, f"{key} must be true or false")
    return v


def channel_names_field(v: Any) -> list[str] | None:
    """``channel_names``: null or a list of at most 64 labels (1-64 characters, no commas)."""
    if v is None:
        return None
    if not isinstance(v, list) or len(v) > 64:
        raise StudioError(400, "channel_names must be a list of at most 64 strings")
    for name in v:
        if not isinstance(name, str) or not 1 <= len(name.strip()) <= 64 or "," in name:
            raise StudioError(
                400, f"channel_names entry {str(name)[:70]!r} must be 1-64 characters without commas"
            )
    return [n.strip() for n in v]


def _archive_dir(key: str, v: Any) -> str:
    """A folder under the server archive root, returned relative to it."""
    from origin.studio.common import service
    from origin.studio.paths import PathError, relpath, resolve_archive_dir

    root = service().archive_root
    try:
        real = resolve_archive_dir(root, v)
    except PathError as exc:
        raise StudioError(exc.status, exc.detail) from None
    return relpath(root, real)


def _nullable(schema: dict[str, Any], nullable: bool) -> dict[str, Any]:
    if nullable:
        schema["type"] = [schema["type"], "null"]
    return schema


def integer(lo: int, hi: int, *, nullable: bool = False) -> Check:
    """An integer in ``[lo, hi]`` (an integral float is taken); ``nullable``: or null."""

    def check(key: str, v: Any) -> int | None:
        return None if v is None and nullable else _int(key, v, lo, hi)

    return Check(_nullable({"type": "integer", "minimum": lo, "maximum": hi}, nullable), check)


def number(lo: float, hi: float, *, nullable: bool = False) -> Check:
    """A finite number in ``[lo, hi]``; ``nullable``: or null (alert fields)."""

    def check(key: str, v: Any) -> float | None:
        return _bounded(key, v, lo, hi, nullable=nullable)

    return Check(_nullable({"type": "number", "minimum": lo, "maximum": hi}, nullable), check)


def level(lo: float, hi: float) -> Check:
    """A number in ``[lo, hi]`` with the type and the range reported apart (VOX levels)."""
    return Check({"type": "number", "minimum": lo, "maximum": hi}, lambda k, v: _number(k, v, lo, hi))


def one_of(*choices: str) -> Check:
    """One of ``choices`` (strings)."""
    return Check({"type": "string", "enum": list(choices)}, lambda k, v: _choice(k, v, choices))


def ipv4(*, blank_is_null: bool = False) -> Check:
    """An IPv4 address (normalised); ``blank_is_null``: null or ``""`` clears the field."""

    def check(key: str, v: Any) -> str | None:
        return None if blank_is_null and v in (None, "") else _ipv4(key, v)

    schema: dict[str, Any] = {"type": "string", "format": "ipv4"}
    return Check(_nullable(schema, blank_is_null), check)


BOOLEAN = Check({"type": "boolean"}, _bool)
CHANNEL_NAMES = Check(
    {
        "type": ["array", "null"],
        "maxItems": 64,
        "items": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[^,]*$"},
    },
    lambda k, v: channel_names_field(v),
)
ARCHIVE_DIR = Check({"type": "string", "description": "folder under the server archive root"}, _archive_dir)


def _source_id(key: str, v: Any) -> str | None:
    if v is not None and (not isinstance(v, str) or not 0 < len(v) <= 64):
        raise StudioError(400, "source_id must be a source id or null")
    return v


# Accepted and translated or dropped before the fields are read (RecorderConfig._audyn): their
# checks are not reached, their schemas document them.
_ACCEPTED = Check({}, lambda k, v: v)


def _described(check: Check, description: str) -> Check:
    return Check({**check.schema, "description": description}, check.fn)


# -- the models -------------------------------------------------------------------------------------


class RecorderConfig(BaseModel):
    """A (partial) recorder configuration: every field optional; unknown fields are a 400.

    Audyn's fields are accepted and translated: ``bit_depth`` (-> ``bits``; 32 is float),
    ``source_type`` (``aes67`` only), ``source_id`` (applies a configured source),
    ``pipewire_target`` (ignored: ``source_type`` ``pipewire`` is a 400).
    """

    model_config = ConfigDict(extra="forbid")

    # the declaration order is the checking order (the first bad field is the one reported)
    source_type: Annotated[Any, _described(Check({"enum": ["aes67"]}, lambda k, v: v), "AES67/RTP only")] = (
        None
    )
    bit_depth: Annotated[
        Any,
        Check({"enum": [16, 24, 32], "description": "Audyn's name for bits; 32 is float"}, lambda k, v: v),
    ] = None
    source_id: Annotated[
        Any, Check({"type": ["string", "null"], "description": "apply a configured source"}, _source_id)
    ] = None
    flac_compression: Annotated[Any, integer(0, 8)] = None
    vox_enabled: Annotated[Any, BOOLEAN] = None
    vox_threshold_db: Annotated[Any, level(-100, 0)] = None
    vox_release_db: Annotated[Any, _described(level(-100, 0), "0: automatic (threshold - 5 dB)")] = None
    vox_detection_ms: Annotated[Any, integer(0, 10000)] = None
    vox_hangover_ms: Annotated[Any, integer(0, 600000)] = None
    vox_preroll_ms: Annotated[Any, integer(0, 10000)] = None
    vox_level_mode: Annotated[Any, one_of("rms", "peak", "any")] = None
    multicast_addr: Annotated[Any, _described(ipv4(), "IPv4 multicast group")] = None
    interface: Annotated[Any, ipv4(blank_is_null=True)] = None
    port: Annotated[Any, integer(1, 65535)] = None
    format: Annotated[Any, one_of("wav", "opus", "flac")] = None
    sample_rate: Annotated[Any, integer(8000, 192000)] = None
    channels: Annotated[Any, integer(1, 64)] = None
    stream_channels: Annotated[Any, integer(1, 64, nullable=True)] = None
    channel_offset: Annotated[Any, integer(0, 63)] = None
    encoding: Annotated[Any, one_of("L16", "L24")] = None
    bitrate: Annotated[Any, integer(6000, 512000)] = None
    archive_layout: Annotated[Any, one_of("flat", "hierarchy", "combo", "dailydir", "accurate")] = None
    archive_period: Annotated[Any, integer(10, 86400)] = None
    archive_clock: Annotated[Any, one_of("localtime", "utc")] = None
    payload_type: Annotated[Any, integer(0, 127)] = None
    ptime_us: Annotated[Any, integer(125, 4000)] = None
    bits: Annotated[Any, one_of("16", "24", "32f")] = None
    redundant_multicast_addr: Annotated[Any, ipv4(blank_is_null=True)] = None
    redundant_port: Annotated[Any, integer(1, 65535, nullable=True)] = None
    redundant_interface: Annotated[Any, ipv4(blank_is_null=True)] = None
    channel_names: Annotated[Any, CHANNEL_NAMES] = None
    clock_source: Annotated[Any, one_of("arrival", "rtp")] = None
    # alert thresholds (extension): see origin/recorder/alerts.py
    silence_threshold_db: Annotated[Any, _described(number(-90.0, 0.0), "alert: silence level")] = None
    silence_seconds: Annotated[Any, _described(number(0.5, 3600.0, nullable=True), "alert: null = off")] = (
        None
    )
    silence_vad: Annotated[Any, _described(BOOLEAN, "alert: speech-aware silence")] = None
    loudness_limit_lufs: Annotated[
        Any, _described(number(-70.0, 0.0, nullable=True), "alert: short-term limit; null = off")
    ] = None
    loudness_seconds: Annotated[Any, _described(integer(1, 3600), "alert: seconds above the limit")] = None
    stream_lost_seconds: Annotated[Any, _described(number(0.2, 3600.0), "alert: seconds without packets")] = (
        None
    )
    archive_root: Annotated[Any, ARCHIVE_DIR] = None
    pipewire_target: Annotated[Any, _described(_ACCEPTED, "ignored (AES67 only)")] = None

    @model_validator(mode="before")
    @classmethod
    def _audyn(cls, body: Any) -> Any:
        """Unknown fields, then Audyn's ``source_type`` and ``bit_depth`` (translated to ``bits``)."""
        if not isinstance(body, dict):
            return body
        _no_unknown(body, cls.model_fields)
        if "source_type" in body and body["source_type"] not in (None, "aes67"):
            raise StudioError(
                400,
                f"source_type={body['source_type']!r} is not supported: this server records AES67/RTP "
                "streams only (source_type aes67)",
            )
        if "bit_depth" not in body:
            return body
        bd = _int("bit_depth", body["bit_depth"], 16, 32)
        if bd not in BIT_DEPTH_TO_BITS:
            raise StudioError(400, f"bit_depth={bd} is not one of 16, 24, 32")
        if "bits" in body and body["bits"] != BIT_DEPTH_TO_BITS[bd]:
            raise StudioError(400, f"bit_depth={bd} contradicts bits={body['bits']!r}")
        body = {k: v for k, v in body.items() if k != "bit_depth"}
        body["bits"] = BIT_DEPTH_TO_BITS[bd]
        return body

    def cleaned(self) -> dict[str, Any]:
        """The fields the body set, checked and normalised (Audyn's translated, ignored dropped)."""
        return {k: getattr(self, k) for k in self.model_fields_set if k not in _DROPPED}


def _no_unknown(body: Iterable[str], known: Iterable[str]) -> None:
    allowed = set(known)
    for key in body:
        if key not in allowed:
            raise StudioError(400, f"Unknown config field {key!r}")


_DROPPED = frozenset({"source_type", "pipewire_target", "bit_depth"})

#: Audyn's recorder-config fields that we accept and translate (see :class:`RecorderConfig`)
AUDYN_RECORDER_KEYS = ("bit_depth", "source_type", "source_id", "pipewire_target")
#: voice/level-activated recording (VOX) fields, Audyn's names; off unless ``vox_enabled`` is true
VOX_KEYS = tuple(k for k in RecorderConfig.model_fields if k.startswith("vox_"))
#: recorder config fields a client may set (ours)
USER_RECORDER_KEYS = tuple(k for k in RecorderConfig.model_fields if k not in AUDYN_RECORDER_KEYS)


def validate_recorder_config(body: dict[str, Any], *, allow: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Validate a (partial) recorder config through :class:`RecorderConfig`; returns the cleaned
    fields. ``allow`` narrows the accepted fields. ``archive_root`` is resolved against the server
    archive root (must be a subfolder) and returned *relative* to it."""
    if allow is not None:
        _no_unknown(body, allow)
    return RecorderConfig.model_validate(body).cleaned()


# -- the control recorder -----------------------------------------------------------------------------

#: the control recorder's own fields (Audyn's single-capture ``/api/control/config``)
CONTROL_KEYS = (
    "source_type",
    "multicast_addr",
    "port",
    "sample_rate",
    "channels",
    "format",
    "bitrate",
    "archive_root",
    "archive_layout",
    "archive_period",
    "archive_clock",
    "encoding",
    "stream_channels",
    "channel_offset",
    "interface",
    "redundant_multicast_addr",
    "redundant_port",
    "redundant_interface",
    "channel_names",
    "clock_source",
)

#: Audyn's appliance fields: accepted, not applied (the answer lists them with this reason)
IGNORED_KEYS = {
    "ptp_interface": "PTP runs outside the origin (linuxptp); not configurable here",
    "aes67_interface": "the multicast interface is set per recorder (interface, an IPv4 address)",
    "vox_facility_enabled": "VOX is configured per recorder (vox_enabled and vox_* fields)",
    "local_playback_enabled": "local-folder playback is a browser feature; nothing to store",
}


class _ControlBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _known(cls, body: Any) -> Any:
        if isinstance(body, dict):
            unknown = sorted(set(body) - set(cls.model_fields))
            if unknown:
                raise StudioError(400, f"Unknown config field {unknown[0]!r}")
            if body.get("source_type", "aes67") != "aes67":
                raise StudioError(400, f"source_type={body['source_type']!r} is not supported (aes67)")
        return body

    def cleaned(self) -> dict[str, Any]:
        """The recorder fields the body set, checked and normalised (appliance fields dropped)."""
        return {k: getattr(self, k) for k in self.model_fields_set if k in _CONTROL_APPLIED}


_CONTROL_APPLIED = frozenset(CONTROL_KEYS) - {"source_type"}

#: ``POST /api/control/config``: the :class:`RecorderConfig` fields named in :data:`CONTROL_KEYS`
#: (the same declarations, checked in the same order) plus Audyn's appliance fields
#: (:data:`IGNORED_KEYS`), accepted and not applied.
_control_fields: dict[str, Any] = {
    k: (Any, info) for k, info in RecorderConfig.model_fields.items() if k in CONTROL_KEYS
}
for _key, _reason in IGNORED_KEYS.items():
    _control_fields[_key] = (Annotated[Any, _described(_ACCEPTED, f"accepted, not applied: {_reason}")], None)

ControlConfig = create_model(
    "ControlConfig",
    __base__=_ControlBase,
    __doc__="The control recorder's settings (Audyn's single-capture ``/api/control/config``): a "
    "subset of RecorderConfig, plus Audyn's appliance fields, accepted and not applied.",
    **_control_fields,
)
