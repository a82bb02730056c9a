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
from email import charset
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime, formataddr, parseaddr

import aiosmtplib
import sqlalchemy as sa
from markupsafe import Markup, escape
from sqlalchemy.ext.asyncio import AsyncConnection

from pitstop.db.tables import users
from pitstop.notify.outcomes import Delivered, Message, Outcome, Permanent, RetryLater
from pitstop.notify.render import Renderer
from pitstop.notify.topics import EMAIL, TOPICS
from pitstop.notify.unsubscribe import UnsubscribeLinks

log = logging.getLogger(__name__)

TLS_MODES = ("none", "starttls", "tls")
_UTF8_QP = charset.Charset("utf-8")
_UTF8_QP.header_encoding = charset.QP
#: Long headers (List-Unsubscribe with its URL) stay on one line, within SMTP's 998.
_NO_FOLDING = compat32.clone(max_line_length=998)


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
    pool_size: int = 4
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
        self.domain = parseaddr(config.sender)[1].rpartition("@")[2] or "localhost"

    async def recipients(self, conn: AsyncConnection, user_ids: list[int]) -> list[tuple[int, str]]:
        if not user_ids:
            return []
        rows = (
            await conn.execute(sa.select(users.c.id, users.c.email).where(users.c.id.in_(user_ids)))
        ).all()
        return [(r.id, r.email) for r in rows]

    def build(self, message: Message) -> MIMEMultipart:
        """The mail (the stdlib's compat32 MIME classes: three times faster to build than
        `EmailMessage`, which matters at 100,000 mails)."""
        address = message.recipient.address
        unsubscribe = (
            self.links.url(message.recipient.user_id, message.topic)
            if message.recipient.user_id is not None
            else ""
        )
        context = {
            "subject": message.subject,
            "topic_title": TOPICS.get(message.topic, message.topic),
            "unsubscribe_url": unsubscribe,
        }
        body = Markup(message.html) if message.html else _text_to_html(message.text)
        mail = MIMEMultipart("alternative")
        mail["Subject"] = Header(message.subject, _UTF8_QP).encode()
        mail["From"] = self.config.sender
        mail["To"] = formataddr((message.recipient.name, address), charset="utf-8")
        mail["Date"] = format_datetime(message.created_at)
        mail["Message-ID"] = message_id(message.key, address, self.domain)
        mail["X-Pitstop-Key"] = message.key
        mail["X-Pitstop-Topic"] = message.topic
        mail["Auto-Submitted"] = "auto-generated"
        if unsubscribe:
            mail["List-Unsubscribe"] = f"<{unsubscribe}>"
            mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        text = self.renderer.page("email/layout.txt", text=message.text, **context)
        html = self.renderer.page("email/layout.html", body=body, **context)
        mail.attach(MIMEText(text, "plain", "utf-8"))
        mail.attach(MIMEText(html, "html", "utf-8"))
        return mail

    async def send(self, message: Message) -> Outcome:
        try:
            mail = self.build(message)
        except (ValueError, TypeError) as exc:  # e.g. an address or header mail cannot carry
            return Permanent(f"could not build the mail: {exc}")
        sender = parseaddr(self.config.sender)[1]
        try:
            await self.pool.send(
                sender, message.recipient.address, mail.as_bytes(policy=_NO_FOLDING)
            )
        except Exception as exc:
            return classify(exc)
        return Delivered(mail["Message-ID"])

    async def close(self) -> None:
        await self.pool.close()
