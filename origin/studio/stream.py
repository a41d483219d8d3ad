"""``/api/stream/preview/{path}``: audio preview with the right MIME type and HTTP Range.

* ``Range: bytes=a-b`` / ``a-`` / ``-n`` (one range) -> ``206`` with ``Content-Range`` against the
  file's size at request time; an unsatisfiable range -> ``416`` (``Content-Range: bytes */size``);
  a malformed or multi-range header is ignored (full ``200``), as RFC 9110 allows.
* A file that is being recorded right now, requested *without* Range, is followed like
  ``tail -f``: the ``200`` response is chunked (no ``Content-Length``) and keeps sending what the
  recorder appends until the recorder moves to another file or stops (or 30 s pass without
  growth). With Range it is served as a snapshot, so browsers can seek.

The same machinery serves ``/api/assets/download/{path}`` (as an attachment).

Audyn's player: ``?start=SECONDS`` serves the file from that time (:func:`seek_response`, the
method per format in :mod:`.seek`); ``?follow=false`` serves a snapshot even while recording;
``GET /api/stream/info/{path}`` gives the duration and the live flag.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import math
import mimetypes
import os
import re
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from quart import Blueprint, Response, request

from origin.auth import allow_url_token
from origin.errors import StudioError
from origin.studio.authz import login_required, principal
from origin.studio.common import service
from origin.studio.models import studio_doc
from origin.studio.paths import PathError, relpath, resolve_under
from origin.studio.safefile import SafeOpenError, open_archive_file, read_at

bp = Blueprint("studio_stream", __name__, url_prefix="/api/stream")

CHUNK = 64 * 1024
FOLLOW_POLL_S = 0.25
FOLLOW_IDLE_S = 30.0
MAX_START_S = 10_000_000.0

MIME_TYPES = {
    ".wav": "audio/wav",
    ".rf64": "audio/wav",
    ".opus": "audio/ogg",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".flac": "audio/flac",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".aac": "audio/aac",
}

_RANGE_RE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


class RangeNotSatisfiable(Exception):
    pass


def mime_type(path: str | os.PathLike[str]) -> str:
    ext = os.path.splitext(str(path))[1].lower()
    return MIME_TYPES.get(ext) or mimetypes.guess_type(str(path))[0] or "application/octet-stream"


#: byte positions are compared, never used, beyond this many digits (no file is that large;
#: Python refuses to convert ints of more than 4300 digits)
_MAX_POSITION_DIGITS = 18


def _position(digits: str) -> int:
    """A Range byte position; anything longer than 18 digits counts as "beyond any file"."""
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) <= _MAX_POSITION_DIGITS else 10**_MAX_POSITION_DIGITS


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(start, end)`` inclusive for one byte range; ``None`` to ignore the header.

    Raises
    ------
    RangeNotSatisfiable
        The range starts beyond the end of the file (or asks for 0 suffix bytes).
    """
    if not header:
        return None
    m = _RANGE_RE.match(header)
    if not m:
        return None  # malformed or multiple ranges: ignore, serve the whole file
    a, b = m.group(1), m.group(2)
    if a == "" and b == "":
        return None
    if a == "":  # suffix range: the last n bytes
        n = _position(b)
        if n == 0 or size == 0:
            raise RangeNotSatisfiable
        return max(0, size - n), size - 1
    start = _position(a)
    end = _position(b) if b else size - 1
    if b and end < start:
        return None
    if start >= size:
        raise RangeNotSatisfiable
    return start, min(end, size - 1)


async def _read_at(fh: BinaryIO, offset: int, n: int) -> bytes:
    return await asyncio.get_running_loop().run_in_executor(None, read_at, fh, offset, n)


async def _body(fh: BinaryIO, start: int, length: int) -> AsyncIterator[bytes]:
    try:
        pos, left = start, length
        while left > 0:
            data = await _read_at(fh, pos, min(CHUNK, left))
            if not data:
                # The file shrank under us (deletion cannot: we hold the descriptor). Abort the
                # response: Hypercorn then drops the connection without logging an error, and the
                # client sees a body shorter than its Content-Length, never a complete-looking one.
                raise asyncio.CancelledError
            pos += len(data)
            left -= len(data)
            yield data
    finally:
        fh.close()


async def _follow(fh: BinaryIO, still_recording: Callable[[], bool]) -> AsyncIterator[bytes]:
    try:
        pos = 0
        idle = 0.0
        while True:
            data = await _read_at(fh, pos, CHUNK)
            if data:
                pos += len(data)
                idle = 0.0
                yield data
                continue
            if not still_recording() or idle >= FOLLOW_IDLE_S:
                # last reads: the recorder may have finished the file since the previous one
                while tail := await _read_at(fh, pos, CHUNK):
                    pos += len(tail)
                    yield tail
                return
            await asyncio.sleep(FOLLOW_POLL_S)
            idle += FOLLOW_POLL_S
    finally:
        fh.close()


