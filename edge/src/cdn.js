// The CDN: `/`, `/wasm`, `/wasm/*`, `/mixer/*`, `/studio/*` through the Workers Cache API.
//
// One cache entry per (URL, negotiated encoding): the key carries the encoding the edge chose
// (br > gzip > identity, by the client's q-values), and the origin is asked for exactly that
// encoding, so the stored bytes are the origin's precompressed file and are never recompressed.
//
// * Fresh entries (`immutable` or `max-age` > 0, i.e. the content-hashed bundle files and /wasm)
//   are served without asking any origin until they expire.
// * `no-cache` entries (manifest.json, aimixer.js, the pages) are revalidated on each use: with
//   `If-None-Match` when the origin gave an ETag (a 304 costs the origin no body), else refetched.
//   When no origin answers, the stored copy is served (`X-AIMixer-Cache: STALE`).
// * The edge answers `If-None-Match` itself (304), from the entry's ETag. Pages that come without
//   one get a strong ETag made from a SHA-256 of their bytes.
// * `no-store`, `private`, `Set-Cookie`, non-200 answers and requests carrying credentials
//   (Authorization or Cookie, unless the origin says `public`) are never stored.
// * A request from another site's page (an `Origin` other than the edge's own) passes the cache
//   by: the origin's answer names that site or not (its `cors_origins`), and one stored copy
//   cannot carry the right answer for every site. Such pages load the SDK's few modules (their
//   wasm path needs a same-origin worker), and the browser's own cache keeps them (`Vary: Origin`).
//
// The stored copy keeps the origin's own Cache-Control in `x-edge-cache-control` and is put
// with a long max-age, since the edge decides freshness itself (`x-edge-stored-at`, `x-edge-ttl`);
// its Content-Encoding is kept aside too (`x-edge-content-encoding`), so a hit is sent byte for
// byte as the origin encoded it, never decoded and compressed again.

import { withIsolation } from "./errors.js";
import { clientAcceptEncoding, tryOrigins, upstreamHeaders } from "./proxy.js";

const MAX_TTL_S = 365 * 24 * 3600;
const MAX_HASHED_PAGE = 4 * 1024 * 1024;
const INTERNAL = [
  "x-edge-stored-at",
  "x-edge-ttl",
  "x-edge-cache-control",
  "x-edge-made-etag",
  "x-edge-content-encoding",
];

export function isCdnPath(path) {
  return (
    path === "/" ||
    path === "/index.html" ||
    path === "/wasm" ||
    path.startsWith("/wasm/") ||
    path === "/mixer" ||
    path.startsWith("/mixer/") ||
    path === "/studio" ||
    path.startsWith("/studio/")
  );
}

/** "br", "gzip" or "identity" from an Accept-Encoding header (ties prefer brotli). */
export function negotiate(accept) {
  if (!accept) return "identity";
  const q = new Map();
  for (const part of accept.slice(0, 1024).split(",")) {
    const bits = part.split(";").map((b) => b.trim());
    const name = bits[0].toLowerCase();
    if (!name) continue;
    let w = 1;
    for (const b of bits.slice(1)) {
      if (b.toLowerCase().startsWith("q=")) {
        const n = Number(b.slice(2));
        w = Number.isFinite(n) ? n : 0;
      }
    }
    q.set(name, w);
  }
  let best = "identity";
  let bestQ = 0;
  for (const enc of ["br", "gzip"]) {
    const w = q.has(enc) ? q.get(enc) : q.has("*") ? q.get("*") : 0;
    if (w > bestQ) {
      best = enc;
      bestQ = w;
    }
  }
  return best;
}

