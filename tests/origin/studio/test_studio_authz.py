"""The authorisation matrix: anonymous (production), studio A, studio B and admin against every
studio endpoint, on a real server with real OIDC tokens (local provider). The expected status of
every cell is written in the table below."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pytest
import soundfile as sf
from oidc_provider import LocalOIDCProvider
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from origin.app import create_app
from origin.auth.apikeys import create_key
from origin.recorder.loudness_log import LoudnessLogger

pytestmark = pytest.mark.timeout(120)

FILE_A = "recorder1/2026-01-10/2026-01-10-14.wav"
FILE_B = "recorder2/2026-01-10/2026-01-10-15.wav"
FILE_DEL = "recorder1/2026-01-10/2026-01-10-13.wav"

#  method, path, body, (anonymous, studio A, studio B, admin)
MATRIX: list[tuple[str, str, object, tuple[int, int, int, int]]] = [
    ("GET", "/auth/me", None, (401, 200, 200, 200)),
    ("GET", "/auth/login", None, (302, 302, 302, 302)),
    ("GET", "/api/recorders/", None, (401, 200, 200, 200)),
    ("GET", "/api/recorders/active-count", None, (401, 200, 200, 200)),
    ("GET", "/api/recorders/1", None, (401, 200, 403, 200)),
    ("GET", "/api/recorders/2", None, (401, 403, 200, 200)),
    ("GET", "/api/recorders/3", None, (401, 403, 403, 200)),
    ("GET", "/api/recorders/1/levels", None, (401, 200, 403, 200)),
    ("GET", "/api/recorders/2/levels", None, (401, 403, 200, 200)),
    ("GET", "/api/recorders/1/events", None, (401, 200, 403, 200)),
    ("PUT", "/api/recorders/3/config", {"port": 5010}, (401, 403, 403, 200)),
    ("POST", "/api/recorders/3/start", None, (401, 403, 403, 200)),
    ("POST", "/api/recorders/3/stop", None, (401, 403, 403, 200)),
    ("PUT", "/api/recorders/active-count/2", None, (401, 403, 403, 200)),
    ("POST", "/api/recorders/start-all", None, (401, 403, 403, 200)),
    ("POST", "/api/recorders/stop-all", None, (401, 403, 403, 200)),
    ("PUT", "/api/recorders/active-count/6", None, (401, 403, 403, 200)),
    ("GET", "/api/studios/", None, (401, 200, 200, 200)),
    ("POST", "/api/studios/", {"name": "Studio New"}, (401, 403, 403, 201)),
    ("GET", "/api/studios/{A}", None, (401, 200, 403, 200)),
    ("GET", "/api/studios/{B}", None, (401, 403, 200, 200)),
    ("PUT", "/api/studios/{A}", {"description": "Main broadcast studio"}, (401, 403, 403, 200)),
    ("POST", "/api/studios/{A}/assign", {"recorder_id": 1}, (401, 403, 403, 200)),
    ("GET", "/api/studios/{A}/recorder", None, (401, 200, 403, 200)),
    ("GET", "/api/studios/{A}/recordings", None, (401, 200, 403, 200)),
    ("GET", "/api/studios/{B}/recordings", None, (401, 403, 200, 200)),
    ("DELETE", "/api/studios/{C}", None, (401, 403, 403, 200)),
    ("GET", "/api/control/status", None, (401, 200, 403, 200)),
    ("POST", "/api/control/config", {"source_type": "aes67", "port": 5004}, (401, 403, 403, 200)),
    ("GET", "/api/sources/", None, (401, 200, 200, 200)),
    ("GET", "/api/sources/{S1}", None, (401, 200, 200, 200)),
    (
        "POST",
        "/api/sources/",
        {"name": "Backup", "type": "aes67", "multicast_addr": "239.69.1.9", "port": 5004},
        (401, 403, 403, 201),
    ),
    ("GET", "/api/sources/active", None, (401, 200, 200, 200)),
    ("POST", "/api/sources/active/{S1}", None, (401, 200, 403, 200)),
    ("GET", "/api/sources/discovered", None, (401, 200, 200, 200)),
    ("DELETE", "/api/sources/{S2}", None, (401, 403, 403, 200)),
    ("POST", "/api/control/start", None, (401, 200, 403, 200)),
    ("POST", "/api/control/stop", None, (401, 200, 403, 200)),
    ("GET", "/api/assets/browse", None, (401, 200, 200, 200)),
    ("GET", "/api/assets/browse?path=recorder1", None, (401, 200, 403, 200)),
    ("GET", "/api/assets/browse?path=recorder2/2026-01-10", None, (401, 403, 200, 200)),
    ("GET", "/api/assets/browse?studio_id={B}", None, (401, 403, 200, 200)),
    ("GET", f"/api/assets/download/{FILE_A}", None, (401, 200, 403, 200)),
    ("GET", f"/api/assets/download/{FILE_B}", None, (401, 403, 200, 200)),
    ("GET", f"/api/stream/preview/{FILE_A}", None, (401, 200, 403, 200)),
    ("GET", f"/api/stream/preview/{FILE_B}", None, (401, 403, 200, 200)),
    ("GET", f"/api/assets/loudness/{FILE_A}", None, (401, 200, 403, 200)),
    ("GET", f"/api/assets/loudness/{FILE_B}", None, (401, 403, 200, 200)),
    ("GET", f"/api/assets/report/{FILE_A}", None, (401, 200, 403, 200)),
    ("GET", f"/api/assets/report/{FILE_B}", None, (401, 403, 200, 200)),
    ("GET", "/api/recorders/1/loudness", None, (401, 200, 403, 200)),
    ("GET", "/api/recorders/2/loudness", None, (401, 403, 200, 200)),
    ("DELETE", f"/api/assets/file/{FILE_DEL}", None, (401, 403, 403, 200)),
    # what Audyn's frontend calls beyond the spec
    ("GET", "/api/studios/current-selection", None, (401, 200, 200, 200)),
    ("POST", "/api/studios/select/{A}", None, (401, 200, 403, 200)),
    ("POST", "/api/studios/select/{B}", None, (401, 403, 200, 200)),
    ("POST", "/api/studios/clear-selection", None, (401, 200, 200, 200)),
    ("GET", "/api/assets/search", None, (401, 200, 200, 200)),
    ("GET", "/api/assets/search?studio_id={A}", None, (401, 200, 403, 200)),
    ("GET", "/api/assets/stats", None, (401, 200, 200, 200)),
    ("GET", "/api/assets/stats?studio_id={B}", None, (401, 403, 200, 200)),
    ("POST", "/api/assets/delete-bulk", {"paths": []}, (401, 403, 403, 200)),
    ("GET", f"/api/stream/info/{FILE_A}", None, (401, 200, 403, 200)),
    ("GET", f"/api/stream/info/{FILE_B}", None, (401, 403, 200, 200)),
    ("GET", f"/api/stream/preview/{FILE_A}?start=0.1", None, (401, 200, 403, 200)),
    ("GET", f"/api/stream/preview/{FILE_B}?start=0.1&follow=false", None, (401, 403, 200, 200)),
    ("GET", "/api/control/config", None, (401, 200, 403, 200)),
    (
        "PUT",
        "/api/sources/{S1}",
        {"id": "{S1}", "name": "Source 1", "multicast_addr": "239.69.9.1", "port": 5004},
        (401, 403, 403, 200),
    ),
    ("POST", "/api/sources/from-discovery", {"stream_id": "sap-000000000000"}, (401, 403, 403, 404)),
    ("GET", "/api/sources/pipewire", None, (401, 200, 200, 200)),
    ("GET", "/api/discovery/status", None, (401, 200, 200, 200)),
    ("GET", "/api/discovery/streams", None, (401, 200, 200, 200)),
    ("POST", "/api/discovery/stop", None, (401, 403, 403, 200)),
    ("GET", "/auth/config", None, (401, 403, 403, 200)),
    ("GET", "/api/system/config", None, (401, 403, 403, 200)),
    ("GET", "/api/system/interfaces", None, (401, 403, 403, 200)),
    ("GET", "/api/system/timezones", None, (401, 403, 403, 200)),
    ("GET", "/api/system/ssl", None, (401, 403, 403, 501)),
    ("POST", "/api/system/network", {"mode": "dhcp"}, (401, 403, 403, 501)),
]

#  WebSocket path, (anonymous, studio A, studio B, admin): "ok" = accepted and streaming
WS_MATRIX = [
    ("/ws/levels", (401, "ok", "ok", "ok")),
    ("/ws/levels/1", (401, "ok", 403, "ok")),
    ("/ws/levels/2", (401, 403, "ok", "ok")),
]


@pytest.fixture(scope="module")
def provider():
    with LocalOIDCProvider() as p:
        p.add_user("admin", {"name": "Admin", "roles": ["admin"]})
        yield p


def _wav(path, seconds: float = 0.2) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(48000 * seconds)) / 48000
    sf.write(str(path), np.stack([np.sin(2 * np.pi * 440 * t)] * 2, axis=1) * 0.25, 48000, subtype="PCM_24")


def _ws_outcome(url: str, token: str | None) -> object:
    q = f"?token={token}" if token else ""
    try:
        with connect(url + q, open_timeout=10, close_timeout=2) as ws:
            if token is None:  # first-message authentication with a bad token
                ws.send(json.dumps({"type": "auth", "token": "bogus"}))
            msg = json.loads(ws.recv(timeout=5))
            return "ok" if msg.get("type") in ("all_levels", "levels") else msg
    except InvalidStatus as exc:
        return exc.response.status_code
    except ConnectionClosed as exc:
        return {4401: 401, 4403: 403}.get(exc.rcvd.code if exc.rcvd else 0, exc)


def test_authorisation_matrix(make_settings, serve_app, provider):
    settings = make_settings(
        dev_mode=False,
        max_recorders=6,
        oidc_issuer=provider.issuer,
        oidc_client_id=provider.client_id,
        oidc_client_secret=provider.client_secret,
        oidc_redirect_uri="http://127.0.0.1:9/auth/callback",
    )
    app = create_app(settings)
    srv = serve_app(app)
    admin_tok = provider.mint({"sub": "admin", "roles": ["admin"]})
    admin = httpx.Client(base_url=srv.url, timeout=20, headers={"Authorization": f"Bearer {admin_tok}"})

    ids = {}
    for key, name in (("A", "Studio A"), ("B", "Studio B"), ("C", "Studio C")):
        r = admin.post("/api/studios/", json={"name": name})
        assert r.status_code == 201
        ids[key] = r.json()["id"]
    assert admin.post(f"/api/studios/{ids['A']}/assign", json={"recorder_id": 1}).status_code == 200
    assert admin.post(f"/api/studios/{ids['B']}/assign", json={"recorder_id": 2}).status_code == 200
    for n, key in ((1, "S1"), (2, "S2")):
        r = admin.post(
            "/api/sources/",
            json={"name": f"Source {n}", "type": "aes67", "multicast_addr": f"239.69.9.{n}", "port": 5004},
        )
        assert r.status_code == 201
        ids[key] = r.json()["id"]
    root = settings.archive_root
    for rel in (FILE_A, FILE_B, FILE_DEL):
        _wav(root / rel)
    for rel in (FILE_A, FILE_B):  # the recorders' loudness logs beside them
        log = LoudnessLogger(2, 48000)
        log.file_opened(str(root / rel), 0, 1768053600.0)
        data, _ = sf.read(str(root / rel), always_2d=True)
        log.push(np.concatenate([data] * 10), 0)
        log.close()

    tokens = {
        "anonymous": None,
        "studio A": provider.mint({"sub": "user-a", "roles": ["studio"], "studio_id": ids["A"]}),
        "studio B": provider.mint({"sub": "user-b", "roles": ["studio"], "studio_id": ids["B"]}),
        "admin": admin_tok,
    }
    who = list(tokens)
    failures = []
    for method, path, body, expected in MATRIX:
        url = path.format(**ids)
        if isinstance(body, dict):
            body = {k: v.format(**ids) if isinstance(v, str) else v for k, v in body.items()}
        for i, name in enumerate(who):
            headers = {"Authorization": f"Bearer {tokens[name]}"} if tokens[name] else {}
            r = httpx.request(
                method, srv.url + url, json=body, headers=headers, timeout=30, follow_redirects=False
            )
            if r.status_code != expected[i]:
                failures.append(
                    f"{method} {url} as {name}: {r.status_code} (expected {expected[i]}) {r.text[:200]}"
                )
            elif r.status_code in (401, 403, 404, 501):
                assert isinstance(r.json().get("detail"), str)
    for path, expected in WS_MATRIX:
        for i, name in enumerate(who):
            got = _ws_outcome(srv.ws_url + path, tokens[name])
            if got != expected[i]:
                failures.append(f"WS {path} as {name}: {got!r} (expected {expected[i]!r})")
    assert not failures, "\n".join(failures)

    # what a studio user sees is only its own studio
    a = httpx.Client(base_url=srv.url, timeout=20, headers={"Authorization": f"Bearer {tokens['studio A']}"})
    assert [r["id"] for r in a.get("/api/recorders/").json()] == [1]
    assert [s["id"] for s in a.get("/api/studios/").json()] == [ids["A"]]
    browse = a.get("/api/assets/browse").json()
    assert browse["path"] == "recorder1" and browse["parent"] is None
    assert [d["name"] for d in browse["directories"]] == ["2026-01-10"]
    rec = a.get(f"/api/studios/{ids['A']}/recordings").json()["recordings"]
    assert [f["path"] for f in rec] == [FILE_A]  # FILE_DEL was deleted by the admin above
    with connect(f"{srv.ws_url}/ws/levels", open_timeout=10) as ws:  # first-message auth
        ws.send(json.dumps({"type": "auth", "token": tokens["studio A"]}))
        assert json.loads(ws.recv(timeout=5))["type"] == "auth_ok"
        msg = json.loads(ws.recv(timeout=5))
        assert msg["type"] == "all_levels" and [x["recorder_id"] for x in msg["recorders"]] == [1]

    # errors use the spec's texts
    r = httpx.get(srv.url + "/api/recorders/", timeout=10)
    assert r.json() == {"detail": "Not authenticated"}
    r = a.post("/api/recorders/1/start")
    assert r.status_code == 403 and r.json() == {"detail": "Admin access required"}

    # mixer API keys work for machine clients, scoped by the key's role and studio
    storage = app.extensions["storage"]
    _, studio_key = create_key(storage, "studio-a-machine", role="studio", studio_id=ids["A"])
    _, admin_key = create_key(storage, "ops", role="admin")
    k = httpx.Client(base_url=srv.url, timeout=20, headers={"Authorization": f"Bearer {studio_key}"})
    assert k.get("/api/recorders/1").status_code == 200
    assert k.get("/api/recorders/2").status_code == 403
    assert k.put("/api/recorders/active-count/6").status_code == 403
    assert (
        httpx.put(
            f"{srv.url}/api/recorders/active-count/6",
            headers={"Authorization": f"Bearer {admin_key}"},
            timeout=20,
        ).status_code
        == 200
    )
