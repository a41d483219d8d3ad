// Forwarding to the origins: region order, failover, and pass-through of streams.
//
// * Retryable requests (GET, HEAD, OPTIONS, PUT, DELETE, and the small POSTs /process-audio,
//   /extract-features, /classify-genre) are buffered (at most MAX_BUFFER_BYTES) and tried on each
//   origin in turn: a refused or reset connection, a timeout before the answer's headers, a
//   502/503/504, or a break while reading a small answer (at most 1 MiB, read whole before it is
//   passed on) moves on to the next origin.
// * Everything else (other POSTs, /stream-audio) is streamed to one origin, never buffered. If the
//   upstream breaks while an SSE answer is streaming, the client gets the spec's `error` event.
// * WebSocket upgrades (/ws, /ws/levels) are relayed message by message, so a broken upstream ends
//   the client's socket with a proper close code (1011) and, on the mixer's /ws, an error message.
//
// Every proxied answer carries `X-AIMixer-Origin: <name>`. The edge logs nothing about requests.

import { errorResponse, isStudioPath, mixerError, withIsolation } from "./errors.js";
import { errText } from "./health.js";

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
  "content-length",
]);
// what a caller says of its own address is never passed on: the origin reads X-Forwarded-For
// (from a trusted_proxies address), which the edge sets from CF-Connecting-IP alone
const CLIENT_CLAIMS = new Set(["x-forwarded-for", "forwarded", "x-real-ip"]);
const RETRY_STATUS = new Set([502, 503, 504]);
// answers of retryable API requests up to this size (with a Content-Length) are read whole before
// they are passed on; bigger or open-ended ones (previews, downloads) stream
const MAX_BUFFERED_ANSWER = 1024 * 1024;
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]);
const BUFFERED_POSTS = new Set(["/process-audio", "/extract-features", "/classify-genre"]);
const WS_PASS_HEADERS = ["sec-websocket-protocol", "x-request-id", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"];

function bare(path) {
  return path.startsWith("/v1/") ? path.slice(3) : path;
}

export function isRetryable(method, path) {
  return IDEMPOTENT.has(method) || (method === "POST" && BUFFERED_POSTS.has(bare(path)));
}

/** The client's own Accept-Encoding: Cloudflare (and Miniflare) rewrite the header to "br, gzip"
 * before the worker runs and keep the original in request.cf.clientAcceptEncoding. */
export function clientAcceptEncoding(req) {
  const cf = req.cf && req.cf.clientAcceptEncoding;
  return typeof cf === "string" ? cf : req.headers.get("accept-encoding");
}

/** The request headers sent upstream: the client's, minus hop-by-hop ones, plus forwarding info. */
export function upstreamHeaders(req, rid, url) {
  const h = new Headers();
  for (const [k, v] of req.headers) {
    if (!HOP_BY_HOP.has(k) && !CLIENT_CLAIMS.has(k) && !k.startsWith("cf-")) h.set(k, v);
  }
  h.set("X-Request-Id", rid);
  // the client's own encodings; without any, workerd would ask for "br, gzip" on its behalf
  h.set("Accept-Encoding", clientAcceptEncoding(req) || "identity");
  const ip = req.headers.get("cf-connecting-ip");
  if (ip) h.set("X-Forwarded-For", ip);
  h.set("X-Forwarded-Host", url.host);
  h.set("X-Forwarded-Proto", url.protocol.replace(":", ""));
  return h;
}

/** The origin's response with our headers, its body passed on byte for byte. */
export function decorate(resp, origin, extra = {}) {
  const headers = new Headers(resp.headers);
  headers.set("X-AIMixer-Origin", origin.name);
  for (const [k, v] of Object.entries(extra)) headers.set(k, v);
  withIsolation(headers);
  return new Response(resp.body, { status: resp.status, statusText: resp.statusText, headers, encodeBody: "manual" });
}

/** Read a request body of at most `max` bytes; null when it is larger. */
async function readBounded(req, max) {
  const declared = req.headers.get("content-length");
  if (declared !== null && Number(declared) > max) return null;
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  const parts = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => {});
      return null;
    }
    parts.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** fetch() with a time limit on the answer's headers only (a long body may take its time). */
