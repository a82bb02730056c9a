"""Real receivers for the notification tests: an SMTP server (aiosmtpd) and a webhook endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any, cast

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
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
    """Accepts mail (or refuses it, as scripted) and keeps what it accepted.

    It offers PIPELINING (RFC 2920) as most mail servers do, unless `pipelining` is False;
    aiosmtpd reads commands one by one either way, so pipelined clients work. With
    `tls_context` it offers STARTTLS (and requires it); with `login` it requires AUTH.

    Scripts give the answers to the next commands of a kind, in order, then 250: an SMTP
    reply ("451 ..."), "drop" (the connection is cut without an answer) or "hang" (no
    answer until `release` is set)."""

    def __init__(
        self,
        *,
        pipelining: bool = True,
        tls_context: ssl.SSLContext | None = None,
        login: tuple[str, str] | None = None,
    ) -> None:
        self.pipelining = pipelining
        self.tls_context = tls_context
        self.login = login
        self.messages: list[EmailMessage] = []
        self.envelopes: list[Envelope] = []
        #: Answers at the end of the next DATA commands (after the message was read).
        self.script: list[str] = []
        #: Answers to the next MAIL FROM and RCPT TO commands.
        self.mail_script: list[str] = []
        self.rcpt_script: list[str] = []
        self.refused = 0
        #: Recipient -> the scripted answer their RCPT got (whichever connection it came on).
        self.rcpt_refused: dict[str, str] = {}
        #: Connections made to this server, the commands it read, sessions that went secure.
        self.connections = 0
        self.commands: list[str] = []
        self.secure = 0
        self.sessions: list[SMTP] = []
        self.release = asyncio.Event()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def _scripted(self, script: list[str], server: SMTP) -> str | None:
        """The scripted answer, if any (None: go on as normal)."""
        if not script:
            return None
        answer = script.pop(0)
        if answer == "drop":
            assert server.transport is not None
            cast(asyncio.Transport, server.transport).abort()
            return "421 dropped"
        if answer == "hang":
            await self.release.wait()
            return "451 4.3.0 too late"
        if answer.startswith("250"):
            return None
        self.refused += 1
        return answer

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        if server._tls_protocol is not None:
            self.secure += 1
        if self.pipelining:
            responses.insert(1, "250-PIPELINING")
        return responses

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self.commands.append("MAIL")
        answer = await self._scripted(self.mail_script, server)
        if answer is not None:
            return answer
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self.commands.append("RCPT")
        answer = await self._scripted(self.rcpt_script, server)
        if answer is not None:
            self.rcpt_refused[address] = answer
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_RSET(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.commands.append("RSET")
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.commands.append("DATA")
        answer = await self._scripted(self.script, server)
        if answer is not None:
            return answer
        self.envelopes.append(envelope)
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = self.login is not None and (
            isinstance(data, LoginPassword)
            and (data.login.decode(), data.password.decode()) == self.login
        )
        return AuthResult(success=ok, handled=False)

    def drop_all(self) -> None:
        """Cut every open connection (as a server does with idle ones after a while)."""
        for session in self.sessions:
            if session.transport is not None:
                cast(asyncio.Transport, session.transport).abort()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()

        def connected() -> SMTP:
            self.connections += 1
            options: dict[str, Any] = {}
            if self.tls_context is not None:
                options.update(tls_context=self.tls_context, require_starttls=True)
            if self.login is not None:
                options.update(
                    authenticator=self._authenticate,
                    auth_required=True,
                    auth_require_tls=self.tls_context is not None,
                )
            session = SMTP(self, hostname="sink.test", **options)
            self.sessions.append(session)
            return session

        self.server = await loop.create_server(connected, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self.release.set()
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
