"""A caller without a credential is rate-limited by its address. Behind the edge every caller
arrives from the edge's address, so with ``trusted_proxies`` the origin takes the caller's
address from X-Forwarded-For, and only from a trusted peer: a caller cannot pick its own bucket."""

from __future__ import annotations

import ipaddress

import httpx
import pytest

from origin.config import ConfigError, trusted_networks
from origin.mixer_api.admission import MAX_FORWARDED_CHARS, client_address

LOCAL = trusted_networks("127.0.0.0/8, ::1")


@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        ("127.0.0.1", "203.0.113.7", "203.0.113.7"),  # the edge names the caller
        ("127.0.0.1", "198.51.100.1, 203.0.113.7", "203.0.113.7"),  # the right-most untrusted hop
        ("127.0.0.1", "198.51.100.1, 203.0.113.7, 127.0.0.5", "203.0.113.7"),  # trusted hops skipped
        ("127.0.0.1", " 2001:db8::1 ", "2001:db8::1"),
        ("::ffff:127.0.0.1", "203.0.113.7", "203.0.113.7"),  # an IPv4 peer on a dual-stack socket
        ("192.0.2.9", "203.0.113.7", "192.0.2.9"),  # not a trusted peer: its claim is ignored
        ("127.0.0.1", None, "127.0.0.1"),
        ("127.0.0.1", "", "127.0.0.1"),
        ("127.0.0.1", "not-an-ip", "127.0.0.1"),  # malformed: the peer is the best address known
        ("127.0.0.1", "203.0.113.7, junk, 127.0.0.2", "127.0.0.2"),  # not read past a bad hop
        ("127.0.0.1", "203.0.113.7:443", "127.0.0.1"),
        ("127.0.0.1", "1" * (MAX_FORWARDED_CHARS + 1), "127.0.0.1"),  # over-long: not read
        ("127.0.0.1", ",".join(["127.0.0.3"] * 10), "127.0.0.3"),  # only proxies: the left-most
        (None, "203.0.113.7", "unknown"),
    ],
)
def test_client_address(remote, forwarded, expected):
    assert client_address(remote, forwarded, LOCAL) == expected


def test_without_trusted_proxies_the_header_is_ignored():
    assert client_address("127.0.0.1", "203.0.113.7", ()) == "127.0.0.1"


def test_trusted_proxies_setting_is_checked(make_settings):
    assert make_settings(trusted_proxies="10.0.0.0/8, 127.0.0.1").trusted_proxies == "10.0.0.0/8, 127.0.0.1"
    assert trusted_networks("10.1.2.3/8") == (ipaddress.ip_network("10.0.0.0/8"),)
    with pytest.raises(ConfigError, match="'edge.local' is not an IP address or network"):
        make_settings(trusted_proxies="127.0.0.1, edge.local")


def _keyless(url: str, forwarded: str | None = None) -> httpx.Response:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return httpx.get(url + "/stats", headers=headers, timeout=10)


def test_keyless_callers_behind_a_trusted_proxy_have_their_own_buckets(make_settings, serve_app):
    from origin.app import create_app

    srv = serve_app(
        create_app(make_settings(dev_mode=False, rate_limit_standard=2, trusted_proxies="127.0.0.1"))
    )
    for _ in range(2):
        assert _keyless(srv.url, "203.0.113.7").status_code == 401
    r = _keyless(srv.url, "203.0.113.7")
    assert r.status_code == 403 and r.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    # another caller behind the same proxy still gets its own answer
    r = _keyless(srv.url, "198.51.100.1")
    assert r.status_code == 401 and r.headers["X-RateLimit-Remaining"] == "1"
    # the caller cannot escape by prepending a hop: the right-most untrusted address counts
    assert _keyless(srv.url, "192.0.2.1, 203.0.113.7").status_code == 403
    # the proxy's own requests (no header) are counted against the proxy
    assert _keyless(srv.url).headers["X-RateLimit-Remaining"] == "1"


def test_keyless_callers_share_the_peer_bucket_without_trusted_proxies(make_settings, serve_app):
    from origin.app import create_app

    srv = serve_app(create_app(make_settings(dev_mode=False, rate_limit_standard=2)))
    assert _keyless(srv.url, "203.0.113.7").status_code == 401
    assert _keyless(srv.url, "198.51.100.1").status_code == 401
    r = _keyless(srv.url, "192.0.2.1")  # a claimed address changes nothing: the peer's bucket is spent
    assert r.status_code == 403 and r.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
