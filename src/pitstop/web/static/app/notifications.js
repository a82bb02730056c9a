// The inbox, live: the feed from /api/1/notifications, new items over Server-Sent Events
// (read with fetch, so the token travels in a header rather than the URL), read marks, and
// the notification preferences per channel and topic (push on this device: push.js).

import { ApiError, api, retryAfterSeconds, tell } from "./api.js";
import { accessToken } from "./auth.js";
import { failure } from "./cars.js";
import * as maint from "./maintenance.js";
import * as push from "./push.js";
import { when } from "./words.js";

let newest = 0;
let oldest = null;
let unread = 0;
let streaming = null;

const $ = (id) => document.getElementById(id);

function setUnread(n) {
  unread = n;
  const b = $("unread");
  b.hidden = !n;
  b.textContent = String(n);
  b.setAttribute("aria-label", `${n} unread`);
}

// The text with its web addresses as links (a service-due alert links to the booking form).
// Built from text nodes, never HTML: the text is the server's, but stays text.
function linked(text) {
  const parts = [];
  let at = 0;
  for (const m of text.matchAll(/https?:\/\/[^\s<>"]+[^\s<>".,;:!?)]/g)) {
    if (m.index > at) parts.push(document.createTextNode(text.slice(at, m.index)));
    const a = document.createElement("a");
    a.href = m[0];
    a.textContent = m[0];
    parts.push(a);
    at = m.index + m[0].length;
  }
  if (at < text.length) parts.push(document.createTextNode(text.slice(at)));
  return parts;
}

function item(n) {
  const li = document.createElement("li");
  li.dataset.id = String(n.id);
  li.className = n.read_at ? "read" : "unread";
  const h = document.createElement("h3");
  h.textContent = n.subject;
  const p = document.createElement("p");
  p.append(...linked(n.text));
  const t = document.createElement("time");
  t.dateTime = n.created_at;
  t.textContent = when(new Date(n.created_at));
  li.append(h, t, p);
  if (!n.read_at) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "small";
    b.textContent = "Mark read";
    b.setAttribute("aria-label", `Mark read: ${n.subject}`);
    b.addEventListener("click", () => markRead({ ids: [n.id] }));
    li.append(b);
  }
  return li;
}

export async function loadFeed({ more = false } = {}) {
  const q = new URLSearchParams({ limit: "20" });
  if (more && oldest) q.set("before", String(oldest));
  try {
    const page = await api(`/api/1/notifications?${q}`, { component: "notifications" });
    const list = $("feed");
    if (!more) list.replaceChildren();
    for (const n of page.items) list.append(item(n));
    if (!more && page.items.length) newest = Math.max(newest, page.items[0].id);
    if (page.items.length) oldest = page.items[page.items.length - 1].id;
    $("feed-more").hidden = !page.next_before;
    setUnread(page.unread_count);
    if (!list.children.length) {
      const li = document.createElement("li");
      li.className = "empty muted";
      li.textContent = "Nothing yet. Notifications appear here as they arrive.";
      list.append(li);
    }
  } catch (e) {
    $("live-state").textContent = failure(e, "The inbox could not be loaded");
  }
}

async function markRead(body) {
  try {
    const r = await api("/api/1/notifications/read", { method: "POST", body, component: "notifications" });
    setUnread(r.unread_count);
    await loadFeed();
  } catch (e) {
    $("live-state").textContent = failure(e, "Not marked");
  }
}

function arrived(n) {
  $("feed").querySelector(".empty")?.remove();
  if ($("feed").querySelector(`li[data-id="${n.id}"]`)) return;
  $("feed").prepend(item(n));
  newest = Math.max(newest, n.id);
  if (!n.read_at) setUnread(unread + 1);
  const a = $("announce");
  if (a) a.textContent = `New notification: ${n.subject}`;
}

const sleep = (s) => new Promise((r) => setTimeout(r, s * 1000));

