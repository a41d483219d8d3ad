"""Whole-file rendering (``aimixer_dsp.render``, what the SDK's ``processFile`` runs in the worker):
the pure path over planar channels equals ``aimixer process`` (NumPy path, linked channels,
latency compensated) within 1e-5, hits loudness targets, and rejects hostile input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf
from aimixer_dsp.errors import InvalidBufferError, InvalidSampleRateError, ParameterError
from aimixer_dsp.meters import LoudnessMeter
from aimixer_dsp.presets import controls
from aimixer_dsp.render import LOUDNESS_TARGETS, FileJob, render, resolve_target

from origin.commands.analyze import analyze_file
from origin.commands.process import process_file

SR = 48000


def _signal(channels: int, seconds: float, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(SR * seconds)
    t = np.arange(n) / SR
    cols = []
    for c in range(channels):
        burst = 0.3 + 0.7 * (np.sin(2 * np.pi * 0.5 * t + c) > 0)
        tone = (0.55 - 0.1 * c) * np.sin(2 * np.pi * (110 * (c + 1)) * t + c) * burst
        cols.append(tone + 0.04 * rng.standard_normal(n) * (t > 1.0 + c))
    return np.stack(cols, 1).astype(np.float32)


def _cli(tmp_path, x: np.ndarray, config: dict, genre: str | None) -> tuple:
    src, dst = tmp_path / "in.wav", tmp_path / "out.wav"
    sf.write(src, x, SR, subtype="FLOAT")
    result = process_file(str(src), str(dst), config, genre, progress=False)
    y, _ = sf.read(dst, dtype="float64", always_2d=True)
    return y, result


CASES = [
    (1, {"genre": "speech"}),
    (2, {"genre": "rock", "compressor": {"ratio": 6.0}}),
    (2, {"genre": "electronic", "gain": 4.0, "eq": {"low": 6.0}, "limiter": {"ceiling": -2.0}}),
    (3, {"genre": "jazz", "noiseGate": {"enabled": True, "threshold": -30.0}, "limiter": {"enabled": False}}),
    (2, {"bypass": True}),
]


@pytest.mark.parametrize(("channels", "config"), CASES)
def test_render_equals_cli(tmp_path, channels: int, config: dict) -> None:
    x = _signal(channels, 4.3)
    genre = config.get("genre")
    cli_cfg = {k: v for k, v in config.items() if k != "genre"}
    want, cli = _cli(tmp_path, x, cli_cfg, genre)
    got, report = render([x[:, c].tolist() for c in range(channels)], SR, config, block=10007)
    y = np.array(got).T
    assert y.shape == want.shape == x.shape
    assert np.abs(y - want).max() <= 1e-5
    for side in ("input", "output"):
        for k in ("peak", "rms", "lufs", "lra"):
            assert report[side][k] == pytest.approx(cli[side][k], abs=1e-6), (side, k)
    assert report["appliedSettings"] == cli["appliedSettings"]
    assert report["latencySamples"] == cli["latencySamples"]
    assert "target" not in report


def test_block_size_does_not_change_the_result() -> None:
    x = _signal(2, 2.0)
    cols = [x[:, 0].tolist(), x[:, 1].tolist()]
    a, _ = render(cols, SR, {"genre": "rock"}, block=48000)
    b, _ = render(cols, SR, {"genre": "rock"}, block=960)
    assert max(abs(p - q) for ca, cb in zip(a, b, strict=True) for p, q in zip(ca, cb, strict=True)) <= 1e-9


@pytest.mark.parametrize("name", sorted(LOUDNESS_TARGETS))
def test_loudness_target_is_met(name: str) -> None:
    lufs, ceiling = LOUDNESS_TARGETS[name]
    x = 0.3 * _signal(2, 6.0)
    out, report = render([x[:, 0].tolist(), x[:, 1].tolist()], SR, {"genre": "jazz"}, target=name)
    meter = LoudnessMeter(SR, channels=2)
    meter.push(np.array(out).T)
    assert meter.integrated == pytest.approx(lufs, abs=0.5)
    assert report["output"]["lufs"] == pytest.approx(meter.integrated, abs=1e-6)
    peak = max(max(abs(v) for v in c) for c in out)
    assert peak <= 10 ** (ceiling / 20)
    t = report["target"]
    assert (t["name"], t["lufs"], t["ceiling"]) == (name, lufs, ceiling)
    assert t["gainDb"] == pytest.approx(lufs - report["output"]["lufs"] + t["gainDb"], abs=0.5)
    assert len(out[0]) == x.shape[0]


def test_custom_target_and_ceiling() -> None:
    x = 0.05 * _signal(1, 5.0)
    out, report = render([x[:, 0].tolist()], SR, None, target=-18.0, true_peak=-2.5)
    assert report["target"]["name"] == "custom" and report["target"]["ceiling"] == -2.5
    assert max(abs(v) for v in out[0]) <= 10 ** (-2.5 / 20)
    assert report["output"]["lufs"] == pytest.approx(-18.0, abs=0.5)


def test_auto_genre_classifies_like_the_cli(tmp_path) -> None:
    og = pytest.importorskip("origin.genre")
    model = og.load_default_model()
    x = _signal(2, 7.0, seed=3)
    want, cli = _cli(tmp_path, x, {}, "auto")
    got, report = render(
        [x[:, 0].tolist(), x[:, 1].tolist()],
        SR,
        {"genre": "auto"},
        predict=model.predict,
        model_version=model.version,
    )
    assert report["genre"] == cli["genre"]
    assert report["confidence"] == pytest.approx(cli["confidence"], abs=1e-5)
    ref = og.classify_signal(og.load_audio(tmp_path / "in.wav"), model, vad=False)
    tl = report["classification"]["timeline"]
    assert [w["genre"] for w in tl] == [w["genre"] for w in ref["timeline"]]
    assert [w["start"] for w in tl] == [w["start"] for w in ref["timeline"]]
    assert np.abs(np.array(got).T - want).max() <= 1e-5


def test_analysis_curve_matches_the_cli(tmp_path) -> None:
    x = _signal(2, 5.0)
    sf.write(tmp_path / "a.wav", x, SR, subtype="FLOAT")
    cli = analyze_file(str(tmp_path / "a.wav"))
    job = FileJob(2, SR, x.shape[0], None, block=7000, curve=True)
    for s in range(0, x.shape[0], 7000):
        job.analyse_cols([x[s : s + 7000, 0].tolist(), x[s : s + 7000, 1].tolist()])
    rep = job.report()
    for k in ("peak", "rms", "lufs", "momentaryMax", "shortTermMax", "lra"):
        assert rep["input"][k] == pytest.approx(cli[k], abs=1e-6), k
    curve = rep["curve"]
    assert len(curve["shortTerm"]) == 50 and curve["step"] == 0.1
    assert curve["shortTerm"][:29] == [None] * 29 and curve["shortTerm"][29] is not None
    # the curve is the live 100 ms reading; the CLI's maxima are exact (every sample), so the
    # curve's maximum is the 100 ms-grid maximum, at most the exact one
    grid = LoudnessMeter(SR, channels=2)
    grid.push(x)
    top = max(v for v in curve["shortTerm"] if v is not None)
    assert top == pytest.approx(grid.short_term_max, abs=1e-9)
    assert top <= cli["shortTermMax"] + 1e-9


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"channels": 9}, InvalidBufferError, "1..8 channels"),
        ({"channels": 0}, InvalidBufferError, "channels"),
        ({"frames": 3601 * SR}, InvalidBufferError, "at most 3600 s"),
        ({"frames": -1}, InvalidBufferError, "frames"),
        ({"sample_rate": 1e9}, InvalidSampleRateError, "out of range"),
        ({"config": {"compressor": {"ratio": 99}}}, ParameterError, "compressor.ratio"),
        ({"config": "[" * 70000}, ParameterError, "longer than 65536"),
        ({"target": "loud"}, ParameterError, "targetLufs"),
        ({"target": -80}, ParameterError, "targetLufs"),
        ({"target": float("nan")}, ParameterError, "targetLufs"),
        ({"target": -14, "true_peak": 3}, ParameterError, "truePeak"),
        ({"block": 0}, ParameterError, "block"),
        ({"block": 1 << 30}, ParameterError, "block"),
    ],
)
def test_hostile_job_arguments(kwargs: dict, exc: type, match: str) -> None:
    args = {"channels": 2, "sample_rate": SR, "frames": SR, "config": None}
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        FileJob(args.pop("channels"), args.pop("sample_rate"), args.pop("frames"), args.pop("config"), **args)


def test_job_rejects_non_finite_and_oversized_blocks() -> None:
    job = FileJob(1, SR, 100, None, block=100)
    job.begin(0)
    job.inp[3] = math.inf
    with pytest.raises(Exception, match="NaN or Inf|non-finite|index"):
        job.render(10)
    with pytest.raises(InvalidBufferError, match="block"):
        job.render(101)


def test_auto_needs_48k() -> None:
    with pytest.raises(InvalidSampleRateError, match="48000"):
        FileJob(1, 44100, 44100, {"genre": "auto"})


def test_resolve_target_names() -> None:
    assert resolve_target(None, None) == (None, None, None)
    assert resolve_target("atsc-a85") == ("atsc-a85", -24.0, -2.0)
    assert resolve_target("podcast", -1.5) == ("podcast", -16.0, -1.5)
    assert resolve_target(None, -0.5) == (None, None, -0.5)


def test_controls_cover_every_parameter() -> None:
    from aimixer_dsp.presets import DEFAULT_SETTINGS, SCHEMA

    c = controls()
    paths = {p["path"] for s in c["stages"] for p in s["params"]} | {c["gain"]["path"]}
    numeric = {"gain"} | {
        f"{k}.{f}" for k, v in SCHEMA.items() if isinstance(v, dict) for f, r in v.items() if r != "bool"
    }
    assert paths == numeric
    for s in c["stages"]:
        for p in s["params"]:
            assert (p["min"], p["max"]) == SCHEMA[s["key"]][p["key"]]
            assert p["default"] == DEFAULT_SETTINGS[s["key"]][p["key"]]
            assert p["unit"]
    assert c["presets"]["rock"]["compressor"]["threshold"] == -16.0


def test_gain_reduction_readout() -> None:
    from aimixer_dsp.jsbridge import gain_reduction
    from aimixer_dsp.mixer import MixerSession

    s = MixerSession()
    loud = [0.9 * math.sin(i * 0.05) for i in range(960)]
    for _ in range(10):
        s.process(loud, {"genre": "rock", "compressor": {"threshold": -30.0}})
    gate, comp, lim = gain_reduction(s)
    assert gate == pytest.approx(0.0, abs=1e-6) and comp > 5.0 and lim >= 0.0
    for _ in range(30):
        s.process([0.0] * 960, {"genre": "rock"})
    assert gain_reduction(s)[0] > 20.0  # the gate closed on silence
    s.process(loud, {"bypass": True})
    assert gain_reduction(s) == [0.0, 0.0, 0.0]


def _py_kfilter(x, params, out) -> None:
    """The ``kfilter`` kernel's contract in Python (what kernels.js does in JavaScript)."""
    s1, s2, s3, s4, q1, q2, a1, a2, d1, d2 = params
    acc = 0.0
    for v in x:
        y = v + s1
        s1 = q1 * v - a1 * y + s2
        s2 = q2 * v - a2 * y
        z = y + s3
        s3 = s4 - 2.0 * y - d1 * z
        s4 = y - d2 * z
        acc += z * z
    out[:] = type(out)("d", [acc, s1, s2, s3, s4])


