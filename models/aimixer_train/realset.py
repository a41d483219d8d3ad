"""The real-recording development set, rebuilt from Debian packages (never committed).

Every clip comes from a package's files; :data:`SOURCES` records the package, the files, the
label and why the label is clear. Sources are whole packages (a game soundtrack, a voice
collection) and each sits on one side only: ``train`` or ``heldout``.

Labels: only what is unmistakable. Real human speech recordings are ``speech``. Music is
labelled with a genre only when the package documents it (Endgame: Singularity's soundtrack is
made with the Psycle and Renoise trackers: ``electronic``). Game soundtracks whose genre nobody
wrote down are ``music`` (genre unknown): they count only for speech vs music.

Packages reserved for independent evaluation (see the issue) are never used here:
:data:`RESERVED` lists them and :func:`build_realset` refuses them.

Build: ``apt-get download`` into the cache (or the installed files under ``/usr/share`` when
the package is installed), ``dpkg-deb -x``, then ffmpeg decodes every file to mono 48 kHz
float32 (raw 16-bit files are declared with their rate).
"""

from __future__ import annotations

import fnmatch
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["SOURCES", "RESERVED", "build_realset", "load_clip", "RealsetError"]

RESERVED = (
    "alsa-utils",
    "asterisk-core-sounds-*",
    "colobot-common-sounds",
    "fillets-ng-data-*",
    "freedroidrpg-data",
    "fretsonfire-songs-*",
    "gcompris-qt-data",
    "klettres-data",
    "ktuberling-data",
    "lincity-ng-data",
    "marsshooter-data",
    "naev-data",
    "nexuiz-music",
    "openclonk-data",
    "scratch",
    "unknown-horizons",
    "warmux-data",
    "wesnoth-*-music",
    "librosa",
)

# Each source: package, files (globs under the package root, sorted), optional raw format
# {glob: (sample_rate)} for headerless 16-bit little-endian mono files, label, split, note.
SOURCES: list[dict[str, Any]] = [
    {
        "id": "codec2-examples",
        "package": "codec2-examples",
        "label": "speech",
        "split": "train",
        "files": [
            "usr/share/codec2/wav/all.wav",
            "usr/share/codec2/wav/david4.wav",
            "usr/share/codec2/wav/ve9qrp.wav",
            "usr/share/codec2/wav/vk2tpm_004.wav",
            "usr/share/codec2/wav/vk5qi.wav",
            "usr/share/codec2/wav/hts1a.wav",
            "usr/share/codec2/wav/hts2a.wav",
            "usr/share/codec2/wav/mmt1.wav",
            "usr/share/codec2/wav/morig.wav",
            "usr/share/codec2/wav/forig.wav",
            "usr/share/codec2/wav/big_dog.wav",
            "usr/share/codec2/wav/cross.wav",
            "usr/share/codec2/wav/wia_16kHz.wav",
            "usr/share/codec2/raw/hts.raw",
            "usr/share/codec2/raw/kristoff.raw",
            "usr/share/codec2/raw/cq_ref.raw",
            "usr/share/codec2/raw/g3plx.raw",
        ],
        "raw": {"*.raw": 8000},
        "join": True,
        "note": "codec2's speech test recordings: real voices (radio amateurs, read sentences), 8-16 kHz",
    },
    {
        "id": "pocketsphinx-testdata",
        "package": "pocketsphinx-testdata",
        "label": "speech",
        "split": "heldout",
        "files": [
            "usr/share/pocketsphinx/test/data/librivox/*.wav",
            "usr/share/pocketsphinx/test/data/cards/*.wav",
            "usr/share/pocketsphinx/test/data/goforward.raw",
            "usr/share/pocketsphinx/test/data/numbers.raw",
            "usr/share/pocketsphinx/test/data/something.raw",
        ],
        "raw": {"*.raw": 16000},
        "join": True,
        "note": "pocketsphinx's recognizer test audio: a LibriVox reading and spoken commands, 16 kHz",
    },
    {
        "id": "singularity-music",
        "package": "singularity-music",
        "label": "electronic",
        "split": "heldout",
        "files": ["usr/share/games/singularity/music/*.ogg"],
        "note": "Endgame: Singularity soundtrack; its README: made with the Psycle and Renoise trackers",
    },
    {
        "id": "sonic-pi-samples",
        "package": "sonic-pi-samples",
        "label": "electronic",
        "split": "train",
        "files": [
            "usr/share/sonic-pi/samples/loop_amen.flac",
            "usr/share/sonic-pi/samples/loop_amen_full.flac",
            "usr/share/sonic-pi/samples/loop_breakbeat.flac",
            "usr/share/sonic-pi/samples/loop_compus.flac",
            "usr/share/sonic-pi/samples/loop_electric.flac",
            "usr/share/sonic-pi/samples/loop_garzul.flac",
            "usr/share/sonic-pi/samples/loop_industrial.flac",
            "usr/share/sonic-pi/samples/loop_mehackit1.flac",
            "usr/share/sonic-pi/samples/loop_mehackit2.flac",
            "usr/share/sonic-pi/samples/loop_mika.flac",
        ],
        "repeat_to": 12.0,
        "note": "Sonic Pi's recorded drum/synth loops (breakbeats, industrial, electro), looped to 12 s",
    },
    {
        "id": "hedgewars-data",
        "package": "hedgewars-data",
        "label": "music",
        "split": "heldout",
        "files": ["usr/share/games/hedgewars/Data/Music/*.ogg"],
        "note": "Hedgewars theme music (instrumental, genres not documented): speech vs music only",
    },
    {
        "id": "supertux-data",
        "package": "supertux-data",
        "label": "music",
        "split": "train",
        "files": [
            "usr/share/games/supertux2/music/forest/*.ogg",
            "usr/share/games/supertux2/music/misc/*.ogg",
        ],
        "note": "SuperTux soundtrack (instrumental, genres not documented): speech vs music only",
    },
    {
        "id": "warzone2100-music",
        "package": "warzone2100-music",
        "label": "music",
        "split": "heldout",
        "files": ["usr/share/games/warzone2100/music/albums/*/*.opus"],
        "note": "Warzone 2100 soundtracks (instrumental, genres not documented): speech vs music only",
    },
]

