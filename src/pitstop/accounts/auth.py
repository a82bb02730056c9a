"""Who is calling: the bearer token of a request, checked against the scopes a route needs."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from pitstop.accounts.tokens import Principal
from pitstop.responses import ApiError
from pitstop.runtime import runtime


def bearer_token(conn: HTTPConnection) -> str | None:
    return parse_bearer(conn.headers.get("authorization", ""))


def parse_bearer(header: str) -> str | None:
    """The token of an `Authorization: Bearer <token>` header value; None if it is not one."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


async def authenticate(conn: HTTPConnection, *required: str) -> Principal:
    """The caller, if their token is valid and carries every scope in `required`."""
    raw = bearer_token(conn)
    if raw is None:
        raise ApiError(
            401,
            "missing_token",
            "This request needs an access token: send 'Authorization: Bearer <token>'.",
            headers={"WWW-Authenticate": 'Bearer realm="pitstop"'},
        )
    principal = await runtime(conn).tokens.authenticate(raw)
    missing = [scope for scope in required if scope not in principal.scopes]
    if missing:
        raise ApiError(
            403,
            "missing_scopes",
            f"The access token lacks the scopes this request needs: {', '.join(missing)}.",
            missing_scopes=missing,
        )
    conn.scope["pitstop.principal"] = principal
    return principal


async def authenticate_any(conn: HTTPConnection, *alternatives: str) -> Principal:
    """The caller, if their token carries at least one of `alternatives`."""
    principal = await authenticate(conn)
    if not any(scope in principal.scopes for scope in alternatives):
        raise ApiError(
            403,
            "missing_scopes",
            f"The access token needs one of these scopes: {', '.join(alternatives)}.",
            missing_scopes=list(alternatives),
        )
    return principal


async def authenticate_operator(conn: HTTPConnection) -> Principal:
    principal = await authenticate(conn, "operator")
    if principal.role != "operator":
        raise ApiError(403, "forbidden", "Only operators may do this.")
    return principal
