"""Gain stage: a constant gain in dB (-20..+20), exact (``y = x * 10**(gain_db/20)``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Param, Processor, db_to_lin

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    _Array = NDArray[np.float64]

GAIN_RANGE = (-20.0, 20.0)


class Gain(Processor):
    """Input gain.

    Parameters
    ----------
    gain_db : float
        Gain in dB, ``[-20, +20]``. 0 dB is the exact identity.
    sample_rate : int
    enabled : bool
    """

    config_key = "gain"
    stateful = False

    gain_db = Param("gain", "dB", GAIN_RANGE, 0.0, "Input gain", on_change="_gain_changed")
    # the stored values (set by the Params above; the DSP reads these)
    _gain_db: float

    def _gain_changed(self) -> None:
        self._g = db_to_lin(self._gain_db)

    def _py(self, data: list[float]) -> list[float]:
        g = self._g
        if g == 1.0:
            return data
        return [v * g for v in data]

    def _np(self, x: _Array) -> _Array:
        if self._g == 1.0:
            return x
        return x * self._g
