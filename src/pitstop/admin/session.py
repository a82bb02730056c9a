"""The operator console's session: an operator's access token in an HttpOnly cookie.

Signing in at `/admin/signin` checks the password, refuses anyone who is not an operator, and
issues a token for the client `pitstop-console` (listed with the others in `pitstop token
list`, revocable like them). The cookie is `SameSite=Strict`, `HttpOnly`, `Path=/admin`; forms
carry a token derived from the session (HMAC), and POSTs must come from this origin, so another
site can neither read nor drive the console. Alongside, the gate's bypass cookie lets the
operator's browser through maintenance (the app and the status page included) for as long.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from pitstop.accounts.tokens import Principal
from pitstop.availability.gate import BYPASS_COOKIE
from pitstop.responses import ApiError
from pitstop.runtime import runtime

COOKIE = "pitstop_console"
CLIENT_ID = "pitstop-console"
#: How long a console session lasts, in seconds.
TTL = 8 * 3600


class NotSignedIn(Exception):
    """No valid operator session: the page sends the browser to the sign-in page."""


def csrf_token(request: Request, session: str) -> str:
    key = hashlib.sha256(
        b"pitstop-console-csrf:" + runtime(request).settings.resolved_secret_key().encode()
    ).digest()
    return hmac.new(key, session.encode(), hashlib.sha256).hexdigest()[:40]


async def operator(request: Request) -> Principal:
    """The signed-in operator, or NotSignedIn."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        raise NotSignedIn
    try:
        principal = await runtime(request).tokens.authenticate(raw)
    except ApiError as exc:
        raise NotSignedIn from exc
    if not principal.is_operator:
        raise NotSignedIn
    request.scope["pitstop.principal"] = principal
    return principal


def same_origin(request: Request) -> bool:
    """A POST from a page of this server (Origin, else Referer, must name this host)."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source:
        return False
    parts = urlsplit(source)
    return parts.netloc == request.url.netloc


def check_form(request: Request, form_token: str) -> None:
    raw = request.cookies.get(COOKIE, "")
    if not same_origin(request) or not hmac.compare_digest(
        csrf_token(request, raw), form_token or ""
    ):
        raise ApiError(
            403, "forbidden", "This form did not come from the console: reload it and try again."
        )


def start(request: Request, response: Response, access_token: str, expires: int) -> None:
    secure = request.url.scheme == "https"
    response.set_cookie(
        COOKIE,
        access_token,
        max_age=TTL,
        path="/admin",
        httponly=True,
        samesite="strict",
        secure=secure,
    )
    response.set_cookie(
        BYPASS_COOKIE,
        runtime(request).bypass.make(expires),
        max_age=TTL,
        httponly=True,
        samesite="lax",
        secure=secure,
    )


def end(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/admin")
    response.delete_cookie(BYPASS_COOKIE)
