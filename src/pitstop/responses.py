"""Tesla's envelope, and the one error type that every route raises.

Success: `{"response": ..., "error": null}`. Failure: `{"response": null, "error": "<enum>",
"error_description": "<text for a person>"}`, always JSON, never a non-empty `error` with 200.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

T = TypeVar("T")

_encoder = msgspec.json.Encoder()
encode = _encoder.encode

JSON = "application/json"


class ApiError(Exception):
    """An error the client should read: HTTP status, Tesla error enum, a sentence, and extras."""

    def __init__(
        self,
        status: int,
        error: str,
        description: str,
        *,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description
        self.headers = dict(headers or {})
        self.extra = extra


def json_response(
    payload: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(_encoder.encode(payload), status, headers, media_type=JSON)


def ok(response: Any, **extra: Any) -> Response:
    return json_response({"response": response, "error": None, **extra})


def error_body(error: str, description: str, **extra: Any) -> dict[str, Any]:
    return {"response": None, "error": error, "error_description": description, **extra}


def error_response(exc: ApiError) -> Response:
    return json_response(
        error_body(exc.error, exc.description, **exc.extra), exc.status, exc.headers
    )


async def api_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc)


_HTTP_ERRORS = {
    404: ("not_found", "There is nothing at this address."),
    405: ("invalid_method", "This address does not accept that method."),
}


async def http_error_handler(request: Request, exc: Exception) -> Response:
    """Starlette's own 404 and 405, in the envelope."""
    assert isinstance(exc, HTTPException)
    error, description = _HTTP_ERRORS.get(exc.status_code, ("invalid_request", str(exc.detail)))
    return json_response(error_body(error, description), exc.status_code, exc.headers)


def _messages(exc: msgspec.ValidationError) -> dict[str, list[str]]:
    # msgspec says e.g. "Expected `int`, got `str` - at `$.percent`"
    text = str(exc)
    text, _, path = text.partition(" - at `")
    field = path.rstrip("`").removeprefix("$.").removeprefix("$") or "body"
    return {field: [text]}


async def read_body(request: Request, shape: type[T]) -> T:
    """Decode and validate a JSON (or empty) body into `shape`, or raise a 400/422 the client can read."""
    return decode(await request.body(), shape)


def decode(raw: bytes, shape: type[T]) -> T:
    """`raw` JSON (empty counts as `{}`) as `shape`, or a 400/422 the client can read."""
    if not raw.strip():
        raw = b"{}"
    try:
        return msgspec.json.decode(raw, type=shape)
    except msgspec.ValidationError as exc:
        raise ApiError(
            422,
            "invalid_field",
            f"The request has an invalid value: {exc}",
            messages=_messages(exc),
        ) from exc
    except msgspec.DecodeError as exc:
        raise ApiError(
            400,
            "invalid_request",
            f"The request body is not valid JSON: {exc}",
            messages={"body": [str(exc)]},
        ) from exc
