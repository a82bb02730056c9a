"""Owners' notification routes: the feed, the live stream, preferences, unsubscribe links.

GET  /api/1/notifications                 the feed, newest first (?limit, ?before, ?unread)
POST /api/1/notifications/read            mark read: {"ids": [...]}, {"up_to": id} or {} (all)
GET  /api/1/notifications/stream          Server-Sent Events (see stream.py)
GET  /api/1/notifications/preferences     channels per topic, time zone
PUT  /api/1/notifications/preferences     change some of them (all or nothing)
GET|POST /notifications/unsubscribe/{token}   the link in every mail (not gated)
"""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pitstop.accounts import scopes
from pitstop.accounts.auth import authenticate
from pitstop.notify import admin_routes, push_routes, webhook_routes
from pitstop.notify.preferences import PreferencesError, PreferencesUpdate, UserPreferences
from pitstop.notify.stream import stream
from pitstop.notify.topics import CHANNELS, TOPICS, USER_TOPICS
from pitstop.notify.unsubscribe import PATH
from pitstop.responses import ApiError, ok, read_body
from pitstop.runtime import runtime
from pitstop.web import templates


class MarkRead(msgspec.Struct, forbid_unknown_fields=True):
    ids: list[int] | None = None
    up_to: int | None = None


def query_int(request: Request, name: str, default: int | None, lo: int, hi: int) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not lo <= int(raw) <= hi:
        raise ApiError(
            422,
            "invalid_field",
            f"{name} is a whole number from {lo} to {hi}.",
            messages={name: [f"a whole number from {lo} to {hi}"]},
        )
    return int(raw)


async def feed(request: Request) -> Response:
    principal = await authenticate(request, scopes.USER_DATA)
    runtime(request).notify.links.seen(str(request.base_url))
    limit = query_int(request, "limit", 20, 1, 100) or 20
    before = query_int(request, "before", None, 1, 2**62)
    unread = request.query_params.get("unread", "").lower() in ("1", "true", "yes")
    store = runtime(request).notify.feed
    items = await store.page(principal.user_id, limit=limit, before_id=before, unread=unread)
    return ok(
        {
            "items": items,
            "unread_count": await store.unread_count(principal.user_id),
            "next_before": items[-1].id if len(items) == limit else None,
        }
    )


async def mark_read(request: Request) -> Response:
    principal = await authenticate(request, scopes.USER_DATA)
    body = await read_body(request, MarkRead)
    store = runtime(request).notify.feed
    marked = await store.mark_read(principal.user_id, ids=body.ids, up_to=body.up_to)
    return ok({"marked": marked, "unread_count": await store.unread_count(principal.user_id)})


def _preferences(prefs: UserPreferences) -> dict[str, object]:
    return {
        "timezone": prefs.timezone,
        "channels": prefs.channels,
        "topics": USER_TOPICS,
        "available_channels": list(CHANNELS),
    }


async def get_preferences(request: Request) -> Response:
    principal = await authenticate(request, scopes.USER_DATA)
    runtime(request).notify.links.seen(str(request.base_url))
    return ok(_preferences(await runtime(request).notify.preferences.get(principal.user_id)))


async def put_preferences(request: Request) -> Response:
    principal = await authenticate(request, scopes.USER_DATA)
    change = await read_body(request, PreferencesUpdate)
    try:
        prefs = await runtime(request).notify.preferences.update(principal.user_id, change)
    except PreferencesError as exc:
        raise ApiError(
            422, "invalid_field", f"Nothing was changed: {exc}", messages=exc.messages
        ) from exc
    return ok(_preferences(prefs))


async def unsubscribe(request: Request) -> Response:
    notify = runtime(request).notify
    found = notify.links.read(request.path_params["token"])
    if found is None or found[1] not in TOPICS:
        return templates.TemplateResponse(
            request,
            "unsubscribe.html",
            {"problem": "This unsubscribe link is not valid."},
            status_code=404,
        )
    user_id, topic = found
    done = False
    if request.method == "POST":
        done = await notify.preferences.unsubscribe(user_id, topic)
        if not done:
            return templates.TemplateResponse(
                request,
                "unsubscribe.html",
                {"problem": "This account no longer exists."},
                status_code=404,
            )
    return templates.TemplateResponse(
        request,
        "unsubscribe.html",
        {"done": done, "topic_title": TOPICS[topic]},
        headers={"Cache-Control": "no-store"},
    )


routes = [
    Route("/api/1/notifications", feed, methods=["GET"]),
    Route("/api/1/notifications/read", mark_read, methods=["POST"]),
    Route("/api/1/notifications/stream", stream, methods=["GET"]),
    Route("/api/1/notifications/preferences", get_preferences, methods=["GET"]),
    Route("/api/1/notifications/preferences", put_preferences, methods=["PUT"]),
    *webhook_routes.routes,
    *push_routes.routes,
    *admin_routes.routes,
    Route(PATH + "/{token}", unsubscribe, methods=["GET", "POST"]),
]
