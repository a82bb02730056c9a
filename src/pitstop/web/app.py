"""The owner app at `/app`: a phone-sized PWA served by Pitstop itself, with no external assets.

    GET /app                       the app shell (HTML); `/app/` redirects here
    GET /app/sw.js                 the service worker (caches the shell only, never API answers)
    GET /app/manifest.webmanifest  the web app manifest
    GET /app/static/...            the shell's modules, styles and icons

The shell is plain HTML, CSS and JavaScript modules (no build step). Everything it shows comes
from the public API (`/api/1/...`, `/oauth2/v3/...`, `/api/1/status`) with the user's token, so
the app is one more client of the Tesla-dialect API, and sees 503 answers as any client does.
The shell version (a hash of the static files) names the service worker's cache, so a new
release replaces the cached shell at the next visit.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from pitstop.web import STATIC, templates

APP_STATIC = STATIC / "app"
#: The OAuth client id the app signs in with (authorization_code + PKCE).
CLIENT_ID = "pitstop-web"

#: No external anything: scripts, styles, images, fonts and connections stay on this origin.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; worker-src 'self'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
SHELL_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@cache
def shell_version(root: Path = APP_STATIC) -> str:
    """A short hash of every file of the shell: a change of any file is a new version."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    digest.update((Path(__file__).parent / "templates" / "app.html").read_bytes())
    return digest.hexdigest()[:12]


async def shell(request: Request) -> Response:
    return templates.TemplateResponse(
        request,
        "app.html",
        {"version": shell_version(), "client_id": CLIENT_ID},
        headers=SHELL_HEADERS,
    )


async def slash(request: Request) -> Response:
    query = f"?{request.url.query}" if request.url.query else ""
    return RedirectResponse(f"/app{query}", status_code=308)


async def service_worker(request: Request) -> Response:
    source = (APP_STATIC / "sw.js").read_text(encoding="utf-8")
    body = source.replace("__VERSION__", shell_version())
    return Response(
        body,
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/app"},
    )


async def manifest(request: Request) -> Response:
    return Response(
        (APP_STATIC / "manifest.webmanifest").read_bytes(),
        media_type="application/manifest+json",
        headers={"Cache-Control": "no-cache"},
    )


routes: list[BaseRoute] = [
    Route("/app", shell, methods=["GET"]),
    Route("/app/", slash, methods=["GET"]),
    Route("/app/sw.js", service_worker, methods=["GET"]),
    Route("/app/manifest.webmanifest", manifest, methods=["GET"]),
    Mount("/app/static", StaticFiles(directory=APP_STATIC, check_dir=False), name="app-static"),
]