MAX_SECONDS_PER_FILE = 60.0
JOIN_GAP_S = 0.25
JOIN_TARGET_S = 24.0


class RealsetError(RuntimeError):
    """A package cannot be fetched or a file cannot be decoded (the message says which)."""


def _reserved(package: str) -> bool:
    return any(fnmatch.fnmatch(package, pat) or package == pat for pat in RESERVED)


def _package_root(package: str, cache: Path) -> tuple[Path, str]:
    """The package's files: the installed ones if ``dpkg -s`` says so, else a downloaded copy."""
    status = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status} ${Version}", package], capture_output=True, text=True, check=False
    )
    if status.returncode == 0 and status.stdout.startswith("install ok installed"):
        return Path("/"), status.stdout.rsplit(" ", 1)[-1]
    root = cache / "pkgs" / package
    stamp = root / ".version"
    if stamp.is_file():
        return root, stamp.read_text().strip()
    dl = cache / "debs"
    dl.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(
        ["apt-get", "download", package], cwd=dl, capture_output=True, text=True, check=False
    )
    debs = sorted(dl.glob(f"{package}_*.deb"))
    if not debs:
        raise RealsetError(f"cannot download {package}: {res.stderr.strip()[-300:]}")
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["dpkg-deb", "-x", str(debs[-1]), str(root)], check=True)
    version = debs[-1].name.split("_")[1]
    stamp.write_text(version + "\n")
    return root, version


def _decode(path: Path, raw_rate: int | None, max_seconds: float) -> np.ndarray:
    fmt = ["-f", "s16le", "-ar", str(raw_rate), "-ac", "1"] if raw_rate else []
    cmd = ["ffmpeg", "-v", "error", "-nostdin", *fmt, "-i", str(path), "-t", str(max_seconds)]
    cmd += ["-ac", "1", "-ar", "48000", "-f", "f32le", "-"]
    res = subprocess.run(cmd, capture_output=True, check=False)
    if res.returncode != 0:
        raise RealsetError(f"ffmpeg cannot decode {path}: {res.stderr.decode(errors='replace')[-300:]}")
    return np.frombuffer(res.stdout, dtype="<f4").astype(np.float64)