def open_file(path: Path) -> tuple[BinaryIO, os.stat_result]:
    """Open ``path`` (a resolved path under the archive root) once, no symlink followed
    (:func:`origin.studio.safefile.open_archive_file`); 404/400 as a :class:`StudioError`."""
    root = os.path.realpath(service().archive_root)
    try:
        return open_archive_file(root, os.path.relpath(str(path), root))
    except SafeOpenError as exc:
        raise StudioError(exc.status, exc.detail) from None


def file_response(
    path: Path, *, attachment: bool = False, follow: Callable[[], bool] | None = None
) -> Response:
    """Serve ``path`` (Range aware; followed while ``follow()`` is true and no Range was sent).

    The file is opened once here and every byte comes from that descriptor."""
    fh, st = open_file(path)
    size = st.st_size
    headers: dict[str, Any] = {
        "Accept-Ranges": "bytes",
        "Cache-Control": "no-cache",
        "Last-Modified": _dt.datetime.fromtimestamp(st.st_mtime, _dt.UTC).strftime(
            "%a, %d %b %Y %H:%M:%S GMT"
        ),
    }
    if attachment:
        name = path.name.replace('"', "")
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
    else:
        headers["Content-Disposition"] = "inline"
    mt = mime_type(path)
    rng_header = request.headers.get("Range")
    try:
        rng = parse_range(rng_header, size)
    except RangeNotSatisfiable:
        fh.close()
        raise StudioError(416, "Range not satisfiable", {"Content-Range": f"bytes */{size}"}) from None
    if rng is not None:
        start, end = rng
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        headers["Content-Length"] = str(end - start + 1)
        resp = Response(_body(fh, start, end - start + 1), status=206, headers=headers, mimetype=mt)
    elif follow is not None and follow():
        headers["X-Recording"] = "true"
        resp = Response(_follow(fh, follow), status=200, headers=headers, mimetype=mt)
    else:
        headers["Content-Length"] = str(size)
        resp = Response(_body(fh, 0, size), status=200, headers=headers, mimetype=mt)
    resp.timeout = None  # long downloads / followed files must not hit Quart's response timeout
    return resp


async def confinement() -> list[Path] | None:
    """Folders the caller may read under the archive root (``None``: everything, for admins)."""
    p = principal()
    if p.is_admin:
        return None
    svc = service()
    if not p.studio_id:
        return []
    st = await svc.store.studio(p.studio_id)
    if st is None or not st["recorder_id"]:
        return []
    rec = await svc.store.recorder(st["recorder_id"])
    return [svc.abs_archive(rec["config"]["archive_root"])] if rec else []


async def resolve_file(raw: str) -> Path:
    """Resolve a client path to an existing path the caller may read (opened by :func:`open_file`)."""
    svc = service()
    try:
        path = resolve_under(svc.archive_root, raw, confine_to=await confinement())
    except PathError as exc:
        raise StudioError(exc.status, exc.detail) from None
    return path  # "is it a regular file" is answered by the one open (open_file)


def recording_probe(path: Path) -> Callable[[], bool]:
    svc = service()
    real = os.path.realpath(path)
    return lambda: real in svc.recording_files()


def _start_arg() -> float | None:
    raw = request.args.get("start")
    if raw is None or raw == "":
        return None
    try:
        if len(raw) > 32:
            raise ValueError
        v = float(raw)
    except ValueError:
        raise StudioError(400, "start must be a number of seconds") from None
    if not math.isfinite(v) or not 0 <= v <= MAX_START_S:
        raise StudioError(400, f"start={raw!r} is out of range [0, {MAX_START_S}] seconds")
    return v


def _follow_arg() -> bool:
    raw = (request.args.get("follow") or "true").lower()
    if raw not in ("true", "false", "1", "0"):
        raise StudioError(400, "follow must be true or false")
    return raw in ("true", "1")


