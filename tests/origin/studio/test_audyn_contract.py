"""Contract tests for every call Audyn's own web frontend (brianwynne/Audyn ``web/frontend``)
makes beyond the spec, with the fields and status codes its stores and views read.

The frontend itself never enters this repository (GPL-2+); these are the facts it relies on:
paths, request bodies it sends, response fields it reads (named in each test).
"""

from __future__ import annotations

import io
import os
import struct
import time

import numpy as np
import pytest
import soundfile as sf

from origin.studio.seek import wav_header, wav_layout, wav_seek

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def studio_app(make_app):
    async with make_app(max_recorders=6) as app:
        yield app


@pytest.fixture
def c(studio_app):
    return studio_app.test_client()


@pytest.fixture
def root(studio_app):
    return studio_app.extensions["settings"].archive_root.resolve()


def _ramp_wav(path, seconds: float = 3.0, rate: int = 48000, subtype: str = "PCM_24") -> np.ndarray:
    """A stereo file whose every frame is distinct (so an offset error shows)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = int(seconds * rate)
    left = (np.arange(n) % 4000 - 2000) / 4096.0
    data = np.stack([left, -left], axis=1)
    sf.write(str(path), data, rate, subtype=subtype)
    return sf.read(str(path), dtype="int32")[0]


async def _studio_with_recorder(c, rid: int = 1, name: str = "Studio A") -> str:
    st = await (await c.post("/api/studios/", json={"name": name})).get_json()
    assert (await c.post(f"/api/studios/{st['id']}/assign", json={"recorder_id": rid})).status_code == 200
    return st["id"]


# -- auth store / StudioSelector / StudioView ----------------------------------------------------
async def test_studio_selection_is_kept_per_user(c, studio_app):
    """auth.js fetchSelectedStudio reads ``studio_id``; StudioSelector POSTs select/{id} and
    StudioView POSTs clear-selection."""
    assert await (await c.get("/api/studios/current-selection")).get_json() == {
        "studio_id": None,
        "studio": None,
    }
    sid = await _studio_with_recorder(c)
    r = await c.post(f"/api/studios/select/{sid}")
    j = await r.get_json()
    assert r.status_code == 200 and j["message"] == "Studio selected" and j["studio_id"] == sid
    assert j["studio"]["id"] == sid
    cur = await (await c.get("/api/studios/current-selection")).get_json()
    assert cur["studio_id"] == sid and cur["studio"]["name"] == "Studio A"
    # persisted in the database: a fresh app on the same data dir still knows it
    store = studio_app.extensions["studio"].store
    assert await store.selected_studio("dev-user-001") == sid
    r = await c.post("/api/studios/select/nope")
    assert r.status_code == 404 and (await r.get_json())["detail"] == "Studio nope not found"
    assert await (await c.post("/api/studios/clear-selection")).get_json() == {"message": "Selection cleared"}
    assert (await (await c.get("/api/studios/current-selection")).get_json())["studio_id"] is None
    # a deleted studio is not "selected" any more
    await c.post(f"/api/studios/select/{sid}")
    await c.delete(f"/api/studios/{sid}")
    assert (await (await c.get("/api/studios/current-selection")).get_json())["studio_id"] is None


async def test_studio_browse_lists_files_recursively(c, root):
    """studios.js fetchStudioFiles and StudioView read ``files`` of browse?studio_id= (files are in
    date folders below the recorder's folder)."""
    sid = await _studio_with_recorder(c, 2)
    for h in (9, 10):
        _ramp_wav(root / "recorder2" / "2026-01-10" / f"2026-01-10-{h:02d}.wav", 0.1)
    os.utime(root / "recorder2/2026-01-10/2026-01-10-09.wav", (1, time.time() - 60))
    j = await (await c.get("/api/assets/browse", query_string={"studio_id": sid})).get_json()
    assert [f["path"] for f in j["files"]] == [
        "recorder2/2026-01-10/2026-01-10-10.wav",
        "recorder2/2026-01-10/2026-01-10-09.wav",
    ]
    assert set(j["files"][0]) >= {"name", "path", "size", "modified", "format"}
    assert [d["name"] for d in j["directories"]] == ["2026-01-10"]
    # an explicit path keeps the one-folder listing (and recursive=false too)
    j = await (
        await c.get("/api/assets/browse", query_string={"studio_id": sid, "recursive": "false"})
    ).get_json()
    assert j["files"] == []


# -- Files / Dashboard / Settings ----------------------------------------------------------------
async def test_assets_search_filters_and_paging(c, root):
    """Files.vue: search?limit=500 -> ``files`` (name, path, size, modified, format)."""
    now = time.time()
    names = []
    for i, (folder, name) in enumerate(
        [
            ("recorder1/2026-01-10", "2026-01-10-14.wav"),
            ("recorder1/2026-01-11", "2026-01-11-08.wav"),
            ("recorder2/2026-01-11", "2026-01-11-09.flac"),
        ]
    ):
        p = root / folder / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x" * (10 + i))
        os.utime(p, (now, now - 86400 * (2 - i)))  # one day apart, the last is today
        names.append(name)
    (root / "recorder1" / "notes.txt").write_text("not audio")
    j = await (await c.get("/api/assets/search?limit=500")).get_json()
    assert j["total"] == 3 and j["limit"] == 500 and j["offset"] == 0
    assert [f["name"] for f in j["files"]] == names[::-1]  # newest first
    assert set(j["files"][0]) >= {"name", "path", "size", "modified", "format", "recording"}
    j = await (await c.get("/api/assets/search", query_string={"query": "01-11", "format": "wav"})).get_json()
    assert [f["name"] for f in j["files"]] == ["2026-01-11-08.wav"]
    import datetime as dt

    today = dt.date.today().isoformat()
    j = await (await c.get("/api/assets/search", query_string={"date_from": today})).get_json()
    assert [f["name"] for f in j["files"]] == ["2026-01-11-09.flac"]
    yday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    j = await (await c.get("/api/assets/search", query_string={"date_to": yday})).get_json()
    assert [f["name"] for f in j["files"]] == ["2026-01-11-08.wav", "2026-01-10-14.wav"]
    j = await (await c.get("/api/assets/search", query_string={"limit": 1, "offset": 1})).get_json()
    assert j["total"] == 3 and [f["name"] for f in j["files"]] == ["2026-01-11-08.wav"]
    sid = await _studio_with_recorder(c, 2)
    j = await (await c.get("/api/assets/search", query_string={"studio_id": sid})).get_json()
    assert [f["name"] for f in j["files"]] == ["2026-01-11-09.flac"]
    for bad in (
        {"limit": "501"},
        {"limit": "x"},
        {"offset": "-1"},
        {"date_from": "yesterday"},
        {"format": "exe"},
        {"query": "q" * 201},
        {"limit": "9" * 40},
    ):
        r = await c.get("/api/assets/search", query_string=bad)
        assert r.status_code == 400 and "detail" in await r.get_json(), bad
    assert (await c.get("/api/assets/search", query_string={"studio_id": "nope"})).status_code == 404


async def test_assets_stats(c, root):
    """Dashboard.vue reads ``total_files`` and ``total_size_human``; Settings reads the rest."""
    empty = await (await c.get("/api/assets/stats")).get_json()
    assert empty == {
        "total_files": 0,
        "total_size": 0,
        "total_size_human": "0 B",
        "formats": {},
        "oldest_file": None,
        "newest_file": None,
    }
    for name, size in (("a.wav", 2048), ("b.wav", 1024), ("c.opus", 3 * 1024 * 1024)):
        p = root / "recorder1" / "d" / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"\0" * size)
    j = await (await c.get("/api/assets/stats")).get_json()
    assert j["total_files"] == 3 and j["total_size"] == 3 * 1024 * 1024 + 3072
    assert j["formats"] == {"wav": 2, "opus": 1} and j["total_size_human"] == "3.00 MB"
    assert j["oldest_file"] <= j["newest_file"]


