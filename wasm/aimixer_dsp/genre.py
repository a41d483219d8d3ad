"""Genre model inputs and the streaming genre classifier.

The model (``models/genre.onnx``) sees one vector per analysis window, built here from the
feature functions of :mod:`aimixer_dsp.features` only, so the origin (CPython, NumPy or pure
path) and the browser (Pyodide, pure path) compute identical inputs.

Analysis frames
---------------
The model looks at short analysis frames every ``HOP = 4800`` samples (100 ms) at 48 kHz. They
are sparse on purpose: the browser computes them in pure Python as audio arrives, one analysis
frame per five 960-sample mixer frames. Analysis frame ``t`` uses the segment
``S_t = samples[t*HOP : t*HOP + SEG]`` with ``SEG = 767`` samples and ``N_FFT = 512``:

* ``mfcc``: 13 MFCCs (40 mel bands, c0 included) =
  ``features.mfcc(S_t[256:], n_fft=512, hop_length=256)[1]``, i.e. the centred frame that covers
  ``S_t[256:767]`` plus one zero sample (the periodic Hann window is 4e-5 there); the 80 dB
  floor of the log-mel step is relative to the louder of the call's two frames;
* ``centroid`` (Hz), ``rolloff`` (Hz), ``zcr``, ``flux``: value ``[2]`` of
  ``features.frame_features(S_t, n_fft=512, hop_length=256)``, i.e. the same 512-sample frame;
  its flux is measured against the frame 256 samples (5.3 ms) earlier, ``S_t[0:512]``. The row
  stores ``log10(flux + 1e-10)``.

A window of ``L`` samples has ``T = (L - SEG) // HOP + 1`` analysis frames (3 s -> 30 frames,
5 s -> 50 frames). Both calls use features' librosa-style centred framing; picking the fully
covered frame out of a 2- or 3-frame call keeps every analysis frame independent of the
others, so the streaming and the whole-window computation are the same calls on the same
samples (bit-identical on the same backend). On the pure path the row is computed without the
two calls, from the three distinct frames among their five (see ``_segment_row_pure``), with the
same operations: the values are bit-identical to the calls'.

Feature vector (48 values, in this order; ``FEATURE_SPEC["names"]`` lists them)
-------------------------------------------------------------------------------
* ``mfcc_mean[0..12]``  mean of each MFCC over the window's analysis frames
* ``mfcc_std[0..12]``   population standard deviation of each MFCC
* ``dmfcc_mad[0..12]``  mean absolute first difference of each MFCC between consecutive frames
* ``centroid_mean, centroid_std, rolloff_mean, rolloff_std`` (Hz)
* ``logflux_mean, logflux_std``
* ``zcr_mean, zcr_std``
* ``low_energy_ratio``  fraction of frames whose c0 is more than 3 below the window's mean c0
  (pauses between words make this high for speech)

Streaming classifier and hysteresis
-----------------------------------
:class:`StreamingGenreClassifier` keeps the per-frame rows of the last window and computes one
new row whenever a frame's last sample arrives (cost spread evenly, no burst per window). Every
``hop_s`` seconds (once ``window_s`` of audio has been seen) a window is due: its vector is
*exactly* ``feature_vector`` of the same samples. The verdicts go through this rule:

* a verdict needs confidence: only a window whose top probability is at least
  ``min_confidence`` (default ``AUTO_MIN_CONFIDENCE`` = 0.6, on the model's calibrated
  probabilities) can set or change ``genre``. Until the first such window ``genre`` stays
  ``None``, and ``genre: "auto"`` keeps the neutral default settings;
* the first confident window sets ``genre`` to its top class;
* after that, a window whose top class ``c`` differs from the current genre ``g`` counts as a
  challenge only if ``p[c] >= p[g] + margin`` (default 0.15) and ``p[c] >= min_confidence``;
  ``switch_windows`` (default 3) consecutive challenges by the same class switch ``genre`` to
  ``c``. Any other window resets the count;
* ``confidence`` is the latest window's probability of the current ``genre``.

Sample rates: the model and these functions are defined at 48 kHz (the mixer API's rate).
Other rates raise :class:`~aimixer_dsp.errors.InvalidSampleRateError`; resample first (the
CLI does, see ``origin.genre.resample_to_48k``).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from operator import ne
from typing import Any

from . import GENRES, SAMPLE_RATE
from .errors import DSPError, InvalidBufferError, InvalidSampleRateError, ParameterError

__all__ = [
    "FEATURE_SPEC",
    "FEATURE_NAMES",
    "N_FFT",
    "HOP",
    "SEG",
    "feature_vector",
    "frame_rows",
    "aggregate_rows",
    "window_starts",
    "verdict",
    "StreamingGenreClassifier",
    "AUTO_MIN_CONFIDENCE",
    "MFCC_SPEC",
    "MATRIX_NAMES",
    "INPUT_KINDS",
    "MissingFeaturesError",
    "UnsupportedFeatureSettingsError",
    "check_feature_settings",
    "parse_features",
    "matrix_vector",
    "matrix_vectors",
    "audio_matrix",
    "verdict",
]

# The probability a window's top class needs before genre "auto" follows it (see
# StreamingGenreClassifier); chosen from the reliability of the calibrated window model on the
# real held-out recordings (models/MODEL_CARD.md).
AUTO_MIN_CONFIDENCE = 0.6

N_FFT = 512
SUB_HOP = 256
SEG = N_FFT + SUB_HOP - 1  # 767 samples per analysis frame
HOP = 4800
N_MFCC = 13
N_MELS = 40
WINDOW = "hann"
# Row layout of one analysis frame: 13 MFCCs, centroid, rolloff, zcr, log10 flux.
_ROW = N_MFCC + 4
_LOW_ENERGY_DB = 3.0
_FLUX_EPS = 1e-10

FEATURE_NAMES: tuple[str, ...] = tuple(
    [f"mfcc_mean_{i}" for i in range(N_MFCC)]
    + [f"mfcc_std_{i}" for i in range(N_MFCC)]
    + [f"dmfcc_mad_{i}" for i in range(N_MFCC)]
    + [
        "centroid_mean",
        "centroid_std",
        "rolloff_mean",
        "rolloff_std",
        "logflux_mean",
        "logflux_std",
        "zcr_mean",
        "zcr_std",
        "low_energy_ratio",
    ]
)

FEATURE_SPEC: dict[str, Any] = {
    "version": 1,
    "sampleRate": SAMPLE_RATE,
    "hop": HOP,
    "segment": SEG,
    "nFft": N_FFT,
    "subHop": SUB_HOP,
    "window": WINDOW,
    "nMfcc": N_MFCC,
    "nMels": N_MELS,
    "lowEnergyThreshold": _LOW_ENERGY_DB,
    "size": len(FEATURE_NAMES),
    "names": list(FEATURE_NAMES),
    "frames": "S_t = samples[t*hop : t*hop + segment]; T = (len - segment) // hop + 1",
    "perFrame": {
        "mfcc": "aimixer_dsp.features.mfcc(S_t[256:], sample_rate=48000, n_mfcc=13, n_mels=40, n_fft=512, "
        "hop_length=256, window='hann')[1]",
        "spectral": "aimixer_dsp.features.frame_features(S_t, sample_rate=48000, n_fft=512, hop_length=256, "
        "window='hann')[k][2] for k in centroid, rolloff, zcr, flux; flux stored as log10(flux + 1e-10)",
    },
    "aggregates": "mean and population std over frames; dmfcc_mad = mean |mfcc[t] - mfcc[t-1]|; "
    "low_energy_ratio = fraction of frames with c0 < mean(c0) - 3",
    "minSamples": HOP + SEG,
}


# ----------------------------------------------------------------------------- per-frame rows


def _check_rate(sample_rate: int) -> None:
    if sample_rate != SAMPLE_RATE:
        raise InvalidSampleRateError(
            f"genre features need {SAMPLE_RATE} Hz audio, got sample_rate={sample_rate}; resample first"
        )


def _to_list(v: Any) -> list[float]:
    return v.tolist() if hasattr(v, "tolist") else [float(x) for x in v]


def _segment_row(seg: Any) -> list[float]:
    """The row of one analysis frame from its ``SEG``-sample segment."""
    from .backend import use_numpy
    from .features import frame_features, mfcc

    if not use_numpy(seg):
        return _segment_row_pure(seg if isinstance(seg, list) else list(seg))
    m = mfcc(
        seg[SUB_HOP:],
        sample_rate=SAMPLE_RATE,
        n_mfcc=N_MFCC,
        n_mels=N_MELS,
        n_fft=N_FFT,
        hop_length=SUB_HOP,
        window=WINDOW,
    )
    ff = frame_features(seg, sample_rate=SAMPLE_RATE, n_fft=N_FFT, hop_length=SUB_HOP, window=WINDOW)
    row = [float(v) for v in m[1]]
    row.append(float(ff["centroid"][2]))
    row.append(float(ff["rolloff"][2]))
    row.append(float(ff["zcr"][2]))
    row.append(math.log10(float(ff["flux"][2]) + _FLUX_EPS))
    return row


def _segment_row_pure(seg: list[float]) -> list[float]:
    """:func:`_segment_row` on the pure path, bit-identical to the two ``features`` calls.

    The calls' five centred frames hold three distinct ones: ``mfcc`` frame 0 (256 zeros, then
    ``S_t[256:512]``), the shared frame ``S_t[256:767] + [0]`` (``mfcc`` frame 1 and
    ``frame_features`` frame 2) and ``frame_features`` frame 1 ``S_t[0:512]`` (for the flux).
    Each spectrum is computed once, with the same per-frame helpers and operations as the calls
    (``frame_features`` frame 0 is not needed).
    """
    from .features import (
        _centroid_rolloff,
        _flux,
        _mel_db,
        _mfcc_rows,
        _pure_filters,
        _pure_spectrum,
        _pure_tables,
    )

    x = [float(v) for v in seg] if not isinstance(seg[0], float) else seg
    tables = _pure_tables(N_FFT, WINDOW)
    filters = _pure_filters(SAMPLE_RATE, N_FFT, N_MELS)
    pad = [0.0] * SUB_HOP
    padded = pad + x + pad  # frame_features' centred frames: padded[k * SUB_HOP :][:N_FFT]
    first = pad + x[SUB_HOP : 2 * SUB_HOP]  # mfcc frame 0
    power0 = _pure_spectrum(first, 0, N_FFT, tables, True)
    mag = _pure_spectrum(padded, 2 * SUB_HOP, N_FFT, tables, False)
    prev = _pure_spectrum(padded, SUB_HOP, N_FFT, tables, False)
    row: list[float] = _mfcc_rows(
        [_mel_db(power0, filters), _mel_db([v * v for v in mag], filters)], N_MFCC, N_MELS
    )[1]
    freqs = [k * SAMPLE_RATE / N_FFT for k in range(N_FFT // 2 + 1)]
    centroid, rolloff = _centroid_rolloff(mag, freqs)
    neg = [v < 0.0 for v in padded[2 * SUB_HOP : 2 * SUB_HOP + N_FFT]]
    zcr = sum(map(ne, neg[1:], neg[:-1])) / N_FFT
    row += [centroid, rolloff, zcr, math.log10(_flux(mag, prev) + _FLUX_EPS)]
    return row


def segment_rows_native(kern: Callable[..., object], mono: Any, count: int) -> list[list[float]]:
    """The rows of the ``count`` analysis frames ``mono[t HOP : t HOP + SEG]`` of a mono
    ``array('d')`` with the per-sample work in the host's ``genrerows`` kernel (see
    ``backend.KERNEL_NAMES``): bit-identical to :func:`_segment_row_pure` (with the ``spectrum``
    kernel) of each segment; the logarithms and the DCT of the 80 mel energies per row stay here."""
    from array import array

    from .features import AMIN, _kernel_filters, _mfcc_rows, _pure_tables

    if count <= 0:
        return []
    if type(mono) is not array or mono.typecode != "d" or len(mono) < (count - 1) * HOP + SEG:
        raise InvalidBufferError(f"{count} analysis frames need {(count - 1) * HOP + SEG} mono samples")
    width = 2 * N_MELS + 4
    out = array("d", bytes(8 * width * count))
    bands, weights = _kernel_filters(SAMPLE_RATE, N_FFT, N_MELS)
    kern(mono, count, HOP, SAMPLE_RATE, _pure_tables(N_FFT, WINDOW)[4], bands, weights, out)
    log10 = math.log10
    vals = out.tolist()
    # every value's dB at once (the 4 frame features' too, unused: all are >= 0)
    db = [10.0 * log10(e if e > AMIN else AMIN) for e in vals]
    rows = []
    for o in range(0, width * count, width):
        row: list[float] = _mfcc_rows(
            [db[o : o + N_MELS], db[o + N_MELS : o + 2 * N_MELS]], N_MFCC, N_MELS, 1
        )[0]
        row += [
            vals[o + width - 4],
            vals[o + width - 3],
            vals[o + width - 2],
            log10(vals[o + width - 1] + _FLUX_EPS),
        ]
        rows.append(row)
    return rows


def _n_frames(n: int) -> int:
    return 0 if n < SEG else (n - SEG) // HOP + 1


def _check_samples(samples: Any) -> None:
    from .errors import NonFiniteInputError

    try:
        n = len(samples)
    except TypeError:
        raise InvalidBufferError("samples must be a sequence of numbers") from None
    if hasattr(samples, "ndim") and samples.ndim != 1:
        raise InvalidBufferError(f"samples must be 1-D mono, got shape {tuple(samples.shape)}")
    if n < HOP + SEG:
        raise InvalidBufferError(
            f"genre features need at least {HOP + SEG} samples ({(HOP + SEG) / SAMPLE_RATE:.3f} s), got {n}"
        )
    if hasattr(samples, "dtype"):
        import numpy as np

        if not bool(np.all(np.isfinite(samples))):
            raise NonFiniteInputError("samples contain NaN or Inf")
    elif not all(math.isfinite(v) for v in samples):
        raise NonFiniteInputError("samples contain NaN or Inf")


def frame_rows(samples: Sequence[float] | Any, *, sample_rate: int = SAMPLE_RATE) -> list[list[float]]:
    """Per-frame rows ``[13 MFCCs, centroid, rolloff, zcr, log10 flux]`` of every analysis frame.

    Parameters
    ----------
    samples : sequence of float or 1-D ndarray
        Mono audio at 48 kHz, at least ``HOP + SEG`` samples. An ndarray takes the NumPy path
        of :mod:`aimixer_dsp.features` (equal to the pure path within float rounding).

    Returns
    -------
    list of list of float
        Shape ``[T][17]`` with ``T = (len - SEG) // HOP + 1``.
    """
    _check_rate(sample_rate)
    _check_samples(samples)
    if not hasattr(samples, "dtype") and not isinstance(samples, list):
        samples = list(samples)
    return [_segment_row(samples[t * HOP : t * HOP + SEG]) for t in range(_n_frames(len(samples)))]


def _mean_std(vals: Sequence[float]) -> tuple[float, float]:
    n = len(vals)
    m = math.fsum(vals) / n
    var = math.fsum((v - m) * (v - m) for v in vals) / n
    return m, math.sqrt(var)


def aggregate_rows(rows: Sequence[Sequence[float]]) -> list[float]:
    """Window statistics (the model input) from consecutive per-frame rows (at least 2)."""
    t_count = len(rows)
    if t_count < 2:
        raise InvalidBufferError(f"a window needs at least 2 analysis frames, got {t_count}")
    cols = list(zip(*rows, strict=True))
    means: list[float] = []
    stds: list[float] = []
    mads: list[float] = []
    for i in range(N_MFCC):
        c = cols[i]
        m, sd = _mean_std(c)
        means.append(m)
        stds.append(sd)
        mads.append(math.fsum(abs(c[k] - c[k - 1]) for k in range(1, t_count)) / (t_count - 1))
    out = means + stds + mads
    cen_m, cen_s = _mean_std(cols[N_MFCC])
    rol_m, rol_s = _mean_std(cols[N_MFCC + 1])
    zcr_m, zcr_s = _mean_std(cols[N_MFCC + 2])
    flx_m, flx_s = _mean_std(cols[N_MFCC + 3])
    c0_floor = means[0] - _LOW_ENERGY_DB
    low = sum(1 for v in cols[0] if v < c0_floor) / t_count
    out += [cen_m, cen_s, rol_m, rol_s, flx_m, flx_s, zcr_m, zcr_s, low]
    return out


def feature_vector(samples: Sequence[float] | Any, *, sample_rate: int = SAMPLE_RATE) -> list[float]:
    """The model input (``FEATURE_SPEC["size"]`` floats) for one window of mono 48 kHz audio.

    Parameters
    ----------
    samples : sequence of float or 1-D ndarray
        The window (the model is trained on 3 s windows; any length >= ``HOP + SEG`` works).
    sample_rate : int
        Must be 48000.

    Returns
    -------
    list of float
        In the order of ``FEATURE_NAMES``.
    """
    return aggregate_rows(frame_rows(samples, sample_rate=sample_rate))


def window_starts(n_rows: int, *, window_s: float = 3.0, hop_s: float = 1.0) -> tuple[list[int], int]:
    """Windows of a whole file's analysis frames, as files are classified (CLI, browser file jobs).

    Parameters
    ----------
    n_rows : int
        Analysis frames of the file (``len(frame_rows(samples))``).
    window_s, hop_s : float
        Window length and hop in seconds.

    Returns
    -------
    (starts, frames) : (list of int, int)
        First row of every window (``rows[s : s + frames]`` is one window) and the rows per
        window; a file shorter than one window gives one shorter window.
    """
    win = max(2, (int(round(window_s * SAMPLE_RATE)) - SEG) // HOP + 1)
    hop = max(1, int(round(hop_s * SAMPLE_RATE / HOP)))
    return list(range(0, max(1, n_rows - win + 1), hop)), win


def file_verdict(probs: dict[str, float], version: str) -> dict[str, Any]:
    """A whole file's verdict (CLI ``classify``, browser file jobs): ``genre``, ``confidence``,
    ``probabilities``, ``secondaryGenre``, ``modelVersion`` of averaged class probabilities
    (ranked by probability, ties alphabetical). ``/classify-genre`` answers with :func:`verdict`."""
    ranked = sorted(probs, key=lambda g: (-probs[g], g))
    return {
        "genre": ranked[0],
        "confidence": probs[ranked[0]],
        "probabilities": {g: probs.get(g, 0.0) for g in GENRES}
        | {g: probs[g] for g in probs if g not in GENRES},
        "secondaryGenre": ranked[1] if len(ranked) > 1 else None,
        "modelVersion": version,
    }


# ----------------------------------------------------------------------------- streaming

Predict = Callable[[list[float]], dict[str, float]]


class StreamingGenreClassifier:
    """Rolling-window genre verdicts with hysteresis, fed with input audio block by block.

    Parameters
    ----------
    predict : callable, optional
        ``features -> {genre: probability}``. When given, :meth:`push` classifies each due
        window itself. Otherwise read :attr:`pending_features`, run the model and call
        :meth:`apply` (the browser path, where the model runs in onnxruntime-web).
    window_s : float
        Window length in seconds (>= 3.0; the model is trained on 3 s windows).
    hop_s : float
        Seconds between windows (a multiple of 0.1 s, >= 0.1).
    switch_windows : int
        Consecutive challenging windows needed to change the genre (>= 1).
    margin : float
        A challenger's probability must exceed the current genre's by this much (0..1).
    min_confidence : float
        A window sets or changes the verdict only when its top probability is at least this
        (0..1; default ``AUTO_MIN_CONFIDENCE``). Below it the verdict (or the neutral default
        before the first one) is kept.
    sample_rate : int
        Must be 48000.
    on_change : callable, optional
        ``on_change(genre, confidence, probabilities)`` after every genre change (including the
        first verdict).
    """

    def __init__(
        self,
        *,
        predict: Predict | None = None,
        window_s: float = 3.0,
        hop_s: float = 1.0,
        switch_windows: int = 3,
        margin: float = 0.15,
        min_confidence: float | None = None,
        sample_rate: int = SAMPLE_RATE,
        on_change: Callable[[str, float, dict[str, float]], Any] | None = None,
    ) -> None:
        _check_rate(sample_rate)
        if not isinstance(window_s, (int, float)) or not 3.0 <= window_s <= 60.0:
            raise ParameterError("window_s", window_s, (3.0, 60.0))
        hop_frames = round(hop_s * SAMPLE_RATE / HOP) if isinstance(hop_s, (int, float)) else 0
        if hop_frames < 1 or abs(hop_frames * HOP - hop_s * SAMPLE_RATE) > 1e-6 or hop_s > window_s:
            raise ParameterError(
                "hop_s", hop_s, message=f"hop_s={hop_s} must be a multiple of 0.1 s in [0.1, window_s]"
            )
        if not isinstance(switch_windows, int) or not 1 <= switch_windows <= 100:
            raise ParameterError("switch_windows", switch_windows, (1, 100))
        if not isinstance(margin, (int, float)) or not 0.0 <= margin <= 1.0:
            raise ParameterError("margin", margin, (0.0, 1.0))
        if min_confidence is None:
            min_confidence = AUTO_MIN_CONFIDENCE
        if not isinstance(min_confidence, (int, float)) or not 0.0 <= min_confidence <= 1.0:
            raise ParameterError("min_confidence", min_confidence, (0.0, 1.0))
        self.min_confidence = float(min_confidence)
        self.predict = predict
        self.window_s = float(window_s)
        self.hop_s = float(hop_s)
        self.switch_windows = switch_windows
        self.margin = float(margin)
        self.sample_rate = sample_rate
        self.on_change = on_change
        self.window_frames = _n_frames(int(round(window_s * SAMPLE_RATE)))
        self.hop_frames = hop_frames
        self.reset()

    def reset(self) -> None:
        """Forget audio, pending windows and the verdict (parameters are kept)."""
        self._buf: list[float] = []
        self._buf_start = 0  # absolute index of self._buf[0]
        self._total = 0  # samples pushed so far
        self._next_frame = 0  # index of the next analysis frame to compute
        self._rows: deque[list[float]] = deque(maxlen=self.window_frames)
        self._pending: list[float] | None = None
        self._genre: str | None = None
        self._confidence = 0.0
        self._probabilities: dict[str, float] | None = None
        self._challenger: str | None = None
        self._challenges = 0
        self.windows = 0  # windows classified (apply calls)

    # -- audio in
    def push(self, samples: Sequence[float] | Any) -> bool:
        """Feed mono 48 kHz input audio (any block length); returns True if the genre changed.

        Raises ``NonFiniteInputError`` for NaN/Inf (state untouched).
        """
        block = _to_list(samples)
        for v in block:
            if not math.isfinite(v):
                from .errors import NonFiniteInputError

                raise NonFiniteInputError("samples contain NaN or Inf")
        self._buf.extend(block)
        self._total += len(block)
        changed = False
        while self._next_frame * HOP + SEG <= self._total:
            t = self._next_frame
            lo = t * HOP - self._buf_start
            self._rows.append(_segment_row(self._buf[lo : lo + SEG]))
            self._next_frame += 1
            self._trim()
            t_end = t + 1  # frames computed
            if t_end >= self.window_frames and (t_end - self.window_frames) % self.hop_frames == 0:
                self._pending = aggregate_rows(list(self._rows))
                if self.predict is not None:
                    changed = self.apply(self.predict(self._pending)) or changed
        self._trim()
        return changed

    def _trim(self) -> None:
        """Drop samples before the next analysis frame's start (``_buf_start + len(_buf) == total``)."""
        n = min(self._next_frame * HOP - self._buf_start, len(self._buf))
        if n > 0:
            del self._buf[:n]
            self._buf_start += n

    # -- model out
    @property
    def pending_features(self) -> list[float] | None:
        """The feature vector of the latest due window not yet classified, else ``None``."""
        return self._pending

    def apply(self, probabilities: dict[str, float]) -> bool:
        """Hysteresis update with the model's probabilities for the pending window.

        Returns True when the genre changed (the first verdict counts as a change).
        """
        if not isinstance(probabilities, dict) or not probabilities:
            raise ParameterError(
                "probabilities", probabilities, message="probabilities must be a non-empty dict"
            )
        probs = {str(k): float(v) for k, v in probabilities.items()}
        for k, v in probs.items():
            if not math.isfinite(v):
                raise ParameterError("probabilities", v, message=f"probabilities[{k!r}]={v} is not finite")
        self._pending = None
        self.windows += 1
        self._probabilities = probs
        top = max(sorted(probs), key=lambda g: probs[g])  # ties -> alphabetical first
        changed = False
        confident = probs[top] >= self.min_confidence
        if self._genre is None:
            if confident:
                self._genre = top
                changed = True
            self._challenger, self._challenges = None, 0
        elif confident and top != self._genre and probs[top] >= probs.get(self._genre, 0.0) + self.margin:
            if top == self._challenger:
                self._challenges += 1
            else:
                self._challenger, self._challenges = top, 1
            if self._challenges >= self.switch_windows:
                self._genre = top
                changed = True
                self._challenger, self._challenges = None, 0
        else:
            self._challenger, self._challenges = None, 0
        self._confidence = probs.get(self._genre, 0.0) if self._genre is not None else 0.0
        if changed and self.on_change is not None and self._genre is not None:
            self.on_change(self._genre, self._confidence, dict(probs))
        return changed

    @property
    def genre(self) -> str | None:
        """The current verdict, ``None`` before the first window."""
        return self._genre

    @property
    def confidence(self) -> float:
        """The latest window's probability of :attr:`genre` (0.0 before the first window)."""
        return self._confidence

    @property
    def probabilities(self) -> dict[str, float] | None:
        """The latest window's probabilities."""
        return None if self._probabilities is None else dict(self._probabilities)

    def __repr__(self) -> str:
        return (
            f"StreamingGenreClassifier(window_s={self.window_s}, hop_s={self.hop_s}, "
            f"switch_windows={self.switch_windows}, margin={self.margin}, "
            f"min_confidence={self.min_confidence}, genre={self._genre!r})"
        )


