"""EBU Tech 3341 (cases 1-6, 9, 10, 12, 13, 15-23) and Tech 3342 (cases 1-4) test signals.

Synthesised from the definitions in Tech 3341 Table 1 (2016/2023) and Tech 3342 Table 1 at
48 kHz and quantised to 24 bits, as the EBU's own files are. Used by
``tests/wasm/test_ebu_conformance.py`` and ``bench/bench_conformance.py`` (which also runs
ffmpeg's ``ebur128`` on the same signals).

Choices where the texts leave one (documented in the README):

* tones are 1 kHz sines starting at phase 0; levels are per-channel peak dBFS;
* cases 15-19: 2 s tones with 10 ms linear fade-in/out;
* cases 20-23: the tone is synthesised at 4 fs = 192 kHz (0.5 FS sine at fs/6 with one period
  of a 1.0 FS sine at fs/4 inserted at a zero crossing, both continuous in phase), tapered with
  10 ms linear fades, low-pass filtered by a linear-phase FIR (Kaiser-windowed sinc, 2047
  taps, beta 12, cut-off 21 kHz, i.e. below the 24 kHz Nyquist frequency of the result), and
  decimated by 4 starting at sample offset 0, 1, 2 or 3;
* cases 10 and 13 are 20 separate signals each (file-based meters), measured one by one.

Each case is ``Case(doc, number, signal(s), checks)``, with ``checks`` a list of
``(quantity, expected, lower tolerance, upper tolerance)``; quantities: ``I`` (integrated
LUFS), ``M`` / ``S`` (momentary / short-term at the end of the signal), ``Mmax`` / ``Smax``,
``Sconst`` / ``Mconst`` (every short-term / momentary reading after 3 s / 1 s), ``TP``
(max true peak, dBTP), ``LRA`` (LU).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

FS = 48000
_LU = (0.1, 0.1)
_TP = (0.4, 0.2)
_LRA = (1.0, 1.0)


@dataclass
class Case:
    doc: int  # 3341 or 3342
    number: int
    title: str
    signals: list  # one (frames, channels) float array, or 20 (cases 10 and 13)
    checks: list = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.doc}-{self.number}"


def quantise24(x: np.ndarray) -> np.ndarray:
    """Round to 24-bit PCM (and clip to its range), as a 24-bit WAV file holds it."""
    q = np.round(x * 8388608.0)
    return np.clip(q, -8388608, 8388607) / 8388608.0


def _tone(db: float, seconds: float, freq: float = 1000.0) -> np.ndarray:
    n = int(round(seconds * FS))
    return 10 ** (db / 20) * np.sin(2 * np.pi * freq * np.arange(n) / FS)


def _stereo(*parts: np.ndarray) -> np.ndarray:
    x = np.concatenate(parts)
    return quantise24(np.stack([x, x], axis=1))


def _fade(x: np.ndarray, seconds: float, rate: int = FS) -> np.ndarray:
    k = int(seconds * rate)
    w = np.ones(x.size)
    w[:k] = np.linspace(0.0, 1.0, k)
    w[-k:] = np.linspace(1.0, 0.0, k)
    return x * w


def _tp_tone(freq: float, amp: float, phase_deg: float) -> np.ndarray:
    n = np.arange(2 * FS)
    x = _fade(amp * np.sin(2 * np.pi * freq * n / FS + np.radians(phase_deg)), 0.01)
    return quantise24(np.stack([x, x], axis=1))


def _lowpass_192k() -> np.ndarray:
    taps, beta, cutoff, rate = 2047, 12.0, 21000.0, 4 * FS
    n = np.arange(taps) - (taps - 1) / 2
    h = 2 * cutoff / rate * np.sinc(2 * cutoff / rate * n) * np.kaiser(taps, beta)
    return h / h.sum()


def _case20(offset: int) -> np.ndarray:
    rate = 4 * FS
    f6 = FS / 6  # 8 kHz: 24 samples per period at 192 kHz
    f4 = FS / 4  # 12 kHz: 16 samples per period
    before = 0.5 * np.sin(2 * np.pi * f6 * np.arange(24 * 8000) / rate)  # 1 s, whole periods
    burst = 1.0 * np.sin(2 * np.pi * f4 * np.arange(16) / rate)
    after = 0.5 * np.sin(2 * np.pi * f6 * np.arange(24 * 8000) / rate)
    x = _fade(np.concatenate([before, burst, after]), 0.01, rate)
    y = np.convolve(x, _lowpass_192k(), mode="same")[offset::4]
    return quantise24(np.stack([y, y], axis=1))


def _ebu3342(levels: list[float]) -> np.ndarray:
    return _stereo(*[_tone(db, 20.0) for db in levels])


def build_cases() -> list[Case]:
    """All cases (about 30 s of CPU to synthesise and measure on the NumPy path)."""
    cases = [
        Case(3341, 1, "1 kHz -23 dBFS, 20 s", [_stereo(_tone(-23, 20))], [(q, -23.0, *_LU) for q in "MSI"]),
        Case(3341, 2, "1 kHz -33 dBFS, 20 s", [_stereo(_tone(-33, 20))], [(q, -33.0, *_LU) for q in "MSI"]),
        Case(
            3341,
            3,
            "-36/-23/-36 dBFS, 10/60/10 s",
            [_stereo(_tone(-36, 10), _tone(-23, 60), _tone(-36, 10))],
            [("I", -23.0, *_LU)],
        ),
        Case(
            3341,
            4,
            "-72/-36/-23/-36/-72 dBFS, 10/10/60/10/10 s",
            [_stereo(_tone(-72, 10), _tone(-36, 10), _tone(-23, 60), _tone(-36, 10), _tone(-72, 10))],
            [("I", -23.0, *_LU)],
        ),
        Case(
            3341,
            5,
            "-26/-20/-26 dBFS, 20/20.1/20 s",
            [_stereo(_tone(-26, 20), _tone(-20, 20.1), _tone(-26, 20))],
            [("I", -23.0, *_LU)],
        ),
    ]
    lr, c, s = _tone(-28, 20), _tone(-24, 20), _tone(-30, 20)
    cases.append(
        Case(
            3341,
            6,
            "5.0: L/R -28, C -24, Ls/Rs -30 dBFS",
            [quantise24(np.stack([lr, lr, c, s, s], axis=1))],
            [("I", -23.0, *_LU)],
        )
    )
    cases.append(
        Case(
            3341,
            9,
            "(1.34 s -20, 1.66 s -30 dBFS) x5",
            [_stereo(*([_tone(-20, 1.34), _tone(-30, 1.66)] * 5))],
            [("Sconst", -23.0, *_LU)],
        )
    )
    cases.append(
        Case(
            3341,
            10,
            "20 x (i*0.15 s silence, 3 s -23 dBFS, 1 s silence)",
            [_stereo(np.zeros(int(round(i * 0.15 * FS))), _tone(-23, 3), np.zeros(FS)) for i in range(20)],
            [("Smax", -23.0, *_LU)],
        )
    )
    cases.append(
        Case(
            3341,
            12,
            "(0.18 s -20, 0.22 s -30 dBFS) x25",
            [_stereo(*([_tone(-20, 0.18), _tone(-30, 0.22)] * 25))],
            [("Mconst", -23.0, *_LU)],
        )
    )
    cases.append(
        Case(
            3341,
            13,
            "20 x (i*20 ms silence, 400 ms -23 dBFS, 1 s silence)",
            [_stereo(np.zeros(int(round(i * 0.02 * FS))), _tone(-23, 0.4), np.zeros(FS)) for i in range(20)],
            [("Mmax", -23.0, *_LU)],
        )
    )
    for num, (freq, amp, ph, want) in zip(
        range(15, 20),
        [
            (FS / 4, 0.5, 0.0, -6.0),
            (FS / 4, 0.5, 45.0, -6.0),
            (FS / 6, 0.5, 60.0, -6.0),
            (FS / 8, 0.5, 67.5, -6.0),
            (FS / 4, 1.41, 45.0, 3.0),
        ],
        strict=True,
    ):
        cases.append(
            Case(
                3341,
                num,
                f"fs/{round(FS / freq)} {amp} FS {ph} deg",
                [_tp_tone(freq, amp, ph)],
                [("TP", want, *_TP)],
            )
        )
    for k in range(4):
        cases.append(
            Case(3341, 20 + k, f"fs/6 with one fs/4 period, offset {k}", [_case20(k)], [("TP", 0.0, *_TP)])
        )
    for num, levels, want in [
        (1, [-20, -30], 10.0),
        (2, [-20, -15], 5.0),
        (3, [-40, -20], 20.0),
        (4, [-50, -35, -20, -35, -50], 15.0),
    ]:
        cases.append(
            Case(
                3342,
                num,
                "/".join(f"{v}" for v in levels) + " dBFS x 20 s",
                [_ebu3342(levels)],
                [("LRA", want, *_LRA)],
            )
        )
    return cases  # fmt: skip


def measure(signal: np.ndarray, *, pure: bool = False) -> dict:
    """Our readings of one signal (fresh meters): I, M, S, Mmax, Smax, Sconst/Mconst lists, TP,
    LRA. ``pure``: feed lists (the Pyodide path) in 1 s blocks instead of one ndarray."""
    from aimixer_dsp.meters import LoudnessMeter
    from aimixer_dsp.truepeak import TruePeakMeter

    ch = signal.shape[1]
    meter = LoudnessMeter(FS, ch, exact_max=True)
    tp = TruePeakMeter(FS, ch)
    st: list[float] = []
    mo: list[float] = []
    step = FS // 10
    for i in range(0, signal.shape[0], step):
        block = signal[i : i + step]
        if pure:
            block = block.tolist()
        meter.push(block)
        tp.push(block)
        t = min(signal.shape[0], i + step) / FS
        if t > 3.0 + 1e-9 and meter.short_term > -70:
            st.append(meter.short_term)
        if t > 1.0 + 1e-9 and meter.momentary > -70:
            mo.append(meter.momentary)
    return {
        "I": meter.integrated,
        "M": meter.momentary,
        "S": meter.short_term,
        "Mmax": meter.momentary_max,
        "Smax": meter.short_term_max,
        "Sconst": st,
        "Mconst": mo,
        "TP": tp.true_peak,
        "LRA": meter.loudness_range,
    }
