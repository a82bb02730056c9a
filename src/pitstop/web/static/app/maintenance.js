// Maintenance, as an owner should meet it: a banner ahead of a window, a clear notice during
// it (reason, expected end with a live countdown, what still works, the status page), controls
// that cannot work disabled with the reason, and recovery by itself when the window ends, at a
// jittered moment (Retry-After plus random jitter) so that open apps do not all return at once.

import { listeners, status } from "./api.js";
import { el, expectedBack, updateCountdowns } from "./dom.js";
import {
  COMPONENTS, WHOLE_SERVICE, clock, duration, listWords, reasonWords, when,
} from "./words.js";

const HORIZON_MS = 72 * 3600 * 1000; // announce windows starting within 72 h, as the server does
const tuning = { calm: 120, during: 20, overrun: 30, ...readTuning() };

function readTuning() {
  try {
    return JSON.parse(localStorage.getItem("pitstop.app.tuning") || "{}");
  } catch {
    return {};
  }
}

const current = new Map(); // id -> window in force
const upcoming = new Map(); // id -> announced window
const changed = [];
const recovered = [];
let statusUrl = "/status";
let checkTimer = null;
let checkAt = null;
let tick = null;
let checking = null;

export function onChange(fn) { changed.push(fn); }
export function onRecover(fn) { recovered.push(fn); }

function announce(text) {
  const el = document.getElementById("announce");
  if (el) el.textContent = text;
}

function normalize(w) {
  const comps = w.components ?? w.scope ?? [];
  const whole = !comps.length || comps.includes("all");
  return {
    id: Number(w.id),
    title: w.title || "Maintenance",
    reason: w.reason || "other",
    description: w.description || "",
    mode: w.mode || "full",
    components: whole ? [...WHOLE_SERVICE] : comps.filter((c) => c !== "all"),
    whole,
    startsAt: w.starts_at ? new Date(w.starts_at) : w.started_at ? new Date(w.started_at) : null,
    expectedEnd: w.expected_end ? new Date(w.expected_end) : null,
    statusUrl: w.status_url || null,
    updates: w.updates || [],
  };
}

// --- what is in force --------------------------------------------------------------------

export function windows() { return [...current.values()]; }

// The window that stops `component` for a read (write=false) or a change (write=true).
export function blocking(component, write) {
  for (const w of current.values()) {
    if (!w.components.includes(component)) continue;
    if (w.mode === "full" || write) return w;
  }
  return null;
}

export function blockedReason(w) {
  if (!w) return "";
  const end = w.expectedEnd && w.expectedEnd > new Date() ? ` until about ${clock(w.expectedEnd)}` : "";
  return w.mode === "read_only"
    ? `Paused during server maintenance${end}: changes wait, reading works.`
    : `Not available during server maintenance${end}.`;
}

function fire() {
  render();
  for (const fn of changed) fn();
}

function learn(w, { replace = false } = {}) {
  const n = normalize(w);
  const before = current.get(n.id);
  if (!before) announce(`Server maintenance has started: ${n.title}.`);
  current.set(n.id, replace || !before ? n : { ...before, ...Object.fromEntries(Object.entries(n).filter(([, v]) => v != null && v !== "")) });
  upcoming.delete(n.id);
}

// --- signals from every answer -----------------------------------------------------------

function parseHeader(value) {
  const [head, ...rest] = value.split(";").map((s) => s.trim());
  const fields = Object.fromEntries(rest.map((p) => p.split("=").map((s) => s.trim())));
  return { head, ...fields };
}

listeners.answer.push((response) => {
  const next = response.headers.get("Pitstop-Maintenance-Next");
  if (next) {
    const { head, id } = parseHeader(next);
    if (id && !upcoming.has(Number(id)) && !current.has(Number(id))) {
      upcoming.set(Number(id), normalize({ id, starts_at: head }));
      check({ soon: true }); // fetch the details (title, length, scope) from /api/1/status
      fire();
    }
  }
  const ro = response.headers.get("Pitstop-Maintenance");
  if (ro) {
    const { head, id, expected_end } = parseHeader(ro);
    if (head === "read_only" && id && !current.has(Number(id))) {
      learn({ id, mode: "read_only", expected_end, title: "Read-only maintenance" });
      check({ soon: true });
      fire();
    }
  }
});