# ----------------------------------------------------------------------------- /classify-genre input
#
# The request rules of ``POST /classify-genre`` live here, so the origin (CPython) and the
# browser SDK (Pyodide) run the same validation, the same statistics and the same ranking.
#
# Two inputs are accepted in ``features``:
#
# * ``"mfccMatrix"``: the ``features`` matrix of ``/extract-features`` (``[frames][coefficients]``)
#   computed with the spec's default settings (``MFCC_SPEC``). Rows with more than 13 coefficients
#   use the first 13 (with the orthonormal DCT-II the first coefficients do not depend on how many
#   are computed). The matrix is cut into windows of ``MFCC_SPEC["windowFrames"]`` frames (3 s)
#   every ``MFCC_SPEC["hopFrames"]`` frames (1 s); each window gives one vector
#   (:func:`matrix_vector`) for the MFCC-statistics model (``models/genre_mfcc.onnx``).
# * ``"windowVectors"``: rows of ``FEATURE_SPEC["size"]`` (48) values, each one
#   :func:`feature_vector` of an audio window, for the window model (``models/genre.onnx``).
#
# Either way the per-window probabilities are averaged (:func:`verdict`).

MATRIX_COEFFS = 13
MATRIX_WINDOW_S = 3.0
MATRIX_HOP_S = 1.0
_MFCC_DEFAULTS: dict[str, Any] = {
    "numFilters": 40,
    "fftSize": 2048,
    "hopSize": 512,
    "sampleRate": SAMPLE_RATE,
    "windowType": "hann",
}
_MATRIX_LAG = 10  # frames (~107 ms at hop 512) for the slow-change statistic
_MATRIX_WIN = 1 + int(MATRIX_WINDOW_S * SAMPLE_RATE) // _MFCC_DEFAULTS["hopSize"]  # 282 frames of 3 s audio
_MATRIX_HOP = int(round(MATRIX_HOP_S * SAMPLE_RATE / _MFCC_DEFAULTS["hopSize"]))  # 94 frames
MAX_MATRIX_FRAMES = 60000  # ~10 min of audio at hop 512
MAX_MATRIX_COLUMNS = 256
MAX_VECTOR_ROWS = 1000
MAX_FEATURE_ABS = 1e6  # no MFCC (dB) or spectral value (Hz) comes near; bounds the statistics' sums

