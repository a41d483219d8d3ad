"""Contract tests run over every processor and the Chain, on both backends."""

from __future__ import annotations

import numpy as np
import pytest
from aimixer_dsp.errors import InvalidBufferError, NonFiniteInputError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import FACTORIES, make_signal, run

SIG = make_signal(3000, seed=1)


def test_empty_block(factory_name, backend):
    p = FACTORIES[factory_name]()
    out = run(p, np.zeros(0), backend)
    assert out.shape == (0,)
    # an empty block changes nothing: the next result equals a fresh processor's
    ref = run(FACTORIES[factory_name](), SIG[:500], backend)
    np.testing.assert_allclose(run(p, SIG[:500], backend), ref, rtol=0, atol=1e-9)


def test_one_sample_and_length(factory_name, backend):
    p = FACTORIES[factory_name]()
    assert run(p, np.array([0.5]), backend).shape == (1,)
    for n in (2, 7, 960, 1001):
        assert run(p, SIG[:n], backend).shape == (n,)


def test_frames_of_960_equal_whole(factory_name, backend):
    whole = run(FACTORIES[factory_name](), SIG, backend)
    p = FACTORIES[factory_name]()
    parts = np.concatenate([run(p, SIG[i : i + 960], backend) for i in range(0, len(SIG), 960)])
    np.testing.assert_allclose(parts, whole, rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", sorted(FACTORIES))
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=8), seed=st.integers(0, 3))
def test_random_chunking_equals_whole(name, cuts, seed):
    x = make_signal(2000, seed=seed)
    edges = [0, *sorted(cuts), len(x)]
    for backend in ("pure", "numpy"):
        whole = run(FACTORIES[name](), x, backend)
        p = FACTORIES[name]()
        parts = np.concatenate([run(p, x[a:b], backend) for a, b in zip(edges[:-1], edges[1:], strict=True)])
        np.testing.assert_allclose(parts, whole, rtol=0, atol=1e-6)


def test_backends_agree(factory_name):
    a = run(FACTORIES[factory_name](), SIG, "pure")
    b = run(FACTORIES[factory_name](), SIG, "numpy")
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)
    assert np.abs(b).max() > 0


def test_state_continues_across_backends(factory_name):
    whole = run(FACTORIES[factory_name](), SIG, "numpy")
    p = FACTORIES[factory_name]()
    mixed = np.concatenate(
        [run(p, SIG[:1100], "pure"), run(p, SIG[1100:2000], "numpy"), run(p, SIG[2000:], "pure")]
    )
    np.testing.assert_allclose(mixed, whole, rtol=0, atol=1e-5)


def test_reset_clears_state_keeps_params(factory_name, backend):
    p = FACTORIES[factory_name]()
    before = repr(p)
    run(p, SIG[:1700], backend)
    p.reset()
    assert repr(p) == before
    np.testing.assert_allclose(
        run(p, SIG[:900], backend), run(FACTORIES[factory_name](), SIG[:900], backend), rtol=0, atol=1e-9
    )


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_nonfinite_rejected_state_untouched(factory_name, backend, bad):
    p = FACTORIES[factory_name]()
    first = run(p, SIG[:1200], backend)
    blk = SIG[1200:1300].copy()
    blk[37] = bad
    with pytest.raises(NonFiniteInputError, match="NaN or Inf"):
        run(p, blk, backend)
    rest = run(p, SIG[1200:], backend)
    ref = run(FACTORIES[factory_name](), SIG, backend)
    np.testing.assert_allclose(np.concatenate([first, rest]), ref, rtol=0, atol=1e-9)


def test_disabled_is_identity_and_keeps_state(factory_name, backend):
    p = FACTORIES[factory_name]()
    a = run(p, SIG[:1000], backend)
    p.enabled = False
    np.testing.assert_array_equal(run(p, SIG[1000:2000], backend), SIG[1000:2000])
    p.enabled = True
    b = run(p, SIG[2000:], backend)
    q = FACTORIES[factory_name]()
    np.testing.assert_allclose(
        np.concatenate([a, b]),
        np.concatenate([run(q, SIG[:1000], backend), run(q, SIG[2000:], backend)]),
        rtol=0,
        atol=1e-9,
    )


def test_linked_stereo(factory_name):
    """(frames, channels): detection is linked, so channel 1 = 0.5 * channel 0 stays so,
    and channel 0 equals the mono result."""
    x = np.stack([SIG, 0.5 * SIG], axis=1)
    y = FACTORIES[factory_name]().process(x)
    assert y.shape == x.shape
    np.testing.assert_allclose(y[:, 1], 0.5 * y[:, 0], rtol=0, atol=1e-9)
    np.testing.assert_allclose(y[:, 0], run(FACTORIES[factory_name](), SIG, "numpy"), rtol=0, atol=1e-9)


def test_channel_count_change_needs_reset(factory_name):
    p = FACTORIES[factory_name]()
    p.process(np.zeros((10, 2)) + 0.1)
    if factory_name == "gain":
        p.process(np.zeros(10))  # stateless: no constraint
        return
    with pytest.raises(InvalidBufferError, match="reset"):
        p.process(np.zeros(10))
    p.reset()
    assert p.process(np.zeros(10)).shape == (10,)


def test_bad_buffers_rejected(factory_name):
    p = FACTORIES[factory_name]()
    with pytest.raises(InvalidBufferError):
        p.process("abc")
    with pytest.raises(InvalidBufferError):
        p.process(np.zeros((2, 2, 2)))
    with pytest.raises(InvalidBufferError):
        p.process([0.1, "x"])


def test_repr_and_settings(factory_name):
    p = FACTORIES[factory_name]()
    assert type(p).__name__ in repr(p)
    s = p.settings()
    assert isinstance(s, dict)
    assert p.latency_samples >= 0
    assert p.sample_rate == 48000
