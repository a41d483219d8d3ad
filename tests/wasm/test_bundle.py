"""Tests of ``wasm/build_bundle.py``: the browser bundle (Pyodide + our wheel + ORT + model + SDK)."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_builder(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, ROOT / "wasm" / "build_bundle.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def builder(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A private builder instance whose JS sources are a temp copy (so the test can edit them)."""
    mod = _load_builder("aimixer_build_bundle_under_test")
    js = tmp_path_factory.mktemp("js") / "js"
    shutil.copytree(ROOT / "wasm" / "js", js)
    mod.JS_DIR = js
    return mod


@pytest.fixture(scope="module")
def built(builder: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("bundle") / "dist"
    manifest = builder.build(out, log=lambda *_: None)
    return out, manifest


def test_manifest_lists_every_file_with_hashes_and_compressed_siblings(built: tuple[Path, dict]) -> None:
    out, manifest = built
    assert json.loads((out / "manifest.json").read_text()) == manifest
    expected = {
        "pyodide.mjs",
        "pyodide.asm.mjs",
        "pyodide.asm.wasm",
        "python_stdlib.zip",
        "pyodide-lock.json",
        "aimixer_dsp.whl",
        "ort.wasm.min.mjs",
        "ort-wasm-simd-threaded.mjs",
        "ort-wasm-simd-threaded.wasm",
        "aimixer.js",
        "engine.js",
        "protocol.js",
        "worker.js",
        "worklet.js",
    }
    assert expected <= set(manifest["files"])
    if (ROOT / "models" / "genre.onnx").is_file():
        assert {"genre.onnx", "genre.json"} <= set(manifest["files"])
    totals = {"raw": 0, "gzip": 0}
    for name, e in manifest["files"].items():
        data = (out / e["file"]).read_bytes()
        assert len(data) == e["size"], name
        assert hashlib.sha256(data).hexdigest() == e["sha256"], name
        # content hash in the file name, or in the directory for Pyodide's fixed-name runtime files
        short = e["sha256"][:12]
        if name in ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm"):
            assert re.fullmatch(r"pyodide-[0-9a-f]{12}/" + re.escape(name), e["file"]), e["file"]
        elif name == "aimixer_dsp.whl":
            assert re.fullmatch(r"aimixer_dsp-[0-9.]+\+g[0-9a-f]{12}-py3-none-any\.whl", e["file"])
        else:
            assert short in e["file"], (name, e["file"])
        if e["gzip"] is not None:
            gz = (out / (e["file"] + ".gz")).read_bytes()
            assert len(gz) == e["gzip"] and gzip.decompress(gz) == data
        if e["br"] is not None:
            brotli = pytest.importorskip("brotli")
            br = (out / (e["file"] + ".br")).read_bytes()
            assert len(br) == e["br"] and brotli.decompress(br) == data
        totals["raw"] += e["size"]
        totals["gzip"] += e["gzip"] if e["gzip"] is not None else e["size"]
    assert manifest["totals"]["raw"] == totals["raw"]
    assert manifest["totals"]["gzip"] == totals["gzip"] < totals["raw"]
    # the runtime's three files share one hashed directory
    dirs = {
        manifest["files"][n]["file"].split("/")[0]
        for n in ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm")
    }
    assert len(dirs) == 1


def test_wheel_contains_only_aimixer_dsp_and_imports(built: tuple[Path, dict], tmp_path: Path) -> None:
    out, manifest = built
    whl = out / manifest["files"]["aimixer_dsp.whl"]["file"]
    with zipfile.ZipFile(whl) as z:
        names = z.namelist()
        tops = {n.split("/")[0] for n in names}
        dist_info = [t for t in tops if t.endswith(".dist-info")]
        assert tops == {"aimixer_dsp", *dist_info} and len(dist_info) == 1
        assert "aimixer_dsp/mixer.py" in names and not any(
            "__pycache__" in n or n.endswith(".pyc") for n in names
        )
        wheel_meta = z.read(f"{dist_info[0]}/WHEEL").decode()
        assert "Tag: py3-none-any" in wheel_meta
        record = z.read(f"{dist_info[0]}/RECORD").decode().splitlines()
        assert len(record) == len(names)
    # importable straight from the wheel, in a fresh interpreter without the source tree
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import aimixer_dsp.mixer as m; "
        "assert m.__file__.startswith(sys.argv[1]), m.__file__; print(len(m.MixerSession().process([0.0]*960)"
        "['processedBuffer']))"
    )
    proc = subprocess.run(
        [sys.executable, "-S", "-c", code, str(whl)], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "960"


def test_lock_registers_only_our_wheel(built: tuple[Path, dict]) -> None:
    out, manifest = built
    lock = json.loads((out / manifest["files"]["pyodide-lock.json"]["file"]).read_text())
    assert set(lock["packages"]) == {"aimixer-dsp"}
    pkg = lock["packages"]["aimixer-dsp"]
    whl = manifest["files"]["aimixer_dsp.whl"]
    assert pkg["file_name"] == whl["file"]
    assert pkg["sha256"] == whl["sha256"]
    assert pkg["imports"] == ["aimixer_dsp"] and pkg["depends"] == []
    upstream = json.loads((ROOT / "node_modules" / "pyodide" / "pyodide-lock.json").read_text())
    assert lock["info"] == upstream["info"]


def test_stdlib_is_trimmed_but_keeps_what_the_dsp_needs(built: tuple[Path, dict]) -> None:
    out, manifest = built
    with zipfile.ZipFile(out / manifest["files"]["python_stdlib.zip"]["file"]) as z:
        tops = {n.split("/")[0] for n in z.namelist()}
    assert not tops & {"unittest", "tkinter", "multiprocessing", "pydoc_data", "xmlrpc"}
    assert {"json", "encodings", "collections", "_pyodide", "pyodide", "functools.py", "typing.py"} <= tops
    assert (
        manifest["files"]["python_stdlib.zip"]["size"]
        < (ROOT / "node_modules/pyodide/python_stdlib.zip").stat().st_size
    )


def test_sdk_imports_are_rewritten_to_hashed_files(built: tuple[Path, dict]) -> None:
    out, manifest = built
    present = {e["file"] for e in manifest["files"].values()}
    for name in ("aimixer.js", "engine.js", "worker.js"):
        text = (out / manifest["files"][name]["file"]).read_text()
        targets = re.findall(r"""(?:from\s*|import\s*\(\s*)["']\./([^"']+)["']""", text)
        assert targets, name
        assert all(t in present for t in targets), (name, targets)
        assert "./protocol.js" not in text
    stub = (out / "aimixer.js").read_text()
    assert stub == f'export * from "./{manifest["files"]["aimixer.js"]["file"]}";\n'


def test_incremental_rebuild(builder: Any, built: tuple[Path, dict]) -> None:
    out, manifest = built
    stamp = (out / "manifest.json").stat().st_mtime_ns
    again = builder.build(out, log=lambda *_: None)
    assert again == manifest
    assert (out / "manifest.json").stat().st_mtime_ns == stamp  # skipped: nothing rewritten
    # change one SDK module: only it (and the modules importing it) get new hashed names
    worker = builder.JS_DIR / "worker.js"
    worker.write_text(worker.read_text() + "\n// changed\n")
    rebuilt = builder.build(out, log=lambda *_: None)
    assert rebuilt["files"]["worker.js"]["file"] != manifest["files"]["worker.js"]["file"]
    for same in ("pyodide.asm.wasm", "ort-wasm-simd-threaded.wasm", "protocol.js", "aimixer_dsp.whl"):
        assert rebuilt["files"][same] == manifest["files"][same], same
    assert not (out / manifest["files"]["worker.js"]["file"]).exists()  # stale file gone


def test_cli_summary_and_clear_error(
    builder: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "never-built"
    builder.PYODIDE_DIR = tmp_path / "no-node-modules" / "pyodide"
    try:
        assert builder.main(["--out", str(out), "--quiet"]) == 1
    finally:
        builder.PYODIDE_DIR = ROOT / "node_modules" / "pyodide"
    err = capsys.readouterr().err
    assert err.startswith("build_bundle: error: Pyodide not found") and "npm install" in err
    assert not out.exists()
