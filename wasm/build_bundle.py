"""Build the browser bundle of AI Mixer into ``wasm/dist/``.

Usage::

    python wasm/build_bundle.py [--quiet] [--force] [--out wasm/dist]

What goes in (no network: everything comes from this repository and ``node_modules``):

* the Pyodide runtime (``pyodide.mjs``, ``pyodide.asm.mjs``, ``pyodide.asm.wasm`` — kept under
  their fixed names inside a content-hashed directory because Pyodide locates them by name —,
  a trimmed ``python_stdlib.zip`` and a ``pyodide-lock.json`` that lists only our wheel);
* our DSP package ``aimixer_dsp`` as a ``py3-none-any`` wheel (only that package);
* ``onnxruntime-web``'s WebAssembly-only build (``ort.wasm.min.mjs`` and the
  ``ort-wasm-simd-threaded`` ``.mjs`` + ``.wasm``);
* the genre models ``models/genre.onnx`` (window vectors) and ``models/genre_mfcc.onnx`` (MFCC
  matrices, the spec's extract -> classify flow) with their metadata ``.json`` (if present);
* the JS SDK (``wasm/js/*.js``), with relative imports rewritten to the hashed names;
* a Pyodide memory snapshot of the initialised interpreter (made with Node by
  ``wasm/js/make_snapshot.mjs``; optional): the SDK boots from it several times faster and
  falls back to a normal boot if it cannot be used.

Every file name carries a content hash; ``manifest.json`` maps logical names to hashed files with
size, sha256 and the sizes of the precompressed ``.gz`` / ``.br`` siblings. Two small unhashed
entry points are written too: ``aimixer.js`` (re-exports the hashed SDK) and ``manifest.json``.

The build is incremental: a stamp of every input (path, size, mtime) is kept in
``.build-stamp.json``; when nothing changed the build is skipped in milliseconds.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import sys
import time
import zipfile
from pathlib import Path

try:  # optional: brotli siblings are skipped without it
    import brotli  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on the environment
    brotli = None

ROOT = Path(__file__).resolve().parent.parent
PKG_DIR = ROOT / "wasm" / "aimixer_dsp"
JS_DIR = ROOT / "wasm" / "js"
PYODIDE_DIR = ROOT / "node_modules" / "pyodide"
ORT_DIR = ROOT / "node_modules" / "onnxruntime-web" / "dist"
MODEL_DIR = ROOT / "models"
MODEL_FILES = ("genre.onnx", "genre.json", "genre_mfcc.onnx", "genre_mfcc.json")
DEFAULT_OUT = ROOT / "wasm" / "dist"

MANIFEST_VERSION = 1
BUILD_ID = "aimixer-bundle-5"  # bump when the layout changes
HASH_LEN = 12
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)

#: Top-level stdlib entries the DSP package and Pyodide's loader never import.
STDLIB_DROP = frozenset(
    {
        "_pyrepl",
        "curses",
        "dbm",
        "doctest.py",
        "ensurepip",
        "idlelib",
        "imaplib.py",
        "lib2to3",
        "mailbox.py",
        "multiprocessing",
        "pdb.py",
        "pydoc.py",
        "pydoc_data",
        "smtplib.py",
        "ftplib.py",
        "poplib.py",
        "nntplib.py",
        "sqlite3",
        "tkinter",
        "turtle.py",
        "turtledemo",
        "unittest",
        "venv",
        "wsgiref",
        "xmlrpc",
    }
)

COMPRESSIBLE = (".wasm", ".mjs", ".js", ".json", ".onnx", ".bin")
BUILD_ONLY_JS = frozenset({"make_snapshot.mjs"})


class BuildError(Exception):
    """A required input is missing or invalid."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _short(data: bytes) -> str:
    return _sha256(data)[:HASH_LEN]


def _hashed_name(name: str, data: bytes) -> str:
    """``ort.wasm.min.mjs`` -> ``ort.wasm.min.<hash>.mjs``."""
    stem, dot, ext = name.rpartition(".")
    return f"{stem}.{_short(data)}.{ext}" if dot else f"{name}.{_short(data)}"


def _pkg_version() -> str:
    text = (PKG_DIR / "__init__.py").read_text(encoding="utf-8")
    m = re.search(r"^__version__\s*=\s*[\"']([^\"']+)[\"']", text, re.M)
    return m.group(1) if m else "0.0.0"