MATRIX_NAMES: tuple[str, ...] = tuple(
    [f"mfcc_mean_{i}" for i in range(1, MATRIX_COEFFS)]
    + [f"mfcc_std_{i}" for i in range(MATRIX_COEFFS)]
    + [f"mfcc_mad1_{i}" for i in range(MATRIX_COEFFS)]
    + [f"mfcc_mad{_MATRIX_LAG}_{i}" for i in range(MATRIX_COEFFS)]
    + ["c0_p10", "c0_p50", "c0_p90", "low_energy_ratio"]
)

MFCC_SPEC: dict[str, Any] = {
    "version": 1,
    "numCoefficients": MATRIX_COEFFS,
    **_MFCC_DEFAULTS,
    "windowFrames": _MATRIX_WIN,
    "hopFrames": _MATRIX_HOP,
    "minFrames": _MATRIX_WIN,
    "maxFrames": MAX_MATRIX_FRAMES,
    "size": len(MATRIX_NAMES),
    "names": list(MATRIX_NAMES),
    "statistics": "per window of windowFrames rows (first 13 columns): mean of c1..c12 (c0's mean is the "
    "level and left out), population std, mean |c[t]-c[t-1]|, mean |c[t]-c[t-10]| of c0..c12; "
    "c0 10/50/90th percentiles (nearest rank) minus the mean of c0; fraction of frames with "
    "c0 < mean(c0) - 3",
}

