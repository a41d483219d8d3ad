"""Peak/RMS meters and the streaming BS.1770 loudness meter: conventions, paths, chunking."""

from __future__ import annotations

import cmath
import math

import numpy as np
import pyloudnorm
import pytest
from aimixer_dsp import backend
from aimixer_dsp.errors import InvalidSampleRateError, NonFiniteInputError, ParameterError
from aimixer_dsp.meters import LoudnessMeter, channel_weights, k_weighting_coefficients, peak_db, rms_db
from hypothesis import given, settings
from hypothesis import strategies as st

NEG_INF = float("-inf")
FS = 48000


def _sine(freq: float, db: float, seconds: float, sr: int = 48000, phase: float = 0.0) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    return 10 ** (db / 20) * np.sin(2 * np.pi * freq * t + phase)


def _music(seconds: float, sr: int = 48000, seed: int = 0) -> np.ndarray:
    """Noise bursts + tones with a slow level envelope (exercises LRA and the gates)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    env = 10 ** ((-12 * (0.5 + 0.5 * np.sin(2 * np.pi * 0.13 * t))) / 20)
    x = 0.2 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(n)
    return (0.5 * env * x).astype(np.float64)


def _all_readings(m: LoudnessMeter) -> list[float]:
    return [m.momentary, m.short_term, m.integrated, m.loudness_range, m.momentary_max, m.short_term_max]


def _assert_close(a: list[float], b: list[float], tol: float) -> None:
    for x, y in zip(a, b, strict=True):
        if math.isinf(x) or math.isinf(y):
            assert x == y
        else:
            assert abs(x - y) <= tol, (a, b)


@pytest.fixture(params=["numpy", "pure"])
def path(request):
    """Run a test on both paths; the pure one gets lists."""
    return request.param


def _feed(x: np.ndarray, path: str):
    return x if path == "numpy" else x.tolist()


# -------------------------------------------------------------------------- peak / rms


def test_peak_and_rms_of_a_sine(path):
    x = _sine(997.0, -6.0, 1.0)
    assert peak_db(_feed(x, path)) == pytest.approx(20 * math.log10(np.max(np.abs(x))), abs=1e-9)
    # A sine's RMS is its peak / sqrt(2): -6 dBFS peak -> -9.0103 dBFS RMS.
    assert rms_db(_feed(x, path)) == pytest.approx(-6.0 - 10 * math.log10(2), abs=1e-3)


@pytest.mark.parametrize("block", [[], [0.0], [0.0] * 960])
def test_peak_and_rms_no_value_is_minus_inf(block, path):
    data = np.array(block) if path == "numpy" else block
    assert peak_db(data) == NEG_INF
    assert rms_db(data) == NEG_INF


def test_peak_rms_multichannel_ndarray():
    x = np.stack([_sine(100, -20, 0.1), _sine(100, -6, 0.1)], axis=1)
    assert peak_db(x) == pytest.approx(20 * math.log10(np.max(np.abs(x))), abs=1e-9)
    assert rms_db(x) == pytest.approx(10 * math.log10(np.mean(x**2)), abs=1e-9)


def test_peak_rejects_nan(path):
    x = np.zeros(10)
    x[3] = np.nan
    with pytest.raises(NonFiniteInputError, match="NaN or Inf"):
        peak_db(_feed(x, path))
    with pytest.raises(NonFiniteInputError, match="NaN or Inf"):
        rms_db(_feed(x, path))


# -------------------------------------------------------------------------- K-weighting


def _response_db(coeffs, f: float, sr: int) -> float:
    z = cmath.exp(-2j * math.pi * f / sr)
    g = 1.0
    for b0, b1, b2, a1, a2 in coeffs:
        g *= (b0 + b1 * z + b2 * z * z) / (1 + a1 * z + a2 * z * z)
    return 20 * math.log10(abs(g))


def test_k_weighting_is_the_standard_at_48k():
    shelf, hp = k_weighting_coefficients(48000)
    assert shelf == (
        1.53512485958697,
        -2.69169618940638,
        1.19839281085285,
        -1.69065929318241,
        0.73248077421585,
    )
    assert hp == (1.0, -2.0, 1.0, -1.99004745483398, 0.99007225036621)


@pytest.mark.parametrize("sr", [44100, 32000, 96000, 22050])
@pytest.mark.parametrize("freq", [20.0, 60.0, 200.0, 1000.0, 3000.0, 8000.0])
def test_k_weighting_designed_rates_match_the_48k_response(sr, freq):
    ref = _response_db(k_weighting_coefficients(48000), freq, 48000)
    got = _response_db(k_weighting_coefficients(sr), freq, sr)
    assert got == pytest.approx(ref, abs=0.1 if freq < sr / 4 else 0.3)


def test_channel_weights():
    assert channel_weights(2) == (1.0, 1.0)
    assert channel_weights(5) == (1.0, 1.0, 1.0, 1.41, 1.41)
    assert channel_weights(6)[3] == 0.0


# -------------------------------------------------------------------------- no value


@pytest.mark.parametrize("n", [0, 1, 100, 19199])
def test_short_input_gives_no_value(n, path):
    m = LoudnessMeter(48000)
    m.push(_feed(_sine(1000, -20, n / 48000), path))
    assert m.momentary == NEG_INF
    assert m.short_term == NEG_INF
    assert m.integrated == NEG_INF
    assert m.loudness_range == 0.0
    assert m.momentary_max == NEG_INF
    assert m.short_term_max == NEG_INF


def test_silence_gives_no_value(path):
    m = LoudnessMeter(48000)
    m.push(_feed(np.zeros(48000 * 4), path))
    assert m.momentary == NEG_INF
    assert m.short_term == NEG_INF
    assert m.integrated == NEG_INF
    assert m.loudness_range == 0.0


def test_momentary_matches_pyloudnorm_on_one_block(path):
    x = _sine(1000, -18, 0.4)
    m = LoudnessMeter(48000)
    m.push(_feed(x, path))
    ref = pyloudnorm.Meter(48000, filter_class="DeMan").integrated_loudness(x)
    assert m.momentary == pytest.approx(ref, abs=0.02)
    assert m.integrated == pytest.approx(m.momentary, abs=1e-9)
    assert m.short_term == NEG_INF


def test_short_term_after_three_seconds(path):
    x = _sine(1000, -20, 3.0)
    m = LoudnessMeter(48000)
    m.push(_feed(x, path))
    # the mean square of a steady sine over 3 s equals that over 400 ms
    assert m.short_term == pytest.approx(m.momentary, abs=0.01)
    assert m.short_term_max == m.short_term


def test_max_readings_follow_the_loudest_part(path):
    x = np.concatenate([_sine(1000, -30, 4.0), _sine(1000, -10, 4.0), _sine(1000, -30, 4.0)])
    m = LoudnessMeter(48000)
    m.push(_feed(x, path))
    loud = LoudnessMeter(48000)
    loud.push(_feed(_sine(1000, -10, 4.0), path))
    assert m.momentary_max == pytest.approx(loud.momentary, abs=0.02)
    assert m.short_term_max == pytest.approx(loud.short_term, abs=0.02)
    assert m.momentary < m.momentary_max - 15


def test_reset_clears_readings_and_keeps_settings(path):
    m = LoudnessMeter(44100, channels=1)
    m.push(_feed(_sine(1000, -20, 1.0, 44100), path))
    assert m.integrated > -30
    m.reset()
    assert m.integrated == NEG_INF and m.momentary == NEG_INF and m.samples_seen == 0
    assert m.sample_rate == 44100
    x = _sine(500, -12, 1.0, 44100)
    m.push(_feed(x, path))
    fresh = LoudnessMeter(44100)
    fresh.push(_feed(x, path))
    _assert_close(_all_readings(m), _all_readings(fresh), 1e-12)


def test_nan_is_rejected_before_state_changes(path):
    m = LoudnessMeter(48000)
    x = _sine(1000, -20, 0.5)
    m.push(_feed(x, path))
    before = _all_readings(m), m.samples_seen
    bad = np.full(960, 0.1)
    bad[500] = np.inf
    with pytest.raises(NonFiniteInputError, match="NaN or Inf"):
        m.push(_feed(bad, path))
    assert (_all_readings(m), m.samples_seen) == before


def test_parameter_errors():
    with pytest.raises(InvalidSampleRateError, match="sample_rate=0"):
        LoudnessMeter(0)
    with pytest.raises(ParameterError, match=r"channels=0 is out of range \[1, 16\]"):
        LoudnessMeter(48000, channels=0)


# -------------------------------------------------------------------------- two paths, chunking


def test_numpy_and_pure_paths_agree():
    x = _music(12.0)
    a = LoudnessMeter(48000)
    a.push(x)
    b = LoudnessMeter(48000)
    b.push(x.tolist())
    _assert_close(_all_readings(a), _all_readings(b), 1e-5)
    assert a.loudness_range > 1.0  # the signal has a level envelope


def test_paths_continue_each_others_state():
    x = _music(8.0, seed=3)
    whole = LoudnessMeter(48000)
    whole.push(x)
    mixed = LoudnessMeter(48000)
    cut = 3 * 48000 + 123
    mixed.push(x[:cut].tolist())
    mixed.push(x[cut:])
    _assert_close(_all_readings(whole), _all_readings(mixed), 1e-5)


def test_forced_pure_backend_for_ndarray_input(monkeypatch):
    x = _music(5.0, seed=4)
    a = LoudnessMeter(48000)
    a.push(x)
    # get_backend() reports the effective path ("numpy" under "auto"), so restore the raw
    # setting with monkeypatch rather than set_backend(get_backend()).
    monkeypatch.setattr(backend, "_backend", backend._backend)
    backend.set_backend("pure")
    b = LoudnessMeter(48000)
    b.push(x)
    _assert_close(_all_readings(a), _all_readings(b), 1e-5)


_CHUNK_SIGNAL = _music(6.0, seed=7)


@settings(max_examples=12, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=len(_CHUNK_SIGNAL)), max_size=12), pure=st.booleans())
def test_any_chunking_equals_whole(cuts, pure):
    x = _CHUNK_SIGNAL
    whole = LoudnessMeter(48000)
    whole.push(x)
    chunked = LoudnessMeter(48000)
    bounds = [0, *sorted(cuts), len(x)]
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        chunked.push(x[a:b].tolist() if pure else x[a:b])
    _assert_close(_all_readings(whole), _all_readings(chunked), 1e-6)


def test_960_sample_frames_equal_whole_pure():
    x = _music(4.0, seed=9).tolist()
    whole = LoudnessMeter(48000)
    whole.push(x)
    framed = LoudnessMeter(48000)
    for i in range(0, len(x), 960):
        framed.push(x[i : i + 960])
    _assert_close(_all_readings(whole), _all_readings(framed), 1e-9)


# -------------------------------------------------------------------------- multichannel


def test_stereo_identical_channels_is_mono_plus_3db(path):
    x = _music(5.0, seed=2)
    mono = LoudnessMeter(48000)
    mono.push(_feed(x, path))
    st_m = LoudnessMeter(48000, channels=2)
    stereo = np.stack([x, x], axis=1)
    st_m.push(stereo if path == "numpy" else stereo.tolist())
    assert st_m.integrated == pytest.approx(mono.integrated + 10 * math.log10(2), abs=1e-6)
    assert st_m.loudness_range == pytest.approx(mono.loudness_range, abs=1e-6)


def test_multichannel_paths_agree_and_weights_apply():
    rng = np.random.default_rng(5)
    x = 0.1 * rng.standard_normal((48000 * 2, 5))
    a = LoudnessMeter(48000, channels=5)
    a.push(x)
    b = LoudnessMeter(48000, channels=5)
    b.push(x.tolist())
    _assert_close(_all_readings(a), _all_readings(b), 1e-5)
    # Surround channels count 1.41x: compare against per-channel meters combined by hand.
    energies = []
    for c in range(5):
        m = LoudnessMeter(48000)
        m.push(x[:, c])
        energies.append(10 ** ((m.momentary + 0.691) / 10))
    expected = -0.691 + 10 * math.log10(sum(g * e for g, e in zip(channel_weights(5), energies, strict=True)))
    assert a.momentary == pytest.approx(expected, abs=1e-6)


# -------------------------------------------------------------------------- gating internals


@settings(max_examples=30, deadline=None)
@given(
    levels=st.lists(st.floats(min_value=-90.0, max_value=6.0, allow_nan=False), min_size=0, max_size=300),
)
def test_histogram_gating_equals_the_list_definition(levels):
    """The O(bins) histogram gives the same gated sets as the plain BS.1770 / Tech 3342 lists."""
    from aimixer_dsp.meters import _gated_loudness, _GateHistogram, _loudness_range

    energies = [10 ** ((lv + 0.691) / 10) for lv in levels]
    h = _GateHistogram()
    for z in energies:
        h.add(z)
    ref_i = _gated_loudness(energies)
    ref_lra = _loudness_range(energies)
    got_i = h.integrated()
    assert (got_i == ref_i) if math.isinf(ref_i) else abs(got_i - ref_i) <= 1e-9
    assert abs(h.loudness_range() - ref_lra) <= 1e-9


def test_deferred_partial_blocks_are_exact():
    """``defer_partial``: blocks that complete no 100 ms sub-block wait in a queue (for ``flush``
    or the next completing block / any push); readings and state are exactly those of pushing
    every block at once, whichever path comes next."""
    rng = np.random.default_rng(11)
    x = 0.2 * rng.standard_normal(FS * 5)
    plain = LoudnessMeter(FS)
    lazy = LoudnessMeter(FS)
    lazy.defer_partial = True
    pos = 0
    step = 0
    while pos < x.size:
        n = int(rng.choice([1, 7, 960, 960, 960, 2000, 4800, 5000]))
        blk = x[pos : pos + n]
        pos += n
        step += 1
        plain.push(blk.tolist())
        if step % 11 == 0:
            lazy.push(blk)  # the NumPy path drains the queue first
        elif step % 7 == 0:
            lazy.push(blk.tolist())
        else:
            lazy.push_validated(blk.tolist())
        if step % 5 == 0:
            lazy.flush()
        assert lazy.samples_seen == plain.samples_seen
        for name in ("momentary", "short_term", "integrated", "momentary_max", "short_term_max"):
            assert getattr(lazy, name) == pytest.approx(getattr(plain, name), abs=1e-9), name
    lazy.flush()
    np.testing.assert_allclose(lazy._states, plain._states, rtol=0, atol=1e-12)
    assert lazy.loudness_range == pytest.approx(plain.loudness_range, abs=1e-9)
    lazy.reset()
    assert lazy.samples_seen == 0 and not lazy.flush()


def test_numpy_checked_push_matches_push():
    """``_push_np_checked`` (the session's NumPy path: one dot product per block inside a 100 ms
    sub-block) gives the readings and state of ``push`` on blocks of every length, including
    ones that cross sub-block boundaries, and refuses nothing that ``push`` accepts."""
    rng = np.random.default_rng(12)
    x = 0.3 * rng.standard_normal(FS * 6)
    ref = LoudnessMeter(FS)
    fast = LoudnessMeter(FS)
    pos = 0
    while pos < x.size:
        n = int(rng.choice([10, 63, 64, 960, 960, 960, 1000, 4800, 4801, 9000]))
        blk = np.ascontiguousarray(x[pos : pos + n])
        pos += n
        ref.push(blk)
        fast._push_np_checked(blk)
        assert fast.samples_seen == ref.samples_seen
        for name in ("momentary", "short_term", "integrated", "momentary_max", "short_term_max"):
            assert getattr(fast, name) == pytest.approx(getattr(ref, name), abs=1e-9), name
    np.testing.assert_allclose(fast._states, ref._states, rtol=0, atol=1e-12)
    assert fast.loudness_range == pytest.approx(ref.loudness_range, abs=1e-9)
