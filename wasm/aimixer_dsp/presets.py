"""Settings, genre presets and the config merge rules.

Settings are API-shaped dicts (the mixer API's ``config`` object, plus a few extension fields):
``gain`` (dB), ``noiseGate``, ``compressor``, ``eq``, ``limiter`` and ``bypass``.
Units: dB / dBFS for levels and gains, ms for times.

Merge rule: ``resolve_settings(config, genre)`` = ``DEFAULT_SETTINGS`` <- ``GENRE_PRESETS[genre]``
<- user ``config``; the user's fields override the preset **field by field** (a user
``{"compressor": {"ratio": 6}}`` keeps the preset's compressor threshold, attack, ...). A
``None`` value in a config means "not set".

Fields and ranges (``*`` = extension beyond the API spec)::

    gain                      -20..20 dB                       default 0
    noiseGate.enabled         bool                             true
    noiseGate.threshold       -60..0 dBFS                      -50
    noiseGate.attack*         0.1..100 ms                      1
    noiseGate.hold*           0..1000 ms                       50
    noiseGate.release*        1..5000 ms                       100
    noiseGate.range*          -120..0 dB                       -80
    compressor.enabled        bool                             true
    compressor.ratio          1..20                            4
    compressor.threshold      -40..0 dBFS                      -20
    compressor.attack         0.1..100 ms                      10
    compressor.release        10..1000 ms                      100
    compressor.knee*          0..24 dB (0 = hard)              0
    compressor.makeup*        -12..24 dB                       0
    eq.enabled                bool                             true
    eq.low / eq.mid / eq.high -12..12 dB (100 Hz shelf, 1 kHz bell Q 1, 8 kHz shelf)   0
    limiter.enabled           bool                             true
    limiter.ceiling           -3..0 dBFS                       -1
    limiter.lookahead*        0..20 ms                         1.5
    limiter.release*          1..1000 ms                       50
    limiter.truePeak*         bool (limit dBTP, +6 samples)    false
    bypass                    bool                             false
    genre (config only)       null | "auto" | one of GENRES

Genre presets (fields not listed are the defaults above)::

    genre       gate                      compressor (ratio/thr/att/rel/knee)   eq low/mid/high   ceiling
    speech      -45 dB, hold 100, rel 150  3 : 1 / -20 / 5 / 120 / 6             -3 / +2 / +2      -1
    rock        -50 dB                     4 : 1 / -16 / 10 / 150 / 3            +2 / -1 / +2      -1
    jazz        off                        2 : 1 / -24 / 20 / 250 / 6            +1 /  0 / +1      -1
    electronic  -55 dB                     5 : 1 / -14 / 5 / 80 / 3              +4 / -1 / +3      -0.5
    classical   off                        1.5:1 / -30 / 30 / 500 / 6             0 /  0 / +1      -1

Rationale: speech gates room noise, cuts rumble and lifts presence; rock compresses firmly with
a slight mid scoop; jazz and classical keep dynamics (gentle ratio, no gate so quiet passages
survive); electronic is dense with extended lows and highs and a hotter ceiling.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from . import GENRES
from .errors import ParameterError
from .processors import Chain, Compressor, Equalizer, Gain, Limiter, NoiseGate, Processor
from .processors.param import Param

__all__ = [
    "DEFAULT_SETTINGS",
    "GENRE_PRESETS",
    "SCHEMA",
    "validate_config",
    "merge_config",
    "resolve_settings",
    "build_chain",
    "apply_settings",
    "apply_full_settings",
    "UNITS",
    "LOUDNESS_TARGETS",
    "TARGET_RANGE",
    "controls",
    "config_json_schema",
    "STAGE_TYPES",
    "Settings",
]

BOOL = "bool"
#: a settings or ``config`` object (JSON-like, possibly partial):
#: ``{"gain": 0.0, "compressor": {"enabled": True, "ratio": 4.0, ...}, ..., "bypass": False}``
Settings = dict[str, Any]

#: the chain's stage types in order; each declares its parameters once (``PARAMS``, see
#: :mod:`aimixer_dsp.processors.param`) and everything below derives from them.
#: ``Gain`` is the top-level scalar ``gain``; the others are sections named by ``config_key``.
STAGE_TYPES: tuple[type[Processor], ...] = (Gain, NoiseGate, Compressor, Equalizer, Limiter)
_SECTIONS: tuple[type[Processor], ...] = STAGE_TYPES[1:]
_GAIN: Param = Gain.gain_db


def _field(p: Param) -> Any:
    return BOOL if p.range is None else p.range


#: field -> range (numbers) or BOOL, per section; ``gain`` and ``bypass`` are top-level scalars.
SCHEMA: dict[str, Any] = {
    "gain": _GAIN.range,
    **{cls.config_key: {"enabled": BOOL, **{p.key: _field(p) for p in cls.PARAMS}} for cls in _SECTIONS},
    "bypass": BOOL,
}

#: field path -> (unit, label) for every numeric field of :data:`SCHEMA` (what the UI shows).
UNITS: dict[str, tuple[str, str]] = {
    "gain": (_GAIN.unit, _GAIN.label),
    **{f"{cls.config_key}.{p.key}": (p.unit, p.label) for cls in _SECTIONS for p in cls.PARAMS if p.range},
}

#: Named loudness-normalisation targets: name -> (integrated loudness LUFS, true-peak ceiling
#: dBTP). The usual streaming services (-14/-1), podcasts (-16/-1), EBU R 128 (-23/-1) and
#: ATSC A/85 (-24/-2). ``aimixer process --target NAME``, :mod:`aimixer_dsp.render` and the
#: browser mixer use these names.
LOUDNESS_TARGETS: dict[str, tuple[float, float]] = {
    "streaming": (-14.0, -1.0),
    "podcast": (-16.0, -1.0),
    "ebu-r128": (-23.0, -1.0),
    "atsc-a85": (-24.0, -2.0),
}
#: a custom loudness target in LUFS
TARGET_RANGE = (-40.0, -5.0)

#: stage key -> its name in the UI, in chain order
STAGES: dict[str, str] = {
    "noiseGate": "Noise gate",
    "compressor": "Compressor",
    "eq": "EQ",
    "limiter": "Limiter",
}


DEFAULT_SETTINGS: Settings = {
    "gain": _GAIN.default,
    **{cls.config_key: {"enabled": True, **{p.key: p.default for p in cls.PARAMS}} for cls in _SECTIONS},
    "bypass": False,
}

_PRESET_DELTAS: dict[str, Settings] = {
    "speech": {
        "noiseGate": {"threshold": -45.0, "hold": 100.0, "release": 150.0},
        "compressor": {"ratio": 3.0, "threshold": -20.0, "attack": 5.0, "release": 120.0, "knee": 6.0},
        "eq": {"low": -3.0, "mid": 2.0, "high": 2.0},
        "limiter": {"ceiling": -1.0},
    },
    "rock": {
        "noiseGate": {"threshold": -50.0},
        "compressor": {"ratio": 4.0, "threshold": -16.0, "attack": 10.0, "release": 150.0, "knee": 3.0},
        "eq": {"low": 2.0, "mid": -1.0, "high": 2.0},
        "limiter": {"ceiling": -1.0},
    },
    "jazz": {
        "noiseGate": {"enabled": False},
        "compressor": {"ratio": 2.0, "threshold": -24.0, "attack": 20.0, "release": 250.0, "knee": 6.0},
        "eq": {"low": 1.0, "mid": 0.0, "high": 1.0},
        "limiter": {"ceiling": -1.0},
    },
    "electronic": {
        "noiseGate": {"threshold": -55.0},
        "compressor": {"ratio": 5.0, "threshold": -14.0, "attack": 5.0, "release": 80.0, "knee": 3.0},
        "eq": {"low": 4.0, "mid": -1.0, "high": 3.0},
        "limiter": {"ceiling": -0.5},
    },
    "classical": {
        "noiseGate": {"enabled": False},
        "compressor": {"ratio": 1.5, "threshold": -30.0, "attack": 30.0, "release": 500.0, "knee": 6.0},
        "eq": {"low": 0.0, "mid": 0.0, "high": 1.0},
        "limiter": {"ceiling": -1.0},
    },
}


_IMMUTABLE = frozenset((float, int, bool, str, type(None)))


def _copy(value: Any) -> Any:
    """``copy.deepcopy`` for config trees, fast on their usual contents (dicts of scalars)."""
    t = type(value)
    if t in _IMMUTABLE:
        return value
    if t is dict:
        return {k: _copy(v) for k, v in value.items()}
    return copy.deepcopy(value)


def merge_config(base: Settings | None, override: Settings | None) -> Settings:
    """Deep merge: a new dict where ``override`` wins field by field (``None`` = not set).

    Neither argument is modified. Nested dicts merge recursively; any other value in
    ``override`` replaces the base value.
    """
    out = _copy(base) if base else {}
    if not override:
        return out
    for key, val in override.items():
        if val is None:
            continue
        if isinstance(val, dict) and isinstance(out.get(key), dict):
            out[key] = merge_config(out[key], val)
        else:
            out[key] = _copy(val)
    return out


GENRE_PRESETS: dict[str, Settings] = {g: merge_config(DEFAULT_SETTINGS, _PRESET_DELTAS[g]) for g in GENRES}


def _check_number(path: str, value: Any, rng: tuple[float, float]) -> None:
    lo, hi = rng
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParameterError(
            path, value, rng, message=f"{path}={value!r} must be a number in [{_fmt(lo)}, {_fmt(hi)}]"
        )
    if not math.isfinite(value) or not lo <= value <= hi:
        raise ParameterError(path, value, rng)


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


def _check_field(path: str, value: Any, spec: Any) -> None:
    if value is None:
        return
    if spec == BOOL:
        if not isinstance(value, bool):
            raise ParameterError(path, value, message=f"{path}={value!r} must be true or false")
    else:
        _check_number(path, value, spec)


def validate_config(config: Any) -> None:
    """Validate an API ``config`` object (partial or full) without changing anything.

    Raises
    ------
    ParameterError
        Naming the field path, e.g. ``compressor.ratio=25 is out of range [1, 20]``,
        ``compressor.ratio='4' must be a number in [1, 20]``, an unknown field
        (``compressor.foo``) or an unknown genre.
    """
    if config is None:
        return
    if not isinstance(config, dict):
        raise ParameterError(
            "config", config, message=f"config must be an object, got {type(config).__name__}"
        )
    for key, val in config.items():
        if key == "genre":
            if val is not None and (not isinstance(val, str) or val not in ("auto", *GENRES)):
                raise ParameterError("genre", val, ("auto", *GENRES))
            continue
        if key not in SCHEMA:
            raise ParameterError(
                str(key), val, message=f"{key!r} is not a config field (known: genre, {', '.join(SCHEMA)})"
            )
        spec = SCHEMA[key]
        if isinstance(spec, dict):
            if val is None:
                continue
            if not isinstance(val, dict):
                raise ParameterError(key, val, message=f"{key}={val!r} must be an object")
            for field, fval in val.items():
                path = f"{key}.{field}"
                if field not in spec:
                    raise ParameterError(
                        path, fval, message=f"{path} is not a config field (known: {', '.join(spec)})"
                    )
                _check_field(path, fval, spec[field])
        else:
            _check_field(key, val, spec)


def resolve_settings(config: Settings | None, genre: str | None) -> Settings:
    """Full settings: ``DEFAULT_SETTINGS`` <- ``GENRE_PRESETS[genre]`` <- ``config``.

    Parameters
    ----------
    config : dict or None
        User config (validated here; its ``genre`` key is ignored — pass the genre explicitly).
    genre : str or None
        A concrete genre (one of ``GENRES``) or ``None`` for the defaults.
    """
    validate_config(config)
    if genre is not None and genre not in GENRE_PRESETS:
        raise ParameterError("genre", genre, GENRES)
    base = GENRE_PRESETS[genre] if genre is not None else DEFAULT_SETTINGS
    user = {k: v for k, v in (config or {}).items() if k != "genre"}
    return merge_config(base, user)


def _full(settings: Settings | None) -> Settings:
    validate_config(settings)
    return merge_config(DEFAULT_SETTINGS, {k: v for k, v in (settings or {}).items() if k != "genre"})


def _section(s: Settings, cls: type[Processor]) -> dict[str, Any]:
    """The settings section of stage type ``cls`` (the scalar ``gain`` as a section)."""
    return {"enabled": True, "gain": s["gain"]} if cls is Gain else s[cls.config_key]


def build_chain(settings: Settings | None = None, sample_rate: int = 48000) -> Chain:
    """A new chain gain -> gate -> compressor -> EQ -> limiter for (possibly partial) settings."""
    s = _full(settings)
    stages = []
    for cls in STAGE_TYPES:
        sec = _section(s, cls)
        args = {p.attr: sec[p.key] for p in cls.PARAMS}
        stages.append(cls(**args, sample_rate=sample_rate, enabled=sec["enabled"]))
    return Chain(stages, bypass=s["bypass"])


def apply_settings(chain: Chain, settings: Settings | None) -> None:
    """Change the parameters of a :func:`build_chain` chain in place, keeping its state.

    ``settings`` may be partial (missing fields take the defaults). Everything is validated
    before anything changes. Changing ``limiter.lookahead`` changes the latency and resets the
    limiter's delay line.
    """
    apply_full_settings(chain, _full(settings))


def apply_full_settings(chain: Chain, s: Settings) -> None:
    """:func:`apply_settings` of settings that are already complete and valid (what
    :func:`resolve_settings` returns), without validating and filling them in again."""
    stages = {type(p): p for p in chain}
    missing = [t.__name__ for t in STAGE_TYPES if t not in stages]
    if missing:
        raise ParameterError(
            "chain", repr(chain), message=f"chain lacks stage(s) {missing}; use build_chain()"
        )
    for cls in STAGE_TYPES:
        stage, sec = stages[cls], _section(s, cls)
        for p in cls.PARAMS:
            value = sec[p.key]
            if p.range is not None:
                value = float(value)
            if getattr(stage, p.private) != value:
                setattr(stage, p.attr, value)
        stage.enabled = sec["enabled"]
    chain.bypass = s["bypass"]


def config_json_schema() -> dict[str, Any]:
    """The JSON Schema ``properties`` of the API's ``config`` object (every field optional),
    derived from the stages' parameter tables; the OpenAPI document uses it."""
    props: dict[str, Any] = {
        "genre": {"type": ["string", "null"], "enum": ["auto", *GENRES, None]},
        "bypass": {"type": "boolean", "description": "the whole chain is the identity"},
        "gain": _GAIN.json_schema(),
    }
    for cls in _SECTIONS:
        fields = {"enabled": {"type": "boolean"}, **{p.key: p.json_schema() for p in cls.PARAMS}}
        props[cls.config_key] = {"type": "object", "properties": fields}
    return props


