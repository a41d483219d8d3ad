"""``/api/studios``: CRUD, assign/unassign a recorder, the studio's recorder and recordings."""

from __future__ import annotations

import datetime as _dt
import os
from typing import Any

from quart import Blueprint

from origin.errors import StudioError
from origin.studio.authz import admin_required, check_studio, login_required, principal
from origin.studio.common import COLOR_RE, json_body, parse_recorder_id, service

bp = Blueprint("studio_studios", __name__, url_prefix="/api/studios")

AUDIO_EXT = (".wav", ".opus", ".ogg", ".flac", ".mp3", ".rf64", ".m4a", ".aac")
MAX_RECORDINGS = 2000


async def _studio_or_404(sid: str) -> dict[str, Any]:
    st = await service().store.studio(sid)
    if st is None:
        raise StudioError(404, f"Studio {sid} not found")
    return st


def _validate(body: dict[str, Any], *, create: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in body:
        if key not in ("name", "description", "color", "enabled", "id"):
            raise StudioError(400, f"Unknown studio field {key!r}")
    if "id" in body and not create:
        raise StudioError(400, "The studio id cannot be changed")
    if create and "name" not in body:
        raise StudioError(400, "name is required")
    if "name" in body:
        name = body["name"]
        if not isinstance(name, str) or not name.strip() or len(name) > 100:
            raise StudioError(400, "name must be a non-empty string of at most 100 characters")
        out["name"] = name.strip()
    if "description" in body:
        d = body["description"]
        if d is None:
            d = ""
        if not isinstance(d, str) or len(d) > 1000:
            raise StudioError(400, "description must be a string of at most 1000 characters")
        out["description"] = d
    if "color" in body:
        c = body["color"]
        if not isinstance(c, str) or not COLOR_RE.match(c):
            raise StudioError(400, f"color={c!r} must be #RRGGBB")
        out["color"] = c.upper()
    if "enabled" in body:
        if not isinstance(body["enabled"], bool):
            raise StudioError(400, "enabled must be true or false")
        out["enabled"] = body["enabled"]
    if "id" in body:
        sid = body["id"]
        if (
            not isinstance(sid, str)
            or not sid
            or len(sid) > 64
            or not all(ch.isalnum() or ch in "-_" for ch in sid)
        ):
            raise StudioError(400, "id must be 1-64 letters, digits, '-' or '_'")
        out["id"] = sid
    return out


@bp.get("/")
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
@login_required
async def select(studio_id: str) -> Any:
    """Select a studio for the caller (a studio user: only its own)."""
    p = principal()
    check_studio(p, studio_id)
    st = await _studio_or_404(studio_id)
    await service().store.select_studio(_user_key(p), studio_id)
    return {"message": "Studio selected", "studio_id": studio_id, "studio": st}


@bp.post("/clear-selection")
@login_required
async def clear_selection() -> Any:
    await service().store.select_studio(_user_key(principal()), None)
    return {"message": "Selection cleared"}


@bp.post("/")
@admin_required
async def create_studio() -> Any:
    body = _validate(await json_body(), create=True)
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
@login_required
async def get_studio(studio_id: str) -> Any:
    check_studio(principal(), studio_id)
    return await _studio_or_404(studio_id)


@bp.put("/<studio_id>")
@admin_required
async def update_studio(studio_id: str) -> Any:
    await _studio_or_404(studio_id)
    body = _validate(await json_body(), create=False)
    return await service().store.update_studio(studio_id, body)


@bp.delete("/<studio_id>")
@admin_required
async def delete_studio(studio_id: str) -> Any:
    await _studio_or_404(studio_id)
    await service().store.delete_studio(studio_id)
    return {"message": "Studio deleted"}


@bp.post("/<studio_id>/assign")
@admin_required
async def assign(studio_id: str) -> Any:
    await _studio_or_404(studio_id)
    body = await json_body()
    if "recorder_id" not in body:
        raise StudioError(400, "recorder_id is required (null to unassign)")
    rid = None if body["recorder_id"] is None else parse_recorder_id(body["recorder_id"])
    svc = service()
    st = await svc.store.assign(studio_id, rid)
    if rid is not None:
        await svc.store.add_event(rid, "assign", f"assigned to {studio_id}")
    return st


@bp.get("/<studio_id>/recorder")
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
