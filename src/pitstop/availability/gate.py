"""The gate: a pure ASGI middleware that answers 503 for what a maintenance window takes down.

It reads the in-memory `MaintenanceState` (no I/O per request). With no window in force or
announced for a route, a request costs a dictionary lookup or two on its way through.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.middleware import Middleware
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


def _cookie(raw: bytes | None, name: str) -> str | None:
    """The value of cookie `name` in a Cookie header."""
    if raw is None:
        return None
    for part in raw.decode("latin-1").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


#: Bounds of the gate's memos, each cleared whole when full. A client takes about 1 KB (its
#: Authorization header, token and seed), so 20,000 of them about 20 MB.
WINDOWS_KEPT = 100
ANSWERS_KEPT = 1000
STARTS_KEPT = 256
PATHS_KEPT = 10_000
CLIENTS_KEPT = 20_000


#: What a window's 503 bodies differ by: overrunning, kind (JSON, problem, HTML), the Host and
#: scheme the status URL is made of (None with a public URL), the problem's `instance` path.
_AnswerKey = tuple[bool, bytes, bytes | None, object, str]


class _Asked:
    """The request headers the closed path reads (the first of each), as `Gate.__call__`
    found them in its one pass over the headers."""

    __slots__ = ("accept", "authorization", "cookie", "host", "user_agent")

    def __init__(
        self,
        authorization: bytes | None,
        cookie: bytes | None,
        accept: bytes | None,
        host: bytes | None,
        user_agent: bytes | None,
    ) -> None:
        self.authorization = authorization
        self.cookie = cookie
        self.accept = accept
        self.host = host
        self.user_agent = user_agent


class _Client:
    """What the gate works out once per client rather than once per request, and the memo of
    the last refusal it gave that client: what was asked (window, Accept, Host, scheme, path),
    the answer, and until when it holds."""

    __slots__ = (
        "accept", "host", "path", "refusal", "scheme", "seed", "start", "token", "until", "window"
    )  # fmt: skip
    # Set by `remember`, read only while `until` is ahead, so only ever after it.
    refusal: _Answer
    start: Message

    def __init__(self, key: str, token: str | None) -> None:
        #: `answer.client_seed` of the client's key: its place in the Retry-After spread.
        self.seed = answer.client_seed(key)
        #: The bearer token, if the client sent one (kept as one str object, whose hash Python
        #: caches, so the token cache's lookups cost no rehashing).
        self.token = token
        self.until = 0.0  # a timestamp; nothing remembered yet
        self.window: MaintenanceWindow | None = None
        self.accept: bytes | None = None
        self.host: bytes | None = None
        self.scheme: object = None
        self.path = ""

    def remember(
        self,
        window: MaintenanceWindow,
        asked: _Asked,
        scheme: object,
        path: str,
        until: float,
        refusal: _Answer,
        start: Message,
    ) -> None:
        self.window, self.accept, self.host, self.scheme, self.path = (
            window, asked.accept, asked.host, scheme, path
        )  # fmt: skip
        self.until, self.refusal, self.start = until, refusal, start


class _Answer:
    """One 503 body, ready to send, and its start messages by Retry-After value."""

    __slots__ = ("body", "kind", "payload", "starts", "wait")

    def __init__(self, kind: bytes, cause: answer.Unavailable, payload: bytes) -> None:
        #: How long to wait for an overrunning window (else: until the window's end).
        self.wait = cause.wait
        self.kind = kind
        self.payload = payload
        self.body: Message = {"type": "http.response.body", "body": payload}
        #: Retry-After -> the `http.response.start` message. ASGI servers read messages, never
        #: change them, so one per value is shared by every request (uvicorn copies the
        #: headers). At any one time about `RetryPolicy.jitter` values are in use.
        self.starts: dict[int, Message] = {}

    def start(self, retry_after: int) -> Message:
        message = self.starts.get(retry_after)
        if message is None:
            if len(self.starts) >= STARTS_KEPT:
                self.starts.clear()
            message = self.starts[retry_after] = {
                "type": "http.response.start",
                "status": 503,
                "headers": answer.headers(self.kind, retry_after, len(self.payload)),
            }
        return message


class Gate:
    """Answers 503 for what a window in force takes down; marks or announces the rest.

    `create_app` puts it in front of everything of Starlette's own (see `GatedStarlette`), so
    that a client refused during a window costs little more than a raw ASGI answer: its 503 is
    sent from memos (the body per window and language, the start message per Retry-After, the
    client's jitter seed and parsed token), with no I/O for a token checked lately.
    """

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
        #: path -> its component (or None: never gated).
        self._components: dict[str, str | None] = {}
        #: Authorization header (or address and user agent) -> what is known of that client.
        #: It holds raw tokens, as the token cache's own memo does; bounded like it.
        self._clients: dict[object, _Client] = {}
        #: (window id, version) -> that window's answers, by what makes them differ.
        self._answers: dict[tuple[int, int], dict[_AnswerKey, _Answer]] = {}
        #: The window last answered for, its expected end as a timestamp, and its answers
        #: (windows are immutable and replaced on change, so identity says all still hold).
        self._window: MaintenanceWindow | None = None
        self._end_ts = 0.0
        self._window_answers: dict[_AnswerKey, _Answer] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        snapshot = self.state.snapshot
        if not (snapshot.closed or snapshot.upcoming) or scope["type"] not in ("http", "websocket"):
            # Nothing to gate and nothing to announce (no window in force or scheduled): the
            # usual case, passed on with no further look at the request.
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        try:
            component = self._components[path]
        except KeyError:
            component = self._classify(path)
        if component is None:
            await self.app(scope, receive, send)
            return
        window = snapshot.closed.get(component)
        if window is None or (
            window.mode == "read_only" and scope.get("method", "GET") in SAFE_METHODS
        ):
            await self._let_through(scope, receive, send, component, window)
            return

        # Closed. This runs for every request refused during a window, so it is written out
        # rather than split into helpers (a Python call costs about as much as a line here;
        # bench/gate_503_breakdown.py): it reads the headers it needs, and a client asking
        # again what it asked lately gets the same answer from its memo (see `_Client`).
        auth = cookie = accept = host = agent = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                if auth is None:
                    auth = value
            elif name == b"cookie":
                if cookie is None:
                    cookie = value
            elif name == b"accept":
                if accept is None:
                    accept = value
            elif name == b"host":
                if host is None:
                    host = value
            elif name == b"user-agent" and agent is None:
                agent = value
        if auth is not None:
            client = self._clients.get(auth)
        else:
            address = scope.get("client")
            client = self._clients.get((address[0] if address else "", agent))
        now_ts = self.clock.timestamp()
        if (
            client is not None
            and cookie is None
            and now_ts < client.until
            and client.window is window
            and client.accept == accept
            and client.host == host
            and client.path == path
            and client.scheme == scope.get("scheme")
        ):
            refusal, start = client.refusal, client.start
        else:
            asked = _Asked(auth, cookie, accept, host, agent)
            decided = await self._decide(scope, window, now_ts, asked)
            if decided is None:
                await self.app(scope, receive, _with_header(send, BYPASS_HEADER))
                return
            refusal, start = decided
        if scope["type"] == "http":
            await send(start)
            await send(refusal.body)
        else:
            await _refuse_websocket(scope, receive, send, start["headers"], refusal.payload)

    async def _decide(
        self, scope: Scope, window: MaintenanceWindow, now_ts: float, asked: _Asked
    ) -> tuple[_Answer, Message] | None:
        """Whether a request `window` closes may pass (None), else its 503 answer and start
        message, remembered in the client's memo until its Retry-After changes."""
        client = self._client(scope, asked)
        token = client.token
        may_pass: bool | None = False
        if asked.cookie is not None:
            may_pass = self._may_bypass(asked, client, now_ts)
        elif token is not None:  # the usual caller: a token the token cache knows
            principal = self.tokens.cached(token, now_ts)
            may_pass = None if principal is None else principal.is_operator
        if may_pass is None:  # a token not checked lately: ask the database
            may_pass = await self._operator(token)
        if may_pass:
            return None
        if window is not self._window:
            self._switch(window)
        end_ts = self._end_ts
        overrun = now_ts >= end_ts
        path: str = scope["path"]
        accept = asked.accept
        kind = answer.JSON if accept is None else answer.wants_for(accept, path)
        # What the body depends on: the status URL is made of the Host and scheme unless a
        # public URL is set, and a problem+json body names the path it answers (`instance`).
        key: _AnswerKey = (
            overrun,
            kind,
            None if self.public_url else asked.host,
            None if self.public_url else scope.get("scheme"),
            path if kind == answer.PROBLEM else "",
        )
        refusal = self._window_answers.get(key)
        if refusal is None:
            refusal = self._new_answer(key, window, path)
        # An overrunning window's body says to check back soon (cause.wait); else until its end.
        retry_after = self.retry.seconds_for(
            refusal.wait if overrun else end_ts - now_ts, client.seed
        )
        start = refusal.start(retry_after)
        if asked.cookie is None:
            # Until the whole seconds to the window's end change, and with them Retry-After,
            # the same client asking the same gets this again without a look at its token.
            # Only refusals are remembered: a token revoked meanwhile would be refused anyway.
            until = math.inf if overrun else end_ts - math.ceil(end_ts - now_ts) + 1
            client.remember(window, asked, scope.get("scheme"), path, until, refusal, start)
        return refusal, start

    async def _let_through(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        component: str,
        window: MaintenanceWindow | None,
    ) -> None:
        """Pass on a request its component's window (if any) does not refuse: a read in
        read-only mode, marked so; or one a coming window is announced on."""
        if window is not None:
            # Served from last-known state; the header lets apps say so, and until when.
            scope["pitstop.read_only"] = window
            send = _with_header(send, _read_only_header(window))
        notice = (
            self.state.notice(component, self.clock.now()) if self.state.snapshot.upcoming else None
        )
        if notice is None or scope["type"] != "http":
            await self.app(scope, receive, send)
        else:
            await self.app(scope, receive, _with_header(send, _notice_header(notice)))

    def _classify(self, path: str) -> str | None:
        """`classify`, remembered per path: a dictionary hit costs half the string tests."""
        if len(self._components) >= PATHS_KEPT:
            self._components.clear()
        component = self._components[path] = self.classify(path)
        return component

    def _client(self, scope: Scope, asked: _Asked) -> _Client:
        """Who is asking, for the Retry-After spread: the token, else address and user agent."""
        auth = asked.authorization
        if auth is not None:
            found = self._clients.get(auth)
            if found is None:
                token = None
                if auth[:7].lower() == b"bearer ":
                    token = auth[7:].decode("latin-1").strip()
                found = self._remember(bytes(auth), auth.decode("latin-1"), token)
            return found
        address = scope.get("client")
        ip = address[0] if address else ""
        key = (ip, asked.user_agent)
        found = self._clients.get(key)
        if found is None:
            found = self._remember(key, f"{ip}|{(asked.user_agent or b'').decode('latin-1')}", None)
        return found

    def _remember(self, key: object, client_key: str, token: str | None) -> _Client:
        if len(self._clients) >= CLIENTS_KEPT:
            self._clients.clear()
        found = self._clients[key] = _Client(client_key, token)
        return found

    def _may_bypass(self, asked: _Asked, client: _Client, now_ts: float) -> bool | None:
        """Whether the caller may pass: a valid bypass cookie, or an operator's token the token
        cache vouches for; None when only the database can tell (see `_operator`)."""
        if asked.cookie is not None:
            cookie = _cookie(asked.cookie, BYPASS_COOKIE)
            if cookie is not None and self.bypass.valid(cookie, now_ts):
                return True
        token = client.token
        if token is None:
            return False
        principal = self.tokens.cached(token, now_ts)  # no I/O for a token checked lately
        return None if principal is None else principal.is_operator

    async def _operator(self, token: str | None) -> bool:
        if token is None:
            return False
        try:
            principal = await self.tokens.authenticate(token)
        except Exception:
            return False
        return principal.is_operator

    def _status_url(self, host: bytes | None, scheme: object) -> str:
        if self.public_url:
            return f"{self.public_url}/status"
        shown = (host or b"localhost").decode("latin-1")
        return f"{'https' if scheme in ('https', 'wss') else 'http'}://{shown}/status"

    def _switch(self, window: MaintenanceWindow) -> None:
        """Make `window` the one whose end and answers are at hand."""
        self._window, self._end_ts = window, window.expected_end.timestamp()
        answers = self._answers.get((window.id, window.version))
        if answers is None:
            if len(self._answers) >= WINDOWS_KEPT:
                self._answers.clear()
            answers = self._answers[(window.id, window.version)] = {}
        self._window_answers = answers

    def _new_answer(self, key: _AnswerKey, window: MaintenanceWindow, path: str) -> _Answer:
        _, kind, host, scheme, _ = key
        status_url = self._status_url(host, scheme)
        cause = answer.for_window(window, self.clock.now(), status_url, self.retry)
        if len(self._window_answers) >= ANSWERS_KEPT:
            self._window_answers.clear()
        made = self._window_answers[key] = _Answer(kind, cause, answer.body(kind, cause, path))
        return made


class GatedStarlette(Starlette):
    """Starlette whose `__call__` hands every request to the gate first.

    Starlette puts its own `ServerErrorMiddleware` outermost, and a middleware given to it goes
    inside that, so every request would pay for Starlette's `__call__`, the error middleware
    and its `send` wrapper before the gate could refuse it: during a window of the whole
    service, about a third of the server's time per 503 (bench/gate_503.py). Here the gate is
    the first thing called, so a refused client costs little more than a raw ASGI answer; what
    the gate lets through goes on to Starlette's own `__call__` and its whole stack, so errors
    raised by routes and by the middlewares behind the gate are answered as ever.

    `create_app` sets `gate`, given as Starlette's middlewares are; with None this is plain
    Starlette. Like Starlette's stack, the gate is built at the first request.
    """

    #: The pure ASGI middleware to put in front of everything of Starlette's.
    gate: Middleware | None = None
    #: What `__call__` hands requests to: the gate, built around Starlette's own `__call__`.
    front: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        front = self.front
        if front is None:
            front = self.front = self.build_front()
        await front(scope, receive, send)

    def build_front(self) -> ASGIApp:
        inner = super().__call__  # Starlette's: sets scope["app"], then its middleware stack
        if self.gate is None:
            return inner
        cls, args, kwargs = self.gate
        front: ASGIApp = cls(inner, *args, **kwargs)
        return front


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
