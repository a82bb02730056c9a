"""The delivery worker: claims due deliveries, renders, hands each to its channel, records.

Several workers (in one process or many) share the outbox safely: claims never overlap, and
a claim is a lease (see outbox.py). The worker knows channels only through the `Channel`
interface; anything a channel lets escape is treated as "retry later" here, the last line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from collections.abc import Coroutine, Mapping
from typing import Any

from pitstop.clock import Clock, sleep_or_wake
from pitstop.notify.outbox import Claim, Outbox
from pitstop.notify.outcomes import (
    Channel,
    Delivered,
    Message,
    Outcome,
    Permanent,
    Recipient,
    RetryLater,
)
from pitstop.notify.preferences import Preferences, Profile
from pitstop.notify.render import Renderer, RenderError

log = logging.getLogger(__name__)


class DeliveryWorker:
    def __init__(
        self,
        outbox: Outbox,
        channels: Mapping[str, Channel],
        preferences: Preferences,
        renderer: Renderer,
        clock: Clock,
        *,
        name: str | None = None,
        batch: int = 200,
        concurrency: int = 16,
        poll_interval: float = 1.0,
        depth: int = 2,
    ) -> None:
        self.outbox = outbox
        self.channels = channels
        self.preferences = preferences
        self.renderer = renderer
        self.clock = clock
        self.name = name or f"{os.getpid()}-{secrets.token_hex(3)}"
        self.batch = batch
        self.concurrency = concurrency
        self.poll_interval = poll_interval
        #: Batches in flight at once in `run` (claimed and not yet recorded).
        self.depth = max(1, depth)
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Look for work now (something was just enqueued in this process)."""
        self._wake.set()

    async def run_once(self) -> int:
        """Claim one batch and deliver it; returns how many deliveries were claimed."""
        claims = await self._claim()
        if claims:
            await self._deliver(claims)
        return len(claims)

    async def _claim(self) -> list[Claim]:
        return await self.outbox.claim(self.name, self.batch, channels=list(self.channels))

    async def _deliver(self, claims: list[Claim]) -> None:
        """Render, send and record one claimed batch."""
        # Two reads at once, on two connections: one round trip of waiting instead of two.
        notes, profiles = await asyncio.gather(
            self.outbox.notifications([c.notification_id for c in claims]),
            self.preferences.profiles([c.user_id for c in claims if c.user_id is not None]),
        )
        slots = asyncio.Semaphore(self.concurrency)
        prepared = [(c, self._message(c, notes.get(c.notification_id), profiles)) for c in claims]

        async def attempt(claim: Claim, message: Message) -> tuple[Claim, Outcome]:
            async with slots:
                return claim, await self._send(self.channels[claim.channel], message)

        async def attempt_many(
            channel: Any, batch: list[tuple[Claim, Message]]
        ) -> list[tuple[Claim, Outcome]]:
            outcomes = await self._send_many(channel, [m for _, m in batch])
            return [(c, o) for (c, _), o in zip(batch, outcomes, strict=True)]

        results: list[tuple[Claim, Outcome]] = []
        singles: list[Coroutine[Any, Any, tuple[Claim, Outcome]]] = []
        grouped: dict[str, list[tuple[Claim, Message]]] = {}
        for claim, ready in prepared:
            if not isinstance(ready, Message):
                results.append((claim, ready))
            elif hasattr(self.channels[claim.channel], "send_many"):
                grouped.setdefault(claim.channel, []).append((claim, ready))
            else:
                singles.append(attempt(claim, ready))
        many = [attempt_many(self.channels[name], batch) for name, batch in grouped.items()]
        batched, single = await asyncio.gather(asyncio.gather(*many), asyncio.gather(*singles))
        for outcomes in batched:
            results.extend(outcomes)
        results.extend(single)
        await self.outbox.delivered([c for c, o in results if isinstance(o, Delivered)])
        for claim, outcome in results:
            if isinstance(outcome, Delivered):
                continue
            permanent = isinstance(outcome, Permanent)
            after = outcome.after if isinstance(outcome, RetryLater) else None
            status = await self.outbox.failed(
                claim, outcome.error, permanent=permanent, retry_after=after
            )
            log.info(
                "delivery %s (%s to %s) attempt %s failed: %s -> %s",
                claim.id,
                claim.channel,
                claim.recipient,
                claim.attempts,
                outcome.error,
                status or "lost lease",
            )

    def _message(
        self, claim: Claim, note: Any, profiles: Mapping[int, Profile]
    ) -> Message | Outcome:
        """The message for `claim`, rendered for its recipient, or the outcome that stops it."""
        if note is None:
            return Permanent("the notification is gone")
        if claim.attempts > self.outbox.backoff.max_attempts:
            return Permanent(f"gave up after {claim.attempts - 1} attempts (leases ran out)")
        profile = profiles.get(claim.user_id) if claim.user_id is not None else None
        recipient = Recipient(
            user_id=claim.user_id,
            address=claim.recipient,
            name=profile.name if profile else "",
            email=profile.email if profile else None,
            timezone=profile.timezone if profile else "UTC",
        )
        try:
            content = self.renderer.render(
                topic=note.topic,
                recipient=recipient,
                subject=note.subject,
                text=note.text,
                html=note.html,
                template=note.template,
                data=note.data,
            )
        except RenderError as exc:
            return Permanent(str(exc))
        return Message(
            delivery_id=claim.id,
            key=note.key,
            topic=note.topic,
            channel=claim.channel,
            recipient=recipient,
            subject=content.subject,
            text=content.text,
            html=content.html,
            data=note.data,
            created_at=note.created_at,
            attempt=claim.attempts,
            extra={"notification_id": note.id},
        )

    async def _send(self, channel: Channel, message: Message) -> Outcome:
        try:
            return await channel.send(message)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("channel %s failed on delivery %s", message.channel, message.delivery_id)
            return RetryLater(f"unexpected error: {type(exc).__name__}: {exc}")

    async def _send_many(self, channel: Any, messages: list[Message]) -> list[Outcome]:
        """A channel that takes a batch at once (`send_many`, e.g. the feed: one transaction)."""
        try:
            outcomes: list[Outcome] = list(await channel.send_many(messages))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("channel %s failed on %s deliveries", channel.name, len(messages))
            error = RetryLater(f"unexpected error: {type(exc).__name__}: {exc}")
            return [error] * len(messages)
        if len(outcomes) != len(messages):
            error = RetryLater(f"channel {channel.name} answered {len(outcomes)} outcomes")
            return [error] * len(messages)
        return outcomes

    async def run(self) -> None:
        """Deliver until cancelled. While a batch is being sent, the next one is claimed and
        prepared (up to `depth` batches in flight), so the channels never wait for the
        database between batches, nor the database for the channels."""
        flying: set[asyncio.Task[None]] = set()
        try:
            while True:
                try:
                    claims = await self._claim()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("notification worker could not claim (will retry): %s", exc)
                    claims = []
                if claims:
                    task = asyncio.create_task(self._deliver_logged(claims))
                    flying.add(task)
                    task.add_done_callback(flying.discard)
                if len(claims) >= self.batch and len(flying) < self.depth:
                    await asyncio.sleep(0)
                    continue
                if flying:  # the most there may be, or the last of the work: wait for one
                    await asyncio.wait(flying, return_when=asyncio.FIRST_COMPLETED)
                    continue
                await self._idle()
        finally:
            for task in flying:
                task.cancel()
            for task in list(flying):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _deliver_logged(self, claims: list[Claim]) -> None:
        try:
            await self._deliver(claims)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # their leases run out and they are claimed again
            log.warning("notification worker could not deliver a batch (will retry): %s", exc)

    async def _idle(self) -> None:
        await sleep_or_wake(self.clock, self.poll_interval, self._wake)
