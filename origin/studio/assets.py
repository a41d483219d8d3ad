"""``/api/assets``: browse the archive, download and delete files.

Paths are relative to the one archive root of the server config (see :mod:`.paths` for the
rules). ``studio_id`` limits browsing to that studio's archive folder (the ``archive_root`` of
the recorder assigned to it); studio users are always limited to their own studio's folder.
Deleting is admin only, and a file that is being recorded cannot be deleted.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import os
from pathlib import Path
from typing import Any

from quart import Blueprint, request

from origin.auth import allow_url_token
from origin.errors import StudioError
from origin.studio.authz import admin_required, login_required, principal
from origin.studio.common import service
from origin.studio.paths import PathError, clean_relpath, is_within, relpath, resolve_under
from origin.studio.safefile import SafeOpenError, unlink_archive_file
from origin.studio.stream import file_response, recording_probe, resolve_file
from origin.studio.studios import audio_file

bp = Blueprint("studio_assets", __name__, url_prefix="/api/assets")


def _iso(t: float) -> str:
    return _dt.datetime.fromtimestamp(t, _dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _listing(root: str, target: str, rel: str, top: str | None) -> dict[str, Any]:
    """Directory listing (blocking). ``top`` is the highest folder the caller may go up to."""
    directories: list[dict[str, Any]] = []
    files: list[dict[str, Any]] = []
    with os.scandir(target) as it:
        entries = sorted(it, key=lambda e: e.name)
    for e in entries:
        if e.name.startswith("."):
            continue
        if not is_within(e.path, root):  # a symlink pointing out of the root is not shown
            continue
        child = f"{rel}/{e.name}" if rel else e.name
        try:
            st = os.stat(e.path)
        except OSError:
            continue
        if e.is_dir():
            directories.append({"name": e.name, "path": child, "modified": _iso(st.st_mtime)})
        elif e.is_file():
            f = audio_file(root, os.path.join(root, child), st)
            f["path"] = child
            files.append(f)
    total_size = 0
    file_count = 0
    for dirpath, dirnames, filenames in os.walk(target, followlinks=False):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for fn in filenames:
            if fn.startswith("."):
                continue
            try:
                total_size += os.stat(os.path.join(dirpath, fn)).st_size
                file_count += 1
            except OSError:
                continue
    if top is not None and os.path.realpath(target) == os.path.realpath(top):
        parent = None
    elif rel == "":
        parent = None
    else:
        parent = rel.rsplit("/", 1)[0] if "/" in rel else ""
    return {
        "path": rel,
        "name": rel.rsplit("/", 1)[-1] if rel else "",
        "parent": parent,
        "directories": directories,
        "files": files,
        "total_size": total_size,
        "file_count": file_count,
    }


def _empty(rel: str = "") -> dict[str, Any]:
    return {
        "path": rel,
        "name": rel.rsplit("/", 1)[-1] if rel else "",
        "parent": None,
        "directories": [],
        "files": [],
        "total_size": 0,
        "file_count": 0,
    }


@bp.get("/browse")
@login_required
async def browse() -> Any:
    svc = service()
    p = principal()
    raw_path = request.args.get("path", "")
    studio_id = request.args.get("studio_id") or None
    if not p.is_admin:
        if studio_id is not None and studio_id != p.studio_id:
            raise StudioError(403, "Access denied to this studio")
        studio_id = p.studio_id or ""
    try:
        rel = clean_relpath(raw_path)
    except PathError as exc:
        raise StudioError(exc.status, exc.detail) from None
    base: Path | None = None
    if studio_id is not None:
        st = await svc.store.studio(studio_id) if studio_id else None
        if st is None:
            if p.is_admin:
                raise StudioError(404, f"Studio {studio_id} not found")
            return _empty()
        if not st["recorder_id"]:
            return _empty()
        rec = await svc.store.recorder(st["recorder_id"])
        if rec is None:
            return _empty()
        base = svc.abs_archive(rec["config"]["archive_root"])
        if not base.is_dir():
            return _empty(relpath(svc.archive_root, base))
        if not rel:
            rel = relpath(svc.archive_root, base)
    try:
        target = resolve_under(svc.archive_root, rel, confine_to=[base] if base is not None else None)
    except PathError as exc:
        if exc.status == 403 and p.is_admin:
            raise StudioError(400, f"path is outside the archive folder of studio {studio_id}") from None
        raise StudioError(exc.status, exc.detail) from None
    if not target.is_dir():
        raise StudioError(400, "Not a directory")
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(
        None, _listing, str(svc.archive_root), str(target), rel, str(base) if base is not None else None
    )


@bp.get("/download/<path:path>", merge_slashes=False)
@login_required
@allow_url_token
async def download(path: str) -> Any:
    f = await resolve_file(path)
    return file_response(f, attachment=True)


@bp.delete("/file/<path:path>", merge_slashes=False)
@admin_required
async def delete_file(path: str) -> Any:
    svc = service()
    try:
        f = resolve_under(svc.archive_root, path)
    except PathError as exc:
        raise StudioError(exc.status, exc.detail) from None
    if f.is_dir():
        raise StudioError(400, "Only files can be deleted")
    if recording_probe(f)():
        raise StudioError(400, "Cannot delete a file that is being recorded")
    root = os.path.realpath(svc.archive_root)
    try:
        unlink_archive_file(root, os.path.relpath(str(f), root))  # no symlink followed on the way
    except SafeOpenError as exc:
        raise StudioError(exc.status, exc.detail) from None
    except OSError as exc:
        raise StudioError(400, f"Cannot delete file: {exc.strerror}") from None
    await svc.store.add_event(None, "file_deleted", relpath(svc.archive_root, f))
    return {"message": "File deleted"}