def controls() -> dict[str, Any]:
    """Every parameter as the UI needs it, derived from :data:`SCHEMA`, :data:`UNITS`,
    :data:`DEFAULT_SETTINGS` and :data:`GENRE_PRESETS` (JSON-safe).

    Returns
    -------
    dict
        ``{"stages": [{key, label, params: [{key, path, label, unit, min, max, default}]}],
        "gain": {...one param...}, "genres": [...], "presets": {genre: settings},
        "defaults": settings}``. ``stages`` are in chain order; each stage's ``enabled`` flag is
        its bypass switch (not listed in ``params``); its other on/off parameters are
        ``switches: [{key, path, label, default}]``.
    """

    def param(path: str, rng: tuple[float, float], default: float) -> dict[str, Any]:
        unit, label = UNITS[path]
        return {
            "key": path.rsplit(".", 1)[-1],
            "path": path,
            "label": label,
            "unit": unit,
            "min": rng[0],
            "max": rng[1],
            "default": default,
        }

    stages = []
    for key, label in STAGES.items():
        spec = SCHEMA[key]
        params = [
            param(f"{key}.{field}", rng, DEFAULT_SETTINGS[key][field])
            for field, rng in spec.items()
            if rng != BOOL
        ]
        switches = [
            {"key": p.key, "path": f"{key}.{p.key}", "label": p.label, "default": p.default}
            for cls in _SECTIONS
            if cls.config_key == key
            for p in cls.PARAMS
            if p.range is None
        ]
        stages.append({"key": key, "label": label, "params": params, "switches": switches})
    return {
        "gain": param("gain", SCHEMA["gain"], DEFAULT_SETTINGS["gain"]),
        "stages": stages,
        "genres": list(GENRES),
        "presets": _copy(GENRE_PRESETS),
        "defaults": _copy(DEFAULT_SETTINGS),
        "loudnessTargets": {k: {"lufs": v[0], "ceiling": v[1]} for k, v in LOUDNESS_TARGETS.items()},
        "targetRange": list(TARGET_RANGE),
        "ceilingRange": list(SCHEMA["limiter"]["ceiling"]),
    }
