"""Request bodies of the mixer API declared once as pydantic models (validation + OpenAPI schema).

A model's validators raise :class:`origin.errors.APIError` themselves (pydantic lets any
exception other than ``ValueError``/``AssertionError`` through), so a bad body gets the mixer
shape ``{"error": {"code", "message", "details", ...}}`` with the same code, message and
``details.field`` as the hand-written checks these models replace. Every field runs its
validator even when absent (``validate_default``), so "X is required" is reported in field
order, as before.

Converted so far: ``POST /process-audio``'s JSON body and ``/ws``'s ``process`` message
(:class:`ProcessAudioRequest`, :class:`FrameRequest`: each field an
:class:`origin.fieldcheck.Check` whose check is the tuned parser of :mod:`origin.mixer_api.common`),
``POST /mobile/session`` (:class:`MobileSessionRequest`) and ``POST /webhooks``
(:class:`WebhookRequest`, whose check is the webhook engine's own). ``/stream-audio`` takes raw
float32 (headers and query only); ``/extract-features``, ``/classify-genre`` and ``PUT /config``
keep their JSON Schemas in :mod:`origin.mixer_api.schemas` beside their parsing.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from origin.errors import APIError
from origin.fieldcheck import Check
from origin.webhooks import EVENTS, WebhookEngine, WebhookError

from .common import FRAME_SIZE, SAMPLE_RATE, DSPError, parse_audio, parse_config, require, session_id_value
from .schemas import CONFIG_SCHEMA

__all__ = [
    "parse_model",
    "FrameRequest",
    "ProcessAudioRequest",
    "StreamRequest",
    "MobileSessionRequest",
    "MobileCapabilities",
    "WebhookRequest",
]

M = TypeVar("M", bound=BaseModel)


def parse_model(model: type[M], data: Any) -> M:
    """``data`` (a parsed JSON object) validated into ``model``; a failure that no validator turned
    into an :class:`APIError` is ``400 INVALID_REQUEST`` naming the field, except a DSP
    ``ParameterError`` (``INVALID_PARAMETER``), which is raised as itself."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, DSPError):  # a ValueError to pydantic: the DSP's own 400 (code, details)
            raise cause from None
        field = ".".join(str(p) for p in err.get("loc", ()))
        raise APIError(400, "INVALID_REQUEST", f"{field}: {err.get('msg')}", {"field": field}) from None


# -- frames ------------------------------------------------------------------------------------------

#: a 960-sample frame in JSON (the check: :func:`~origin.mixer_api.common.parse_audio`, C-speed
#: type and finiteness scans; ``INVALID_BUFFER_SIZE`` / ``INVALID_AUDIO`` / ``INVALID_REQUEST``)
AUDIO_FRAME = Check(
    {
        "type": "array",
        "items": {"type": "number"},
        "minItems": FRAME_SIZE,
        "maxItems": FRAME_SIZE,
        "description": f"{FRAME_SIZE} float32 samples at {SAMPLE_RATE // 1000} kHz",
    },
    lambda name, v: parse_audio(v, field=name, exact=FRAME_SIZE),
)
#: the DSP ``config`` (the check: :func:`aimixer_dsp.presets.validate_config`, ``INVALID_PARAMETER``)
MIXER_CONFIG = Check(CONFIG_SCHEMA, lambda name, v: parse_config(v, field=name))
SESSION_ID = Check(
    {"type": "string", "pattern": "^[A-Za-z0-9._:\\-]{1,128}$"},
    lambda name, v: session_id_value(v, field=name),
)


class FrameRequest(BaseModel):
    """One frame and an optional config: ``/ws``'s ``process`` message data. Other fields are
    ignored. ``audioBuffer`` is an ndarray (float64) once validated."""

    model_config = ConfigDict(
        extra="ignore", validate_default=True, json_schema_extra={"required": ["audioBuffer"]}
    )

    audioBuffer: Annotated[Any, AUDIO_FRAME] = None
    config: Annotated[Any, MIXER_CONFIG] = None


