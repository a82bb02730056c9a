// Pitstop's service worker: it keeps the app shell (HTML, scripts, styles, icons) so the app
// opens without a network, and while the web app itself is under maintenance. It never keeps
// API answers: a car's state is the app's business, shown with its age, never passed off as
// fresh by a cache.

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
  "/app/static/words.js",
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