INPUT_KINDS = ("mfccMatrix", "windowVectors", "audioBuffer")


class MissingFeaturesError(DSPError, ValueError):
    """``features`` is absent or not a usable matrix / list of vectors (``MISSING_FEATURES``)."""

    code = "MISSING_FEATURES"


class UnsupportedFeatureSettingsError(DSPError, ValueError):
    """The declared MFCC settings differ from the ones the model is trained on."""

    code = "UNSUPPORTED_FEATURE_SETTINGS"


def _hint() -> str:
    return (
        "features must be the MFCC matrix of /extract-features ([frames][coefficients], "
        f"at least {MATRIX_COEFFS} coefficients and {_MATRIX_WIN} frames, i.e. 3 s of audio at the default "
        f"hop) or rows of {FEATURE_SPEC['size']}-value window vectors "
        "(aimixer_dsp.genre.feature_vector); or send audioBuffer instead"
    )


def check_feature_settings(settings: dict[str, Any] | None) -> None:
    """Refuse declared MFCC settings that the MFCC-statistics model cannot honour.

    Parameters
    ----------
    settings : dict, optional
        Any of ``numFilters``, ``fftSize``, ``hopSize``, ``sampleRate``, ``windowType`` (API
        names; ``None`` values are ignored).

    Raises
    ------
    UnsupportedFeatureSettingsError
        Naming every field whose value differs from ``MFCC_SPEC`` (the model's training input).
    """
    if not settings:
        return
    bad: dict[str, Any] = {}
    for name, want in _MFCC_DEFAULTS.items():
        got = settings.get(name)
        if got is None:
            continue
        if isinstance(got, bool) or not isinstance(got, type(want)) or got != want:
            bad[name] = got if isinstance(got, int | float | str | bool) else repr(got)[:40]
    if bad:
        listing = ", ".join(f"{k}={v!r}" for k, v in bad.items())
        expect = ", ".join(f"{k}={_MFCC_DEFAULTS[k]!r}" for k in bad)
        raise UnsupportedFeatureSettingsError(
            f"the genre model is trained on MFCCs with {expect}; it cannot classify features computed "
            f"with {listing}. Extract the features with the default settings (or send audioBuffer)",
            details={
                "fields": sorted(bad),
                "received": bad,
                "supported": {k: _MFCC_DEFAULTS[k] for k in bad},
            },
        )