def _metrics_every(name: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 100000:
        raise APIError(
            400, "INVALID_REQUEST", f"{name} must be an integer >= 0 (0 = no metrics)", {"field": name}
        )
    return v


class StreamRequest(BaseModel):
    """``/ws``'s ``stream`` message data: a config for the stream, and how often (in frames) an
    ``audio`` metrics message follows a processed frame (``0``: never). Other fields are ignored."""

    model_config = ConfigDict(extra="ignore")

    config: Annotated[Any, MIXER_CONFIG] = None
    metricsEvery: Annotated[
        Any, Check({"type": "integer", "minimum": 0, "maximum": 100000}, _metrics_every)
    ] = 1


class ProcessAudioRequest(FrameRequest):
    """``POST /process-audio`` (JSON): a frame, a config, and ``sessionId`` to keep state across
    calls (else ``X-Session-Id`` or ``?sessionId=``; a config may also come in ``X-Config``)."""

    sessionId: Annotated[Any, SESSION_ID] = None


# -- mobile, webhooks --------------------------------------------------------------------------------


def _str_field(name: str, max_len: int, v: Any) -> str:
    v = require({name: v}, name, str)
    if not v.strip() or len(v) > max_len:
        raise APIError(400, "INVALID_REQUEST", f"{name} must be 1-{max_len} characters", {"field": name})
    return v


class MobileCapabilities(BaseModel):
    """What the device's audio path delivers; the session's ``config`` tells it how to convert."""

    model_config = ConfigDict(extra="allow", validate_default=True)

    sampleRate: Any = Field(
        SAMPLE_RATE,
        json_schema_extra={"type": "number", "description": "must be 48000 (resample on the device)"},
    )
    channels: Any = Field(1, json_schema_extra={"type": "integer", "enum": [1, 2]})
    bitDepth: Any = Field(32, json_schema_extra={"type": "integer", "enum": [16, 24, 32]})

    @field_validator("sampleRate")
    @classmethod
    def _rate(cls, rate: Any) -> Any:
        if isinstance(rate, bool) or not isinstance(rate, int | float) or rate != SAMPLE_RATE:
            raise APIError(
                400,
                "INVALID_SAMPLE_RATE",
                f"Sample rate must be 48000 Hz; capabilities.sampleRate={rate!r} (resample on the device)",
                {"field": "capabilities.sampleRate", "expected": SAMPLE_RATE},
            )
        return rate

    @field_validator("channels")
    @classmethod
    def _channels(cls, channels: Any) -> Any:
        if isinstance(channels, bool) or channels not in (1, 2):
            raise APIError(
                400,
                "INVALID_REQUEST",
                f"capabilities.channels={channels!r} must be 1 or 2",
                {"field": "capabilities.channels"},
            )
        return channels

    @field_validator("bitDepth")
    @classmethod
    def _bits(cls, bits: Any) -> Any:
        if isinstance(bits, bool) or bits not in (16, 24, 32):
            raise APIError(
                400,
                "INVALID_REQUEST",
                f"capabilities.bitDepth={bits!r} must be 16, 24 or 32",
                {"field": "capabilities.bitDepth"},
            )
        return bits


class MobileSessionRequest(BaseModel):
    """``POST /mobile/session``: the device and SDK asking for a session token."""

    model_config = ConfigDict(
        extra="allow",
        validate_default=True,
        json_schema_extra={"required": ["deviceId", "platform", "sdkVersion"]},
    )

    deviceId: Any = Field(None, json_schema_extra={"type": "string", "minLength": 1, "maxLength": 128})
    platform: Any = Field(None, json_schema_extra={"enum": ["ios", "android"]})
    sdkVersion: Any = Field(None, json_schema_extra={"type": "string", "minLength": 1, "maxLength": 32})
    capabilities: MobileCapabilities | None = None

    @field_validator("deviceId")
    @classmethod
    def _device(cls, v: Any) -> str:
        return _str_field("deviceId", 128, v)

    @field_validator("platform")
    @classmethod
    def _platform(cls, v: Any) -> str:
        platform = require({"platform": v}, "platform", str)
        if platform not in ("ios", "android"):
            raise APIError(
                400,
                "INVALID_REQUEST",
                f"platform={platform!r} is not one of ['ios', 'android']",
                {"field": "platform"},
            )
        return platform

    @field_validator("sdkVersion")
    @classmethod
    def _sdk(cls, v: Any) -> str:
        return _str_field("sdkVersion", 32, v)

    @field_validator("capabilities", mode="before")
    @classmethod
    def _caps(cls, v: Any) -> Any:
        return require({"capabilities": v}, "capabilities", dict, optional=True) or {}


class WebhookRequest(BaseModel):
    """``POST /webhooks``: a URL to call on ``events`` (default: all), signed with ``secret``
    (default: generated). Checked by :meth:`origin.webhooks.WebhookEngine.validate`."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"required": ["url"]})

    url: Any = Field(None, json_schema_extra={"type": "string", "format": "uri", "maxLength": 2048})
    events: Any = Field(
        None, json_schema_extra={"type": "array", "items": {"enum": list(EVENTS)}, "minItems": 1}
    )
    secret: Any = Field(None, json_schema_extra={"type": "string", "minLength": 8, "maxLength": 256})

    @model_validator(mode="after")
    def _check(self) -> WebhookRequest:
        try:
            self.url, self.events, self.secret = WebhookEngine.validate(self.url, self.events, self.secret)
        except WebhookError as exc:
            raise APIError(400, "INVALID_REQUEST", str(exc), {"field": exc.field}) from None
        return self
