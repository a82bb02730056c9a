"""The email channel: multipart mail over SMTP (aiosmtplib), through a small connection pool.

Each mail has a plain-text and an HTML part, `List-Unsubscribe` with a signed one-click link
(RFC 8058), and a `Message-ID` derived from the notification's idempotency key and the address,
so a retried delivery carries the same Message-ID and receivers can drop the duplicate.

SMTP failures become outcomes in `classify`: a recipient or message refused with a 5xx answer is
permanent; everything else (4xx, connection refused or lost, timeouts, our own login or sender
being refused) is worth retrying.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from dataclasses import dataclass
from email.utils import format_datetime, parseaddr

import aiosmtplib
import sqlalchemy as sa
from markupsafe import Markup, escape
from sqlalchemy.ext.asyncio import AsyncConnection

from pitstop.db.tables import users
from pitstop.notify import mime
from pitstop.notify.outcomes import Delivered, Message, Outcome, Permanent, RetryLater
from pitstop.notify.render import Renderer
from pitstop.notify.topics import EMAIL, TOPICS
from pitstop.notify.unsubscribe import UnsubscribeLinks

log = logging.getLogger(__name__)

TLS_MODES = ("none", "starttls", "tls")


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 25
    sender: str = "Pitstop <pitstop@localhost>"
    tls: str = "none"  # none | starttls | tls
    username: str = ""
    password: str = ""
    timeout: float = 30.0
    #: Connections kept open and used at the same time.
    pool_size: int = 8
    validate_certs: bool = True


class SmtpPool:
    """Up to `pool_size` SMTP connections, reused across mails; a broken one is dropped."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._idle: list[aiosmtplib.SMTP] = []
        self._slots = asyncio.Semaphore(max(1, config.pool_size))

    async def _connect(self) -> aiosmtplib.SMTP:
        c = self.config
        client = aiosmtplib.SMTP(
            hostname=c.host,
            port=c.port,
            use_tls=c.tls == "tls",
            start_tls=c.tls == "starttls",
            timeout=c.timeout,
            validate_certs=c.validate_certs,
            username=c.username or None,
            password=c.password or None,
        )
        await client.connect()
        return client

    async def send(self, sender: str, recipient: str, mail: bytes) -> None:
        async with self._slots:
            client = self._idle.pop() if self._idle else None
            reused = client is not None
            try:
                if client is None:
                    client = await self._connect()
                try:
                    await client.sendmail(sender, [recipient], mail)
                except (aiosmtplib.SMTPServerDisconnected, ConnectionError):
                    if not reused:
                        raise
                    # The server closed an idle connection: once more, on a fresh one.
                    client.close()
                    client = await self._connect()
                    await client.sendmail(sender, [recipient], mail)
            except BaseException:
                if client is not None:
                    client.close()
                raise
            self._idle.append(client)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.quit(), 2)
            client.close()


def classify(exc: Exception) -> Outcome:
    """The one place SMTP failures become outcomes."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        text = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
        if codes and all(code >= 500 for code in codes):
            return Permanent(f"recipient refused: {text}")
        return RetryLater(f"recipient deferred: {text}")
    if isinstance(exc, aiosmtplib.SMTPRecipientRefused | aiosmtplib.SMTPDataError):
        if exc.code >= 500:
            return Permanent(f"refused: {exc.code} {exc.message}")
        return RetryLater(f"deferred: {exc.code} {exc.message}")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        # Our login, our sender or our greeting refused: a configuration an operator can fix.
        return RetryLater(f"SMTP {type(exc).__name__}: {exc.code} {exc.message}")
    if isinstance(exc, aiosmtplib.SMTPException | OSError | TimeoutError):
        return RetryLater(f"SMTP server unreachable: {type(exc).__name__}: {exc}")
    raise exc


def message_id(key: str, address: str, domain: str) -> str:
    """Stable per (notification, address): every retry of a delivery has the same one."""
    digest = hashlib.sha256(f"{key}\x00{address.lower()}".encode()).hexdigest()[:32]
    return f"<{digest}.pitstop@{domain}>"


def _text_to_html(text: str) -> Markup:
    paragraphs = [p for p in text.strip().split("\n\n") if p.strip()]
    return Markup("").join(
        Markup("<p>{}</p>").format(Markup("<br>").join(escape(line) for line in p.splitlines()))
        for p in paragraphs
    )


class EmailChannel:
    name = EMAIL

    def __init__(
        self,
        config: SmtpConfig,
        links: UnsubscribeLinks,
        renderer: Renderer,
        *,
        pool: SmtpPool | None = None,
    ) -> None:
        self.config = config
        self.links = links
        self.renderer = renderer
        self.pool = pool or SmtpPool(config)
        self.envelope_sender = parseaddr(config.sender)[1]
        self.domain = self.envelope_sender.rpartition("@")[2] or "localhost"

    async def recipients(self, conn: AsyncConnection, user_ids: list[int]) -> list[tuple[int, str]]:
        if not user_ids:
            return []
        rows = (
            await conn.execute(sa.select(users.c.id, users.c.email).where(users.c.id.in_(user_ids)))
        ).all()
        return [(r.id, r.email) for r in rows]

    def build(self, message: Message) -> tuple[str, bytes]:
        """(Message-ID, the mail as it goes on the wire)."""
        to = message.recipient.address
        unsubscribe = (
            self.links.url(message.recipient.user_id, message.topic)
            if message.recipient.user_id is not None
            else self.links.address_url(to)
        )
        context = {
            "subject": message.subject,
            "topic_title": TOPICS.get(message.topic, message.topic),
            "unsubscribe_url": unsubscribe,
        }
        body = Markup(message.html) if message.html else _text_to_html(message.text)
        msg_id = message_id(message.key, to, self.domain)
        headers = [
            ("Subject", mime.encoded(message.subject)),
            ("From", self.config.sender),
            ("To", mime.address(message.recipient.name, to)),
            ("Date", format_datetime(message.created_at)),
            ("Message-ID", msg_id),
            ("X-Pitstop-Key", message.key),
            ("X-Pitstop-Topic", message.topic),
            ("Auto-Submitted", "auto-generated"),
        ]
        if unsubscribe:
            headers.append(("List-Unsubscribe", f"<{unsubscribe}>"))
            headers.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
        text = self.renderer.page("email/layout.txt", text=message.text, **context)
        html = self.renderer.page("email/layout.html", body=body, **context)
        return msg_id, mime.compose(headers, text, html)

    async def send(self, message: Message) -> Outcome:
        try:
            msg_id, mail = self.build(message)
        except (ValueError, TypeError) as exc:  # e.g. an address mail cannot carry
            return Permanent(f"could not build the mail: {exc}")
        try:
            await self.pool.send(self.envelope_sender, message.recipient.address, mail)
        except Exception as exc:
            return classify(exc)
        return Delivered(msg_id)

    async def close(self) -> None:
        await self.pool.close()
