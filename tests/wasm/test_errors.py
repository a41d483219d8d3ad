from __future__ import annotations

import json

import pytest
from aimixer_dsp.errors import (
    DSPError,
    InvalidBufferError,
    InvalidSampleRateError,
    NonFiniteInputError,
    ParameterError,
)


def test_parameter_error_message_and_fields():
    e = ParameterError("compressor.ratio", 25, (1, 20))
    assert str(e) == "compressor.ratio=25 is out of range [1, 20]"
    assert (e.name, e.value, e.range, e.code) == ("compressor.ratio", 25, (1, 20), "INVALID_PARAMETER")
    assert e.details == {"parameter": "compressor.ratio", "value": 25, "range": [1, 20]}
    assert isinstance(e, ValueError) and isinstance(e, DSPError)


def test_parameter_error_choices_and_custom_message():
    e = ParameterError("genre", "pop", ("speech", "rock"))
    assert str(e) == "genre='pop' is not one of ['speech', 'rock']"
    e2 = ParameterError("x", "y", message="custom")
    assert str(e2) == "custom" and e2.range is None


def test_details_are_json_safe():
    e = ParameterError("gain", float("nan"), (-20.0, 20.0))
    json.dumps(e.to_dict(), allow_nan=False)
    assert e.to_dict()["code"] == "INVALID_PARAMETER"
    e = ParameterError("gain", object(), (-20.0, 20.0))
    json.dumps(e.to_dict(), allow_nan=False)


@pytest.mark.parametrize(
    "cls,code",
    [
        (InvalidBufferError, "INVALID_BUFFER_SIZE"),
        (NonFiniteInputError, "INVALID_AUDIO"),
        (InvalidSampleRateError, "INVALID_SAMPLE_RATE"),
        (DSPError, "DSP_ERROR"),
    ],
)
def test_codes(cls, code):
    e = cls("msg") if cls is not NonFiniteInputError else cls(index=3)
    assert e.code == code
    assert issubclass(cls, DSPError)
    with pytest.raises(DSPError):
        raise e


def test_nonfinite_index():
    e = NonFiniteInputError(index=7)
    assert "sample 7" in str(e) and e.details == {"index": 7}
