"""Discovery against SDPs modelled on what real devices publish (see ``sdp_corpus/README.md``).

Every file is replayed as a real SAP announcement on loopback multicast and must come out of
:class:`SAPListener` with the right address, port, format, clock lines, labels, redundant leg
and ``unsupported`` reason; video/ancillary announcements are ignored.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from netutil import free_udp_port, unique_group

from origin.recorder import config_from_sdp
from origin.recorder.sap import SAPListener, build_sap, parse_interfaces
from origin.recorder.sdp import SDPError, channel_names_from_order, make_sdp, mediaclk_offset, parse_sdp

from .conftest import wait_for

CORPUS = Path(__file__).parent / "sdp_corpus"
LO = "127.0.0.1"
L_R = ["L", "R"]
FIVE_ONE = ["L", "R", "C", "LFE", "Ls", "Rs"]
DANTE_CLK = "ptp=IEEE1588-2008:00-1D-C1-FF-FE-12-34-56:0"

# file -> (addr, port, encoding, rate, channels, ptime_us, names, redundant (addr, port) or None,
#          unsupported substring or None, extra field checks)
EXPECT: dict[str, tuple] = {
    "dante_avio_2ch.sdp": (
        "239.69.24.53",
        5004,
        "L24",
        48000,
        2,
        1000,
        ["Left", "Right"],
        None,
        None,
        {"mediaclk": "direct=2216169003", "ts_refclk": "ptp=IEEE1588-2008:00-1D-C1-FF-FE-0A-1B-2C:0"},
    ),
    "dante_stagebox_8ch_125us.sdp": (
        "239.69.83.171",
        5004,
        "L24",
        48000,
        8,
        125,
        ["Kick", "Snare", "Hat", "Tom 1", "Tom 2", "OH L", "OH R", "Bass DI"],
        None,
        None,
        {"source_filter": ["192.168.1.100"]},
    ),
    "dante_l16_96k.sdp": (
        "239.69.10.1",
        5004,
        "L16",
        96000,
        4,
        250,
        ["01", "02", "03", "04"],
        None,
        None,
        {},
    ),
    "ravenna_anubis_8ch.sdp": (
        "239.1.50.1",
        5004,
        "L24",
        48000,
        8,
        1000,
        None,
        None,
        None,
        {"ttl": 15, "mediaclk": "direct=0"},
    ),
    "ravenna_horus_64ch_125us.sdp": ("239.1.60.7", 5006, "L24", 48000, 64, 125, None, None, None, {}),
    "livewire_plus_studio_pgm.sdp": ("239.192.0.101", 5004, "L24", 48000, 2, 1000, None, None, None, {}),
    "livewire_plus_livestream_250us.sdp": (
        "239.192.0.102",
        5004,
        "L24",
        48000,
        2,
        250,
        None,
        None,
        None,
        {},
    ),
    "glensound_gsdark_dante.sdp": (
        "239.69.44.21",
        5004,
        "L24",
        48000,
        2,
        1000,
        ["Commentator 1", "Commentator 2"],
        None,
        None,
        {},
    ),
    "dolby_e_am824.sdp": ("239.10.4.16", 5004, "AM824", 48000, 2, 1000, None, None, "AM824", {}),
    "embrionix_2110_30_dup_51st.sdp": (
        "239.10.10.1",
        20000,
        "L24",
        48000,
        8,
        125,
        FIVE_ONE + L_R,
        ("239.20.10.1", 20000),
        None,
        {"source_filter": ["10.1.0.20"], "channel_order": "SMPTE2110.(51,ST)"},
    ),
    "telos_zipone_opus.sdp": ("239.192.3.40", 5004, "OPUS", 48000, 2, 20000, None, None, "Opus", {}),
    "telos_vxs_aes67.sdp": ("239.192.0.160", 5004, "L24", 48000, 1, 1000, None, None, None, {}),
    "aes67_annex_example.sdp": (
        "239.0.0.1",
        5004,
        "L24",
        48000,
        8,
        1000,
        None,
        None,
        None,
        {"mediaclk": "direct=963214424", "ts_refclk": "ptp=IEEE1588-2008:39-A7-94-FF-FE-07-CB-D0:0"},
    ),
    "st2110_30_example_dup_51.sdp": (
        "239.100.9.10",
        5004,
        "L24",
        48000,
        6,
        1000,
        FIVE_ONE,
        ("239.101.9.10", 5004),
        None,
        {"source_filter": ["192.168.100.2"], "ts_refclk": "ptp=IEEE1588-2008:39-A7-94-FF-FE-07-CB-D0:37"},
    ),
    "st2110_30_svip_order_dup.sdp": (
        "239.50.0.5",
        50010,
        "L24",
        48000,
        8,
        125,
        ["1", "2", "3", "4"] + L_R + L_R,
        ("239.60.0.5", 50010),
        None,
        {},
    ),
    "st2110_30_16ch_71_u08_96k.sdp": (
        "239.60.0.9",
        5004,
        "L24",
        96000,
        16,
        125,
        ["L", "R", "C", "LFE", "Lss", "Rss", "Lrs", "Rrs", "9", "10", "11", "12", "13", "14", "15", "16"],
        None,
        None,
        {"mediaclk": "direct=1234567890"},
    ),
    "rfc7273_example_pcmu.sdp": (
        "233.252.0.1",
        49170,
        "PCMU",
        8000,
        1,
        None,
        None,
        None,
        "PCMU",
        {"ts_refclk": "ptp=IEEE1588-2008:39-A7-94-FF-FE-07-CB-D0:0", "mediaclk": "direct=963214424"},
    ),
    "rfc7273_session_level_l24.sdp": (
        "233.252.0.2",
        49172,
        "L24",
        48000,
        2,
        1000,
        None,
        None,
        None,
        {"mediaclk": "direct=100000"},
    ),
    "aes67_linux_daemon_l24_8ch.sdp": (
        "239.1.0.1",
        5004,
        "L24",
        48000,
        8,
        1000,
        None,
        None,
        None,
        {"ts_refclk": DANTE_CLK},
    ),
    "aes67_linux_daemon_am824.sdp": ("239.1.0.2", 5004, "AM824", 48000, 2, 1000, None, None, "AM824", {}),
    "unknown_dynamic_pt.sdp": ("239.9.9.9", 5004, "", 0, 1, 1000, None, None, "payload type 111", {}),
}
IGNORED = {"embrionix_2110_20_video.sdp", "st2110_40_anc.sdp"}


def corpus() -> dict[str, str]:
    return {p.name: p.read_bytes().decode() for p in sorted(CORPUS.glob("*.sdp"))}


def test_corpus_is_fully_covered():
    assert set(corpus()) == set(EXPECT) | IGNORED
    index = (CORPUS / "README.md").read_text()
    for name in corpus():
        assert f"`{name}`" in index, f"{name} has no provenance line in sdp_corpus/README.md"


def check(name: str, s: dict) -> None:
    addr, port, enc, rate, ch, ptime, names, red, unsup, extra = EXPECT[name]
    assert (s["connection_addr"], s["port"]) == (addr, port), name
    assert (s["encoding"], s["sample_rate"], s["channels"], s["ptime_us"]) == (enc, rate, ch, ptime), name
    assert s["channel_names"] == names, name
    if red is None:
        assert s["redundant"] is None, name
    else:
        assert (s["redundant"]["connection_addr"], s["redundant"]["port"]) == red, name
    if unsup is None:
        assert s["unsupported"] is None, (name, s["unsupported"])
    else:
        assert s["unsupported"] and unsup in s["unsupported"], (name, s["unsupported"])
    for k, v in extra.items():
        assert s[k] == v, (name, k)


@pytest.mark.parametrize("name", sorted(EXPECT))
def test_parse_each_corpus_file(name):
    check(name, parse_sdp(corpus()[name]).to_dict())


@pytest.mark.parametrize("name", sorted(IGNORED))
def test_non_audio_is_not_a_stream(name):
    with pytest.raises(SDPError, match="no audio"):
        parse_sdp(corpus()[name])


def test_corpus_replayed_as_sap_on_loopback():
    """Every file as a real SAP packet on a loopback multicast group, heard by the listener."""
    group, port = unique_group("239.195"), free_udp_port()
    files = corpus()
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(LO))
    tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
    with SAPListener(interfaces=[LO], groups=(group,), port=port, timeout=60) as lst:
        want = {parse_sdp(t).session_name for n, t in files.items() if n not in IGNORED}

        def heard() -> bool:
            for text in files.values():  # SAP repeats announcements; so do we until all are in
                tx.sendto(build_sap(text, "10.0.0.1"), (group, port))
            return {s["session_name"] for s in lst.streams()} >= want

        assert wait_for(heard, 5, step=0.2)
        streams = {s["session_name"]: s for s in lst.streams()}
        assert lst.ignored >= len(IGNORED) and lst.errors == 0
    tx.close()
    for name, text in files.items():
        if name in IGNORED:
            continue
        s = streams[parse_sdp(text).session_name]
        check(name, s)
        assert s["sap_origin"] == "10.0.0.1"


def test_dup_pair_becomes_a_redundant_recorder_config(tmp_path):
    text = corpus()["embrionix_2110_30_dup_51st.sdp"]
    cfg = config_from_sdp(text, archive_root=str(tmp_path), channel_offset=6, channels=2)
    assert (cfg.source_addr, cfg.port, cfg.source_filter) == ("239.10.10.1", 20000, "10.1.0.20")
    assert (cfg.redundant_addr, cfg.redundant_port) == ("239.20.10.1", 20000)
    assert cfg.redundant_source_filter == "10.2.0.20"
    assert cfg.channel_names == ["L", "R"] and cfg.ptime_us == 125 and cfg.stream_channels == 8


@pytest.mark.parametrize("name", ["dolby_e_am824.sdp", "telos_zipone_opus.sdp", "unknown_dynamic_pt.sdp"])
def test_unsupported_streams_are_refused_with_the_reason(tmp_path, name):
    with pytest.raises(ValueError, match="not L16 or L24|cannot be recorded"):
        config_from_sdp(corpus()[name], archive_root=str(tmp_path))


def test_our_sdp_is_in_the_standard_form_and_round_trips():
    sdp = make_sdp(
        session_name="ours",
        origin_addr="10.0.0.5",
        dest_addr="239.69.5.5",
        port=5004,
        channels=8,
        channel_names=FIVE_ONE + L_R,
        mediaclk_offset=123456,
        redundant=("239.70.5.5", 5006),
    )
    assert "a=fmtp:96 channel-order=SMPTE2110.(51,ST)\r\n" in sdp
    assert "a=channel-order" not in sdp  # the old non-standard line is gone
    assert "a=group:DUP primary secondary" in sdp and sdp.count("m=audio") == 2
    s = parse_sdp(sdp)
    assert s.channel_names == FIVE_ONE + L_R and s.mediaclk_offset == 123456
    assert s.redundant["connection_addr"] == "239.70.5.5" and s.redundant["port"] == 5006
    assert s.redundant["source_filter"] == ["10.0.0.5"]
    assert parse_sdp(
        make_sdp(session_name="m", origin_addr="1.2.3.4", dest_addr="239.1.1.1", port=5004, channels=3)
    ).channel_names == ["1", "2", "3"]


def test_channel_order_edge_cases():
    assert channel_names_from_order("SMPTE2110.(ST,ST)", 4) == ["L", "R", "L", "R"]
    assert channel_names_from_order("SVIP.(DM,LtRt)", 4) == ["M1", "M2", "Lt", "Rt"]
    assert channel_names_from_order("SMPTE2110.(ST)", 3) is None  # count mismatch
    assert channel_names_from_order("SMPTE2110.(XYZ)", 1) is None
    assert channel_names_from_order("OTHER.(ST)", 2) is None
    assert channel_names_from_order("SMPTE2110.(U99)", 99) is None  # over 64
    assert channel_names_from_order("SMPTE2110.(" + "ST," * 5000 + ")", 2) is None  # bounded
    assert mediaclk_offset("direct=963214424") == 963214424
    assert mediaclk_offset("direct=99999999999999999999") is None
    assert mediaclk_offset("sender") is None


def test_hostile_sdp_is_bounded():
    with pytest.raises(SDPError, match="larger than"):
        parse_sdp("v=0\r\n" + "a=x\r\n" * 10000)
    with pytest.raises(SDPError, match="m= sections"):
        parse_sdp("v=0\r\nc=IN IP4 239.1.1.1\r\n" + "m=audio 5004 RTP/AVP 96\r\n" * 40)
    with pytest.raises(SDPError, match="bad m= port"):
        parse_sdp("v=0\r\nc=IN IP4 239.1.1.1\r\nm=audio 99999999999999 RTP/AVP 96\r\n")
    with pytest.raises(SDPError, match="bad m= port 70000"):
        parse_sdp("v=0\r\nc=IN IP4 239.1.1.1\r\nm=audio 70000 RTP/AVP 96\r\n")
    s = parse_sdp("v=0\r\nc=IN IP4 239.1.1.1\r\nm=audio 5004 RTP/AVP 96\r\na=rtpmap:96 L24/48000/500\r\n")
    assert s.unsupported and "at most 64" in s.unsupported


def test_sap_interfaces_setting_is_validated():
    assert parse_interfaces(" 127.0.0.1, 10.0.0.2 ,127.0.0.1") == ["127.0.0.1", "10.0.0.2"]
    assert parse_interfaces("") is None
    with pytest.raises(ValueError, match="'eth0' is not an IPv4"):
        parse_interfaces("eth0")
    every = parse_interfaces("all")
    assert "127.0.0.1" in every and len(every) == len(set(every))


def test_discover_cli_lists_every_corpus_stream_with_reasons():
    """``aimixer discover --interface`` repeated: listens on both cards, shows unsupported/redundant."""
    group, port = unique_group("239.195"), free_udp_port()
    files = corpus()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "origin.cli",
            "discover",
            "--seconds",
            "2.5",
            "--json",
            "--interface",
            "192.0.2.2" if _has_addr("192.0.2.2") else LO,
            "--interface",
            LO,
            "--sap-group",
            group,
            "--sap-port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(LO))
    try:
        end = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < end:  # announce until it has listened
            for text in files.values():
                tx.sendto(build_sap(text, "10.0.0.1"), (group, port))
            time.sleep(0.2)
        out, err = proc.communicate(timeout=20)
    finally:
        tx.close()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    listed = {s["session_name"]: s for s in json.loads(out)}
    assert len(listed) == len(EXPECT)
    assert "AM824" in listed["Dolby E programme (ST 2110-31)"]["unsupported"]
    assert listed["emSFP audio 1"]["redundant"]["connection_addr"] == "239.20.10.1"
    assert listed["Stage left I/O"]["unsupported"] is None


def _has_addr(addr: str) -> bool:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((addr, 0))
        return True
    except OSError:
        return False
    finally:
        s.close()