def _finite_rows(value: Sequence[Any], width: int, *, kind: str) -> list[list[float]]:
    rows: list[list[float]] = []
    for i, row in enumerate(value):
        if len(row) < width if kind == "mfccMatrix" else len(row) != width:
            raise MissingFeaturesError(
                f"features[{i}] has {len(row)} values; every row must have "
                + (f"the same length >= {width}" if kind == "mfccMatrix" else f"{width}")
                + ". "
                + _hint(),
                details={"field": "features", "row": i, "received": len(row), "inputKind": kind},
            )
        out = []
        for j in range(width):
            v = row[j]
            if type(v) not in (int, float) or not math.isfinite(v):
                raise MissingFeaturesError(
                    f"features[{i}][{j}]={v!r:.40} is not a finite number",
                    details={"field": "features", "row": i, "column": j},
                )
            if abs(v) > MAX_FEATURE_ABS:
                raise MissingFeaturesError(
                    f"features[{i}][{j}]={v!r:.40} is out of range [-{MAX_FEATURE_ABS:g}, {MAX_FEATURE_ABS:g}] "
                    "(MFCCs are in dB, spectral values in Hz)",
                    details={"field": "features", "row": i, "column": j},
                )
            out.append(float(v))
        rows.append(out)
    return rows


def parse_features(value: Any, settings: dict[str, Any] | None = None) -> tuple[str, list[list[float]]]:
    """Validate ``/classify-genre``'s ``features`` and turn it into model input vectors.

    Parameters
    ----------
    value : list of list of number
        The request's ``features``: an MFCC matrix ``[frames][>= 13]`` or ``[n][48]`` window
        vectors (a 48-column matrix counts as window vectors).
    settings : dict, optional
        Declared MFCC settings (see :func:`check_feature_settings`); only checked for a matrix.

    Returns
    -------
    (str, list of list of float)
        The input kind (``"mfccMatrix"`` or ``"windowVectors"``) and the vectors to classify: one
        :func:`matrix_vector` per window of the matrix, or the rows as given.

    Raises
    ------
    MissingFeaturesError, UnsupportedFeatureSettingsError
    """
    size = int(FEATURE_SPEC["size"])
    if value is None:
        raise MissingFeaturesError(
            "Features required for classification: " + _hint(),
            details={"field": "features", "expectedRowLength": size},
        )
    if (
        not isinstance(value, list | tuple)
        or not value
        or not all(isinstance(r, list | tuple) for r in value)
        or not value[0]
    ):
        raise MissingFeaturesError(_hint(), details={"field": "features", "expectedRowLength": size})
    width = len(value[0])
    if width > MAX_MATRIX_COLUMNS:
        raise MissingFeaturesError(
            f"features rows have {width} values; at most {MAX_MATRIX_COLUMNS}", details={"field": "features"}
        )
    if width == size:
        if len(value) > MAX_VECTOR_ROWS:
            raise MissingFeaturesError(
                f"at most {MAX_VECTOR_ROWS} feature rows per request", details={"field": "features"}
            )
        return "windowVectors", _finite_rows(value, size, kind="windowVectors")
    if width < MATRIX_COEFFS:
        raise MissingFeaturesError(
            f"features[0] has {width} values; " + _hint(),
            details={"field": "features", "row": 0, "received": width, "expectedRowLength": size},
        )
    check_feature_settings(settings)
    n = len(value)
    if n < _MATRIX_WIN or n > MAX_MATRIX_FRAMES:
        raise MissingFeaturesError(
            f"the MFCC matrix has {n} frames; the genre model needs {_MATRIX_WIN} to {MAX_MATRIX_FRAMES} "
            f"(3 s to ~10 min of audio at hopSize {_MFCC_DEFAULTS['hopSize']}). " + _hint(),
            details={
                "field": "features",
                "frames": n,
                "minFrames": _MATRIX_WIN,
                "maxFrames": MAX_MATRIX_FRAMES,
            },
        )
    if any(len(r) != width for r in value):
        bad = next(i for i, r in enumerate(value) if len(r) != width)
        raise MissingFeaturesError(
            f"features[{bad}] has {len(value[bad])} values, features[0] has {width}; a matrix has rows of one length",
            details={"field": "features", "row": bad},
        )
    return "mfccMatrix", matrix_vectors(_finite_rows(value, MATRIX_COEFFS, kind="mfccMatrix"))