function directives(cc) {
  const out = new Map();
  for (const part of (cc || "").toLowerCase().split(",")) {
    const [k, v] = part.trim().split("=");
    if (k) out.set(k, v === undefined ? true : v.replace(/"/g, ""));
  }
  return out;
}

/** Seconds the edge may serve a stored copy without asking (0 = revalidate on every use). */
function freshFor(cc) {
  const d = directives(cc);
  if (d.has("no-cache")) return 0;
  const v = Number(d.get("s-maxage") ?? d.get("max-age") ?? 0);
  return Number.isFinite(v) && v > 0 ? Math.min(v, MAX_TTL_S) : 0;
}

function storable(resp, credentialed) {
  if (resp.status !== 200) return false;
  const d = directives(resp.headers.get("cache-control"));
  if (d.has("no-store") || d.has("private")) return false;
  if (resp.headers.has("set-cookie")) return false;
  if ((resp.headers.get("vary") || "").includes("*")) return false;
  return !credentialed || d.has("public");
}

function etagMatches(header, etag) {
  if (!header || !etag) return false;
  if (header.trim() === "*") return true;
  const strip = (t) => t.trim().replace(/^W\//, "");
  const mine = strip(etag);
  return header.split(",").some((t) => strip(t) === mine);
}

async function sha256Tag(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return `"e-${[...digest.slice(0, 16)].map((b) => b.toString(16).padStart(2, "0")).join("")}"`;
}

/** The answer to the client from a stored or fresh response (304 when its ETag matches). */
function answer(req, resp, status, originName) {
  const headers = new Headers(resp.headers);
  const original = headers.get("x-edge-cache-control");
  if (original !== null) headers.set("Cache-Control", original);
  const encoding = headers.get("x-edge-content-encoding");
  if (encoding) headers.set("Content-Encoding", encoding);
  for (const k of INTERNAL) headers.delete(k);
  headers.delete("cf-cache-status");
  headers.delete("age");
  headers.set("X-AIMixer-Cache", status);
  if (originName) headers.set("X-AIMixer-Origin", originName);
  withIsolation(headers);
  if (etagMatches(req.headers.get("if-none-match"), headers.get("etag"))) {
    for (const k of ["content-length", "content-encoding", "content-type"]) headers.delete(k);
    resp.body?.cancel().catch(() => {});
    return new Response(null, { status: 304, headers });
  }
  const body = req.method === "HEAD" ? null : resp.body;
  if (body === null) resp.body?.cancel().catch(() => {});
  return new Response(body, { status: resp.status, headers, encodeBody: "manual" });
}

/** Headers for storing `resp`: ours added, its own Cache-Control kept aside. */
function storedHeaders(resp, ttl, madeEtag) {
  const h = new Headers(resp.headers);
  h.set("x-edge-cache-control", resp.headers.get("cache-control") || "");
  h.set("Cache-Control", `public, max-age=${MAX_TTL_S}`);
  h.set("x-edge-stored-at", String(Date.now()));
  h.set("x-edge-ttl", String(ttl));
  if (madeEtag) h.set("x-edge-made-etag", "1");
  // stored without Content-Encoding, so the Cache API hands the bytes back as they are (it would
  // decode them, and workerd would compress them again on every hit)
  const encoding = h.get("content-encoding");
  if (encoding) {
    h.set("x-edge-content-encoding", encoding);
    h.delete("content-encoding");
  }
  h.delete("set-cookie");
  return h;
}

/** Serve a GET/HEAD on a CDN path. */
export async function serveCdn(edge, req, url) {
  // Cloudflare (and Miniflare) rewrite Accept-Encoding to "br, gzip" before the worker runs and
  // keep the client's own header in request.cf.clientAcceptEncoding
  const enc = negotiate(clientAcceptEncoding(req));
  const credentialed = req.headers.has("authorization") || req.headers.has("cookie");
  const site = req.headers.get("origin");
  const crossSite = site !== null && site !== url.origin;
  const keyUrl = new URL(url);
  keyUrl.searchParams.delete("region");
  keyUrl.searchParams.set("__edge_enc", enc);
  const key = new Request(keyUrl.toString(), { method: "GET" });
  const cache = caches.default;
  const target = keyUrl.pathname + (() => {
    const u = new URL(keyUrl);
    u.searchParams.delete("__edge_enc");
    const q = u.searchParams.toString();
    return q ? `?${q}` : "";
  })();

  const headers = upstreamHeaders(req, edge.rid, url);
  headers.set("Accept-Encoding", enc);
  headers.delete("if-none-match");
  headers.delete("if-modified-since");
  headers.delete("range");

  if (crossSite) {
    const res = await tryOrigins(edge, target, { method: "GET", headers });
    if (res.error) return res.error;
    return answer(req, withOrigin(res.response, res.origin), "BYPASS", res.origin.name);
  }
  const cached = credentialed ? undefined : await cache.match(key);
  if (cached) {
    const storedAt = Number(cached.headers.get("x-edge-stored-at") || 0);
    const ttl = Number(cached.headers.get("x-edge-ttl") || 0);
    const from = cached.headers.get("x-aimixer-origin");
    if (ttl > 0 && Date.now() - storedAt < ttl * 1000) return answer(req, cached, "HIT", from);
    const made = cached.headers.has("x-edge-made-etag");
    const etag = cached.headers.get("etag");
    if (etag && !made) headers.set("If-None-Match", etag);
    const res = await tryOrigins(edge, target, { method: "GET", headers });
    if (res.error) return answer(req, cached, "STALE", from);
    if (res.response.status === 304) {
      res.response.body?.cancel().catch(() => {});
      return answer(req, cached, "REVALIDATED", res.origin.name);
    }
    if (made && res.response.status === 200) {
      // a page without validators: unchanged bytes mean an unchanged page
      const bytes = new Uint8Array(await res.response.arrayBuffer());
      if ((await sha256Tag(bytes)) === etag) {
        return answer(req, cached, "REVALIDATED", res.origin.name);
      }
      return store(edge, req, key, new Response(bytes, res.response), res.origin, credentialed, "MISS");
    }
    cached.body?.cancel().catch(() => {});
    return store(edge, req, key, res.response, res.origin, credentialed, "MISS");
  }
  const res = await tryOrigins(edge, target, { method: "GET", headers });
  if (res.error) return res.error;
  return store(edge, req, key, res.response, res.origin, credentialed, credentialed ? "BYPASS" : "MISS");
}

async function store(edge, req, key, resp, origin, credentialed, status) {
  if (!storable(resp, credentialed)) return answer(req, withOrigin(resp, origin), "BYPASS", origin.name);
  const ttl = freshFor(resp.headers.get("cache-control"));
  let made = false;
  let r = withOrigin(resp, origin);
  if (!r.headers.has("etag")) {
    const bytes = new Uint8Array(await r.arrayBuffer());
    if (bytes.byteLength > MAX_HASHED_PAGE) {
      return answer(req, new Response(bytes, r), "BYPASS", origin.name);
    }
    const h = new Headers(r.headers);
    h.set("ETag", await sha256Tag(bytes));
    r = new Response(bytes, { status: r.status, headers: h, encodeBody: "manual" });
    made = true;
  }
  const [a, b] = r.body ? r.body.tee() : [null, null];
  const copy = new Response(b, { status: 200, headers: storedHeaders(r, ttl, made), encodeBody: "manual" });
  edge.ctx.waitUntil(caches.default.put(key, copy).catch(() => {}));
  return answer(req, new Response(a, { status: r.status, headers: r.headers, encodeBody: "manual" }), status, origin.name);
}

function withOrigin(resp, origin) {
  const h = new Headers(resp.headers);
  h.set("X-AIMixer-Origin", origin.name);
  return new Response(resp.body, { status: resp.status, headers: h, encodeBody: "manual" });
}