def _package_sources() -> list[Path]:
    """Every file of ``aimixer_dsp`` that goes into the wheel (sources only, no caches)."""
    if not (PKG_DIR / "__init__.py").is_file():
        raise BuildError(f"DSP package not found at {PKG_DIR}")
    out = []
    for p in sorted(PKG_DIR.rglob("*")):
        if p.is_dir() or "__pycache__" in p.parts or p.suffix in (".pyc", ".pyo"):
            continue
        if p.suffix not in (".py", ".json", ".txt", ".typed"):
            continue
        out.append(p)
    return out


def _zip_bytes(entries: list[tuple[str, bytes]]) -> bytes:
    """A deterministic deflated zip archive of ``(name, data)`` entries."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return buf.getvalue()


def build_wheel() -> tuple[str, bytes]:
    """Build the ``py3-none-any`` wheel of ``aimixer_dsp`` (only that package).

    Returns
    -------
    (file_name, data)
        The file name carries the content hash as a PEP 440 local version
        (``aimixer_dsp-0.1.0+g<hash>-py3-none-any.whl``) so it is cache-safe yet a valid wheel name.
    """
    files = [(p.relative_to(PKG_DIR.parent).as_posix(), p.read_bytes()) for p in _package_sources()]
    digest = hashlib.sha256()
    for name, data in files:
        digest.update(name.encode() + b"\0" + data + b"\0")
    version = f"{_pkg_version()}+g{digest.hexdigest()[:HASH_LEN]}"
    dist_info = f"aimixer_dsp-{version}.dist-info"
    metadata = (
        "Metadata-Version: 2.1\n"
        "Name: aimixer-dsp\n"
        f"Version: {version}\n"
        "Summary: AI Mixer DSP chain, meters and features (pure Python)\n"
        "Requires-Python: >=3.11\n"
    ).encode()
    wheel_meta = (
        b"Wheel-Version: 1.0\nGenerator: aimixer-build-bundle\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    entries = [*files, (f"{dist_info}/METADATA", metadata), (f"{dist_info}/WHEEL", wheel_meta)]
    entries.append((f"{dist_info}/top_level.txt", b"aimixer_dsp\n"))
    record_lines = []
    for name, data in entries:
        h = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record_lines.append(f"{name},sha256={h},{len(data)}")
    record_lines.append(f"{dist_info}/RECORD,,")
    entries.append((f"{dist_info}/RECORD", ("\n".join(record_lines) + "\n").encode()))
    return f"aimixer_dsp-{version}-py3-none-any.whl", _zip_bytes(entries)


def trim_stdlib(data: bytes) -> bytes:
    """Drop the stdlib packages listed in :data:`STDLIB_DROP` from ``python_stdlib.zip``."""
    src = zipfile.ZipFile(io.BytesIO(data))
    entries = []
    for info in src.infolist():
        if info.is_dir() or info.filename.split("/", 1)[0] in STDLIB_DROP:
            continue
        entries.append((info.filename, src.read(info)))
    return _zip_bytes(entries)


def build_lock(wheel_name: str, wheel_data: bytes) -> bytes:
    """Pyodide's lock file with only our wheel registered (``loadPackage("aimixer-dsp")``)."""
    lock = json.loads((PYODIDE_DIR / "pyodide-lock.json").read_text(encoding="utf-8"))
    version = wheel_name.split("-")[1]
    lock["packages"] = {
        "aimixer-dsp": {
            "name": "aimixer-dsp",
            "version": version,
            "file_name": wheel_name,
            "install_dir": "site",
            "sha256": _sha256(wheel_data),
            "package_type": "package",
            "imports": ["aimixer_dsp"],
            "depends": [],
            "unvendored_tests": False,
            "tool": {},
        }
    }
    return (json.dumps(lock, indent=1, sort_keys=True) + "\n").encode()


_IMPORT_RE = re.compile(r"""(\bfrom\s*|\bimport\s*\(?\s*|new\s+URL\(\s*)(["'])\./([A-Za-z0-9_.-]+\.m?js)\2""")


def _js_sources() -> dict[str, bytes]:
    if not JS_DIR.is_dir():
        raise BuildError(f"JS SDK not found at {JS_DIR}")
    files = sorted(JS_DIR.glob("*.js")) + sorted(JS_DIR.glob("*.mjs"))
    return {p.name: p.read_bytes() for p in files if p.name not in BUILD_ONLY_JS}


