"""MFCC and spectral features: librosa agreement, both paths, validation, short input."""

from __future__ import annotations

import json

import librosa
import numpy as np
import pytest
import scipy.signal
from aimixer_dsp import features as F
from aimixer_dsp.errors import NonFiniteInputError, ParameterError
from aimixer_dsp.fft import fft, rfft
from hypothesis import given, settings
from hypothesis import strategies as st


def _signal(seconds: float = 1.5, sr: int = 48000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    return (
        0.3 * np.sin(2 * np.pi * 440 * t)
        + 0.1 * np.sin(2 * np.pi * 3520 * t) * (t > 0.5)
        + 0.05 * rng.standard_normal(t.size) * np.sin(2 * np.pi * 1.3 * t)
    )


def _rel(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


# -------------------------------------------------------------------------- FFT


@pytest.mark.parametrize("n", [1, 2, 4, 8, 32, 512, 4096])
def test_complex_fft_matches_numpy(n):
    rng = np.random.default_rng(n)
    x = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    data = x.tolist()
    out = fft(data)
    assert data == x.tolist()  # input untouched
    assert np.max(np.abs(np.array(out) - np.fft.fft(x))) < 1e-10 * max(1, n)


@pytest.mark.parametrize("n", [2, 4, 64, 2048])
def test_real_fft_matches_numpy(n):
    x = np.random.default_rng(n).standard_normal(n)
    assert np.max(np.abs(np.array(rfft(x.tolist())) - np.fft.rfft(x))) < 1e-10 * n


def test_fft_rejects_non_power_of_two():
    with pytest.raises(ValueError, match="not a power of two"):
        fft([0j] * 6)


# -------------------------------------------------------------------------- builders


@pytest.mark.parametrize("name", ["hann", "hamming", "blackman"])
@pytest.mark.parametrize("n", [64, 2048])
def test_windows_are_scipy_periodic(name, n):
    assert np.allclose(F.get_window(name, n), scipy.signal.get_window(name, n, fftbins=True), atol=1e-12)


@pytest.mark.parametrize(("sr", "n_fft", "n_mels"), [(48000, 2048, 40), (22050, 1024, 64), (44100, 512, 26)])
def test_mel_filterbank_is_librosa_slaney(sr, n_fft, n_mels):
    ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, dtype=np.float64)
    assert np.allclose(np.array(F.mel_filterbank(sr, n_fft, n_mels)), ref, rtol=1e-9, atol=1e-12)


def test_builders_are_cached():
    assert F.get_window("hann", 1024) is F.get_window("hann", 1024)
    assert F.mel_filterbank(48000, 2048, 40) is F.mel_filterbank(48000, 2048, 40)
    assert F.get_window.cache_info().hits > 0 and F.mel_filterbank.cache_info().hits > 0


# -------------------------------------------------------------------------- MFCC vs librosa


@pytest.mark.parametrize("window", ["hann", "hamming", "blackman"])
@pytest.mark.parametrize(
    ("sr", "n_mfcc", "n_mels", "n_fft", "hop"),
    [(48000, 13, 40, 2048, 512), (22050, 20, 64, 1024, 256), (44100, 13, 26, 512, 300)],
)
def test_mfcc_matches_librosa(window, sr, n_mfcc, n_mels, n_fft, hop):
    y = _signal(1.0, sr)
    ref = librosa.feature.mfcc(
        y=y, sr=sr, n_mfcc=n_mfcc, n_fft=n_fft, hop_length=hop, window=window, n_mels=n_mels
    )
    kw = {
        "sample_rate": sr,
        "n_mfcc": n_mfcc,
        "n_mels": n_mels,
        "n_fft": n_fft,
        "hop_length": hop,
        "window": window,
    }
    ours_np = F.mfcc(y, **kw)
    assert ours_np.shape == ref.T.shape
    assert _rel(ours_np, ref.T) <= 1e-3
    if n_fft <= 1024:  # keep the pure path quick here; 2048 is covered below
        ours_pure = F.mfcc(y.tolist(), **kw)
        assert _rel(ours_pure, ref.T) <= 1e-3
        assert _rel(ours_pure, ours_np) <= 1e-5


def test_mfcc_defaults_both_paths_and_float32():
    y = _signal(1.0)
    ref = librosa.feature.mfcc(y=y, sr=48000, n_mfcc=13, n_fft=2048, hop_length=512, n_mels=40).T
    a = F.mfcc(y)
    b = F.mfcc(y.tolist())
    assert isinstance(b, list) and len(b) == ref.shape[0] and len(b[0]) == 13
    assert _rel(a, ref) <= 1e-3 and _rel(b, ref) <= 1e-3
    assert _rel(b, a) <= 1e-5
    y32 = y.astype(np.float32)
    ref32 = librosa.feature.mfcc(y=y32, sr=48000, n_mfcc=13, n_fft=2048, hop_length=512, n_mels=40).T
    assert _rel(F.mfcc(y32), ref32) <= 1e-3


def test_mfcc_of_silence_is_finite_and_equal_on_both_paths():
    a = F.mfcc(np.zeros(4000))
    b = F.mfcc([0.0] * 4000)
    assert np.all(np.isfinite(a))
    assert np.allclose(a, np.array(b), rtol=0, atol=1e-9)
    # every mel band sits at amin = 1e-10 -> -100 dB; only c0 is non-zero: -100 * sqrt(n_mels)
    assert a[0][0] == pytest.approx(-100 * np.sqrt(40))


@pytest.mark.filterwarnings("ignore:n_fft=2048 is too large")
@pytest.mark.parametrize("n", [0, 1, 100, 511, 512, 2047])
def test_short_input_documented_frames(n):
    y = _signal(0.05)[:n]
    a = F.mfcc(y)
    b = F.mfcc(y.tolist())
    expected_frames = 0 if n == 0 else 1 + n // 512
    assert len(a) == len(b) == expected_frames
    if n:
        ref = librosa.feature.mfcc(y=y, sr=48000, n_mfcc=13, n_fft=2048, hop_length=512, n_mels=40).T
        assert _rel(a, ref) <= 1e-3
    out = F.extract_features(y.tolist())
    assert out["frameCount"] == expected_frames
    assert out["duration"] == pytest.approx(n / 48000)
    json.dumps(out, allow_nan=False)


# -------------------------------------------------------------------------- spectral features


def test_frame_features_match_librosa_and_paths_agree():
    y = _signal(1.0)
    a = F.frame_features(y)
    b = F.frame_features(y.tolist())
    for key in ("centroid", "rolloff", "flux", "zcr"):
        assert len(a[key]) == len(b[key]) == 1 + len(y) // 512
        assert np.max(np.abs(np.asarray(b[key]) - a[key])) <= 1e-5 * max(1.0, float(np.max(np.abs(a[key]))))
    cent = librosa.feature.spectral_centroid(y=y, sr=48000, n_fft=2048, hop_length=512, pad_mode="constant")[
        0
    ]
    roll = librosa.feature.spectral_rolloff(y=y, sr=48000, n_fft=2048, hop_length=512, pad_mode="constant")[0]
    assert np.allclose(a["centroid"], cent, rtol=1e-6, atol=1e-6)
    assert np.allclose(a["rolloff"], roll)
    # flux: Euclidean distance of consecutive magnitude spectra, computed independently
    mag = np.abs(librosa.stft(y, n_fft=2048, hop_length=512, pad_mode="constant"))
    assert np.allclose(a["flux"][1:], np.sqrt((np.diff(mag, axis=1) ** 2).sum(axis=0)), rtol=1e-6)
    assert a["flux"][0] == 0.0


def test_zero_crossing_rate_counts_sign_changes():
    # A square wave with period 100 samples: 2 sign changes per 100 samples.
    y = np.where((np.arange(48000) // 50) % 2 == 0, 0.5, -0.5)
    z = F.frame_features(y)["zcr"]
    mid = z[5:-5]
    assert np.allclose(mid, np.round(2048 * 2 / 100) / 2048, atol=1.5 / 2048)
    assert np.allclose(F.frame_features(y.tolist())["zcr"], z)


def test_extract_features_shape_and_summary():
    y = _signal(2.0)
    out = F.extract_features(y.tolist())
    assert set(out) == {
        "features", "spectralCentroid", "zeroCrossingRate", "spectralRolloff", "spectralFlux", "frameCount", "duration",
        "truePeak",
    }  # fmt: skip
    assert out["frameCount"] == len(out["features"]) == 1 + len(y) // 512
    assert all(len(row) == 13 for row in out["features"])
    assert out["duration"] == pytest.approx(2.0)
    ff = F.frame_features(y)
    assert out["spectralCentroid"] == pytest.approx(float(np.mean(ff["centroid"])), rel=1e-6)
    assert out["spectralRolloff"] == pytest.approx(float(np.mean(ff["rolloff"])), rel=1e-6)
    assert out["zeroCrossingRate"] == pytest.approx(float(np.mean(ff["zcr"])), rel=1e-6)
    assert out["spectralFlux"] == pytest.approx(float(np.mean(ff["flux"][1:])), rel=1e-6)
    assert 300 < out["spectralCentroid"] < 12000
    numpy_out = F.extract_features(y)
    assert _rel(numpy_out["features"], out["features"]) <= 1e-5
    json.dumps(numpy_out, allow_nan=False)


# -------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"fftSize": 1000}, r"fftSize=1000 must be a power of two"),
        ({"fftSize": 32}, r"fftSize=32 is out of range \[64, 16384\]"),
        ({"fftSize": 32768}, r"fftSize=32768 is out of range"),
        ({"hopSize": 0}, r"hopSize=0 is out of range \[1, 65536\]"),
        ({"numFilters": 0}, r"numFilters=0 is out of range \[1, 256\]"),
        ({"numCoefficients": 41}, r"numCoefficients=41 is out of range \[1, 40\]"),
        ({"numCoefficients": 2.5}, r"numCoefficients=2.5 must be an integer"),
        ({"windowType": "kaiser"}, r"windowType='kaiser' is not one of"),
        ({"hopSize": "512"}, r"hopSize"),
    ],
)
def test_extract_features_validates_fields(kwargs, match):
    with pytest.raises(ParameterError, match=match) as info:
        F.extract_features([0.0] * 100, **kwargs)
    assert info.value.name == next(iter(kwargs))


def test_mfcc_validates_librosa_style_names():
    with pytest.raises(ParameterError, match="n_fft=100"):
        F.mfcc([0.0] * 10, n_fft=100)
    with pytest.raises(ParameterError, match="window='rect'"):
        F.frame_features([0.0] * 10, window="rect")


def test_non_finite_and_bad_shape_rejected():
    with pytest.raises(NonFiniteInputError, match="NaN or Inf"):
        F.mfcc([0.0, float("nan"), 0.0])
    with pytest.raises(NonFiniteInputError, match="NaN or Inf"):
        F.extract_features(np.array([0.0, np.inf]))
    with pytest.raises(ParameterError, match="mono"):
        F.mfcc(np.zeros((100, 2)))


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(min_value=0, max_value=3000),
    log_fft=st.integers(min_value=6, max_value=10),
    hop=st.integers(min_value=1, max_value=700),
    n_mels=st.integers(min_value=1, max_value=48),
    window=st.sampled_from(F.WINDOWS),
    seed=st.integers(min_value=0, max_value=2**31),
)
def test_paths_agree_for_random_settings(n, log_fft, hop, n_mels, window, seed):
    y = np.random.default_rng(seed).standard_normal(n) * 0.3
    kw = {"sample_rate": 16000, "n_fft": 2**log_fft, "hop_length": hop, "window": window}
    a = F.mfcc(y, n_mfcc=min(13, n_mels), n_mels=n_mels, **kw)
    b = F.mfcc(y.tolist(), n_mfcc=min(13, n_mels), n_mels=n_mels, **kw)
    assert len(a) == len(b) == (0 if n == 0 else 1 + n // hop)
    if n:
        assert np.max(np.abs(np.asarray(b) - a)) <= 1e-5 * max(1.0, float(np.max(np.abs(a))))
    fa, fb = F.frame_features(y, **kw), F.frame_features(y.tolist(), **kw)
    for key in fa:
        assert np.allclose(fb[key], fa[key], rtol=1e-7, atol=1e-7), key


def test_spectrum_kernel_hook_gives_the_same_features() -> None:
    """The browser installs a JavaScript FFT as the ``spectrum`` kernel; any kernel that
    computes the same spectra gives the same features (here NumPy's FFT stands in for it)."""
    import math
    from array import array

    from aimixer_dsp.genre import feature_vector

    x = [0.3 * math.sin(i * 0.031) + 0.2 * math.sin(i * 0.0077) * math.sin(i * 0.5) for i in range(24000)]
    calls = []

    def kernel(frame, window, squared, out) -> None:
        calls.append(len(frame))
        spec = np.fft.rfft(np.frombuffer(frame) * np.frombuffer(window))
        power = spec.real**2 + spec.imag**2
        out[:] = array("d", (power if squared else np.sqrt(power)).tolist())

    want = F.extract_features(x)
    want_vec = feature_vector(x)
    from aimixer_dsp.backend import set_kernel

    set_kernel("spectrum", kernel)
    try:
        got = F.extract_features(x)
        got_vec = feature_vector(x)
    finally:
        set_kernel("spectrum", None)
    assert calls and set(calls) == {2048, 512}
    assert (
        max(
            abs(a - b)
            for ra, rb in zip(want["features"], got["features"], strict=True)
            for a, b in zip(ra, rb, strict=True)
        )
        < 1e-9
    )
    for k in ("spectralCentroid", "spectralRolloff", "spectralFlux", "zeroCrossingRate"):
        assert got[k] == pytest.approx(want[k], rel=1e-9, abs=1e-12)
    assert max(abs(a - b) for a, b in zip(want_vec, got_vec, strict=True)) < 1e-9