def _py_cascade(x, coeffs, states, gain, out) -> None:
    """The ``cascade`` kernel's contract in Python, section by section as kernels.js's general case."""
    ys = list(x)
    for k in range(len(states) // 2):
        b1, b2, a1, a2 = coeffs[4 * k : 4 * k + 4]
        s1, s2 = states[2 * k], states[2 * k + 1]
        for i, u in enumerate(ys):
            y = u + s1
            s1 = b1 * u - a1 * y + s2
            s2 = b2 * u - a2 * y
            ys[i] = y
        states[2 * k], states[2 * k + 1] = s1, s2
    out[:] = type(out)("d", [gain * y for y in ys])


def test_native_kernels_give_identical_results() -> None:
    """The browser runs the K-weighting and the EQ sections as JavaScript kernels with the same
    arithmetic: the results (audio, states carried across blocks, readings) are bit-identical."""
    from aimixer_dsp.backend import kernel, set_kernel

    x = _signal(2, 2.5)
    cols = [x[:, 0].tolist(), x[:, 1].tolist()]
    cfg = {"genre": "rock", "eq": {"low": 5.0, "mid": -3.0, "high": 4.0}}
    want, want_rep = render(cols, SR, cfg, target="podcast", block=3001)
    calls = {"kfilter": 0, "cascade": 0}

    def counted(name, fn):
        def run(*a):
            calls[name] += 1
            fn(*a)

        return run

    set_kernel("kfilter", counted("kfilter", _py_kfilter))
    set_kernel("cascade", counted("cascade", _py_cascade))
    try:
        got, got_rep = render(cols, SR, cfg, target="podcast", block=3001)
    finally:
        set_kernel("kfilter", None)
        set_kernel("cascade", None)
    assert kernel("kfilter") is None and kernel("cascade") is None
    # the file analysis measures exact (per-sample) maxima, which K-weights without the kernel
    assert calls["cascade"] > 0
    assert got == want
    assert got_rep == want_rep

    # the live meter's K-weighting goes through the kfilter kernel, with identical readings
    def live() -> tuple:
        m = LoudnessMeter(SR, channels=2)
        for s in range(0, len(cols[0]), 3001):
            m.push_planar([c[s : s + 3001] for c in cols])
        return m.integrated, m.momentary_max, m.short_term_max, m.loudness_range, m._states

    want_live = live()
    set_kernel("kfilter", counted("kfilter", _py_kfilter))
    try:
        got_live = live()
    finally:
        set_kernel("kfilter", None)
    assert calls["kfilter"] > 0
    assert got_live == want_live
    with pytest.raises(ParameterError, match="kernel"):
        set_kernel("fft2", _py_kfilter)
