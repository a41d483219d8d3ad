"""The pure path fuses Compressor -> Equalizer into one loop (speed in Pyodide); it must equal
running the two stages one after the other, frame after frame, state included."""

from __future__ import annotations

import aimixer_dsp.processors.chain as chain_mod
import pytest
from aimixer_dsp.processors import Chain, Compressor, Equalizer

from .conftest import FS, make_signal

CASES = [
    dict(
        comp=dict(threshold_db=-24.0, ratio=4.0, attack_ms=1.0, release_ms=20.0),
        eq=(6.0, -4.0, 5.0),
        fused=True,
    ),
    dict(
        comp=dict(threshold_db=-40.0, ratio=20.0, attack_ms=0.1, release_ms=10.0),
        eq=(-12.0, 12.0, -3.0),
        fused=True,
    ),
    # soft knee and makeup gain are fused too (makeup folded into the EQ)
    dict(comp=dict(threshold_db=-20.0, ratio=3.0, knee_db=6.0), eq=(2.0, 1.0, 3.0), fused=True),
    dict(
        comp=dict(
            threshold_db=-16.0, ratio=4.0, attack_ms=10.0, release_ms=150.0, knee_db=3.0, makeup_db=-5.0
        ),
        eq=(2.0, -1.0, 2.0),
        fused=True,
    ),
    # not covered by the fused loop (a flat band): must fall back, same result
    dict(comp=dict(threshold_db=-20.0, ratio=3.0, makeup_db=4.0), eq=(2.0, 0.0, 3.0), fused=False),
]


@pytest.mark.parametrize("case", CASES)
def test_fused_compressor_eq_equals_stages_in_turn(case, monkeypatch):
    taken: list[bool] = []
    real = chain_mod._fused_compressor_eq

    def spy(*args):
        out = real(*args)
        taken.append(out is not None)
        return out

    monkeypatch.setattr(chain_mod, "_fused_compressor_eq", spy)
    x = (make_signal(9600, seed=3) * 2.0).tolist()
    fused = Chain([Compressor(**case["comp"], sample_rate=FS), Equalizer(*case["eq"], sample_rate=FS)])
    comp = Compressor(**case["comp"], sample_rate=FS)
    eq = Equalizer(*case["eq"], sample_rate=FS)
    for s in range(0, len(x), 960):
        frame = x[s : s + 960]
        got = fused.process(frame)
        want = eq.process(comp.process(frame))
        assert isinstance(got, list) and len(got) == len(frame)
        assert max(abs(a - b) for a, b in zip(got, want, strict=True)) <= 1e-12
    # the carried state is the same too: one more frame after a reset-free continuation
    tail = x[:960]
    assert (
        max(abs(a - b) for a, b in zip(fused.process(tail), eq.process(comp.process(tail)), strict=True))
        <= 1e-12
    )
    assert taken and all(t == case["fused"] for t in taken)
