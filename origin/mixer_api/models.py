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
(:class:`WebhookRequest`, whose check is the webhook engine's own), ``POST /extract-features``
(:class:`ExtractFeaturesRequest`: the DSP's ranges, its ``ParameterError`` messages),
``POST /classify-genre`` (:class:`ClassifyGenreRequest`: ``features`` checked by
:func:`aimixer_dsp.genre.parse_features`), ``PUT /config`` (:class:`ServerConfigUpdate`) and
``/ws``'s ``config`` message (:class:`ConfigMessage`). The two analysis routes also take an
``application/octet-stream`` body: its parsed samples and the query's fields go through the same
model. ``/stream-audio`` takes raw float32 (headers and query only).
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

import numpy as np
from aimixer_dsp.errors import ParameterError
from aimixer_dsp.features import COEFF_RANGE, FFT_SIZE_RANGE, FILTER_RANGE, HOP_RANGE, WINDOWS
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
    "ExtractFeaturesRequest",
    "EXTRACT_SETTINGS",
    "ClassifyGenreRequest",
    "CLASSIFY_SETTINGS",
    "ServerConfigUpdate",
    "ConfigMessage",
    "FIXED_AUDIO",
    "prefix_param_error",
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


# -- /extract-features, /classify-genre --------------------------------------------------------------


def _analysis_audio(name: str, v: Any) -> Any:
    """A JSON array of samples (:func:`~origin.mixer_api.common.parse_audio`, any length), or an
    ``application/octet-stream`` body already parsed (an ndarray: no JSON body yields one)."""
    return v if isinstance(v, np.ndarray) else parse_audio(v, field=name, exact=None)


def _audio_present(name: str, v: Any) -> Any:
    arr = _analysis_audio(name, v)
    if arr.shape[0] == 0:
        raise APIError(400, "INVALID_BUFFER_SIZE", "audioBuffer is empty", {"field": "audioBuffer"})
    return arr


def _audio_optional(name: str, v: Any) -> Any:
    return None if v is None else _analysis_audio(name, v)


_AUDIO_DOC = {"type": "array", "items": {"type": "number"}}


def _int_setting(lo: int, hi: int, *, power_of_two: bool = False, doc: str = "") -> Check:
    """An integer MFCC setting: ``INVALID_REQUEST`` for a non-integer, the DSP's own
    ``ParameterError`` (``INVALID_PARAMETER``, same message as :mod:`aimixer_dsp.features`) out of
    range; null is the default."""
    schema: dict[str, Any] = {"type": "integer", "minimum": lo, "maximum": hi}
    if power_of_two:
        schema = {"type": "integer", "enum": [1 << k for k in range(lo.bit_length() - 1, hi.bit_length())]}
    if doc:
        schema["description"] = doc

    def fn(name: str, v: Any) -> Any:
        if v is None:
            return None
        v = require({name: v}, name, int)
        if not lo <= v <= hi:
            raise ParameterError(name, v, (lo, hi))
        if power_of_two and v & (v - 1):
            raise ParameterError(
                name, v, (lo, hi), message=f"{name}={v!r} must be a power of two in [{lo}, {hi}]"
            )
        return v

    return Check(schema, fn)


def _window_type(name: str, v: Any) -> Any:
    if v is None:
        return None
    v = require({name: v}, name, str)
    if v.lower() not in WINDOWS:
        raise ParameterError(name, v, WINDOWS)
    return v


class ExtractFeaturesRequest(BaseModel):
    """``POST /extract-features``: mono 48 kHz audio and the MFCC settings (null: the default).
    Another field is refused (``sampleRate`` included: silently ignoring it would hide a client's
    wrong assumption). ``numCoefficients`` is also at most ``numFilters`` (the DSP's check)."""

    model_config = ConfigDict(
        extra="ignore",
        validate_default=True,
        json_schema_extra={"required": ["audioBuffer"], "additionalProperties": False},
    )

    audioBuffer: Annotated[
        Any,
        Check(
            {
                **_AUDIO_DOC,
                "minItems": 1,
                "description": "mono 48 kHz samples; at most analysis_max_seconds (default 120 s)",
            },
            _audio_present,
        ),
    ] = None
    numCoefficients: Annotated[Any, _int_setting(*COEFF_RANGE, doc="at most numFilters")] = 13
    numFilters: Annotated[Any, _int_setting(*FILTER_RANGE)] = 40
    fftSize: Annotated[Any, _int_setting(*FFT_SIZE_RANGE, power_of_two=True)] = 2048
    hopSize: Annotated[Any, _int_setting(*HOP_RANGE)] = 512
    windowType: Annotated[
        Any, Check({"type": "string", "enum": list(WINDOWS), "description": "any case"}, _window_type)
    ] = "hann"

    @model_validator(mode="before")
    @classmethod
    def _known(cls, body: Any) -> Any:
        if isinstance(body, dict):
            unknown = sorted(set(body) - set(cls.model_fields))
            if unknown:
                _analysis_audio("audioBuffer", body.get("audioBuffer"))  # a bad buffer is reported first
                names = ", ".join(cls.model_fields)
                raise APIError(
                    400,
                    "INVALID_REQUEST",
                    f"{unknown[0]} is not a field of /extract-features (audio is 48 kHz mono; fields: {names})",
                    {"field": unknown[0]},
                )
        return body

    def settings(self) -> dict[str, Any]:
        """The MFCC settings given (keyword arguments of :func:`aimixer_dsp.features.extract_features`)."""
        return {k: v for k in EXTRACT_SETTINGS if (v := getattr(self, k)) is not None}


#: ``/extract-features``'s MFCC settings, in the order they are checked
EXTRACT_SETTINGS = ("numCoefficients", "numFilters", "fftSize", "hopSize", "windowType")


def _declared(what: int | str) -> Check:
    """A declared MFCC setting of ``/classify-genre``: checked with the features (only for an
    MFCC matrix: :func:`aimixer_dsp.genre.check_feature_settings`)."""
    return Check(
        {
            "type": "string" if isinstance(what, str) else "integer",
            "description": f"declared MFCC setting; only {what} is supported",
        },
        lambda k, v: v,
    )


def _classify_input(name: str, v: Any, data: dict[str, Any]) -> Any:
    """``features`` -> ``(input kind, model input vectors)``: :func:`aimixer_dsp.genre.parse_features`
    with the declared settings; absent with an ``audioBuffer``: ``("audioBuffer", None)`` (the
    server extracts the matrix), which must hold >= 3 s (and a declared ``sampleRate`` of 48000)."""
    from aimixer_dsp.genre import MFCC_SPEC, check_feature_settings, parse_features

    settings = {k: data[k] for k in CLASSIFY_SETTINGS if data.get(k) is not None}
    samples = data.get("audioBuffer")
    if v is None and samples is not None:
        need = (int(MFCC_SPEC["minFrames"]) - 1) * int(MFCC_SPEC["hopSize"])
        n = samples.shape[0]
        if n < need:
            raise APIError(
                400,
                "INVALID_BUFFER_SIZE",
                f"audioBuffer has {n} samples ({n / SAMPLE_RATE:.3f} s); "
                f"classification needs at least {need} ({need / SAMPLE_RATE:g} s)",
                {"field": "audioBuffer", "min": need},
            )
        if settings.get("sampleRate") not in (None, SAMPLE_RATE):
            check_feature_settings({"sampleRate": settings["sampleRate"]})
        return "audioBuffer", None
    return parse_features(v, settings)


#: ``/classify-genre``'s declared MFCC settings
CLASSIFY_SETTINGS = ("numFilters", "fftSize", "hopSize", "sampleRate", "windowType")


class ClassifyGenreRequest(BaseModel):
    """``POST /classify-genre``: the MFCC matrix of ``/extract-features`` (or window vectors, or,
    as an extension, raw audio instead of features). Other fields are ignored."""

    # ``features`` is checked by aimixer_dsp.genre.parse_features (the Python the browser SDK
    # runs) and becomes (input kind, model input vectors)

    model_config = ConfigDict(extra="ignore", validate_default=True)

    audioBuffer: Annotated[
        Any,
        Check(
            {**_AUDIO_DOC, "description": "extension: raw 48 kHz audio (>= 3 s) instead of features"},
            _audio_optional,
        ),
    ] = None
    returnProbabilities: Annotated[
        Any,
        Check(
            {"type": "boolean", "default": False},
            lambda k, v: require({k: v}, k, bool, optional=True) or False,
        ),
    ] = False
    numFilters: Annotated[Any, _declared(40)] = None
    fftSize: Annotated[Any, _declared(2048)] = None
    hopSize: Annotated[Any, _declared(512)] = None
    sampleRate: Annotated[Any, _declared(48000)] = None
    windowType: Annotated[Any, _declared("hann")] = None
    features: Annotated[
        Any,
        Check(
            {
                "type": "array",
                "minItems": 1,
                "items": {"type": "array", "items": {"type": "number"}},
                "description": "the MFCC matrix of /extract-features ([frames][coefficients], default "
                "settings, >= 282 frames = 3 s), or rows of 48-value window vectors "
                "(aimixer_dsp.genre.feature_vector)",
            },
            _classify_input,
            with_data=True,
        ),
    ] = None


# -- PUT /config, /ws config -----------------------------------------------------------------------


def prefix_param_error(exc: Exception, prefix: str = "dsp") -> APIError:
    """A DSP ``ParameterError`` about a ``config`` field, named under ``prefix`` (``dsp.gain``)."""
    name = getattr(exc, "name", None)
    msg = str(exc)
    details = dict(getattr(exc, "details", {}) or {})
    if name:
        details["parameter"] = f"{prefix}.{name}"
        msg = msg.replace(name, f"{prefix}.{name}", 1) if not msg.startswith(f"{prefix}.") else msg
    return APIError(400, getattr(exc, "code", "INVALID_PARAMETER"), msg, details)


#: the read-only ``audio`` section of ``GET /config``
FIXED_AUDIO = {"sampleRate": SAMPLE_RATE, "frameSize": FRAME_SIZE, "bitDepth": 32}


def _fixed_audio(name: str, v: Any) -> Any:
    if v is None:
        return None
    if not isinstance(v, dict):
        raise APIError(400, "INVALID_PARAMETER", "audio must be an object", {"parameter": "audio"})
    for k, x in v.items():
        if k not in FIXED_AUDIO:
            raise APIError(
                400, "INVALID_PARAMETER", f"audio.{k} is not a setting", {"parameter": f"audio.{k}"}
            )
        if x != FIXED_AUDIO[k] or isinstance(x, bool):
            code = "INVALID_SAMPLE_RATE" if k == "sampleRate" else "INVALID_PARAMETER"
            raise APIError(
                400,
                code,
                f"audio.{k}={x!r} is fixed at {FIXED_AUDIO[k]}",
                {"parameter": f"audio.{k}", "value": x if isinstance(x, int | float | str) else None},
            )
    return v


def _read_only_ai(name: str, v: Any) -> Any:
    if v is not None and v != {}:
        raise APIError(400, "INVALID_PARAMETER", "ai settings are read-only", {"parameter": "ai"})
    return v


def _dsp_update(name: str, v: Any) -> Any:
    """The partial ``dsp`` object, checked alone (the merge with the stored overrides is checked
    again as a whole when it is applied)."""
    from aimixer_dsp.presets import validate_config

    if v is None:
        return None
    if not isinstance(v, dict):
        raise APIError(400, "INVALID_PARAMETER", "dsp must be an object", {"parameter": "dsp"})
    try:
        validate_config(v)
    except DSPError as exc:
        raise prefix_param_error(exc) from None
    return v


class ServerConfigUpdate(BaseModel):
    """``PUT /config``: a partial ``dsp`` object, deep-merged into the stored overrides; ``audio``
    and ``ai`` are read-only (only their current values, or ``{}``, are accepted)."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"additionalProperties": False})

    audio: Annotated[
        Any,
        Check(
            {
                "type": ["object", "null"],
                "additionalProperties": False,
                "properties": {k: {"const": v} for k, v in FIXED_AUDIO.items()},
            },
            _fixed_audio,
        ),
    ] = None
    ai: Annotated[
        Any,
        Check({"type": ["object", "null"], "maxProperties": 0, "description": "read-only"}, _read_only_ai),
    ] = None
    dsp: Annotated[Any, Check(CONFIG_SCHEMA, _dsp_update)] = None

    @model_validator(mode="before")
    @classmethod
    def _sections(cls, body: Any) -> Any:
        if isinstance(body, dict):
            unknown = sorted(set(body) - set(cls.model_fields))
            if unknown:
                raise APIError(
                    400,
                    "INVALID_PARAMETER",
                    f"{unknown[0]} is not a configuration section (use dsp; audio and ai are read-only)",
                    {"parameter": unknown[0]},
                )
        return body


class ConfigMessage(BaseModel):
    """``/ws``'s ``config`` message data: a config (the ``/process-audio`` config fields), bare or
    as ``{"config": {...}}``; merged into the connection's config."""

    config: Annotated[Any, MIXER_CONFIG] = None

    @model_validator(mode="before")
    @classmethod
    def _unwrap(cls, data: Any) -> Any:
        inner = data.get("config") if isinstance(data, dict) else None
        return {"config": inner if isinstance(inner, dict) else data}
