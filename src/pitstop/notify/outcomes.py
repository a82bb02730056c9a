"""What a channel is handed (a `Message`) and what it answers (one of three outcomes).

Every channel turns its upstream's failures into exactly these, in one place of its own:

- `Delivered`: the receiver has it;
- `RetryLater`: try again after a backoff (or at least `after` seconds, when the receiver
  said so with Retry-After);
- `Permanent`: trying again cannot help; the delivery is parked as dead for an operator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(frozen=True)
class Delivered:
    detail: str = ""


@dataclass(frozen=True)
class RetryLater:
    error: str
    #: Seconds the receiver asked us to wait (Retry-After); None: our own backoff.
    after: float | None = None


@dataclass(frozen=True)
class Permanent:
    error: str


Outcome = Delivered | RetryLater | Permanent


@dataclass(frozen=True)
class Recipient:
    """Who a delivery is for: the user (if any) and the channel's address for them."""

    user_id: int | None
    address: str
    name: str = ""
    email: str | None = None
    timezone: str = "UTC"


@dataclass(frozen=True)
class Message:
    """One attempt at one delivery: the content rendered for its recipient."""

    delivery_id: int
    #: The notification's idempotency key: the same on every attempt and every channel,
    #: so receivers can drop duplicates (email Message-ID, webhook-id).
    key: str
    topic: str
    channel: str
    recipient: Recipient
    subject: str
    text: str
    html: str | None
    data: dict[str, Any]
    created_at: datetime
    attempt: int
    extra: dict[str, Any] = field(default_factory=dict)


class Channel(Protocol):
    """A way to reach people. The worker knows nothing else about a channel."""

    name: str

    async def recipients(self, conn: AsyncConnection, user_ids: list[int]) -> list[tuple[int, str]]:
        """(user id, address) pairs this channel would deliver to for `user_ids`."""
        ...

    async def send(self, message: Message) -> Outcome:
        """Try once; never raises for upstream failures, answers an outcome instead."""
        ...

    # Optional: `async def send_many(self, messages: Sequence[Message]) -> list[Outcome]`,
    # one outcome per message in order. The worker then hands the channel a claimed batch
    # at once (the feed writes it in one transaction) instead of one `send` per message.

    async def close(self) -> None: ...
