"""Gain stage: a constant gain in dB (-20..+20), exact (``y = x * 10**(gain_db/20)``)."""

from __future__ import annotations

from typing import Any

from .base import Processor, check_param, db_to_lin

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

    def __init__(self, gain_db: float = 0.0, *, sample_rate: int = 48000, enabled: bool = True) -> None:
        self.gain_db = gain_db
        super().__init__(sample_rate=sample_rate, enabled=enabled)

    @property
    def gain_db(self) -> float:
        """Gain in dB, ``[-20, +20]``."""
        return self._gain_db

    @gain_db.setter
    def gain_db(self, value: float) -> None:
        self._gain_db = check_param("gain_db", value, *GAIN_RANGE)
        self._g = db_to_lin(self._gain_db)

    def settings(self) -> dict:
        return {"enabled": self._enabled, "gain": self._gain_db}

    def _repr_params(self) -> dict:
        return {"gain_db": self._gain_db}

    def _py(self, data: list) -> list:
        g = self._g
        if g == 1.0:
            return data
        return [v * g for v in data]

    def _np(self, x: Any) -> Any:
        if self._g == 1.0:
            return x
        return x * self._g
