"""The gate: a pure ASGI middleware that answers 503 for what a maintenance window takes down.

It reads the in-memory `MaintenanceState` (no I/O per request). With no window in force or
announced for a route, a request costs a dictionary lookup or two on its way through.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pitstop.accounts.tokens import Tokens
from pitstop.availability import answer
from pitstop.availability.state import MaintenanceState
from pitstop.availability.windows import MaintenanceWindow, iso
from pitstop.clock import Clock
from pitstop.fleet.commands import CHARGING_COMMANDS

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
BYPASS_COOKIE = "pitstop_bypass"
BYPASS_HEADER = (b"pitstop-maintenance-bypass", b"1")


def component_for(path: str) -> str | None:
    """Which component serves `path`; None for what is never gated (health, status, the
    maintenance API itself). The car link answers to `vehicle_link`."""
    if path.startswith("/api/1/vehicles"):
        if "/command/" in path:
            return (
                "charging" if path.rpartition("/")[2] in CHARGING_COMMANDS else "vehicle_commands"
            )
        if path.endswith("/wake_up"):
            return "vehicle_commands"
        return "vehicle_data"
    if path.startswith("/api/1/products"):
        return "vehicle_data"
    if path.startswith(("/oauth2/", "/api/1/users", "/api/1/tokens", "/api/1/admin/")):
        return "accounts"
    if path.startswith("/api/1/service"):
        return "service"
    if path.startswith(("/api/1/notifications", "/api/1/feed")):
        return "notifications"
    if path.startswith("/admin"):
        return None  # the operator console runs maintenance: like its API, never gated
    if path.startswith(("/app", "/static")):
        return "web"
    if path.startswith("/link/"):
        return "vehicle_link"
    return None


class BypassSigner:
    """Signed, expiring cookies that let an operator's browser through the gate."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"pitstop-bypass:" + secret.encode()).digest()

    def make(self, expires_at: int) -> str:
        sig = hmac.new(self._key, str(expires_at).encode(), hashlib.sha256).hexdigest()
        return f"{expires_at}.{sig}"

    def valid(self, value: str, now: float) -> bool:
        expires, _, sig = value.partition(".")
        if not expires.isdigit() or int(expires) < now:
            return False
        expected = hmac.new(self._key, expires.encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, sig)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def _cookie(raw: bytes | None, name: str) -> str | None:
    """The value of cookie `name` in a Cookie header."""
    if raw is None:
        return None
    for part in raw.decode("latin-1").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


class _Asked:
    """The request headers the closed path reads (the first of each), found in one pass."""

    __slots__ = ("accept", "authorization", "cookie", "host", "user_agent")

    def __init__(self, scope: Scope) -> None:
        self.accept: bytes | None = None
        self.authorization: bytes | None = None
        self.cookie: bytes | None = None
        self.host: bytes | None = None
        self.user_agent: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                if self.authorization is None:
                    self.authorization = bytes(value)
            elif name == b"cookie":
                if self.cookie is None:
                    self.cookie = bytes(value)
            elif name == b"accept":
                if self.accept is None:
                    self.accept = bytes(value)
            elif name == b"host":
                if self.host is None:
                    self.host = bytes(value)
            elif name == b"user-agent" and self.user_agent is None:
                self.user_agent = bytes(value)

    def client_key(self, scope: Scope) -> str:
        """Who is asking, for the Retry-After spread: the token, else address and user agent."""
        if self.authorization:
            return self.authorization.decode("latin-1")
        client = scope.get("client")
        return f"{client[0] if client else ''}|{(self.user_agent or b'').decode('latin-1')}"


