"""JSON Schemas of the mixer API bodies (registered as OpenAPI components)."""

from __future__ import annotations

from aimixer_dsp import GENRES
from aimixer_dsp.presets import config_json_schema

from origin.openapi import schema

__all__ = ["CONFIG_SCHEMA", "METRICS_SCHEMA", "PROCESS_RESPONSE", "GENRE_ENUM", "APPLIED_SCHEMA"]

GENRE_ENUM = list(GENRES)

#: the ``config`` object, derived from the DSP stages' parameter tables (aimixer_dsp.presets)
CONFIG_SCHEMA = schema(
    "MixerConfig",
    {
        "type": "object",
        "description": "DSP settings; every field optional. Out-of-range values get 400 INVALID_PARAMETER.",
        "properties": config_json_schema(),
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
