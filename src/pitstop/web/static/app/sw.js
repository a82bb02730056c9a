// Pitstop's service worker: it keeps the app shell (HTML, scripts, styles, icons) so the app
// opens without a network, and while the web app itself is under maintenance. It never keeps
// API answers: a car's state is the app's business, shown with its age, never passed off as
// fresh by a cache. It also shows push notifications, and opens the app when one is tapped.

const VERSION = "__VERSION__";
const CACHE = `pitstop-shell-${VERSION}`;
const SHELL = [
  "/app",
  "/app/manifest.webmanifest",
  "/app/static/app.css",
  "/app/static/main.js",
  "/app/static/api.js",
  "/app/static/auth.js",
  "/app/static/cars.js",
  "/app/static/map.js",
  "/app/static/maintenance.js",
  "/app/static/notifications.js",
  "/app/static/push.js",
  "/app/static/service.js",
  "/app/static/words.js",
  "/app/static/dom.js",
  "/app/static/sha256.js",
  "/app/static/icon.svg",
  "/app/static/icon-192.png",
  "/app/static/icon-512.png",
];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("pitstop-shell-") && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

function isShell(url) {
  return url.origin === self.location.origin && SHELL.includes(url.pathname);
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && (url.pathname === "/app" || url.pathname === "/app/")) {
    // The page: the network first (a new release, the sign-in redirect's ?code=), the kept
    // shell when the network fails or Pitstop answers 503 for the web app.
    event.respondWith(
      fetch(request).then((response) => {
        if (response.status === 200) {
          const copy = response.clone();
          caches.open(CACHE).then((c) => c.put("/app", copy));
          return response;
        }
        if (response.status >= 500) return caches.match("/app").then((kept) => kept || response);
        return response;
      }, () => caches.match("/app").then((kept) => kept || Response.error())),
    );
    return;
  }
  if (!isShell(url) || url.search) return; // everything else, the API above all, is not ours
  // Scripts, styles, icons: this version's copy, else the network (and keep it).
  event.respondWith(
    caches.open(CACHE).then((cache) =>
      cache.match(url.pathname).then((kept) => kept || fetch(request).then((response) => {
        if (response.status === 200) cache.put(url.pathname, response.clone());
        return response;
      })),
    ),
  );
});

// --- push ----------------------------------------------------------------------------------

// What Pitstop sends (notify/push.py): {title, body, url, tag, topic, timestamp}. The tag is
// the notification's key, so a message the server had to send twice replaces itself.
self.addEventListener("push", (event) => {
  let message = {};
  try {
    message = event.data ? event.data.json() : {};
  } catch {
    message = { body: event.data ? event.data.text() : "" };
  }
  const options = {
    body: message.body || "",
    icon: "/app/static/icon-192.png",
    badge: "/app/static/icon-192.png",
    data: { url: message.url || "/app" },
  };
  if (message.tag) options.tag = message.tag;
  const at = Date.parse(message.timestamp);
  if (Number.isFinite(at)) options.timestamp = at;
  event.waitUntil(self.registration.showNotification(message.title || "Pitstop", options));
});

// Where a tapped notification leads: an address on Pitstop itself, else the app. A message
// naming another site (or something that is no address) never opens it.
function target(raw) {
  const here = self.location.origin;
  try {
    const url = new URL(raw || "/app", here);
    if (url.origin === here) return url;
  } catch {
    /* not an address */
  }
  return new URL("/app", here);
}

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = target(event.notification.data?.url);
  event.waitUntil((async () => {
    if (url.pathname === "/app" || url.pathname.startsWith("/app/")) {
      const open = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      const app = open.find((c) => new URL(c.url).pathname.startsWith("/app"));
      if (app) {
        await app.focus();
        return app.navigate(url.href).catch(() => {});
      }
    }
    return self.clients.openWindow(url.href);
  })());
});
