// Thin client for the studio REST API and the levels WebSocket.
// The token (OIDC access token or API key) lives in localStorage; dev mode needs none.

const TOKEN_KEY = "aimixer.studio.token";

export function getToken() {
  return localStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(token) {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
}

/** Pick up `#access_token=...` left by /auth/callback?return_to=... and clean the URL. */
export function takeTokenFromHash() {
  if (!location.hash.includes("access_token=")) return;
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get("access_token");
  if (token) setToken(token);
  history.replaceState(null, "", location.pathname + location.search);
}

export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
  }
}

export async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  let data = null;
  try {
    data = await resp.json();
  } catch {
    data = null;
  }
  if (!resp.ok) throw new ApiError(resp.status, (data && data.detail) || resp.statusText);
  return data;
}

/** A URL usable in <a href> / <audio src> (the token goes in the query: links cannot send headers). */
export function fileUrl(kind, path) {
  const enc = path.split("/").map(encodeURIComponent).join("/");
  const base = kind === "download" ? `/api/assets/download/${enc}` : `/api/stream/preview/${enc}`;
  const token = getToken();
  return token ? `${base}?token=${encodeURIComponent(token)}` : base;
}

/**
 * Live levels: reconnects with backoff, pings every 20 s, reports status changes.
 * onMessage receives parsed server messages (all_levels / keepalive / pong).
 */
export class LevelsSocket {
  constructor({ onMessage, onStatus }) {
    this.onMessage = onMessage;
    this.onStatus = onStatus;
    this.backoff = 500;
    this.closed = false;
    this.lastMessage = 0;
    this.connect();
    this.pinger = setInterval(() => this.ping(), 20000);
    this.watchdog = setInterval(() => {
      // no level message for 5 s although we expect 10 per second: reconnect
      if (this.ws && this.ws.readyState === WebSocket.OPEN && Date.now() - this.lastMessage > 5000) {
        this.ws.close();
      }
    }, 2500);
  }

  connect() {
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const token = getToken();
    const q = token ? `?token=${encodeURIComponent(token)}` : "";
    const ws = new WebSocket(`${proto}://${location.host}/ws/levels${q}`);
    this.ws = ws;
    this.onStatus("connecting");
    ws.onopen = () => {
      this.backoff = 500;
      this.lastMessage = Date.now();
      this.onStatus("live");
    };
    ws.onmessage = (ev) => {
      this.lastMessage = Date.now();
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      this.onMessage(msg);
    };
    ws.onclose = () => {
      if (this.closed) return;
      this.onStatus("offline", this.backoff);
      setTimeout(() => this.connect(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, 10000);
    };
  }

  ping() {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ type: "ping" }));
  }

  close() {
    this.closed = true;
    clearInterval(this.pinger);
    clearInterval(this.watchdog);
    if (this.ws) this.ws.close();
  }
}
