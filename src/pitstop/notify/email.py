"""The email channel: multipart mail over SMTP, through a pool of pipelining connections.

Each mail has a plain-text and an HTML part, `List-Unsubscribe` with a signed one-click link
(RFC 8058), and a `Message-ID` derived from the notification's idempotency key and the address,
so a retried delivery carries the same Message-ID and receivers can drop the duplicate.

The two layouts around a message (email/layout.txt and .html) are rendered once per content
(subject, text, HTML, topic), with a marker where the recipient's unsubscribe link goes; each
mail then only puts its own link in. Sending, and how SMTP answers become outcomes, is
smtp.py's: a 5xx for a recipient or a message is permanent; everything else (4xx, connection
refused or lost, timeouts, our own login or sender being refused) is worth retrying.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime
from email.utils import format_datetime, parseaddr

import sqlalchemy as sa
from markupsafe import Markup, escape
from sqlalchemy.ext.asyncio import AsyncConnection

from pitstop.db.tables import users
from pitstop.notify import mime
from pitstop.notify.outcomes import Delivered, Message, Outcome, Permanent
from pitstop.notify.render import Renderer
from pitstop.notify.smtp import SmtpConfig, SmtpPool, check_address, classify
from pitstop.notify.topics import EMAIL, TOPICS
from pitstop.notify.unsubscribe import UnsubscribeLinks

__all__ = ["TLS_MODES", "EmailChannel", "SmtpConfig", "SmtpPool", "classify", "message_id"]

log = logging.getLogger(__name__)

TLS_MODES = ("none", "starttls", "tls")
#: Where a layout's unsubscribe link goes, until a mail puts its own in: no template or
#: stored text can hold it (a NUL and a random part).
_LINK = f"\x00unsubscribe-{secrets.token_hex(8)}\x00"
_LAYOUTS = 64


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
        self._rendered: OrderedDict[tuple[object, ...], tuple[list[str], list[str]] | None] = (
            OrderedDict()
        )
        self._dated: tuple[datetime, str] | None = None

    async def recipients(self, conn: AsyncConnection, user_ids: list[int]) -> list[tuple[int, str]]:
        if not user_ids:
            return []
        rows = (
            await conn.execute(sa.select(users.c.id, users.c.email).where(users.c.id.in_(user_ids)))
        ).all()
        return [(r.id, r.email) for r in rows]

    def build(self, message: Message) -> tuple[str, bytes]:
        """(Message-ID, the mail as it goes on the wire)."""
        to = check_address(message.recipient.address)
        unsubscribe = (
            self.links.url(message.recipient.user_id, message.topic)
            if message.recipient.user_id is not None
            else self.links.address_url(to)
        )
        layouts = self._layouts(message, bool(unsubscribe))
        if layouts is None:  # the link is not where the marker was: render this mail whole
            text, html = self._render(message, unsubscribe)
        else:
            text = unsubscribe.join(layouts[0])
            html = str(escape(unsubscribe)).join(layouts[1])
        msg_id = message_id(message.key, to, self.domain)
        headers = [
            ("Subject", mime.encoded(message.subject)),
            ("From", self.config.sender),
            ("To", mime.address(message.recipient.name, to)),
            ("Date", self._date(message.created_at)),
            ("Message-ID", msg_id),
            ("X-Pitstop-Key", message.key),
            ("X-Pitstop-Topic", message.topic),
            ("Auto-Submitted", "auto-generated"),
        ]
        if unsubscribe:
            headers.append(("List-Unsubscribe", f"<{unsubscribe}>"))
            headers.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
        return msg_id, mime.compose(headers, text, html)

    def _render(self, message: Message, link: str) -> tuple[str, str]:
        """Both layouts around `message`, with `link` as the unsubscribe URL."""
        context = {
            "subject": message.subject,
            "topic_title": TOPICS.get(message.topic, message.topic),
            "unsubscribe_url": link,
        }
        body = Markup(message.html) if message.html else _text_to_html(message.text)
        text = self.renderer.page("email/layout.txt", text=message.text, **context)
        html = self.renderer.page("email/layout.html", body=body, **context)
        return text, html

    def _layouts(self, message: Message, link: bool) -> tuple[list[str], list[str]] | None:
        """The text and HTML layouts around `message`, each split where the link goes; None
        if a layout does not show the link as it is (then each mail is rendered whole)."""
        key = (message.subject, message.text, message.html, message.topic, link)
        if key in self._rendered:
            return self._rendered[key]
        text, html = self._render(message, _LINK if link else "")
        found: tuple[list[str], list[str]] | None = (text.split(_LINK), html.split(_LINK))
        if found is not None and link and (len(found[0]) < 2 or len(found[1]) < 2):
            found = None
        self._rendered[key] = found
        while len(self._rendered) > _LAYOUTS:
            self._rendered.popitem(last=False)
        return found

    def _date(self, when: datetime) -> str:
        if self._dated is None or self._dated[0] != when:
            self._dated = (when, format_datetime(when))
        return self._dated[1]

    async def send(self, message: Message) -> Outcome:
        (outcome,) = await self.send_many([message])
        return outcome

    async def send_many(self, messages: Sequence[Message]) -> list[Outcome]:
        """A batch of mails, streamed over the pool's connections (the worker prefers this)."""
        outcomes: list[Outcome | None] = [None] * len(messages)
        ids: list[str] = []
        mails: list[tuple[str, bytes]] = []
        where: list[int] = []
        for i, message in enumerate(messages):
            try:
                msg_id, mail = self.build(message)
            except (ValueError, TypeError) as exc:  # e.g. an address mail cannot carry
                outcomes[i] = Permanent(f"could not build the mail: {exc}")
                continue
            ids.append(msg_id)
            mails.append((message.recipient.address, mail))
            where.append(i)
        sent = await self.pool.send_many(self.envelope_sender, mails, crlf_only=True)
        for i, msg_id, outcome in zip(where, ids, sent, strict=True):
            outcomes[i] = Delivered(msg_id) if isinstance(outcome, Delivered) else outcome
        return [o or Permanent("no outcome") for o in outcomes]

    async def close(self) -> None:
        await self.pool.close()
