// The app's one way to talk to Pitstop: the bearer token, refresh on 401, and every answer's
// maintenance signals (503 bodies, `Retry-After`, `Pitstop-Maintenance-Next`,
// `Pitstop-Maintenance: read_only`) handed to whoever listens (maintenance.js).

import { accessToken } from "./auth.js";

export class ApiError extends Error {
  constructor(status, error, description, body = null, retryAfter = null) {
    super(description || error);
    this.status = status;
    this.error = error;
    this.description = description;
    this.body = body;
    this.retryAfter = retryAfter;
  }
  get maintenance() {
    return this.status === 503 && this.error === "server_maintenance";
  }
  get unavailable() {
    return this.status === 503 || this.status === 0;
  }
}

export const listeners = { answer: [], unavailable: [], signedOut: [] };

export function tell(kind, ...args) {
  for (const fn of listeners[kind]) {
    try {
      fn(...args);
    } catch (e) {
      console.error(e);
    }
  }
}

export function retryAfterSeconds(response) {
  const raw = response.headers.get("Retry-After");
  if (!raw) return null;
  const n = Number(raw);
  if (Number.isFinite(n)) return Math.max(0, n);
  const at = Date.parse(raw);
  return Number.isFinite(at) ? Math.max(0, (at - Date.now()) / 1000) : null;
}

async function send(path, { method, body, token }) {
  const headers = { Accept: "application/json", Authorization: `Bearer ${token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  return fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
}

// `component` names what the request uses (vehicle_data, charging...), so that a 503 can be
// attributed to it even before the body is read.
export async function api(path, { method = "GET", body, component = null } = {}) {
  let token;
  try {
    token = await accessToken();
  } catch (e) {
    if (e.message === "signed_out") {
      tell("signedOut");
      throw new ApiError(401, "signed_out", "You are signed out.");
    }
    throw e;
  }
  let response;
  try {
    response = await send(path, { method, body, token });
    if (response.status === 401) {
      token = await accessToken({ force: true }).catch(() => null);
      if (!token) {
        tell("signedOut");
        throw new ApiError(401, "signed_out", "Your session has ended: please sign in again.");
      }
      response = await send(path, { method, body, token });
    }
  } catch (e) {
    if (e instanceof ApiError) throw e;
    const err = new ApiError(0, "offline", "Pitstop cannot be reached: check your connection.");
    tell("unavailable", err, component);
    throw err;
  }
  tell("answer", response, component, path);
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (response.ok && data && !data.error) return data.response;
  const err = new ApiError(
    response.status,
    data?.error || `http_${response.status}`,
    data?.error_description || `Pitstop answered ${response.status}.`,
    data,
    retryAfterSeconds(response),
  );
  if (response.status === 503) tell("unavailable", err, component);
  if (response.status === 401) tell("signedOut");
  throw err;
}

// Never gated: what is happening and what is planned.
export async function status() {
  const r = await fetch("/api/1/status", { headers: { Accept: "application/json" }, cache: "no-store" });
  if (!r.ok) throw new ApiError(r.status, "status_unavailable", "The status could not be read.");
  return (await r.json()).response;
}
