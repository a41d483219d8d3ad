"""Loudness history and EBU R 128 compliance reports (extensions of the studio API).

Read from the per-second logs the recorders write beside their archive files
(:mod:`origin.recorder.loudness_log`):

* ``GET /api/recorders/{id}/loudness?from=ISO&to=ISO&step=S`` — the recorder's series across its
  files between ``from`` and ``to`` (default: the last hour), downsampled to ``step`` seconds
  (1..3600, default 1; a bucket keeps the maxima of M, S, TP and SP, the last I and LRA, and
  ``sil``/``clip`` when any second had them). At most 100 000 points.
* ``GET /api/assets/loudness/{path}?target=NAME|LUFS&step=S`` — one recording's summary
  (integrated, LRA, true-peak and sample-peak max, M/S max, seconds of silence and clipping, share
  of seconds above the target) and its series.
* ``GET /api/assets/report/{path}?target=ebu-r128[&format=html]`` — a compliance report for a
  named target (JSON; ``format=html`` or an ``Accept: text/html`` request gives a printable page).

Scoping is the studio API's: a studio user sees only the recorders and files of its studio
(403 otherwise); paths follow :mod:`.paths`.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import html
import math
import os
from pathlib import Path
from typing import Any

from quart import Blueprint, Response, request

from origin.errors import StudioError
from origin.recorder.loudness_log import LOG_SUFFIX, log_path_for, read_log, summarize
from origin.studio.authz import check_recorder, login_required, principal
from origin.studio.common import get_recorder_or_404, parse_recorder_id, service
from origin.studio.models import studio_doc
from origin.studio.paths import relpath
from origin.studio.stream import resolve_file

bp = Blueprint("studio_loudness", __name__, url_prefix="/api")

#: named targets: (integrated LUFS, true-peak ceiling dBTP, tolerance of the integrated value LU)
#: — EBU R 128 allows +/-0.5 LU for file-based programmes (+/-1 LU for live), ATSC A/85 +/-2 dB;
#: for the streaming and podcast norms we use +/-1 LU.
TOLERANCE_LU = {"ebu-r128": 0.5, "atsc-a85": 2.0, "streaming": 1.0, "podcast": 1.0}
MAX_POINTS = 100_000
MAX_LOG_FILES = 2000
_MAX_ARG = 64


def _targets() -> dict[str, tuple[float, float]]:
    from aimixer_dsp.presets import LOUDNESS_TARGETS

    return LOUDNESS_TARGETS


def _arg(name: str) -> str | None:
    v = request.args.get(name)
    if v is not None and len(v) > _MAX_ARG:
        raise StudioError(400, f"{name} is too long")
    return v


def _target(default: str = "ebu-r128") -> tuple[str, float, float]:
    """(name, LUFS, dBTP ceiling) from ``?target=`` (a name, or a number of LUFS)."""
    raw = _arg("target") or default
    targets = _targets()
    if raw in targets:
        lufs, tp = targets[raw]
        return raw, lufs, tp
    try:
        lufs = float(raw)
    except ValueError:
        raise StudioError(
            400, f"target must be one of {', '.join(sorted(targets))} or a number of LUFS"
        ) from None
    if not math.isfinite(lufs) or not -70.0 <= lufs <= 0.0:
        raise StudioError(400, "target must be between -70 and 0 LUFS")
    return "custom", lufs, -1.0


def _step() -> int:
    raw = _arg("step")
    if raw is None:
        return 1
    try:
        step = int(raw)
    except ValueError:
        raise StudioError(400, "step must be an integer number of seconds") from None
    if not 1 <= step <= 3600:
        raise StudioError(400, "step must be between 1 and 3600 seconds")
    return step


def _time(name: str) -> float | None:
    raw = _arg(name)
    if raw is None or raw == "":
        return None
    try:
        t = _dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise StudioError(400, f"{name} must be an ISO 8601 date-time") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=_dt.UTC)
    return t.timestamp()


def _epoch(iso: Any) -> float | None:
    if not isinstance(iso, str) or len(iso) > _MAX_ARG:
        return None
    try:
        return _dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def downsample(records: list[dict], step: int) -> list[dict]:
    """Buckets of ``step`` consecutive records: maxima of M/S/TP/SP, last I/LRA, any sil/clip."""
    if step <= 1:
        return [{k: v for k, v in r.items() if k != "type"} for r in records]
    out = []
    for i in range(0, len(records), step):
        chunk = records[i : i + step]
        last = chunk[-1]
        b: dict[str, Any] = {"t": last.get("t"), "off": last.get("off")}
        for key in ("M", "S", "TP", "SP"):
            vals = [float(r[key]) for r in chunk if isinstance(r.get(key), int | float)]
            b[key] = max(vals) if vals else None
        for key in ("I", "LRA", "TPmax", "SPmax"):
            b[key] = last.get(key)
        b["sil"] = any(r.get("sil") is True for r in chunk)
        b["clip"] = any(r.get("clip") is True for r in chunk)
        out.append(b)
    return out


def _read_records(path: str) -> list[dict]:
    return [r for r in read_log(path) if r.get("type") != "header"]


def _asset_log(f: Path) -> str:
    log = log_path_for(str(f))
    if str(f).endswith(LOG_SUFFIX) or not os.path.isfile(log):
        raise StudioError(404, "No loudness log for this file")
    return log


async def _run(fn: Any, *args: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


@bp.get("/assets/loudness/<path:path>", merge_slashes=False)
@studio_doc(summary="A recording's loudness summary and per-second series (extension)", tags=["loudness"])
@login_required
async def asset_loudness(path: str) -> Any:
    f = await resolve_file(path)
    name, lufs, tp = _target()
    step = _step()
    log = _asset_log(f)
    records = await _run(_read_records, log)
    series = downsample(records, step)[:MAX_POINTS]
    return {
        "path": relpath(service().archive_root, f),
        "log": relpath(service().archive_root, Path(log)),
        "target": {"name": name, "integrated": lufs, "truePeak": tp},
        "summary": summarize(records, lufs),
        "step": step,
        "series": series,
    }


def _report(name: str, lufs: float, tp: float, summary: dict) -> dict:
    tol = TOLERANCE_LU.get(name, 1.0)
    integ = summary["integrated"]
    tpmax = summary["truePeakMax"]
    checks = [
        {
            "name": "integrated",
            "value": integ,
            "limit": f"{lufs:.1f} ± {tol:g} LU",
            "pass": integ is not None and abs(integ - lufs) <= tol,
        },
        {
            "name": "truePeak",
            "value": tpmax,
            "limit": f"≤ {tp:.1f} dBTP",
            "pass": tpmax is None or tpmax <= tp,
        },
    ]
    return {
        "target": {"name": name, "integrated": lufs, "tolerance": tol, "truePeak": tp},
        "measured": summary,
        "checks": checks,
        "compliant": all(c["pass"] for c in checks),
    }


def _fmt(v: Any, unit: str) -> str:
    return "–" if v is None else f"{v:.1f} {unit}"


def report_html(path: str, rep: dict) -> str:
    """A self-contained, printable HTML page of a compliance report."""
    m = rep["measured"]
    t = rep["target"]
    rows = "".join(
        f"<tr><td>{html.escape(c['name'])}</td><td>{html.escape(_fmt(c['value'], 'LUFS' if c['name'] == 'integrated' else 'dBTP'))}</td>"
        f"<td>{html.escape(c['limit'])}</td><td class={'ok' if c['pass'] else 'bad'}>{'pass' if c['pass'] else 'FAIL'}</td></tr>"
        for c in rep["checks"]
    )
    facts = [
        ("Loudness range", _fmt(m["lra"], "LU")),
        ("Max momentary", _fmt(m["momentaryMax"], "LUFS")),
        ("Max short-term", _fmt(m["shortTermMax"], "LUFS")),
        ("Max sample peak", _fmt(m["samplePeakMax"], "dBFS")),
        ("Duration", f"{m['seconds']} s"),
        ("Silent seconds", str(m["silenceSeconds"])),
        ("Seconds with clipping", str(m["clippingSeconds"])),
        ("Share above target", f"{100 * m['aboveTargetShare']:.1f} %"),
    ]
    fact_rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in facts)
    verdict = "COMPLIANT" if rep["compliant"] else "NOT COMPLIANT"
    return (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        f"<title>Loudness report – {html.escape(path)}</title>"
        "<style>body{font:14px system-ui,sans-serif;margin:2em;color:#111}table{border-collapse:collapse;"
        "margin:1em 0}td,th{border:1px solid #999;padding:4px 10px;text-align:left}.ok{color:#060}"
        ".bad{color:#b00;font-weight:bold}@media print{body{margin:0}}</style>"
        f"<h1>Loudness compliance report</h1><p>File: <b>{html.escape(path)}</b><br>"
        f"Target: {html.escape(t['name'])} ({t['integrated']:.1f} LUFS ± {t['tolerance']:g} LU, "
        f"true peak ≤ {t['truePeak']:.1f} dBTP)</p>"
        f"<h2 class={'ok' if rep['compliant'] else 'bad'}>{verdict}</h2>"
        f"<table><tr><th>Check</th><th>Measured</th><th>Limit</th><th>Result</th></tr>{rows}</table>"
        f"<table>{fact_rows}</table>"
        "<p>Measured per ITU-R BS.1770-4 / EBU Tech 3341-3342 by AI Mixer from the recorder's "
        "per-second loudness log.</p></html>"
    )


@bp.get("/assets/report/<path:path>", merge_slashes=False)
@studio_doc(summary="EBU R 128 compliance report of a recording, JSON or HTML (extension)", tags=["loudness"])
@login_required
async def asset_report(path: str) -> Any:
    f = await resolve_file(path)
    name, lufs, tp = _target()
    fmt = _arg("format") or ("html" if "text/html" in (request.headers.get("Accept") or "")[:512] else "json")
    if fmt not in ("json", "html"):
        raise StudioError(400, "format must be json or html")
    log = _asset_log(f)
    records = await _run(_read_records, log)
    rep = {"path": relpath(service().archive_root, f), **_report(name, lufs, tp, summarize(records, lufs))}
    if fmt == "html":
        return Response(report_html(rep["path"], rep), content_type="text/html; charset=utf-8")
    return rep


def _recorder_series(folder: str, t_from: float, t_to: float) -> list[dict]:
    """Records of every log under ``folder`` whose time lies in [t_from, t_to], oldest first."""
    logs = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for fn in filenames:
            if fn.endswith(LOG_SUFFIX):
                p = os.path.join(dirpath, fn)
                try:
                    if os.stat(p).st_mtime >= t_from:
                        logs.append(p)
                except OSError:
                    continue
                if len(logs) >= MAX_LOG_FILES:
                    break
    out = []
    for p in logs:
        for r in read_log(p):
            if r.get("type") == "header":
                continue
            t = _epoch(r.get("t"))
            if t is not None and t_from <= t <= t_to:
                out.append((t, r))
    out.sort(key=lambda tr: tr[0])
    return [r for _, r in out]


@bp.get("/recorders/<recorder_id>/loudness")
@studio_doc(summary="A recorder's loudness series across files, downsampled (extension)", tags=["loudness"])
@login_required
async def recorder_loudness(recorder_id: str) -> Any:
    svc = service()
    rid = parse_recorder_id(recorder_id)
    check_recorder(principal(), rid)
    rec = await get_recorder_or_404(rid)
    step = _step()
    now = _dt.datetime.now(_dt.UTC).timestamp()
    t_to = _time("to") or now
    t_from = _time("from")
    if t_from is None:
        t_from = t_to - 3600.0
    if t_from > t_to:
        raise StudioError(400, "from must not be after to")
    if (t_to - t_from) / step > MAX_POINTS:
        raise StudioError(400, f"the range holds more than {MAX_POINTS} points at step={step}; raise step")
    folder = svc.abs_archive(rec["config"]["archive_root"])
    records = await _run(_recorder_series, str(folder), t_from, t_to) if folder.is_dir() else []
    iso = lambda t: _dt.datetime.fromtimestamp(t, _dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    return {
        "recorder_id": rid,
        "from": iso(t_from),
        "to": iso(t_to),
        "step": step,
        "series": downsample(records, step)[:MAX_POINTS],
    }