listeners.unavailable.push((err) => {
  const m = err.body?.maintenance;
  if (m) {
    learn(m);
    if (m.status_url) statusUrl = m.status_url;
  }
  if (err.unavailable) {
    // Come back when the server says, plus our own random share of a spread.
    const ra = err.retryAfter ?? (err.status === 0 ? 15 : 30);
    schedule(ra + jitter(ra));
    fire();
  }
});

// --- checking again ------------------------------------------------------------------------

function jitter(seconds) {
  const spread = Math.min(30, Math.max(2, seconds * 0.1));
  return Math.random() * spread;
}

function schedule(seconds) {
  const at = Date.now() + seconds * 1000;
  if (checkTimer && checkAt && checkAt <= at) return; // an earlier check is planned
  clearTimeout(checkTimer);
  checkAt = at;
  checkTimer = setTimeout(() => {
    checkTimer = null;
    checkAt = null;
    check();
  }, Math.max(0, seconds * 1000));
}

function nextRoutineCheck() {
  const overrun = windows().some((w) => w.expectedEnd && w.expectedEnd <= new Date());
  const base = current.size ? (overrun ? tuning.overrun : tuning.during) : tuning.calm;
  let wait = base * (0.8 + Math.random() * 0.4);
  // Do not sleep through a window's announced start or expected end (with jitter after it).
  const now = Date.now();
  for (const w of upcoming.values()) {
    if (w.startsAt && w.startsAt > now) wait = Math.min(wait, (w.startsAt - now) / 1000 + 1 + jitter(base));
  }
  for (const w of current.values()) {
    if (w.expectedEnd && w.expectedEnd > now) wait = Math.min(wait, (w.expectedEnd - now) / 1000 + 1 + jitter(base));
  }
  schedule(wait);
}

// Ask /api/1/status (never gated) what is in force and planned. When a window we showed has
// ended, tell the app to recover: it reloads its data, without reloading the page.
export async function check({ soon = false } = {}) {
  if (soon) {
    schedule(Math.random() * 1.5);
    return;
  }
  if (checking) return checking;
  checking = (async () => {
    try {
      const s = await status();
      statusUrl = s.status_url || statusUrl;
      const live = new Set(s.current.map((w) => Number(w.id)));
      const ended = [...current.keys()].filter((id) => !live.has(id));
      for (const w of s.current) learn(w, { replace: true });
      for (const id of ended) current.delete(id);
      upcoming.clear();
      for (const w of s.upcoming) upcoming.set(Number(w.id), normalize(w));
      document.getElementById("offline").hidden = true;
      fire();
      if (ended.length) {
        announce(current.size ? "One maintenance window has ended." : "Maintenance is over: everything works again.");
        for (const fn of recovered) fn();
      }
    } catch {
      document.getElementById("offline").hidden = navigator.onLine !== false;
    } finally {
      checking = null;
      nextRoutineCheck();
    }
  })();
  return checking;
}

// --- what the user sees --------------------------------------------------------------------

function affectedWords(w) {
  if (w.whole) return "all of Pitstop";
  return listWords(w.components.map((c) => COMPONENTS[c] || c));
}

const hidden = new Set(JSON.parse(sessionStorage.getItem("pitstop.hidden-notices") || "[]"));

