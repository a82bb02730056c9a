"""The one entry point other packages call: `await notifier.notify(...)`.

It stores the notification under its idempotency key and one delivery per channel each user
chose for the topic, in one transaction (yours, if you pass `conn`: then the notification is
committed exactly when your own change is, the outbox pattern), and wakes the local worker.
Enqueueing a key that exists already changes nothing and reports a duplicate.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from pitstop.db.tables import notifications
from pitstop.notify.outbox import NewDelivery, Outbox
from pitstop.notify.outcomes import Channel
from pitstop.notify.preferences import Preferences
from pitstop.notify.render import Renderer
from pitstop.notify.topics import EMAIL, check_topic

_CHUNK = 5000
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,199}$")


class Enqueued(msgspec.Struct, kw_only=True):
    notification_id: int | None
    #: Deliveries created (0 for a duplicate, or when nobody wants this topic).
    deliveries: int
    duplicate: bool


def check_key(key: str) -> str:
    if not _KEY.match(key):
        raise ValueError(
            "an idempotency key has 1-200 characters: letters, digits and . _ : @ / + = -, "
            f"starting with a letter or digit; got {key!r}"
        )
    return key


class Notifier:
    def __init__(
        self,
        engine: AsyncEngine,
        outbox: Outbox,
        preferences: Preferences,
        channels: Mapping[str, Channel],
        renderer: Renderer,
    ) -> None:
        self.engine = engine
        self.outbox = outbox
        self.preferences = preferences
        self.channels = channels
        self.renderer = renderer
        #: Called after each enqueue (the local worker's wake-up).
        self.on_enqueue: list[Callable[[], None]] = []

    async def notify(
        self,
        *,
        key: str,
        topic: str,
        user_ids: Sequence[int],
        subject: str = "",
        text: str = "",
        html: str | None = None,
        template: str | None = None,
        data: dict[str, Any] | None = None,
        channels: Collection[str] | None = None,
        also_topics: Sequence[str] = (),
        addresses: Sequence[str] = (),
        conn: AsyncConnection | None = None,
    ) -> Enqueued:
        """Tell `user_ids` about `topic` on the channels each chose.

        `also_topics`: the notification concerns these too (a window touching several
        components); each user gets it once, on the channels chosen for any of them.
        `addresses`: email addresses of people who are not users (status page subscribers);
        they get it by email, with an unsubscribe link for their address.

        Content is either given (`subject`, `text`, optional `html`) or a template kind
        (`template`, rendered per recipient with `data`). `data` also travels as structured
        content to webhooks and the feed. `channels` narrows the channels (never widens
        what a user chose).
        """
        check_key(key)
        check_topic(topic)
        topics = [topic, *(check_topic(x) for x in also_topics if x != topic)]
        if template is not None:
            if not self.renderer.has_kind(template):
                raise ValueError(f"no template kind {template!r}")
        elif not subject or not text:
            raise ValueError("a notification needs a subject and a text, or a template")
        if conn is None:
            async with self.engine.begin() as own:
                result = await self._enqueue(
                    own,
                    key,
                    topics,
                    user_ids,
                    addresses,
                    subject,
                    text,
                    html,
                    template,
                    data,
                    channels,
                )
        else:
            result = await self._enqueue(
                conn,
                key,
                topics,
                user_ids,
                addresses,
                subject,
                text,
                html,
                template,
                data,
                channels,
            )
        if result.deliveries:
            self.wake()
        return result

    def wake(self) -> None:
        for callback in self.on_enqueue:
            callback()

    async def _enqueue(
        self,
        conn: AsyncConnection,
        key: str,
        topics: list[str],
        user_ids: Sequence[int],
        addresses: Sequence[str],
        subject: str,
        text: str,
        html: str | None,
        template: str | None,
        data: dict[str, Any] | None,
        only: Collection[str] | None,
    ) -> Enqueued:
        exists = await conn.scalar(sa.select(notifications.c.id).where(notifications.c.key == key))
        if exists is not None:
            return Enqueued(notification_id=exists, deliveries=0, duplicate=True)
        choices = await self.preferences.choices(conn, topics, list(dict.fromkeys(user_ids)))
        deliveries: list[NewDelivery] = []
        for name, channel in self.channels.items():
            if only is not None and name not in only:
                continue
            wanting = [uid for uid, chosen in choices.items() if name in chosen]
            for start in range(0, len(wanting), _CHUNK):
                found = await channel.recipients(conn, wanting[start : start + _CHUNK])
                deliveries.extend(NewDelivery(name, uid, address) for uid, address in found)
        # Recipient by recipient rather than channel by channel: workers claim in this order,
        # so every batch carries each channel's share and one slow channel (or a big one,
        # like the feed for 100,000 people) does not hold the others back.
        deliveries.sort(key=lambda x: x.user_id or 0)
        if EMAIL in self.channels and (only is None or EMAIL in only):
            taken = {x.recipient.lower() for x in deliveries if x.channel == EMAIL}
            for address in dict.fromkeys(a.strip().lower() for a in addresses):
                if address and address not in taken:
                    deliveries.append(NewDelivery(EMAIL, None, address))
        notification_id = await self.outbox.enqueue(
            conn,
            key=key,
            topic=topics[0],
            deliveries=deliveries,
            subject=subject,
            text=text,
            html=html,
            template=template,
            data=data,
        )
        if notification_id is None:  # another process enqueued the same key just now
            return Enqueued(notification_id=None, deliveries=0, duplicate=True)
        return Enqueued(
            notification_id=notification_id, deliveries=len(deliveries), duplicate=False
        )
