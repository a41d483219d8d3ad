"""Webhook deliveries survive the origin that queued them: another origin on the same database
takes over a delivery whose lease ran out and finishes it (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "mixer_api"))

from test_webhooks_api import receiver  # noqa: E402

from origin.migrations import app_schemas  # noqa: E402
from origin.storage import open_storage  # noqa: E402
from origin.webhooks import WebhookEngine  # noqa: E402


async def _until(pred, timeout=20.0):
    for _ in range(int(timeout / 0.05)):
        if await pred():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached")


async def test_delivery_resumed_by_another_origin(storage_target, serve_app):
    rapp, got = receiver(fail_first=1)
    srv = serve_app(rapp)
    st_a = open_storage(storage_target, app_schemas())
    st_b = open_storage(storage_target, app_schemas())
    a = WebhookEngine(st_a, backoff=1.0, lease=0.3, sweep_interval=3600)  # a never sweeps
    b = WebhookEngine(st_b, backoff=0.1, lease=0.3, sweep_interval=0.1)
    try:
        await a.start()
        hook = await a.create("owner-1", f"{srv.url}/hook", ["error.occurred"])
        assert a.emit("owner-1", "error.occurred", {"code": "X"}) == 1

        async def retrying():
            row = await st_a.afetchone("SELECT status, attempts FROM webhook_deliveries")
            return row is not None and row["status"] == "retrying" and row["attempts"] == 1

        await _until(retrying)
        await a.stop(drain=0)  # the origin dies while its retry waits
        row = await st_a.afetchone("SELECT id, next_attempt_at, lease_until FROM webhook_deliveries")
        assert row["next_attempt_at"] is not None and row["lease_until"] > row["next_attempt_at"]
        await b.start()
        await b.wait_idle()

        async def delivered():
            r = await st_b.afetchone(
                "SELECT status, attempts FROM webhook_deliveries WHERE id=?", (row["id"],)
            )
            return r["status"] == "delivered"

        await _until(delivered)
        assert len(got) == 1 and got[0]["headers"]["X-Aimixer-Delivery"] == row["id"]
        final = await st_b.afetchone("SELECT attempts, lease_until FROM webhook_deliveries")
        assert final["attempts"] == 2 and final["lease_until"] is None
        assert (await b.deliveries("owner-1", hook["id"]))[0]["status"] == "delivered"
    finally:
        await a.stop(drain=0)
        await b.stop(drain=0)
        st_a.close()
        st_b.close()
