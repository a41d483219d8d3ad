"""Recorder capacity: N concurrent stereo L24 1 ms AES67 streams on loopback multicast.

Senders run in a separate process (pre-built packets, one ``sendto`` per packet, paced every
1 ms). This process runs N :class:`origin.recorder.Recorder` instances that share one receive
thread (epoll selector) and each write a 24-bit WAV. CPU is ``time.process_time()`` of this
process (all its threads) from the first packet until every packet was processed ("drain" is
how long that took after the sender finished), so the sender's cost is excluded.

Reported: for each N, packets lost (RFC 3550 count over all recorders), frames written vs
sent, the drain time, CPU % of one core in total and per stream; then the largest N with
zero loss and no backlog (drain < 0.25 s: the receiver kept up in real time).
Audyn's figure is its documented ceiling (6 recorders); it cannot run here, so the ratio is
ours / 6. Targets: >= 32 streams with zero loss, <= 2 % of one core per stream.

``python -m bench.bench_recorder [--seconds S] [--counts 8,16,32,48,64]``

``--redundant``: the same with SMPTE ST 2022-7 on: every stream on two groups (two legs), each
leg losing 1 % of its packets independently (seeded), every recorder merging its two legs.
Reported per N: merged loss, the joint drops (packets both legs lost: no merge can recover
those, ~0.01 %), the *excess* (merged loss beyond the joint drops: what the merge failed to
recover), CPU; then the largest N with zero excess and no backlog, and the CPU per stream.

``--wide``: one 64-channel L24 stream at 96 kHz in 125 us packets (12 frames, 2316-byte
datagrams, 8000 packets/s; ST 2110-30's most demanding packet time at the highest channel count
AES67 allows): loss, drain and CPU.

``--loudness N`` measures the added CPU of the per-second loudness log (EBU R128 meter + true
peak + the JSON line per second): N streams with the log off and on, alternating, ``--repeat``
times each; the difference per stream is printed (target <= 0.5 % of one core per stream).
Beside it, the logger alone (:func:`logger_cpu`): the CPU time of ``LoudnessLogger.push`` fed the
senders' stereo L24 tone in 1 ms packets, as the engine feeds it, per second of audio (the best
of ``--repeat`` runs; free of the receive path's noise).

``python -m bench.bench_recorder [--seconds S] [--counts 8,16,32,48,64] [--loudness N --repeat R]``
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import struct
import subprocess
import sys
import tempfile
import time

from bench._proc import cpu_seconds

AUDYN_CEILING = 6
TARGET_STREAMS = 32
TARGET_CPU_PCT = 2.0


def _sender(n: int, groups_port: str, seconds: float) -> None:
    """Child process: send n streams, 1 ms packets of 48 stereo L24 frames, paced in real time."""
    import numpy as np

    from origin.recorder.payload import encode

    prefix, port = groups_port.rsplit(":", 1)
    port = int(port)
    dests = [(f"{prefix}.{i + 1}", port) for i in range(n)]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    t = np.arange(48000) / 48000
    tone = np.round(0.25 * np.sin(2 * np.pi * 997 * t) * 8388607).astype(np.int32) << 8
    payloads = [encode(np.repeat(tone[k * 48 : (k + 1) * 48, None], 2, axis=1), "L24") for k in range(1000)]
    hdr = struct.Struct("!BBHII")
    buf = bytearray(12 + 288)
    ssrcs = [random.getrandbits(32) for _ in range(n)]
    total = int(seconds * 1000)
    t0 = time.perf_counter() + 0.05
    sendto = s.sendto
    for k in range(total):
        due = t0 + k * 0.001
        d = due - time.perf_counter()
        if d > 0.0002:
            time.sleep(d)
        buf[12:] = payloads[k % 1000]
        for i in range(n):
            hdr.pack_into(buf, 0, 0x80, 96, k & 0xFFFF, (k * 48) & 0xFFFFFFFF, ssrcs[i])
            sendto(buf, dests[i])
    s.close()


def _sender_spec(spec: str) -> None:
    """Child process for --redundant / --wide: streams described by a JSON spec."""
    import json

    import numpy as np

    from origin.recorder.payload import encode

    sp = json.loads(spec)
    n, port, ch, rate, fpp = sp["n"], sp["port"], sp["channels"], sp["rate"], sp["fpp"]
    legs = [[(f"{prefix}.{i + 1}", port) for i in range(n)] for prefix in sp["prefixes"]]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    x = np.random.default_rng(1).integers(-(2**23), 2**23, size=(fpp * 100, ch)).astype(np.int32) << 8
    payloads = [encode(x[k * fpp : (k + 1) * fpp], "L24") for k in range(100)]
    hdr = struct.Struct("!BBHII")
    buf = bytearray(12 + len(payloads[0]))
    loss = sp["loss"]
    rng = random.Random(sp["seed"])
    period = fpp / rate
    total = int(sp["seconds"] / period)
    t0 = time.perf_counter() + 0.05
    sendto = s.sendto
    for k in range(total):
        d = t0 + k * period - time.perf_counter()
        if d > 0.0002:
            time.sleep(d)
        buf[12:] = payloads[k % 100]
        for i in range(n):
            hdr.pack_into(buf, 0, 0x80, 96, k & 0xFFFF, (k * fpp) & 0xFFFFFFFF, 0x10000 + i)
            for leg in legs:
                if loss and rng.random() < loss:
                    continue
                sendto(buf, leg[i])
    s.close()


def joint_drops(
    n: int, seconds: float, loss: float, seed: int, legs: int = 2, fpp: int = 48, rate: int = 48000
):
    """The packets every leg dropped, per stream (the sender's seeded decisions replayed)."""
    rng = random.Random(seed)
    out = [0] * n
    for _k in range(int(seconds / (fpp / rate))):
        for i in range(n):
            if all([rng.random() < loss for _ in range(legs)]):
                out[i] += 1
    return out


def run_spec(
    n: int,
    seconds: float,
    *,
    redundant: bool,
    channels: int = 2,
    rate: int = 48000,
    ptime_us: int = 1000,
    loss: float = 0.0,
    seed: int = 1,
) -> dict:
    """N recorders (two legs each when ``redundant``) fed by a ``_sender_spec`` child."""
    import json

    from origin.recorder import Recorder, RecorderConfig
    from origin.recorder.receiver import ReceiverHub

    a = random.randint(70, 84)
    prefixes = [f"239.{a}.{random.randint(1, 254)}"] + (
        [f"239.{a + 15}.{random.randint(1, 254)}"] if redundant else []
    )
    port = random.randint(30000, 60000)
    fpp = rate * ptime_us // 1_000_000
    hub = ReceiverHub()
    with tempfile.TemporaryDirectory() as d:
        recs = []
        for i in range(n):
            cfg = RecorderConfig(
                source_addr=f"{prefixes[0]}.{i + 1}",
                port=port,
                interface="127.0.0.1",
                redundant_addr=f"{prefixes[1]}.{i + 1}" if redundant else None,
                redundant_port=port if redundant else None,
                output=os.path.join(d, f"r{i}.wav"),
                channels=channels,
                sample_rate=rate,
                ptime_us=ptime_us,
            )
            r = Recorder(cfg, hub=hub)
            r.start()
            recs.append(r)
        time.sleep(0.2)
        spec = {
            "n": n,
            "port": port,
            "channels": channels,
            "rate": rate,
            "fpp": fpp,
            "prefixes": prefixes,
            "loss": loss,
            "seed": seed,
            "seconds": seconds,
        }
        child = subprocess.Popen([sys.executable, "-m", "bench.bench_recorder", "--_spec", json.dumps(spec)])
        while all(r.jitter.received == 0 for r in recs) and child.poll() is None:
            time.sleep(0.005)
        c0, w0 = time.process_time(), time.perf_counter()
        child.wait()
        w_sender = time.perf_counter()
        want = int(seconds / (fpp / rate))
        end = time.monotonic() + 3.0
        while time.monotonic() < end and any(r.jitter.received + r.jitter.lost < want for r in recs):
            time.sleep(0.02)
        c1, w1 = time.process_time(), time.perf_counter()
        time.sleep(0.7 if redundant else 0.1)  # the redundant idle flush waits 0.5 s
        stats = [r.stop() for r in recs]
        hub.close()
    joint = sum(joint_drops(n, seconds, loss, seed, len(prefixes), fpp, rate)) if loss else 0
    lost = sum(s["lost"] for s in stats)
    cpu = (c1 - c0) / max(1e-9, (w1 - w0)) * 100
    return {
        "n": n,
        "lost": lost,
        "joint": joint,
        "excess": lost - joint,
        "short_frames": sum(max(0, want * fpp - s["frames_written"]) for s in stats),
        "cpu_pct": cpu,
        "cpu_per_stream": cpu / n,
        "drain_s": w1 - w_sender,
        "errors": sum(len(s["errors"]) for s in stats),
    }


def main_redundant(counts: list[int], seconds: float) -> None:
    print(
        f"ST 2022-7: stereo L24 1 ms, two legs per stream, 1 % independent loss per leg, {seconds:g} s per run"
    )
    print(
        f"{'streams':>8} {'merged lost':>12} {'joint':>6} {'excess':>7} {'drain s':>8} {'cpu %':>7} {'cpu %/stream':>13}"
    )
    best, per_stream = 0, None
    for n in counts:
        r = run_spec(n, seconds, redundant=True, loss=0.01, seed=n)
        ok = r["excess"] == 0 and r["errors"] == 0 and r["drain_s"] < 0.25
        print(
            f"{n:>8} {r['lost']:>12} {r['joint']:>6} {r['excess']:>7} {r['drain_s']:>8.2f} {r['cpu_pct']:>7.1f} "
            f"{r['cpu_per_stream']:>13.2f}{'' if ok else '   (excess loss or backlog)'}",
            flush=True,
        )
        if ok and n >= best:
            best, per_stream = n, r["cpu_per_stream"]
    print(
        f"redundant: {best} streams (two legs each) with zero merged loss beyond the joint drops; CPU "
        f"{per_stream if per_stream is not None else float('nan'):.2f} % of one core per stream"
    )


def main_wide(seconds: float) -> None:
    r = run_spec(1, seconds, redundant=False, channels=64, rate=96000, ptime_us=125)
    print(
        f"64 ch L24 @ 96 kHz, 125 us packets (8000 packets/s, 2316-byte datagrams), {seconds:g} s: lost {r['lost']}, "
        f"short {r['short_frames']} frames, drain {r['drain_s']:.2f} s, CPU {r['cpu_pct']:.1f} % of one core"
    )


def run_once(n: int, seconds: float, loudness_log: bool = True) -> dict:
    from origin.recorder import Recorder, RecorderConfig
    from origin.recorder.receiver import ReceiverHub

    prefix = f"239.{random.randint(70, 99)}.{random.randint(1, 254)}"
    port = random.randint(30000, 60000)
    hub = ReceiverHub()
    with tempfile.TemporaryDirectory() as d:
        recs = []
        for i in range(n):
            cfg = RecorderConfig(
                source_addr=f"{prefix}.{i + 1}",
                port=port,
                interface="127.0.0.1",
                output=os.path.join(d, f"r{i}.wav"),
                sync_seconds=10,
                loudness_log=loudness_log,
            )
            r = Recorder(cfg, hub=hub)
            r.start()
            recs.append(r)
        time.sleep(0.2)
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.bench_recorder",
                "--_sender",
                str(n),
                f"{prefix}:{port}",
                str(seconds),
            ]
        )
        # measure only while the streams flow
        while all(r.jitter.received == 0 for r in recs) and child.poll() is None:
            time.sleep(0.005)
        c0, w0 = time.process_time(), time.perf_counter()
        child.wait()
        w_sender = time.perf_counter()
        want = int(seconds * 1000)
        end = time.monotonic() + 3.0  # let the receive thread drain its backlog
        while time.monotonic() < end and any(r.jitter.received + r.jitter.lost < want for r in recs):
            time.sleep(0.02)
        c1, w1 = time.process_time(), time.perf_counter()
        backlog = w1 - w_sender
        time.sleep(0.1)
        stats = [r.stop() for r in recs]
        hub.close()
    expected_frames = int(seconds * 1000) * 48
    lost = sum(s["lost"] for s in stats)
    short = sum(max(0, expected_frames - s["frames_written"]) for s in stats)
    cpu = (c1 - c0) / max(1e-9, (w1 - w0)) * 100
    return {
        "n": n,
        "lost": lost,
        "short_frames": short,
        "cpu_pct": cpu,
        "cpu_per_stream": cpu / n,
        "late": sum(s["late"] for s in stats),
        "errors": sum(len(s["errors"]) for s in stats),
        "drain_s": backlog,
    }


