"""``aimixer sender``: real-time paced RTP test sender (L16/L24) with SAP and fault injection."""

from __future__ import annotations

import json
import signal
import sys


def register(sub) -> None:
    p = sub.add_parser("sender", help="send a test AES67/RTP stream (tone, pink, speech, music or a file)")
    p.add_argument("--dest", required=True, metavar="ADDR:PORT", help="multicast group or unicast address")
    p.add_argument("--payload", choices=("L16", "L24"), default="L24")
    p.add_argument("--channels", type=int, default=2)
    p.add_argument("--rate", type=int, default=48000)
    p.add_argument("--ptime-us", type=int, default=1000)
    p.add_argument("--pt", type=int, default=96)
    p.add_argument("--ssrc", type=lambda s: int(s, 0))
    p.add_argument("--program", default="tone", help="tone|pink|speech|music|FILE")
    p.add_argument("--sap", action="store_true", help="announce the stream with SAP")
    p.add_argument("--sap-interval", type=float, default=5.0)
    p.add_argument("--name", default="aimixer test sender", help="SDP session name")
    p.add_argument("--interface", metavar="IP", help="send multicast via this interface address")
    p.add_argument("--ttl", type=int, default=1)
    p.add_argument("--loss", type=float, default=0.0, help="packet loss probability 0..1")
    p.add_argument("--reorder", type=float, default=0.0, help="reorder probability 0..1")
    p.add_argument("--duplicate", type=float, default=0.0, help="duplicate probability 0..1")
    p.add_argument("--seed", type=int, help="seed for the faults (reproducible runs)")
    p.add_argument(
        "--redundant-dest",
        metavar="ADDR:PORT",
        help="SMPTE ST 2022-7: send the same packets to this second destination too",
    )
    p.add_argument("--redundant-interface", metavar="IP", help="send the second leg via this interface")
    p.add_argument("--redundant-delay-ms", type=float, default=0.0, help="delay the second leg (path skew)")
    p.add_argument("--loss-primary", type=float, default=0.0, help="loss probability on the primary leg only")
    p.add_argument(
        "--loss-secondary", type=float, default=0.0, help="loss probability on the second leg only"
    )
    p.add_argument(
        "--loss-burst",
        type=float,
        default=1.0,
        help="mean burst length in packets of the per-leg losses (default 1: independent)",
    )
    p.add_argument(
        "--mediaclk-offset",
        type=int,
        default=0,
        help="RTP timestamp offset announced as a=mediaclk:direct= (timestamps follow the system clock)",
    )
    p.add_argument(
        "--ts-refclk",
        default="localmac=00-00-00-00-00-00",
        help="a=ts-refclk value for the SDP; 'ptp' asks the local ptp4l (pmc) for its grandmaster",
    )
    p.add_argument("--ptp-uds", default="/var/run/ptp4l", help="ptp4l management socket (--ts-refclk ptp)")
    p.add_argument("--ptp-domain", type=int, default=0, help="PTP domain (--ts-refclk ptp)")
    p.add_argument("--channel-names", help="comma-separated labels announced in the SDP channel order")
    p.add_argument("--seconds", type=float, help="stop after this many seconds (default: run until Ctrl-C)")
    p.add_argument("--json-stats", action="store_true", help="print what was sent (and dropped) as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    """Entry point; user errors become one line on stderr and exit status 2 (also under ``python -m``)."""
    from origin.cli import CLIError

    try:
        return _run(args)
    except CLIError as exc:
        print(f"aimixer sender: error: {exc}", file=sys.stderr)
        return exc.code


def _run(args) -> int:
    from origin.cli import CLIError
    from origin.commands.record import parse_addr_port
    from origin.recorder.payload import PayloadError
    from origin.recorder.sender import Sender, SenderConfig

    addr, port = parse_addr_port(args.dest, "--dest")
    if args.ts_refclk == "ptp":
        from origin.recorder.ptp import PTPError, ptp_status, ts_refclk

        try:
            gm = ptp_status(uds=args.ptp_uds, domain=args.ptp_domain)["grandmaster"]
        except PTPError as exc:
            raise CLIError(f"--ts-refclk ptp: {exc}") from None
        args.ts_refclk = ts_refclk(gm, args.ptp_domain)
    raddr, rport = (
        parse_addr_port(args.redundant_dest, "--redundant-dest") if args.redundant_dest else (None, None)
    )
    try:
        s = Sender(
            SenderConfig(
                dest_addr=addr,
                port=port,
                payload=args.payload,
                channels=args.channels,
                sample_rate=args.rate,
                ptime_us=args.ptime_us,
                program=args.program,
                payload_type=args.pt,
                ssrc=args.ssrc,
                seconds=args.seconds,
                loss=args.loss,
                reorder=args.reorder,
                duplicate=args.duplicate,
                seed=args.seed,
                interface=args.interface,
                ttl=args.ttl,
                sap=args.sap,
                sap_interval=args.sap_interval,
                session_name=args.name,
                redundant_addr=raddr,
                redundant_port=rport,
                redundant_interface=args.redundant_interface,
                redundant_delay_ms=args.redundant_delay_ms,
                loss_primary=args.loss_primary,
                loss_secondary=args.loss_secondary,
                loss_burst=args.loss_burst,
                mediaclk_offset=args.mediaclk_offset,
                ts_refclk=args.ts_refclk,
                channel_names=[n.strip() for n in args.channel_names.split(",")]
                if args.channel_names
                else None,
            )
        )
    except (ValueError, PayloadError, OSError, RuntimeError) as exc:
        raise CLIError(str(exc)) from None

    def _on_signal(signum, frame):  # noqa: ARG001
        s.stop()

    old = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        st = s.run()
    except OSError as exc:
        raise CLIError(f"cannot send to {args.dest}: {exc.strerror or exc}") from None
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)
    if args.json_stats:
        out = {
            "packets": st.packets,
            "sent": st.sent,
            "frames": st.frames,
            "ssrc": st.ssrc,
            "first_seq": st.first_seq,
            "first_ts": st.first_ts,
            "reordered": st.reordered,
            "duplicated": st.duplicated,
            "dropped": [list(d) for d in st.dropped],
            "dropped_paths": [[list(d) for d in leg] for leg in st.dropped_paths],
            "first_sample": st.first_sample,
        }
        sys.stdout.write(json.dumps(out) + "\n")
    return 0
