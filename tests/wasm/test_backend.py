from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from aimixer_dsp import backend
from aimixer_dsp.errors import InvalidBufferError, NonFiniteInputError, ParameterError
from aimixer_dsp.processors import Gain


@pytest.fixture(autouse=True)
def _restore():
    yield
    backend.set_backend("auto")


def test_dispatch_by_input_type():
    g = Gain(6)
    assert backend.HAVE_NUMPY
    assert backend.get_backend() == "numpy"
    assert isinstance(g.process([0.1, 0.2]), list)
    y = g.process(np.array([0.1, 0.2], dtype=np.float32))
    assert isinstance(y, np.ndarray) and y.dtype == np.float64


def test_pure_forces_lists():
    backend.set_backend("pure")
    assert backend.get_backend() == "pure"
    y = Gain(6).process(np.array([0.1, 0.2]))
    assert isinstance(y, list)


def test_numpy_forces_arrays():
    backend.set_backend("numpy")
    y = Gain(6).process([0.1, 0.2])
    assert isinstance(y, np.ndarray)


def test_bad_backend_name():
    with pytest.raises(ParameterError, match="backend='fast' is not one of"):
        backend.set_backend("fast")


def test_import_reads_no_environment_apply_env_does():
    # no work at import: the variable takes effect only where a program applies it
    code = (
        "from aimixer_dsp import backend; print(backend.get_backend()); "
        "print(backend.apply_env()); print(backend.get_backend())"
    )
    env = dict(os.environ, AIMIXER_DSP_BACKEND="pure")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["numpy", "pure", "pure"]


def test_apply_env_values():
    assert backend.apply_env({}) is None
    assert backend.apply_env({"AIMIXER_DSP_BACKEND": "  "}) is None
    assert backend.get_backend() == "numpy"
    assert backend.apply_env({"AIMIXER_DSP_BACKEND": "PURE"}) == "pure"
    assert backend.get_backend() == "pure"
    with pytest.raises(ParameterError, match="backend='fast' is not one of"):
        backend.apply_env({"AIMIXER_DSP_BACKEND": "fast"})
    assert backend.get_backend() == "pure"  # a refused value changes nothing


def test_using_backend_restores_the_previous_setting():
    with backend.using_backend("pure"):
        assert isinstance(Gain(6).process(np.array([0.1])), list)
    assert backend.get_backend() == "numpy"
    backend.set_backend("pure")
    with pytest.raises(RuntimeError), backend.using_backend("auto"):
        assert backend.get_backend() == "numpy"
        raise RuntimeError
    assert backend.get_backend() == "pure"
    with pytest.raises(ParameterError), backend.using_backend("fast"):
        pass
    assert backend.get_backend() == "pure"


def test_validation_helpers():
    assert backend.as_float_list((1, 2.5)) == [1, 2.5]
    with pytest.raises(NonFiniteInputError, match="first at sample 1"):
        backend.as_float_list([0.0, float("nan")])
    with pytest.raises(NonFiniteInputError):
        backend.as_array(np.array([[0.0, np.inf]]))
    with pytest.raises(InvalidBufferError):
        backend.as_float_list([[0.1, 0.2]])
    with pytest.raises(InvalidBufferError):
        backend.as_array(np.zeros((2, 2, 2)))
    # huge but finite values are not mistaken for Inf (their sum overflows)
    assert len(backend.as_float_list([1e308, 1e308])) == 2
    backend.as_array(np.array([1e308, 1e308]))
