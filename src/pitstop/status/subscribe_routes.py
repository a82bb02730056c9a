"""Following the status page by email: subscribe (double opt-in), confirm, unsubscribe.

    POST /status/subscribe            form (email, components) or JSON; mails a confirmation link
    GET|POST /status/confirm/{token}  a page with a button; the POST confirms
    GET|POST /status/unsubscribe/{t}  the link in every status mail; the POST (also one-click) removes

The answer to a subscription is the same whether or not the address was known, so the form
tells no one who follows the page.
"""

from __future__ import annotations

import hashlib
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pitstop.notify.topics import EMAIL, SUBSCRIPTION_TOPIC
from pitstop.responses import json_response
from pitstop.runtime import runtime
from pitstop.status.subscribers import SubscriptionError
from pitstop.web import templates

SENT = "If that address can receive mail, a message with a confirmation link is on its way. Follow it to start getting status updates."


def _page(request: Request, status: int = 200, **context: Any) -> Response:
    context = {"action": None, "button": "", "error": False} | context
    return templates.TemplateResponse(
        request,
        "status_message.html",
        context,
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


async def subscribe(request: Request) -> Response:
    rt = runtime(request)
    wants_json = request.headers.get("content-type", "").startswith("application/json")
    if wants_json:
        body = await request.json()
        email = str(body.get("email") or "") if isinstance(body, dict) else ""
        components = (
            [str(c) for c in (body.get("components") or [])] if isinstance(body, dict) else []
        )
    else:
        form = await request.form()
        email = str(form.get("email") or "")
        components = [str(c) for c in form.getlist("components")]

    def refuse(status: int, error: str, message: str, field: str) -> Response:
        if wants_json:
            payload = {
                "response": None,
                "error": error,
                "error_description": message,
                "messages": {field: [message]},
            }
            return json_response(payload, status)
        return _page(request, status, title="Not subscribed", message=message, error=True)

    if EMAIL not in rt.notify.channels:
        return refuse(
            503,
            "service_unavailable",
            "This Pitstop server sends no email, so it cannot take subscriptions.",
            "email",
        )
    try:
        made = await rt.status_subscribers.subscribe(email, components)
    except SubscriptionError as exc:
        return refuse(422, "invalid_field", str(exc), exc.field)
    if made is not None:
        sub_id, token = made
        # Not learned from this request: anyone may post here, with any Host header, and the
        # address is a stranger's until confirmed (notify/unsubscribe.py, `seen`).
        link = f"{rt.notify.links.base_url}/status/confirm/{token}"
        await rt.notify.notifier.notify(
            key=f"status-confirm:{sub_id}:{hashlib.sha256(token.encode()).hexdigest()[:16]}",
            topic=SUBSCRIPTION_TOPIC,
            user_ids=[],
            addresses=[email],
            subject="Confirm your subscription to the Pitstop status page",
            text=(
                "Someone, hopefully you, asked to get Pitstop's maintenance announcements and "
                f"incident updates at this address.\n\nTo confirm, open: {link}\n\n"
                "If it was not you, ignore this mail: nothing will be sent unless you confirm."
            ),
        )
    if wants_json:
        return json_response({"response": {"message": SENT}, "error": None}, 202)
    return _page(request, 202, title="Check your inbox", message=SENT)


async def confirm(request: Request) -> Response:
    rt = runtime(request)
    token = request.path_params["token"]
    if request.method == "GET":
        email = await rt.status_subscribers.pending(token)
        if email is None:
            return _page(
                request,
                404,
                title="Link not valid",
                message="This confirmation link was used already or is not valid.",
                error=True,
            )
        return _page(
            request,
            title="Confirm your subscription",
            message=f"Send Pitstop's maintenance announcements and incident updates to {email}?",
            action=str(request.url.path),
            button="Yes, subscribe",
        )
    email = await rt.status_subscribers.confirm(token)
    if email is None:
        return _page(
            request,
            404,
            title="Link not valid",
            message="This confirmation link was used already or is not valid.",
            error=True,
        )
    return _page(
        request,
        title="Subscribed",
        message=f"{email} will get Pitstop's status updates. Every mail has a link to stop them.",
    )


async def unsubscribe(request: Request) -> Response:
    rt = runtime(request)
    email = rt.notify.links.read_address(request.path_params["token"])
    if email is None:
        return _page(
            request,
            404,
            title="Link not valid",
            message="This unsubscribe link is not valid.",
            error=True,
        )
    if request.method == "GET":
        return _page(
            request,
            title="Unsubscribe",
            message=f"Stop all status page mail to {email}?",
            action=str(request.url.path),
            button="Unsubscribe",
        )
    await rt.status_subscribers.remove(email)
    return _page(
        request,
        title="Unsubscribed",
        message=f"{email} will get no more mail from the Pitstop status page.",
    )


routes = [
    Route("/status/subscribe", subscribe, methods=["POST"]),
    Route("/status/confirm/{token}", confirm, methods=["GET", "POST"]),
    Route("/status/unsubscribe/{token}", unsubscribe, methods=["GET", "POST"]),
]
