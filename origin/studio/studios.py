"""``/api/studios``: CRUD, assign/unassign a recorder, the studio's recorder and recordings."""

from __future__ import annotations

import datetime as _dt
import os
from typing import Any

from quart import Blueprint

from origin.errors import StudioError
from origin.studio.authz import admin_required, check_studio, login_required, principal
from origin.studio.common import parse_recorder_id, service
from origin.studio.models import StudioAssign, StudioCreate, StudioUpdate, parse_body, studio_doc

bp = Blueprint("studio_studios", __name__, url_prefix="/api/studios")

AUDIO_EXT = (".wav", ".opus", ".ogg", ".flac", ".mp3", ".rf64", ".m4a", ".aac")
MAX_RECORDINGS = 2000


async def _studio_or_404(sid: str) -> dict[str, Any]:
    st = await service().store.studio(sid)
    if st is None:
        raise StudioError(404, f"Studio {sid} not found")
    return st


@bp.get("/")
@studio_doc(summary="List studios", tags=["studios"])
@login_required
async def list_studios() -> Any:
    p = principal()
    studios = await service().store.studios()
    if p.is_admin:
        return studios
    return [s for s in studios if p.studio_id and s["id"] == p.studio_id]


def _user_key(p: Any) -> str:
    """The principal's id as a bounded storage key."""
    import hashlib

    uid = str(p.id or p.email or "anonymous")
    return uid if len(uid) <= 128 else "sha256:" + hashlib.sha256(uid.encode()).hexdigest()


@bp.get("/current-selection")
@studio_doc(summary="The caller's selected studio", tags=["studios"])
@login_required
async def current_selection() -> Any:
    """The caller's selected studio (kept per user in the database): ``{"studio_id",
    "studio"}``, both null when none is selected or the studio is gone or no longer visible."""
    p = principal()
    store = service().store
    sid = await store.selected_studio(_user_key(p))
    st = await store.studio(sid) if sid else None
    if st is None or not (p.is_admin or p.studio_id == sid):
        return {"studio_id": None, "studio": None}
    return {"studio_id": sid, "studio": st}


@bp.post("/select/<studio_id>")
@studio_doc(summary="Select a studio for the caller", tags=["studios"])
@login_required
async def select(studio_id: str) -> Any:
    """Select a studio for the caller (a studio user: only its own)."""
    p = principal()
    check_studio(p, studio_id)
    st = await _studio_or_404(studio_id)
    await service().store.select_studio(_user_key(p), studio_id)
    return {"message": "Studio selected", "studio_id": studio_id, "studio": st}


@bp.post("/clear-selection")
@studio_doc(summary="Clear the caller's studio selection", tags=["studios"])
@login_required
async def clear_selection() -> Any:
    await service().store.select_studio(_user_key(principal()), None)
    return {"message": "Selection cleared"}


@bp.post("/")
@studio_doc(summary="Create a studio", request=StudioCreate, tags=["studios"])
@admin_required
async def create_studio() -> Any:
    body = (await parse_body(StudioCreate)).fields()
    store = service().store
    if "id" in body and await store.studio(body["id"]) is not None:
        raise StudioError(400, f"Studio {body['id']} already exists")
    st = await store.create_studio(
        body["name"],
        body.get("description", ""),
        body.get("color"),
        body.get("enabled", True),
        body.get("id"),
    )
    return st, 201


@bp.get("/<studio_id>")
@studio_doc(summary="One studio", tags=["studios"])
@login_required
async def get_studio(studio_id: str) -> Any:
    check_studio(principal(), studio_id)
    return await _studio_or_404(studio_id)


@bp.put("/<studio_id>")
@studio_doc(summary="Change a studio", request=StudioUpdate, tags=["studios"])
@admin_required
async def update_studio(studio_id: str) -> Any:
    await _studio_or_404(studio_id)
    body = (await parse_body(StudioUpdate)).fields()
    return await service().store.update_studio(studio_id, body)


@bp.delete("/<studio_id>")
@studio_doc(summary="Delete a studio", tags=["studios"])
@admin_required
async def delete_studio(studio_id: str) -> Any:
    await _studio_or_404(studio_id)
    await service().store.delete_studio(studio_id)
    return {"message": "Studio deleted"}


@bp.post("/<studio_id>/assign")
@studio_doc(summary="Assign a recorder to a studio", request=StudioAssign, tags=["studios"])
@admin_required
async def assign(studio_id: str) -> Any:
    await _studio_or_404(studio_id)
    body = await parse_body(StudioAssign)
    rid = None if body.recorder_id is None else parse_recorder_id(body.recorder_id)
    svc = service()
    st = await svc.store.assign(studio_id, rid)
    if rid is not None:
        await svc.store.add_event(rid, "assign", f"assigned to {studio_id}")
    return st


@bp.get("/<studio_id>/recorder")
@studio_doc(summary="The studio's recorder", tags=["studios"])
@login_required
async def studio_recorder(studio_id: str) -> Any:
    check_studio(principal(), studio_id)
    st = await _studio_or_404(studio_id)
    svc = service()
    rec = await svc.store.recorder(st["recorder_id"]) if st["recorder_id"] else None
    return {"studio_id": studio_id, "recorder": svc.recorder_view(rec) if rec else None}


def audio_file(root: str, path: str, st: os.stat_result) -> dict[str, Any]:
    """The spec's ``AudioFile`` for a real file (``path`` relative to the archive root)."""
    name = os.path.basename(path)
    ext = os.path.splitext(name)[1].lower().lstrip(".")
    return {
        "name": name,
        "path": os.path.relpath(path, root).replace(os.sep, "/"),
        "size": st.st_size,
        "modified": _dt.datetime.fromtimestamp(st.st_mtime, _dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "format": ext or "unknown",
    }


def list_recordings(root: str, folder: str, limit: int = MAX_RECORDINGS) -> list[dict[str, Any]]:
    """Audio files under ``folder`` (inside ``root``), newest first (blocking; run off-loop)."""
    from origin.studio.paths import is_within

    found: list[tuple[float, str, os.stat_result]] = []
    root_real = os.path.realpath(root)
    if not os.path.isdir(folder):
        return []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for fn in filenames:
            if fn.startswith(".") or not fn.lower().endswith(AUDIO_EXT):
                continue
            full = os.path.join(dirpath, fn)
            if os.path.islink(full) and not is_within(full, root_real):
                continue
            try:
                st = os.stat(full)
            except OSError:
                continue
            found.append((st.st_mtime, full, st))
    found.sort(key=lambda t: (t[0], t[1]), reverse=True)
    return [audio_file(root_real, os.path.realpath(full), st) for _, full, st in found[:limit]]


@bp.get("/<studio_id>/recordings")
@studio_doc(summary="The studio's recordings", tags=["studios"])
@login_required
async def recordings(studio_id: str) -> Any:
    check_studio(principal(), studio_id)
    st = await _studio_or_404(studio_id)
    svc = service()
    files: list[dict[str, Any]] = []
    if st["recorder_id"]:
        rec = await svc.store.recorder(st["recorder_id"])
        if rec is not None:
            folder = svc.abs_archive(rec["config"]["archive_root"])
            files = await _off_loop(list_recordings, str(svc.archive_root), str(folder))
            recording = svc.recording_files()
            for f in files:
                f["recording"] = os.path.realpath(svc.archive_root / f["path"]) in recording
    return {"studio_id": studio_id, "studio_name": st["name"], "recordings": files}


async def _off_loop(fn: Any, *args: Any) -> Any:
    import asyncio

    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)
