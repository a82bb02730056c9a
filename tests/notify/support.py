"""Real receivers for the notification tests: an SMTP server (aiosmtpd) and a webhook endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pitstop.clock import ManualClock
from pitstop.notify.outbox import DeliveryInfo
from pitstop.server import RunningServer, start
from tests.world import World

#: notify_max_attempts in these tests' settings.
MAX_ATTEMPTS = 4


class SmtpSink:
    """Accepts mail (or refuses it, as scripted) and keeps what it accepted."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[Envelope] = []
        #: Answers to give to the next DATA commands, in order ("451 ..." refuses); then 250.
        self.script: list[str] = []
        self.refused = 0
        self.server: asyncio.Server | None = None
        self.port = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.script:
            answer = self.script.pop(0)
            if not answer.startswith("250"):
                self.refused += 1
                return answer
        self.envelopes.append(envelope)
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(
            lambda: SMTP(self, hostname="sink.test"), "127.0.0.1", 0
        )
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 2)


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: datetime

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


@dataclass
class WebhookReceiver:
    """A real HTTP endpoint: answers as scripted (then 200) and keeps every request."""

    requests: list[Received] = field(default_factory=list)
    #: (status, headers) for the next requests, in order.
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    running: RunningServer | None = None

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            self.requests.append(
                Received(dict(request.headers), await request.body(), datetime.now(UTC))
            )
            status, headers = self.script.pop(0) if self.script else (200, {})
            return Response(b"", status, headers)

        return Starlette(routes=[Route("/hook", hook, methods=["POST"])])

    async def start(self, port: int = 0) -> None:
        self.running = await start(self.app(), port=port)

    async def stop(self) -> None:
        if self.running is not None:
            await self.running.stop()
            self.running = None

    @property
    def url(self) -> str:
        assert self.running is not None
        return f"{self.running.url}/hook"


def verify(secret: str, received: Received, *, check_time: bool = True) -> Any:
    """Check a request with the `standardwebhooks` package; returns the parsed payload.

    `check_time=False` skips only the freshness check (for tests that move the clock hours
    ahead): the signature is still computed and compared by the package.
    """
    hook = Webhook(secret)
    if check_time:
        return hook.verify(received.body, received.headers)
    timestamp = datetime.fromtimestamp(int(received.headers["webhook-timestamp"]), UTC)
    expected = hook.sign(received.webhook_id, timestamp, received.body.decode())
    if expected not in received.headers["webhook-signature"].split(" "):
        raise WebhookVerificationError("No matching signature found")
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@contextlib.asynccontextmanager
async def receiver(port: int = 0) -> AsyncIterator[WebhookReceiver]:
    r = WebhookReceiver()
    await r.start(port)
    try:
        yield r
    finally:
        await r.stop()


async def later(world: World, clock: ManualClock, seconds: float) -> None:
    """Move the clock and let the worker look for what became due."""
    await clock.advance(seconds)
    world.rt.notify.worker.wake()


async def notify(world: World, key: str, user_ids: list[int], **kwargs: Any) -> int:
    """Enqueue a plain notification about vehicle_data maintenance; returns deliveries made."""
    result = await world.rt.notify.notifier.notify(
        key=key,
        topic=kwargs.pop("topic", "maintenance.vehicle_data"),
        user_ids=user_ids,
        subject=kwargs.pop("subject", "Maintenance on Saturday"),
        text=kwargs.pop("text", "Reading your cars' data will pause for 30 minutes."),
        **kwargs,
    )
    return result.deliveries


async def settled(
    world: World, key: str, status: str, *, attempts: int | None = None, timeout: float = 10
) -> list[DeliveryInfo]:
    """The deliveries of `key`, once all of them have `status` (and `attempts`)."""
    outbox = world.rt.notify.outbox
    async with asyncio.timeout(timeout):
        while True:
            found = await outbox.deliveries(key=key)
            if found and all(
                d.status == status and (attempts is None or d.attempts == attempts) for d in found
            ):
                return found
            await asyncio.sleep(0.02)
