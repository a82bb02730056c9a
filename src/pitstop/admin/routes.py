"""The operator console at `/admin`: server-rendered pages, plain forms, no external assets.

    GET  /admin                          maintenance: in force, upcoming, recent; schedule form
    POST /admin/windows                  schedule a window
    GET  /admin/windows/{id}             one window: timeline, audit, and its actions
    POST /admin/windows/{id}/{verb}      start | extend | updates | finish | cancel
    GET  /admin/notifications            the outbox: counts, dead letters, retrying deliveries
    POST /admin/notifications/replay     replay one dead delivery (id) or every dead one
    GET  /admin/service?date=YYYY-MM-DD  the day's appointments per service center
    GET  /admin/mail[/{id}[/html]]       the demo inbox (see notify/mailbox.py)
    GET|POST /admin/signin, POST /admin/signout

Only operators get in (see admin/session.py). The console is never gated: it is how a window
is run, so it answers during any maintenance, like the maintenance API itself. Pages work
without JavaScript; a small same-origin script shows times in the browser's zone and fills in
its zone in the schedule form.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from pitstop.accounts.tokens import Principal
from pitstop.admin import session
from pitstop.availability.store import NotFound
from pitstop.availability.windows import (
    CANCELLED,
    COMPLETED,
    COMPONENTS,
    IN_PROGRESS,
    MODES,
    REASONS,
    SCHEDULED,
    MaintenanceWindow,
    WindowError,
    WindowRequest,
)
from pitstop.db.tables import notification_deliveries as deliveries_table
from pitstop.db.tables import notifications as notifications_table
from pitstop.notify.mailbox import Mailbox, mail_dir
from pitstop.notify.outbox import DEAD, PENDING
from pitstop.responses import ApiError
from pitstop.runtime import runtime
from pitstop.service.centers import Center
from pitstop.web import STATIC, templates

log = logging.getLogger(__name__)

ADMIN_STATIC = STATIC / "admin"
#: Same origin only; the mail viewer's iframe loads from this origin too.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-src 'self'; frame-ancestors 'none'; base-uri 'self'; "
    "form-action 'self'"
)
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
#: A mail's HTML part: a sandboxed document that runs nothing and loads nothing.
MAIL_CSP = (
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'self'; form-action 'none'"
)
VERBS = {
    "start": "started",
    "extend": "extended",
    "updates": "updated",
    "finish": "finished",
    "cancel": "cancelled",
}


def _page(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    principal: Principal | None = None,
    status_code: int = 200,
) -> Response:
    raw = request.cookies.get(session.COOKIE, "")
    base = {
        "operator": principal,
        "csrf": session.csrf_token(request, raw) if principal else "",
        "has_mailbox": Mailbox(mail_dir(runtime(request).settings.data_dir)).exists,
        "section": name.split("/")[-1].split(".")[0],
        "done": request.query_params.get("done", ""),
    }
    return templates.TemplateResponse(
        request, name, {**base, **context}, status_code=status_code, headers=HEADERS
    )


def _to_signin(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/admin/signin?next={quote(target)}", status_code=303)


Handler = Callable[[Request, Principal], Any]


def console(handler: Handler) -> Callable[[Request], Any]:
    """A console page: the operator signed in (else to the sign-in page), forms checked."""

    async def endpoint(request: Request) -> Response:
        try:
            principal = await session.operator(request)
        except session.NotSignedIn:
            if request.method == "GET":
                return _to_signin(request)
            return _page(
                request,
                "admin/message.html",
                {"title": "Signed out", "text": "Your console session has ended: sign in again."},
                status_code=401,
            )
        if request.method == "POST":
            form = await request.form()
            token = form.get("csrf")
            try:
                session.check_form(request, token if isinstance(token, str) else "")
            except ApiError as exc:
                return _page(
                    request,
                    "admin/message.html",
                    {"title": "Refused", "text": exc.description},
                    principal=principal,
                    status_code=403,
                )
        response: Response = await handler(request, principal)
        return response

    return endpoint


# --- sign in ----------------------------------------------------------------------------------


def _next(value: str | None) -> str:
    """Where to go after signing in: a console path, never another site."""
    if value and value.startswith("/admin") and not value.startswith("//"):
        return value
    return "/admin"


async def signin(request: Request) -> Response:
    rt = runtime(request)
    error = ""
    email = ""
    next_url = _next(request.query_params.get("next"))
    if request.method == "POST":
        form = await request.form()
        email = str(form.get("email", ""))
        next_url = _next(str(form.get("next", "")))
        if not session.same_origin(request):
            error = "This sign-in did not come from this page: reload it and try again."
        else:
            user = await rt.users.authenticate(email, str(form.get("password", "")))
            if user is None:
                error = "The email or password is wrong."
            elif user.role != "operator":
                error = "Only operators can use the console. Owners use the app at /app."
            else:
                grant = await rt.tokens.issue(
                    user,
                    client_id=session.CLIENT_ID,
                    label="console",
                    ttl=session.TTL,
                    refresh=False,
                )
                response = RedirectResponse(next_url, status_code=303)
                expires = int(rt.clock.timestamp()) + session.TTL
                session.start(request, response, grant.access_token, expires)
                return response
    return _page(
        request,
        "admin/signin.html",
        {"error": error, "email": email, "next": next_url},
        status_code=401 if error else 200,
    )


async def signout(request: Request) -> Response:
    raw = request.cookies.get(session.COOKIE)
    if raw and session.same_origin(request):
        await runtime(request).tokens.revoke(raw=raw)
    response = RedirectResponse("/admin/signin", status_code=303)
    session.end(response)
    return response


# --- maintenance ------------------------------------------------------------------------------


def _form_defaults(now: datetime) -> dict[str, Any]:
    start = (now + timedelta(hours=1)).replace(second=0, microsecond=0)
    return {
        "title": "",
        "reason": "performance",
        "description": "",
        "components": [],
        "mode": "full",
        "starts_local": start.strftime("%Y-%m-%dT%H:%M"),
        "timezone": "UTC",
        "duration_minutes": "30",
    }


async def _overview(
    request: Request,
    principal: Principal,
    *,
    error: str = "",
    field: str = "",
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    rt = runtime(request)
    now = rt.clock.now()
    windows = await rt.windows.find(ended_after=now - timedelta(days=14))
    current = [w for w in windows if w.status == IN_PROGRESS]
    upcoming = [w for w in windows if w.status == SCHEDULED]
    past = sorted(
        (w for w in windows if w.status in (COMPLETED, CANCELLED)),
        key=lambda w: w.ended_at or w.starts_at,
        reverse=True,
    )[:10]
    return _page(
        request,
        "admin/maintenance.html",
        {
            "current": current,
            "upcoming": upcoming,
            "past": past,
            "reasons": REASONS,
            "components": COMPONENTS,
            "modes": MODES,
            "form": form or _form_defaults(now),
            "error": error,
            "field": field,
            "now": now,
        },
        principal=principal,
        status_code=status_code,
    )


async def overview(request: Request, principal: Principal) -> Response:
    return await _overview(request, principal)


def _local(text: str, zone_name: str) -> datetime:
    try:
        zone = ZoneInfo(zone_name.strip() or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise WindowError(f"Unknown time zone {zone_name!r}.", "timezone") from exc
    try:
        naive = datetime.fromisoformat(text)
    except ValueError as exc:
        raise WindowError(
            "The start is a date and time like 2026-12-01T02:00.", "starts_at"
        ) from exc
    return naive.replace(tzinfo=zone) if naive.tzinfo is None else naive


async def schedule(request: Request, principal: Principal) -> Response:
    rt = runtime(request)
    data = await request.form()
    text = {
        name: str(data.get(name, default))
        for name, default in (
            ("title", ""),
            ("reason", ""),
            ("description", ""),
            ("mode", "full"),
            ("starts_local", ""),
            ("timezone", "UTC"),
            ("duration_minutes", ""),
        )
    }
    chosen = [str(c) for c in data.getlist("components")]
    form: dict[str, Any] = {**text, "components": chosen}
    try:
        try:
            minutes = float(text["duration_minutes"])
        except ValueError as exc:
            raise WindowError("The duration is a number of minutes.", "duration_minutes") from exc
        body = WindowRequest(
            title=text["title"],
            reason=text["reason"],
            description=text["description"],
            components=chosen,
            mode=text["mode"],
            starts_at=_local(text["starts_local"], text["timezone"]),
            duration_minutes=minutes,
        )
        window = await rt.windows.schedule(body, principal.email)
    except WindowError as exc:
        return await _overview(
            request, principal, error=str(exc), field=exc.field, form=form, status_code=422
        )
    return RedirectResponse(f"/admin/windows/{window.id}?done=scheduled", status_code=303)


def _window_id(request: Request) -> int:
    raw = str(request.path_params["window_id"])
    return int(raw) if raw.isdigit() else -1


async def _told(request: Request, window_id: int) -> list[dict[str, Any]]:
    """What owners were told about a window: each announcement, with its deliveries per status."""
    n, d = notifications_table.c, deliveries_table.c
    query = (
        sa.select(n.id, n.key, n.created_at, d.status, sa.func.count(d.id))
        .select_from(notifications_table.outerjoin(deliveries_table, d.notification_id == n.id))
        .where(n.key.startswith(f"maintenance:{window_id}:"))
        .group_by(n.id, n.key, n.created_at, d.status)
        .order_by(n.id)
    )
    async with runtime(request).engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    steps: dict[int, dict[str, Any]] = {}
    for notification_id, key, created_at, status, count in rows:
        parts = key.split(":")
        what = f"reminder {parts[3]}" if parts[2] == "reminder" else parts[-1]
        step = steps.setdefault(
            notification_id, {"what": what, "at": created_at, "key": key, "counts": {}}
        )
        if status is not None:
            step["counts"][status] = count
    return list(steps.values())


async def _window_page(
    request: Request,
    principal: Principal,
    window: MaintenanceWindow,
    *,
    error: str = "",
    status_code: int = 200,
) -> Response:
    rt = runtime(request)
    return _page(
        request,
        "admin/window.html",
        {
            "window": window,
            "audit": await rt.windows.audit(window.id),
            "told": await _told(request, window.id),
            "components": COMPONENTS,
            "error": error,
            "now": rt.clock.now(),
        },
        principal=principal,
        status_code=status_code,
    )


async def window_page(request: Request, principal: Principal) -> Response:
    try:
        window = await runtime(request).windows.get(_window_id(request))
    except NotFound:
        return _not_found(request, principal, "There is no such maintenance window.")
    return await _window_page(request, principal, window)


async def window_action(request: Request, principal: Principal) -> Response:
    store = runtime(request).windows
    window_id = _window_id(request)
    verb = str(request.path_params["verb"])
    form = await request.form()
    message = str(form.get("message", "")).strip()
    actor = principal.email
    try:
        if verb == "start":
            await store.start(window_id, actor)
        elif verb == "finish":
            await store.finish(window_id, actor, message=message)
        elif verb == "cancel":
            await store.cancel(window_id, actor, message=message)
        elif verb == "extend":
            try:
                minutes = float(str(form.get("minutes", "")))
            except ValueError as exc:
                raise WindowError("Extend by a number of minutes.", "minutes") from exc
            await store.extend(window_id, minutes, actor, message=message)
        elif verb == "updates":
            if not message:
                raise WindowError("An update needs a message.", "message")
            await store.post_update(window_id, message, actor)
        else:
            return _not_found(request, principal, f"There is no action {verb!r} on a window.")
    except NotFound:
        return _not_found(request, principal, "There is no such maintenance window.")
    except WindowError as exc:
        window = await store.get(window_id)
        return await _window_page(request, principal, window, error=str(exc), status_code=409)
    return RedirectResponse(f"/admin/windows/{window_id}?done={VERBS[verb]}", status_code=303)


def _not_found(request: Request, principal: Principal, text: str) -> Response:
    return _page(
        request,
        "admin/message.html",
        {"title": "Not found", "text": text},
        principal=principal,
        status_code=404,
    )


# --- notifications ----------------------------------------------------------------------------


async def notifications(request: Request, principal: Principal) -> Response:
    outbox = runtime(request).notify.outbox
    counts = await outbox.counts()
    dead = await outbox.deliveries(status=DEAD, limit=200)
    retrying = [d for d in await outbox.deliveries(status=PENDING, limit=500) if d.attempts > 0]
    statuses = ("pending", "delivering", "delivered", "dead")
    return _page(
        request,
        "admin/notifications.html",
        {
            "counts": counts,
            "statuses": statuses,
            "dead": dead,
            "retrying": retrying[:100],
            "replayed": request.query_params.get("replayed", ""),
        },
        principal=principal,
    )


async def replay(request: Request, principal: Principal) -> Response:
    rt = runtime(request)
    form = await request.form()
    raw = str(form.get("id", ""))
    if raw.isdigit():
        ids = await rt.notify.outbox.replay(ids=[int(raw)])
    else:
        ids = await rt.notify.outbox.replay()
    if ids:
        log.info("%s replayed deliveries %s from the console", principal.email, ids)
        rt.notify.worker.wake()
    return RedirectResponse(f"/admin/notifications?replayed={len(ids)}", status_code=303)


# --- service ----------------------------------------------------------------------------------


async def service_day(request: Request, principal: Principal) -> Response:
    rt = runtime(request)
    raw = request.query_params.get("date", "")
    error = ""
    day: date | None = None
    if raw:
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            error = "The date is a day like 2026-12-01."
    centers: list[Center] = await rt.service.centers.list()
    rows: list[dict[str, Any]] = []
    for center in centers:
        local_day = day or rt.clock.now().astimezone(center.tz).date()
        found = await rt.service.appointments.of_day([center], local_day, everything=True)
        items = []
        for a in found:
            vehicle = await rt.registry.get(a.vehicle_id)
            owner = await rt.users.get(a.owner_id)
            items.append(
                {
                    "appointment": a,
                    "local_start": a.starts_at.astimezone(center.tz),
                    "local_end": a.ends_at.astimezone(center.tz),
                    "vehicle": vehicle.display_name if vehicle else f"vehicle {a.vehicle_id}",
                    "vin": vehicle.vin if vehicle else "",
                    "owner": owner.email if owner else "",
                }
            )
        rows.append({"center": center, "day": local_day, "appointments": items})
    shown = day or (rows[0]["day"] if rows else rt.clock.now().date())
    return _page(
        request,
        "admin/service.html",
        {
            "centers": rows,
            "day": shown,
            "previous": shown - timedelta(days=1),
            "next": shown + timedelta(days=1),
            "error": error,
        },
        principal=principal,
    )


# --- the demo inbox ---------------------------------------------------------------------------


def _mailbox(request: Request) -> Mailbox:
    return Mailbox(mail_dir(runtime(request).settings.data_dir))


async def mail_list(request: Request, principal: Principal) -> Response:
    box = _mailbox(request)
    return _page(
        request,
        "admin/mail.html",
        {"exists": box.exists, "mails": box.latest(), "total": box.count()},
        principal=principal,
    )


async def mail_show(request: Request, principal: Principal) -> Response:
    raw = str(request.path_params["mail_id"])
    mail = _mailbox(request).get(int(raw)) if raw.isdigit() else None
    if mail is None:
        return _not_found(request, principal, "There is no such mail in the demo inbox.")
    shown = ("From", "To", "Subject", "Date", "List-Unsubscribe", "Message-ID")
    headers = [(k, v) for k, v in mail.headers if k in shown]
    return _page(
        request,
        "admin/mail_one.html",
        {"mail": mail, "headers": headers},
        principal=principal,
    )


async def mail_html(request: Request, principal: Principal) -> Response:
    raw = str(request.path_params["mail_id"])
    mail = _mailbox(request).get(int(raw)) if raw.isdigit() else None
    if mail is None or mail.html is None:
        return Response("No HTML part.", 404, media_type="text/plain")
    return Response(
        mail.html,
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Security-Policy": MAIL_CSP,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
        },
    )


async def slash(request: Request) -> Response:
    return RedirectResponse("/admin", status_code=308)


routes: list[BaseRoute] = [
    Route("/admin", console(overview), methods=["GET"]),
    Route("/admin/", slash, methods=["GET"]),
    Route("/admin/signin", signin, methods=["GET", "POST"]),
    Route("/admin/signout", signout, methods=["POST"]),
    Route("/admin/windows", console(schedule), methods=["POST"]),
    Route("/admin/windows/{window_id}", console(window_page), methods=["GET"]),
    Route("/admin/windows/{window_id}/{verb}", console(window_action), methods=["POST"]),
    Route("/admin/notifications", console(notifications), methods=["GET"]),
    Route("/admin/notifications/replay", console(replay), methods=["POST"]),
    Route("/admin/service", console(service_day), methods=["GET"]),
    Route("/admin/mail", console(mail_list), methods=["GET"]),
    Route("/admin/mail/{mail_id}", console(mail_show), methods=["GET"]),
    Route("/admin/mail/{mail_id}/html", console(mail_html), methods=["GET"]),
    Mount(
        "/admin/static", StaticFiles(directory=ADMIN_STATIC, check_dir=False), name="admin-static"
    ),
]
