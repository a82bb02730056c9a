"""Owners' Web Push subscriptions.

    GET    /api/1/notifications/push                          the server's public key and the
                                                              caller's subscribed browsers
    POST   /api/1/notifications/push/subscriptions            the browser's PushSubscription JSON
    DELETE /api/1/notifications/push/subscriptions/{id}       turn push off for one browser
    POST   /api/1/notifications/push/unsubscribe              {"endpoint"}: the browser itself
    POST   /api/1/notifications/push/subscriptions/{id}/test  send a test message now

Which topics arrive as push is a preference (channel "push"), like every other channel.
"""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pitstop.accounts import scopes
from pitstop.accounts.auth import authenticate
from pitstop.notify.outcomes import Delivered, Message, Recipient, RetryLater
from pitstop.notify.push import PushChannel
from pitstop.notify.push_subscriptions import SubscriptionError
from pitstop.notify.topics import PUSH
from pitstop.responses import ApiError, ok, read_body
from pitstop.runtime import runtime


class BrowserKeys(msgspec.Struct):
    p256dh: str
    auth: str


class NewSubscription(msgspec.Struct, rename={"expiration_time": "expirationTime"}):
    """What `PushSubscription.toJSON()` gives in the browser, sent as it is."""

    endpoint: str
    keys: BrowserKeys
    expiration_time: float | None = None


class Unsubscribe(msgspec.Struct, forbid_unknown_fields=True):
    endpoint: str


_BROWSERS = (
    ("Edg/", "Edge"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def device_name(user_agent: str) -> str:
    """A name such as "Chrome on Android": enough for an owner to tell their browsers apart."""
    browser = next((name for mark, name in _BROWSERS if mark in user_agent), "A browser")
    system = next((name for mark, name in _SYSTEMS if mark in user_agent), "")
    return f"{browser} on {system}" if system else browser


def _subscription_id(request: Request) -> int:
    raw = request.path_params["subscription_id"]
    if not raw.isdigit():
        message = "A subscription id is a number."
        raise ApiError(422, "invalid_field", message, messages={"id": [message]})
    return int(raw)


def _missing() -> ApiError:
    return ApiError(404, "not_found", "You have no push subscription with this id.")


async def overview(request: Request) -> Response:
    principal = await authenticate(request, scopes.USER_DATA)
    notify = runtime(request).notify
    return ok(
        {
            "public_key": notify.vapid.public_key,
            "available": PUSH in notify.channels,
            "subscriptions": await notify.push_subscriptions.of_user(principal.user_id),
        }
    )


async def subscribe(request: Request) -> Response:
    principal = await authenticate(request, scopes.USER_DATA)
    body = await read_body(request, NewSubscription)
    try:
        found = await runtime(request).notify.push_subscriptions.subscribe(
            principal.user_id,
            body.endpoint,
            body.keys.p256dh,
            body.keys.auth,
            device_name(request.headers.get("user-agent", "")),
        )
    except SubscriptionError as exc:
        raise ApiError(422, "invalid_field", str(exc), messages={exc.field: [str(exc)]}) from exc
    return ok(found)


async def delete(request: Request) -> Response:
    principal = await authenticate(request, scopes.USER_DATA)
    subscriptions = runtime(request).notify.push_subscriptions
    if not await subscriptions.unsubscribe(
        principal.user_id, subscription_id=_subscription_id(request)
    ):
        raise _missing()
    return ok({"deleted": True})


async def unsubscribe(request: Request) -> Response:
    principal = await authenticate(request, scopes.USER_DATA)
    body = await read_body(request, Unsubscribe)
    subscriptions = runtime(request).notify.push_subscriptions
    deleted = await subscriptions.unsubscribe(principal.user_id, endpoint=body.endpoint.strip())
    return ok({"deleted": deleted})


async def test(request: Request) -> Response:
    """Send a test message to one browser now, and say what its push service answered."""
    principal = await authenticate(request, scopes.USER_DATA)
    rt = runtime(request)
    subscription_id = _subscription_id(request)
    mine = {s.id for s in await rt.notify.push_subscriptions.of_user(principal.user_id)}
    channel = rt.notify.channels.get(PUSH)
    if subscription_id not in mine:
        raise _missing()
    if not isinstance(channel, PushChannel):
        raise ApiError(503, "service_unavailable", "Push notifications are turned off here.")
    now = rt.clock.now()
    message = Message(
        delivery_id=0,
        key=f"push-test:{subscription_id}:{int(now.timestamp())}",
        topic="push.test",
        channel=PUSH,
        recipient=Recipient(user_id=principal.user_id, address=str(subscription_id)),
        subject="Pitstop notifications are on",
        text="This browser will show what you chose to hear about by push.",
        html=None,
        data={"url": "/app#inbox"},
        created_at=now,
        attempt=1,
    )
    outcome = await channel.send(message)
    if isinstance(outcome, Delivered):
        return ok({"delivered": True, "detail": outcome.detail})
    retry = isinstance(outcome, RetryLater)
    return ok({"delivered": False, "detail": outcome.error, "retry": retry})


routes = [
    Route("/api/1/notifications/push", overview, methods=["GET"]),
    Route("/api/1/notifications/push/subscriptions", subscribe, methods=["POST"]),
    Route("/api/1/notifications/push/subscriptions/{subscription_id}", delete, methods=["DELETE"]),
    Route("/api/1/notifications/push/subscriptions/{subscription_id}/test", test, methods=["POST"]),
    Route("/api/1/notifications/push/unsubscribe", unsubscribe, methods=["POST"]),
]
