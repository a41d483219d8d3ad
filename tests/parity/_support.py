"""Shared helpers of the parity and browser suites (loaded by path, see conftest.py).

* :func:`ensure_bundle` builds ``wasm/dist`` once (file-locked, so xdist workers do not race).
* :class:`OriginServer` runs the real origin app on Hypercorn in a thread on a free port, with an
  API key created in its database.
* The four runtimes: :func:`run_cpython`, :func:`run_origin`, :func:`run_node`, and
  :func:`run_chromium` (Playwright, driving ``/usr/bin/chromium``).
* :func:`compare` checks two runtimes' results agree (1e-5 on numbers, exact on strings).
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from browserenv import CHROMIUM, CHROMIUM_ARGS
from liveserver import LiveServer

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
FRAME = 960
TOL = 1e-5
# sessionId: ids differ per runtime by design; voiceActivity: an origin-only extra metric (webrtcvad
# does not run in the browser), reported only on origin sessions with genre "auto"
IGNORED_KEYS = {"processingTime", "sessionId", "voiceActivity"}


def load_module(name: str, path: Path) -> Any:
    """Import ``path`` as module ``name`` (unique names: no clash with other suites' helpers)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


vectors_mod = load_module("aimixer_parity_vectors", HERE / "vectors.py")


def ensure_bundle() -> dict:
    """Build (or reuse) ``wasm/dist``; returns the manifest."""
    builder = load_module("aimixer_build_bundle", ROOT / "wasm" / "build_bundle.py")
    import tempfile

    lock_path = Path(tempfile.gettempdir()) / "aimixer-wasm-build.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return builder.build(builder.DEFAULT_OUT, log=lambda *_: None)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# ---------------------------------------------------------------------------------------------
# the origin on a real Hypercorn server


class OriginServer:
    """``create_app(settings)`` served by Hypercorn in a background thread on 127.0.0.1."""

    def __init__(self, data_dir: Path, *, dev_mode: bool = False) -> None:
        from origin.app import create_app
        from origin.config import load_settings

        self.settings = load_settings(env={}, data_dir=data_dir, dev_mode=dev_mode)
        self.app = create_app(self.settings)
        self.api_key: str | None = None
        try:
            from origin.auth.apikeys import create_key

            _, self.api_key = create_key(self.app.extensions["storage"], "parity", tier="enterprise")
        except Exception:  # noqa: BLE001 - keys are optional for dev-mode servers
            self.api_key = None
        self._server: Any = None

    @property
    def port(self) -> int:
        return self._server.port if self._server is not None else 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> OriginServer:
        self._server = LiveServer(self.app, graceful_timeout=1.0).start(timeout)
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/wasm/manifest.json", timeout=2).status_code in (200, 503):
                    break
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


# ---------------------------------------------------------------------------------------------
# runtimes


def _json_safe(obj: Any) -> Any:
    from aimixer_dsp.mixer import to_json_safe

    return json.loads(json.dumps(to_json_safe(obj)))


def cpython_model() -> Any:
    """The origin's genre model (``origin.genre``), or ``None`` when there is no model file."""
    try:
        from origin.genre import load_default_model

        return load_default_model()
    except Exception:  # noqa: BLE001 - model optional
        return None


def run_cpython(vectors: dict) -> dict:
    """The DSP package called directly (pure-Python lists in, like the browser)."""
    from aimixer_dsp.errors import DSPError
    from aimixer_dsp.features import extract_features
    from aimixer_dsp.genre import StreamingGenreClassifier
    from aimixer_dsp.mixer import MixerSession

    model = cpython_model()
    out: dict[str, Any] = {
        "path": "cpython",
        "frames": [],
        "streams": [],
        "features": [],
        "classify": [],
        "errors": [],
    }
    from aimixer_dsp.mixer import NullGenreTracker  # the origin's (and the engine's) null tracker

    def fresh() -> Any:
        return MixerSession(genre_tracker=NullGenreTracker())

    for v in vectors["frames"]:
        try:
            res = fresh().process(list(v["samples"]), v["config"])
            out["frames"].append({"name": v["name"], "ok": True, "result": _json_safe(res)})
        except DSPError as exc:
            out["frames"].append(
                {"name": v["name"], "ok": False, "error": {"code": exc.code, "message": str(exc)}}
            )
    for v in vectors["streams"]:
        # the origin's rule: the classifier is attached on the session's first "auto" frame
        tracker = None
        session = fresh()
        results, error = [], None
        s = v["samples"]
        for i in range(0, len(s) - FRAME + 1, FRAME):
            cfg = vectors_mod.stream_config(v, i // FRAME)
            if tracker is None and model is not None and (cfg or {}).get("genre") == "auto":
                tracker = session.genre_tracker = StreamingGenreClassifier()
            try:
                res = session.process(list(s[i : i + FRAME]), cfg)
            except DSPError as exc:
                error = {"code": exc.code, "message": str(exc)}
                break
            results.append(_json_safe(res))
            if tracker is not None and tracker.pending_features is not None:
                tracker.apply(model.predict(tracker.pending_features))
        out["streams"].append({"name": v["name"], "ok": error is None, "error": error, "results": results})
    for v in vectors["features"]:
        out["features"].append(
            {
                "name": v["name"],
                "ok": True,
                "result": _json_safe(extract_features(list(v["samples"]), **v["opts"])),
            }
        )
    for v in vectors["classify"]:
        out["classify"].append(
            {"name": v["name"], **cpython_classify(model, v["features"], cpython_matrix_model())}
        )
    for v in vectors["errors"]:
        try:
            fresh().process(list(v["samples"]), v["config"])
            out["errors"].append({"name": v["name"], "code": None})
        except DSPError as exc:
            out["errors"].append({"name": v["name"], "code": exc.code, "message": str(exc)})
    return out


def cpython_matrix_model() -> Any:
    """The origin's MFCC-statistics model, or ``None`` when there is no model file."""
    try:
        from aimixer_train.inference import load_model, matrix_model_path

        return load_model(matrix_model_path())
    except Exception:  # noqa: BLE001 - model optional
        return None


def cpython_classify(model: Any, features: Any, matrix_model: Any = None) -> dict:
    """``/classify-genre`` on CPython: the origin's rule (:func:`aimixer_dsp.genre.parse_features`,
    the model, :func:`aimixer_dsp.genre.verdict`)."""
    from aimixer_dsp.errors import DSPError
    from aimixer_dsp.genre import parse_features, verdict

    try:
        kind, vectors = parse_features(features)
    except DSPError as exc:
        return {"ok": False, "error": {"code": exc.code, "message": str(exc)}}
    m = model if kind == "windowVectors" else matrix_model
    if m is None:
        return {"ok": False, "error": {"code": "SERVICE_UNAVAILABLE", "message": "no genre model"}}
    probs = [m.predict(v) for v in vectors]
    return {
        "ok": True,
        "result": verdict(probs, model_version=m.version, input_kind=kind, return_probabilities=True),
    }


def run_origin(vectors: dict, server: OriginServer) -> dict:
    """The origin's HTTP API on the real server."""
    import httpx

    headers = {"Authorization": f"Bearer {server.api_key}"} if server.api_key else {}
    out: dict[str, Any] = {
        "path": "origin-http",
        "frames": [],
        "streams": [],
        "features": [],
        "classify": [],
        "errors": [],
    }

    def post(c: httpx.Client, path: str, body: dict, extra: dict | None = None) -> dict:
        r = c.post(path, json=body, headers={**headers, **(extra or {})})
        data = r.json()
        if r.status_code != 200:
            return {"ok": False, "error": data.get("error", {"code": f"HTTP_{r.status_code}"})}
        return {"ok": True, "result": data}

    with httpx.Client(base_url=server.url, timeout=60) as c:
        for v in vectors["frames"]:
            body = {"audioBuffer": v["samples"]}
            if v["config"] is not None:
                body["config"] = v["config"]
            out["frames"].append({"name": v["name"], **post(c, "/process-audio", body)})
        for v in vectors["streams"]:
            sid = f"parity-{v['name']}-{time.time_ns()}"
            results, error = [], None
            s = v["samples"]
            for i in range(0, len(s) - FRAME + 1, FRAME):
                r = post(
                    c,
                    "/process-audio",
                    {
                        "audioBuffer": s[i : i + FRAME],
                        "config": vectors_mod.stream_config(v, i // FRAME),
                        "sessionId": sid,
                    },
                    {"X-Session-Id": sid},
                )
                if not r["ok"]:
                    error = r["error"]
                    break
                results.append(r["result"])
            out["streams"].append(
                {"name": v["name"], "ok": error is None, "error": error, "results": results}
            )
        for v in vectors["features"]:
            out["features"].append(
                {
                    "name": v["name"],
                    **post(c, "/extract-features", {"audioBuffer": v["samples"], **v["opts"]}),
                }
            )
        for v in vectors["classify"]:
            out["classify"].append(
                {
                    "name": v["name"],
                    **post(c, "/classify-genre", {"features": v["features"], "returnProbabilities": True}),
                }
            )
        for v in vectors["errors"]:
            body = {"audioBuffer": v["samples"]}
            if v["config"] is not None:
                body["config"] = v["config"]
            r = post(c, "/process-audio", body)
            out["errors"].append({"name": v["name"], "code": None if r["ok"] else r["error"].get("code")})
    return out


def run_node(
    vectors_path: Path, out_path: Path, *, extra: list[str] | None = None, timeout: float = 240
) -> dict:
    """The SDK in Node 20 (``tests/node/sdk_parity.mjs``)."""
    cmd = [
        "node",
        str(ROOT / "tests" / "node" / "sdk_parity.mjs"),
        str(vectors_path),
        str(out_path),
        *(extra or []),
    ]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(
            f"node runner failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return json.loads(out_path.read_text())


PAGE_PATH = "/mixer/?noinit"


def chromium_launch(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


_BROWSER: list[Any] = []


def shared_browser() -> Any:
    """One headless Chromium per test process (Playwright's sync API allows one driver per thread),
    shared by the parity and browser suites; closed at exit."""
    if not _BROWSER:
        import atexit

        from playwright.sync_api import sync_playwright

        pw = sync_playwright().start()
        browser = chromium_launch(pw)
        _BROWSER.extend([pw, browser])

        def _close() -> None:
            with contextlib.suppress(Exception):
                browser.close()
            with contextlib.suppress(Exception):
                pw.stop()

        atexit.register(_close)
    return _BROWSER[1]


def install_runner_route(page: Any, base_url: str) -> None:
    """Serve ``tests/parity/runner.mjs`` at ``/__parity__/runner.mjs`` (same origin, via Playwright)."""
    body = (HERE / "runner.mjs").read_text()
    page.route(
        f"{base_url}/__parity__/runner.mjs",
        lambda route: route.fulfill(
            status=200,
            body=body,
            headers={"Content-Type": "text/javascript", "Cross-Origin-Resource-Policy": "same-origin"},
        ),
    )


def run_chromium(
    page: Any, base_url: str, vectors_json: str, *, prefer: str = "wasm", api_key: str | None = None
) -> dict:
    """The SDK in headless Chromium: the page imports ``/wasm/aimixer.js`` and runs the vectors."""
    install_runner_route(page, base_url)
    page.goto(base_url + PAGE_PATH)
    result = page.evaluate(
        """async ([vectorsJson, prefer, apiKey]) => {
            const { AIMixer } = await import("/wasm/aimixer.js");
            const { runVectors } = await import("/__parity__/runner.mjs");
            const phases = [];
            const mixer = await AIMixer.create({ prefer, apiKey, onProgress: (p) => phases.push(p) });
            const out = await runVectors(mixer, JSON.parse(vectorsJson));
            out.phases = phases;
            out.crossOriginIsolated = self.crossOriginIsolated;
            out.fallbackReason = mixer.fallbackReason;
            out.info = mixer.info || null;
            await mixer.close();
            return JSON.stringify(out);
        }""",
        [vectors_json, prefer, api_key],
    )
    return json.loads(result)


def run_chromium_fallback(browser: Any, base_url: str, vectors_json: str, api_key: str | None) -> dict:
    """The SDK in Chromium with the bundle blocked (every ``/wasm/*`` request aborted): it must fall
    back to the origin API at ``base_url``. ``out["blocked"]`` lists the aborted requests."""
    ctx = browser.new_context()
    page = ctx.new_page()
    blocked: list[str] = []

    def abort(route: Any) -> None:
        blocked.append(route.request.url)
        route.abort()

    page.route(f"{base_url}/wasm/*", abort)
    page.route(f"{base_url}/wasm/**/*", abort)
    # the SDK entry module itself must load: serve it from the unblocked source tree
    js_dir = ROOT / "wasm" / "js"

    def serve(body: str) -> Any:
        return lambda route: route.fulfill(status=200, body=body, headers={"Content-Type": "text/javascript"})

    for name in ("aimixer.js", "protocol.js", "files.js"):
        page.route(f"{base_url}/__sdk__/{name}", serve((js_dir / name).read_text()))
    try:
        install_runner_route(page, base_url)
        page.goto(base_url + PAGE_PATH)
        result = page.evaluate(
            """async ([vectorsJson, apiKey]) => {
                const { AIMixer } = await import("/__sdk__/aimixer.js");
                const { runVectors } = await import("/__parity__/runner.mjs");
                const mixer = await AIMixer.create({ apiKey });
                const out = await runVectors(mixer, JSON.parse(vectorsJson));
                out.fallbackReason = mixer.fallbackReason;
                return JSON.stringify(out);
            }""",
            [vectors_json, api_key],
        )
        out = json.loads(result)
        out["blocked"] = blocked
        return out
    finally:
        ctx.close()


# ---------------------------------------------------------------------------------------------
# comparison


def _num(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def compare(a: Any, b: Any, path: str = "", tol: float = TOL, problems: list[str] | None = None) -> list[str]:
    """Differences between two results: numbers within ``tol`` (abs), strings/bools/None exact."""
    problems = [] if problems is None else problems
    if len(problems) > 20:
        return problems
    if isinstance(a, dict) and isinstance(b, dict):
        ka, kb = set(a) - IGNORED_KEYS, set(b) - IGNORED_KEYS
        if ka != kb:
            problems.append(f"{path}: keys differ: only left {sorted(ka - kb)}, only right {sorted(kb - ka)}")
        for k in sorted(ka & kb):
            compare(a[k], b[k], f"{path}.{k}", tol, problems)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            problems.append(f"{path}: length {len(a)} != {len(b)}")
        else:
            worst, where = 0.0, -1
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                if _num(x) and _num(y):
                    d = abs(x - y)
                    if not d <= worst:
                        worst, where = d, i
                else:
                    compare(x, y, f"{path}[{i}]", tol, problems)
            if worst > tol or math.isnan(worst):
                problems.append(f"{path}[{where}]: |{a[where]} - {b[where]}| = {worst:.3g} > {tol}")
    elif _num(a) and _num(b):
        if not abs(a - b) <= tol:
            problems.append(f"{path}: {a} != {b} (diff {abs(a - b):.3g})")
    elif a != b:
        problems.append(f"{path}: {a!r} != {b!r}")
    return problems


def max_abs_diff(a: Any, b: Any) -> float:
    """Largest absolute numeric difference between two results (ignoring ``processingTime``)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return max([max_abs_diff(a[k], b[k]) for k in set(a) & set(b) - IGNORED_KEYS] or [0.0])
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return max([max_abs_diff(x, y) for x, y in zip(a, b, strict=True)] or [0.0])
    if _num(a) and _num(b):
        return abs(a - b)
    return 0.0


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").lower() in ("1", "true", "yes")
