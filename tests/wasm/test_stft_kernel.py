"""The ``stft`` kernel (``wasm/js/kernels.js``): the browser runs the per-frame work of the pure
feature path (spectrum, mel energies, centroid, rolloff, flux, zero crossings) for all frames in
one JavaScript call. A Python twin of its arithmetic, installed as the kernel, gives the pure
path's features up to float rounding and the same frame count for any settings; the JavaScript
itself is checked against the pure path inside Pyodide by ``tests/node/test_stft_kernel_node.py``.
"""

from __future__ import annotations

import math
from array import array
from contextlib import contextmanager

import numpy as np
import pytest
from aimixer_dsp import features as F
from aimixer_dsp.backend import set_kernel
from hypothesis import given, settings
from hypothesis import strategies as st


def stft_twin(padded, window, hop, sample_rate, n_frames, bands, weights, mel_out, frames_out) -> None:
    """The ``stft`` kernel's contract in Python, in kernels.js's order (NumPy's FFT stands in for
    the kernel's own real FFT: the same spectrum up to float rounding)."""
    x = np.frombuffer(padded)
    w = np.frombuffer(window)
    n = len(w)
    nb = n // 2 + 1
    n_mels = len(bands) // 2
    prev = None
    for t in range(n_frames):
        s = t * hop
        spec = np.fft.rfft(x[s : s + n] * w)
        power = (spec.real**2 + spec.imag**2).tolist()
        if len(mel_out):
            off = 0
            for b in range(n_mels):
                first, cnt = int(bands[2 * b]), int(bands[2 * b + 1])
                acc = 0.0
                for j in range(cnt):
                    acc += power[first + j] * weights[off + j]
                off += cnt
                mel_out[t * n_mels + b] = acc
        if len(frames_out):
            mag = [math.sqrt(p) for p in power]
            total = fsum = 0.0
            for k, m in enumerate(mag):
                total += m
                fsum += k * sample_rate / n * m
            centroid = rolloff = 0.0
            if total > 0.0:
                centroid = fsum / total
                cum, k = 0.0, 0
                while k < nb:
                    cum += mag[k]
                    if cum >= 0.85 * total:
                        break
                    k += 1
                rolloff = min(k, nb - 1) * sample_rate / n
            flux = (
                0.0 if prev is None else math.sqrt(sum((a - b) ** 2 for a, b in zip(mag, prev, strict=True)))
            )
            z = sum((x[j] < 0) != (x[j - 1] < 0) for j in range(s + 1, s + n))
            frames_out[4 * t : 4 * t + 4] = array("d", [centroid, rolloff, flux, z / n])
            prev = mag


@contextmanager
def installed(fn):
    """``fn`` as the ``stft`` kernel for the block, then none (as in CPython)."""
    set_kernel("stft", fn)
    try:
        yield
    finally:
        set_kernel("stft", None)


def _signal(n: int, seed: int) -> list[float]:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 48000
    y = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(n) * (t > 0.1)
    return y.tolist()


def _close(got, want, tol: float = 1e-9) -> None:
    a, b = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert a.shape == b.shape
    if a.size:
        assert float(np.max(np.abs(a - b))) <= tol * max(1.0, float(np.max(np.abs(b))))


def test_twin_gives_the_pure_paths_features() -> None:
    x = _signal(30000, 1)
    mfcc_kw = {"n_mfcc": 20, "n_mels": 64, "n_fft": 1024, "hop_length": 300, "window": "hamming"}
    frames_kw = {"n_fft": 512, "hop_length": 128, "window": "blackman"}
    want = F.extract_features(x)
    want_mfcc = F.mfcc(x, **mfcc_kw)
    want_frames = F.frame_features(x, **frames_kw)
    calls: list[int] = []
    with installed(lambda *a: (calls.append(a[4]), stft_twin(*a))):
        got = F.extract_features(x)
        got_mfcc = F.mfcc(x, **mfcc_kw)
        got_frames = F.frame_features(x, **frames_kw)
    assert calls == [1 + 30000 // 512, 1 + 30000 // 300, 1 + 30000 // 128]  # one call per analysis
    _close(got["features"], want["features"])
    for key in ("spectralCentroid", "spectralRolloff", "spectralFlux", "zeroCrossingRate"):
        assert got[key] == pytest.approx(want[key], rel=1e-9, abs=1e-12), key
    assert (got["frameCount"], got["duration"], got["truePeak"]) == (
        want["frameCount"],
        want["duration"],
        want["truePeak"],
    )
    _close(got_mfcc, want_mfcc)
    for key in want_frames:
        _close(got_frames[key], want_frames[key])


def test_twin_on_silence_and_short_input() -> None:
    for x in ([0.0] * 5000, [0.25], [-0.5, 0.5, -0.5]):
        want = F.extract_features(x, fftSize=256, hopSize=64)
        with installed(stft_twin):
            got = F.extract_features(x, fftSize=256, hopSize=64)
        assert got["frameCount"] == want["frameCount"] == 1 + len(x) // 64
        _close(got["features"], want["features"])
        for key in ("spectralCentroid", "spectralRolloff", "spectralFlux", "zeroCrossingRate"):
            assert got[key] == pytest.approx(want[key], rel=1e-9, abs=1e-12), key


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=3000),
    log_fft=st.integers(min_value=6, max_value=10),
    hop=st.integers(min_value=1, max_value=700),
    n_mels=st.integers(min_value=1, max_value=48),
    window=st.sampled_from(F.WINDOWS),
    seed=st.integers(min_value=0, max_value=2**31),
)
def test_twin_agrees_for_random_settings(n, log_fft, hop, n_mels, window, seed) -> None:
    x = (np.random.default_rng(seed).standard_normal(n) * 0.3).tolist()
    kw = {"sample_rate": 16000, "n_fft": 2**log_fft, "hop_length": hop, "window": window}
    want = F.mfcc(x, n_mfcc=min(13, n_mels), n_mels=n_mels, **kw)
    want_frames = F.frame_features(x, **kw)
    with installed(stft_twin):
        got = F.mfcc(x, n_mfcc=min(13, n_mels), n_mels=n_mels, **kw)
        got_frames = F.frame_features(x, **kw)
    assert len(got) == len(want) == 1 + n // hop
    _close(got, want, 1e-8)
    for key in want_frames:
        if key == "rolloff":  # a bin where the cumulative sum ties 85 % may round either way
            diff = np.abs(np.subtract(got_frames[key], want_frames[key]))
            assert np.all((diff <= 1e-9) | (diff <= 16000 / 2**log_fft + 1e-9)), key
            assert np.mean(diff > 1e-9) <= 0.1
        else:
            _close(got_frames[key], want_frames[key], 1e-8)
