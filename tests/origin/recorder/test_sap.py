from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid

import numpy as np
import pytest
import soundfile as sf

from origin.recorder import Recorder, config_from_sdp
from origin.recorder.sap import SAPListener, SDPError, build_sap, parse_sap, parse_sdp
from origin.recorder.sender import Sender, SenderConfig

from .conftest import wait_for

DANTE_SDP = """v=0\r
o=- 1311738121 1311738121 IN IP4 192.168.1.100\r
s=Stagebox 1-8\r
c=IN IP4 239.69.83.171/32\r
t=0 0\r
a=keywds:Dante\r
m=audio 5004 RTP/AVP 97\r
i=8 channels: 1, 2, 3, 4, 5, 6, 7, 8\r
a=recvonly\r
a=rtpmap:97 L24/48000/8\r
a=ptime:0.125\r
a=ts-refclk:ptp=IEEE1588-2008:00-1D-C1-FF-FE-12-34-56:0\r
a=mediaclk:direct=142410315\r
a=source-filter: incl IN IP4 239.69.83.171 192.168.1.100\r
a=channel-order:SMPTE2110.(ST,U02,M,M,M,M)\r
"""


def test_parse_sdp_fields():
    s = parse_sdp(DANTE_SDP)
    assert (s.connection_addr, s.ttl, s.port, s.payload_type) == ("239.69.83.171", 32, 5004, 97)
    assert (s.encoding, s.sample_rate, s.channels, s.ptime_us) == ("L24", 48000, 8, 125)
    assert s.source_filter == ["192.168.1.100"]
    assert s.ts_refclk == "ptp=IEEE1588-2008:00-1D-C1-FF-FE-12-34-56:0"
    assert s.mediaclk == "direct=142410315"
    assert s.channel_names == ["L", "R", "3", "4", "M", "M", "M", "M"]
    assert s.session_name == "Stagebox 1-8" and s.origin_addr == "192.168.1.100"


def test_config_from_sdp_with_channel_selection(tmp_path):
    cfg = config_from_sdp(
        DANTE_SDP, archive_root=str(tmp_path), channel_offset=2, channels=2, interface="10.0.0.2"
    )
    assert (cfg.source_addr, cfg.port, cfg.payload, cfg.payload_type) == ("239.69.83.171", 5004, "L24", 97)
    assert (cfg.stream_channels, cfg.channel_offset, cfg.channels, cfg.ptime_us) == (8, 2, 2, 125)
    assert cfg.source_filter == "192.168.1.100" and cfg.channel_names == ["3", "4"]
    assert cfg.payload_format().frame_bytes == 24
    with pytest.raises(Exception, match="channel count=4"):
        config_from_sdp(DANTE_SDP, archive_root=str(tmp_path), channel_offset=6, channels=4)


def test_sdp_errors():
    with pytest.raises(SDPError, match="no audio m= line"):
        parse_sdp("v=0\r\nc=IN IP4 239.1.1.1\r\n")
    with pytest.raises(SDPError, match="no c= connection"):
        parse_sdp("v=0\r\nm=audio 5004 RTP/AVP 96\r\n")
    with pytest.raises(Exception, match="'PCMU' is not L16 or L24"):
        config_from_sdp(
            "v=0\r\nc=IN IP4 239.1.1.1\r\nm=audio 5004 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n", output="x.wav"
        )


def test_sap_packet_roundtrip_and_listener_timeout():
    pkt = build_sap(DANTE_SDP, "192.168.1.100")
    delete, origin, _h, text = parse_sap(pkt)
    assert not delete and origin == "192.168.1.100" and text == DANTE_SDP
    lst = SAPListener(timeout=30)
    lst.handle(pkt, now=1000.0)
    assert [s["session_name"] for s in lst.streams(now=1010.0)] == ["Stagebox 1-8"]
    assert lst.streams(now=1031.0) == []  # timed out
    lst.handle(pkt, now=2000.0)
    lst.handle(build_sap(DANTE_SDP, "192.168.1.100", delete=True), now=2001.0)
    assert lst.streams(now=2002.0) == []  # deleted
    lst.handle(b"\x00garbage", now=2003.0)
    assert lst.errors == 1


def test_sap_discovery_sees_our_sender_and_records_from_it(tmp_path, group_port):
    group, port = group_port
    name = f"aimixer-test-{uuid.uuid4().hex[:8]}"
    with SAPListener(interface="127.0.0.1") as lst:
        snd = Sender(
            SenderConfig(
                dest_addr=group,
                port=port,
                interface="127.0.0.1",
                program="tone",
                seconds=3,
                sap=True,
                sap_interval=0.2,
                session_name=name,
                channels=2,
            )
        )
        snd.start()
        assert wait_for(lambda: any(s["session_name"] == name for s in lst.streams()), 5)
        found = next(s for s in lst.streams() if s["session_name"] == name)
        assert (found["connection_addr"], found["port"], found["encoding"], found["channels"]) == (
            group,
            port,
            "L24",
            2,
        )
        cfg = config_from_sdp(found, output=str(tmp_path / "d.wav"), interface="127.0.0.1")
        rec = Recorder(cfg)
        rec.start()
        time.sleep(0.5)
        snd.stop()
        snd.join(5)
        st = rec.stop()
    y, _ = sf.read(tmp_path / "d.wav")
    assert len(y) > 4800 and np.abs(y).max() > 0.1 and st["foreign"] == 0
    assert cfg.source_filter == "127.0.0.1"  # source-specific join worked: audio arrived


def test_discover_cli_json(group_port):
    group, port = group_port
    name = f"aimixer-cli-{uuid.uuid4().hex[:8]}"
    snd = Sender(
        SenderConfig(
            dest_addr=group,
            port=port,
            interface="127.0.0.1",
            program="tone",
            sap=True,
            sap_interval=0.2,
            session_name=name,
        )
    )
    snd.start()
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "origin.cli",
            "discover",
            "--seconds",
            "1.5",
            "--json",
            "--interface",
            "127.0.0.1",
        ],
        capture_output=True,
        text=True,
        timeout=20,
    )
    snd.stop()
    snd.join(5)
    assert r.returncode == 0, r.stderr
    streams = json.loads(r.stdout)
    mine = [s for s in streams if s["session_name"] == name]
    assert len(mine) == 1 and mine[0]["connection_addr"] == group and mine[0]["port"] == port