function renderUpcoming() {
  const box = document.getElementById("upcoming");
  const now = Date.now();
  const shown = [...upcoming.values()]
    .filter((w) => w.startsAt && w.startsAt - now < HORIZON_MS && !hidden.has(w.id))
    .sort((a, b) => a.startsAt - b.startsAt);
  box.replaceChildren();
  box.hidden = !shown.length;
  if (!shown.length) return;
  box.append(el("h2", { id: "upcoming-title", text: "Planned maintenance" }));
  for (const w of shown) {
    const length = w.expectedEnd ? ` for about ${duration((w.expectedEnd - w.startsAt) / 1000)}` : "";
    const p = el("p", { class: "what", "data-window": String(w.id) });
    p.append(
      el("strong", { text: w.title }), ": ",
      el("time", { datetime: w.startsAt.toISOString(), text: when(w.startsAt) }),
      `${length}, for ${reasonWords(w.reason)}. `,
      `Affects ${affectedWords(w)}`,
      w.mode === "read_only" ? " (read-only: you can still look, changes wait)." : ".",
    );
    box.append(p);
    if (w.description) box.append(el("p", { class: "muted", text: w.description }));
  }
  const row = el("p", { class: "row" });
  const link = el("a", { href: statusUrl, text: "Details on the status page" });
  const hide = el("button", { type: "button", class: "small", text: "Hide" });
  hide.addEventListener("click", () => {
    for (const w of shown) hidden.add(w.id);
    sessionStorage.setItem("pitstop.hidden-notices", JSON.stringify([...hidden]));
    renderUpcoming();
  });
  row.append(link, hide);
  box.append(row);
}

function stillWorks(ws) {
  const full = new Set();
  const readOnly = new Set();
  for (const w of ws) for (const c of w.components) (w.mode === "full" ? full : readOnly).add(c);
  const lines = [];
  const working = WHOLE_SERVICE.filter((c) => !full.has(c) && !readOnly.has(c) && c !== "web");
  const ro = [...readOnly].filter((c) => !full.has(c) && c !== "web");
  if (working.length) lines.push(["works", `Still working: ${listWords(working.map((c) => COMPONENTS[c]))}.`]);
  if (ro.length) lines.push(["works", `Read-only: you can still see ${listWords(ro.map((c) => COMPONENTS[c]))}; changes wait until the end.`]);
  const paused = [...full].filter((c) => c !== "web");
  if (paused.length) lines.push(["paused", `Paused: ${listWords(paused.map((c) => COMPONENTS[c]))}.`]);
  if (!working.length && !ro.length) lines.push(["paused", "Below is what Pitstop last told this device, with its age."]);
  return lines;
}

function renderCurrent() {
  const box = document.getElementById("maintenance");
  const ws = windows();
  box.hidden = !ws.length;
  clearInterval(tick);
  tick = null;
  box.replaceChildren();
  if (!ws.length) return;
  box.setAttribute("role", "region");
  box.append(el("h2", { id: "maintenance-title", text: "Server maintenance" }));
  for (const w of ws) {
    const part = el("div", { class: "window", "data-window": String(w.id) });
    part.append(el("p", { class: "reason" }, el("strong", { text: w.title }), ` — for ${reasonWords(w.reason)}.`));
    if (w.description) part.append(el("p", { text: w.description }));
    if (w.expectedEnd) {
      part.append(expectedBack(w.expectedEnd, { class: "end" }));
      part.append(el("p", { class: "late", hidden: true, text: "This is taking longer than planned. The app checks again by itself." }));
    }
    const last = w.updates?.[w.updates.length - 1];
    if (last?.message) part.append(el("p", { class: "muted", text: `Latest update: ${last.message}` }));
    box.append(part);
  }
  for (const [kind, line] of stillWorks(ws)) box.append(el("p", { class: kind, text: line }));
  const foot = el("p", { class: "row" });
  foot.append(el("a", { href: statusUrl, text: "Status page" }), el("span", { class: "muted next-check" }));
  box.append(foot);
  const update = () => {
    const now = Date.now();
    updateCountdowns(box, (c, left) => {
      c.closest(".window").querySelector(".late").hidden = left > 0;
    }, now);
    const next = box.querySelector(".next-check");
    if (next) next.textContent = checkAt ? `Checking again by itself in ${duration((checkAt - now) / 1000)}.` : "";
  };
  update();
  tick = setInterval(update, 1000);
}

function render() {
  renderUpcoming();
  renderCurrent();
}

export function start() {
  render();
  check();
  addEventListener("online", () => check({ soon: true }));
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") check({ soon: true });
  });
}
