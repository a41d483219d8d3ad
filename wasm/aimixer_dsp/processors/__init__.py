"""DSP processors: Gain, NoiseGate, Compressor, Equalizer, Limiter and Chain.

Every processor has ``process(block)``, ``reset()``, ``enabled``, ``latency_samples``,
``sample_rate``, unit-named validated properties, ``settings()`` and ``__repr__``; see
:mod:`.base` for the shared conventions (time constants ``a = exp(-1/(tau*fs))``, i.e. 63 %
of a step after ``tau``; detectors are sample-peak, linked across channels).

Each processor declares its parameters once, as :class:`~.param.Param` class attributes
(API key, unit, range, default, label, ``on_change`` hook); the constructor, properties,
``settings()``, ``__repr__`` and :mod:`aimixer_dsp.presets` (schema, defaults, UI controls,
``build_chain``, the API's JSON Schema) derive from that table. Adding a parameter is one
``Param(...)`` line plus its DSP (the hook and the code that reads ``self._<attr>``).

==============  ========================================================================
processor       parameters (range) and behaviour
==============  ========================================================================
Gain            ``gain_db`` (-20..20), exact multiply
NoiseGate       ``threshold_db`` (-60..0, sample peak), ``attack_ms`` (0.1..100),
                ``hold_ms`` (0..1000), ``release_ms`` (1..5000), ``range_db`` (-120..0):
                open while < hold since the last sample >= threshold; closed -> gain falls
                exponentially (release tau) to the floor; opening is smoothed (attack tau);
                starts closed
Compressor      ``threshold_db`` (-40..0), ``ratio`` (1..20), ``attack_ms`` (0.1..100),
                ``release_ms`` (10..1000), ``knee_db`` (0..24, 0 = hard), ``makeup_db``
                (-12..24): log-domain gain computer (Giannoulis et al. 2012, eq. 4) on the
                sample peak, decoupled peak detector on the gain reduction, zero latency
Equalizer       ``low_db`` / ``mid_db`` / ``high_db`` (-12..12): RBJ low shelf 100 Hz
                (Q 0.7071), peaking 1 kHz (Q 1.0), high shelf 8 kHz (Q 0.7071), designed for
                the sample rate (frequencies capped at 0.4 fs); shelves read gain/2 at the
                corner
Limiter         ``ceiling_db`` (-3..0), ``lookahead_ms`` (0..20, latency
                ``round(lookahead_ms*fs/1000)`` = 72 samples at the 1.5 ms default),
                ``release_ms`` (1..1000): brickwall — output sample peak never exceeds the
                ceiling (1e-6 relative margin), also after float32 rounding
Chain           list-like, itself a processor; ``bypass`` = identity with state untouched
==============  ========================================================================
"""

from __future__ import annotations

from .base import Processor
from .chain import Chain
from .compressor import Compressor
from .eq import Equalizer
from .gain import Gain
from .gate import NoiseGate
from .limiter import Limiter
from .param import Param

__all__ = ["Param", "Processor", "Gain", "NoiseGate", "Compressor", "Equalizer", "Limiter", "Chain"]
