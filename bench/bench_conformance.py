"""EBU Tech 3341 / 3342 conformance: our meter and ffmpeg's ``ebur128`` on the same signals.

Run: ``python -m bench.bench_conformance [--markdown]``. Synthesises every case of
``tests/wasm/ebu_cases.py`` (48 kHz, 24-bit), writes each signal as a 24-bit WAV file, measures
it with ``aimixer_dsp`` (``LoudnessMeter(exact_max=True)`` + ``TruePeakMeter``) and with
``ffmpeg -af ebur128=peak=true:framelog=verbose`` (its per-100 ms M/S lines give the maxima
and the "constant after" readings; its summary gives I, LRA and the true peak), and prints one
row per check: the expected value and tolerance, the worst reading of each meter over the
case's signals (cases 10 and 13 have 20 each) and whether it passes.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.wasm import ebu_cases

_FRAME = re.compile(r"t:\s*([\d.]+)\s+TARGET:.*?M:\s*(-?[\d.]+|-inf|nan)\s+S:\s*(-?[\d.]+|-inf|nan)")
_SUMMARY_I = re.compile(r"Integrated loudness:\s*I:\s*(-?[\d.]+)")
_SUMMARY_LRA = re.compile(r"Loudness range:\s*LRA:\s*(-?[\d.]+)")
_SUMMARY_TP = re.compile(r"True peak:\s*Peak:\s*(-?[\d.]+|-inf)")


def ffmpeg_measure(path: Path) -> dict:
    """ffmpeg ``ebur128`` readings of one file, in :func:`ebu_cases.measure`'s shape."""
    proc = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostats", "-v", "verbose", "-i", str(path), "-af", "ebur128=peak=true:framelog=verbose",
         "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    err = proc.stderr
    frames = [(float(t), float(m), float(s)) for t, m, s in _FRAME.findall(err)]
    summary = err[err.rfind("Summary:") :]
    num = lambda rx: float(rx.search(summary).group(1))  # noqa: E731
    return {
        "I": num(_SUMMARY_I),
        "LRA": num(_SUMMARY_LRA),
        "TP": num(_SUMMARY_TP),
        "M": frames[-1][1],
        "S": frames[-1][2],
        "Mmax": max(m for _, m, _ in frames),
        "Smax": max(s for _, _, s in frames),
        "Sconst": [s for t, _, s in frames if t > 3.0 + 1e-6 and s > -70],
        "Mconst": [m for t, m, _ in frames if t > 1.0 + 1e-6 and m > -70],
    }


def _worst(values: list[float], want: float) -> float:
    return max(values, key=lambda v: abs(v - want))


def run(markdown: bool) -> list[dict]:
    import soundfile as sf

    if shutil.which("ffmpeg") is None:
        sys.exit("ffmpeg not found")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in ebu_cases.build_cases():
            ours: dict[str, list[float]] = {}
            theirs: dict[str, list[float]] = {}
            for i, signal in enumerate(case.signals):
                path = Path(tmp) / f"{case.name}-{i}.wav"
                sf.write(str(path), signal, ebu_cases.FS, subtype="PCM_24")
                a = ebu_cases.measure(signal)
                b = ffmpeg_measure(path)
                for q, *_ in case.checks:
                    for store, r in ((ours, a), (theirs, b)):
                        v = r[q]
                        store.setdefault(q, []).extend(v if isinstance(v, list) else [v])
            for q, want, below, above in case.checks:

                def ok(vals: list, lo: float = want - below, hi: float = want + above) -> bool:
                    return bool(vals) and all(lo <= v <= hi for v in vals)

                rows.append(
                    {
                        "case": case.name, "title": case.title, "quantity": q, "expected": want,
                        "tolerance": f"+{above}/-{below}" if above != below else f"±{above}",
                        "ours": _worst(ours[q], want), "oursPass": ok(ours[q]),
                        "ffmpeg": _worst(theirs[q], want) if theirs[q] else None, "ffmpegPass": ok(theirs[q]),
                    }
                )  # fmt: skip
    if markdown:
        print("| case | signal | quantity | expected | ours (worst) | pass | ffmpeg ebur128 (worst) | pass |")
        print("|---|---|---|---|---|---|---|---|")
        for r in rows:
            ff = "–" if r["ffmpeg"] is None else f"{r['ffmpeg']:.2f}"
            print(
                f"| {r['case']} | {r['title']} | {r['quantity']} | {r['expected']:.1f} {r['tolerance']} | "
                f"{r['ours']:.2f} | {'yes' if r['oursPass'] else 'NO'} | {ff} | {'yes' if r['ffmpegPass'] else 'NO'} |"
            )
    else:
        for r in rows:
            print(r)
    n_ours = sum(r["oursPass"] for r in rows)
    n_ff = sum(r["ffmpegPass"] for r in rows)
    print(f"\nchecks passed: ours {n_ours}/{len(rows)}, ffmpeg ebur128 {n_ff}/{len(rows)}")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--markdown", action="store_true", help="print the README table")
    run(ap.parse_args().markdown)


if __name__ == "__main__":
    main()
