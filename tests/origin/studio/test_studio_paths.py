"""Path handling: the unit rules of ``origin.studio.paths`` and traversal attempts sent as raw HTTP
request lines (no client-side normalisation) against a real server."""

from __future__ import annotations

import http.client
import os

import pytest

from origin.app import create_app
from origin.studio.paths import PathError, clean_relpath, resolve_archive_dir, resolve_under

SECRET = b"TOP-SECRET-OUTSIDE-THE-ARCHIVE"


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "archive"
    (root / "recorder1" / "day").mkdir(parents=True)
    (root / "recorder1" / "day" / "a.wav").write_bytes(b"RIFFxxxxWAVE")
    (root / "recorder2").mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(SECRET)
    os.symlink(outside, root / "recorder1" / "escape")
    os.symlink(outside / "secret.txt", root / "recorder1" / "day" / "link.wav")
    os.symlink(root / "recorder1" / "day" / "a.wav", root / "recorder1" / "inside.wav")
    return root


def test_resolve_under_a_symlink_vanishing_mid_resolution_is_404(tree, monkeypatch):
    """A folder swapped for a symlink and back while the path resolves: Python 3.11's realpath
    sees the link at its lstat and then fails its readlink with ENOENT (the real race in
    tests/security/test_files.py, made deterministic here). The answer is 404, never a 500."""
    real_readlink = os.readlink

    def vanished(path, *a, **k):
        if str(path).endswith("escape"):
            raise FileNotFoundError(2, "No such file or directory", str(path))
        return real_readlink(path, *a, **k)

    monkeypatch.setattr(os, "readlink", vanished)
    with pytest.raises(PathError, match="File not found") as exc:
        resolve_under(tree, "recorder1/escape/secret.txt")
    assert exc.value.status == 404
    assert resolve_under(tree, "recorder1/inside.wav").name == "a.wav"  # other links still resolve


@pytest.mark.parametrize("raw", ["../x", "a/../../x", "/etc/passwd", "a\x00b", "a\\b", "~/x", "C:/x", ".."])
def test_clean_relpath_rejects(raw):
    with pytest.raises(PathError, match="Invalid path") as exc:
        clean_relpath(raw)
    assert exc.value.status == 400


def test_clean_relpath_normalises():
    assert clean_relpath("./a//b/./c/") == "a/b/c"
    assert clean_relpath("") == "" and clean_relpath(None) == ""


def test_resolve_under_rules(tree):
    assert resolve_under(tree, "recorder1/day/a.wav").name == "a.wav"
    assert resolve_under(tree, "recorder1/inside.wav").name == "a.wav"  # symlink inside the root is fine
    for escaping in ("recorder1/escape/secret.txt", "recorder1/day/link.wav", "recorder1/escape"):
        with pytest.raises(PathError, match="File not found") as exc:
            resolve_under(tree, escaping)
        assert exc.value.status == 404
    with pytest.raises(PathError, match="File not found"):
        resolve_under(tree, "recorder1/missing.wav")
    with pytest.raises(PathError, match="Access denied") as exc:
        resolve_under(tree, "recorder2", confine_to=[tree / "recorder1"])
    assert exc.value.status == 403
    with pytest.raises(PathError, match="Access denied"):
        resolve_under(tree, "", confine_to=[tree / "recorder1"])
    with pytest.raises(PathError, match="Access denied"):
        resolve_under(tree, "recorder1/day/a.wav", confine_to=[])


def test_resolve_archive_dir(tree):
    assert resolve_archive_dir(tree, "recorder9") == tree.resolve() / "recorder9"
    assert resolve_archive_dir(tree, str(tree / "recorder1" / "sub")) == tree.resolve() / "recorder1" / "sub"
    for bad in ("/etc", "../x", str(tree), "", "recorder1/escape/deeper", str(tree / ".." / "x")):
        with pytest.raises(PathError, match="archive_root") as exc:
            resolve_archive_dir(tree, bad)
        assert exc.value.status == 400


def _raw(port: int, method: str, target: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


ATTACKS = [
    "..%2f..%2f..%2fetc%2fpasswd",
    "%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "recorder1/%2e%2e/%2e%2e/outside/secret.txt",
    "recorder1/escape/secret.txt",
    "recorder1/day/link.wav",
    "recorder1/day/a.wav%00.txt",
    "%2fetc%2fpasswd",
    "..%5c..%5coutside%5csecret.txt",
    "recorder1/day/..%2f..%2f..%2foutside/secret.txt",
]


def test_traversal_over_http(make_settings, serve_app, tree):
    settings = make_settings(archive_root=tree)
    srv = serve_app(create_app(settings))
    for attack in ATTACKS:
        for method, prefix in (
            ("GET", "/api/assets/download/"),
            ("GET", "/api/stream/preview/"),
            ("DELETE", "/api/assets/file/"),
        ):
            status, body = _raw(srv.port, method, prefix + attack)
            assert status in (400, 404), (method, prefix + attack, status, body[:200])
            assert SECRET not in body and b"root:" not in body
            assert b'"detail"' in body
        status, body = _raw(srv.port, "GET", "/api/assets/browse?path=" + attack)
        assert status in (400, 404), (attack, status, body[:200])
        assert b'"detail"' in body and b"secret" not in body
    # the outside file is still there (DELETE never touched it); the real file is reachable
    assert (tree.parent / "outside" / "secret.txt").read_bytes() == SECRET
    status, body = _raw(srv.port, "GET", "/api/assets/download/recorder1/day/a.wav")
    assert status == 200 and body == b"RIFFxxxxWAVE"
    # listings never show symlinks that leave the root
    status, body = _raw(srv.port, "GET", "/api/assets/browse?path=recorder1")
    assert status == 200 and b"escape" not in body and b"inside.wav" in body
    status, body = _raw(srv.port, "GET", "/api/assets/browse?path=recorder1/day")
    assert status == 200 and b"link.wav" not in body and b"a.wav" in body