def hash_js_modules(sources: dict[str, bytes]) -> dict[str, tuple[str, bytes]]:
    """Content-hash the SDK modules, rewriting ``./x.js`` imports to the hashed names.

    Modules are processed leaves first, so a module's hash covers its dependencies' hashes.
    """
    deps = {
        name: {m.group(3) for m in _IMPORT_RE.finditer(data.decode("utf-8"))} & set(sources)
        for name, data in sources.items()
    }
    done: dict[str, tuple[str, bytes]] = {}
    while len(done) < len(sources):
        ready = [n for n in sources if n not in done and deps[n] <= set(done)]
        if not ready:
            raise BuildError(f"import cycle among {sorted(set(sources) - set(done))}")
        for name in ready:
            text = sources[name].decode("utf-8")

            def repl(m: re.Match[str]) -> str:
                target = m.group(3)
                if target not in done:
                    return m.group(0)
                return f"{m.group(1)}{m.group(2)}./{done[target][0]}{m.group(2)}"

            data = _IMPORT_RE.sub(repl, text).encode("utf-8")
            done[name] = (_hashed_name(name, data), data)
    return done


def _inputs() -> list[Path]:
    paths = [Path(__file__).resolve()]
    paths += _package_sources()
    paths += [p for p in sorted(JS_DIR.glob("*")) if p.is_file()]
    paths += [
        PYODIDE_DIR / n
        for n in (
            "pyodide.mjs",
            "pyodide.asm.mjs",
            "pyodide.asm.wasm",
            "python_stdlib.zip",
            "pyodide-lock.json",
            "package.json",
        )
    ]
    paths += [
        ORT_DIR / n for n in ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
    ]
    paths += [MODEL_DIR / n for n in MODEL_FILES]
    return paths


def input_stamp() -> dict:
    """Fingerprint of every input: ``{path: [size, mtime_ns]}`` (missing optional inputs: None)."""
    stamp: dict = {"build": BUILD_ID, "brotli": brotli is not None}
    for p in _inputs():
        key = str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p)
        try:
            st = p.stat()
            stamp[key] = [st.st_size, st.st_mtime_ns]
        except FileNotFoundError:
            stamp[key] = None
    return stamp


def _br_quality(n: int) -> int:
    return 11 if n < 1_000_000 else 9 if n < 20_000_000 else 5


def _compress(data: bytes, name: str) -> tuple[bytes | None, bytes | None]:
    if not name.endswith(COMPRESSIBLE):
        return None, None
    gz = gzip.compress(data, compresslevel=9 if len(data) < 20_000_000 else 6, mtime=0)
    br = None
    if brotli is not None:
        br = brotli.compress(data, quality=_br_quality(len(data)))
    if len(gz) >= 0.95 * len(data):
        return None, None
    return gz, br


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise BuildError(f"{what} not found: {path} (run `npm install`)") from exc


def collect() -> dict[str, tuple[str, bytes]]:
    """Logical name -> (relative output path, bytes) for every file of the bundle."""
    files: dict[str, tuple[str, bytes]] = {}
    runtime = {
        n: _read(PYODIDE_DIR / n, "Pyodide") for n in ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm")
    }
    rdigest = hashlib.sha256(b"".join(_sha256(runtime[n]).encode() for n in sorted(runtime))).hexdigest()
    rdir = f"pyodide-{rdigest[:HASH_LEN]}"
    for n, data in runtime.items():
        files[n] = (f"{rdir}/{n}", data)
    stdlib = trim_stdlib(_read(PYODIDE_DIR / "python_stdlib.zip", "Pyodide stdlib"))
    files["python_stdlib.zip"] = (_hashed_name("python_stdlib.zip", stdlib), stdlib)
    wheel_name, wheel = build_wheel()
    files["aimixer_dsp.whl"] = (wheel_name, wheel)
    lock = build_lock(wheel_name, wheel)
    files["pyodide-lock.json"] = (_hashed_name("pyodide-lock.json", lock), lock)
    for n in ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"):
        data = _read(ORT_DIR / n, "onnxruntime-web")
        files[n] = (_hashed_name(n, data), data)
    for n in MODEL_FILES:
        p = MODEL_DIR / n
        if p.is_file():
            data = p.read_bytes()
            files[n] = (_hashed_name(n, data), data)
    for n, (hashed, data) in hash_js_modules(_js_sources()).items():
        files[n] = (hashed, data)
    return files


