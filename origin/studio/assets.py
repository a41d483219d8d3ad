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
import re
from pathlib import Path
from typing import Any

from quart import Blueprint, request

from origin.auth import allow_url_token
from origin.errors import StudioError
from origin.studio.authz import admin_required, login_required, principal
from origin.studio.common import service
from origin.studio.models import BulkDelete, parse_body, studio_doc
from origin.studio.paths import PathError, clean_relpath, is_within, relpath, resolve_under
from origin.studio.safefile import SafeOpenError, unlink_archive_file
from origin.studio.stream import file_response, recording_probe, resolve_file
from origin.studio.studios import AUDIO_EXT, audio_file, list_recordings

bp = Blueprint("studio_assets", __name__, url_prefix="/api/assets")


def _iso(t: float) -> str:
    return _dt.datetime.fromtimestamp(t, _dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _listing(root: str, target: str, rel: str, top: str | None, recursive: bool = False) -> dict[str, Any]:
    """Directory listing (blocking). ``top`` is the highest folder the caller may go up to.
    ``recursive``: ``files`` holds every audio file below ``target`` (newest first, at most
    :data:`~origin.studio.studios.MAX_RECORDINGS`) instead of the folder's own files."""
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
        elif e.is_file() and not recursive:
            f = audio_file(root, os.path.join(root, child), st)
            f["path"] = child
            files.append(f)
    if recursive:
        files = list_recordings(root, target)
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
@studio_doc(summary="Browse the archive", tags=["assets"])
@login_required
async def browse() -> Any:
    svc = service()
    p = principal()
    raw_path = request.args.get("path", "")
    studio_id = request.args.get("studio_id") or None
    rec_arg = request.args.get("recursive")
    # Audyn's studio views call browse?studio_id=X and expect all of the studio's files
    recursive = (
        (studio_id is not None and not raw_path) if rec_arg is None else rec_arg.lower() in ("1", "true")
    )
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
        None,
        _listing,
        str(svc.archive_root),
        str(target),
        rel,
        str(base) if base is not None else None,
        recursive,
    )


