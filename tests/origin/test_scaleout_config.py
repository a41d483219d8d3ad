"""The scale-out settings: database_url / redis_url from the file, the environment and the CLI."""

from __future__ import annotations

import json

import pytest

from origin.cli import main
from origin.config import ConfigError, load_settings


def test_state_urls_from_env_overrides_and_file(tmp_path):
    env = {"AIMIXER_DATABASE_URL": "postgresql://u:pw@db:5432/a", "AIMIXER_REDIS_URL": "redis://r:6379/2"}
    s = load_settings(env=env)
    assert s.database_url == "postgresql://u:pw@db:5432/a" and s.redis_url == "redis://r:6379/2"
    assert s.as_dict()["database_url"] == "postgresql://u:***@db:5432/a"  # password never shown
    s = load_settings(env=env, database_url="postgresql://x@h/b", redis_url="redis://h:1/0")
    assert s.database_url == "postgresql://x@h/b" and s.redis_url == "redis://h:1/0"
    cfg = tmp_path / "c.toml"
    cfg.write_text('database_url = "postgresql://f@h/c"\nredis_url = "redis://f:1/3"\n')
    s = load_settings(cfg, env={})
    assert s.database_url == "postgresql://f@h/c" and s.redis_url == "redis://f:1/3"
    s = load_settings(env={"AIMIXER_DATABASE_URL": "", "AIMIXER_REDIS_URL": ""})
    assert s.database_url is None and s.redis_url is None  # empty = unset (SQLite, in-process)
    with pytest.raises(ConfigError, match="database_url"):
        load_settings(env={"AIMIXER_DATABASE_URL": "mysql://h/db"})
    with pytest.raises(ConfigError, match="redis_url"):
        load_settings(env={"AIMIXER_REDIS_URL": "http://h"})


def test_keys_cli_on_postgresql(pg_url, tmp_path, capsys):
    base = ["keys", "--data-dir", str(tmp_path), "--database-url", pg_url]
    assert main([*base, "create", "--name", "pg", "--tier", "premium", "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert main([*base, "list", "--json"]) == 0
    assert [k["id"] for k in json.loads(capsys.readouterr().out)] == [rec["id"]]
    assert not (tmp_path / "aimixer.db").exists()  # nothing went to SQLite
    assert main([*base, "revoke", rec["id"]]) == 0
    capsys.readouterr()
    assert main([*base, "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["active"] is False


def test_keys_cli_unreachable_database_is_one_line_error(tmp_path, capsys):
    from servers import free_tcp_port

    url = f"postgresql://nobody@127.0.0.1:{free_tcp_port()}/none"
    assert main(["keys", "--database-url", url, "list"]) == 2
    err = capsys.readouterr().err
    assert "cannot open database" in err and len(err.strip().splitlines()) == 1


def test_worker_needs_redis_and_a_reachable_one(tmp_path, capsys):
    from servers import free_tcp_port

    assert main(["worker", "--data-dir", str(tmp_path), "--burst"]) == 2
    assert "needs --redis-url" in capsys.readouterr().err
    dead = f"redis://127.0.0.1:{free_tcp_port()}/0"
    assert main(["worker", "--data-dir", str(tmp_path), "--redis-url", dead, "--burst"]) == 2
    err = capsys.readouterr().err
    assert "cannot reach Redis" in err and len(err.strip().splitlines()) == 1