class Gate:
    def __init__(
        self,
        app: ASGIApp,
        *,
        state: MaintenanceState,
        clock: Clock,
        tokens: Tokens,
        bypass: BypassSigner,
        retry: answer.RetryPolicy | None = None,
        public_url: str = "",
        classify: Callable[[str], str | None] = component_for,
    ) -> None:
        self.app = app
        self.state = state
        self.clock = clock
        self.tokens = tokens
        self.bypass = bypass
        self.retry = retry or answer.RetryPolicy()
        self.public_url = public_url.rstrip("/")
        self.classify = classify
        self._bodies: dict[
            tuple[int, int, bool, bytes, tuple[bytes | None, object] | None, str],
            tuple[answer.Unavailable, bytes],
        ] = {}
        #: hash of a client key -> its answer.client_seed (no raw tokens kept; a collision,
        #: one in 2**64, would only move a client within the Retry-After spread)
        self._seeds: dict[int, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        snapshot = self.state.snapshot
        if scope["type"] not in ("http", "websocket") or not (snapshot.closed or snapshot.upcoming):
            # Nothing to gate and nothing to announce (no window in force or scheduled): the
            # usual case, passed on with no further look at the request.
            await self.app(scope, receive, send)
            return
        component = self.classify(scope["path"])
        if component is None:
            await self.app(scope, receive, send)
            return
        window = self.state.closing(component)
        if (
            window is not None
            and window.mode == "read_only"
            and scope.get("method", "GET") in SAFE_METHODS
        ):
            # Served from last-known state; the header lets apps say so, and until when.
            scope["pitstop.read_only"] = window
            send = _with_header(send, _read_only_header(window))
            window = None
        if window is None:
            snapshot_has_notices = bool(self.state.snapshot.upcoming)
            notice = (
                self.state.notice(component, self.clock.now()) if snapshot_has_notices else None
            )
            if notice is None or scope["type"] != "http":
                await self.app(scope, receive, send)
            else:
                await self.app(scope, receive, _with_header(send, _notice_header(notice)))
            return
        asked = _Asked(scope)
        if await self._may_bypass(asked):
            await self.app(scope, receive, _with_header(send, BYPASS_HEADER))
            return
        await self._unavailable(scope, receive, send, window, asked)

    async def _may_bypass(self, asked: _Asked) -> bool:
        cookie = _cookie(asked.cookie, BYPASS_COOKIE)
        if cookie is not None and self.bypass.valid(cookie, self.clock.timestamp()):
            return True
        auth = asked.authorization
        if auth is None or not auth.lower().startswith(b"bearer "):
            return False
        token = auth[7:].decode("latin-1").strip()
        principal = self.tokens.cached(token)  # no I/O for a token checked lately
        if principal is None:
            try:
                principal = await self.tokens.authenticate(token)
            except Exception:
                return False
        return principal.is_operator

    def status_url(self, scope: Scope) -> str:
        return self._status_url(_header(scope, b"host"), scope.get("scheme"))

    def _status_url(self, host: bytes | None, scheme: object) -> str:
        if self.public_url:
            return f"{self.public_url}/status"
        shown = (host or b"localhost").decode("latin-1")
        return f"{'https' if scheme in ('https', 'wss') else 'http'}://{shown}/status"

    async def _unavailable(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        window: MaintenanceWindow,
        asked: _Asked,
    ) -> None:
        now_ts = self.clock.timestamp()
        end_ts = window.expected_end.timestamp()
        overrun = now_ts >= end_ts
        kind = answer.wants_for(asked.accept or b"", scope.get("path", ""))
        scheme = scope.get("scheme")
        # What the status URL is made of, rather than the URL: built only when a body is.
        where = None if self.public_url else (asked.host, scheme)
        # A problem+json body names the path it answers (`instance`): cache it per path.
        path: str = scope.get("path", "") if kind == answer.PROBLEM else ""
        key = (window.id, window.version, overrun, kind, where, path)
        cached = self._bodies.get(key)
        if cached is None:
            status_url = self._status_url(asked.host, scheme)
            cause = answer.for_window(window, self.clock.now(), status_url, self.retry)
            if len(self._bodies) > 1000:
                self._bodies.clear()
            cached = self._bodies[key] = (cause, answer.body(kind, cause, scope["path"]))
        cause, payload = cached
        # An overrunning window's body says to check back soon (cause.wait); else until its end.
        wait = cause.wait if overrun else end_ts - now_ts
        client = asked.client_key(scope)
        seed = self._seeds.get(hash(client))
        if seed is None:
            if len(self._seeds) > 100_000:
                self._seeds.clear()
            seed = self._seeds[hash(client)] = answer.client_seed(client)
        retry_after = self.retry.seconds_for(wait, seed)
        headers = answer.headers(kind, retry_after, len(payload))
        if scope["type"] == "websocket":
            await _refuse_websocket(scope, receive, send, headers, payload)
            return
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


def _read_only_header(window: MaintenanceWindow) -> tuple[bytes, bytes]:
    value = f"read_only; id={window.id}; expected_end={iso(window.expected_end)}"
    return (b"pitstop-maintenance", value.encode())


def _notice_header(window: MaintenanceWindow) -> tuple[bytes, bytes]:
    return (b"pitstop-maintenance-next", f"{iso(window.starts_at)}; id={window.id}".encode())


def _with_header(send: Send, header: tuple[bytes, bytes]) -> Send:
    async def sender(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), header]}
        await send(message)

    return sender


async def _refuse_websocket(
    scope: Scope, receive: Receive, send: Send, headers: list[tuple[bytes, bytes]], payload: bytes
) -> None:
    """Cars are told 503 with Retry-After on the handshake where the server can say so."""
    await receive()  # websocket.connect
    if "websocket.http.response" in scope.get("extensions", {}):
        await send({"type": "websocket.http.response.start", "status": 503, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": payload})
    else:
        await send({"type": "websocket.close", "code": 1013})
