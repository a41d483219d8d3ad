"""``aimixer discover``: list SAP-announced AES67 streams."""

from __future__ import annotations

import json
import sys
import time


def register(sub) -> None:
    p = sub.add_parser("discover", help="list AES67 streams announced with SAP")
    p.add_argument("--seconds", type=float, default=5.0, help="listen this long (default 5)")
    p.add_argument(
        "--interface",
        metavar="IP",
        action="append",
        help="join the SAP groups on this interface address (repeat for several AES67 cards, or 'all'; "
        "default: the sap_interfaces setting, else the default route's card)",
    )
    p.add_argument(
        "--sap-group", metavar="ADDR", action="append", help="SAP group (default: both standard ones)"
    )
    p.add_argument("--sap-port", type=int, default=9875, help="SAP port (default 9875)")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=run)


def run(args) -> int:
    """Entry point; user errors become one line on stderr and exit status 2 (also under ``python -m``)."""
    from origin.cli import CLIError

    try:
        return _run(args)
    except CLIError as exc:
        print(f"aimixer discover: error: {exc}", file=sys.stderr)
        return exc.code


def _run(args) -> int:
    import os

    from origin.cli import CLIError
    from origin.recorder.receiver import ReceiverError, is_multicast
    from origin.recorder.sap import SAP_GROUPS, SAPListener, parse_interfaces

    if not 0 < args.seconds <= 3600:
        raise CLIError(f"--seconds {args.seconds} is out of range (0, 3600]")
    if not 0 < args.sap_port < 65536:
        raise CLIError(f"--sap-port {args.sap_port} is out of range [1, 65535]")
    try:
        interfaces = parse_interfaces(args.interface) or parse_interfaces(
            os.environ.get("AIMIXER_STUDIO_SAP_INTERFACES")
        )
        groups = tuple(args.sap_group or SAP_GROUPS)
        for g in groups:
            if not is_multicast(g):
                raise ValueError(f"--sap-group {g} is not a multicast address")
    except (ValueError, ReceiverError) as exc:
        raise CLIError(str(exc)) from None
    try:
        lst = SAPListener(interfaces=interfaces, groups=groups, port=args.sap_port).start()
    except OSError as exc:
        raise CLIError(f"cannot listen for SAP: {exc.strerror or exc}") from None
    try:
        time.sleep(args.seconds)
    except KeyboardInterrupt:
        pass
    finally:
        lst.stop()
    streams = lst.streams()
    if args.json:
        keep = (
            "session_name",
            "connection_addr",
            "port",
            "encoding",
            "sample_rate",
            "channels",
            "ptime_us",
            "payload_type",
            "source_filter",
            "ts_refclk",
            "mediaclk",
            "channel_order",
            "channel_names",
            "redundant",
            "unsupported",
            "origin_addr",
            "sap_origin",
            "last_seen",
            "raw",
        )
        sys.stdout.write(json.dumps([{k: s[k] for k in keep} for s in streams], indent=2) + "\n")
        return 0
    if not streams:
        print("no SAP announcements heard", file=sys.stderr)
        return 0
    for s in streams:
        ptime = f"{s['ptime_us'] / 1000:g} ms" if s["ptime_us"] else "-"
        print(
            f"{s['session_name']!s:32} {s['connection_addr']}:{s['port']:<6} {s['encoding']}/{s['sample_rate']}/"
            f"{s['channels']}  pt {s['payload_type']}  ptime {ptime}  from {s['origin_addr']}"
        )
        if s.get("redundant"):
            r = s["redundant"]
            print(f"{'':32} ST 2022-7 secondary {r['connection_addr']}:{r['port']}")
        if s.get("channel_names"):
            print(f"{'':32} channels: {', '.join(s['channel_names'])}")
        if s.get("unsupported"):
            print(f"{'':32} unsupported: {s['unsupported']}")
    return 0
