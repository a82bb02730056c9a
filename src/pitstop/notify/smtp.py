"""Sending mail over SMTP: a pool of connections, each streaming mails with RFC 2920 pipelining.

aiosmtplib opens every connection (TCP or TLS, the greeting, EHLO, STARTTLS, AUTH). When the
server advertises PIPELINING, the connection's transport is then handed to `_Pipelined`, our own
writer for the connected path: a mail is one write and one round trip,

    <previous mail's body>.  MAIL FROM  RCPT TO  DATA        (one write)
    250 (previous body)      250        250      354         (the answers, in order)

instead of aiosmtplib's four commands, four writes and four round trips. RFC 2920 allows exactly
this grouping: DATA ends a group, and the message content may start the next one. A server that
does not advertise PIPELINING gets aiosmtplib's `sendmail`, one command at a time (`_Plain`).

Mails wait in one queue; up to `pool_size` lanes (tasks) take them in turn, each on a connection
of its own, so mails of several batches stream on without a pause between them.

Every answer becomes one of the delivery outcomes, the same ones on both paths:

- the end of DATA answered 2xx: delivered;
- RCPT, DATA or the end of DATA answered 5xx: permanent (for that mail only);
- answered 4xx: retry later; our sender (MAIL) refused, whatever the code: retry later (a
  configuration an operator can fix);
- the connection lost, a timeout, an answer that makes no sense: the mails whose body had not
  been sent are put back in the queue once (they cannot have arrived) and go out on a fresh
  connection; a mail whose body was sent but not answered is "retry later" (it may have
  arrived; its Message-ID, the same on every attempt, lets receivers drop the copy). Nothing
  is left without an outcome, and nothing the server accepted is sent again in this pass.

After a refused mail the lane sends RSET with the next group, so the next mail starts clean.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import re
from dataclasses import dataclass
from typing import cast

import aiosmtplib

from pitstop.notify.outcomes import Delivered, Outcome, Permanent, RetryLater

log = logging.getLogger(__name__)

#: A reply line longer than this (or a reply of more lines than fit in 4 of them) is garbage.
_MAX_REPLY = 8192 * 4
#: Characters an address on the envelope may not hold (controls, space, angle brackets).
_UNSAFE = re.compile(r"[\x00-\x20\x7f<>]")
_BARE_LF = re.compile(rb"(?<!\r)\n|\r(?!\n)")


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
    #: Pipeline when the server offers it (RFC 2920); False: one command at a time always.
    pipelining: bool = True


def classify(exc: Exception) -> Outcome:
    """aiosmtplib's failures (and the network's) as outcomes."""
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


def check_address(address: str) -> str:
    """`address` if it can go on the envelope as it is; ValueError otherwise."""
    if not address or _UNSAFE.search(address) or "@" not in address:
        raise ValueError(f"{address!r} is not an address mail can be sent to")
    return address


def crlf(mail: bytes) -> bytes:
    """`mail` with CRLF line ends, ending in CRLF (as DATA carries it, RFC 5321 2.3.8)."""
    crlfs = mail.count(b"\r\n")
    if mail.count(b"\n") != crlfs or mail.count(b"\r") != crlfs:  # 3 scans, no regex
        mail = _BARE_LF.sub(b"\r\n", mail)
    if not mail.endswith(b"\r\n"):
        mail += b"\r\n"
    return mail


def data_block(mail: bytes) -> bytes:
    """A `crlf` mail as DATA sends it: lines starting with "." doubled (RFC 5321 4.5.2), then
    the "." line that ends it."""
    if mail.startswith(b"."):
        mail = b"." + mail
    return mail.replace(b"\r\n.", b"\r\n..") + b".\r\n"


# --- jobs: the mails waiting, and who waits for them ---------------------------------------------


class _Batch:
    """Mails handed over together; `done` resolves when every one has its outcome."""

    __slots__ = ("abandoned", "done", "left", "outcomes")

    def __init__(self, size: int, loop: asyncio.AbstractEventLoop) -> None:
        self.outcomes: list[Outcome | None] = [None] * size
        self.left = size
        self.done: asyncio.Future[None] = loop.create_future()
        #: The caller gave up (it was cancelled): mails not yet on the wire are not sent.
        self.abandoned = False


class _Job:
    __slots__ = ("batch", "index", "mail", "recipient", "requeued", "sender")

    def __init__(self, batch: _Batch, index: int, sender: str, recipient: str, mail: bytes):
        self.batch = batch
        self.index = index
        self.sender = sender
        self.recipient = recipient
        self.mail = mail  # CRLF line ends (see `crlf`)
        self.requeued = False

    def finish(self, outcome: Outcome) -> None:
        batch = self.batch
        if batch.outcomes[self.index] is not None:
            return
        batch.outcomes[self.index] = outcome
        batch.left -= 1
        if batch.left == 0 and not batch.done.done():
            batch.done.set_result(None)

    @property
    def finished(self) -> bool:
        return self.batch.outcomes[self.index] is not None

    @property
    def ascii(self) -> bool:
        return self.sender.isascii() and self.recipient.isascii()


# --- the pipelined connection --------------------------------------------------------------------


class _Lost(Exception):
    """The connection cannot go on (lost, timed out, closing, or talking nonsense)."""


@dataclass(frozen=True)
class Reply:
    code: int
    text: str

    def __str__(self) -> str:
        return f"{self.code} {self.text}".strip()


class _Replies(asyncio.Protocol):
    """Reads SMTP replies off a transport it took over from aiosmtplib."""

    def __init__(self, transport: asyncio.Transport, timeout: float) -> None:
        self.transport = transport
        self.timeout = timeout
        self.loop = asyncio.get_running_loop()
        self.buffer = bytearray()
        self.lines: list[str] = []
        self.replies: collections.deque[Reply] = collections.deque()
        self.waiter: asyncio.Future[None] | None = None
        self.lost: str | None = None
        self.paused = False
        self.drained: asyncio.Future[None] | None = None

    # asyncio.Protocol

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        start = 0
        while True:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            line = bytes(buffer[start:end]).rstrip(b"\r")
            start = end + 1
            code, sep = line[:3], line[3:4]
            if len(code) != 3 or not code.isdigit() or sep not in (b"", b" ", b"-"):
                self._fail(f"the server answered something that is not SMTP: {line[:80]!r}")
                return
            self.lines.append(line[4:].decode("utf-8", "replace"))
            if sep != b"-":
                self.replies.append(Reply(int(code), "\n".join(self.lines)))
                self.lines = []
        del buffer[:start]
        if len(buffer) > _MAX_REPLY or len(self.lines) > 256:
            self._fail("the server's answer is too long")
            return
        if self.replies:
            self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = self.lost or f"the server closed the connection ({exc or 'no error'})"
        self._wake()
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)

    def eof_received(self) -> bool | None:
        self.lost = self.lost or "the server closed the connection"
        self._wake()
        return None

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)

    # ours

    def _fail(self, why: str) -> None:
        self.lost = why
        self.transport.abort()
        self._wake()

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def write(self, data: bytes) -> None:
        if self.lost is not None:
            raise _Lost(self.lost)
        if self.paused:
            # A server that stops reading must not hold this lane past the timeout (the lease
            # would run out and the batch be sent again): fail it like a silent reply.
            drained = self.drained = self.loop.create_future()
            timer = self.loop.call_later(self.timeout, self._stalled, drained)
            try:
                await drained
            finally:
                timer.cancel()
            if self.lost is not None:
                raise _Lost(self.lost)
        self.transport.write(data)

    async def reply(self) -> Reply:
        """The next reply, in order; `_Lost` if none comes within the timeout."""
        if self.replies:
            return self.replies.popleft()
        if self.lost is not None:
            raise _Lost(self.lost)
        waiter = self.waiter = self.loop.create_future()
        timer = self.loop.call_later(self.timeout, self._timed_out, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self.waiter = None
        if self.replies:
            return self.replies.popleft()
        raise _Lost(self.lost or "no answer")

    def _stalled(self, drained: asyncio.Future[None]) -> None:
        if not drained.done():
            self._fail(f"the SMTP server took nothing in {self.timeout:g} s")
            drained.set_result(None)

    def _timed_out(self, waiter: asyncio.Future[None]) -> None:
        if not waiter.done():
            self._fail(f"no answer from the SMTP server in {self.timeout:g} s")


class _Pipelined:
    """A connection taken over from aiosmtplib after its handshake, sending pipelined."""

    def __init__(self, client: aiosmtplib.SMTP, timeout: float) -> None:
        # asyncio's and uvloop's transports alike (uvloop's are not asyncio.Transport).
        transport = cast(asyncio.Transport, client.transport)
        if transport is None or not hasattr(transport, "set_protocol"):
            raise TypeError(f"cannot take over the SMTP connection {transport!r}")
        self.protocol = _Replies(transport, timeout)
        transport.set_protocol(self.protocol)
        self.size = "size" in client.esmtp_extensions
        self.utf8 = "smtputf8" in client.esmtp_extensions
        self.good = True

    @property
    def alive(self) -> bool:
        return self.protocol.lost is None and not self.protocol.transport.is_closing()

    def _envelope(self, job: _Job) -> bytes:
        options = f" SIZE={len(job.mail)}" if self.size else ""
        if not job.ascii:
            options += " SMTPUTF8"
        return (
            f"MAIL FROM:<{job.sender}>{options}\r\nRCPT TO:<{job.recipient}>\r\nDATA\r\n".encode()
        )

    async def run(self, pool: SmtpPool) -> None:
        """Send queued mails until the queue is empty and the last one is answered. `good`
        turns False when the connection cannot be used any more."""
        p = self.protocol
        body: _Job | None = None  # DATA answered 354: its body goes first in the next group
        reset = False  # the last transaction failed: RSET before the next MAIL
        while True:
            job = pool.take()
            if job is not None and not (self.utf8 or job.ascii):
                job.finish(Permanent("the SMTP server cannot take a non-ASCII address"))
                continue
            if body is None and not reset and job is None:
                return
            sent, body = body, None
            if p.lost is not None and sent is None and not reset:
                # Closed by the server while idle, noticed before anything was written.
                self.good = False
                if job is not None:
                    pool.again(job, p.lost, written=False)
                return
            written = False
            try:
                group = []
                if sent is not None:
                    group.append(data_block(sent.mail))
                if reset:
                    group.append(b"RSET\r\n")
                if job is not None:
                    group.append(self._envelope(job))
                await p.write(b"".join(group))
                written = True
                if sent is not None:
                    reply = await p.reply()
                    sent.finish(_end_of_data(reply))
                    if reply.code == 421:
                        raise _Lost(f"the server is closing: {reply}")
                if reset:
                    reply = await p.reply()
                    if reply.code // 100 != 2:
                        raise _Lost(f"RSET answered {reply}")
                    reset = False
                if job is not None:
                    mail, rcpt, data = await p.reply(), await p.reply(), await p.reply()
                    if data.code == 354 and mail.code // 100 == 2 and rcpt.code // 100 == 2:
                        body = job
                    else:
                        job.finish(_refused(mail, rcpt, data))
                        if 421 in (mail.code, rcpt.code, data.code):
                            raise _Lost(f"the server is closing: {mail} / {rcpt} / {data}")
                        if data.code == 354:  # DATA taken for a refused mail: give up on it
                            raise _Lost("the server took DATA for a refused mail")
                        reset = True
            except BaseException as exc:
                self.good = False
                why = str(exc) if isinstance(exc, _Lost) else f"{type(exc).__name__}: {exc}"
                if sent is not None and not sent.finished:
                    if written:
                        sent.finish(RetryLater(f"{why}; the mail was sent and may have arrived"))
                    else:  # its body never left: the server dropped the transaction
                        pool.again(sent, why)
                if job is not None and not job.finished:
                    pool.again(job, why, written=written)  # at most its envelope went
                if isinstance(exc, _Lost):
                    return
                raise

    def close(self, *, quit: bool = True) -> None:
        transport = self.protocol.transport
        if quit and self.good and not transport.is_closing():
            with contextlib.suppress(Exception):
                transport.write(b"QUIT\r\n")
        transport.close()


def _end_of_data(reply: Reply) -> Outcome:
    if reply.code // 100 == 2:
        return Delivered()
    if reply.code >= 500:
        return Permanent(f"refused: {reply}")
    return RetryLater(f"deferred: {reply}")


def _refused(mail: Reply, rcpt: Reply, data: Reply) -> Outcome:
    """The outcome of a transaction that did not reach the body: the first refusal decides."""
    if mail.code // 100 != 2:
        return RetryLater(f"SMTP sender refused: {mail}")
    if rcpt.code // 100 != 2:
        if rcpt.code >= 500:
            return Permanent(f"recipient refused: {rcpt}")
        return RetryLater(f"recipient deferred: {rcpt}")
    if data.code >= 500:
        return Permanent(f"refused: {data}")
    return RetryLater(f"deferred: {data}")


class _Plain:
    """A connection to a server without PIPELINING: aiosmtplib, one command at a time."""

    def __init__(self, client: aiosmtplib.SMTP) -> None:
        self.client = client
        self.good = True
        self.utf8 = client.supports_extension("smtputf8")
        self.used = False

    @property
    def alive(self) -> bool:
        return self.client.is_connected

    async def run(self, pool: SmtpPool) -> None:
        first = True
        while (job := pool.take()) is not None:
            if not (self.utf8 or job.ascii):
                job.finish(Permanent("the SMTP server cannot take a non-ASCII address"))
                continue
            try:
                await self.client.sendmail(
                    job.sender,
                    [job.recipient],
                    job.mail,
                    mail_options=None if job.ascii else ["SMTPUTF8"],
                )
            except aiosmtplib.SMTPServerDisconnected as exc:
                self.good = False
                if first and self.used:
                    # The server closed a connection that sat idle: before anything was sent.
                    pool.again(job, str(exc))
                else:
                    job.finish(RetryLater(f"SMTP connection lost: {exc}; it may have arrived"))
                return
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                job.finish(classify(exc))
                if not self.client.is_connected:
                    self.good = False
                    return
            except BaseException as exc:
                self.good = False
                job.finish(RetryLater(f"SMTP failure: {type(exc).__name__}: {exc}"))
                raise
            else:
                job.finish(Delivered())
            first, self.used = False, True

    def close(self, *, quit: bool = True) -> None:
        self.client.close()


_Connection = _Pipelined | _Plain


# --- the pool ------------------------------------------------------------------------------------


class SmtpPool:
    """Up to `pool_size` SMTP connections, reused across mails and batches."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._queue: collections.deque[_Job] = collections.deque()
        self._idle: list[_Connection] = []
        self._lanes: set[asyncio.Task[None]] = set()
        self._connecting = 0  # lanes opening a connection right now
        self._connected = 0  # lanes sending on a connection right now
        self._closed = False
        #: Connections opened so far, and how many of them pipelined (for tests and logs).
        self.opened = 0
        self.pipelined = 0

    # --- what the email channel calls

    async def send_many(
        self, sender: str, mails: list[tuple[str, bytes]], *, crlf_only: bool = False
    ) -> list[Outcome]:
        """Send each (recipient, mail) from `sender`; one outcome per mail, in order.
        `crlf_only`: the mails are known to have CRLF line ends only, ending in CRLF (as
        mime.compose writes them), so they are not checked again."""
        if not mails:
            return []
        if self._closed:
            return [RetryLater("the mail pool is closed")] * len(mails)
        batch = _Batch(len(mails), asyncio.get_running_loop())
        self._queue.extend(
            _Job(batch, i, sender, recipient, mail if crlf_only else crlf(mail))
            for i, (recipient, mail) in enumerate(mails)
        )
        self._kick()
        try:
            await batch.done
        except asyncio.CancelledError:
            batch.abandoned = True
            raise
        return [o or RetryLater("no outcome") for o in batch.outcomes]

    async def send(self, sender: str, recipient: str, mail: bytes) -> Outcome:
        (outcome,) = await self.send_many(sender, [(recipient, mail)])
        return outcome

    async def close(self) -> None:
        self._closed = True
        lanes = list(self._lanes)
        for lane in lanes:
            lane.cancel()
        for lane in lanes:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await lane
        while (job := self.take()) is not None:
            job.finish(RetryLater("the server is shutting down"))
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    # --- for the connections

    def take(self) -> _Job | None:
        """The next mail to send, or None when there is none."""
        queue = self._queue
        while queue:
            job = queue.popleft()
            if not job.batch.abandoned and not job.finished:
                return job
        return None

    def again(self, job: _Job, why: str, *, written: bool = True) -> None:
        """`job` did not reach the server: only its envelope went (`written`), or nothing.
        Back to the head of the queue for another connection; a mail whose envelope went
        once before is retried later instead (a server that always cuts it off cannot keep
        this pass going forever)."""
        if self._closed or (written and job.requeued):
            job.finish(RetryLater(f"SMTP connection lost before the mail was sent: {why}"))
            return
        job.requeued = job.requeued or written
        self._queue.appendleft(job)

    # --- lanes: tasks that each send on a connection of their own

    def _kick(self) -> None:
        want = min(max(1, self.config.pool_size), len(self._queue))
        while len(self._lanes) < want and not self._closed:
            task = asyncio.get_running_loop().create_task(self._lane(), name="smtp-lane")
            self._lanes.add(task)

    async def _lane(self) -> None:
        me = asyncio.current_task()
        try:
            while self._queue:
                conn = self._idle.pop() if self._idle else None
                if conn is not None and not conn.alive:
                    conn.close(quit=False)  # the server closed it while it sat idle
                    continue
                if conn is None:
                    self._connecting += 1
                    try:
                        conn = await self._connect()
                    except Exception as exc:
                        self._connecting -= 1
                        self._unreachable(exc)
                        return
                    except BaseException:
                        self._connecting -= 1
                        raise
                    self._connecting -= 1
                self._connected += 1
                try:
                    await conn.run(self)
                except asyncio.CancelledError:
                    conn.close(quit=False)
                    raise
                except Exception:  # a bug of ours; the mails in hand have their outcomes
                    log.exception("SMTP lane failed")
                    conn.good = False
                finally:
                    self._connected -= 1
                if conn.good:
                    self._idle.append(conn)
                else:
                    conn.close(quit=False)
        finally:
            # Here rather than in a done callback: a lane that ends is never counted by a
            # `_kick` running before the callback would.
            if me is not None:
                self._lanes.discard(me)

    def _unreachable(self, exc: Exception) -> None:
        """No connection could be opened. Another lane may still carry the mails; if none
        has or is opening a connection, every mail waiting fails with the reason."""
        if self._connected or self._connecting:
            log.info("SMTP connection failed (other connections go on): %s", exc)
            return
        try:
            outcome = classify(exc)
        except Exception:
            outcome = RetryLater(f"SMTP failure: {type(exc).__name__}: {exc}")
        while (job := self.take()) is not None:
            job.finish(outcome)

    async def _connect(self) -> _Connection:
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
        try:
            if client.is_ehlo_or_helo_needed:  # connect() says EHLO only for STARTTLS or AUTH
                try:
                    await client.ehlo()
                except aiosmtplib.SMTPHeloError:
                    if not client.is_connected:
                        raise
                    await client.helo()  # a server that does not speak ESMTP
        except BaseException:
            client.close()
            raise
        self.opened += 1
        if c.pipelining and client.supports_extension("pipelining"):
            try:
                conn: _Connection = _Pipelined(client, c.timeout)
            except Exception:
                client.close()
                raise
            self.pipelined += 1
            return conn
        return _Plain(client)