async function fetchHeadersWithin(target, init, ms) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(new DOMException("timed out", "TimeoutError")), ms);
  try {
    return await fetch(target, { ...init, signal: ctl.signal });
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Try the origins in `edge.order` for a buffered request. Returns {response, origin} with the
 * first good (or last) answer, or {error} (a 503 Response) when no origin answered at all.
 */
export async function tryOrigins(edge, pathAndQuery, init, { bufferUpTo = 0 } = {}) {
  const tried = [];
  const order = edge.order;
  for (let i = 0; i < order.length; i++) {
    const origin = order[i];
    const last = i === order.length - 1;
    let resp;
    try {
      resp = await fetchHeadersWithin(
        origin.url + pathAndQuery,
        { ...init, redirect: "manual", encodeResponseBody: "manual" },
        edge.cfg.upstreamTimeoutMs,
      );
    } catch (e) {
      const err = errText(e);
      tried.push({ origin: origin.name, error: err });
      edge.health.failed(edge.env, edge.ctx, edge.cfg, origin, err);
      continue;
    }
    if (RETRY_STATUS.has(resp.status)) {
      edge.health.failed(edge.env, edge.ctx, edge.cfg, origin, `HTTP ${resp.status}`);
      if (!last) {
        tried.push({ origin: origin.name, error: `HTTP ${resp.status}` });
        await resp.body?.cancel().catch(() => {});
        continue;
      }
    } else if (resp.body && bufferUpTo > 0 && Number(resp.headers.get("content-length") ?? Infinity) <= bufferUpTo) {
      // a small answer is read whole before the client sees it, so an origin that dies while
      // sending it is one more failure to fail over from, not a truncated answer
      let bytes;
      try {
        bytes = await resp.arrayBuffer();
      } catch (e) {
        const err = errText(e);
        tried.push({ origin: origin.name, error: err });
        edge.health.failed(edge.env, edge.ctx, edge.cfg, origin, err);
        continue;
      }
      edge.health.succeeded(origin);
      const copy = new Response(bytes, { status: resp.status, statusText: resp.statusText, headers: resp.headers, encodeBody: "manual" });
      return { response: copy, origin, tried };
    } else {
      edge.health.succeeded(origin);
    }
    return { response: resp, origin, tried };
  }
  return { error: unavailable(edge, tried), tried };
}

/** 503 SERVICE_UNAVAILABLE in the path's error shape: no origin could be reached. */
export function unavailable(edge, tried) {
  return errorResponse(
    edge.path,
    503,
    "SERVICE_UNAVAILABLE",
    "No origin is reachable from the edge; try again shortly",
    { tried, region: edge.region },
    edge.rid,
    { "Retry-After": "1" },
  );
}

function targetOf(url) {
  const u = new URL(url);
  u.searchParams.delete("region");
  const q = u.searchParams.toString();
  return u.pathname + (q ? `?${q}` : "");
}

/** Proxy an ordinary HTTP request (buffered and retried, or streamed to one origin). */
export async function proxyHttp(edge, req, url) {
  const headers = upstreamHeaders(req, edge.rid, url);
  const target = targetOf(url);
  if (isRetryable(req.method, url.pathname)) {
    let body;
    if (req.method !== "GET" && req.method !== "HEAD") {
      body = await readBounded(req, edge.cfg.maxBufferBytes);
      if (body === null) {
        return errorResponse(
          url.pathname,
          413,
          "PAYLOAD_TOO_LARGE",
          `request body larger than ${edge.cfg.maxBufferBytes} bytes`,
          { limit: edge.cfg.maxBufferBytes },
          edge.rid,
        );
      }
    }
    const res = await tryOrigins(edge, target, { method: req.method, headers, body }, { bufferUpTo: MAX_BUFFERED_ANSWER });
    if (res.error) return res.error;
    return decorate(res.response, res.origin);
  }
  // streamed: one origin, the first in order
  const origin = edge.order[0];
  let resp;
  try {
    resp = await fetch(origin.url + target, {
      method: req.method,
      headers,
      body: req.body,
      redirect: "manual",
      encodeResponseBody: "manual",
    });
  } catch (e) {
    const err = errText(e);
    edge.health.failed(edge.env, edge.ctx, edge.cfg, origin, err);
    return unavailable(edge, [{ origin: origin.name, error: err }]);
  }
  if (RETRY_STATUS.has(resp.status)) edge.health.failed(edge.env, edge.ctx, edge.cfg, origin, `HTTP ${resp.status}`);
  else edge.health.succeeded(origin);
  const ctype = resp.headers.get("content-type") || "";
  if (resp.body && ctype.startsWith("text/event-stream")) {
    return decorate(new Response(sseGuard(edge, resp.body, origin), resp), origin);
  }
  return decorate(resp, origin);
}

/** Pass an SSE body through; if the upstream breaks, end it with the spec's `error` event. */
function sseGuard(edge, body, origin) {
  const reader = body.getReader();
  const enc = new TextEncoder();
  return new ReadableStream({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (e) {
        edge.health.failed(edge.env, edge.ctx, edge.cfg, origin, errText(e));
        const err = mixerError(
          "SERVICE_UNAVAILABLE",
          "The origin connection was lost during the stream",
          { origin: origin.name },
          edge.rid,
        );
        controller.enqueue(enc.encode(`\n\nevent: error\ndata: ${JSON.stringify(err)}\n\n`));
        controller.close();
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

function sendableCode(code) {
  // 1005/1006/1015 are reserved for "no status"/"abnormal"/"TLS": they cannot be sent
  if (code === 1005) return 1000;
  if (code === 1006 || code === 1015 || !code) return 1011;
  return code;
}

/** Relay a WebSocket: handshake with failover, then message by message in both directions. */
export async function proxyWebSocket(edge, req, url) {
  const headers = upstreamHeaders(req, edge.rid, url);
  headers.set("Upgrade", "websocket");
  const target = targetOf(url);
  const tried = [];
  const order = edge.order;
  for (let i = 0; i < order.length; i++) {
    const origin = order[i];
    let resp;
    try {
      resp = await fetchHeadersWithin(origin.url + target, { headers }, edge.cfg.upstreamTimeoutMs);
    } catch (e) {
      const err = errText(e);
      tried.push({ origin: origin.name, error: err });
      edge.health.failed(edge.env, edge.ctx, edge.cfg, origin, err);
      continue;
    }
    if (resp.status !== 101 || !resp.webSocket) {
      if (RETRY_STATUS.has(resp.status) && i < order.length - 1) {
        edge.health.failed(edge.env, edge.ctx, edge.cfg, origin, `HTTP ${resp.status}`);
        tried.push({ origin: origin.name, error: `HTTP ${resp.status}` });
        continue;
      }
      return decorate(resp, origin); // a refused handshake: the origin's own error answer
    }
    edge.health.succeeded(origin);
    return relay(edge, url, resp, origin);
  }
  return unavailable(edge, tried);
}

function relay(edge, url, upstreamResp, origin) {
  const upstream = upstreamResp.webSocket;
  const pair = new WebSocketPair();
  const client = pair[0];
  const server = pair[1];
  upstream.accept();
  server.accept();
  const studio = isStudioPath(url.pathname);
  let closed = false;
  const closeBoth = (code, reason) => {
    if (closed) return;
    closed = true;
    try {
      server.close(code, reason);
    } catch {}
    try {
      upstream.close(code === 1011 ? 1001 : code, reason);
    } catch {}
  };
  const lost = (why) => {
    if (closed) return;
    edge.health.failed(edge.env, edge.ctx, edge.cfg, origin, why);
    if (!studio) {
      try {
        server.send(
          JSON.stringify({
            type: "error",
            id: null,
            ...mixerError("SERVICE_UNAVAILABLE", "The origin connection was lost", { origin: origin.name }, edge.rid),
          }),
        );
      } catch {}
    }
    closeBoth(1011, "origin connection lost");
  };
  server.addEventListener("message", (ev) => {
    try {
      upstream.send(ev.data);
    } catch {
      lost("send to origin failed");
    }
  });
  upstream.addEventListener("message", (ev) => {
    try {
      server.send(ev.data);
    } catch {
      closeBoth(1000, "");
    }
  });
  server.addEventListener("close", (ev) => closeBoth(sendableCode(ev.code), ev.reason || ""));
  server.addEventListener("error", () => closeBoth(1000, ""));
  upstream.addEventListener("close", (ev) => {
    if (ev.code === 1006 || !ev.wasClean) lost(`closed abnormally (${ev.code})`);
    else closeBoth(sendableCode(ev.code), ev.reason || "");
  });
  upstream.addEventListener("error", () => lost("websocket error"));
  const headers = new Headers({ "X-AIMixer-Origin": origin.name });
  for (const k of WS_PASS_HEADERS) {
    const v = upstreamResp.headers.get(k);
    if (v) headers.set(k, v);
  }
  return new Response(null, { status: 101, webSocket: client, headers });
}