async def test_bulk_delete(c, root):
    """Files.vue: POST delete-bulk {"paths": [...]} -> reads ``deleted`` (a list)."""
    paths = [f"recorder1/d/{n}.wav" for n in ("a", "b")]
    for rel in paths:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"RIFF")
    r = await c.post(
        "/api/assets/delete-bulk", json={"paths": [*paths, "recorder1/d/missing.wav", "../etc/passwd"]}
    )
    j = await r.get_json()
    assert r.status_code == 200 and j["deleted"] == paths and j["message"] == "Deleted 2 files"
    assert j["errors"] == [
        {"path": "recorder1/d/missing.wav", "error": "File not found"},
        {"path": "../etc/passwd", "error": "Invalid path: '..' is not allowed"},
    ]
    assert not any((root / p).exists() for p in paths)
    # scoped to a studio's folder
    sid = await _studio_with_recorder(c, 2)
    (root / "recorder1/d/x.wav").write_bytes(b"RIFF")
    j = await (
        await c.post("/api/assets/delete-bulk", json={"paths": ["recorder1/d/x.wav"], "studio_id": sid})
    ).get_json()
    assert j["deleted"] == [] and j["errors"][0]["error"] == "Access denied to this path"
    assert (root / "recorder1/d/x.wav").exists()
    for bad in ({"paths": "a"}, {"paths": [1]}, {"paths": ["a"] * 1001}, {"paths": [], "x": 1}, {}):
        r = await c.post("/api/assets/delete-bulk", json=bad)
        assert r.status_code == 400 and "detail" in await r.get_json()


