"""The notification center of one server process, assembled from settings."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parseaddr

from sqlalchemy.ext.asyncio import AsyncEngine

from pitstop.clock import Clock
from pitstop.notify.backoff import Backoff
from pitstop.notify.email import TLS_MODES, EmailChannel, SmtpConfig
from pitstop.notify.endpoints import WebhookEndpoints
from pitstop.notify.feed import FeedChannel, FeedHub, FeedStore
from pitstop.notify.notifier import Notifier
from pitstop.notify.outbox import Outbox
from pitstop.notify.outcomes import Channel
from pitstop.notify.preferences import Preferences
from pitstop.notify.push import PushChannel
from pitstop.notify.push_subscriptions import PushSubscriptions
from pitstop.notify.render import Renderer
from pitstop.notify.unsubscribe import UnsubscribeLinks
from pitstop.notify.vapid import VapidKey, derive_private_key, load_private_key
from pitstop.notify.webhook import WebhookChannel
from pitstop.notify.worker import DeliveryWorker
from pitstop.settings import Settings


@dataclass
class Notifications:
    notifier: Notifier
    outbox: Outbox
    preferences: Preferences
    feed: FeedStore
    hub: FeedHub
    endpoints: WebhookEndpoints
    push_subscriptions: PushSubscriptions
    vapid: VapidKey
    links: UnsubscribeLinks
    renderer: Renderer
    channels: Mapping[str, Channel]
    worker: DeliveryWorker
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> None:
        """The worker and the feed watcher, as background tasks of this process."""
        self.tasks = [
            asyncio.create_task(self.worker.run(), name="notify-worker"),
            asyncio.create_task(self.hub.run(), name="notify-feed-hub"),
        ]

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.tasks = []
        for channel in self.channels.values():
            with contextlib.suppress(Exception):
                await channel.close()


def smtp_config(settings: Settings) -> SmtpConfig | None:
    if not settings.smtp_host:
        return None
    if settings.smtp_tls not in TLS_MODES:
        raise ValueError(f"smtp_tls must be one of {', '.join(TLS_MODES)}")
    return SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.smtp_from,
        tls=settings.smtp_tls,
        username=settings.smtp_username,
        password=settings.smtp_password,
        timeout=settings.smtp_timeout,
    )


def vapid_key(settings: Settings, clock: Clock) -> VapidKey:
    if settings.vapid_private_key:
        key = load_private_key(settings.vapid_private_key)
    else:
        key = derive_private_key(settings.resolved_secret_key())
    subject = settings.vapid_subject
    if not subject:
        subject = f"mailto:{parseaddr(settings.smtp_from)[1] or 'pitstop@localhost'}"
    if not subject.startswith(("mailto:", "https://")):
        raise ValueError("vapid_subject must be a mailto: or https:// URL")
    return VapidKey(key, subject, clock)


def build_notifications(
    settings: Settings,
    engine: AsyncEngine,
    clock: Clock,
    *,
    channels: Mapping[str, Channel] | None = None,
) -> Notifications:
    """Everything, wired; `channels` replaces the configured ones (tests, benchmarks)."""
    renderer = Renderer()
    links = UnsubscribeLinks(settings.resolved_secret_key(), settings.public_url)
    preferences = Preferences(engine, clock)
    hub = FeedHub(engine, clock, poll_interval=settings.notify_poll_interval)
    endpoints = WebhookEndpoints(engine, clock, allow_private=settings.webhook_allow_private)
    push_subscriptions = PushSubscriptions(
        engine, clock, allow_private=settings.webhook_allow_private
    )
    vapid = vapid_key(settings, clock)
    if channels is None:
        built: dict[str, Channel] = {"feed": FeedChannel(engine, clock, hub)}
        smtp = smtp_config(settings)
        if smtp is not None:
            built["email"] = EmailChannel(smtp, links, renderer)
        built["webhook"] = WebhookChannel(
            endpoints,
            clock,
            timeout=settings.webhook_timeout,
            allow_private=settings.webhook_allow_private,
        )
        built["push"] = PushChannel(
            push_subscriptions,
            vapid,
            clock,
            timeout=settings.webhook_timeout,
            ttl=settings.push_ttl,
            allow_private=settings.webhook_allow_private,
        )
        channels = built
    outbox = Outbox(
        engine,
        clock,
        backoff=Backoff(
            base=settings.notify_backoff_base,
            cap=settings.notify_backoff_cap,
            max_attempts=settings.notify_max_attempts,
        ),
        lease=settings.notify_lease,
    )
    notifier = Notifier(engine, outbox, preferences, channels, renderer)
    worker = DeliveryWorker(
        outbox,
        channels,
        preferences,
        renderer,
        clock,
        poll_interval=settings.notify_poll_interval,
    )
    notifier.on_enqueue.append(worker.wake)
    return Notifications(
        notifier=notifier,
        outbox=outbox,
        preferences=preferences,
        feed=FeedStore(engine, clock),
        hub=hub,
        endpoints=endpoints,
        push_subscriptions=push_subscriptions,
        vapid=vapid,
        links=links,
        renderer=renderer,
        channels=channels,
        worker=worker,
    )
