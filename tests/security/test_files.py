"""Archive files: huge Range digits (416/206, never 500), the symlink-swap race (never a byte
from outside the archive), a file deleted mid-download (complete, with Content-Length), and
deletion that follows no symlink."""

from __future__ import annotations

import os
import threading
import time

import httpx
import pytest

BIG = "9" * 5000


@pytest.fixture(scope="module")
def wav(prod_server):
    d = prod_server.archive / "sec"
    d.mkdir(parents=True, exist_ok=True)
    f = d / "probe.wav"
    f.write_bytes(b"RIFF" + bytes(range(256)) * 64)
    return "sec/probe.wav", f.stat().st_size


@pytest.mark.parametrize("route", ["/api/stream/preview/", "/api/assets/download/"])
@pytest.mark.parametrize(
    ("rng", "status"),
    [(f"bytes={BIG}-", 416), (f"bytes=0-{BIG}", 206), (f"bytes=-{BIG}", 206), (f"bytes={BIG}-{BIG}", 416)],
    ids=["start", "end", "suffix", "both"],
)
def test_huge_range_digits(prod_server, wav, route, rng, status) -> None:
    rel, size = wav
    r = httpx.get(prod_server.url + route + rel, headers={**prod_server.auth("admin"), "Range": rng})
    assert r.status_code == status, r.text
    if status == 416:
        assert r.headers["content-range"] == f"bytes */{size}" and "detail" in r.json()
    else:
        assert r.headers["content-range"] == f"bytes 0-{size - 1}/{size}" and len(r.content) == size


def test_huge_numbers_in_recorder_config(prod_server) -> None:
    r = httpx.put(
        prod_server.url + "/api/recorders/1/config",
        content=b'{"port": ' + BIG.encode() + b"}",
        headers={**prod_server.auth("admin"), "Content-Type": "application/json"},
    )
    assert r.status_code == 400 and "more than 100 digits" in r.json()["detail"]
    r = httpx.put(
        prod_server.url + "/api/recorders/1/config", json={"port": 10**30}, headers=prod_server.auth("admin")
    )
    assert r.status_code == 400 and "port" in r.json()["detail"]


def test_symlink_swap_race_never_leaks(prod_server, tmp_path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = b"SECRET!!" * (64 * 1024)  # 512 KiB: several chunks, as the old per-chunk re-open read
    (outside / "f.wav").write_bytes(secret)
    race = prod_server.archive / "race"
    (race / "d").mkdir(parents=True)
    (race / "d" / "f.wav").write_bytes(b"goodgood" * (64 * 1024))
    stop = threading.Event()

    def swap() -> None:  # the real folder "d" and a symlink "d" -> outside take turns
        d, store, tmp = race / "d", race / "store", race / "tmp"
        while not stop.is_set():
            os.symlink(outside, tmp)
            os.rename(d, store)
            os.rename(tmp, d)
            time.sleep(0.001)
            os.unlink(d)
            os.rename(store, d)
            time.sleep(0.001)

    t = threading.Thread(target=swap, daemon=True)
    t.start()
    leaks = served = 0
    deadline = time.monotonic() + 4
    try:
        with httpx.Client(base_url=prod_server.url, headers=prod_server.auth("admin"), timeout=10) as c:
            while time.monotonic() < deadline:
                for route in ("/api/assets/download/race/d/f.wav", "/api/stream/preview/race/d/f.wav"):
                    r = c.get(route)
                    assert r.status_code in (200, 404), r.text
                    if r.status_code == 200:
                        served += 1
                        leaks += b"SECRET" in r.content
                        assert r.content == b"goodgood" * (64 * 1024)
    finally:
        stop.set()
        t.join(5)
    assert served > 0 and leaks == 0


def test_file_deleted_mid_download_completes(prod_server) -> None:
    f = prod_server.archive / "sec" / "gone.wav"
    body = os.urandom(4 << 20)
    f.write_bytes(body)
    with httpx.stream(
        "GET", prod_server.url + "/api/assets/download/sec/gone.wav", headers=prod_server.auth("admin")
    ) as r:
        assert r.status_code == 200 and r.headers["content-length"] == str(len(body))
        it = r.iter_bytes()
        got = next(it)
        f.unlink()
        got += b"".join(it)
    assert got == body  # served from the one open descriptor


def test_delete_follows_no_symlink(prod_server, tmp_path) -> None:
    outside = tmp_path / "keep"
    outside.mkdir()
    (outside / "x.wav").write_bytes(b"keep me")
    d = prod_server.archive / "del"
    d.mkdir()
    os.symlink(outside, d / "out")
    r = httpx.delete(prod_server.url + "/api/assets/file/del/out/x.wav", headers=prod_server.auth("admin"))
    assert r.status_code == 404
    assert (outside / "x.wav").read_bytes() == b"keep me"


def test_file_truncated_mid_download_ends_without_an_error_log(prod_server) -> None:
    f = prod_server.archive / "sec" / "shrinks.wav"
    f.write_bytes(os.urandom(8 << 20))
    got = b""
    with pytest.raises(httpx.RemoteProtocolError, match="incomplete|complete message body"):
        with httpx.stream(
            "GET", prod_server.url + "/api/assets/download/sec/shrinks.wav", headers=prod_server.auth("admin")
        ) as r:
            assert r.headers["content-length"] == str(8 << 20)
            it = r.iter_bytes()
            got = next(it)
            os.truncate(f, 1 << 20)
            for chunk in it:
                got += chunk
    assert len(got) < 8 << 20  # never a complete-looking body
    time.sleep(0.5)
    assert "Error in ASGI Framework" not in prod_server.log()
    assert "Too little data" not in prod_server.log()
    assert prod_server.alive()
