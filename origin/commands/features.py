"""``aimixer features FILE [--json] [--coefficients N] [--filters N] [--fft N] [--hop N] [--window W]``.

Prints the ``/extract-features`` response shape (``features`` [frames][coefficients],
``spectralCentroid``, ``zeroCrossingRate``, ``spectralRolloff``, ``spectralFlux``,
``frameCount``, ``duration``). A multichannel file is mixed down to mono as the mean of its
channels, and the features are computed at the file's own sample rate (no resampling), so
centroid and rolloff are in Hz of that rate and the frame hop is ``--hop`` samples of it.
Without ``--json`` the summary values are printed one per line, the MFCC matrix as its size.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from origin.cli import CLIError
from origin.commands.analyze import json_safe, read_all

_FLAG_OF = {
    "numCoefficients": "--coefficients",
    "numFilters": "--filters",
    "fftSize": "--fft",
    "hopSize": "--hop",
    "windowType": "--window",
    "sample_rate": "sample rate",
}


def register(sub: Any) -> None:
    p = sub.add_parser(
        "features",
        help="MFCC and spectral features of an audio file (the /extract-features shape)",
        description="Print the /extract-features response for FILE (channels averaged, file's own rate).",
    )
    p.add_argument("file", metavar="FILE", help="audio file (any format soundfile reads)")
    p.add_argument("--json", action="store_true", help="print the full response as one JSON object")
    p.add_argument("--coefficients", type=int, default=13, metavar="N", help="MFCCs per frame (default 13)")
    p.add_argument("--filters", type=int, default=40, metavar="N", help="mel filters (default 40)")
    p.add_argument(
        "--fft", type=int, default=2048, metavar="N", help="FFT size, power of two 64..16384 (2048)"
    )
    p.add_argument("--hop", type=int, default=512, metavar="N", help="hop size in samples (default 512)")
    p.add_argument("--window", default="hann", metavar="W", help="hann | hamming | blackman (default hann)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from aimixer_dsp.errors import ParameterError
    from aimixer_dsp.features import extract_features

    data, sr = read_all(args.file)
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    try:
        result = extract_features(
            mono,
            sample_rate=sr,
            numCoefficients=args.coefficients,
            numFilters=args.filters,
            fftSize=args.fft,
            hopSize=args.hop,
            windowType=args.window,
        )
    except ParameterError as exc:
        flag = _FLAG_OF.get(exc.name, exc.name)
        raise CLIError(f"{flag}: {exc}") from None
    if args.json:
        print(json.dumps(json_safe(result)))
        return 0
    feats = result["features"]
    cols = len(feats[0]) if feats else args.coefficients
    print(f"features:          {len(feats)} frames x {cols} coefficients")
    print(f"spectralCentroid:  {result['spectralCentroid']:.2f} Hz")
    print(f"zeroCrossingRate:  {result['zeroCrossingRate']:.5f}")
    print(f"spectralRolloff:   {result['spectralRolloff']:.2f} Hz")
    print(f"spectralFlux:      {result['spectralFlux']:.5f}")
    print(f"frameCount:        {result['frameCount']}")
    print(f"duration:          {result['duration']:.3f} s")
    return 0
