// The app's start: finish a sign-in, show the right view, and wire the parts together.

import { listeners } from "./api.js";
import { beginSignIn, finishSignIn, signOut, signedIn, tokens } from "./auth.js";
import * as cars from "./cars.js";
import * as maint from "./maintenance.js";
import * as notes from "./notifications.js";

const $ = (id) => document.getElementById(id);
const VIEWS = ["cars", "inbox", "settings"];

function show(view) {
  if (!signedIn()) {
    for (const v of document.querySelectorAll(".view")) v.hidden = v.id !== "signin";
    $("tabs").hidden = true;
    return;
  }
  view = VIEWS.includes(view) ? view : "cars";
  $("tabs").hidden = false;
  $("signin").hidden = true;
  for (const v of VIEWS) $(`view-${v}`).hidden = v !== view;
  for (const a of $("tabs").querySelectorAll("a")) {
    if (a.dataset.view === view) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

function route() {
  show(location.hash.slice(1));
}

async function signedInStart() {
  const t = tokens();
  $("who").textContent = t?.email ? `Signed in as ${t.email}.` : "";
  route();
  notes.setup();
  await Promise.allSettled([cars.load(), notes.loadFeed(), notes.loadPreferences()]);
  notes.live();
}

async function boot() {
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/app/sw.js", { scope: "/app" }).catch(() => {
      /* no offline shell: the app works without it */
    });
  }
  $("signin-button").addEventListener("click", () => beginSignIn());
  $("signout").addEventListener("click", async () => {
    await signOut();
    location.replace("/app");
  });
  addEventListener("hashchange", route);
  listeners.signedOut.push(() => {
    if (!signedIn()) show("signin");
  });
  maint.onChange(() => cars.pausedChanged());
  maint.onRecover(() => {
    cars.load().catch(() => {});
    notes.loadFeed();
  });
  maint.start();

  const problem = await finishSignIn();
  if (problem) {
    $("signin-problem").textContent = problem;
    $("signin-problem").hidden = false;
  }
  if (signedIn()) await signedInStart();
  else show("signin");
  document.documentElement.dataset.ready = "1";
}

boot();
