"""JSON Schemas of the mixer API bodies (registered as OpenAPI components)."""

from __future__ import annotations

from origin.openapi import schema

__all__ = ["CONFIG_SCHEMA", "METRICS_SCHEMA", "PROCESS_RESPONSE", "GENRE_ENUM", "APPLIED_SCHEMA"]

GENRE_ENUM = ["speech", "rock", "jazz", "electronic", "classical"]


def _num(lo: float, hi: float, desc: str) -> dict:
    return {"type": "number", "minimum": lo, "maximum": hi, "description": desc}


CONFIG_SCHEMA = schema(
    "MixerConfig",
    {
        "type": "object",
        "description": "DSP settings; every field optional. Out-of-range values get 400 INVALID_PARAMETER.",
        "properties": {
            "genre": {"type": ["string", "null"], "enum": ["auto", *GENRE_ENUM, None]},
            "bypass": {"type": "boolean"},
            "gain": _num(-20, 20, "input gain, dB"),
            "noiseGate": {
                "type": "object",
                "properties": {"enabled": {"type": "boolean"}, "threshold": _num(-60, 0, "dB")},
            },
            "compressor": {
                "type": "object",
                "properties": {
                    "enabled": {"type": "boolean"},
                    "ratio": _num(1, 20, "ratio : 1"),
                    "threshold": _num(-40, 0, "dB"),
                    "attack": _num(0.1, 100, "ms"),
                    "release": _num(10, 1000, "ms"),
                },
            },
            "eq": {
                "type": "object",
                "properties": {
                    "enabled": {"type": "boolean"},
                    "low": _num(-12, 12, "dB"),
                    "mid": _num(-12, 12, "dB"),
                    "high": _num(-12, 12, "dB"),
                },
            },
            "limiter": {
                "type": "object",
                "properties": {"enabled": {"type": "boolean"}, "ceiling": _num(-3, 0, "dB")},
            },
        },
    },
)

_NUM_OR_NULL = {"type": ["number", "null"]}

METRICS_SCHEMA = schema(
    "Metrics",
    {
        "type": "object",
        "description": "Levels of the processed output; -inf (silence, too little audio) is null.",
        "properties": {
            "peak": _NUM_OR_NULL,
            "rms": _NUM_OR_NULL,
            "lufs": _NUM_OR_NULL,
            "momentaryLufs": _NUM_OR_NULL,
            "shortTermLufs": _NUM_OR_NULL,
            "truePeak": {
                "type": ["number", "null"],
                "description": "dBTP of this frame (ITU-R BS.1770-4 Annex 2, 4x over-sampling); extension",
            },
            "truePeakMax": {
                "type": ["number", "null"],
                "description": "dBTP, maximum of the session; extension",
            },
            "genre": {"type": ["string", "null"]},
            "confidence": {"type": ["number", "null"]},
            "processingTime": {"type": "number"},
            "latencySamples": {"type": "integer"},
        },
    },
)

APPLIED_SCHEMA = schema("AppliedSettings", {"type": "object"})

PROCESS_RESPONSE = schema(
    "ProcessAudioResponse",
    {
        "type": "object",
        "required": ["processedBuffer", "metrics", "appliedSettings"],
        "properties": {
            "processedBuffer": {"type": "array", "items": {"type": ["number", "null"]}},
            "metrics": METRICS_SCHEMA,
            "appliedSettings": APPLIED_SCHEMA,
            "sessionId": {"type": "string"},
        },
    },
)
