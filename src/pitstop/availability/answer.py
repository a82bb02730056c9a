"""The 503 answer, whatever its cause, in the client's language.

Every 503 carries `Retry-After` in delay-seconds (with per-client jitter, a floor and a cap),
`Cache-Control: no-store`, and a body that says why and until when: Tesla's envelope for API
clients, RFC 9457 problem details when asked for, an HTML page with a countdown for browsers.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from math import ceil
from typing import Any

import msgspec
from markupsafe import escape
from starlette.types import Scope

from pitstop.availability.windows import COMPONENTS, MaintenanceWindow, iso
from pitstop.web import templates

JSON = b"application/json"
PROBLEM = b"application/problem+json"
HTML = b"text/html; charset=utf-8"


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How `Retry-After` is computed, all in seconds."""

    #: Never tell a client to come back sooner than this.
    floor: int = 5
    #: ...nor later than this, however long the window.
    cap: int = 3600
    #: Clients are spread over up to this many seconds (and at most a fifth of the wait).
    jitter: int = 60
    #: While a window overruns its expected end, clients check back this often.
    overrun: int = 30

    def seconds(self, wait: float, client: str) -> int:
        return self.seconds_for(wait, client_seed(client))

    def seconds_for(self, wait: float, seed: int) -> int:
        """`seconds` for the client whose `client_seed` is `seed`."""
        # max(1, min(jitter, wait / 5)) and max(floor, min(cap, ...)) spelled as comparisons:
        # the same numbers, at half the cost of the builtins on the gate's hottest path.
        spread_max = int(wait / 5)
        if spread_max > self.jitter:
            spread_max = self.jitter
        if spread_max < 1:
            spread_max = 1
        seconds = ceil(wait) + seed % (spread_max + 1)
        if seconds > self.cap:
            seconds = self.cap
        return self.floor if seconds < self.floor else seconds


def client_seed(client: str) -> int:
    """A stable number per client, from which its share of the Retry-After spread is taken."""
    return int.from_bytes(hashlib.blake2b(client.encode(), digest_size=4).digest(), "big")


@dataclass(frozen=True, kw_only=True)
class Unavailable:
    """Why a request cannot be served now."""

    error: str  # server_maintenance | overloaded | service_unavailable
    title: str
    description: str
    wait: float  # seconds until it is worth retrying, before jitter
    maintenance: dict[str, Any] | None = None
    until: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def window_info(window: MaintenanceWindow, status_url: str) -> dict[str, Any]:
    return {
        "id": window.id,
        "title": window.title,
        "reason": window.reason,
        "description": window.description,
        "scope": sorted(window.scope) if window.components else ["all"],
        "mode": window.mode,
        "started_at": iso(window.started_at) if window.started_at else None,
        "expected_end": iso(window.expected_end),
        "status_url": status_url,
    }


def for_window(
    window: MaintenanceWindow, now: datetime, status_url: str, policy: RetryPolicy
) -> Unavailable:
    overrun = now >= window.expected_end
    end = window.expected_end.strftime("%H:%M UTC on %Y-%m-%d")
    if overrun:
        text = (
            f"Server maintenance ({window.reason_text}): the work is taking longer than planned "
            f"(expected end was {end}). Please check back shortly."
        )
        wait = float(policy.overrun)
    else:
        text = f"Server maintenance ({window.reason_text}): Pitstop expects to be back at {end}."
        wait = (window.expected_end - now).total_seconds()
    if window.mode == "read_only":
        text += " Reading works meanwhile; changes are paused."
    info = window_info(window, status_url) | {"overrunning": overrun}
    return Unavailable(
        error="server_maintenance",
        title=f"Server maintenance: {window.title}",
        description=text,
        wait=wait,
        maintenance=info,
        until=window.expected_end,
    )


def wants(scope: Scope) -> bytes:
    """Which body the client reads: problem+json if asked, HTML for browsers, else JSON."""
    accept = b""
    for name, value in scope.get("headers", ()):
        if name == b"accept":
            accept = value
            break
    return wants_for(accept, scope.get("path", ""))


def wants_for(accept: bytes, path: str) -> bytes:
    """`wants`, from the request's (first) Accept header and its path."""
    if b"application/problem+json" in accept:
        return PROBLEM
    if b"text/html" in accept and not path.startswith("/api/"):
        return HTML
    return JSON


def body(kind: bytes, cause: Unavailable, path: str) -> bytes:
    if kind == PROBLEM:
        problem = {
            "type": f"/problems/{cause.error}",
            "title": cause.title,
            "status": 503,
            "detail": cause.description,
            "instance": path,
            "error": cause.error,
        }
        if cause.maintenance:
            problem["maintenance"] = cause.maintenance
        return msgspec.json.encode(problem | cause.extra)
    if kind == HTML:
        return html_page(cause).encode()
    envelope: dict[str, Any] = {
        "response": None,
        "error": cause.error,
        "error_description": cause.description,
    }
    if cause.maintenance:
        envelope["maintenance"] = cause.maintenance
    return msgspec.json.encode(envelope | cause.extra)


def html_page(cause: Unavailable) -> str:
    info = cause.maintenance or {}
    affected = [COMPONENTS.get(c, c) for c in info.get("scope", []) if c != "all"]
    template = templates.get_template("unavailable.html")
    return template.render(
        cause=cause,
        info=info,
        affected=affected,
        until_iso=iso(cause.until) if cause.until else "",
        status_url=info.get("status_url", "/status"),
        escape=escape,
    )


def headers(kind: bytes, retry_after: int, length: int) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-type", kind),
        (b"content-length", str(length).encode()),
        (b"retry-after", str(retry_after).encode()),
        (b"cache-control", b"no-store"),
    ]
