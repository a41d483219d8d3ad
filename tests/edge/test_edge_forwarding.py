"""What the edge tells the origin about the caller (``upstreamHeaders`` in ``edge/src/proxy.js``,
run in Node): X-Forwarded-For comes from CF-Connecting-IP alone, which Cloudflare (and Miniflare,
when the caller sends none) sets; whatever the caller says of its own address is dropped, so an
origin that trusts the edge (``trusted_proxies``) cannot be told a made-up address."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from edgeenv import ROOT

pytestmark = pytest.mark.node

_SCRIPT = """
import { upstreamHeaders } from "./edge/src/proxy.js";
const out = [];
for (const headers of JSON.parse(process.argv[1])) {
  const req = new Request("https://edge.example/stats", { headers });
  out.push(Object.fromEntries(upstreamHeaders(req, "rid-1", new URL(req.url))));
}
console.log(JSON.stringify(out));
"""


def _upstream(*cases: dict[str, str]) -> list[dict[str, str]]:
    node = shutil.which("node")
    assert node is not None
    p = subprocess.run(
        [node, "--input-type=module", "-e", _SCRIPT, json.dumps(list(cases))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(p.stdout)


def test_the_callers_address_claims_are_dropped() -> None:
    claims = {"X-Forwarded-For": "198.51.100.1", "Forwarded": "for=198.51.100.1", "X-Real-IP": "198.51.100.1"}
    bare, named = _upstream(
        {**claims, "Accept": "application/json"}, {**claims, "CF-Connecting-IP": "203.0.113.7"}
    )
    for h in (bare, named):
        assert "forwarded" not in h and "x-real-ip" not in h
        assert h["x-request-id"] == "rid-1" and h["x-forwarded-proto"] == "https"
    assert "x-forwarded-for" not in bare and bare["accept"] == "application/json"
    assert named["x-forwarded-for"] == "203.0.113.7"
    assert "cf-connecting-ip" not in named