# -- AudioPlayer ---------------------------------------------------------------------------------
async def test_stream_info_and_wav_seek_by_frame_offset(c, root):
    """AudioPlayer.vue: GET stream/info -> ``duration``, ``growing``; then preview?start=S&follow=false
    must play the file *from S* (it adds S to the element's currentTime)."""
    rel = "recorder1/2026-01-10/2026-01-10-14.wav"
    ref = _ramp_wav(root / rel, 3.0)
    info = await (await c.get(f"/api/stream/info/{rel}")).get_json()
    assert info["duration"] == pytest.approx(3.0) and info["growing"] is False and info["live"] is False
    assert (info["format"], info["sample_rate"], info["channels"]) == ("wav", 48000, 2)
    r = await c.get(f"/api/stream/preview/{rel}", query_string={"start": "1.25", "follow": "false"})
    assert r.status_code == 200 and r.headers["Content-Type"] == "audio/wav"
    # a stream, like Audyn's: no length, no ranges (the player's duration comes from stream/info)
    # (the test client adds a Content-Length; the real server's framing is checked below)
    assert r.headers["Accept-Ranges"] == "none"
    body = await r.get_data()
    got, rate = sf.read(io.BytesIO(body), dtype="int32")
    assert rate == 48000 and float(r.headers["X-Start-Seconds"]) == pytest.approx(1.25)
    assert np.array_equal(got, ref[60000:])  # the archive's own samples from frame 60000
    # a start between frames lands on the next frame boundary
    r = await c.get(f"/api/stream/preview/{rel}", query_string={"start": str(1.0 + 0.5 / 48000)})
    got, _ = sf.read(io.BytesIO(await r.get_data()), dtype="int32")
    assert np.array_equal(got, ref[48001:])
    # past the end: an empty but valid WAV
    r = await c.get(f"/api/stream/preview/{rel}?start=99")
    got, _ = sf.read(io.BytesIO(await r.get_data()), dtype="int32")
    assert len(got) == 0
    for bad in ("x", "-1", "nan", "inf", "1e99"):
        r = await c.get(f"/api/stream/preview/{rel}", query_string={"start": bad})
        assert r.status_code == 400 and "start" in (await r.get_json())["detail"], bad
    r = await c.get(f"/api/stream/preview/{rel}", query_string={"follow": "maybe"})
    assert r.status_code == 400
    assert (await c.get("/api/stream/info/recorder1/none.wav")).status_code == 404
    assert (await c.get("/api/stream/info/../x.wav")).status_code in (400, 404)


async def test_seek_in_flac_decodes_from_that_time(c, root):
    rel = "recorder1/2026-01-10/2026-01-10-15.flac"
    ref = _ramp_wav(root / rel, 2.0, subtype="PCM_16")
    info = await (await c.get(f"/api/stream/info/{rel}")).get_json()
    assert info["duration"] == pytest.approx(2.0) and info["format"] == "flac"
    r = await c.get(f"/api/stream/preview/{rel}", query_string={"start": "0.5", "follow": "false"})
    assert r.status_code == 200 and r.headers["Content-Type"] == "audio/wav"
    got, rate = sf.read(io.BytesIO(await r.get_data()), dtype="int16")
    assert rate == 48000 and got.shape == (72000, 2)
    assert np.array_equal(got, (ref[24000:] >> 16).astype(np.int16))


