"""A real-time paced AES67-style RTP test sender with SAP announcements and fault injection.

Programs: ``tone`` (997 Hz, -18 dBFS), ``pink`` (pink noise, about -20 dBFS RMS), ``speech``
(espeak-ng when installed, else a synthetic vowel babble), ``music`` (a synthesized chord
progression), or a FILE path (read with soundfile; played once).

Faults (``loss``, ``reorder``, ``duplicate`` probabilities, seeded by ``seed``): a lost packet is
not sent, a reordered one is sent after its successor, a duplicated one is sent twice. The
first and last ``protect`` packets are never touched, so the timeline's ends are well defined.
Every decision is recorded in :class:`SenderStats` (``dropped`` lists ``(seq, timestamp,
frames)``), which is what the tests compare the recording against.

SMPTE ST 2022-7: with ``redundant_addr``/``redundant_port`` the same packets also go to a
second destination (its own socket, ``redundant_interface``), ``redundant_delay_ms`` later.
``loss_primary`` / ``loss_secondary`` drop packets on one leg only, independently
(``loss_burst=1``) or in bursts of ``loss_burst`` packets on average; ``drop(path, k)`` (a
constructor argument) decides per leg and packet index instead, for exact test patterns.
``dropped_paths`` records each leg's drops.

RTP timestamps follow AES67's media clock rule from the system clock (assumed PTP-disciplined):
``ts = (samples since the PTP epoch + mediaclk_offset) mod 2**32`` (``first_ts`` overrides it);
the SDP announces ``a=ts-refclk`` and ``a=mediaclk:direct=<offset>``.
"""

from __future__ import annotations

import errno
import os
import random
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from . import rtp
from .payload import PayloadFormat, encode

if TYPE_CHECKING:
    from .sap import SAPAnnouncer

FULL = 2147483647.0


@dataclass
class SenderConfig:
    dest_addr: str = "239.69.1.1"
    port: int = 5004
    payload: str = "L24"
    channels: int = 2
    sample_rate: int = 48000
    ptime_us: int = 1000
    program: str = "tone"
    payload_type: int = 96
    ssrc: int | None = None
    seconds: float | None = None
    loss: float = 0.0
    reorder: float = 0.0
    duplicate: float = 0.0
    seed: int | None = None
    protect: int = 5
    interface: str | None = None
    ttl: int = 1
    sap: bool = False
    sap_interval: float = 5.0
    sap_addr: str = "239.255.255.255"
    sap_port: int = 9875
    session_name: str = "aimixer test sender"
    first_seq: int | None = None
    first_ts: int | None = None
    redundant_addr: str | None = None
    redundant_port: int | None = None
    redundant_interface: str | None = None
    redundant_delay_ms: float = 0.0
    loss_primary: float = 0.0
    loss_secondary: float = 0.0
    loss_burst: float = 1.0
    mediaclk_offset: int = 0
    ts_refclk: str = "localmac=00-00-00-00-00-00"
    channel_names: list[str] | None = None

    @property
    def redundant_dest(self) -> tuple[str, int] | None:
        """The ST 2022-7 secondary leg's ``(addr, port)``, or ``None``."""
        if self.redundant_addr is None or self.redundant_port is None:
            return None
        return self.redundant_addr, int(self.redundant_port)


@dataclass
class SenderStats:
    packets: int = 0  # timeline packets generated
    sent: int = 0  # datagrams sent
    dropped: list[tuple[int, int, int]] = field(default_factory=list)
    reordered: int = 0
    duplicated: int = 0
    frames: int = 0  # timeline length in frames
    ssrc: int = 0
    first_seq: int = 0
    first_ts: int = 0
    #: per ST 2022-7 leg: ``(seq, timestamp, frames)`` of the packets that leg did not send
    dropped_paths: list[list[tuple[int, int, int]]] = field(default_factory=lambda: [[], []])
    #: absolute UTC sample index (media clock) of the first sample, when stamped from the clock
    first_sample: int | None = None


