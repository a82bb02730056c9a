"""The Web Push channel: an encrypted message per delivery to each of the user's browsers.

Each message is encrypted for the browser (RFC 8291, aes128gcm, by pywebpush) and signed
with the server's VAPID key (RFC 8292, vapid.py), then POSTed to the browser's push service
with httpx. The app's service worker shows it (web/static/app/sw.js).

Outcomes, decided in `classify`: 2xx delivered; 404 and 410 (the browser unsubscribed or the
subscription expired) permanent, and the subscription is forgotten; 408, 429 and 5xx,
timeouts and connection errors retried (at least Retry-After later); any other answer
(400, 401/403 for a VAPID key the push service does not accept, 413) permanent.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
import msgspec
from pywebpush import WebPusher
from sqlalchemy.ext.asyncio import AsyncConnection

from pitstop.availability.windows import iso
from pitstop.clock import Clock
from pitstop.notify.destinations import Pinned
from pitstop.notify.outcomes import Delivered, Message, Outcome, Permanent, RetryLater
from pitstop.notify.push_subscriptions import PushSubscriptions
from pitstop.notify.topics import PUSH
from pitstop.notify.vapid import VapidKey
from pitstop.notify.webhook import destination, http_client, retry_after, transport_failure

USER_AGENT = "Pitstop-Push/1"
GONE = frozenset({404, 410})
RETRYABLE = frozenset({408, 429})
#: Push services take at most 4096 bytes of encrypted record; this leaves room for the
#: encryption's header, padding and tag, and for the JSON around the text.
MAX_TEXT = 1000
#: How long a push service keeps a message for a browser that is offline, in seconds.
DEFAULT_TTL = 24 * 3600


def payload(message: Message) -> bytes:
    """What the service worker receives: enough to show the notification and open the app."""
    data: dict[str, Any] = message.data or {}
    text = message.text if len(message.text) <= MAX_TEXT else message.text[: MAX_TEXT - 1] + "…"
    return msgspec.json.encode(
        {
            "title": message.subject,
            "body": text,
            "url": data.get("url") or data.get("app_url") or "/app",
            # The key as tag: a retried message replaces itself instead of showing twice.
            "tag": message.key,
            "topic": message.topic,
            "timestamp": iso(message.created_at),
        }
    )


def classify(response: httpx.Response | None, exc: Exception | None, clock: Clock) -> Outcome:
    """The one place push service answers and transport failures become outcomes."""
    if exc is not None:
        return transport_failure(exc, receiver="the push service", url="push endpoint")
    assert response is not None
    status = response.status_code
    if 200 <= status < 300:
        return Delivered(f"HTTP {status}")
    if status in GONE:
        return Permanent(f"HTTP {status}: the browser's subscription is gone")
    if status in RETRYABLE or status >= 500:
        return RetryLater(
            f"HTTP {status}", after=retry_after(response.headers.get("retry-after"), clock.now())
        )
    if status in (401, 403):
        return Permanent(f"HTTP {status}: the push service refused our VAPID signature")
    return Permanent(f"HTTP {status}")


class PushChannel:
    name = PUSH

    def __init__(
        self,
        subscriptions: PushSubscriptions,
        vapid: VapidKey,
        clock: Clock,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        ttl: int = DEFAULT_TTL,
        allow_private: bool = True,
    ) -> None:
        self.subscriptions = subscriptions
        #: False: each push goes to the address checked to be public (destinations.py).
        self.allow_private = allow_private
        self.vapid = vapid
        self.clock = clock
        self.ttl = ttl
        self.http = http_client(USER_AGENT, transport, timeout)

    async def recipients(self, conn: AsyncConnection, user_ids: list[int]) -> list[tuple[int, str]]:
        return await self.subscriptions.for_users(conn, user_ids)

    async def send(self, message: Message) -> Outcome:
        subscription_id = int(message.recipient.address)
        keys = await self.subscriptions.keys(subscription_id)
        if keys is None:
            return Permanent("push was turned off in that browser")
        info = {"endpoint": keys.endpoint, "keys": {"p256dh": keys.p256dh, "auth": keys.auth}}
        body = WebPusher(info).encode(payload(message), "aes128gcm")["body"]
        parts = urlsplit(keys.endpoint)
        headers = {
            "authorization": self.vapid.authorization(f"{parts.scheme}://{parts.netloc}"),
            "content-encoding": "aes128gcm",
            "content-type": "application/octet-stream",
            "ttl": str(self.ttl),
            "urgency": "normal",
        }
        target = await destination(
            keys.endpoint, allow_private=self.allow_private, receiver="the push service"
        )
        if not isinstance(target, Pinned):
            return target
        headers.update(target.headers)
        try:
            response = await self.http.post(
                target.url, content=body, headers=headers, extensions=target.extensions
            )
            outcome = classify(response, None, self.clock)
        except httpx.HTTPError as exc:
            return classify(None, exc, self.clock)
        if isinstance(outcome, Delivered):
            await self.subscriptions.delivered(subscription_id)
        elif isinstance(outcome, Permanent) and response.status_code in GONE:
            await self.subscriptions.forget(subscription_id)
        return outcome

    async def close(self) -> None:
        await self.http.aclose()