#: Where the SDK puts our wheel on Pyodide's file system when it boots from the snapshot.
SNAPSHOT_WHEEL_DIR = "/lib/aimixer"
#: Modules imported into the snapshot (the engine's imports).
SNAPSHOT_MODULES = (
    "json",
    "aimixer_dsp",
    "aimixer_dsp.errors",
    "aimixer_dsp.mixer",
    "aimixer_dsp.features",
    "aimixer_dsp.genre",
    "aimixer_dsp.jsbridge",
    "aimixer_dsp.render",
)


SNAPSHOT_INPUTS = (
    "pyodide.mjs",
    "pyodide.asm.mjs",
    "pyodide.asm.wasm",
    "python_stdlib.zip",
    "pyodide-lock.json",
    "aimixer_dsp.whl",
)


def _previous_snapshot(out: Path, inputs: str) -> bytes | None:
    """The snapshot of the previous build when it was made from the same inputs."""
    try:
        old = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        info, entry = old.get("snapshot") or {}, old["files"].get("pyodide.snapshot")
        if entry and info.get("inputs") == inputs:
            data = (out / entry["file"]).read_bytes()
            if _sha256(data) == entry["sha256"]:
                return data
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    return None


def make_snapshot(files: dict[str, tuple[str, bytes]], log=print) -> bytes | None:
    """A Pyodide memory snapshot with ``aimixer_dsp`` imported (``node wasm/js/make_snapshot.mjs``).

    Returns ``None`` (the SDK then boots normally and installs the wheel with ``loadPackage``)
    when Node is missing or the snapshot fails.
    """
    import subprocess
    import tempfile

    node = shutil.which("node")
    script = JS_DIR / "make_snapshot.mjs"
    if node is None or not script.is_file():
        return None
    with tempfile.TemporaryDirectory(prefix="aimixer-snap-") as tmp:
        t = Path(tmp)
        for logical in (
            "pyodide.mjs",
            "pyodide.asm.mjs",
            "pyodide.asm.wasm",
            "python_stdlib.zip",
            "pyodide-lock.json",
            "aimixer_dsp.whl",
        ):
            rel, data = files[logical]
            (t / rel).parent.mkdir(parents=True, exist_ok=True)
            (t / rel).write_bytes(data)
        rdir = t / files["pyodide.asm.wasm"][0].rsplit("/", 1)[0]
        out = t / "snapshot.bin"
        cmd = [
            node,
            str(script),
            str(rdir / "pyodide.mjs"),
            str(rdir) + "/",
            str(t / files["pyodide-lock.json"][0]),
            str(t / files["python_stdlib.zip"][0]),
            str(t / files["aimixer_dsp.whl"][0]),
            SNAPSHOT_WHEEL_DIR,
            str(out),
            *SNAPSHOT_MODULES,
        ]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as exc:
            log(f"wasm bundle: no Pyodide snapshot ({exc})")
            return None
        if proc.returncode != 0 or not out.is_file():
            log(f"wasm bundle: no Pyodide snapshot (node exit {proc.returncode}: {proc.stderr[-300:]!r})")
            return None
        return out.read_bytes()