class Program:
    """Endless (or file-limited) int32 left-justified audio, read in blocks."""

    def __init__(self, name: str, sample_rate: int, channels: int, *, seed: int | None = None) -> None:
        self.name = name
        self.rate = sample_rate
        self.channels = channels
        self.pos = 0
        self.rng = np.random.default_rng(seed)
        self._data: np.ndarray | None = None
        self._loop = True
        self._pink = np.zeros(7)
        if name == "speech":
            self._data = _speech(sample_rate)
        elif name not in ("tone", "pink", "music"):
            self._data = _read_file(name, sample_rate, channels)
            self._loop = False

    @property
    def total_frames(self) -> int | None:
        return None if self._loop or self._data is None else len(self._data)

    def read(self, n: int) -> np.ndarray | None:
        """Next ``n`` frames as int32 (frames, channels); ``None`` at the end of a file program."""
        if self._data is not None:
            d = self._data
            if not self._loop:
                if self.pos >= len(d):
                    return None
                out = d[self.pos : self.pos + n]
                self.pos += len(out)
                return _fit_channels(out, self.channels)
            idx = (self.pos + np.arange(n)) % len(d)
            self.pos += n
            return _fit_channels(d[idx], self.channels)
        t = (self.pos + np.arange(n)) / self.rate
        self.pos += n
        if self.name == "tone":
            x = 10 ** (-18 / 20) * np.sin(2 * np.pi * 997.0 * t)
        elif self.name == "pink":
            x = self._pink_block(n)
        else:
            x = _music(t)
        x = np.clip(x, -1.0, 1.0)
        mono = np.round(x * 8388607.0).astype(np.int32) << 8
        return np.repeat(mono[:, None], self.channels, axis=1)

    def _pink_block(self, n: int) -> np.ndarray:
        # Paul Kellet's refined pink filter, state kept across blocks
        w = self.rng.standard_normal(n) * 0.05
        b = self._pink
        out = np.empty(n)
        for i in range(n):  # small blocks only (one packet), fine for a test sender
            wi = w[i]
            b[0] = 0.99886 * b[0] + wi * 0.0555179
            b[1] = 0.99332 * b[1] + wi * 0.0750759
            b[2] = 0.96900 * b[2] + wi * 0.1538520
            b[3] = 0.86650 * b[3] + wi * 0.3104856
            b[4] = 0.55000 * b[4] + wi * 0.5329522
            b[5] = -0.7616 * b[5] - wi * 0.0168980
            out[i] = (b[0] + b[1] + b[2] + b[3] + b[4] + b[5] + b[6] + wi * 0.5362) * 0.5
            b[6] = wi * 0.115926
        return out


def _fit_channels(x: np.ndarray, channels: int) -> np.ndarray:
    if x.shape[1] == channels:
        return x
    idx = np.arange(channels) % x.shape[1]
    return x[:, idx]


def _read_file(path: str, rate: int, channels: int) -> np.ndarray:
    import soundfile as sf

    if not os.path.isfile(path):
        raise ValueError(f"program {path!r} is not tone, pink, speech, music or an existing audio file")
    data, sr = sf.read(path, dtype="int32", always_2d=True)
    if sr != rate:
        raise ValueError(f"program file {path} is {sr} Hz, the sender runs at {rate} Hz")
    return np.asarray(data, dtype=np.int32)


