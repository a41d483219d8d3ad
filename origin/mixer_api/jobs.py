"""File jobs (an extension of the spec): ``POST /jobs``, ``GET /jobs/{id}``,
``GET /jobs/{id}/result``, ``DELETE /jobs/{id}``. Jobs belong to the caller's key.

``POST /jobs`` takes ``multipart/form-data``:

==========  ================================================================================
field       meaning
==========  ================================================================================
file        the audio file (any format soundfile reads; at most ``job_max_bytes`` bytes and
            ``job_max_seconds`` of audio)
config      optional JSON object, the ``/process-audio`` config (``genre`` included)
analysis    ``true``: loudness summary and genre timeline only, no output audio
format      ``wav`` (default) or ``flac``: the processed file's format
target      optional loudness target name: ``ebu-r128`` (-23 LUFS / -1 dBTP), ``atsc-a85``
            (-24/-2), ``streaming`` (-14/-1), ``podcast`` (-16/-1)
targetLufs  optional loudness target in LUFS (``presets.TARGET_RANGE``; exclusive with target)
truePeakCeiling
            optional true-peak ceiling of the normalisation in dBTP (-3..0; default the
            named target's, else -1; needs target or targetLufs)
==========  ================================================================================

A target normalises the output as ``aimixer process --target`` does (:mod:`aimixer_dsp.loudnorm`:
one analysis pass, then the gain and a true-peak limiter); the result's ``normalization`` holds
``{target, targetLufs, truePeakCeiling, measuredLufs, predictedLufs, gainDb, analysisPasses}``
and ``input``/``output`` the loudness before and after. Bad names or numbers are ``400
INVALID_PARAMETER`` naming the field.

and answers ``202`` with the job (``Location: /jobs/{id}``). ``GET /jobs/{id}`` reports
``state`` (``queued``, ``running``, ``complete``, ``failed``, ``cancelled``), ``progress``
(0..1), ``attempts`` and ``error``. ``GET /jobs/{id}/result`` of a complete job gives the
processed file (``audio/wav`` or ``audio/flac``) or, with ``Accept: application/json`` (and
always for analysis jobs), the metrics JSON; before that it is ``409 JOB_NOT_COMPLETE``.
``DELETE /jobs/{id}`` cancels a queued or running job and removes its files and row (``204``).
At most :data:`MAX_ACTIVE_JOBS` jobs of one owner may be queued or running (``429``).
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

from aimixer_dsp.presets import LOUDNESS_TARGETS
from quart import Blueprint, Response, current_app, request, send_file

from origin.errors import APIError
from origin.jobs.work import TARGET_KEY, input_path, job_dir, output_path
from origin.jsonutil import dumps
from origin.openapi import doc, schema

from .common import parse_config, parse_json_text, principal_owner

__all__ = ["bp", "MAX_ACTIVE_JOBS"]

bp = Blueprint("mixer_jobs", __name__)

MAX_ACTIVE_JOBS = 20
JOB_ID_RE = re.compile(r"^job_[0-9a-f]{24}$")
FORMATS = {"wav": "audio/wav", "flac": "audio/flac"}
#: longest accepted text of a number field
MAX_NUMBER_TEXT = 32

JOB_TARGET = schema(
    "JobLoudnessTarget",
    {
        "type": ["object", "null"],
        "description": "the job's loudness normalisation (null: none)",
        "properties": {
            "target": {"type": "string", "description": "the target's name, or 'custom' for targetLufs"},
            "targetLufs": {"type": "number"},
            "truePeakCeiling": {"type": "number"},
        },
    },
)

JOB = schema(
    "Job",
    {
        "type": "object",
        "required": ["id", "state", "kind", "progress"],
        "properties": {
            "id": {"type": "string"},
            "kind": {"enum": ["process", "analysis"]},
            "state": {"enum": ["queued", "running", "complete", "failed", "cancelled"]},
            "progress": {"type": "number", "minimum": 0, "maximum": 1},
            "attempts": {"type": "integer"},
            "error": {"type": ["string", "null"]},
            "format": {"enum": list(FORMATS)},
            "target": JOB_TARGET,
            "createdAt": {"type": "integer"},
            "startedAt": {"type": ["integer", "null"]},
            "finishedAt": {"type": ["integer", "null"]},
        },
    },
)
JOB_UPLOAD = {
    "multipart/form-data": {
        "schema": {
            "type": "object",
            "required": ["file"],
            "properties": {
                "file": {"type": "string", "format": "binary"},
                "config": {"type": "string", "description": "JSON object, as /process-audio's config"},
                "analysis": {"type": "string", "enum": ["true", "false"]},
                "format": {"type": "string", "enum": list(FORMATS)},
                "target": {"type": "string", "enum": sorted(LOUDNESS_TARGETS)},
                "targetLufs": {"type": "string", "description": "a number: LUFS, -40..-5"},
                "truePeakCeiling": {"type": "string", "description": "a number: dBTP, -3..0"},
            },
        }
    }
}


def _jobs() -> Any:
    return current_app.extensions["jobs"]


def _ms(t: Any) -> int | None:
    return None if t is None else int(float(t) * 1000)


def _view(row: dict[str, Any]) -> dict[str, Any]:
    target = json.loads(row["config"] or "{}").get(TARGET_KEY)
    return {
        "id": row["id"],
        "kind": row["kind"],
        "state": row["state"],
        "progress": float(row["progress"]),
        "attempts": int(row["attempts"]),
        "error": row["error"],
        "format": row["output_format"],
        "target": target,
        "createdAt": _ms(row["created_at"]),
        "startedAt": _ms(row["started_at"]),
        "finishedAt": _ms(row["finished_at"]),
    }


async def _own_job(job_id: str) -> dict[str, Any]:
    svc = _jobs()
    row = await svc.storage.run(svc.store.get, job_id) if JOB_ID_RE.match(job_id) else None
    if row is None or row["owner"] != principal_owner():
        raise APIError(404, "JOB_NOT_FOUND", f"no job {job_id[:80]!r}", {"jobId": job_id[:80]})
    return row


def _number(form: Any, field: str) -> float | None:
    """A number form field (``None`` when absent); text that is no number is a 400."""
    text = form.get(field)
    if text is None or text == "":
        return None
    if len(text) > MAX_NUMBER_TEXT:
        raise APIError(
            400, "INVALID_PARAMETER", f"{field} is longer than {MAX_NUMBER_TEXT} characters", {"field": field}
        )
    try:
        return float(text)
    except ValueError:
        raise APIError(
            400, "INVALID_PARAMETER", f"{field}={text!r} is not a number", {"field": field, "value": text}
        ) from None


def parse_target(form: Any) -> dict[str, Any] | None:
    """The normalisation fields of ``POST /jobs`` -> ``{target, targetLufs, truePeakCeiling}``
    or ``None``; a bad name, number or combination is a 400 naming the field."""
    from aimixer_dsp.errors import ParameterError
    from aimixer_dsp.loudnorm import resolve_normalization

    name = form.get("target") or None
    if name is not None and len(name) > 40:
        raise APIError(400, "INVALID_PARAMETER", "target is longer than 40 characters", {"field": "target"})
    lufs = _number(form, "targetLufs")
    ceiling = _number(form, "truePeakCeiling")
    try:
        resolved = resolve_normalization(name, lufs, ceiling)
    except ParameterError as exc:
        raise APIError(400, "INVALID_PARAMETER", exc.message, {"field": exc.name}) from None
    if resolved is None:
        return None
    return {"target": resolved[0], "targetLufs": resolved[1], "truePeakCeiling": resolved[2]}


def _flag(value: Any, field: str) -> bool:
    v = str(value or "false").strip().lower()
    if v not in ("true", "false", "1", "0"):
        raise APIError(400, "INVALID_REQUEST", f"{field} must be true or false", {"field": field})
    return v in ("true", "1")


@bp.post("/jobs")
@doc(
    summary="Submit an audio file to process or analyse (extension)",
    request_content=JOB_UPLOAD,
    responses={202: JOB},
    tags=["jobs"],
    errors=(400, 401, 403, 413, 415, 429),
)
async def create_job() -> Response:
    svc = _jobs()
    settings = svc.settings
    if (request.mimetype or "").lower() != "multipart/form-data":
        raise APIError(
            415, "UNSUPPORTED_MEDIA_TYPE", "POST /jobs takes multipart/form-data with a 'file' field"
        )
    owner = principal_owner()
    active = await svc.storage.afetchone(
        "SELECT COUNT(*) FROM jobs WHERE owner=? AND state IN ('queued', 'running')", (owner,)
    )
    if int(active[0]) >= MAX_ACTIVE_JOBS:
        raise APIError(
            429, "TOO_MANY_JOBS", f"at most {MAX_ACTIVE_JOBS} jobs may be queued or running per key"
        )
    form = await request.form
    files = await request.files
    upload = files.get("file")
    if upload is None or not upload.filename and not upload.content_length:
        raise APIError(
            400, "INVALID_REQUEST", "the 'file' field (the audio file) is required", {"field": "file"}
        )
    config: dict[str, Any] = {}
    if form.get("config"):
        text = form["config"]
        if len(text) > 65536:
            raise APIError(400, "INVALID_REQUEST", "config is longer than 64 KiB", {"field": "config"})
        config = parse_config(parse_json_text(text, what="config"), field="config") or {}
    analysis = _flag(form.get("analysis"), "analysis")
    target = parse_target(form)
    if target is not None:
        if analysis:
            raise APIError(
                400,
                "INVALID_REQUEST",
                "a loudness target applies to process jobs, not to analysis=true",
                {"field": "target"},
            )
        config = {**config, TARGET_KEY: target}
    fmt = str(form.get("format") or "wav").lower()
    if fmt not in FORMATS:
        raise APIError(
            400, "INVALID_REQUEST", f"format={fmt[:20]!r} is not one of wav, flac", {"field": "format"}
        )
    job_id = "job_" + secrets.token_hex(12)
    folder = job_dir(settings.jobs_dir, job_id)
    folder.mkdir(parents=True, exist_ok=True)
    src = input_path(settings.jobs_dir, job_id)
    try:
        await upload.save(src)
        info = await svc.storage.run(_audio_info, str(src))
        if info is None:
            raise APIError(
                400, "INVALID_AUDIO_FILE", "the file is not audio that soundfile can read", {"field": "file"}
            )
        if info > settings.job_max_seconds:
            raise APIError(
                400,
                "INVALID_AUDIO_FILE",
                f"the file holds {info:.0f} s of audio; at most {settings.job_max_seconds:.0f} s",
                {"field": "file", "maxSeconds": settings.job_max_seconds},
            )
        name = (upload.filename or "upload")[-200:]
        kind = "analysis" if analysis else "process"
        await svc.storage.run(svc.store.create, job_id, owner, kind, config, name, fmt)
    except BaseException:
        svc.remove_files(job_id)
        raise
    await svc.enqueue(job_id)
    row = await svc.storage.run(svc.store.get, job_id)
    resp = Response(dumps(_view(row)), status=202, content_type="application/json")
    resp.headers["Location"] = f"/jobs/{job_id}"
    return resp


def _audio_info(path: str) -> float | None:
    """Duration of the audio file in seconds, or None when soundfile cannot read it."""
    import soundfile as sf

    try:
        info = sf.info(path)
    except Exception:
        return None
    if not info.samplerate or info.frames <= 0:
        return None
    return info.frames / info.samplerate


@bp.get("/jobs/<job_id>")
@doc(summary="A job's state and progress (extension)", responses={200: JOB}, tags=["jobs"], errors=(401, 404))
async def get_job(job_id: str) -> Response:
    return Response(dumps(_view(await _own_job(job_id))), content_type="application/json")


@bp.get("/jobs/<job_id>/result")
@doc(
    summary="A complete job's processed file, or its metrics JSON (extension)",
    responses={
        200: {
            "description": "audio/wav or audio/flac (process jobs), or application/json metrics",
            "content": {
                "audio/wav": {},
                "audio/flac": {},
                "application/json": {"schema": {"type": "object"}},
            },
        }
    },
    tags=["jobs"],
    errors=(401, 404, 409),
)
async def job_result(job_id: str) -> Response:
    row = await _own_job(job_id)
    if row["state"] != "complete":
        raise APIError(
            409,
            "JOB_NOT_COMPLETE",
            f"job {job_id} is {row['state']}",
            {"jobId": job_id, "state": row["state"]},
        )
    wants_json = (
        "application/json" in request.headers.get("Accept", "") or request.args.get("format") == "json"
    )
    if row["kind"] == "analysis" or wants_json:
        return Response(row["result"] or "{}", content_type="application/json")
    path = output_path(_jobs().settings.jobs_dir, job_id, row["output_format"])
    if not path.is_file():
        raise APIError(404, "JOB_NOT_FOUND", f"the result file of job {job_id} is gone", {"jobId": job_id})
    resp = await send_file(path, mimetype=FORMATS[row["output_format"]], as_attachment=True,
                           attachment_filename=f"{job_id}.{row['output_format']}")  # fmt: skip
    resp.headers["Link"] = f'</jobs/{job_id}/result?format=json>; rel="describedby"; type="application/json"'
    metrics = json.loads(row["result"] or "{}")
    resp.headers["X-Job-Genre"] = str(metrics.get("genre"))[:40]
    return resp


@bp.delete("/jobs/<job_id>")
@doc(summary="Cancel a job and remove it and its files (extension)", responses={204: {"description": "removed"}},
     tags=["jobs"], errors=(401, 404))  # fmt: skip
async def delete_job(job_id: str) -> Response:
    svc = _jobs()
    await _own_job(job_id)
    await svc.storage.run(svc.store.cancel, job_id)
    await svc.storage.run(svc.store.delete, job_id)
    svc.remove_files(job_id)
    return Response(status=204)