def _nearest_rank(sorted_vals: list[float], q: float) -> float:
    return sorted_vals[min(len(sorted_vals) - 1, max(0, math.ceil(q * len(sorted_vals)) - 1))]


def matrix_vector(rows: Sequence[Sequence[float]]) -> list[float]:
    """The MFCC-statistics model input (``MFCC_SPEC["size"]`` floats) of one window of MFCC rows.

    Parameters
    ----------
    rows : sequence of sequence of float
        ``[frames][>= 13]`` MFCC rows (spec defaults), at least ``_MATRIX_LAG + 1`` frames; the
        model is trained on windows of ``MFCC_SPEC["windowFrames"]``.

    Returns
    -------
    list of float
        In the order of ``MATRIX_NAMES``.
    """
    t_count = len(rows)
    if t_count <= _MATRIX_LAG:
        raise MissingFeaturesError(
            f"a window needs more than {_MATRIX_LAG} MFCC frames, got {t_count}",
            details={"field": "features"},
        )
    cols = [[float(r[i]) for r in rows] for i in range(MATRIX_COEFFS)]
    means, stds, mad1, madl = [], [], [], []
    for c in cols:
        m, sd = _mean_std(c)
        means.append(m)
        stds.append(sd)
        mad1.append(math.fsum(abs(c[k] - c[k - 1]) for k in range(1, t_count)) / (t_count - 1))
        madl.append(
            math.fsum(abs(c[k] - c[k - _MATRIX_LAG]) for k in range(_MATRIX_LAG, t_count))
            / (t_count - _MATRIX_LAG)
        )
    c0 = sorted(cols[0])
    pct = [_nearest_rank(c0, q) - means[0] for q in (0.1, 0.5, 0.9)]
    low = sum(1 for v in cols[0] if v < means[0] - _LOW_ENERGY_DB) / t_count
    return means[1:] + stds + mad1 + madl + pct + [low]