def test_seeked_answer_is_a_chunked_stream_on_a_real_server(make_settings, serve_app):
    """Audyn's player shows ``start + currentTime`` against stream/info's duration: the browser
    must not learn a finite duration of the seeked answer, so it has no Content-Length."""
    import httpx

    from origin.app import create_app

    settings = make_settings(max_recorders=2)
    ref = _ramp_wav(settings.archive_root / "recorder1" / "x.wav", 1.0)
    srv = serve_app(create_app(settings))
    with httpx.stream("GET", srv.url + "/api/stream/preview/recorder1/x.wav?start=0.5&follow=false") as r:
        assert r.status_code == 200 and "content-length" not in r.headers
        assert r.headers["transfer-encoding"] == "chunked"
        got, _ = sf.read(io.BytesIO(r.read()), dtype="int32")
    assert np.array_equal(got, ref[24000:])


def test_wav_seek_reads_a_growing_file_and_rf64_headers(tmp_path):
    """The recorder's WAV header is synced every few seconds: the data on disk wins."""
    fmt = struct.pack("<HHIIHH", 1, 2, 48000, 48000 * 4, 4, 16)
    hdr = wav_header(fmt, 400)  # header says 100 frames
    p = tmp_path / "g.wav"
    p.write_bytes(hdr + bytes(range(256)) * 4 + b"\1\2\3")  # 1027 bytes on disk
    with open(p, "rb") as fh:
        lay = wav_layout(fh.fileno(), os.fstat(fh.fileno()).st_size)
    assert lay is not None and lay.data_bytes == 400 and lay.frames == 100
    with open(p, "r+b") as fh:  # header not synced yet (0 bytes of data announced)
        fh.seek(len(hdr) - 4)
        fh.write(b"\0\0\0\0")
    with open(p, "rb") as fh:
        lay = wav_layout(fh.fileno(), os.fstat(fh.fileno()).st_size)
    assert lay.data_bytes == 1024  # whole frames on disk
    header, offset, length, actual = wav_seek(lay, 0.001)
    assert (offset - lay.data_offset) % 4 == 0 and actual == pytest.approx(48 / 48000)
    assert length == 1024 - 48 * 4
    big = wav_header(fmt, 5 * 2**30)
    assert big[:4] == b"RF64" and big[12:16] == b"ds64"
    assert struct.unpack("<Q", big[28:36])[0] == 5 * 2**30


# -- Sources / StreamBrowser ---------------------------------------------------------------------
async def test_sources_add_with_null_id_edit_with_put(c):
    """Sources.vue sends its dialog's whole object: {id: null, name, multicast_addr, port,
    sample_rate, channels, description} to POST, and the source as listed to PUT /{id}."""
    body = {
        "id": None,
        "name": "Studio C",
        "multicast_addr": "239.69.2.1",
        "port": 5004,
        "sample_rate": 48000,
        "channels": 2,
        "description": "",
    }
    r = await c.post("/api/sources/", json=body)
    assert r.status_code == 201
    src = await r.get_json()
    assert src["id"] == "source-1" and src["sample_rate"] == 48000 and src["channels"] == 2
    assert "description" not in src  # empty means none
    edited = {**src, "name": "Studio C main", "port": 5006, "description": "Desk", "channels": 1}
    r = await c.put(f"/api/sources/{src['id']}", json=edited)
    assert r.status_code == 200
    j = await r.get_json()
    assert (j["name"], j["port"], j["description"], j["channels"], j["id"]) == (
        "Studio C main",
        5006,
        "Desk",
        1,
        "source-1",
    )
    assert await (await c.get("/api/sources/source-1")).get_json() == j
    # a source created without a format gets Audyn's defaults
    r = await c.post("/api/sources/", json={"name": "Bare", "multicast_addr": "239.69.2.2", "port": 5004})
    assert {k: (await r.get_json())[k] for k in ("sample_rate", "channels")} == {
        "sample_rate": 48000,
        "channels": 2,
    }
    bad_puts = [
        ({**edited, "id": "source-9"}, "id"),
        ({**edited, "port": 0}, "port"),
        ({**edited, "type": "pipewire"}, "type"),
        ({**edited, "bogus": 1}, "bogus"),
        ({**edited, "name": ""}, "name"),
    ]
    for b, word in bad_puts:
        r = await c.put("/api/sources/source-1", json=b)
        assert r.status_code == 400 and word in (await r.get_json())["detail"], b
    r = await c.put("/api/sources/source-77", json=edited)
    assert r.status_code == 404
    assert await (await c.get("/api/sources/pipewire")).get_json() == []