// One stream at a time, reconnecting with backoff and jitter; a 503 waits as Retry-After says.
export function live() {
  if (streaming) return;
  streaming = (async () => {
    let backoff = 2;
    for (;;) {
      const w = maint.blocking("notifications", false);
      if (w) {
        $("live-state").textContent = "Live updates wait for the end of the server maintenance.";
        await sleep(10 + Math.random() * 10);
        continue;
      }
      try {
        const token = await accessToken();
        const headers = { Accept: "text/event-stream", Authorization: `Bearer ${token}` };
        if (newest) headers["Last-Event-ID"] = String(newest);
        const r = await fetch("/api/1/notifications/stream", { headers, cache: "no-store" });
        if (!r.ok) {
          let body = null;
          try { body = await r.json(); } catch { /* not JSON */ }
          const ra = retryAfterSeconds(r);
          const err = new ApiError(r.status, body?.error || `http_${r.status}`, body?.error_description, body, ra);
          if (r.status === 503) tell("unavailable", err, "notifications");
          if (r.status === 401) await accessToken({ force: true }).catch(() => tell("signedOut"));
          const wait = ra ?? backoff;
          $("live-state").textContent = r.status === 503 ? "Live updates paused: server maintenance." : "Live updates paused; reconnecting…";
          await sleep(wait + Math.random() * Math.min(30, Math.max(2, wait * 0.1)));
          backoff = Math.min(60, backoff * 2);
          continue;
        }
        $("live-state").textContent = "Live: new notifications appear here as they arrive.";
        backoff = 2;
        await read(r.body);
      } catch (e) {
        if (e.message === "signed_out") return;
      }
      $("live-state").textContent = "Reconnecting to live updates…";
      await sleep(backoff + Math.random() * backoff);
      backoff = Math.min(60, backoff * 2);
    }
  })();
}

async function read(stream) {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = "message";
      let data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).trim();
      }
      if (event === "notification" && data) {
        try {
          arrived(JSON.parse(data));
        } catch {
          /* a broken item: skip it */
        }
      }
    }
  }
}

// --- preferences -------------------------------------------------------------------------

const CHANNEL_WORDS = { email: "Email", webhook: "Webhook", feed: "Inbox", push: "Push" };

export async function loadPreferences() {
  const table = $("prefs-table");
  try {
    const p = await api("/api/1/notifications/preferences", { component: "notifications" });
    $("tz").value = p.timezone;
    const t = document.createElement("table");
    t.className = "prefs";
    const cap = document.createElement("caption");
    cap.className = "visually-hidden";
    cap.textContent = "Channels per topic";
    const head = document.createElement("tr");
    head.innerHTML = `<th scope="col">Topic</th>${p.available_channels.map((c) => `<th scope="col">${CHANNEL_WORDS[c] || c}</th>`).join("")}`;
    const thead = document.createElement("thead");
    thead.append(head);
    const body = document.createElement("tbody");
    for (const [topic, words] of Object.entries(p.topics)) {
      const tr = document.createElement("tr");
      const th = document.createElement("th");
      th.scope = "row";
      th.textContent = words[0].toUpperCase() + words.slice(1);
      tr.append(th);
      for (const c of p.available_channels) {
        const td = document.createElement("td");
        const box = document.createElement("input");
        box.type = "checkbox";
        box.name = `${topic}|${c}`;
        box.checked = (p.channels[topic] || []).includes(c);
        box.setAttribute("aria-label", `${CHANNEL_WORDS[c] || c}: ${words}`);
        td.append(box);
        tr.append(td);
      }
      body.append(tr);
    }
    t.append(cap, thead, body);
    table.replaceChildren(t);
  } catch (e) {
    table.textContent = failure(e, "Your notification settings could not be loaded");
  }
  await push.load();
}

async function savePreferences(form) {
  const out = $("prefs-result");
  const channels = {};
  for (const box of form.querySelectorAll("input[type=checkbox][name*='|']")) {
    const [topic, c] = box.name.split("|");
    channels[topic] ||= [];
    if (box.checked) channels[topic].push(c);
  }
  out.textContent = "Saving…";
  try {
    await api("/api/1/notifications/preferences", {
      method: "PUT",
      body: { timezone: $("tz").value.trim() || undefined, channels },
      component: "notifications",
    });
    out.textContent = "Saved.";
  } catch (e) {
    out.textContent = failure(e, "Not saved");
  }
}

export function setup() {
  push.setup();
  $("mark-all").addEventListener("click", () => markRead({}));
  $("feed-more").addEventListener("click", () => loadFeed({ more: true }));
  $("prefs").addEventListener("submit", (e) => {
    e.preventDefault();
    savePreferences(e.target);
  });
}