@bp.get("/preview/<path:path>", merge_slashes=False)
@studio_doc(
    summary="Stream an archive file (Range requests)",
    responses={
        200: {
            "description": "audio",
            "content": {"audio/*": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
    tags=["stream"],
)
@login_required
@allow_url_token
async def preview(path: str) -> Any:
    """The file for the browser's player. ``?start=SECONDS`` serves it from that time (see
    :mod:`.seek`); ``?follow=false`` never follows a file being recorded (a snapshot)."""
    start = _start_arg()
    follow = _follow_arg()
    p = await resolve_file(path)
    if start is not None and start > 0:
        return await seek_response(p, start, follow=recording_probe(p) if follow else None)
    return file_response(p, follow=recording_probe(p) if follow else None)


async def seek_response(path: Path, start: float, follow: Callable[[], bool] | None = None) -> Response:
    """``path`` from ``start`` seconds as WAV (:mod:`.seek`), sent as a stream: chunked, no
    ``Content-Length``, no Range (``Accept-Ranges: none``), like a live stream. A player then
    takes the duration from ``/api/stream/info`` (Audyn's player does: it shows
    ``start + currentTime`` against the file's duration, which needs an element whose own
    duration is unknown); the WAV header still states the exact length for other clients.
    ``X-Start-Seconds`` is the time of the first frame sent. A WAV being recorded (``follow()``
    true) keeps streaming what the recorder appends, behind a header of unknown length."""
    from origin.studio.seek import SeekError, decoded_from, wav_layout, wav_seek

    loop = asyncio.get_running_loop()
    fh, st = open_file(path)
    try:
        size = st.st_size
        layout = await loop.run_in_executor(None, wav_layout, fh.fileno(), size)
        headers: dict[str, Any] = {
            "Cache-Control": "no-cache",
            "Content-Disposition": "inline",
            "Accept-Ranges": "none",
        }
        if layout is not None:
            header, offset, length, actual = wav_seek(layout, start)
            if follow is not None and follow():
                from origin.studio.seek import wav_header

                headers["X-Recording"] = "true"
                body = _follow_fd(fh, wav_header(layout.fmt_chunk, None), offset, follow, layout.block_align)
            else:
                body = _virtual_body(fh, header, offset, 0, len(header) + length)
        else:
            try:
                header, chunks, actual = await loop.run_in_executor(None, decoded_from, fh, start)
            except SeekError as exc:
                raise StudioError(400, f"Cannot seek: {exc}") from None
            body = _decoded_body(fh, header, chunks)
        headers["X-Start-Seconds"] = f"{actual:.6f}"
        resp = Response(body, status=200, headers=headers, mimetype="audio/wav")
    except BaseException:
        fh.close()
        raise
    resp.timeout = None
    return resp


async def _virtual_body(fh: BinaryIO, header: bytes, offset: int, a: int, n: int) -> AsyncIterator[bytes]:
    """Bytes ``[a, a + n)`` of ``header`` followed by the file from ``offset``."""
    loop = asyncio.get_running_loop()
    try:
        if a < len(header):
            part = header[a : a + n]
            yield part
            a += len(part)
            n -= len(part)
        pos = offset + (a - len(header))
        while n > 0:
            data = await loop.run_in_executor(None, os.pread, fh.fileno(), min(CHUNK, n), pos)
            if not data:
                return
            pos += len(data)
            n -= len(data)
            yield data
    finally:
        fh.close()


async def _follow_fd(
    fh: BinaryIO, header: bytes, pos: int, still_recording: Callable[[], bool], align: int
) -> AsyncIterator[bytes]:
    """``header``, then the open file from ``pos`` as it grows, in whole frames, until the
    recorder stops writing it (or :data:`FOLLOW_IDLE_S` pass without growth)."""
    loop = asyncio.get_running_loop()
    idle = 0.0
    try:
        yield header
        while True:
            data = await loop.run_in_executor(None, os.pread, fh.fileno(), CHUNK, pos)
            data = data[: len(data) - len(data) % align]
            if data:
                pos += len(data)
                idle = 0.0
                yield data
                continue
            if not still_recording() or idle >= FOLLOW_IDLE_S:
                return
            await asyncio.sleep(FOLLOW_POLL_S)
            idle += FOLLOW_POLL_S
    finally:
        fh.close()


async def _decoded_body(fh: BinaryIO, header: bytes, chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    end = object()
    try:
        yield header
        while True:
            data = await loop.run_in_executor(None, next, chunks, end)
            if data is end:
                return
            yield data  # type: ignore[misc]
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            await loop.run_in_executor(None, close)
        fh.close()


@bp.get("/info/<path:path>", merge_slashes=False)
@studio_doc(summary="Playback information of an archive file", tags=["stream"])
@login_required
async def info(path: str) -> Any:
    """What the player needs before playing: ``{"path", "name", "format", "size", "modified",
    "duration" (s), "sample_rate", "channels", "codec", "growing", "live"}``. ``growing`` and
    ``live`` (the same: Audyn reads ``growing``) are true while a recorder writes the file;
    ``duration`` then covers what is on disk now."""
    from origin.studio.seek import SeekError, duration_info

    p = await resolve_file(path)
    fh, st = open_file(p)
    try:
        try:
            meta = await asyncio.get_running_loop().run_in_executor(None, duration_info, fh, st.st_size)
        except SeekError:
            meta = {"duration": None, "sample_rate": None, "channels": None, "frames": None, "codec": None}
    finally:
        fh.close()
    live = recording_probe(p)()
    svc = service()
    return {
        "path": relpath(svc.archive_root, p),
        "name": p.name,
        "filename": p.name,
        "format": p.suffix.lower().lstrip(".") or "unknown",
        "size": st.st_size,
        "modified": _dt.datetime.fromtimestamp(st.st_mtime, _dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        **meta,
        "growing": live,
        "live": live,
    }
