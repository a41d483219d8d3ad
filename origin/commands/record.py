"""``aimixer record``: capture one AES67/RTP stream into a file or a Rotter-style archive.

See :mod:`origin.recorder` for the ``--levels`` JSON line protocol.
"""

from __future__ import annotations

import json
import math
import signal
import sys
import threading
import time


def parse_addr_port(text: str, flag: str = "--source") -> tuple[str, int]:
    from origin.cli import CLIError

    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise CLIError(f"{flag} {text!r} must be ADDR:PORT (IPv4 address, port 1-65535)")
    return host, int(port)


def register(sub) -> None:
    p = sub.add_parser("record", help="record an AES67/RTP stream (L16/L24) into a crash-safe archive")
    p.add_argument(
        "--source", required=True, metavar="ADDR:PORT", help="multicast group or local unicast address"
    )
    p.add_argument("--interface", metavar="IP", help="join multicast on this interface address")
    p.add_argument("--source-filter", metavar="IP", help="source-specific multicast: accept only this sender")
    p.add_argument("--payload", choices=("L16", "L24"), default="L24")
    p.add_argument("--rate", type=int, default=48000, help="sample rate in Hz (default 48000)")
    p.add_argument("--channels", type=int, default=2, help="number of channels to record (default 2)")
    p.add_argument("--channel-offset", type=int, default=0, help="first stream channel to record (0-based)")
    p.add_argument("--stream-channels", type=int, help="channels in the stream (default offset + channels)")
    p.add_argument("--ptime-us", type=int, default=1000, help="packet time in microseconds (125-4000)")
    p.add_argument("--pt", type=int, default=96, help="RTP payload type to accept (default 96)")
    p.add_argument("--ssrc", type=lambda s: int(s, 0), help="lock to this SSRC only")
    p.add_argument("--jitter-ms", type=float, default=20.0, help="reorder buffer depth in ms (default 20)")
    p.add_argument(
        "--relock-timeout", type=float, default=1.0, help="seconds before another SSRC may take over"
    )
    p.add_argument("--channel-names", help="comma-separated names for the level lines, e.g. L,R")
    out = p.add_mutually_exclusive_group(required=True)
    out.add_argument(
        "--output", metavar="FILE", help="write one file (never overwritten: appended or suffixed)"
    )
    out.add_argument("--archive-root", metavar="DIR", help="write a rotating archive under DIR")
    p.add_argument(
        "--layout", default="dailydir", help="flat|hierarchy|combo|dailydir|accurate|<strftime pattern>"
    )
    p.add_argument("--period", type=int, default=3600, help="archive period in seconds (>= 10, default 3600)")
    p.add_argument("--clock", choices=("localtime", "utc"), default="localtime")
    p.add_argument("--name", help="archive name (Rotter's -N)")
    p.add_argument("--format", choices=("wav", "flac", "opus"), default="wav")
    p.add_argument("--bits", choices=("16", "24", "32f"), default="24")
    p.add_argument("--bitrate", type=int, default=128000, help="Opus bitrate in bit/s")
    p.add_argument(
        "--sync-seconds", type=float, default=10.0, help="header sync + fsync interval (default 10)"
    )
    p.add_argument("--retain-hours", type=float, help="delete archive files older than this (off by default)")
    p.add_argument("--levels", action="store_true", help="print JSON lines: levels, events, stats")
    p.add_argument("--level-rate", type=float, default=20.0, help="level lines per second (default 20)")
    p.add_argument(
        "--stats-interval", type=float, default=1.0, help="seconds between stats lines (default 1)"
    )
    p.add_argument("--json-stats", action="store_true", help="print the counters as JSON on exit")
    p.add_argument("--seconds", type=float, help="stop after this many seconds")
    p.add_argument("--silence-threshold-db", type=float, default=-50.0)
    p.add_argument(
        "--silence-seconds", type=float, help="raise a silence alarm after this long (off by default)"
    )
    p.add_argument("--vad", action="store_true", help="speech-aware dead-air alarm (webrtcvad)")
    p.add_argument(
        "--loudness-limit", type=float, help="alert when the short-term loudness stays above this (LUFS)"
    )
    p.add_argument(
        "--loudness-seconds", type=int, default=10, help="seconds above the limit before the alert"
    )
    p.add_argument(
        "--stream-lost-seconds",
        type=float,
        default=2.0,
        help="alert after this long without packets (default 2)",
    )
    p.add_argument("--no-loudness-log", action="store_true", help="do not write <base>.loudness.jsonl logs")
    p.set_defaults(func=run)


