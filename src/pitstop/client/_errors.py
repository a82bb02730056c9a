"""The few exceptions a Pitstop client raises, and the one place where HTTP failures become them.

Every failure, whatever its cause (a status code, a refused connection, a body that is not
JSON), reaches the caller as a `PitstopError` with a sentence a person can read (`message`)
and, where there is something to do about it, a `hint`. Nothing from httpx leaks out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any

import httpx

from pitstop.client._words import clock_at, local_zone, reason_words, relative, wait_words

if TYPE_CHECKING:
    from pitstop.client._last_known import LastKnown


class PitstopError(Exception):
    """Base of every error the client raises.

    `message` is one sentence for a person; `hint` says what to do about it (or is empty).
    `status` is the HTTP status when the server answered, `error` the server's error enum.
    """

    def __init__(
        self,
        message: str,
        hint: str = "",
        *,
        status: int | None = None,
        error: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.status = status
        self.error = error

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class AuthError(PitstopError):
    """The token is missing, wrong, expired or revoked, or the password is wrong (HTTP 401)."""


class ForbiddenError(PitstopError):
    """The token lacks scopes the request needs (HTTP 403); `missing_scopes` lists them."""

    def __init__(
        self,
        message: str,
        hint: str = "",
        *,
        missing_scopes: list[str] | None = None,
        status: int | None = 403,
        error: str | None = None,
    ) -> None:
        super().__init__(message, hint, status=status, error=error)
        self.missing_scopes = list(missing_scopes or [])


class NotFoundError(PitstopError):
    """The vehicle (or other thing) does not exist, or is not the caller's (HTTP 404)."""


class VehicleUnavailable(PitstopError):
    """The car cannot answer right now (HTTP 408 `vehicle_unavailable`); `state` says why."""

    def __init__(
        self,
        message: str,
        hint: str = "",
        *,
        state: str = "",
        vehicle: str = "",
        status: int | None = 408,
        error: str | None = "vehicle_unavailable",
    ) -> None:
        super().__init__(message, hint, status=status, error=error)
        self.state = state
        self.vehicle = vehicle


class VehicleAsleep(VehicleUnavailable):
    """The car is asleep: wake it (`wake_up`) before reading it or sending commands."""


class VehicleOffline(VehicleUnavailable):
    """The car has no connection to Pitstop right now: waking it will not help."""


class InvalidInput(PitstopError):
    """The server refused the request's values (HTTP 400 or 422); `messages` maps field to problems."""

    def __init__(
        self,
        message: str,
        hint: str = "",
        *,
        messages: dict[str, list[str]] | None = None,
        status: int | None = 422,
        error: str | None = None,
    ) -> None:
        super().__init__(message, hint, status=status, error=error)
        self.messages = dict(messages or {})


class Conflict(PitstopError):
    """The request clashes with the current state (HTTP 409), e.g. extending a finished window."""


@dataclass(frozen=True)
class Maintenance:
    """The maintenance window a 503 names: why the service is down and until when."""

    id: str
    title: str
    reason: str
    expected_end: datetime | None
    status_url: str
    scope: tuple[str, ...] = ()  # ("all",) for the whole service
    started_at: datetime | None = None
    mode: str = "full"  # or "read_only": reads work, changes wait
    overrunning: bool = False
    description: str = ""

    @property
    def reason_text(self) -> str:
        """The reason in words: "security update"."""
        return reason_words(self.reason)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Maintenance:
        scope = data.get("scope") or ()
        return cls(
            id=str(data.get("id", "")),
            title=str(data.get("title") or ""),
            reason=str(data.get("reason") or ""),
            expected_end=_datetime(data.get("expected_end")),
            status_url=str(data.get("status_url") or ""),
            scope=(scope,) if isinstance(scope, str) else tuple(str(s) for s in scope),
            started_at=_datetime(data.get("started_at")),
            mode=str(data.get("mode") or "full"),
            overrunning=bool(data.get("overrunning")),
            description=str(data.get("description") or ""),
        )


class ServerUnavailable(PitstopError):
    """The server is down for now (HTTP 503): maintenance, overload or a failed dependency.

    `retry_after` is the server's Retry-After in seconds (or None); `maintenance` describes the
    planned window when the server is in one. `last_known` is the car's data as last read
    (`pitstop.client.LastKnown`), when the call was a read the client has seen answered before.
    """

    last_known: LastKnown | None = None

    def __init__(
        self,
        message: str,
        hint: str = "",
        *,
        retry_after: float | None = None,
        maintenance: Maintenance | None = None,
        status: int | None = 503,
        error: str | None = None,
    ) -> None:
        super().__init__(message, hint, status=status, error=error)
        self.retry_after = retry_after
        self.maintenance = maintenance


class RateLimited(PitstopError):
    """Too many requests (HTTP 429); `retry_after` is how many seconds to wait."""

    def __init__(
        self,
        message: str,
        hint: str = "",
        *,
        retry_after: float | None = None,
        status: int | None = 429,
        error: str | None = None,
    ) -> None:
        super().__init__(message, hint, status=status, error=error)
        self.retry_after = retry_after


class Unreachable(PitstopError):
    """No answer from the server: connection refused, unknown host, or a timeout.

    `reason` is the network's own words (e.g. "Name or service not known"); `last_known` as
    for `ServerUnavailable`.
    """

    last_known: LastKnown | None = None

    def __init__(self, message: str, hint: str = "", *, url: str = "", reason: str = "") -> None:
        super().__init__(message, hint)
        self.url = url
        self.reason = reason


# --- the boundary -----------------------------------------------------------------------------

LOGIN_HINT = "run `pitstop login`"
VEHICLES_HINT = "`pitstop vehicles` lists yours"


