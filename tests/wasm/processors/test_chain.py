from __future__ import annotations

import numpy as np
import pytest
from aimixer_dsp.errors import NonFiniteInputError, ParameterError
from aimixer_dsp.processors import Chain, Compressor, Equalizer, Gain, Limiter, NoiseGate

from .conftest import make_signal, run


def test_chain_equals_stages_in_sequence(backend):
    x = make_signal(3000, seed=11)

    def stages():
        return [Gain(6), NoiseGate(-30, hold_ms=2), Compressor(-20, 4), Equalizer(3, -2, 4), Limiter(-1)]

    y = run(Chain(stages()), x, backend)
    ref = x
    for p in stages():
        ref = run(p, ref, backend)
    np.testing.assert_allclose(y, ref, rtol=0, atol=1e-12)


def test_list_like_and_latency():
    ch = Chain([Gain(3), Limiter(lookahead_ms=1.5)])
    assert len(ch) == 2 and isinstance(ch[0], Gain)
    assert ch.latency_samples == 72
    ch.append(Limiter(lookahead_ms=1.0))
    assert ch.latency_samples == 72 + 48
    ch[2].enabled = False
    assert ch.latency_samples == 72
    del ch[2]
    ch.insert(0, Equalizer(low_db=2))
    assert [type(p).__name__ for p in ch] == ["Equalizer", "Gain", "Limiter"]
    assert ch.find(Limiter) is ch[2]
    ch.bypass = True
    assert ch.latency_samples == 0
    with pytest.raises(ParameterError, match="not a Processor"):
        ch.append("gain")
    assert "Chain([Equalizer(" in repr(ch)


def test_bypass_is_identity_and_keeps_state(backend):
    x = make_signal(2000, seed=12)
    ch = Chain([Gain(6), Compressor(-30, 8), Limiter(-1)])
    a = run(ch, x[:1000], backend)
    ch.bypass = True
    np.testing.assert_array_equal(run(ch, x, backend), x)
    ch.bypass = False
    b = run(ch, x[1000:], backend)
    ref = run(Chain([Gain(6), Compressor(-30, 8), Limiter(-1)]), x, backend)
    np.testing.assert_allclose(np.concatenate([a, b]), ref, rtol=0, atol=1e-9)


def test_nested_chain_and_sample_rates():
    inner = Chain([Gain(6)])
    outer = Chain([inner, Gain(-6)])
    np.testing.assert_allclose(outer.process([0.25, -0.5]), [0.25, -0.5], rtol=1e-15)
    with pytest.raises(ParameterError, match="different sample rates"):
        Chain([Gain(0, sample_rate=48000), Gain(0, sample_rate=44100)])


def test_settings_shape():
    s = Chain([Gain(2), NoiseGate(), Compressor(), Equalizer(), Limiter()], bypass=False).settings()
    assert set(s) == {"gain", "noiseGate", "compressor", "eq", "limiter", "bypass"}
    assert s["gain"] == 2.0 and s["compressor"]["ratio"] == 4.0 and s["limiter"]["ceiling"] == -1.0


def test_long_block_is_chunked_internally_and_equals_frames():
    from aimixer_dsp.processors.chain import CHUNK

    from .conftest import FACTORIES

    x = np.concatenate([make_signal(6000, seed=s) for s in range(7)])
    assert len(x) > 2 * CHUNK
    whole = FACTORIES["chain"]().process(x)
    ch = FACTORIES["chain"]()
    frames = np.concatenate([ch.process(x[i : i + 960]) for i in range(0, len(x), 960)])
    np.testing.assert_allclose(whole, frames, rtol=0, atol=1e-6)
    st = np.stack([x, -0.25 * x], axis=1)
    y = FACTORIES["chain"]().process(st)
    np.testing.assert_allclose(y[:, 0], whole, rtol=0, atol=1e-9)


def test_long_float32_block_equals_float64():
    """A long float32 block (checked as float32, converted chunk by chunk) gives the float64
    result, leaves the input untouched and is rejected with NaN/Inf before any stage runs."""
    from aimixer_dsp.processors.chain import CHUNK

    from .conftest import FACTORIES

    x = np.concatenate([make_signal(6000, seed=s) for s in range(7)]).astype(np.float32)
    assert len(x) > 2 * CHUNK
    keep = x.copy()
    y = FACTORIES["chain"]().process(x)
    ref = FACTORIES["chain"]().process(x.astype(np.float64))
    assert y.dtype == np.float64 and y.shape == x.shape
    np.testing.assert_array_equal(y, ref)
    np.testing.assert_array_equal(x, keep)
    for bad in (np.nan, np.inf):
        xb = x.copy()
        xb[len(x) - 5] = bad
        ch = FACTORIES["chain"]()
        ch.process(x[:960])
        before = ch.process(x[960:1920])
        ch2 = FACTORIES["chain"]()
        ch2.process(x[:960])
        with pytest.raises(NonFiniteInputError) as err:
            ch2.process(xb)
        assert err.value.details["index"] == len(x) - 5
        np.testing.assert_array_equal(ch2.process(x[960:1920]), before)  # state untouched