async def test_discovery_endpoints_and_import(c, studio_app):
    """StreamBrowser.vue: status (running, packets_received, active_streams), streams
    (id, session_name, origin_ip, multicast_addr, port, encoding, sample_rate, ptime,
    samples_per_packet, channels, channel_labels) and POST sources/from-discovery."""
    from origin.recorder.sap import build_sap, make_sdp

    svc = studio_app.extensions["studio"]
    if svc.sap is None:
        r = await c.post("/api/discovery/start")
        if r.status_code == 503:
            pytest.skip("SAP listener cannot bind on this host")
    st = await (await c.get("/api/discovery/status")).get_json()
    assert st["running"] is True and st["multicast_addr"] == "239.255.255.255"
    sdp = make_sdp(
        session_name="Desk 4ch",
        origin_addr="192.0.2.20",
        dest_addr="239.69.45.1",
        port=5004,
        payload_type=98,
        payload="L24",
        sample_rate=48000,
        channels=4,
    )
    before = st["packets_received"]
    svc.sap.handle(build_sap(sdp, "192.0.2.20"))
    st = await (await c.get("/api/discovery/status")).get_json()
    assert st["packets_received"] == before + 1 and st["active_streams"] >= 1 and st["announcements"] >= 1
    streams = await (await c.get("/api/discovery/streams")).get_json()
    s = next(x for x in streams if x["session_name"] == "Desk 4ch")
    assert (s["multicast_addr"], s["port"], s["encoding"], s["sample_rate"], s["channels"]) == (
        "239.69.45.1",
        5004,
        "L24",
        48000,
        4,
    )
    assert s["origin_ip"] == "192.0.2.20" and s["ptime"] == 1.0 and s["samples_per_packet"] == 48
    # the SDP's channel order names, else "Ch n" (a list always: the view calls .length on it)
    assert s["channel_labels"] == (s["channel_names"] or ["Ch 1", "Ch 2", "Ch 3", "Ch 4"])
    assert len(s["channel_labels"]) == 4
    assert (await (await c.get(f"/api/discovery/streams/{s['id']}")).get_json())["id"] == s["id"]
    sdp_j = await (await c.get(f"/api/discovery/streams/{s['id']}/sdp")).get_json()
    assert "m=audio 5004" in sdp_j["sdp"]
    payload = {
        "stream_id": s["id"],
        "name": None,
        "description": "from the desk",
        "channels": 2,
        "channel_offset": 2,
        "stream_channels": 4,
    }
    r = await c.post("/api/sources/from-discovery", json=payload)
    assert r.status_code == 201
    src = await r.get_json()
    assert src["name"] == "Desk 4ch ch 3-4" and src["discovered_name"] == "Desk 4ch"
    assert (src["channels"], src["channel_offset"], src["stream_channels"]) == (2, 2, 4)
    assert src["description"] == "from the desk" and src["multicast_addr"] == "239.69.45.1"
    r = await c.post("/api/sources/from-discovery", json={**payload, "stream_channels": 8})
    assert r.status_code == 400 and "stream_channels" in (await r.get_json())["detail"]
    r = await c.post("/api/sources/from-discovery", json={**payload, "stream_id": "sap-000000000000"})
    assert r.status_code == 404
    assert (await c.post("/api/sources/from-discovery", json={"name": "x"})).status_code == 400
    # stop / start
    assert (await (await c.post("/api/discovery/stop")).get_json())["message"] == "Discovery stopped"
    assert (await (await c.get("/api/discovery/status")).get_json())["running"] is False
    assert await (await c.get("/api/discovery/streams")).get_json() == []
    r = await c.post("/api/discovery/start")
    assert r.status_code == 200 and (await r.get_json())["status"] == "ok"


