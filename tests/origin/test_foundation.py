"""config, storage, errors, app factory, rate limiter, sessions, stats."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from quart import Blueprint

from origin.app import create_app
from origin.config import ConfigError, load_settings
from origin.errors import APIError, StudioError, studio_error
from origin.ratelimit import RateLimiter
from origin.sessions import SessionStore
from origin.stats import StatsRecorder
from origin.storage import Storage, StorageError, register_schema


def test_settings_sources_and_precedence(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        'port = 9001\nregion = "eu-west"\n[oidc]\nissuer = "https://idp"\n[rate_limit]\nstandard = 5\n'
    )
    s = load_settings(cfg, env={"AIMIXER_PORT": "9002"})
    assert s.port == 9002 and s.region == "eu-west" and s.oidc_issuer == "https://idp"
    assert s.rate_limit_standard == 5 and s.db_path == Path("data") / "aimixer.db"
    assert load_settings(cfg, env={}, port=9003).port == 9003
    assert load_settings(env={"AUDYN_DEV_MODE": "true"}).dev_mode is True
    assert load_settings(env={"AIMIXER_DEV_MODE": "1"}).dev_mode is True
    assert load_settings(env={"AIMIXER_DEV_MODE": "false"}).dev_mode is False
    s = load_settings(env={"AIMIXER_DATA_DIR": str(tmp_path)})
    assert s.archive_root == tmp_path / "archive"
    with pytest.raises(ConfigError, match="port='x'"):
        load_settings(env={"AIMIXER_PORT": "x"})
    bad = tmp_path / "bad.toml"
    bad.write_text("colour = 3\n")
    with pytest.raises(ConfigError, match="colour"):
        load_settings(bad, env={})
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "missing.toml", env={})
    with pytest.raises(ConfigError, match="dev_mode"):
        load_settings(env={"AIMIXER_DEV_MODE": "maybe"}, dev_mode="maybe")


def test_storage_migrations_wal_and_async(tmp_path):
    db = tmp_path / "x.db"
    register_schema("t_widgets", ["CREATE TABLE widgets (id INTEGER PRIMARY KEY, name TEXT);"])
    with Storage(db) as st:
        assert st.fetchone("PRAGMA journal_mode")[0] == "wal"
        assert st.schema_version("t_widgets") == 1
        st.execute("INSERT INTO widgets(name) VALUES (?)", ("a",))
    register_schema(
        "t_widgets",
        [
            "CREATE TABLE widgets (id INTEGER PRIMARY KEY, name TEXT);",
            "ALTER TABLE widgets ADD COLUMN colour TEXT; UPDATE widgets SET colour='red';",
        ],
    )
    with Storage(db) as st:
        assert st.schema_version("t_widgets") == 2
        assert [tuple(r) for r in st.fetchall("SELECT name, colour FROM widgets")] == [("a", "red")]

        async def go():
            await st.aexecute("INSERT INTO widgets(name) VALUES (?)", ("b",))
            return await st.afetchall("SELECT name FROM widgets ORDER BY id"), await st.ping()

        rows, ok = asyncio.run(go())
        assert [r["name"] for r in rows] == ["a", "b"] and ok

        def failing(conn):
            conn.execute("INSERT INTO widgets(name) VALUES ('c')")
            raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            st.transaction(failing)
        assert st.fetchone("SELECT COUNT(*) FROM widgets")[0] == 2  # rolled back
    with pytest.raises(StorageError, match="different migrations"):
        register_schema("t_widgets", ["CREATE TABLE other (x);"])


def test_rate_limiter_windows():
    t = [120.0]
    rl = RateLimiter(clock=lambda: t[0])
    assert [rl.hit("k", 2).allowed for _ in range(3)] == [True, True, False]
    res = rl.hit("k", 2)
    assert res.headers()["Retry-After"] == "60" and res.reset == 180
    t[0] = 179.5
    assert rl.hit("k", 2).headers()["Retry-After"] == "1"
    t[0] = 180.0
    assert rl.hit("k", 2).allowed
    assert rl.hit("u", 0).headers()["X-RateLimit-Limit"] == "unlimited"


def test_session_store_ttl_lru_and_scoping():
    t = [0.0]
    made = []
    store = SessionStore(lambda sid: made.append(sid) or object(), ttl=10, max_sessions=2, clock=lambda: t[0])
    a = store.get_or_create("o1", "s")
    assert store.get_or_create("o1", "s") is a
    b = store.get_or_create("o2", "s")  # same id, other owner: other session
    assert b is not a and len(store) == 2
    store.get_or_create("o1", "t")  # evicts the least recently used ("o1","s")
    assert store.get("o1", "s") is None and len(store) == 2
    t[0] = 11
    assert store.get("o2", "s") is None  # expired


async def test_stats_recorder_persists(tmp_path):
    with Storage(tmp_path / "s.db") as st:
        rec = StatsRecorder(st)
        for ms in [1.0] * 98 + [50.0, 100.0]:
            rec.record_processing(960, ms)
        rec.record_request(200)
        rec.record_request(404)
        rec.record_genre("rock")
        rec.flush()
        snap = await StatsRecorder(st).snapshot(("rock", "jazz"))
    assert snap["requests"] == {"total": 2, "today": 2, "errors": 1, "errorRate": 0.5}
    assert snap["processing"]["totalSamples"] == 96000
    assert snap["processing"]["averageLatency"] == pytest.approx(2.48)
    assert snap["processing"]["p95Latency"] == pytest.approx(1.0, rel=0.13)
    assert snap["processing"]["p99Latency"] == pytest.approx(50.0, rel=0.13)
    assert snap["genres"] == {"rock": 1, "jazz": 0}


async def test_app_error_shapes_and_headers(make_settings):
    app = create_app(make_settings(), packages=())
    bp = Blueprint("t", __name__)

    @bp.get("/boom")
    async def boom():
        raise RuntimeError("secret internals")

    @bp.get("/api/thing")
    async def thing():
        raise StudioError(404, "Studio not found")

    @bp.get("/api/raw")
    async def raw():
        return studio_error(409, "busy")

    @bp.get("/api/apierr")
    async def apierr():
        raise APIError(400, "X", "bad thing")

    @bp.post("/json")
    async def needs_json():
        from quart import request

        return await request.get_json()

    app.register_blueprint(bp)
    async with app.test_app():
        c = app.test_client()
        r = await c.get("/boom")
        body = await r.get_json()
        assert r.status_code == 500 and body["error"]["code"] == "INTERNAL_ERROR"
        assert "secret" not in (await r.get_data(as_text=True)) and "Traceback" not in (
            await r.get_data(as_text=True)
        )
        assert r.headers["X-Request-Id"] == body["error"]["requestId"]
        r = await c.post("/boom")
        assert r.status_code == 405 and (await r.get_json())["error"]["code"] == "METHOD_NOT_ALLOWED"
        r = await c.get("/nothing-here", headers={"X-Request-Id": "my-trace-1"})
        assert (await r.get_json())["error"]["requestId"] == "my-trace-1" == r.headers["X-Request-Id"]
        assert (await (await c.get("/api/thing")).get_json()) == {"detail": "Studio not found"}
        assert (await (await c.get("/api/raw")).get_json()) == {"detail": "busy"}
        assert (await (await c.get("/api/apierr")).get_json()) == {"detail": "bad thing"}
        r = await c.get("/api/nope")
        assert r.status_code == 404 and await r.get_json() == {"detail": "Not Found"}
        assert r.headers["Cross-Origin-Embedder-Policy"] == "require-corp"
        r = await c.post("/json", data="{bad", headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and "error" in await r.get_json()


def test_create_app_skips_missing_domain_packages(make_settings):
    app = create_app(make_settings(), packages=("origin.no_such_domain", "origin.mixer_api"))
    assert "mixer" in app.extensions
    assert app.extensions["secret_key"] == create_app(make_settings(), packages=()).extensions["secret_key"]


async def test_full_app_serves_every_domain_with_the_mixer(client):
    """The default fixture registers all domain packages; the mixer works alongside them."""
    r = await client.post("/v1/process-audio", json={"audioBuffer": [0.0] * 960})
    assert r.status_code == 200 and len((await r.get_json())["processedBuffer"]) == 960
    r = await client.get("/api/definitely-not-here")
    assert r.status_code == 404 and await r.get_json() == {"detail": "Not Found"}
    r = await client.get("/definitely-not-here")
    assert (await r.get_json())["error"]["code"] == "ENDPOINT_NOT_FOUND"
