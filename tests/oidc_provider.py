"""A real, minimal OIDC provider on loopback for tests (authorization code + PKCE).

It serves, over HTTP on ``127.0.0.1:<free port>``:

* ``/.well-known/openid-configuration`` (discovery)
* ``/jwks`` (its RSA public key, ``kid`` = ``test-key-1``)
* ``/authorize`` (auto-logs-in the user named by ``login_hint``, else the default user, and
  redirects to ``redirect_uri?code=...&state=...``; requires ``code_challenge_method=S256``)
* ``/token`` (``authorization_code`` grant: checks client id/secret, redirect URI, single use of
  the code and the PKCE verifier; returns an ``id_token`` for the client and an ``access_token``
  for ``api://{client_id}``, both RS256)
* ``/logout`` (end-session endpoint, a no-op)

:meth:`LocalOIDCProvider.mint` signs arbitrary tokens (optionally with a foreign key, a wrong
audience or an expiry in the past) for negative tests.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = ["LocalOIDCProvider"]


def _b64url_uint(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class LocalOIDCProvider:
    """See the module docstring. Use as a context manager or call :meth:`start`/:meth:`stop`."""

    def __init__(self, *, client_id: str = "studio-app", client_secret: str = "s3cret-value") -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.kid = "test-key-1"
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.foreign_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.users: dict[str, dict[str, Any]] = {}
        self.default_user: str | None = None
        self.codes: dict[str, dict[str, Any]] = {}
        self.jwks_requests = 0
        self.token_requests = 0
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LocalOIDCProvider:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _json(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                u = urlparse(self.path)
                q = {k: v[0] for k, v in parse_qs(u.query).items()}
                if u.path == "/.well-known/openid-configuration":
                    self._json(200, provider.discovery())
                elif u.path == "/jwks":
                    provider.jwks_requests += 1
                    self._json(200, provider.jwks())
                elif u.path == "/authorize":
                    status, location, err = provider.authorize(q)
                    if location:
                        self.send_response(302)
                        self.send_header("Location", location)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                    else:
                        self._json(status, {"error": err})
                elif u.path == "/logout":
                    self._json(200, {"ok": True})
                else:
                    self._json(404, {"error": "not_found"})

            def do_POST(self) -> None:  # noqa: N802
                u = urlparse(self.path)
                n = int(self.headers.get("Content-Length", "0") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(n).decode()).items()}
                if u.path == "/token":
                    provider.token_requests += 1
                    status, body = provider.token(form)
                    self._json(status, body)
                else:
                    self._json(404, {"error": "not_found"})

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="oidc-provider", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> LocalOIDCProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- users and tokens -----------------------------------------------------------------------
    def add_user(self, hint: str, claims: dict[str, Any], *, default: bool = False) -> None:
        """Register a user; ``claims`` go into its tokens (``sub`` defaults to ``hint``)."""
        self.users[hint] = {"sub": hint, **claims}
        if default or self.default_user is None:
            self.default_user = hint

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "end_session_endpoint": f"{self.issuer}/logout",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", "profile", "email"],
        }

    def jwks(self) -> dict[str, Any]:
        pub = self.key.public_key().public_numbers()
        return {
            "keys": [
                {
                    "kty": "RSA",
                    "use": "sig",
                    "alg": "RS256",
                    "kid": self.kid,
                    "n": _b64url_uint(pub.n),
                    "e": _b64url_uint(pub.e),
                }
            ]
        }

    def mint(
        self,
        claims: dict[str, Any],
        *,
        aud: str | None = None,
        exp_in: float = 3600,
        foreign_key: bool = False,
        kid: str | None = None,
        iss: str | None = None,
        alg: str = "RS256",
    ) -> str:
        """Sign a token with this provider's key (or a foreign one, same ``kid``)."""
        now = int(time.time())
        payload = {
            "iss": iss or self.issuer,
            "aud": aud or f"api://{self.client_id}",
            "iat": now,
            "nbf": now - 1,
            "exp": now + int(exp_in),
            **claims,
        }
        key = self.foreign_key if foreign_key else self.key
        return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid or self.kid})

    # -- endpoints ------------------------------------------------------------------------------
    def authorize(self, q: dict[str, str]) -> tuple[int, str | None, str | None]:
        if q.get("client_id") != self.client_id:
            return 400, None, "unauthorized_client"
        if q.get("response_type") != "code":
            return 400, None, "unsupported_response_type"
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return 400, None, "invalid_request: PKCE S256 required"
        if "openid" not in q.get("scope", "").split():
            return 400, None, "invalid_scope"
        redirect_uri = q.get("redirect_uri")
        if not redirect_uri:
            return 400, None, "invalid_request: redirect_uri"
        hint = q.get("login_hint") or self.default_user
        if hint not in self.users:
            return 400, None, "login_required"
        code = secrets.token_urlsafe(24)
        self.codes[code] = {
            "redirect_uri": redirect_uri,
            "challenge": q["code_challenge"],
            "nonce": q.get("nonce"),
            "user": self.users[hint],
            "at": time.time(),
        }
        sep = "&" if "?" in redirect_uri else "?"
        return 302, f"{redirect_uri}{sep}{urlencode({'code': code, 'state': q.get('state', '')})}", None

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if form.get("grant_type") != "authorization_code":
            return 400, {"error": "unsupported_grant_type"}
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return 401, {"error": "invalid_client"}
        entry = self.codes.pop(form.get("code", ""), None)
        if entry is None or time.time() - entry["at"] > 300:
            return 400, {"error": "invalid_grant", "error_description": "unknown or used code"}
        if form.get("redirect_uri") != entry["redirect_uri"]:
            return 400, {"error": "invalid_grant", "error_description": "redirect_uri mismatch"}
        verifier = form.get("code_verifier", "")
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if digest != entry["challenge"]:
            return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
        user = dict(entry["user"])
        id_claims = {**user}
        if entry["nonce"]:
            id_claims["nonce"] = entry["nonce"]
        id_token = self.mint(id_claims, aud=self.client_id)
        access_token = self.mint(user)
        return 200, {
            "access_token": access_token,
            "id_token": id_token,
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": "openid profile email",
        }
