"""The demo inbox: an embedded SMTP server (aiosmtpd) that keeps every mail it is given.

`pitstop demo` starts a `MailSink` on a local port and points the email channel at it, so the
demo sends real mail over real SMTP without reaching anyone. Each accepted mail is written to
the data dir (`<data dir>/demo-mail/<number>.eml`, written to a temporary name and renamed, so
a reader never sees half a mail) and so survives a restart. Operators read them at
`/admin/mail`.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import itertools
import logging
import os
import re
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

from aiosmtpd.smtp import SMTP, Envelope, Session

log = logging.getLogger(__name__)

#: The folder under the data dir; its presence is what makes `/admin/mail` show an inbox.
FOLDER = "demo-mail"
_NAME = re.compile(r"^(\d{6,})\.eml$")


def mail_dir(data_dir: Path) -> Path:
    return data_dir / FOLDER


@dataclass(frozen=True)
class Mail:
    """One stored mail, parsed."""

    id: int
    sender: str
    to: str
    subject: str
    date: datetime | None
    text: str | None
    html: str | None
    headers: list[tuple[str, str]]
    size: int


def _part(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    if part is None or not isinstance(part, EmailMessage):
        return None
    try:
        content = part.get_content()
    except (LookupError, ValueError):
        return None
    return content if isinstance(content, str) else None


def parse(mail_id: int, raw: bytes) -> Mail:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    try:
        date = parsedate_to_datetime(str(message["Date"])) if message["Date"] else None
    except (TypeError, ValueError):
        date = None
    return Mail(
        id=mail_id,
        sender=str(message.get("From", "")),
        to=str(message.get("To", "")),
        subject=str(message.get("Subject", "")),
        date=date,
        text=_part(message, "plain"),
        html=_part(message, "html"),
        headers=[(k, str(v)) for k, v in message.items()],
        size=len(raw),
    )


class Mailbox:
    """Mails as numbered .eml files in one folder; newest has the highest number."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._next: itertools.count[int] | None = None
        # Mails arrive on several SMTP connections at once, each written from a thread.
        self._lock = threading.Lock()

    @property
    def exists(self) -> bool:
        return self.folder.is_dir()

    def ids(self) -> list[int]:
        """Every mail's number, newest first."""
        if not self.exists:
            return []
        found = (_NAME.match(p.name) for p in self.folder.iterdir())
        return sorted((int(m.group(1)) for m in found if m), reverse=True)

    def add(self, raw: bytes) -> int:
        self.folder.mkdir(parents=True, exist_ok=True)
        # Written whole under a name of its own, then linked to its number: a link never
        # replaces a mail another writer (thread or process) gave that number first.
        temporary = self.folder / f".{uuid.uuid4().hex}.tmp"
        temporary.write_bytes(raw)
        try:
            with self._lock:
                if self._next is None:
                    self._next = itertools.count(max(self.ids(), default=0) + 1)
                while True:
                    mail_id = next(self._next)
                    try:
                        os.link(temporary, self.folder / f"{mail_id:06d}.eml")
                    except FileExistsError:  # another writer took this number
                        continue
                    return mail_id
        finally:
            temporary.unlink()

    def raw(self, mail_id: int) -> bytes | None:
        path = self.folder / f"{mail_id:06d}.eml"
        try:
            return path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def get(self, mail_id: int) -> Mail | None:
        raw = self.raw(mail_id)
        return None if raw is None else parse(mail_id, raw)

    def latest(self, limit: int = 200) -> list[Mail]:
        out = []
        for mail_id in self.ids()[:limit]:
            mail = self.get(mail_id)
            if mail is not None:
                out.append(mail)
        return out

    def count(self) -> int:
        return len(self.ids())


class MailSink:
    """An SMTP server on `host:port` (0: any free port) that stores what it accepts."""

    def __init__(self, mailbox: Mailbox, host: str = "127.0.0.1", port: int = 0) -> None:
        self.mailbox = mailbox
        self.host = host
        self.port = port
        self.received = 0
        self._server: asyncio.Server | None = None
        self._arrived = asyncio.Event()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode()
        if not raw:
            return "554 Empty message"
        stamp = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
        trace = (
            f"X-Pitstop-Sink-Received: {stamp}\r\n"
            f"X-Pitstop-Sink-Rcpt: {', '.join(envelope.rcpt_tos)}\r\n"
        ).encode()
        await asyncio.to_thread(self.mailbox.add, trace + raw)
        self.received += 1
        self._arrived.set()
        return "250 Kept in the demo inbox"

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(self, hostname="pitstop-demo-sink", data_size_limit=10_000_000),
            self.host,
            self.port,
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    async def wait_for(self, count: int, within: float = 30) -> None:
        """Until the mailbox holds at least `count` mails."""
        async with asyncio.timeout(within):
            while self.mailbox.count() < count:
                self._arrived.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._arrived.wait(), 0.5)