def _emit(obj: dict) -> bool:
    try:
        sys.stdout.write(json.dumps(obj, separators=(",", ":"), allow_nan=False) + "\n")
        sys.stdout.flush()
        return True
    except (BrokenPipeError, ValueError, OSError):
        return False


def config_from_args(args):
    from origin.recorder.engine import RecorderConfig

    addr, port = parse_addr_port(args.source)
    return RecorderConfig(
        source_addr=addr,
        port=port,
        interface=args.interface,
        source_filter=args.source_filter,
        payload=args.payload,
        sample_rate=args.rate,
        channels=args.channels,
        channel_offset=args.channel_offset,
        stream_channels=args.stream_channels,
        ptime_us=args.ptime_us,
        payload_type=args.pt,
        ssrc=args.ssrc,
        jitter_ms=args.jitter_ms,
        relock_timeout=args.relock_timeout,
        channel_names=[n.strip() for n in args.channel_names.split(",")] if args.channel_names else None,
        output=args.output,
        archive_root=args.archive_root,
        layout=args.layout,
        period=args.period,
        clock=args.clock,
        name=args.name,
        format=args.format,
        bits=args.bits,
        bitrate=args.bitrate,
        sync_seconds=args.sync_seconds,
        retain_hours=args.retain_hours,
        level_rate_hz=args.level_rate,
        silence_threshold_db=args.silence_threshold_db,
        silence_seconds=args.silence_seconds,
        vad=args.vad,
        loudness_log=not args.no_loudness_log,
        loudness_limit_lufs=args.loudness_limit,
        loudness_seconds=args.loudness_seconds,
        stream_lost_seconds=args.stream_lost_seconds,
    )


def run(args) -> int:
    """Entry point; user errors become one line on stderr and exit status 2 (also under ``python -m``)."""
    from origin.cli import CLIError

    try:
        return _run(args)
    except CLIError as exc:
        print(f"aimixer record: error: {exc}", file=sys.stderr)
        return exc.code


def _run(args) -> int:
    from origin.cli import CLIError
    from origin.recorder.engine import Recorder, RecorderConfigError
    from origin.recorder.receiver import ReceiverError

    try:
        cfg = config_from_args(args)
        rec = Recorder(cfg)
    except (RecorderConfigError, ValueError) as exc:
        raise CLIError(str(exc)) from None
    stop = threading.Event()

    def _on_signal(signum, frame):  # noqa: ARG001
        stop.set()

    old = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    if hasattr(signal, "SIGHUP"):
        old[signal.SIGHUP] = signal.signal(signal.SIGHUP, _on_signal)
    levels_q = rec.subscribe_levels() if args.levels else None
    events_q = rec.subscribe_events()
    try:
        rec.start()
    except (RecorderConfigError, ReceiverError, OSError) as exc:
        raise CLIError(str(exc)) from None
    t_end = time.monotonic() + args.seconds if args.seconds else math.inf
    next_stats = time.monotonic() + args.stats_interval
    ok = True
    try:
        while not stop.is_set() and time.monotonic() < t_end:
            stop.wait(0.05)
            ok = _drain(levels_q, events_q, args.levels) and ok
            now = time.monotonic()
            if args.levels and now >= next_stats:
                next_stats = now + args.stats_interval
                ok = _emit({"type": "stats", "time": round(time.time(), 3), **rec.stats()}) and ok
            if not ok:  # stdout is gone (supervisor died): finish cleanly
                break
    finally:
        final = rec.stop()
        _drain(levels_q, events_q, args.levels)
        for s, h in old.items():
            signal.signal(s, h)
    if args.levels or args.json_stats:
        _emit({"type": "final", "time": round(time.time(), 3), **final})
    return 1 if final.get("state") == "error" else 0


def _drain(levels_q, events_q, machine: bool) -> bool:
    import queue

    ok = True
    while True:
        try:
            ev = events_q.get_nowait()
        except queue.Empty:
            break
        if machine:
            ok = _emit({"type": "event", **ev}) and ok
        else:
            detail = " ".join(f"{k}={v}" for k, v in ev.items() if k not in ("event", "time"))
            print(f"aimixer record: {ev.get('event')} {detail}".rstrip(), file=sys.stderr, flush=True)
    if levels_q is not None:
        while True:
            try:
                snap = levels_q.get_nowait()
            except queue.Empty:
                break
            ok = _emit({"type": "levels", "time": round(time.time(), 3), "channels": snap}) and ok
    return ok