def logger_cpu(seconds: float, repeat: int) -> float:
    """% of one core that :class:`origin.recorder.loudness_log.LoudnessLogger` spends on one
    stereo stream: the senders' tone (L24, left-justified in int32) in 48-frame packets, written
    to a log in a temporary directory; the best of ``repeat`` runs."""
    import numpy as np

    from origin.recorder.loudness_log import LoudnessLogger

    t = np.arange(48000) / 48000
    tone = np.round(0.25 * np.sin(2 * np.pi * 997 * t) * 8388607).astype(np.int32) << 8
    packets = [np.repeat(tone[k * 48 : (k + 1) * 48, None], 2, axis=1) for k in range(1000)]
    total = max(1, int(seconds * 1000))
    best = float("inf")
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as d:
            log = LoudnessLogger(2, 48000)
            log.file_opened(os.path.join(d, "r.wav"), 0, time.time())
            c0 = time.process_time()
            for k in range(total):
                log.push(packets[k % 1000], 48 * k)
            best = min(best, time.process_time() - c0)
            log.close()
    return best / (total / 1000) * 100


def run_children(n: int, seconds: float) -> dict:
    """The studio deployment: one ``aimixer record --levels`` child process per stream."""
    prefix = f"239.{random.randint(70, 99)}.{random.randint(1, 254)}"
    port = random.randint(30000, 60000)
    with tempfile.TemporaryDirectory() as d:
        kids = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "origin.cli",
                    "record",
                    "--source",
                    f"{prefix}.{i + 1}:{port}",
                    "--interface",
                    "127.0.0.1",
                    "--output",
                    os.path.join(d, f"r{i}.wav"),
                    "--levels",
                    "--json-stats",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            for i in range(n)
        ]
        import threading

        outs: list[list[str]] = [[] for _ in kids]
        readers = [
            threading.Thread(target=lambda k=k, o=o: o.extend(k.stdout), daemon=True)
            for k, o in zip(kids, outs, strict=True)
        ]
        for t in readers:
            t.start()
        time.sleep(2.0)  # interpreter start-up is not part of the measurement
        c0 = [cpu_seconds(k.pid) for k in kids]
        w0 = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.bench_recorder",
                "--_sender",
                str(n),
                f"{prefix}:{port}",
                str(seconds),
            ],
            check=True,
        )
        time.sleep(0.3)
        c1 = [cpu_seconds(k.pid) for k in kids]
        w1 = time.perf_counter()
        for k in kids:
            k.terminate()
        for k in kids:
            k.wait(10)
        for t in readers:
            t.join(5)
    import json

    finals = [json.loads(o[-1]) for o in outs if o]
    lost = sum(f.get("lost", 0) for f in finals) + (n - len(finals))
    short = sum(max(0, int(seconds * 1000) * 48 - f.get("frames_written", 0)) for f in finals)
    cpu = sum(b - a for a, b in zip(c0, c1, strict=True)) / (w1 - w0) * 100
    return {"n": n, "lost": lost, "short_frames": short, "cpu_pct": cpu, "cpu_per_stream": cpu / n}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench_recorder")
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--counts", default="8,16,32,48,64")
    p.add_argument("--children", type=int, default=4, help="also measure N record child processes (0 = skip)")
    p.add_argument(
        "--redundant", action="store_true", help="ST 2022-7: two legs per stream, 1 %% loss per leg"
    )
    p.add_argument("--wide", action="store_true", help="one 64-channel 96 kHz stream in 125 us packets")
    p.add_argument("--loudness", type=int, default=0, help="streams for the loudness-log CPU comparison")
    p.add_argument("--repeat", type=int, default=3, help="runs per setting of the comparison")
    p.add_argument(
        "--loudness-alone",
        action="store_true",
        help="only the logger's CPU per stereo stream (see logger_cpu)",
    )
    p.add_argument("--_sender", nargs=3, help=argparse.SUPPRESS)
    p.add_argument("--_spec", help=argparse.SUPPRESS)
    a = p.parse_args(argv if argv is not None else sys.argv[1:])
    if a._sender:
        _sender(int(a._sender[0]), a._sender[1], float(a._sender[2]))
        return 0
    if a._spec:
        _sender_spec(a._spec)
        return 0
    if a.loudness:
        off, on = [], []
        for _ in range(a.repeat):
            off.append(run_once(a.loudness, a.seconds, loudness_log=False)["cpu_per_stream"])
            on.append(run_once(a.loudness, a.seconds, loudness_log=True)["cpu_per_stream"])
        off.sort()
        on.sort()
        med = lambda v: v[len(v) // 2]  # noqa: E731
        print(
            f"loudness log, {a.loudness} stereo streams, {a.repeat} x {a.seconds:g} s each: CPU per stream "
            f"off {med(off):.2f} % (runs {', '.join(f'{v:.2f}' for v in off)}), "
            f"on {med(on):.2f} % (runs {', '.join(f'{v:.2f}' for v in on)}); "
            f"added {med(on) - med(off):.2f} % of one core per stream (target <= 0.5 %)"
        )
        alone = logger_cpu(max(a.seconds, 10.0), max(a.repeat, 3))
        print(
            f"the logger alone, one stereo stream in 1 ms packets: {alone:.2f} % of one core (best of runs)"
        )
        return 0
    if a.loudness_alone:
        print(
            f"the loudness logger alone, one stereo stream in 1 ms packets: {logger_cpu(a.seconds, a.repeat):.3f} % of one core"
        )
        return 0
    counts = [int(x) for x in a.counts.split(",")]
    if a.redundant or a.wide:
        if a.redundant:
            main_redundant(counts, a.seconds)
        if a.wide:
            main_wide(a.seconds)
        return 0
    print(f"recorder capacity: stereo L24, 1 ms packets, {a.seconds:g} s per run, loopback multicast")
    print(f"{'streams':>8} {'lost':>6} {'short':>7} {'drain s':>8} {'cpu %':>7} {'cpu %/stream':>13}")
    best = 0
    per_stream = None
    for n in counts:
        r = run_once(n, a.seconds)
        # a receive backlog that is still draining after the sender stopped is not sustainable
        ok = r["lost"] == 0 and r["short_frames"] == 0 and r["errors"] == 0 and r["drain_s"] < 0.25
        print(
            f"{n:>8} {r['lost']:>6} {r['short_frames']:>7} {r['drain_s']:>8.2f} {r['cpu_pct']:>7.1f} {r['cpu_per_stream']:>13.2f}"
            f"{'' if ok else '   (loss or backlog)'}",
            flush=True,
        )
        if ok:
            best = max(best, n)
            if n == best:
                per_stream = r["cpu_per_stream"]
    print(
        f"ours: {best} streams with zero loss; CPU {per_stream if per_stream is not None else float('nan'):.2f} % "
        f"of one core per stream (target >= {TARGET_STREAMS} streams, <= {TARGET_CPU_PCT:g} %)"
    )
    if a.children:
        r = run_children(a.children, a.seconds)
        print(
            f"one 'aimixer record --levels' child process per stream ({a.children} streams): lost {r['lost']}, "
            f"short {r['short_frames']} frames, CPU {r['cpu_per_stream']:.2f} % of one core per stream"
        )
    print(
        f"peer (Audyn, documented ceiling): {AUDYN_CEILING} recorders; ratio ours/peer = {best / AUDYN_CEILING:.1f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