def build(out: Path = DEFAULT_OUT, *, force: bool = False, log=print) -> dict:
    """Build (or reuse) the bundle in ``out`` and return the manifest."""
    t0 = time.perf_counter()
    out = Path(out)
    stamp = input_stamp()
    stamp_path = out / ".build-stamp.json"
    manifest_path = out / "manifest.json"
    if not force and stamp_path.is_file() and manifest_path.is_file():
        try:
            old = json.loads(stamp_path.read_text(encoding="utf-8"))
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            old, manifest = None, None
        if old == stamp and manifest and all((out / e["file"]).is_file() for e in manifest["files"].values()):
            log(f"wasm bundle up to date ({out}, {(time.perf_counter() - t0) * 1000:.0f} ms)")
            return manifest

    files = collect()
    snap_inputs = hashlib.sha256(
        "".join(_sha256(files[n][1]) for n in SNAPSHOT_INPUTS).encode() + " ".join(SNAPSHOT_MODULES).encode()
    ).hexdigest()
    snap = _previous_snapshot(out, snap_inputs)
    if snap is None:
        snap = make_snapshot(files, log)
    if snap is not None:
        files["pyodide.snapshot"] = (_hashed_name("pyodide-snapshot.bin", snap), snap)
    # reuse compressed siblings of unchanged files from a previous build
    previous: dict[str, dict] = {}
    if manifest_path.is_file():
        try:
            previous = {e["sha256"]: e for e in json.loads(manifest_path.read_text())["files"].values()}
        except (OSError, ValueError, KeyError):
            previous = {}
    tmp = out.with_name(out.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)

    def emit(item: tuple[str, tuple[str, bytes]]) -> tuple[str, dict]:
        logical, (rel, data) = item
        digest = _sha256(data)
        dest = tmp / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        prev = previous.get(digest)
        gz_size = br_size = None
        if prev and prev.get("file") == rel and (out / rel).is_file():
            for ext, key in ((".gz", "gzip"), (".br", "br")):
                src = out / (rel + ext)
                if prev.get(key) is not None and src.is_file():
                    shutil.copyfile(src, tmp / (rel + ext))
            gz_size, br_size = prev.get("gzip"), prev.get("br")
            if br_size is None and brotli is not None and prev.get("gzip") is not None:
                br = brotli.compress(data, quality=_br_quality(len(data)))
                (tmp / (rel + ".br")).write_bytes(br)
                br_size = len(br)
        else:
            gz, br = _compress(data, rel)
            if gz is not None:
                (tmp / (rel + ".gz")).write_bytes(gz)
                gz_size = len(gz)
            if br is not None:
                (tmp / (rel + ".br")).write_bytes(br)
                br_size = len(br)
        entry = {"file": rel, "size": len(data), "sha256": digest, "gzip": gz_size, "br": br_size}
        return logical, entry

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        entries = dict(pool.map(emit, sorted(files.items(), key=lambda kv: -len(kv[1][1]))))
    entries = dict(sorted(entries.items()))

    def total(key: str) -> int:
        return sum((e[key] if e[key] is not None else e["size"]) for e in entries.values())

    manifest = {
        "version": MANIFEST_VERSION,
        "package": "aimixer-dsp",
        "packageVersion": entries["aimixer_dsp.whl"]["file"].split("-")[1],
        "pyodideVersion": json.loads((PYODIDE_DIR / "package.json").read_text())["version"],
        "ortVersion": json.loads((ORT_DIR.parent / "package.json").read_text())["version"],
        "model": "genre.onnx" in entries,
        "snapshot": (
            {
                "wheel": entries["aimixer_dsp.whl"]["file"],
                "wheelDir": SNAPSHOT_WHEEL_DIR,
                "modules": list(SNAPSHOT_MODULES),
                "inputs": snap_inputs,
            }
            if "pyodide.snapshot" in entries
            else None
        ),
        "files": entries,
        "totals": {"raw": total("size"), "gzip": total("gzip"), "br": total("br") if brotli else None},
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    stub = f'export * from "./{entries["aimixer.js"]["file"]}";\n' if "aimixer.js" in entries else ""
    (tmp / "aimixer.js").write_text(stub, encoding="utf-8")
    (tmp / ".build-stamp.json").write_text(json.dumps(stamp, indent=1, sort_keys=True), encoding="utf-8")
    # swap in atomically-ish: a running origin sees either the old or the new tree
    old = out.with_name(out.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if out.exists():
        os.replace(out, old)
    os.replace(tmp, out)
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)
    t = manifest["totals"]
    br_txt = f"{t['br'] / 1e6:.2f} MB brotli" if t["br"] is not None else "no brotli (pip install brotli)"
    log(
        f"wasm bundle built in {time.perf_counter() - t0:.1f} s -> {out}: {len(entries)} files, "
        f"{t['raw'] / 1e6:.2f} MB raw, {t['gzip'] / 1e6:.2f} MB gzip, {br_txt}"
    )
    return manifest


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory (default wasm/dist)")
    ap.add_argument("--quiet", action="store_true", help="print only the one-line summary")
    ap.add_argument("--force", action="store_true", help="rebuild even when the inputs are unchanged")
    args = ap.parse_args(argv)
    try:
        manifest = build(args.out, force=args.force)
    except BuildError as exc:
        print(f"build_bundle: error: {exc}", file=sys.stderr)
        return 1
    if not args.quiet:
        for name, e in manifest["files"].items():
            gz = f"{e['gzip']:>10}" if e["gzip"] is not None else f"{'-':>10}"
            br = f"{e['br']:>10}" if e["br"] is not None else f"{'-':>10}"
            print(f"  {name:32} {e['size']:>10} {gz} {br}  {e['file']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
