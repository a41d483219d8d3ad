"""Studio API for broadcast plants (issue 20): SAP on the AES67 interface(s), ST 2022-7 pairs,
ST 2110-30 labels from discovery."""

from __future__ import annotations

import socket
import time
import uuid
from pathlib import Path

import pytest

from origin.recorder.sap import SAP_GROUPS, SAP_PORT, build_sap

CORPUS = Path(__file__).resolve().parents[1] / "recorder" / "sdp_corpus"
LO = "127.0.0.1"


def _announce(text: str) -> None:
    """One real SAP packet on the standard group, out of the loopback interface."""
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(LO))
    try:
        tx.sendto(build_sap(text, "10.0.0.1"), (SAP_GROUPS[0], SAP_PORT))
    finally:
        tx.close()


async def _discover(c, name: str, sdp: str, timeout: float = 5.0) -> dict | None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        _announce(sdp)
        found = await (await c.get("/api/sources/discovered")).get_json()
        hit = next((d for d in found if d["name"] == name), None)
        if hit:
            return hit
        time.sleep(0.2)
    return None


def _corpus(name: str, session: str) -> str:
    text = (CORPUS / name).read_bytes().decode()
    return "\r\n".join(f"s={session}" if ln.startswith("s=") else ln for ln in text.split("\r\n"))


async def test_sap_interfaces_setting_listens_on_the_aes67_card(make_app):
    """The host's default route is not loopback: only the configured interface hears the SAP."""
    async with make_app(max_recorders=2, studio_sap_interfaces="127.0.0.1") as app:
        svc = app.extensions["studio"]
        if svc.sap is None:
            pytest.skip("SAP listener could not bind on this host")
        assert svc.sap.interfaces == ["127.0.0.1"]
        c = app.test_client()
        name = f"dup-{uuid.uuid4().hex[:8]}"
        d = await _discover(c, name, _corpus("embrionix_2110_30_dup_51st.sdp", name))
        assert d is not None, "announcement on the AES67 (loopback) interface not heard"
        assert (d["redundant_multicast_addr"], d["redundant_port"]) == ("239.20.10.1", 20000)
        assert d["channel_names"] == ["L", "R", "C", "LFE", "Ls", "Rs", "L", "R"]
        assert d["unsupported"] is None and d["ptime_us"] == 125
        r = await c.post("/api/sources/", json={"discovered_id": d["id"], "channel_offset": 6, "channels": 2})
        assert r.status_code == 201
        src = await r.get_json()
        assert (src["redundant_multicast_addr"], src["redundant_port"]) == ("239.20.10.1", 20000)
        assert src["channel_names"] == ["L", "R"]
        r = await c.post(f"/api/sources/active/{src['id']}")
        assert r.status_code == 200
        cfg = (await (await c.get("/api/recorders/1")).get_json())["config"]
        assert (cfg["redundant_multicast_addr"], cfg["redundant_port"]) == ("239.20.10.1", 20000)
        assert cfg["channel_names"] == ["L", "R"]
        argv = svc.build_command(1, cfg)
        assert argv[argv.index("--redundant") + 1] == "239.20.10.1:20000"
        assert argv[argv.index("--channel-names") + 1] == "L,R"


async def test_unsupported_discovered_stream_is_listed_and_refused(make_app):
    async with make_app(max_recorders=2, studio_sap_interfaces="127.0.0.1") as app:
        svc = app.extensions["studio"]
        if svc.sap is None:
            pytest.skip("SAP listener could not bind on this host")
        c = app.test_client()
        name = f"am824-{uuid.uuid4().hex[:8]}"
        d = await _discover(c, name, _corpus("dolby_e_am824.sdp", name))
        assert d is not None and "AM824" in d["unsupported"]
        r = await c.post("/api/sources/", json={"discovered_id": d["id"]})
        assert r.status_code == 400 and "AM824" in (await r.get_json())["detail"]


async def test_sap_interfaces_default_is_the_recorders_interface(make_app):
    async with make_app(max_recorders=2) as app:
        svc = app.extensions["studio"]
        c = app.test_client()
        r = await c.post("/api/control/config", json={"interface": "127.0.0.1"})
        assert r.status_code == 200
        from origin.studio.discovery import sap_interfaces

        assert sap_interfaces(svc) == ["127.0.0.1"]


async def test_hostile_broadcast_config_values_are_400(make_app):
    async with make_app(max_recorders=2) as app:
        c = app.test_client()
        for body, word in (
            ({"channel_names": ["L", "R,X"]}, "channel_names"),
            ({"channel_names": ["x" * 65]}, "channel_names"),
            ({"channel_names": ["L"] * 65}, "channel_names"),
            ({"channel_names": "L,R"}, "channel_names"),
            ({"redundant_multicast_addr": "239.1.1.1; rm -rf /"}, "redundant_multicast_addr"),
            ({"redundant_port": 70000}, "redundant_port"),
            ({"clock_source": "gps"}, "clock_source"),
            ({"redundant_multicast_addr": "239.9.9.9"}, "set together"),
            ({"redundant_multicast_addr": "239.69.1.1", "redundant_port": 5004}, "must differ"),
        ):
            r = await c.put("/api/recorders/1/config", json=body)
            assert r.status_code == 400, body
            assert word in (await r.get_json())["detail"]


def test_studio_recorder_labels_and_redundant_leg_end_to_end(settings, serve_app, start_sender):
    """A real worker: 6-channel stream on two legs, the primary leg dead (sends only its first
    packets): the recorder records from the secondary, reports ``path_down`` as an event, and
    the levels carry the stream's labels."""
    import httpx
    from studio_testutil import free_udp_port, unique_group, wait_for

    from origin.app import create_app

    group, group2, port = unique_group(), unique_group(), free_udp_port()
    srv = serve_app(create_app(settings))
    c = httpx.Client(base_url=srv.url, timeout=20)
    labels = ["L", "R", "C", "LFE", "Ls", "Rs"]
    r = c.put(
        "/api/recorders/2/config",
        json={
            "multicast_addr": group,
            "port": port,
            "interface": LO,
            "channels": 6,
            "stream_channels": 6,
            "channel_names": labels,
            "redundant_multicast_addr": group2,
            "redundant_port": port,
            "clock_source": "rtp",
        },
    )
    assert r.status_code == 200, r.text
    start_sender(
        group,
        port,
        "tone",
        "--channels",
        "6",
        "--redundant-dest",
        f"{group2}:{port}",
        "--loss-primary",
        "1.0",
        "--channel-names",
        ",".join(labels),
    )
    assert c.post("/api/recorders/2/start").status_code == 200

    def labelled():
        lv = c.get("/api/recorders/2/levels").json()["levels"]
        return [x["name"] for x in lv] == labels and lv[0]["level_db"] > -40

    assert wait_for(labelled, 20)

    def path_down():
        evs = c.get("/api/recorders/2/events").json()["events"]
        return [e for e in evs if e["kind"] == "engine_path_down"]

    down = wait_for(path_down, 10)
    assert down and '"primary"' in down[0]["message"]
    assert c.post("/api/recorders/2/stop").status_code == 200
