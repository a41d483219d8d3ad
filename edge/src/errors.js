// Responses the edge makes itself: errors in the API's own shape, and the headers every response
// carries. The mixer API answers {"error": {code, message, details, timestamp, requestId}}; the
// studio API ({"detail": ...}) owns /api/, /auth/ and /ws/levels (with or without /v1), exactly as
// the origin decides it (origin/errors.py, STUDIO_PREFIXES).

export const ISOLATION_HEADERS = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
  "Cross-Origin-Resource-Policy": "same-origin",
  "X-Content-Type-Options": "nosniff",
};

const STUDIO_PREFIXES = ["/api/", "/auth/", "/ws/levels"];
const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;

export function isStudioPath(path) {
  const p = path.startsWith("/v1/") ? path.slice(3) : path;
  return STUDIO_PREFIXES.some((pre) => p.startsWith(pre) || p === pre.replace(/\/$/, ""));
}

/** The client's X-Request-Id when it is sane, else a fresh one. */
export function requestId(req) {
  const incoming = req.headers.get("X-Request-Id") || "";
  return REQUEST_ID_RE.test(incoming) ? incoming : `edge_${crypto.randomUUID().replace(/-/g, "")}`;
}

/** Add the cross-origin isolation headers where the response has none of its own. */
export function withIsolation(headers) {
  for (const [k, v] of Object.entries(ISOLATION_HEADERS)) {
    if (!headers.has(k)) headers.set(k, v);
  }
  return headers;
}

/** The mixer error object, as the origin builds it. */
export function mixerError(code, message, details, rid) {
  return { error: { code, message, details: details || {}, timestamp: Date.now(), requestId: rid } };
}

/** An error response in the shape the path's API uses. */
export function errorResponse(path, status, code, message, details, rid, extra = {}) {
  const body = isStudioPath(path) ? { detail: message } : mixerError(code, message, details, rid);
  const headers = withIsolation(new Headers({ "Content-Type": "application/json", "X-Request-Id": rid, ...extra }));
  return new Response(JSON.stringify(body), { status, headers });
}