def matrix_vectors(rows: Sequence[Sequence[float]]) -> list[list[float]]:
    """One :func:`matrix_vector` per window (``windowFrames`` rows every ``hopFrames``) of a matrix.

    A matrix of ``F >= windowFrames`` frames has ``(F - windowFrames) // hopFrames + 1`` windows;
    the last frames that do not fill a window are not used.
    """
    n = len(rows)
    if n < _MATRIX_WIN:
        raise MissingFeaturesError(
            f"the MFCC matrix has {n} frames; at least {_MATRIX_WIN} are needed",
            details={"field": "features"},
        )
    return [matrix_vector(rows[s : s + _MATRIX_WIN]) for s in range(0, n - _MATRIX_WIN + 1, _MATRIX_HOP)]


def audio_matrix(samples: Any) -> list[list[float]]:
    """The spec-default MFCC matrix of mono 48 kHz audio (what ``/extract-features`` returns)."""
    from .features import extract_features

    rows: list[list[float]] = extract_features(samples)["features"]
    return rows


def verdict(
    probabilities: Sequence[dict[str, float]],
    *,
    model_version: str,
    input_kind: str,
    return_probabilities: bool = False,
) -> dict[str, Any]:
    """The ``/classify-genre`` response from the per-window probabilities.

    The windows' probabilities are averaged; classes are ranked by probability, ties
    alphabetically. ``confidence`` and the probabilities are rounded to 6 decimals.
    """
    if not probabilities:
        raise MissingFeaturesError("nothing to classify", details={"field": "features"})
    acc: dict[str, float] = {}
    for p in probabilities:
        for k, v in p.items():
            acc[str(k)] = acc.get(str(k), 0.0) + float(v)
    probs = {k: v / len(probabilities) for k, v in acc.items()}
    ranked = sorted(probs, key=lambda k: (-probs[k], k))
    out: dict[str, Any] = {
        "genre": ranked[0],
        "confidence": round(probs[ranked[0]], 6),
        "secondaryGenre": ranked[1] if len(ranked) > 1 else None,
        "modelVersion": str(model_version),
        "inputKind": input_kind,
        "windows": len(probabilities),
    }
    if return_probabilities:
        out["probabilities"] = {k: round(probs[k], 6) for k in ranked}
    return out