def _speech(rate: int) -> np.ndarray:
    text = (
        "This is the AI Mixer test sender. Studio one is on air. "
        "The recorder captures this stream into the archive, one file per hour."
    )
    exe = shutil.which("espeak-ng")
    if exe:
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "s.wav")
            try:
                subprocess.run([exe, "-w", p, text], check=True, capture_output=True, timeout=30)
                import soundfile as sf

                x, sr = sf.read(p, dtype="float64", always_2d=True)
                x = x[:, 0]
                n = int(len(x) * rate / sr)
                x = np.interp(np.arange(n) * sr / rate, np.arange(len(x)), x)
                x = np.concatenate([x, np.zeros(rate // 2)]) * 0.7
                return (np.round(np.clip(x, -1, 1) * 8388607.0).astype(np.int32) << 8)[:, None]
            except (OSError, subprocess.SubprocessError, RuntimeError):
                pass
    # fallback: vowel-like formant bursts
    t = np.arange(int(rate * 4)) / rate
    f0 = 120 + 20 * np.sin(2 * np.pi * 0.5 * t)
    ph = 2 * np.pi * np.cumsum(f0) / rate
    x = sum(np.sin(k * ph) / k for k in range(1, 12))
    env = (np.sin(2 * np.pi * 3 * t) > 0).astype(float) * 0.2
    return (np.round(np.clip(x * env, -1, 1) * 8388607.0).astype(np.int32) << 8)[:, None]


def _music(t: np.ndarray) -> np.ndarray:
    chords = [
        (261.63, 329.63, 392.0),
        (220.0, 261.63, 329.63),
        (174.61, 220.0, 261.63),
        (196.0, 246.94, 293.66),
    ]
    idx = (t // 2).astype(int) % len(chords)
    x = np.zeros_like(t)
    for j in range(3):
        f = np.array([c[j] for c in chords])[idx]
        x += np.sin(2 * np.pi * f * t) / 6
    beat = np.exp(-((t % 0.5) * 8))
    x += 0.15 * beat * np.sin(2 * np.pi * 55 * t)
    return x * 0.8


class Sender:
    """Send one stream. ``run()`` blocks; ``start()`` runs it in a thread; ``stop()`` ends it."""

    def __init__(self, config: SenderConfig, *, drop: Callable[[int, int], bool] | None = None) -> None:
        c = config
        self.config = c
        self.drop = drop
        self.fmt = PayloadFormat(c.payload, c.sample_rate, c.channels, 0, None, c.ptime_us)
        for name, p in (
            ("loss", c.loss),
            ("reorder", c.reorder),
            ("duplicate", c.duplicate),
            ("loss_primary", c.loss_primary),
            ("loss_secondary", c.loss_secondary),
        ):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name}={p} is out of range [0, 1]")
        if not 1.0 <= c.loss_burst <= 10000:
            raise ValueError(f"loss_burst={c.loss_burst} is out of range [1, 10000]")
        if not 0.0 <= c.redundant_delay_ms <= 1000:
            raise ValueError(f"redundant_delay_ms={c.redundant_delay_ms} is out of range [0, 1000]")
        if not 0 <= int(c.mediaclk_offset) <= 0xFFFFFFFF:
            raise ValueError(f"mediaclk_offset={c.mediaclk_offset} is out of range [0, 4294967295]")
        if len(c.ts_refclk) > 200 or any(ch in c.ts_refclk for ch in "\r\n"):
            raise ValueError("ts_refclk must be one line of at most 200 characters")
        if (c.redundant_addr is None) != (c.redundant_port is None):
            raise ValueError("redundant_addr and redundant_port go together")
        self.rng = random.Random(c.seed)
        self.ssrc = c.ssrc if c.ssrc is not None else self.rng.getrandbits(32)
        self.program = Program(c.program, c.sample_rate, c.channels, seed=c.seed)
        self.stats = SenderStats(ssrc=self.ssrc)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.announcer: SAPAnnouncer | None = None
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, c.ttl)
        self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
        if c.interface:
            self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(c.interface))
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        except OSError:
            pass
        self.sock2: socket.socket | None = None
        if c.redundant_addr is not None:
            self.sock2 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock2.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, c.ttl)
            self.sock2.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
            iface = c.redundant_interface or c.interface
            if iface:
                self.sock2.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(iface))
        self._burst = [0, 0]

    def sdp(self) -> str:
        from .sap import make_sdp

        src = self.config.interface or _local_ip()
        return make_sdp(
            session_name=self.config.session_name,
            origin_addr=src,
            dest_addr=self.config.dest_addr,
            port=self.config.port,
            payload=self.config.payload,
            sample_rate=self.config.sample_rate,
            channels=self.config.channels,
            payload_type=self.config.payload_type,
            ptime_us=self.config.ptime_us,
            ttl=self.config.ttl,
            session_id=self.ssrc,
            channel_names=self.config.channel_names,
            mediaclk_offset=self.config.mediaclk_offset,
            ts_refclk=self.config.ts_refclk,
            redundant=self.config.redundant_dest,
        )

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="rtp-sender", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    _route_ok = False

    def _send_first(self, pkt: bytes, dest: tuple[str, int], sock: socket.socket | None = None) -> int:
        """First datagram: without a multicast route (isolated host), fall back to loopback."""
        sock = sock or self.sock
        try:
            n = sock.sendto(pkt, dest)
        except OSError as exc:
            if self.config.interface or exc.errno not in (
                errno.ENETUNREACH,
                errno.ENODEV,
                errno.EHOSTUNREACH,
            ):
                raise
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
            n = sock.sendto(pkt, dest)
        if sock is self.sock:
            self._route_ok = True
        return n

    def _leg_drops(self, k: int, protected: bool) -> tuple[bool, bool]:
        """Whether the primary / secondary leg drops packet ``k`` (never a protected one)."""
        if protected or self.sock2 is None:
            return False, False
        if self.drop is not None:
            return bool(self.drop(0, k)), bool(self.drop(1, k))
        c = self.config
        out = []
        for i, p in enumerate((c.loss_primary, c.loss_secondary)):
            if self._burst[i] > 0:
                self._burst[i] -= 1
                out.append(True)
            elif p > 0 and self.rng.random() < p / c.loss_burst:
                # burst lengths are geometric with mean loss_burst (1 = independent losses)
                length = 1
                while c.loss_burst > 1 and self.rng.random() < 1 - 1 / c.loss_burst:
                    length += 1
                self._burst[i] = length - 1
                out.append(True)
            else:
                out.append(False)
        return out[0], out[1]

    def run(self) -> SenderStats:
        c = self.config
        st = self.stats
        if c.sap:
            from .sap import SAPAnnouncer

            self.announcer = announcer = SAPAnnouncer(
                self.sdp(),
                interval=c.sap_interval,
                interface=c.interface,
                addr=c.sap_addr,
                port=c.sap_port,
                ttl=c.ttl,
            )
            announcer.start()
        try:
            self._send_loop()
        finally:
            if self.announcer is not None:
                self.announcer.stop()
            self.sock.close()
            if self.sock2 is not None:
                self.sock2.close()
        return st

    def _send_loop(self) -> None:
        c = self.config
        st = self.stats
        fpp = self.fmt.frames_per_packet
        seq = c.first_seq if c.first_seq is not None else self.rng.getrandbits(16)
        if c.first_ts is not None:
            ts = c.first_ts
        else:  # AES67: the RTP timestamp is the media clock (system clock, PTP timescale) + offset
            from .mediaclock import MediaClock

            mclk = MediaClock(c.sample_rate, int(c.mediaclk_offset))
            st.first_sample = mclk.now_index()
            ts = mclk.timestamp(st.first_sample)
        st.first_seq, st.first_ts = seq, ts
        total = None
        if c.seconds is not None:
            total = int(round(c.seconds * c.sample_rate / fpp))
        pf = self.program.total_frames
        if pf is not None:
            n_file = -(-pf // fpp)
            total = n_file if total is None else min(total, n_file)
        dest = (c.dest_addr, c.port)
        send: Callable[[bytes, tuple[str, int]], int] = self._send_first
        held: bytes | None = None
        held_legs = (False, False)
        dest2 = c.redundant_dest
        sock2 = self.sock2
        delay2 = c.redundant_delay_ms / 1000.0
        pending2: deque[tuple[float, bytes]] = deque()
        first2 = [True]

        def send2(pkt: bytes) -> None:
            assert sock2 is not None and dest2 is not None  # called only with a redundant leg
            if first2[0]:
                first2[0] = False
                self._send_first(pkt, dest2, sock2)
            else:
                sock2.sendto(pkt, dest2)

        def flush2(until: float) -> None:
            while pending2 and pending2[0][0] <= until:
                send2(pending2.popleft()[1])

        def emit(pkt: bytes, legs: tuple[bool, bool]) -> None:
            if not legs[0]:
                send(pkt, dest)
            if sock2 is not None and not legs[1]:
                if delay2:  # the skew is relative to the schedule, also when catching up
                    pending2.append((due + delay2, pkt))
                else:
                    send2(pkt)

        period = fpp / c.sample_rate
        t_start = time.perf_counter()
        due = t_start
        k = 0
        while not self._stop.is_set() and (total is None or k < total):
            block = self.program.read(fpp)
            if block is None or len(block) == 0:
                break
            n = len(block)
            pkt = rtp.build(
                encode(block, c.payload),
                payload_type=c.payload_type,
                sequence=seq,
                timestamp=ts,
                ssrc=self.ssrc,
            )
            st.packets += 1
            st.frames += n
            protected = k < c.protect or (total is not None and k >= total - c.protect)
            due = t_start + k * period
            delay = due - time.perf_counter()
            if delay > 0.0005:
                if pending2:
                    flush2(due)
                    delay = due - time.perf_counter()
                if delay > 0.0005:
                    time.sleep(delay)
            if pending2:
                flush2(time.perf_counter())
            legs = self._leg_drops(k, protected)
            for i in (0, 1):
                if legs[i]:
                    st.dropped_paths[i].append((seq, ts, n))
            r = self.rng.random() if not protected else 1.0
            if r < c.loss:
                st.dropped.append((seq, ts, n))
            else:
                r2 = self.rng.random() if not protected else 1.0
                if held is None and r2 < c.reorder and (total is None or k < total - c.protect - 1):
                    held, held_legs = pkt, legs
                    st.reordered += 1
                else:
                    emit(pkt, legs)
                    st.sent += 1
                    if held is not None:
                        emit(held, held_legs)
                        st.sent += 1
                        held = None
                    if not protected and self.rng.random() < c.duplicate:
                        emit(pkt, legs)
                        st.sent += 1
                        st.duplicated += 1
            send = self.sock.sendto if self._route_ok else send
            seq = (seq + 1) & 0xFFFF
            ts = (ts + n) & 0xFFFFFFFF
            k += 1
        if held is not None:
            emit(held, held_legs)
            st.sent += 1
        if pending2:
            flush2(float("inf"))


def _local_ip() -> str:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.1", 9))
        return str(s.getsockname()[0])
    except OSError:
        return "127.0.0.1"
    finally:
        s.close()
