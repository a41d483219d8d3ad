"""Safe path handling under the single archive root.

Every archive path the studio API accepts (assets browse/download/delete, stream preview,
recorder ``archive_root``) goes through this module. The rules:

* a path is *relative to the archive root* (``2026-01-10/2026-01-10-14.opus``); ``/`` separates;
* NUL bytes, backslashes, absolute paths, drive letters and ``..`` components are rejected
  with 400 ``Invalid path`` before anything touches the file system;
* the joined path is resolved with :func:`os.path.realpath`; if it lands outside the root
  (a symlink pointing out) the answer is 404 ``File not found``, exactly as if it did not exist,
  and nothing is read;
* a studio user is further confined to its studio's archive folder(s) (403 otherwise).

The archive root itself comes from the server configuration and is never changeable over the API.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "PathError",
    "clean_relpath",
    "resolve_under",
    "relpath",
    "is_within",
    "real_path",
    "resolve_archive_dir",
]

MAX_PATH_CHARS = 4096


class PathError(Exception):
    """A rejected path: ``status`` (400/403/404) and a user-facing ``detail``."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def clean_relpath(raw: str | None) -> str:
    """Validate and normalise a client-supplied relative path.

    Returns the path with empty and ``.`` components removed ("" means the root).

    Raises
    ------
    PathError
        400 for NUL bytes, backslashes, absolute paths, ``..`` components or over-long input.
    """
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise PathError(400, "Invalid path")
    if len(raw) > MAX_PATH_CHARS:
        raise PathError(400, "Invalid path: too long")
    if "\x00" in raw:
        raise PathError(400, "Invalid path: NUL byte")
    if "\\" in raw:
        raise PathError(400, "Invalid path: backslash")
    if raw.startswith("/") or raw.startswith("~") or (len(raw) >= 2 and raw[1] == ":"):
        raise PathError(400, "Invalid path: absolute paths are not allowed")
    parts = []
    for part in raw.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            raise PathError(400, "Invalid path: '..' is not allowed")
        parts.append(part)
    return "/".join(parts)


def real_path(path: str | os.PathLike[str], status: int = 404) -> str:
    """:func:`os.path.realpath`, with a race answered as :class:`PathError` (``status``, ``File not
    found``): on Python 3.11 ``realpath`` raises ``FileNotFoundError`` when a symlink on the way
    disappears between its ``lstat`` and its ``readlink`` (a folder swapped while it resolves)."""
    try:
        return os.path.realpath(path)
    except OSError:
        raise PathError(status, "File not found") from None


def is_within(path: str | os.PathLike[str], folder: str | os.PathLike[str]) -> bool:
    """True when the *real* ``path`` equals or lies below the *real* ``folder`` (``False`` when
    either cannot be resolved right now)."""
    try:
        p = real_path(path)
        f = real_path(folder)
        return os.path.commonpath([p, f]) == f
    except (PathError, ValueError):
        return False


def resolve_under(
    root: str | os.PathLike[str],
    raw: str | None,
    *,
    must_exist: bool = True,
    confine_to: Iterable[str | os.PathLike[str]] | None = None,
) -> Path:
    """Resolve a client path to a real path inside ``root``.

    Parameters
    ----------
    root : path
        The archive root (server config).
    raw : str
        Client path relative to the root.
    must_exist : bool
        404 ``File not found`` when the path does not exist.
    confine_to : iterable of paths, optional
        Folders (inside ``root``) the caller is limited to; 403 when outside all of them.
        ``None`` means no confinement (admin); an empty iterable means nothing is allowed.

    Raises
    ------
    PathError
        400 (bad syntax), 403 (outside the caller's folders), 404 (missing or escaping root).
    """
    rel = clean_relpath(raw)
    root_real = real_path(root)
    joined = os.path.join(root_real, rel) if rel else root_real
    real = real_path(joined)
    if not is_within(real, root_real):
        raise PathError(404, "File not found")
    if confine_to is not None:
        folders = [real_path(f) for f in confine_to]
        # The lexical path must be inside a folder too: a symlink *into* a studio folder from
        # elsewhere is fine, but a path that is merely a parent of the folder is not.
        if not any(is_within(real, f) for f in folders):
            raise PathError(403, "Access denied to this path")
    if must_exist and not os.path.exists(real):
        raise PathError(404, "File not found")
    return Path(real)


def relpath(root: str | os.PathLike[str], path: str | os.PathLike[str]) -> str:
    """``path`` relative to ``root`` with ``/`` separators ("" for the root itself)."""
    r = os.path.relpath(os.path.realpath(path), os.path.realpath(root))
    return "" if r == "." else r.replace(os.sep, "/")


def resolve_archive_dir(root: str | os.PathLike[str], value: str) -> Path:
    """Validate a recorder ``archive_root`` setting: a *subfolder* of the server archive root.

    ``value`` may be absolute (it must then lie inside ``root``) or relative to ``root``.
    The folder need not exist yet.

    Raises
    ------
    PathError
        400 with a message naming the rule.
    """
    if not isinstance(value, str) or not value.strip():
        raise PathError(400, "archive_root must be a non-empty string")
    if "\x00" in value or "\\" in value:
        raise PathError(400, "archive_root contains invalid characters")
    root_real = os.path.realpath(root)
    if os.path.isabs(value):
        parts = value.split("/")
        if ".." in parts:
            raise PathError(400, "archive_root must not contain '..'")
        candidate = os.path.normpath(value)
        # compare lexically against both the configured and the real root
        root_abs = os.path.abspath(root)
        for base in (root_real, root_abs):
            if os.path.commonpath([candidate, base]) == base:
                rel = os.path.relpath(candidate, base)
                break
        else:
            raise PathError(400, f"archive_root must be inside the server archive root {root_abs}")
    else:
        rel = value
    try:
        rel = clean_relpath(rel if rel != "." else "")
    except PathError as exc:
        raise PathError(400, f"archive_root: {exc.detail}") from None
    if not rel:
        raise PathError(400, "archive_root must be a subfolder of the server archive root")
    real = os.path.realpath(os.path.join(root_real, rel))
    if not is_within(real, root_real) or real == root_real:
        raise PathError(400, "archive_root must be inside the server archive root")
    return Path(real)
