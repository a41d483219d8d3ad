"""Classification metrics shared by training, evaluation and the model card.

Class indices are positions in :data:`aimixer_dsp.GENRES`.
"""

from __future__ import annotations

import numpy as np
from aimixer_dsp import GENRES

__all__ = ["confusion", "speech_vs_music", "format_confusion", "ece"]


def speech_vs_music(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Accuracy of the speech / any-music decision (the four music classes count as one)."""
    s = GENRES.index("speech")
    return float(np.mean((np.asarray(y_true) == s) == (np.asarray(y_pred) == s)))


def confusion(y_true: np.ndarray, y_pred: np.ndarray) -> list[list[int]]:
    """``cm[true][predicted]`` counts over the five classes."""
    k = len(GENRES)
    cm = np.zeros((k, k), dtype=int)
    for t, p in zip(y_true, y_pred, strict=True):
        cm[int(t), int(p)] += 1
    return cm.tolist()


def format_confusion(cm: list[list[int]]) -> str:
    """A Markdown table of ``cm`` with per-class recall (rows: true class)."""
    head = "| true \\ predicted | " + " | ".join(GENRES) + " | recall |"
    sep = "|" + "---|" * (len(GENRES) + 2)
    lines = [head, sep]
    for i, row in enumerate(cm):
        tot = sum(row)
        rec = row[i] / tot if tot else 0.0
        lines.append(f"| **{GENRES[i]}** | " + " | ".join(str(v) for v in row) + f" | {rec:.3f} |")
    return "\n".join(lines)


def ece(p: np.ndarray, y: np.ndarray, n_bins: int = 10) -> float:
    """Expected calibration error: top-1 confidence vs accuracy in ``n_bins`` equal-width bins."""
    if len(y) == 0:
        return float("nan")
    conf = p.max(axis=1)
    right = (p.argmax(axis=1) == y).astype(float)
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    total = 0.0
    for b in range(n_bins):
        m = bins == b
        if m.any():
            total += m.sum() / len(y) * abs(right[m].mean() - conf[m].mean())
    return float(total)
