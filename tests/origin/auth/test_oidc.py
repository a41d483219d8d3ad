"""OIDC login and Bearer JWT verification against a real local OIDC provider on loopback.

The origin runs unchanged (production mode, a real Hypercorn server); the provider
(``tests/oidc_provider.py``) serves discovery, JWKS, authorize and token endpoints with its own
RSA keys. The browser's part of the flow (following redirects) is done with httpx.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import jwt
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from oidc_provider import LocalOIDCProvider  # noqa: E402

from origin.app import create_app  # noqa: E402
from origin.auth.oidc import OIDCConfig, principal_from_claims  # noqa: E402

pytestmark = pytest.mark.timeout(60)

REDIRECT = "http://127.0.0.1:9/auth/callback"


@pytest.fixture(scope="module")
def provider():
    with LocalOIDCProvider() as p:
        p.add_user(
            "alice", {"name": "Alice Admin", "email": "alice@example.com", "roles": ["admin"]}, default=True
        )
        p.add_user(
            "sam",
            {"name": "Sam Studio", "email": "sam@example.com", "roles": ["studio"], "studio_id": "studio-a"},
        )
        p.add_user("nora", {"name": "Nora Norole", "email": "nora@example.com"})
        yield p


@pytest.fixture
def server(make_settings, serve_app, provider):
    s = make_settings(
        dev_mode=False,
        oidc_issuer=provider.issuer,
        oidc_client_id=provider.client_id,
        oidc_client_secret=provider.client_secret,
        oidc_redirect_uri=REDIRECT,
    )
    return serve_app(create_app(s))


def _authorize(srv, hint: str, **login_params) -> tuple[httpx.Client, dict[str, str], dict[str, str]]:
    """Browser steps: /auth/login -> provider /authorize -> the redirect back. Returns the callback query."""
    c = httpx.Client(base_url=srv.url, timeout=10)
    r = c.get("/auth/login", params=login_params, follow_redirects=False)
    assert r.status_code == 302, r.text
    loc = r.headers["location"]
    q = {k: v[0] for k, v in parse_qs(urlparse(loc).query).items()}
    r2 = httpx.get(f"{loc}&login_hint={hint}", follow_redirects=False, timeout=10)
    assert r2.status_code == 302, r2.text
    back = urlparse(r2.headers["location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == REDIRECT
    return c, q, {k: v[0] for k, v in parse_qs(back.query).items()}


def _login(srv, hint: str) -> dict:
    c, _, cb = _authorize(srv, hint)
    r = c.get("/auth/callback", params=cb)
    assert r.status_code == 200, r.text
    return r.json()


def _me(srv, token: str) -> httpx.Response:
    return httpx.get(f"{srv.url}/auth/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)


def test_login_redirect_has_pkce_state_and_nonce(server, provider):
    _, q, cb = _authorize(server, "alice")
    assert q["response_type"] == "code" and q["client_id"] == provider.client_id
    assert q["code_challenge_method"] == "S256" and len(q["code_challenge"]) == 43
    assert q["state"] and q["nonce"] and q["redirect_uri"] == REDIRECT
    assert "openid" in q["scope"].split()
    assert cb["state"] == q["state"] and cb["code"]


def test_full_flow_admin(server, provider):
    body = _login(server, "alice")
    assert set(body) == {"access_token", "token_type", "expires_in", "user"}
    assert body["token_type"] == "Bearer" and 3000 < body["expires_in"] <= 3600
    assert body["user"] == {
        "id": "alice",
        "email": "alice@example.com",
        "name": "Alice Admin",
        "role": "admin",
        "roles": ["admin"],
        "studio_id": None,
    }
    tok = body["access_token"]
    assert jwt.decode(tok, options={"verify_signature": False})["aud"] == f"api://{provider.client_id}"
    r = _me(server, tok)
    assert r.status_code == 200 and r.json()["role"] == "admin"
    r = httpx.post(
        f"{server.url}/api/studios/",
        json={"name": "From OIDC"},
        headers={"Authorization": f"Bearer {tok}"},
        timeout=10,
    )
    assert r.status_code == 201


def test_full_flow_studio_user(server):
    body = _login(server, "sam")
    assert body["user"]["role"] == "studio" and body["user"]["studio_id"] == "studio-a"
    r = httpx.post(
        f"{server.url}/api/studios/",
        json={"name": "nope"},
        headers={"Authorization": f"Bearer {body['access_token']}"},
        timeout=10,
    )
    assert r.status_code == 403 and r.json() == {"detail": "Admin access required"}


def test_state_is_single_use_and_checked(server):
    c, _, cb = _authorize(server, "alice")
    assert c.get("/auth/callback", params=cb).status_code == 200
    again = c.get("/auth/callback", params=cb)
    assert again.status_code == 400 and again.json() == {"detail": "Invalid or expired login state"}
    forged = c.get("/auth/callback", params={"code": "x", "state": "forged"})
    assert forged.status_code == 400 and "state" in forged.json()["detail"]
    missing = c.get("/auth/callback", params={"state": "s"})
    assert missing.status_code == 400 and missing.json() == {"detail": "Missing authorization code"}
    denied = c.get("/auth/callback", params={"error": "access_denied", "error_description": "user said no"})
    assert denied.status_code == 400 and "access_denied" in denied.json()["detail"]


def test_code_from_another_login_is_refused(server):
    """A code bound to one PKCE challenge cannot finish another login (state/verifier mismatch)."""
    c1, _, cb1 = _authorize(server, "alice")
    _, _, cb2 = _authorize(server, "sam")
    r = c1.get("/auth/callback", params={"code": cb1["code"], "state": cb2["state"]})
    assert r.status_code == 400 and "PKCE" in r.json()["detail"]


def test_return_to_puts_token_in_fragment(server):
    c, _, cb = _authorize(server, "alice", return_to="/studio/")
    r = c.get("/auth/callback", params=cb, follow_redirects=False)
    assert r.status_code == 302
    loc = r.headers["location"]
    assert loc.startswith("/studio/#access_token=")
    tok = parse_qs(urlparse(loc).fragment)["access_token"][0]
    assert _me(server, tok).status_code == 200
    bad = httpx.get(f"{server.url}/auth/login", params={"return_to": "https://evil.example/"}, timeout=10)
    assert bad.status_code == 400 and "detail" in bad.json()


@pytest.mark.parametrize(
    ("kwargs", "detail"),
    [
        ({"exp_in": -3600}, "Token expired"),
        ({"aud": "some-other-api"}, "Token audience is not accepted"),
        ({"foreign_key": True}, "Token signature is invalid"),
        ({"iss": "https://evil.example/"}, "Token issuer is not accepted"),
        ({"kid": "unknown-kid"}, "Token signed with an unknown key"),
    ],
    ids=["expired", "wrong-audience", "bad-signature", "wrong-issuer", "unknown-kid"],
)
def test_bad_tokens_are_refused(server, provider, kwargs, detail):
    tok = provider.mint({"sub": "alice", "roles": ["admin"]}, **kwargs)
    r = _me(server, tok)
    assert r.status_code == 401
    assert r.json() == {"detail": detail}
    r = httpx.get(f"{server.url}/api/recorders/", headers={"Authorization": f"Bearer {tok}"}, timeout=10)
    assert r.status_code == 401


def test_unsigned_and_hmac_tokens_are_refused(server, provider):
    now = int(time.time())
    claims = {
        "iss": provider.issuer,
        "aud": f"api://{provider.client_id}",
        "exp": now + 600,
        "sub": "x",
        "roles": ["admin"],
    }
    none_tok = jwt.encode(claims, key=None, algorithm="none")
    hs_tok = jwt.encode(claims, key="k" * 32, algorithm="HS256", headers={"kid": provider.kid})
    for tok in (none_tok, hs_tok, "not-a-jwt", "a.b.c"):
        assert _me(server, tok).status_code == 401


def test_no_credentials_and_valid_token(server, provider):
    r = httpx.get(f"{server.url}/auth/me", timeout=10)
    assert r.status_code == 401 and r.json() == {"detail": "Not authenticated"}
    tok = provider.mint({"sub": "bob", "roles": ["Audyn.Studio"], "studio_id": "studio-b", "name": "Bob"})
    r = _me(server, tok)
    assert r.status_code == 200
    assert r.json() == {
        "id": "bob",
        "email": None,
        "name": "Bob",
        "role": "studio",
        "roles": ["studio"],
        "studio_id": "studio-b",
    }


def test_user_without_role_is_forbidden(server):
    body = _login(server, "nora")
    tok = body["access_token"]
    me = _me(server, tok)
    assert me.status_code == 200 and me.json()["roles"] == []
    r = httpx.get(f"{server.url}/api/recorders/", headers={"Authorization": f"Bearer {tok}"}, timeout=10)
    assert r.status_code == 403 and r.json() == {"detail": "No role assigned to this user"}


def test_logout_revokes_the_token(server, provider):
    tok = _login(server, "alice")["access_token"]
    r = httpx.post(f"{server.url}/auth/logout", headers={"Authorization": f"Bearer {tok}"}, timeout=10)
    assert r.status_code == 200
    assert r.json() == {"message": "Logged out", "logout_url": f"{provider.issuer}/logout"}
    r = _me(server, tok)
    assert r.status_code == 401 and r.json() == {"detail": "Token has been revoked (logged out)"}
    assert httpx.post(f"{server.url}/auth/logout", timeout=10).status_code == 401


def test_jwks_is_cached(server, provider):
    before = provider.jwks_requests
    tok = provider.mint({"sub": "alice", "roles": ["admin"]})
    for _ in range(5):
        assert _me(server, tok).status_code == 200
    assert provider.jwks_requests - before <= 1


def test_login_not_configured_in_production(make_settings, serve_app):
    srv = serve_app(create_app(make_settings(dev_mode=False)))
    r = httpx.get(f"{srv.url}/auth/login", follow_redirects=False, timeout=10)
    assert r.status_code == 503 and r.json() == {"detail": "OIDC login is not configured"}


def test_role_and_studio_mapping():
    cfg = OIDCConfig(
        issuer="https://idp.example",
        client_id="c",
        admin_group="grp-admins",
        studio_map={"carol@example.com": "studio-c", "grp-d": "studio-d"},
    )
    p = principal_from_claims({"sub": "u1", "groups": ["grp-admins"]}, cfg)
    assert p.role == "admin" and p.is_admin
    p = principal_from_claims({"sub": "u2", "roles": ["studio"], "email": "Carol@example.com"}, cfg)
    assert p.role == "studio" and p.studio_id == "studio-c"
    p = principal_from_claims({"sub": "u3", "roles": ["studio"], "groups": ["grp-d"]}, cfg)
    assert p.studio_id == "studio-d"
    p = principal_from_claims({"sub": "u4", "roles": ["studio"], "studio_id": "studio-x"}, cfg)
    assert p.studio_id == "studio-x"
    p = principal_from_claims({"oid": "o5", "sub": "s5", "roles": "Audyn.Admin"}, cfg)
    assert p.role == "admin" and p.id == "o5"
    assert principal_from_claims({"sub": "u6"}, cfg).role == "none"


def test_entra_id_is_the_default_issuer():
    class S:
        oidc_tenant_id = "tenant-123"
        oidc_client_id = "app-1"

    cfg = OIDCConfig.from_settings(S())
    assert cfg.issuer == "https://login.microsoftonline.com/tenant-123/v2.0"
    assert "https://sts.windows.net/tenant-123/" in cfg.issuers
    assert set(cfg.audiences) == {"app-1", "api://app-1"}