def load_clip(item: dict[str, Any]) -> np.ndarray:
    """The decoded audio of a manifest item (mono 48 kHz float64)."""
    result: np.ndarray = np.load(item["path"])
    return result


def build_realset(
    cache_dir: str | Path, *, sources: list[dict[str, Any]] | None = None, progress: bool = True
) -> list[dict[str, Any]]:
    """Fetch, decode and cache every source; returns the items (``path``, ``label``, ``group``,
    ``split``, ``source``, ``file``). The manifest is written to ``cache_dir/manifest.json``."""
    if shutil.which("ffmpeg") is None:
        raise RealsetError("ffmpeg is required to decode the real recordings")
    cache = Path(cache_dir)
    clips = cache / "clips"
    clips.mkdir(parents=True, exist_ok=True)
    srcs = sources if sources is not None else SOURCES
    key = json.dumps(srcs, sort_keys=True)
    manifest = cache / "manifest.json"
    if manifest.is_file():  # reuse a build of the same source list
        try:
            m = json.loads(manifest.read_text())
            if m.get("key") == key and all(Path(it["path"]).is_file() for it in m["items"]):
                return list(m["items"])
        except (ValueError, KeyError):
            pass
    items: list[dict[str, Any]] = []
    used: list[dict[str, Any]] = []
    for src in srcs:
        if _reserved(src["package"]):
            raise RealsetError(f"{src['package']} is reserved for independent evaluation")
        root, version = _package_root(src["package"], cache)
        files: list[Path] = []
        for pattern in src["files"]:
            files += sorted(root.glob(pattern))
        if not files:
            raise RealsetError(f"{src['package']}: no files match {src['files']}")
        decoded: list[tuple[str, np.ndarray]] = []
        for f in files:
            rate = next((r for pat, r in src.get("raw", {}).items() if fnmatch.fnmatch(f.name, pat)), None)
            decoded.append((f.relative_to(root).as_posix(), _decode(f, rate, MAX_SECONDS_PER_FILE)))
        if src.get("repeat_to"):  # short loops -> repeated to a playable length
            n = int(src["repeat_to"] * 48000)
            decoded = [(name, np.tile(x, n // max(1, len(x)) + 1)[:n]) for name, x in decoded if len(x)]
        if src.get("join"):  # short utterances -> ~24 s recordings with short pauses
            joined: list[tuple[str, np.ndarray]] = []
            parts: list[np.ndarray] = []
            names: list[str] = []
            gap = np.zeros(int(JOIN_GAP_S * 48000))
            for name, x in decoded:
                parts += [x, gap]
                names.append(Path(name).name)
                if sum(len(p) for p in parts) >= JOIN_TARGET_S * 48000:
                    joined.append(("+".join(names), np.concatenate(parts)))
                    parts, names = [], []
            if parts:
                joined.append(("+".join(names), np.concatenate(parts)))
            decoded = joined
        for i, (name, x) in enumerate(decoded):
            out = clips / f"{src['id']}-{i:03d}.npy"
            np.save(out, x.astype(np.float32))
            items.append(
                {
                    "path": str(out),
                    "file": f"{src['package']}:{name}"[:300],
                    "label": src["label"],
                    "group": f"real:{src['id']}",
                    "split": src["split"],
                    "source": src["id"],
                    "seconds": round(len(x) / 48000, 2),
                }
            )
        used.append(
            {
                "id": src["id"],
                "package": src["package"],
                "version": version,
                "label": src["label"],
                "split": src["split"],
                "files": len(files),
                "note": src["note"],
            }
        )
        if progress:
            print(
                f"realset: {src['package']} {version}: {len(files)} files -> {len(decoded)} clips", flush=True
            )
    manifest.write_text(json.dumps({"key": key, "sources": used, "items": items}, indent=1) + "\n")
    return items