@bp.get("/download/<path:path>", merge_slashes=False)
@studio_doc(
    summary="Download an archive file",
    responses={
        200: {
            "description": "the file",
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
    tags=["assets"],
)
@login_required
@allow_url_token
async def download(path: str) -> Any:
    f = await resolve_file(path)
    return file_response(f, attachment=True)


@bp.delete("/file/<path:path>", merge_slashes=False)
@studio_doc(summary="Delete an archive file", tags=["assets"])
@admin_required
async def delete_file(path: str) -> Any:
    await delete_one(path)
    return {"message": "File deleted"}


#: most files a search or the stats walk looks at (the archive is walked on each call)
MAX_SCAN = 100_000
MAX_LIMIT = 500


async def _scope(studio_id: str | None) -> tuple[list[Path] | None, bool]:
    """Folders a search/stats call covers (``None``: the whole archive) and whether the
    caller's view is empty. Studio users are limited to their studio; admins may pick one."""
    svc = service()
    p = principal()
    if not p.is_admin:
        if studio_id is not None and studio_id != p.studio_id:
            raise StudioError(403, "Access denied to this studio")
        studio_id = p.studio_id or ""
    if studio_id is None:
        return None, False
    st = await svc.store.studio(studio_id) if studio_id else None
    if st is None:
        if p.is_admin:
            raise StudioError(404, f"Studio {studio_id} not found")
        return [], True
    if not st["recorder_id"]:
        return [], True
    rec = await svc.store.recorder(st["recorder_id"])
    return ([svc.abs_archive(rec["config"]["archive_root"])] if rec else []), rec is None


def _all_files(root: str, folders: list[Path] | None) -> list[dict[str, Any]]:
    """Audio files in ``folders`` (or the whole archive), newest first (blocking)."""
    if folders is None:
        return list_recordings(root, root, MAX_SCAN)
    out: list[dict[str, Any]] = []
    for f in folders:
        out += list_recordings(root, str(f), MAX_SCAN)
    out.sort(key=lambda f: (f["modified"], f["path"]), reverse=True)
    return out


def _date_arg(name: str) -> _dt.date | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        return _dt.date.fromisoformat(raw[:10])
    except ValueError:
        raise StudioError(400, f"{name}={raw[:40]!r} is not a date (YYYY-MM-DD)") from None


def _int_arg(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if len(raw) > 12 or not raw.strip().isdigit():
        raise StudioError(400, f"{name} must be an integer")
    v = int(raw)
    if not lo <= v <= hi:
        raise StudioError(400, f"{name}={v} is out of range [{lo}, {hi}]")
    return v


@bp.get("/search")
@studio_doc(summary="Search the archive", tags=["assets"])
@login_required
async def search() -> Any:
    """Search the archive (the caller's part of it).

    Query: ``query`` (name contains, case-insensitive), ``date_from``/``date_to``
    (``YYYY-MM-DD``, inclusive, on the file's modification date in server local time),
    ``format`` (extension, e.g. ``wav``), ``studio_id``, ``limit`` (1-500, default 100),
    ``offset``. Answer: ``{"files": [AudioFile + "recording"], "total", "limit", "offset"}``,
    newest first.
    """
    svc = service()
    query = (request.args.get("query") or "").strip().lower()
    if len(query) > 200:
        raise StudioError(400, "query is too long (at most 200 characters)")
    fmt = (request.args.get("format") or "").strip().lower().lstrip(".")
    if fmt and ("." + fmt) not in AUDIO_EXT:
        raise StudioError(400, f"format={fmt[:20]!r} is not one of {', '.join(e[1:] for e in AUDIO_EXT)}")
    date_from, date_to = _date_arg("date_from"), _date_arg("date_to")
    limit = _int_arg("limit", 100, 1, MAX_LIMIT)
    offset = _int_arg("offset", 0, 0, MAX_SCAN)
    folders, empty = await _scope(request.args.get("studio_id") or None)
    files = (
        []
        if empty
        else await asyncio.get_running_loop().run_in_executor(
            None, _all_files, str(svc.archive_root), folders
        )
    )

    def keep(f: dict[str, Any]) -> bool:
        if query and query not in f["name"].lower():
            return False
        if fmt and f["format"] != fmt:
            return False
        if date_from or date_to:
            d = _dt.datetime.fromisoformat(f["modified"].replace("Z", "+00:00")).astimezone().date()
            if (date_from and d < date_from) or (date_to and d > date_to):
                return False
        return True

    hits = [f for f in files if keep(f)]
    recording = svc.recording_files()
    page = hits[offset : offset + limit]
    for f in page:
        f["recording"] = os.path.realpath(svc.archive_root / f["path"]) in recording
    return {"files": page, "total": len(hits), "limit": limit, "offset": offset}


@bp.get("/stats")
@studio_doc(summary="Archive statistics", tags=["assets"])
@login_required
async def stats() -> Any:
    """Archive statistics for the caller's part of the archive (``studio_id`` narrows it):
    ``{"total_files", "total_size", "total_size_human", "formats": {ext: count},
    "oldest_file", "newest_file"}`` (ISO times of the oldest/newest modification)."""
    svc = service()
    folders, empty = await _scope(request.args.get("studio_id") or None)
    files = (
        []
        if empty
        else await asyncio.get_running_loop().run_in_executor(
            None, _all_files, str(svc.archive_root), folders
        )
    )
    formats: dict[str, int] = {}
    for f in files:
        formats[f["format"]] = formats.get(f["format"], 0) + 1
    total = sum(f["size"] for f in files)
    return {
        "total_files": len(files),
        "total_size": total,
        "total_size_human": human_size(total),
        "formats": formats,
        "oldest_file": files[-1]["modified"] if files else None,
        "newest_file": files[0]["modified"] if files else None,
    }


def human_size(n: int) -> str:
    """``1.23 GB`` style size (binary units, like Audyn's)."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} B" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n:.2f} TB"  # pragma: no cover


async def delete_one(raw: str) -> str:
    """Delete one archive file (the rules of ``DELETE /file/{path}``); returns its relative path."""
    svc = service()
    try:
        f = resolve_under(svc.archive_root, raw)
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
    rel = relpath(svc.archive_root, f)
    await svc.store.add_event(None, "file_deleted", rel)
    return rel


@bp.post("/delete-bulk")
@studio_doc(summary="Delete several archive files", request=BulkDelete, tags=["assets"])
@admin_required
async def delete_bulk() -> Any:
    """Delete several files (admin): ``{"paths": [...], "studio_id"?}`` (at most 1000 paths;
    ``studio_id`` limits them to that studio's folder). Each path follows the rules of
    ``DELETE /file/{path}``; failures do not stop the others. Answer: ``{"message",
    "deleted": [path], "errors": [{"path", "error"}]}``."""
    body = await parse_body(BulkDelete)
    paths = body.paths
    folders = None
    if body.studio_id is not None:
        folders, _ = await _scope(body.studio_id)
    svc = service()
    deleted: list[str] = []
    errors: list[dict[str, str]] = []
    for raw in dict.fromkeys(paths):
        try:
            if folders is not None:
                try:
                    resolve_under(svc.archive_root, raw, confine_to=folders)
                except PathError as exc:
                    raise StudioError(exc.status, exc.detail) from None
            deleted.append(await delete_one(raw))
        except StudioError as exc:
            errors.append({"path": raw[:4096], "error": str(exc.detail)})
    return {"message": f"Deleted {len(deleted)} files", "deleted": deleted, "errors": errors}


#: the start of a recording in its file name: ``YYYY-MM-DD`` then optionally ``-HH`` / ``_HH`` /
#: ``THH`` (the flat, combo, dailydir and accurate layouts), or in its folders: ``YYYY/MM/DD/HH/``
#: (the hierarchy layout's ``archive.SUF``)
_NAME_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[-_T ](\d{2}))?")
_DIR_TIME = re.compile(r"(?:^|/)(\d{4})/(\d{2})/(\d{2})(?:/(\d{2}))?/[^/]*$")


def file_slot(f: dict[str, Any]) -> tuple[str, int]:
    """(``YYYY-MM-DD``, hour) a recording belongs to: from its name or its folders (the archive
    clock of its recorder; a date without an hour is hour 0), else its modification time in
    server local time."""
    for m in (_NAME_TIME.search(f["name"]), _DIR_TIME.search(f.get("path", ""))):
        if m is None:
            continue
        try:
            day = _dt.date(int(m[1]), int(m[2]), int(m[3])).isoformat()
        except ValueError:
            continue
        hour = int(m[4]) if m[4] is not None else 0
        if 0 <= hour <= 23:
            return day, hour
    t = _dt.datetime.fromisoformat(f["modified"].replace("Z", "+00:00")).astimezone()
    return t.date().isoformat(), t.hour


def _month_arg() -> tuple[int, int] | None:
    raw = request.args.get("month")
    if raw is None or raw == "":
        return None
    if len(raw) != 7 or not re.fullmatch(r"\d{4}-\d{2}", raw) or not 1 <= int(raw[5:]) <= 12:
        raise StudioError(400, f"month={raw[:20]!r} is not a month (YYYY-MM)")
    return int(raw[:4]), int(raw[5:])


@bp.get("/calendar")
@studio_doc(summary="Which days and hours have recordings (extension)", tags=["assets"])
@login_required
async def calendar() -> Any:
    """The archive by day and hour, for the caller's part of it (``studio_id`` narrows it).

    ``?month=YYYY-MM``: ``{"month", "days": {"YYYY-MM-DD": {"files", "size", "hours": [24
    counts], "recording"}}}``; ``?date=YYYY-MM-DD``: ``{"date", "files": [AudioFile + "hour",
    "recording"]}`` (oldest first). A file belongs to the day and hour in its name (the archive
    layouts all start names with the date and hour), else to its modification time.
    """
    svc = service()
    month = _month_arg()
    date = _date_arg("date")
    if (month is None) == (date is None):
        raise StudioError(400, "give either month=YYYY-MM or date=YYYY-MM-DD")
    folders, empty = await _scope(request.args.get("studio_id") or None)
    files = (
        []
        if empty
        else await asyncio.get_running_loop().run_in_executor(
            None, _all_files, str(svc.archive_root), folders
        )
    )
    recording = svc.recording_files()
    if date is not None:
        day = date.isoformat()
        out = []
        for f in files:
            d, h = file_slot(f)
            if d == day:
                f["hour"] = h
                f["recording"] = os.path.realpath(svc.archive_root / f["path"]) in recording
                out.append(f)
        out.sort(key=lambda f: (f["hour"], f["name"]))
        return {"date": day, "files": out[: MAX_LIMIT * 4]}
    prefix = f"{month[0]:04d}-{month[1]:02d}-"
    days: dict[str, dict[str, Any]] = {}
    for f in files:
        d, h = file_slot(f)
        if not d.startswith(prefix):
            continue
        slot = days.setdefault(d, {"files": 0, "size": 0, "hours": [0] * 24, "recording": False})
        slot["files"] += 1
        slot["size"] += f["size"]
        slot["hours"][h] += 1
        if os.path.realpath(svc.archive_root / f["path"]) in recording:
            slot["recording"] = True
    return {"month": prefix[:-1], "days": dict(sorted(days.items()))}


@bp.get("/disk")
@studio_doc(summary="Space on the archive's file system (extension)", tags=["assets"])
@login_required
async def disk() -> Any:
    """``{"total", "used", "free"}`` bytes of the file system holding the archive root."""
    import shutil

    u = shutil.disk_usage(service().archive_root)
    return {"total": u.total, "used": u.used, "free": u.free}
