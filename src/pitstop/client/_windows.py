"""Maintenance windows as operators manage them: `client.windows.schedule(...)`, `.start(id)`, ...

Talks to `/api/1/maintenance` (operator scope). Bad requests come back as `InvalidInput` with
the server's `messages`; a transition the window cannot make (extending a completed one,
overlapping another without `force`) as `Conflict`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pitstop.client._words import as_utc, reason_words

if TYPE_CHECKING:
    from pitstop.client._client import PitstopClient


@dataclass(frozen=True)
class WindowUpdate:
    """One entry of a window's timeline: scheduled, started, extended, updated, finished, ..."""

    at: datetime | None
    kind: str
    message: str
    author: str


@dataclass(frozen=True)
class Window:
    """A maintenance window; `raw` keeps every field the server sent (the `--json` output)."""

    id: int
    title: str
    reason: str
    status: str  # scheduled | in_progress | completed | cancelled
    starts_at: datetime | None
    expected_end: datetime | None
    mode: str = "full"
    components: tuple[str, ...] = ()  # empty: the whole service
    description: str = ""
    started_at: datetime | None = None
    ended_at: datetime | None = None
    rrule: str | None = None
    status_url: str = ""
    updates: tuple[WindowUpdate, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def reason_text(self) -> str:
        return reason_words(self.reason)

    @property
    def scope_text(self) -> str:
        return ", ".join(self.components) if self.components else "whole service"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Window:
        return cls(
            id=int(data.get("id") or 0),
            title=str(data.get("title") or ""),
            reason=str(data.get("reason") or ""),
            status=str(data.get("status") or ""),
            starts_at=as_utc(data.get("starts_at")),
            expected_end=as_utc(data.get("expected_end")),
            mode=str(data.get("mode") or "full"),
            components=tuple(str(c) for c in data.get("components") or ()),
            description=str(data.get("description") or ""),
            started_at=as_utc(data.get("started_at")),
            ended_at=as_utc(data.get("ended_at")),
            rrule=str(data["rrule"]) if data.get("rrule") else None,
            status_url=str(data.get("status_url") or ""),
            updates=tuple(
                WindowUpdate(
                    at=as_utc(u.get("at")),
                    kind=str(u.get("kind") or ""),
                    message=str(u.get("message") or ""),
                    author=str(u.get("author") or ""),
                )
                for u in data.get("updates") or ()
                if isinstance(u, dict)
            ),
            raw=data,
        )


class Windows:
    """The maintenance API of one client (`client.windows`)."""

    def __init__(self, client: PitstopClient) -> None:
        self._client = client

    async def _window(self, method: str, path: str, body: Any = None) -> Window:
        data = await self._client._response(method, path, json=body)
        return Window.from_json(data)

    async def list(self, statuses: Sequence[str] | None = None) -> list[Window]:
        """Windows, soonest first; `statuses` filters (e.g. ["scheduled", "in_progress"])."""
        params = {"status": ",".join(statuses)} if statuses else None
        found = await self._client._response("GET", "/api/1/maintenance", params=params)
        return [Window.from_json(w) for w in found or ()]

    async def get(self, window_id: int) -> Window:
        return await self._window("GET", f"/api/1/maintenance/{window_id}")

    async def schedule(
        self,
        *,
        title: str,
        reason: str,
        starts_at: datetime,
        expected_end: datetime | None = None,
        duration_minutes: float | None = None,
        components: Sequence[str] = (),
        mode: str = "full",
        rrule: str | None = None,
        description: str = "",
        force: bool = False,
    ) -> Window:
        """Schedule a window; give `expected_end` or `duration_minutes`. `components` empty: all."""
        body: dict[str, Any] = {
            "title": title,
            "reason": reason,
            "starts_at": starts_at.isoformat(),
            "components": list(components),
            "mode": mode,
            "description": description,
            "force": force,
        }
        if expected_end is not None:
            body["expected_end"] = expected_end.isoformat()
        if duration_minutes is not None:
            body["duration_minutes"] = duration_minutes
        if rrule:
            body["rrule"] = rrule
        return await self._window("POST", "/api/1/maintenance", body)

    async def start(self, window_id: int) -> Window:
        return await self._window("POST", f"/api/1/maintenance/{window_id}/start")

    async def extend(self, window_id: int, minutes: float, message: str = "") -> Window:
        body = {"minutes": minutes, "message": message}
        return await self._window("POST", f"/api/1/maintenance/{window_id}/extend", body)

    async def update(self, window_id: int, message: str) -> Window:
        """Post an update to the window's timeline."""
        body = {"message": message}
        return await self._window("POST", f"/api/1/maintenance/{window_id}/updates", body)

    async def finish(self, window_id: int, message: str = "") -> Window:
        body = {"message": message}
        return await self._window("POST", f"/api/1/maintenance/{window_id}/finish", body)

    async def cancel(self, window_id: int, message: str = "") -> Window:
        body = {"message": message}
        return await self._window("POST", f"/api/1/maintenance/{window_id}/cancel", body)
