"""What the client returns: small typed records built from the server's JSON."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class CommandResult:
    """A command's outcome. A car that refuses says why in `reason` (e.g. "cable_not_connected")."""

    result: bool
    reason: str = ""


@dataclass(frozen=True)
class Vehicle:
    """A car as in the vehicle list; `raw` keeps every field the server sent."""

    id: int
    vin: str
    display_name: str
    state: str
    id_s: str = ""
    in_service: bool = False
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def online(self) -> bool:
        return self.state == "online"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Vehicle:
        return cls(
            id=int(data.get("id") or 0),
            vin=str(data.get("vin") or ""),
            display_name=str(data.get("display_name") or ""),
            state=str(data.get("state") or ""),
            id_s=str(data.get("id_s") or data.get("id") or ""),
            in_service=bool(data.get("in_service")),
            raw=data,
        )


@dataclass(frozen=True)
class TokenGrant:
    """What the token endpoint gives: `expires_in` is in seconds."""

    access_token: str
    refresh_token: str | None
    expires_in: int
    scope: str = ""
    token_type: str = "Bearer"

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(self.scope.split())

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TokenGrant:
        return cls(
            access_token=str(data["access_token"]),
            refresh_token=str(data["refresh_token"]) if data.get("refresh_token") else None,
            expires_in=int(data.get("expires_in") or 0),
            scope=str(data.get("scope") or ""),
            token_type=str(data.get("token_type") or "Bearer"),
        )


@dataclass(frozen=True)
class User:
    """The signed-in account (`/api/1/users/me`)."""

    email: str
    full_name: str = ""
    role: str = "owner"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> User:
        return cls(
            email=str(data.get("email") or ""),
            full_name=str(data.get("full_name") or ""),
            role=str(data.get("role") or "owner"),
        )


def _params(value: str) -> dict[str, str]:
    """`2026-12-01T02:00:00Z; id=7; mode=read_only` as {"": first part, "id": "7", ...}."""
    first, *rest = (part.strip() for part in value.split(";"))
    params = {"": first}
    for part in rest:
        name, _, val = part.partition("=")
        params[name.strip().lower()] = val.strip()
    return params


def _when(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass(frozen=True)
class Notice:
    """What the last answer's headers said about maintenance, for an app's banner.

    `read_only_until`: a read-only window is in progress (reads are served from the cars'
    last-known state; changes get a 503) and is expected to end then; `window_id` is its id.
    `next_starts_at` / `next_id`: a window touching this part of Pitstop starts then.
    """

    read_only_until: datetime | None = None
    window_id: str = ""
    next_starts_at: datetime | None = None
    next_id: str = ""

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> Notice:
        now = headers.get("pitstop-maintenance")
        upcoming = headers.get("pitstop-maintenance-next")
        if now is None and upcoming is None:
            return cls()
        current = _params(now) if now else {}
        following = _params(upcoming) if upcoming else {}
        return cls(
            read_only_until=_when(current.get("expected_end", "")) if now else None,
            window_id=current.get("id", ""),
            next_starts_at=_when(following.get("", "")) if upcoming else None,
            next_id=following.get("id", ""),
        )
