// Push notifications on this device: subscribe the browser with the server's VAPID key, hand
// the subscription to Pitstop, send a test, turn it off; and the owner's other browsers.
// Which topics arrive by push is chosen in the preferences table above (the "Push" column).

import { api } from "./api.js";
import { failure } from "./cars.js";
import { when } from "./words.js";

const $ = (id) => document.getElementById(id);
let server = null; // {public_key, available, subscriptions}

function supported() {
  return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
}

function keyBytes(base64url) {
  const text = atob(base64url.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((base64url.length + 3) % 4));
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

function sameKey(buffer, base64url) {
  if (!buffer) return false;
  const a = new Uint8Array(buffer);
  const b = keyBytes(base64url);
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

async function registration() {
  // The service worker registered by main.js; it shows what arrives (sw.js).
  const late = new Promise((_, fail) => setTimeout(() => fail(new Error("the app's service worker did not start")), 10000));
  return Promise.race([navigator.serviceWorker.ready, late]);
}

function show({ state, on = false, off = false, test = false }) {
  $("push-state").textContent = state;
  $("push-on").hidden = !on;
  $("push-off").hidden = !off;
  $("push-test").hidden = !test;
}

function mineHere(current) {
  return current && server ? server.subscriptions.find((s) => s.endpoint === current.endpoint) : null;
}

function devices(current) {
  const list = $("push-devices");
  list.replaceChildren();
  const others = server ? server.subscriptions.filter((s) => !current || s.endpoint !== current.endpoint) : [];
  $("push-devices-title").hidden = !others.length;
  for (const s of others) {
    const li = document.createElement("li");
    const name = document.createElement("span");
    const last = s.last_delivered_at ? `last message ${when(new Date(s.last_delivered_at))}` : "no message yet";
    name.textContent = `${s.device || "A browser"}, since ${when(new Date(s.created_at))}, ${last}`;
    const b = document.createElement("button");
    b.type = "button";
    b.className = "small";
    b.textContent = "Remove";
    b.setAttribute("aria-label", `Stop push notifications to ${s.device || "a browser"} (since ${when(new Date(s.created_at))})`);
    b.addEventListener("click", async () => {
      b.disabled = true;
      $("push-result").textContent = "Removing…";
      try {
        await api(`/api/1/notifications/push/subscriptions/${s.id}`, { method: "DELETE", component: "notifications" });
        $("push-result").textContent = `${s.device || "That browser"} gets no more push notifications.`;
        await load();
      } catch (e) {
        b.disabled = false;
        $("push-result").textContent = failure(e, "Not removed");
      }
    });
    li.append(name, b);
    list.append(li);
  }
}

export async function load() {
  try {
    server = await api("/api/1/notifications/push", { component: "notifications" });
  } catch (e) {
    show({ state: failure(e, "Push settings could not be loaded") });
    return;
  }
  if (!server.available) {
    show({ state: "This Pitstop does not send push notifications. Your inbox updates live while the app is open." });
    devices(null);
    return;
  }
  if (!supported()) {
    show({ state: "This browser cannot receive push notifications. On an iPhone or iPad, add Pitstop to your Home Screen first, then open it from there." });
    devices(null);
    return;
  }
  let current;
  try {
    current = await (await registration()).pushManager.getSubscription();
  } catch (e) {
    show({ state: `Push notifications need the app's service worker: ${e.message}. Reload the app to try again.` });
    return;
  }
  if (current && (!sameKey(current.options.applicationServerKey, server.public_key) || !mineHere(current))) {
    // On in this browser but not in Pitstop (turned off from another device, forgotten after
    // the push service said it expired, made for another server key): Pitstop's list wins,
    // and the owner can turn it on again.
    await current.unsubscribe().catch(() => {});
    current = null;
  }
  devices(current);
  if (Notification.permission === "denied") {
    show({ state: "Notifications are blocked for this site. Allow them in your browser's site settings, then come back here." });
  } else if (mineHere(current)) {
    show({ state: "On: this browser shows the topics ticked under Push above, even while the app is closed.", off: true, test: true });
  } else {
    show({ state: "Off on this browser.", on: true });
  }
}

async function turnOn() {
  const out = $("push-result");
  out.textContent = "Asking your browser…";
  $("push-on").disabled = true;
  try {
    const permission = await Notification.requestPermission();
    if (permission !== "granted") {
      out.textContent = permission === "denied"
        ? "Your browser blocked notifications for this site; nothing was turned on."
        : "You did not allow notifications; nothing was turned on.";
      return;
    }
    const reg = await registration();
    let sub;
    try {
      sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(server.public_key) });
    } catch (e) {
      out.textContent = `Your browser could not reach its push service (${e.message || e.name}). Try again later.`;
      return;
    }
    out.textContent = "Telling Pitstop…";
    await api("/api/1/notifications/push/subscriptions", { method: "POST", body: sub.toJSON(), component: "notifications" });
    out.textContent = "Push notifications are on for this browser.";
    await load();
  } catch (e) {
    out.textContent = failure(e, "Push notifications were not turned on");
  } finally {
    $("push-on").disabled = false;
  }
}

async function turnOff() {
  const out = $("push-result");
  out.textContent = "Turning off…";
  try {
    const current = await (await registration()).pushManager.getSubscription();
    if (current) {
      await api("/api/1/notifications/push/unsubscribe", { method: "POST", body: { endpoint: current.endpoint }, component: "notifications" });
      await current.unsubscribe();
    }
    out.textContent = "Push notifications are off for this browser.";
    await load();
  } catch (e) {
    out.textContent = failure(e, "Push notifications were not turned off");
  }
}

// Signing out: this browser stops getting the account's pushes, here and at the server, so
// the next person to use it does not see them. Best effort: offline, the server forgets the
// browser when its push service answers 404/410, or when it is turned on for another account.
export async function forgetThisBrowser() {
  try {
    if (!("serviceWorker" in navigator) || !("PushManager" in window)) return;
    const reg = await Promise.race([navigator.serviceWorker.ready, new Promise((done) => setTimeout(done, 2000))]);
    const current = await reg?.pushManager.getSubscription();
    if (!current) return;
    await api("/api/1/notifications/push/unsubscribe", { method: "POST", body: { endpoint: current.endpoint }, component: "notifications" }).catch(() => {});
    await current.unsubscribe();
  } catch {
    /* nothing more to do on this device */
  }
}

async function sendTest() {
  const out = $("push-result");
  const current = await (await registration()).pushManager.getSubscription();
  const mine = mineHere(current);
  if (!mine) return load();
  out.textContent = "Sending a test…";
  try {
    const r = await api(`/api/1/notifications/push/subscriptions/${mine.id}/test`, { method: "POST", component: "notifications" });
    out.textContent = r.delivered
      ? "Sent: a notification should appear in a moment."
      : `Your browser's push service did not take it (${r.detail}).${r.retry ? " Try again in a few minutes." : " Turn push off and on again."}`;
    await load();
  } catch (e) {
    out.textContent = failure(e, "The test was not sent");
  }
}

export function setup() {
  $("push-on").addEventListener("click", turnOn);
  $("push-off").addEventListener("click", turnOff);
  $("push-test").addEventListener("click", sendTest);
}
