"""``aimixer record``: capture one AES67/RTP stream into a file or a Rotter-style archive.

See :mod:`origin.recorder` for the ``--levels`` JSON line protocol.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
import time

from origin.recorder import protocol


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
    p.add_argument(
        "--redundant",
        metavar="ADDR:PORT",
        help="SMPTE ST 2022-7: the secondary leg of the same stream (merged by RTP sequence number)",
    )
    p.add_argument("--redundant-interface", metavar="IP", help="join the secondary leg on this interface")
    p.add_argument(
        "--redundant-source-filter", metavar="IP", help="source-specific join for the secondary leg"
    )
    p.add_argument(
        "--clock-source",
        choices=("arrival", "rtp"),
        default="arrival",
        help="sample times from packet arrival (default) or from RTP timestamps via the media clock "
        "(RFC 7273; needs a PTP-disciplined system clock)",
    )
    p.add_argument("--mediaclk-offset", type=int, help="the stream's a=mediaclk:direct= offset (default 0)")
    p.add_argument(
        "--clock-warn-ms",
        type=float,
        default=50.0,
        help="with --clock-source rtp: warn when system and media clock differ by more (default 50)",
    )
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
    p.add_argument(
        "--split",
        action="append",
        metavar="OFFSET:COUNT:PATH",
        help="also record stream channels [OFFSET, OFFSET+COUNT) into their own archive under PATH "
        "(or one file, when PATH ends in .wav/.flac/.opus); repeatable; the stream is received once",
    )
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
    p.add_argument("--flac-level", type=int, choices=range(9), metavar="0-8", help="FLAC compression level")
    vox = p.add_argument_group("voice/level-activated recording (VOX; off unless --vox-threshold-db)")
    vox.add_argument("--vox-threshold-db", type=float, help="open the gate at this level (dBFS)")
    vox.add_argument(
        "--vox-release-db", type=float, default=0.0, help="close below this level (0: threshold - 5 dB)"
    )
    vox.add_argument("--vox-detection-ms", type=int, default=100, help="level must hold this long to open")
    vox.add_argument("--vox-hangover-ms", type=int, default=2000, help="keep recording this long after")
    vox.add_argument("--vox-preroll-ms", type=int, default=500, help="audio kept from before the opening")
    vox.add_argument("--vox-level-mode", choices=("rms", "peak", "any"), default="rms")
    p.add_argument(
        "--sync-seconds", type=float, default=10.0, help="header sync + fsync interval (default 10)"
    )
    p.add_argument("--retain-hours", type=float, help="delete archive files older than this (off by default)")
    p.add_argument("--levels", action="store_true", help="print JSON lines: levels, events, stats")
    p.add_argument("--level-rate", type=float, default=20.0, help="level lines per second (default 20)")
    p.add_argument(
        "--report-socket",
        help="send the --levels JSON objects as datagrams to this Unix socket (@name: abstract) "
        "instead of stdout; keep recording when nobody listens (see origin.recorder.report)",
    )
    p.add_argument("--lock-file", help="hold an exclusive lock on this file (with our pid) while running")
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


_reporter = None


def _emit(obj: protocol.Message) -> bool:
    global _reporter
    if _reporter is None:
        from origin.recorder.report import Reporter

        _reporter = Reporter()
    return _reporter.emit(obj)


def parse_split(text: str) -> dict:
    """``"2:2:/srv/archive/prog2"`` -> ``{"channel_offset": 2, "channels": 2, "archive_root": ...}``."""
    from origin.cli import CLIError

    parts = text.split(":", 2)
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit() or not parts[2].strip():
        raise CLIError(f"--split {text[:80]!r} must be OFFSET:COUNT:PATH (e.g. 2:2:/srv/archive/prog2)")
    if len(parts[0]) > 3 or len(parts[1]) > 3:
        raise CLIError(f"--split {text[:80]!r}: offset and count are at most 3 digits")
    out: dict = {"channel_offset": int(parts[0]), "channels": int(parts[1])}
    path = parts[2]
    out["output" if path.lower().endswith((".wav", ".flac", ".opus", ".ogg")) else "archive_root"] = path
    return out


def config_from_args(args):
    from origin.recorder.engine import RecorderConfig
    from origin.recorder.vox import VoxConfig

    vox = None
    if args.vox_threshold_db is not None:
        vox = VoxConfig(
            threshold_db=args.vox_threshold_db,
            release_db=args.vox_release_db,
            detection_ms=args.vox_detection_ms,
            hangover_ms=args.vox_hangover_ms,
            preroll_ms=args.vox_preroll_ms,
            level_mode=args.vox_level_mode,
        )

    addr, port = parse_addr_port(args.source)
    raddr, rport = parse_addr_port(args.redundant, "--redundant") if args.redundant else (None, None)
    return RecorderConfig(
        source_addr=addr,
        port=port,
        redundant_addr=raddr,
        redundant_port=rport,
        redundant_interface=args.redundant_interface,
        redundant_source_filter=args.redundant_source_filter,
        clock_source=args.clock_source,
        mediaclk_offset=args.mediaclk_offset,
        clock_warn_ms=args.clock_warn_ms,
        splits=[parse_split(t) for t in args.split] if args.split else None,
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
        flac_level=args.flac_level,
        vox=vox,
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

    global _reporter
    from origin.recorder.report import LockHeld, Reporter, hold_lock

    try:
        cfg = config_from_args(args)
        rec = Recorder(cfg)
    except (RecorderConfigError, ValueError) as exc:
        raise CLIError(str(exc)) from None
    if getattr(args, "lock_file", None):
        try:
            hold_lock(args.lock_file)  # held (fd left open) until this process ends
        except LockHeld as exc:
            raise CLIError(f"another worker records this recorder: {exc}") from None
    _reporter = Reporter(getattr(args, "report_socket", None))
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
                ok = _emit(protocol.stats(rec.stats())) and ok
            if not ok:  # stdout is gone (supervisor died): finish cleanly
                break
    finally:
        final = rec.stop()
        _drain(levels_q, events_q, args.levels)
        for s, h in old.items():
            signal.signal(s, h)
    if args.levels or args.json_stats:
        _emit(protocol.final(final))
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
            ok = (
                _emit(protocol.event(str(ev.get("event")), **{k: v for k, v in ev.items() if k != "event"}))
                and ok
            )
        else:
            detail = " ".join(f"{k}={v}" for k, v in ev.items() if k not in ("event", "time"))
            print(f"aimixer record: {ev.get('event')} {detail}".rstrip(), file=sys.stderr, flush=True)
    if levels_q is not None:
        while True:
            try:
                snap = levels_q.get_nowait()
            except queue.Empty:
                break
            ok = _emit(protocol.levels(snap)) and ok
    return ok