# -- RecorderDetail ------------------------------------------------------------------------------
async def test_recorder_detail_form_is_accepted(c, studio_app, root):
    """RecorderDetail.vue saveConfig sends its whole form (below, as the view builds it)."""
    rec = await (await c.get("/api/recorders/2")).get_json()
    cfg = rec["config"]
    assert cfg["source_type"] == "aes67" and cfg["bit_depth"] == 24 and cfg["vox_enabled"] is False
    form = {
        "source_type": "aes67",
        "source_id": None,
        "multicast_addr": cfg["multicast_addr"],
        "port": cfg["port"],
        "pipewire_target": "",
        "format": "flac",
        "sample_rate": 48000,
        "bit_depth": 16,
        "channels": 2,
        "bitrate": 128000,
        "flac_compression": 8,
        "archive_root": cfg["archive_root"],
        "vox_enabled": True,
        "vox_threshold_db": -40,
        "vox_release_db": 0,
        "vox_detection_ms": 100,
        "vox_hangover_ms": 1500,
        "vox_preroll_ms": 250,
        "vox_level_mode": "peak",
    }
    r = await c.put("/api/recorders/2/config", json=form)
    assert r.status_code == 200, await r.get_data()
    got = (await r.get_json())["recorder"]["config"]
    assert (got["bit_depth"], got["format"], got["flac_compression"], got["vox_enabled"]) == (
        16,
        "flac",
        8,
        True,
    )
    assert (
        got["vox_threshold_db"],
        got["vox_hangover_ms"],
        got["vox_preroll_ms"],
        got["vox_level_mode"],
    ) == (
        -40,
        1500,
        250,
        "peak",
    )
    svc = studio_app.extensions["studio"]
    argv = svc.build_command(2, (await svc.store.recorder(2))["config"])
    flag = {argv[i]: argv[i + 1] for i in range(len(argv) - 1) if argv[i].startswith("--")}
    assert flag["--bits"] == "16" and flag["--flac-level"] == "8" and flag["--format"] == "flac"
    assert flag["--vox-threshold-db"] == "-40" and flag["--vox-hangover-ms"] == "1500"
    assert flag["--vox-preroll-ms"] == "250" and flag["--vox-level-mode"] == "peak"
    # the worker's own parser takes that command line
    from origin.cli import build_parser

    args = build_parser().parse_args(argv[3:])
    assert args.vox_threshold_db == -40 and args.flac_level == 8
    # VOX off: no vox flags
    r = await c.put(
        "/api/recorders/2/config", json={**form, "vox_enabled": False, "format": "wav", "bit_depth": 32}
    )
    got = (await r.get_json())["recorder"]["config"]
    argv = svc.build_command(2, (await svc.store.recorder(2))["config"])
    assert not any(a.startswith("--vox") for a in argv) and "--flac-level" not in argv
    assert got["bit_depth"] == 32 and argv[argv.index("--bits") + 1] == "32f"
    # a source picked in the form's dropdown is applied
    src = await (
        await c.post("/api/sources/", json={"name": "S", "multicast_addr": "239.69.3.3", "port": 5008})
    ).get_json()
    r = await c.put("/api/recorders/2/config", json={**form, "source_id": src["id"], "vox_enabled": False})
    got = (await r.get_json())["recorder"]["config"]
    assert (got["multicast_addr"], got["port"], got["source_id"]) == ("239.69.3.3", 5008, src["id"])
    r = await c.put(
        "/api/recorders/2/config", json={**form, "source_id": None, "multicast_addr": "239.69.3.9"}
    )
    got = (await r.get_json())["recorder"]["config"]
    assert got["multicast_addr"] == "239.69.3.9" and "source_id" not in got
    # what we cannot do: clear 400s
    bad = [
        ({**form, "source_type": "pipewire", "pipewire_target": "alsa_input.usb"}, "aes67"),
        ({**form, "format": "mp3"}, "format"),
        ({**form, "bit_depth": 20}, "bit_depth"),
        ({**form, "flac_compression": 9}, "flac_compression"),
        ({**form, "vox_level_mode": "loud"}, "vox_level_mode"),
        ({**form, "vox_threshold_db": 3}, "vox_threshold_db"),
        ({**form, "vox_threshold_db": -50, "vox_release_db": -40}, "vox_release_db"),
        ({**form, "vox_enabled": "yes"}, "vox_enabled"),
        ({**form, "source_id": "source-99"}, "source-99"),
    ]
    for b, word in bad:
        r = await c.put("/api/recorders/2/config", json=b)
        assert r.status_code == 400 and word in (await r.get_json())["detail"], b


