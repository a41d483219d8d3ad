from __future__ import annotations

import numpy as np
import pytest
from aimixer_dsp.errors import ParameterError
from aimixer_dsp.processors import Gain

from .conftest import make_signal, run


@pytest.mark.parametrize("db", [-20.0, -6.0, 0.0, 3.5, 20.0])
def test_gain_is_exact(db, backend):
    x = make_signal(2000, seed=3)
    y = run(Gain(db), x, backend)
    g = 10.0 ** (db / 20.0)
    np.testing.assert_allclose(y, x * g, rtol=1e-15, atol=0)
    # measured level change in dB
    assert 20 * np.log10(np.abs(y).max() / np.abs(x).max()) == pytest.approx(db, abs=1e-12)


def test_zero_db_is_identity(backend):
    x = make_signal(500, seed=4)
    np.testing.assert_array_equal(run(Gain(0.0), x, backend), x)


@pytest.mark.parametrize("bad", [-20.5, 21, float("nan"), float("inf")])
def test_range(bad):
    with pytest.raises(ParameterError, match=r"gain_db=.* is out of range \[-20, 20\]"):
        Gain(bad)


def test_type_and_setter():
    with pytest.raises(ParameterError, match="gain_db='3' must be a number"):
        Gain("3")
    with pytest.raises(ParameterError, match="must be a number"):
        Gain(True)
    g = Gain(1.0)
    g.gain_db = -3
    assert g.gain_db == -3.0
    with pytest.raises(ParameterError) as ei:
        g.gain_db = 30
    assert ei.value.name == "gain_db" and ei.value.value == 30 and ei.value.range == (-20.0, 20.0)
    assert g.gain_db == -3.0  # unchanged after a rejected value
