"""`GET /api/1/notifications/stream`: a user's feed as Server-Sent Events, live.

Each item is one event (`id:` the feed item id, `event: notification`, `data:` its JSON).
A client that reconnects sends `Last-Event-ID` (browsers do it by themselves) and gets what it
missed first; without it the stream starts with what arrives from now on (`?last_event_id=0`
replays everything). A comment line every `heartbeat` seconds keeps proxies from closing an
idle stream. The stream ends when the client goes away or the server drains.

A pure-ASGI response: it watches `receive()` for the disconnect itself, so a closed tab frees
the stream at once rather than at the next write.
"""

from __future__ import annotations

import asyncio

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from pitstop.accounts.auth import authenticate
from pitstop.notify.feed import FeedHub, FeedItem, FeedStore
from pitstop.responses import ApiError
from pitstop.runtime import runtime

HEARTBEAT = 15.0
#: How often a quiet stream checks whether the server is draining (seconds).
CHECK = 1.0
_encode = msgspec.json.Encoder().encode


def frame(item: FeedItem) -> bytes:
    return b"id: %d\nevent: notification\ndata: %s\n\n" % (item.id, _encode(item))


class EventStream(Response):
    media_type = "text/event-stream"

    def __init__(
        self, request: Request, *, user_id: int, after: int, hub: FeedHub, feed: FeedStore
    ) -> None:
        # No `super().__init__()`: that would render an empty body with Content-Length: 0.
        self.status_code = 200
        self.background = None
        self.init_headers(
            {"Cache-Control": "no-store", "X-Accel-Buffering": "no", "Connection": "keep-alive"}
        )
        self.request = request
        self.user_id = user_id
        self.after = after
        self.hub = hub
        self.feed = feed

    def _draining(self) -> bool:
        return bool(getattr(self.request.app.state, "draining", False))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gone = asyncio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        watcher = asyncio.create_task(watch())
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            await send(
                {"type": "http.response.body", "body": b"retry: 3000\n\n", "more_body": True}
            )
            with self.hub.listen(self.user_id) as wake:
                await self._pump(send, wake, gone)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            pass  # the client went away while we wrote
        finally:
            watcher.cancel()  # not awaited: that could swallow this handler's own cancellation

    async def _pump(self, send: Send, wake: asyncio.Event, gone: asyncio.Event) -> None:
        quiet = 0.0
        while not gone.is_set() and not self._draining():
            wake.clear()
            items = await self.feed.since(self.user_id, self.after)
            for item in items:
                await send({"type": "http.response.body", "body": frame(item), "more_body": True})
                self.after = item.id
            if len(items) >= 100:
                continue
            if quiet >= HEARTBEAT:
                await send({"type": "http.response.body", "body": b": ping\n\n", "more_body": True})
                quiet = 0.0
            waiters = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(gone.wait())]
            done, _ = await asyncio.wait(
                waiters, timeout=CHECK, return_when=asyncio.FIRST_COMPLETED
            )
            for waiter in waiters:
                waiter.cancel()
            quiet = 0.0 if done else quiet + CHECK


def _last_event_id(request: Request) -> int | None:
    raw = request.headers.get("last-event-id") or request.query_params.get("last_event_id")
    if raw is None or raw == "":
        return None
    if not raw.strip().isdigit():
        raise ApiError(
            422,
            "invalid_field",
            "Last-Event-ID is the id of a feed item.",
            messages={"last_event_id": ["not a number"]},
        )
    return int(raw)


async def stream(request: Request) -> Response:
    principal = await authenticate(request)
    notify = runtime(request).notify
    after = _last_event_id(request)
    if after is None:
        after = await notify.feed.newest_id(principal.user_id)
    return EventStream(
        request, user_id=principal.user_id, after=after, hub=notify.hub, feed=notify.feed
    )
