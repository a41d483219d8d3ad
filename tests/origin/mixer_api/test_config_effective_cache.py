"""``ConfigStore.effective`` keeps the last merge of server overrides and a request config; every
change of either side (new values, in-place mutation, another type, a PUT) gives a new merge."""

from __future__ import annotations

import copy

import pytest
from aimixer_dsp.presets import merge_config

from origin.migrations import app_schemas
from origin.mixer_api.service import ConfigStore
from origin.storage import open_storage


@pytest.fixture
def store(tmp_path):
    st = open_storage(tmp_path / "aimixer.db", app_schemas())
    yield ConfigStore(st)
    st.close()


async def test_effective_follows_every_change(store):
    assert store.effective(None) is None
    req = {"compressor": {"ratio": 2.0}}
    assert store.effective(req) is req  # no overrides: the request config as is
    await store.update({"compressor": {"threshold": -18.0}, "gain": 2.0})
    seen = []
    for _ in range(2):
        got = store.effective(req)
        seen.append(got)
        assert got == merge_config(store.overrides, req)
    assert seen[0]["compressor"] == {"ratio": 2.0, "threshold": -18.0} and seen[0]["gain"] == 2.0
    req["compressor"]["ratio"] = 3.0  # the same dict, mutated
    assert store.effective(req)["compressor"]["ratio"] == 3.0
    assert store.effective({"compressor": {"ratio": 3}}) == merge_config(
        store.overrides, {"compressor": {"ratio": 3}}
    )
    assert type(store.effective({"compressor": {"ratio": 3}})["compressor"]["ratio"]) is int
    await store.update({"gain": -5.0})  # PUT /config
    assert store.effective(req)["gain"] == -5.0
    store.overrides["gain"] = 1.5  # replaced/changed in memory (e.g. reloaded from the DB)
    assert store.effective(req)["gain"] == 1.5
    assert store.effective(req)["compressor"] == {"ratio": 3.0, "threshold": -18.0}


async def test_effective_does_not_alias_its_inputs(store):
    await store.update({"eq": {"low": 2.0}})
    req = {"eq": {"high": 1.0}}
    snapshot = copy.deepcopy(store.overrides)
    got = store.effective(req)
    got2 = store.effective(req)
    assert got2 == {"eq": {"low": 2.0, "high": 1.0}}
    assert store.overrides == snapshot and req == {"eq": {"high": 1.0}}
    assert got is not store.overrides and got["eq"] is not req["eq"]
