"""Loudness normalisation in one analysis pass (``aimixer_dsp.loudnorm``): the predicted gain
lands the limited output within 0.5 LU of every named target on material the limiter has to work
on (music with drum transients, speech with plosives, EBU-programme-like levels), the pure path
(the SDK's ``processFile``) equals ``aimixer process`` (NumPy), and bad targets are refused."""

from __future__ import annotations

import math

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf
from aimixer_dsp.errors import ParameterError
from aimixer_dsp.loudnorm import NormalizationAnalysis, Normalizer, resolve_normalization
from aimixer_dsp.meters import LoudnessMeter
from aimixer_dsp.presets import LOUDNESS_TARGETS
from aimixer_dsp.processors import Limiter
from aimixer_dsp.render import render
from aimixer_dsp.truepeak import TruePeakMeter

from origin.commands.process import make_demo_clip, process_file

SR = 48000


def speech(seconds: float = 8.0, seed: int = 3) -> np.ndarray:
    """A buzzy voice in syllables and pauses with plosive bursts (peaks far above the average)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    ph = 2 * np.pi * np.cumsum(120 + 40 * np.sin(2 * np.pi * 0.4 * t)) / SR
    voiced = 0.25 * sum(np.sin(k * ph) / k for k in range(1, 30))
    env = np.clip(np.sin(2 * np.pi * 2.7 * t + 3 * np.sin(2 * np.pi * 0.3 * t)), 0, 1) ** 2
    env *= np.sin(2 * np.pi * 0.13 * t) > -0.7
    plosives = np.zeros(n)
    for s in rng.integers(0, n - 2000, size=int(seconds * 3)):
        plosives[s : s + 600] += 0.9 * rng.standard_normal(600) * np.exp(-np.arange(600) / 120)
    return (voiced * env + plosives + 0.002 * rng.standard_normal(n))[:, None]


def programme() -> np.ndarray:
    """EBU Tech 3342 case 4 shaped levels (-50/-35/-20/-35/-50 dBFS, 2 s each) of a kick-like
    pulse train over a 1 kHz tone (crest factor high enough for the limiter at loud targets)."""
    t = np.arange(2 * SR) / SR
    pulse = np.exp(-(t % 0.5) / 0.03) * np.sin(2 * np.pi * 60 * t)
    seg = 0.3 * np.sin(2 * np.pi * 1000 * t) + 2.5 * pulse
    x = np.concatenate([10 ** (db / 20) * seg for db in (-50, -35, -20, -35, -50)])
    return np.stack([x, 0.8 * x], axis=1)


@pytest.fixture(scope="module")
def material(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("loudnorm")
    music = sf.read(make_demo_clip(tmp / "demo.wav", seconds=8.0), always_2d=True)[0]
    out = {
        "music": np.stack([music[:, 0], 0.7 * music[:, 0]], axis=1),
        "speech": speech(),
        "programme": programme(),
    }
    paths = {}
    for name, x in out.items():
        paths[name] = tmp / f"{name}.wav"
        sf.write(paths[name], x, SR, subtype="FLOAT")
    return {"x": out, "paths": paths, "tmp": tmp}


def _loudness(y: np.ndarray) -> float:
    m = LoudnessMeter(SR, channels=y.shape[1])
    m.push(y)
    return m.integrated


@pytest.mark.parametrize("name", ["music", "speech", "programme"])
@pytest.mark.parametrize("target", sorted(LOUDNESS_TARGETS))
def test_one_analysis_pass_lands_within_half_a_lu(material, name: str, target: str) -> None:
    lufs, ceiling = LOUDNESS_TARGETS[target]
    dst = material["tmp"] / f"out-{name}-{target}.wav"
    res = process_file(str(material["paths"][name]), str(dst), {"bypass": True}, None, progress=False,
                       normalize=(lufs, ceiling))  # fmt: skip
    norm = res["normalization"]
    assert norm["analysisPasses"] == 1
    y, _ = sf.read(dst, always_2d=True)
    got = _loudness(y)
    assert abs(got - lufs) <= 0.5, (got, norm)
    assert abs(pyloudnorm.Meter(SR).integrated_loudness(y) - lufs) <= 0.5
    tp = TruePeakMeter(SR, y.shape[1])
    tp.push(y)
    assert tp.true_peak <= ceiling
    assert abs(norm["predictedLufs"] - got) <= 0.3  # the prediction is what the output measures


def test_the_loud_targets_need_the_prediction(material) -> None:
    """At -14 LUFS under -1 dBTP the limiter takes more than 1 LU from the music and the speech:
    the plain gain ``target - measured`` would miss; the predicted gain does not."""
    for name in ("music", "speech"):
        x = material["x"][name]
        a = NormalizationAnalysis(SR, x.shape[1])
        a.push(x)
        gain, measured, predicted = a.gain_for(-14.0, -1.0)
        assert measured == pytest.approx(_loudness(x), abs=1e-6)
        assert gain - (-14.0 - measured) > 1.0
        plain = Normalizer(-14.0 - measured, -1.0, SR)
        lat = plain.latency_samples
        naive = plain.process(np.concatenate([x, np.zeros((lat, x.shape[1]))]))[lat:]
        assert _loudness(naive) < -14.5


def test_pure_path_equals_numpy_path(material) -> None:
    x = material["x"]["music"][: 3 * SR]
    a_np = NormalizationAnalysis(SR, 2)
    a_py = NormalizationAnalysis(SR, 2)
    for s in range(0, x.shape[0], 7001):
        a_np.push(x[s : s + 7001])
        a_py.push([x[s : s + 7001, 0].tolist(), x[s : s + 7001, 1].tolist()])
    assert np.allclose(np.array(a_np.energy), np.array(a_py.energy), rtol=1e-6, atol=1e-15)
    assert list(a_np.peak) == list(a_py.peak)
    g_np = a_np.gain_for(-14.0, -1.0)
    g_py = a_py.gain_for(-14.0, -1.0)
    assert g_np == pytest.approx(g_py, abs=1e-6)
    # the planar true-peak limiter of the pure path equals the limiter's NumPy path (linked)
    n_np = Normalizer(g_np[0], -1.0, SR)
    n_py = Normalizer(g_np[0], -1.0, SR)
    for s in range(0, x.shape[0], 5003):
        want = n_np.process(x[s : s + 5003])
        got = n_py.process([x[s : s + 5003, 0].tolist(), x[s : s + 5003, 1].tolist()])
        assert np.abs(np.array(got).T - want).max() <= 1e-9  # the interpolators round differently
    assert isinstance(n_np.limiter, Limiter) and n_np.limiter.true_peak


def test_sdk_render_equals_cli(material) -> None:
    """``processFile`` (``render`` on the pure path, the loudness pass over the first pass's
    float32 output) gives ``aimixer process --target`` within 1e-5."""
    x = material["x"]["speech"][: 4 * SR]
    src = material["tmp"] / "short.wav"
    sf.write(src, x, SR, subtype="FLOAT")
    dst = material["tmp"] / "short-cli.wav"
    cfg = {"compressor": {"ratio": 3.0}}
    cli = process_file(str(src), str(dst), cfg, "speech", progress=False, normalize=(-16.0, -1.0))
    want, _ = sf.read(dst, always_2d=True)
    got, rep = render([x[:, 0].astype(np.float32).tolist()], SR, {**cfg, "genre": "speech"}, target="podcast")
    assert np.abs(np.array(got).T - want).max() <= 1e-5
    assert rep["target"]["gainDb"] == pytest.approx(cli["normalization"]["gainDb"], abs=1e-6)
    assert rep["target"]["truePeakLimiter"] is True
    assert rep["output"]["lufs"] == pytest.approx(cli["output"]["lufs"], abs=1e-4)


def test_unreachable_target_is_capped() -> None:
    """A sine cannot be made louder than its ceiling allows: the gain search stops at
    20 LU of limiting and says what it expects."""
    t = np.arange(3 * SR) / SR
    a = NormalizationAnalysis(SR, 1)
    a.push(0.5 * np.sin(2 * np.pi * 1000 * t))
    gain, measured, predicted = a.gain_for(-5.0, -3.0)
    assert gain == pytest.approx(-5.0 - measured + 20.0) and predicted < -5.5
    silent = NormalizationAnalysis(SR, 1)
    silent.push(np.zeros(SR))
    g, m, _ = silent.gain_for(-23.0, -1.0)
    assert math.isnan(g) and m == -math.inf


@pytest.mark.parametrize(
    ("args", "field", "needle"),
    [
        (("loud", None, None), "target", "not one of"),
        ((7, None, None), "target", "not one of"),
        ((None, math.nan, None), "targetLufs", "out of range"),
        ((None, -70.0, None), "targetLufs", "out of range"),
        ((None, "-14", None), "targetLufs", "must be a number"),
        ((None, True, None), "targetLufs", "must be a number"),
        ((None, -14.0, 1.0), "truePeakCeiling", "out of range"),
        ((None, None, -1.0), "truePeakCeiling", "needs"),
        (("podcast", -16.0, None), "target", "exclusive"),
    ],
)
def test_resolve_normalization_refuses_bad_values(args, field, needle) -> None:
    with pytest.raises(ParameterError, match=needle) as info:
        resolve_normalization(*args)
    assert info.value.name == field


def test_resolve_normalization_names_and_defaults() -> None:
    assert resolve_normalization() is None
    assert resolve_normalization("atsc-a85") == ("atsc-a85", -24.0, -2.0)
    assert resolve_normalization("podcast", None, -1.5) == ("podcast", -16.0, -1.5)
    assert resolve_normalization(None, -20) == ("custom", -20.0, -1.0)
