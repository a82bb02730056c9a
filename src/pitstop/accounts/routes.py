"""OAuth endpoints (token, authorize with PKCE), the user endpoints, and operators' token admin."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit

import msgspec
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from pitstop.accounts import scopes as scope_names
from pitstop.accounts.auth import authenticate, authenticate_operator
from pitstop.accounts.tokens import OAuthError
from pitstop.accounts.users import UserExists
from pitstop.responses import ApiError, json_response, ok, read_body
from pitstop.runtime import runtime
from pitstop.web import templates

#: The first-party command line may trade a password for tokens (OAuth's password grant);
#: third-party clients must use the authorization code flow with PKCE.
PASSWORD_CLIENTS = frozenset({"pitstop-cli", "pitstop-web"})


async def _form(request: Request) -> dict[str, str]:
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = msgspec.json.decode(await request.body())
        except msgspec.DecodeError as exc:
            raise OAuthError("invalid_request", f"The body is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise OAuthError("invalid_request", "The body must be a JSON object.")
        return {k: str(v) for k, v in data.items()}
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _required(form: dict[str, str], *names: str) -> list[str]:
    missing = [n for n in names if not form.get(n)]
    if missing:
        raise OAuthError("invalid_request", f"Missing parameter(s): {', '.join(missing)}.")
    return [form[n] for n in names]


async def token(request: Request) -> Response:
    rt = runtime(request)
    form = await _form(request)
    grant = form.get("grant_type", "")
    requested = scope_names.parse(form["scope"]) if form.get("scope") else None
    if grant == "refresh_token":
        (refresh,) = _required(form, "refresh_token")
        result = await rt.tokens.refresh(refresh, client_id=form.get("client_id"))
    elif grant == "authorization_code":
        code, client_id, redirect_uri, verifier = _required(
            form, "code", "client_id", "redirect_uri", "code_verifier"
        )
        result = await rt.tokens.exchange_code(
            code, client_id=client_id, redirect_uri=redirect_uri, code_verifier=verifier
        )
    elif grant == "password":
        username, password, client_id = _required(form, "username", "password", "client_id")
        if client_id not in PASSWORD_CLIENTS:
            raise OAuthError(
                "unauthorized_client",
                "This client must use the authorization_code grant with PKCE.",
            )
        user = await rt.users.authenticate(username, password)
        if user is None:
            raise OAuthError("invalid_grant", "The email or password is wrong.", 401)
        result = await rt.tokens.issue(user, requested, client_id=client_id)
    else:
        raise OAuthError(
            "unsupported_grant_type",
            "grant_type must be authorization_code, refresh_token or password.",
        )
    result.state = form.get("state")
    return json_response(msgspec.to_builtins(result), headers={"Cache-Control": "no-store"})


def _redirect_allowed(request: Request, redirect_uri: str) -> bool:
    parts = urlsplit(redirect_uri)
    if parts.scheme == "https" and parts.hostname:
        return True
    if parts.scheme == "http" and parts.hostname in {"localhost", "127.0.0.1", "::1"}:
        return True
    return parts.netloc == request.url.netloc


async def authorize(request: Request) -> Response:
    """The small sign-in page of the authorization code flow (PKCE, S256 only)."""
    params = dict(request.query_params)
    if request.method == "POST":
        params.update(await _form(request))
    client_id = params.get("client_id", "")
    redirect_uri = params.get("redirect_uri", "")
    problem = ""
    if not client_id or not redirect_uri:
        problem = "client_id and redirect_uri are required."
    elif params.get("response_type", "code") != "code":
        problem = "Only response_type=code is supported."
    elif not params.get("code_challenge") or params.get("code_challenge_method", "S256") != "S256":
        problem = "A PKCE code_challenge with code_challenge_method=S256 is required."
    elif not _redirect_allowed(request, redirect_uri):
        problem = "This redirect_uri is not allowed: use https, or http on localhost."
    if problem:
        return templates.TemplateResponse(
            request, "signin.html", {"problem": problem, "params": params}, status_code=400
        )
    error = ""
    if request.method == "POST":
        rt = runtime(request)
        user = await rt.users.authenticate(params.get("email", ""), params.get("password", ""))
        if user is None:
            error = "The email or password is wrong."
        else:
            requested = (
                scope_names.parse(params.get("scope", "")) or scope_names.ROLE_SCOPES[user.role]
            )
            granted = requested & scope_names.ROLE_SCOPES[user.role]
            code = await rt.tokens.create_code(
                user,
                client_id=client_id,
                redirect_uri=redirect_uri,
                code_challenge=params["code_challenge"],
                scopes=granted,
            )
            query = {"code": code}
            if params.get("state"):
                query["state"] = params["state"]
            sep = "&" if "?" in redirect_uri else "?"
            return RedirectResponse(f"{redirect_uri}{sep}{urlencode(query)}", status_code=303)
    hidden = {
        k: v
        for k, v in params.items()
        if k
        in {
            "client_id",
            "redirect_uri",
            "response_type",
            "scope",
            "state",
            "code_challenge",
            "code_challenge_method",
        }
    }
    return templates.TemplateResponse(
        request,
        "signin.html",
        {
            "problem": "",
            "error": error,
            "hidden": hidden,
            "client_id": client_id,
            "email": params.get("email", ""),
            "redirect_host": urlsplit(redirect_uri).netloc,
        },
        status_code=401 if error else 200,
    )


# --- users ----------------------------------------------------------------------------------


async def me(request: Request) -> Response:
    principal = await authenticate(request, scope_names.USER_DATA)
    user = await runtime(request).users.get(principal.user_id)
    assert user is not None
    return ok(
        {
            "email": user.email,
            "full_name": user.full_name,
            "profile_image_url": None,
            "vault_uuid": None,
            "role": user.role,
        }
    )


async def orders(request: Request) -> Response:
    await authenticate(request, scope_names.USER_DATA)
    return ok([], count=0)


async def region(request: Request) -> Response:
    await authenticate(request)
    base = runtime(request).settings.public_url or str(request.base_url).rstrip("/")
    return ok({"region": "eu", "fleet_api_base_url": base})


# --- operators: users and tokens --------------------------------------------------------------


class NewUser(msgspec.Struct, forbid_unknown_fields=True):
    email: str
    password: str
    role: str = "owner"
    full_name: str = ""


class NewToken(msgspec.Struct, forbid_unknown_fields=True):
    email: str
    label: str = ""
    scopes: list[str] | None = None
    ttl_days: float = msgspec.field(default=30.0)


async def create_user(request: Request) -> Response:
    await authenticate_operator(request)
    body = await read_body(request, NewUser)
    try:
        user = await runtime(request).users.create(
            body.email, body.password, role=body.role, full_name=body.full_name
        )
    except UserExists as exc:
        raise ApiError(409, "conflict", str(exc)) from exc
    except ValueError as exc:
        raise ApiError(422, "invalid_field", str(exc), messages={"body": [str(exc)]}) from exc
    return ok(msgspec.to_builtins(user))


async def create_token(request: Request) -> Response:
    await authenticate_operator(request)
    body = await read_body(request, NewToken)
    if not 0 < body.ttl_days <= 3650:
        raise ApiError(
            422,
            "invalid_field",
            "ttl_days must be between 0 and 3650.",
            messages={"ttl_days": ["must be between 0 and 3650"]},
        )
    rt = runtime(request)
    user = await rt.users.by_email(body.email)
    if user is None:
        raise ApiError(404, "not_found", f"There is no user with email {body.email}.")
    grant = await rt.tokens.issue(
        user,
        frozenset(body.scopes) if body.scopes is not None else None,
        client_id="pitstop-admin",
        label=body.label,
        ttl=int(body.ttl_days * 86400),
        refresh=False,
    )
    tokens = await rt.tokens.list(user.id)
    info: dict[str, Any] = msgspec.to_builtins(tokens[-1])
    info["access_token"] = grant.access_token
    return ok(info)


async def list_tokens(request: Request) -> Response:
    await authenticate_operator(request)
    return ok(msgspec.to_builtins(await runtime(request).tokens.list()))


async def revoke_token(request: Request) -> Response:
    await authenticate_operator(request)
    raw_id = request.path_params["token_id"]
    if not raw_id.isdigit():
        raise ApiError(
            422, "invalid_field", "A token id is a number.", messages={"token_id": ["not a number"]}
        )
    if not await runtime(request).tokens.revoke(token_id=int(raw_id)):
        raise ApiError(404, "not_found", f"There is no active token with id {raw_id}.")
    return ok({"revoked": True, "id": int(raw_id)})


async def revoke_own(request: Request) -> Response:
    """RFC 7009 style: a client revokes the token it holds."""
    form = await _form(request)
    (raw,) = _required(form, "token")
    await runtime(request).tokens.revoke(raw=raw)
    return json_response({}, headers={"Cache-Control": "no-store"})


routes = [
    Route("/oauth2/v3/token", token, methods=["POST"]),
    Route("/oauth2/v3/revoke", revoke_own, methods=["POST"]),
    Route("/oauth2/v3/authorize", authorize, methods=["GET", "POST"]),
    Route("/api/1/users/me", me),
    Route("/api/1/users/orders", orders),
    Route("/api/1/users/region", region),
    Route("/api/1/users", create_user, methods=["POST"]),
    Route("/api/1/tokens", list_tokens, methods=["GET"]),
    Route("/api/1/tokens", create_token, methods=["POST"]),
    Route("/api/1/tokens/{token_id}", revoke_token, methods=["DELETE"]),
]