# -- capture store / Dashboard / Settings --------------------------------------------------------
async def test_control_config_get_and_audyn_fields(c, root):
    """capture.js fetchConfig reads GET control/config; startCapture posts its config with
    ptp_interface, aes67_interface, vox_facility_enabled and local_playback_enabled."""
    j = await (await c.get("/api/control/config")).get_json()
    assert j["source_type"] == "aes67" and j["multicast_addr"] == "239.69.1.1" and j["port"] == 5004
    assert j["archive_root"] == str(root / "recorder1") and j["format"] == "wav"
    body = {
        "source_type": "aes67",
        "multicast_addr": "239.69.1.1",
        "port": 5004,
        "sample_rate": 48000,
        "channels": 2,
        "format": "wav",
        "bitrate": 128000,
        "archive_root": "/var/lib/audyn",
        "archive_layout": "dailydir",
        "archive_period": 3600,
        "archive_clock": "localtime",
        "ptp_interface": None,
        "aes67_interface": None,
        "vox_facility_enabled": False,
        "local_playback_enabled": False,
    }
    r = await c.post("/api/control/config", json=body)
    assert r.status_code == 200
    j = await r.get_json()
    assert list(j["ignored"]) == ["archive_root"] and j["config"]["archive_root"] == str(root / "recorder1")
    r = await c.post(
        "/api/control/config",
        json={**body, "archive_root": j["config"]["archive_root"], "ptp_interface": "eth1"},
    )
    assert list((await r.get_json())["ignored"]) == ["ptp_interface"]


async def test_auth_config_and_system_endpoints(c):
    """Settings.vue reads /auth/config (entra_* ids, never a secret), /api/system/config
    (hostname, timezone, ntp_servers), interfaces (name, ip_address), timezones (strings); the
    appliance endpoints answer 501 {"detail"}."""
    j = await (await c.get("/auth/config")).get_json()
    assert j["dev_mode"] is True and j["configured"] is False and j["client_secret_set"] is False
    assert {"entra_tenant_id", "entra_client_id", "entra_redirect_uri"} <= set(j)
    assert not any("secret" in k and k != "client_secret_set" for k in j)
    sysc = await (await c.get("/api/system/config")).get_json()
    assert isinstance(sysc["hostname"], str) and sysc["hostname"] and isinstance(sysc["ntp_servers"], list)
    assert sysc["max_recorders"] == 6 and isinstance(sysc["timezone"], str)
    ifaces = await (await c.get("/api/system/interfaces")).get_json()
    lo = next(i for i in ifaces if i["name"] == "lo")
    assert lo["ip_address"] == "127.0.0.1"
    tzs = await (await c.get("/api/system/timezones")).get_json()
    assert "Europe/London" in tzs and tzs == sorted(tzs)
    for method, path in (
        ("GET", "/api/system/network"),
        ("POST", "/api/system/network"),
        ("GET", "/api/system/aes67"),
        ("GET", "/api/system/ssl"),
        ("POST", "/api/system/ssl/upload"),
        ("POST", "/api/system/ssl/enable"),
        ("GET", "/api/system/logrotate"),
        ("POST", "/api/system/logrotate/force"),
        ("POST", "/api/system/config"),
        ("POST", "/auth/config"),
    ):
        r = await c.open(path, method=method, json={})
        assert r.status_code == 501, (method, path)
        assert "not managed by this server" in (await r.get_json())["detail"]
