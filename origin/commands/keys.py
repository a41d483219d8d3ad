"""``aimixer keys``: create, list and revoke API keys (stored hashed in the database: ``{data_dir}/aimixer.db`` or ``database_url``).

::

    aimixer keys create --name N --tier standard|premium|enterprise [--role mixer|admin|studio] [--studio-id S]
    aimixer keys list [--json]
    aimixer keys revoke ID

``create`` prints the key once (it cannot be shown again). ``--data-dir`` / ``--database-url`` / ``--config`` select
the database like ``aimixer serve``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any

from origin.commands.serve import add_state_options

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser("keys", help="manage API keys")
    p.add_argument("--data-dir", help="directory of aimixer.db (default ./data / AIMIXER_DATA_DIR)")
    p.add_argument("--config", help="TOML settings file")
    add_state_options(p)
    ks = p.add_subparsers(dest="keys_command", metavar="ACTION")
    c = ks.add_parser("create", help="create a key and print it once")
    c.add_argument("--name", required=True)
    c.add_argument("--tier", default="standard", choices=["standard", "premium", "enterprise"])
    c.add_argument(
        "--role",
        default="mixer",
        choices=["mixer", "admin", "studio"],
        help="mixer (default): mixer API only; admin: also every studio right; studio: one studio",
    )
    c.add_argument("--studio-id", default=None)
    c.add_argument("--json", action="store_true", help="print JSON")
    ls = ks.add_parser("list", help="list keys (never the secrets)")
    ls.add_argument("--json", action="store_true")
    r = ks.add_parser("revoke", help="revoke a key by id (or its 8-char prefix)")
    r.add_argument("id")
    p.set_defaults(func=run)


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def run(args: argparse.Namespace) -> int:
    from origin.auth.apikeys import ApiKeyError, create_key, list_keys, revoke_key
    from origin.cli import CLIError
    from origin.config import ConfigError, load_settings
    from origin.migrations import open_app_storage
    from origin.storage import StorageError

    action = getattr(args, "keys_command", None)
    if not action:
        raise CLIError("choose an action: create, list or revoke")
    try:
        settings = load_settings(
            args.config, data_dir=args.data_dir, database_url=args.database_url, redis_url=args.redis_url
        )
        storage = open_app_storage(settings)
    except (ConfigError, StorageError) as exc:
        raise CLIError(str(exc)) from None
    with storage:
        if action == "create":
            try:
                rec, secret = create_key(storage, args.name, args.tier, args.role, args.studio_id)
            except ApiKeyError as exc:
                raise CLIError(str(exc)) from None
            if args.json:
                print(json.dumps({**rec.to_dict(), "key": secret}))
            else:
                print(secret)
                print(
                    f"id {rec.id}  name {rec.name!r}  tier {rec.tier}  role {rec.role}"
                    + (f"  studio {rec.studio_id}" if rec.studio_id else "")
                    + "\nStore this key now: it is not shown again.",
                    flush=True,
                )
            return 0
        if action == "list":
            keys = list_keys(storage)
            if args.json:
                print(json.dumps([k.to_dict() for k in keys]))
                return 0
            if not keys:
                print("no keys")
                return 0
            print(
                f"{'ID':<22} {'PREFIX':<9} {'TIER':<10} {'ROLE':<6} {'STUDIO':<10} {'CREATED':<19} STATUS  NAME"
            )
            for k in keys:
                status = "active" if k.active else "revoked"
                role = k.role + ("*" if k.legacy_admin else "")
                print(
                    f"{k.id:<22} {k.prefix:<9} {k.tier:<10} {role:<6} {(k.studio_id or '-'):<10} "
                    f"{_when(k.created_at):<19} {status:<7} {k.name}"
                )
            legacy = sum(1 for k in keys if k.legacy_admin and k.active)
            if legacy:
                print(
                    f"* {legacy} key(s) kept role admin from before roles were explicit (new keys default "
                    "to 'mixer', no studio rights); re-issue with --role mixer|studio if they need less."
                )
            return 0
        if action == "revoke":
            if not revoke_key(storage, args.id):
                raise CLIError(f"no active key {args.id!r}")
            print(f"revoked {args.id}")
            return 0
    raise CLIError(f"unknown action {action!r}")
