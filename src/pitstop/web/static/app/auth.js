// Sign-in through Pitstop's OAuth authorization_code flow with PKCE (S256), and the tokens.
// Tokens live in localStorage so the installed app stays signed in; the access token is
// refreshed with the refresh token before it expires, or when the server says it has.
//
// What the app keeps on this device under "pitstop.*" in localStorage (the cars and their
// last state, their tracks, the appointments, which cars are due, the chosen center) belongs
// to whoever is signed in: signing out forgets all of it, and so does signing in as someone
// else than the last account, so the next person on the device never sees it. Only the
// device's own settings below stay.

const KEY = "pitstop.tokens";
const PENDING = "pitstop.signin";
const DEVICE_KEYS = new Set(["pitstop.app.tuning"]);
const SCOPES = "openid offline_access user_data vehicle_device_data vehicle_location vehicle_cmds vehicle_charging_cmds";

export const clientId = () =>
  document.querySelector('meta[name="pitstop-client-id"]')?.content || "pitstop-web";
const redirectUri = () => `${location.origin}/app`;

function b64url(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function randomString(n = 32) {
  const bytes = new Uint8Array(n);
  crypto.getRandomValues(bytes);
  return b64url(bytes);
}

async function sha256(text) {
  const data = new TextEncoder().encode(text);
  if (globalThis.crypto?.subtle) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  }
  // Plain http on a LAN address is not a secure context: no crypto.subtle there.
  const { sha256: fallback } = await import("./sha256.js");
  return fallback(data);
}

export function tokens() {
  try {
    return JSON.parse(localStorage.getItem(KEY) || "null");
  } catch {
    return null;
  }
}

// The id token's claims (email, name), or null without one.
function claims(grant) {
  try {
    return JSON.parse(atob(grant.id_token.split(".")[1].replaceAll("-", "+").replaceAll("_", "/")));
  } catch {
    return null;
  }
}

function save(grant) {
  const previous = tokens() || {};
  const t = {
    access_token: grant.access_token,
    refresh_token: grant.refresh_token || previous.refresh_token || null,
    expires_at: Date.now() + (grant.expires_in || 3600) * 1000,
    email: previous.email || null,
  };
  const c = claims(grant); // without an id token: keep what we had
  if (c) {
    t.email = c.email || t.email;
    t.name = c.name || "";
  }
  localStorage.setItem(KEY, JSON.stringify(t));
  return t;
}

// Forget everything this device keeps for the signed-in account (its tokens included),
// keeping only the device's own settings.
function forgetAccount() {
  const keys = [];
  for (let i = 0; i < localStorage.length; i++) keys.push(localStorage.key(i));
  for (const k of keys) {
    if (k?.startsWith("pitstop.") && !DEVICE_KEYS.has(k)) localStorage.removeItem(k);
  }
}

export function signedIn() {
  return !!tokens()?.access_token;
}

export async function beginSignIn() {
  const verifier = randomString(48);
  const state = randomString(16);
  const challenge = b64url(await sha256(verifier));
  // The hash (e.g. #service/book?vin=... from a notification) comes back after sign-in.
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, hash: location.hash }));
  const q = new URLSearchParams({
    response_type: "code",
    client_id: clientId(),
    redirect_uri: redirectUri(),
    scope: SCOPES,
    state,
    code_challenge: challenge,
    code_challenge_method: "S256",
  });
  location.assign(`/oauth2/v3/authorize?${q}`);
}

async function tokenRequest(form) {
  const r = await fetch("/oauth2/v3/token", {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
    body: new URLSearchParams(form),
    cache: "no-store",
  });
  let body = null;
  try {
    body = await r.json();
  } catch {
    /* a 503 page or nothing */
  }
  return { r, body };
}

// After the sign-in page sends the browser back with ?code=...: trade it for tokens.
// Returns null when there was nothing to finish, else a problem sentence or "".
export async function finishSignIn() {
  const params = new URLSearchParams(location.search);
  const code = params.get("code");
  if (!code && !params.get("error")) return null;
  const pending = JSON.parse(sessionStorage.getItem(PENDING) || "null");
  history.replaceState(null, "", "/app" + (location.hash || pending?.hash || ""));
  sessionStorage.removeItem(PENDING);
  if (params.get("error")) return `Sign-in did not finish: ${params.get("error_description") || params.get("error")}.`;
  if (!pending || pending.state !== params.get("state")) {
    return "This sign-in was started elsewhere or has expired. Please sign in again.";
  }
  const { r, body } = await tokenRequest({
    grant_type: "authorization_code",
    code,
    client_id: clientId(),
    redirect_uri: redirectUri(),
    code_verifier: pending.verifier,
  });
  if (!r.ok || !body?.access_token) {
    return `Sign-in did not finish: ${body?.error_description || body?.error || `the server answered ${r.status}`}.`;
  }
  // Unless the same account signs in again over its own tokens, start from nothing: this also
  // clears what an older version of the app left behind when it signed out.
  const before = tokens();
  if (!before?.email || before.email !== claims(body)?.email) forgetAccount();
  save(body);
  return "";
}

let refreshing = null;

// A fresh access token, refreshing it first if it expires within a minute (one refresh at a
// time, however many requests want one). Throws "signed_out" when it cannot.
export async function accessToken({ force = false } = {}) {
  const t = tokens();
  if (!t?.access_token) throw new Error("signed_out");
  if (!force && t.expires_at - Date.now() > 60_000) return t.access_token;
  if (!t.refresh_token) {
    if (!force && t.expires_at > Date.now()) return t.access_token;
    throw new Error("signed_out");
  }
  refreshing ||= (async () => {
    try {
      const { r, body } = await tokenRequest({
        grant_type: "refresh_token",
        refresh_token: t.refresh_token,
        client_id: clientId(),
      });
      if (r.status === 503 || r.status >= 500 || r.status === 0) {
        // Accounts under maintenance: keep the token we have; the server says when.
        const e = new Error("refresh_unavailable");
        e.response = r;
        e.body = body;
        throw e;
      }
      if (!r.ok || !body?.access_token) {
        signOutLocally();
        throw new Error("signed_out");
      }
      return save(body).access_token;
    } finally {
      refreshing = null;
    }
  })();
  try {
    return await refreshing;
  } catch (e) {
    if (e.message === "refresh_unavailable" && t.expires_at > Date.now()) return t.access_token;
    throw e;
  }
}

export function signOutLocally() {
  forgetAccount();
}

export async function signOut() {
  const t = tokens();
  signOutLocally();
  for (const raw of [t?.refresh_token, t?.access_token]) {
    if (!raw) continue;
    try {
      await fetch("/oauth2/v3/revoke", {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ token: raw }),
      });
    } catch {
      /* offline: the token expires by itself */
    }
  }
}
