"""linuxptp on loopback: a real ptp4l grandmaster (software timestamps, free running, so the
host clock is never touched), read with pmc; our sender announces it in ``a=ts-refclk`` and a
media-clock recorder places the stream by it."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import time
import uuid

import pytest
import soundfile as sf
from netutil import free_udp_port, unique_group

from origin.recorder import Recorder, config_from_sdp
from origin.recorder.mediaclock import PTP_UTC_OFFSET_S
from origin.recorder.ptp import PTPError, ptp_status, ts_refclk
from origin.recorder.sap import SAPListener
from origin.recorder.sender import Sender, SenderConfig
from origin.recorder.sinks import read_wav_chunks

from .conftest import wait_for

pytestmark = pytest.mark.skipif(
    shutil.which("ptp4l") is None or shutil.which("pmc") is None, reason="linuxptp not installed"
)


@pytest.fixture
def grandmaster(tmp_path):
    domain = random.randint(100, 127)
    uds = str(tmp_path / "ptp4l.sock")
    cfg = tmp_path / "ptp4l.cfg"
    cfg.write_text(
        "[global]\n"
        f"domainNumber {domain}\n"
        f"uds_address {uds}\n"
        "free_running 1\n"
        "announceReceiptTimeout 2\n"
        "logAnnounceInterval -2\n"
    )
    proc = subprocess.Popen(
        ["ptp4l", "-f", str(cfg), "-i", "lo", "-S", "-m"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    def master():
        try:
            return ptp_status(uds=uds, domain=domain)["port_state"] == "MASTER"
        except PTPError:
            return False

    ok = wait_for(master, 10, step=0.3)
    if not ok:
        proc.terminate()
        out = proc.communicate(timeout=5)[0]
        pytest.skip(f"ptp4l did not become grandmaster on lo: {out[-300:]}")
    yield uds, domain
    proc.terminate()
    proc.wait(5)


def test_ptp4l_grandmaster_on_loopback_drives_ts_refclk_and_the_media_clock(tmp_path, grandmaster):
    uds, domain = grandmaster
    st = ptp_status(uds=uds, domain=domain)
    assert st["port_state"] == "MASTER" and st["domain"] == domain
    assert st["utc_offset"] == PTP_UTC_OFFSET_S  # linuxptp distributes the same TAI-UTC we assume
    refclk = ts_refclk(st["grandmaster"], domain)
    assert refclk.startswith("ptp=IEEE1588-2008:") and refclk.endswith(f":{domain}")
    group, port = unique_group("239.74"), free_udp_port()
    snd = Sender(
        SenderConfig(
            dest_addr=group,
            port=port,
            interface="127.0.0.1",
            program="tone",
            seconds=1.0,
            ts_refclk=refclk,
            mediaclk_offset=4242,
        )
    )
    cfg = config_from_sdp(
        snd.sdp(), output=str(tmp_path / "o.wav"), interface="127.0.0.1", clock="utc", clock_source="rtp"
    )
    rec = Recorder(cfg)
    rec.start()
    sent = snd.run()
    wait_for(lambda: rec.jitter.high >= sent.frames, 3)
    time.sleep(0.2)
    rec.stop()
    assert len(sf.read(tmp_path / "o.wav")[0]) == sent.frames
    tr = read_wav_chunks(str(tmp_path / "o.wav"))["bext"]["time_reference"]
    assert tr == sent.first_sample - (sent.first_sample // 48000 // 86400) * 86400 * 48000
    # the CLI: --ts-refclk ptp reads the same grandmaster and announces it over SAP (one ptp4l per
    # test run: ptp4l instances share the PTP ports)
    group, port = unique_group("239.74"), free_udp_port()
    name = f"ptp-{uuid.uuid4().hex[:8]}"
    lst = SAPListener(interfaces=["127.0.0.1"]).start()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "origin.cli",
            "sender",
            "--dest",
            f"{group}:{port}",
            "--interface",
            "127.0.0.1",
            "--seconds",
            "5",
            "--ts-refclk",
            "ptp",
            "--ptp-uds",
            uds,
            "--ptp-domain",
            str(domain),
            "--sap",
            "--sap-interval",
            "0.05",
            "--name",
            name,
            "--json-stats",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    heard: list[dict] = []
    try:
        wait_for(lambda: heard.extend(x for x in lst.streams() if x["session_name"] == name) or heard, 10)
    finally:
        lst.stop()
        proc.terminate()
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert json.loads(out)["sent"] > 0
    assert heard and heard[0]["ts_refclk"] == refclk
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "origin.cli",
            "sender",
            "--dest",
            f"{group}:{port}",
            "--seconds",
            "0.1",
            "--ts-refclk",
            "ptp",
            "--ptp-uds",
            str(tmp_path / "none.sock"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 2 and "--ts-refclk ptp: no answer from ptp4l" in r.stderr


def test_ptp_helpers_reject_bad_input(tmp_path):
    with pytest.raises(PTPError, match="not a PTP clock identity"):
        ts_refclk("00:11:22:33")
    with pytest.raises(PTPError, match="domain=300"):
        ptp_status(domain=300)
    with pytest.raises(PTPError, match="no answer"):
        ptp_status(uds=str(tmp_path / "nobody.sock"), domain=1, timeout=5)
