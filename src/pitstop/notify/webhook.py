"""The webhook channel: a signed POST per delivery to each of the user's endpoints (httpx).

Outcomes, decided in `classify`: 2xx delivered; 408, 429 and 5xx, timeouts and connection
errors retried (at least Retry-After later when the receiver says so); any other answer
(other 4xx, redirects, which are not followed) permanent. An endpoint removed or disabled
since the delivery was queued is permanent too, and so is one that leads into a network
when the server sends to public addresses only (destinations.py).
"""

from __future__ import annotations

import math
from datetime import datetime
from email.utils import parsedate_to_datetime

import httpx
import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection

from pitstop.availability.windows import iso
from pitstop.clock import Clock
from pitstop.notify import signing
from pitstop.notify.destinations import Pinned, PrivateDestination, pinned
from pitstop.notify.endpoints import WebhookEndpoints
from pitstop.notify.outcomes import Delivered, Message, Outcome, Permanent, RetryLater
from pitstop.notify.topics import WEBHOOK

USER_AGENT = "Pitstop-Webhooks/1"
RETRYABLE = frozenset({408, 429})


def retry_after(value: str | None, now: datetime) -> float | None:
    """Retry-After as seconds from `now`: delay-seconds or an HTTP-date; None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - now).total_seconds())


def transport_failure(exc: Exception, *, receiver: str, url: str) -> Outcome:
    """An httpx failure before any answer (shared with the push channel): timeouts and
    unreachable receivers are retried, a URL httpx cannot use is permanent."""
    if isinstance(exc, httpx.TimeoutException):
        return RetryLater(f"timed out: {type(exc).__name__}")
    if isinstance(exc, httpx.TransportError):
        return RetryLater(f"could not reach {receiver}: {type(exc).__name__}: {exc}")
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return Permanent(f"invalid {url}: {exc}")
    raise exc


def http_client(
    user_agent: str, transport: httpx.AsyncBaseTransport | None, timeout: float
) -> httpx.AsyncClient:
    """The HTTP client of a channel that posts to owners' receivers (webhooks, push
    services): redirects are never followed, as they could lead anywhere."""
    return httpx.AsyncClient(
        transport=transport,
        timeout=timeout,
        follow_redirects=False,
        headers={"User-Agent": user_agent},
    )


async def destination(url: str, *, allow_private: bool, receiver: str) -> Pinned | Outcome:
    """Where to post `url`: as it is where private destinations are allowed; else bound to the
    address checked to be public (destinations.pinned), or the outcome that refuses it."""
    if allow_private:
        return Pinned(url, {}, {})
    try:
        return await pinned(url)
    except PrivateDestination as exc:
        return Permanent(str(exc))
    except OSError as exc:
        return RetryLater(f"could not resolve {receiver}'s host: {exc}")


def classify(response: httpx.Response | None, exc: Exception | None, now: datetime) -> Outcome:
    """The one place HTTP answers and transport failures become outcomes."""
    if exc is not None:
        return transport_failure(exc, receiver="the endpoint", url="endpoint URL")
    assert response is not None
    status = response.status_code
    if 200 <= status < 300:
        return Delivered(f"HTTP {status}")
    if status in RETRYABLE or status >= 500:
        wait = retry_after(response.headers.get("retry-after"), now)
        return RetryLater(f"HTTP {status}", after=wait)
    if 300 <= status < 400:
        return Permanent(f"HTTP {status}: redirects are not followed")
    return Permanent(f"HTTP {status}")


def payload(message: Message) -> bytes:
    return msgspec.json.encode(
        {
            "type": message.topic,
            "timestamp": iso(message.created_at),
            "data": {
                "key": message.key,
                "topic": message.topic,
                "subject": message.subject,
                "text": message.text,
                "data": message.data,
            },
        }
    )


class WebhookChannel:
    name = WEBHOOK

    def __init__(
        self,
        endpoints: WebhookEndpoints,
        clock: Clock,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        allow_private: bool = True,
    ) -> None:
        self.endpoints = endpoints
        self.clock = clock
        self.allow_private = allow_private
        self.http = http_client(USER_AGENT, transport, timeout)

    async def recipients(self, conn: AsyncConnection, user_ids: list[int]) -> list[tuple[int, str]]:
        return await self.endpoints.for_users(conn, user_ids)

    async def send(self, message: Message) -> Outcome:
        found = await self.endpoints.get(int(message.recipient.address))
        if found is None:
            return Permanent("the webhook endpoint was removed")
        endpoint, secrets = found
        if not endpoint.enabled:
            return Permanent("the webhook endpoint is disabled")
        target = await destination(
            endpoint.url, allow_private=self.allow_private, receiver="the endpoint"
        )
        if not isinstance(target, Pinned):
            return target
        body = payload(message)
        timestamp = math.floor(self.clock.timestamp())
        headers = signing.headers(secrets, message.key, timestamp, body)
        headers["content-type"] = "application/json"
        headers.update(target.headers)
        try:
            async with self.http.stream(
                "POST", target.url, content=body, headers=headers, extensions=target.extensions
            ) as r:
                return classify(r, None, self.clock.now())
        except httpx.HTTPError as exc:
            return classify(None, exc, self.clock.now())

    async def close(self) -> None:
        await self.http.aclose()