def _datetime(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The response's Retry-After in seconds, if it is delay-seconds (Pitstop never sends dates)."""
    raw = response.headers.get("retry-after", "").strip()
    try:
        value = float(raw)
    except ValueError:
        return None
    return max(0.0, value) if value == value else None  # NaN is not a delay


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def unavailable_sentence(
    maintenance: Maintenance, *, now: datetime, tz: tzinfo | None = None
) -> tuple[str, str]:
    """A maintenance 503 as a person reads it, and a hint; times in the reader's zone:

    "Server maintenance (security update): Pitstop expects to be back at 14:30, in 12 min.
    Status: http://host/status"
    """
    tz = tz or local_zone()
    what = (
        f"Server maintenance ({maintenance.reason_text})"
        if maintenance.reason
        else "Server maintenance"
    )
    end = maintenance.expected_end
    if end is None:
        sentence = f"{what}: Pitstop is unavailable for now."
    elif maintenance.overrunning or end <= now:
        sentence = (
            f"{what} is taking longer than planned: Pitstop expected to be back at "
            f"{clock_at(end, now=now, tz=tz)} ({relative(end, now=now)})."
        )
    else:
        sentence = (
            f"{what}: Pitstop expects to be back at {clock_at(end, now=now, tz=tz)}, "
            f"{relative(end, now=now)}."
        )
    if maintenance.status_url:
        sentence += f" Status: {maintenance.status_url}"
    if maintenance.mode == "read_only":
        hint = "reading works meanwhile; changes are paused until then"
    elif maintenance.scope and "all" not in maintenance.scope:
        parts = [s.replace("_", " ") for s in maintenance.scope]
        verb = "is" if len(parts) == 1 else "are"
        hint = f"only {', '.join(parts)} {verb} paused; the rest works"
    else:
        hint = ""
    return sentence, hint


def unreachable(exc: httpx.TransportError, base_url: str) -> Unreachable:
    """A transport failure as a sentence about the server."""
    reason = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
        return Unreachable(
            f"The Pitstop server at {base_url} did not answer in time.",
            "it may be overloaded: try again shortly",
            url=base_url,
            reason=reason,
        )
    return Unreachable(
        f"Cannot reach the Pitstop server at {base_url}: is it running? Check PITSTOP_URL.",
        "start one with `pitstop serve`, or set PITSTOP_URL to where yours runs",
        url=base_url,
        reason=reason,
    )


def error_from_response(
    response: httpx.Response,
    *,
    vehicle: str = "",
    auth_hint: str = LOGIN_HINT,
    now: datetime | None = None,
    tz: tzinfo | None = None,
) -> PitstopError:
    """The exception for a failed answer (status >= 400) in Tesla's envelope, or any other body.

    `vehicle` is the key the caller used for the car, so hints can name it; `now` and `tz` are
    the reader's time and zone, for sentences about when the server is back.
    """
    status = response.status_code
    body = _body(response)
    error = str(body.get("error") or "") or None
    description = str(body.get("error_description") or "").strip()
    if not description:
        description = f"The server answered {status} {response.reason_phrase}.".replace(" .", ".")
    kw: dict[str, Any] = {"status": status, "error": error}

    if status == 401:
        if error == "missing_token":
            description = "You are not signed in: this request needs an access token."
        return AuthError(description, auth_hint, **kw)
    if status == 403:
        missing = [str(s) for s in body.get("missing_scopes") or []]
        hint = (
            f"the token needs: {', '.join(missing)}; sign in again or ask for a token with them"
            if missing
            else "this account may not do that"
        )
        return ForbiddenError(description, hint, missing_scopes=missing, **kw)
    if status == 404:
        hint = VEHICLES_HINT if vehicle else ""
        return NotFoundError(description, hint, **kw)
    if status == 408 and error == "vehicle_unavailable":
        state = str(body.get("state") or "")
        name = f"The car {vehicle}" if vehicle else "The car"
        if state == "asleep":
            return VehicleAsleep(
                f"{name} is asleep.",
                f"wake it with `pitstop wake {vehicle or 'VIN'}`",
                state=state,
                vehicle=vehicle,
                **kw,
            )
        return VehicleOffline(
            f"{name} is offline: it has no connection to Pitstop right now."
            if state in ("offline", "")
            else description,
            "check that the car is in coverage and try again later",
            state=state,
            vehicle=vehicle,
            **kw,
        )
    if status in (400, 422):
        messages = {
            str(k): [str(m) for m in (v if isinstance(v, list) else [v])]
            for k, v in (body.get("messages") or {}).items()
        }
        # The server's messages, unless its sentence already says them.
        hint = "; ".join(
            f"{k}: {m}" for k, v in messages.items() for m in v if m not in description
        )
        return InvalidInput(description, hint, messages=messages, **kw)
    if status == 409:
        return Conflict(description, "", **kw)
    if status == 429:
        retry_after = retry_after_seconds(response)
        return RateLimited(description, wait_words(retry_after), retry_after=retry_after, **kw)
    if status == 503:
        retry_after = retry_after_seconds(response)
        raw = body.get("maintenance")
        maintenance = Maintenance.from_json(raw) if isinstance(raw, dict) else None
        if maintenance is not None:
            message, hint = unavailable_sentence(maintenance, now=now or datetime.now(UTC), tz=tz)
        elif error == "overloaded":
            message, hint = "Pitstop is overloaded right now.", wait_words(retry_after)
        else:
            message, hint = description, wait_words(retry_after)
        return ServerUnavailable(
            message, hint, retry_after=retry_after, maintenance=maintenance, **kw
        )
    return PitstopError(description, "", **kw)
