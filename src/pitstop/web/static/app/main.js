// The app's start: finish a sign-in, show the right view, and wire the parts together.

import { listeners } from "./api.js";
import { beginSignIn, finishSignIn, signOut, signedIn, tokens } from "./auth.js";
import * as cars from "./cars.js";
import * as maint from "./maintenance.js";
import * as notes from "./notifications.js";
import { forgetThisBrowser } from "./push.js";

const $ = (id) => document.getElementById(id);

// The service screen is loaded on its own: should its module be unreachable (a service worker
// from before it existed keeps no copy, and the web app itself is under maintenance), the rest
// of the app still starts, and the service screen says what happened.
const noService = {
  setup() {},
  route() {
    $("appointments").textContent = "The service screen could not be loaded. It comes back when Pitstop can be reached: reload the app then.";
  },
  load: async () => {},
  loadDue: async () => {},
  reload() {},
  pausedChanged() {},
};
let service = noService;
const serviceLoaded = import("./service.js").then(
  (m) => { service = m; },
  () => {},
);
const VIEWS = ["cars", "service", "inbox", "settings"];

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

// "#service/book?vin=..." is the service view, at its booking form.
function route() {
  const hash = location.hash.slice(1);
  const view = hash.split(/[/?]/)[0];
  show(view);
  if (view === "service" && signedIn()) service.route(hash);
}

async function signedInStart() {
  const t = tokens();
  $("who").textContent = t?.email ? `Signed in as ${t.email}.` : "";
  notes.setup();
  service.setup();
  route();
  await Promise.allSettled([
    cars.load().finally(() => service.loadDue()),
    notes.loadFeed(),
    notes.loadPreferences(),
    service.load(),
  ]);
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
    await forgetThisBrowser();  // while the account's token still works
    await signOut();
    location.replace("/app");
  });
  addEventListener("hashchange", route);
  listeners.signedOut.push(() => {
    if (!signedIn()) show("signin");
  });
  maint.onChange(() => {
    cars.pausedChanged();
    service.pausedChanged();
  });
  maint.onRecover(() => {
    cars.load().catch(() => {});
    notes.loadFeed();
    if (signedIn()) service.reload();
  });
  maint.start();

  await serviceLoaded;
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
