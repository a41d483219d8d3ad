"""Open an archive file once, without following any symlink on the way, and read from that one
descriptor (no re-open by path after a check: no time-of-check/time-of-use race).

:func:`open_archive_file` walks the path one component at a time from a descriptor of the
archive root, each step ``openat(dir_fd, name, O_NOFOLLOW)``, so a directory swapped for a
symlink between the path check and the open makes the open fail (404) instead of reading a
file from outside the archive. Callers first resolve the client's path with
:func:`origin.studio.paths.resolve_under` (symlinks *inside* the root are allowed there and are
already resolved to their real path), then open the resolved path relative to the root here.

The returned file is unbuffered; read it with :func:`read_at` (``os.pread``), which never moves a
shared offset, so one descriptor can serve a Range request and a follow-the-recording stream.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

__all__ = ["SafeOpenError", "open_archive_file", "unlink_archive_file", "read_at"]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


class SafeOpenError(Exception):
    """The file cannot be opened safely: ``status`` (400/404) and a user-facing ``detail``."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def open_archive_file(
    root: str | os.PathLike[str], relpath: str | os.PathLike[str]
) -> tuple[BinaryIO, os.stat_result]:
    """Open regular file ``relpath`` (``/``-separated, relative to ``root``) for reading.

    Returns
    -------
    (file, stat_result)
        An unbuffered binary file (close it when done) and its ``fstat``.

    Raises
    ------
    SafeOpenError
        404 when a component is missing, is a symlink, or is not a directory; 400 when the
        target is not a regular file (or the path is empty or has ``.``/``..`` components).
    """
    dirfd, name = _parent(root, relpath)
    try:
        fd = os.open(name, _FILE_FLAGS, dir_fd=dirfd)
    except OSError:  # ENOENT, ELOOP (a symlink), EACCES
        raise SafeOpenError(404, "File not found") from None
    finally:
        os.close(dirfd)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise SafeOpenError(400, "Not a file")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb", buffering=0), st


def unlink_archive_file(root: str | os.PathLike[str], relpath: str | os.PathLike[str]) -> None:
    """Delete ``relpath`` under ``root`` through the same no-symlink walk (``unlinkat``).

    Raises
    ------
    SafeOpenError
        404 as in :func:`open_archive_file`; 400 for a directory.
    OSError
        Any other failure of the unlink itself.
    """
    dirfd, name = _parent(root, relpath)
    try:
        st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            raise SafeOpenError(400, "Only files can be deleted")
        os.unlink(name, dir_fd=dirfd)
    except FileNotFoundError:
        raise SafeOpenError(404, "File not found") from None
    finally:
        os.close(dirfd)


def _parent(root: str | os.PathLike[str], relpath: str | os.PathLike[str]) -> tuple[int, str]:
    """A descriptor of ``relpath``'s folder (walked without following symlinks) and its name."""
    parts = [p for p in str(relpath).replace(os.sep, "/").split("/") if p]
    if not parts or any(p in (".", "..") for p in parts):
        raise SafeOpenError(400, "Not a file")
    try:
        dirfd = os.open(os.path.realpath(root), _DIR_FLAGS & ~os.O_NOFOLLOW)
    except OSError:
        raise SafeOpenError(404, "File not found") from None
    try:
        for name in parts[:-1]:
            nxt = os.open(name, _DIR_FLAGS, dir_fd=dirfd)
            os.close(dirfd)
            dirfd = nxt
    except OSError:  # ENOENT, ELOOP/ENOTDIR (a symlink or a file on the way), EACCES
        os.close(dirfd)
        raise SafeOpenError(404, "File not found") from None
    return dirfd, parts[-1]


def read_at(fh: BinaryIO, offset: int, n: int) -> bytes:
    """Up to ``n`` bytes of ``fh`` at ``offset`` (``b""`` at the end of the file)."""
    return os.pread(fh.fileno(), n, offset)
