"""The SMTP writer (notify/smtp.py) against a real SMTP server (aiosmtpd): pipelined when the
server offers it, one command at a time when not, and every failure an outcome, with no mail
lost and none accepted twice."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pitstop.clock import ManualClock
from pitstop.notify.email import EmailChannel
from pitstop.notify.outbox import DeliveryInfo
from pitstop.notify.outcomes import (
    Delivered,
    Message,
    Outcome,
    Permanent,
    Recipient,
    RetryLater,
)
from pitstop.notify.smtp import SmtpConfig, SmtpPool
from tests.notify.support import SmtpSink, later, notify, settled
from tests.world import World

SENDER = "noreply@pitstop.test"
BOTH = pytest.mark.parametrize("pipelining", [True, False], ids=["pipelined", "one-by-one"])


def mail(n: int) -> bytes:
    """A small mail; its body has lines starting with "." (SMTP must double them)."""
    return (
        f"From: Pitstop <{SENDER}>\r\nTo: r{n}@example.com\r\nSubject: mail {n}\r\n"
        f"X-N: {n}\r\n\r\nHello {n}.\r\n.\r\n..two dots\r\n.end\r\n"
    ).encode()


def batch(count: int, start: int = 0) -> list[tuple[str, bytes]]:
    return [(f"r{n}@example.com", mail(n)) for n in range(start, start + count)]


def arrived(sink: SmtpSink) -> Counter[str]:
    """Recipient -> how many mails the server accepted for them."""
    return Counter(r for e in sink.envelopes for r in e.rcpt_tos)


@pytest.fixture
async def sinks() -> AsyncIterator[list[SmtpSink]]:
    made: list[SmtpSink] = []
    yield made
    for sink in made:
        await sink.stop()


async def start(sinks: list[SmtpSink], **options: object) -> SmtpSink:
    sink = SmtpSink(**options)  # type: ignore[arg-type]
    await sink.start()
    sinks.append(sink)
    return sink


@pytest.fixture
async def pools() -> AsyncIterator[list[SmtpPool]]:
    made: list[SmtpPool] = []
    yield made
    for pool in made:
        await pool.close()


def pool_for(pools: list[SmtpPool], sink: SmtpSink, **options: object) -> SmtpPool:
    config = SmtpConfig(host="127.0.0.1", port=sink.port, timeout=5.0, pool_size=3)
    pool = SmtpPool(SmtpConfig(**{**config.__dict__, **options}))  # type: ignore[arg-type]
    pools.append(pool)
    return pool


def kinds(outcomes: list[Outcome]) -> list[str]:
    return [type(o).__name__ for o in outcomes]


# --- the connected path --------------------------------------------------------------------------


async def test_a_batch_is_pipelined_and_every_mail_arrives_once_intact(
    sinks: list[SmtpSink], pools: list[SmtpPool]
) -> None:
    sink = await start(sinks)
    pool = pool_for(pools, sink)
    outcomes = await pool.send_many(SENDER, batch(40))
    assert kinds(outcomes) == ["Delivered"] * 40
    assert pool.pipelined == pool.opened >= 1
    assert arrived(sink) == Counter({f"r{n}@example.com": 1 for n in range(40)})
    for message, envelope in zip(sink.messages, sink.envelopes, strict=True):
        n = int(message["X-N"])
        assert envelope.mail_from == SENDER and envelope.rcpt_tos == [f"r{n}@example.com"]
        assert message["Subject"] == f"mail {n}"
        assert message.get_content().replace("\r\n", "\n") == f"Hello {n}.\n.\n..two dots\n.end\n"
    # The same connections carry the next batch.
    assert kinds(await pool.send_many(SENDER, batch(10, 40))) == ["Delivered"] * 10
    assert sink.connections == pool.opened <= 3
    assert len(sink.messages) == 50


async def test_a_server_without_pipelining_gets_one_command_at_a_time(
    sinks: list[SmtpSink], pools: list[SmtpPool]
) -> None:
    sink = await start(sinks, pipelining=False)
    pool = pool_for(pools, sink)
    outcomes = await pool.send_many(SENDER, batch(12))
    assert kinds(outcomes) == ["Delivered"] * 12
    assert pool.opened >= 1 and pool.pipelined == 0
    assert arrived(sink) == Counter({f"r{n}@example.com": 1 for n in range(12)})
    assert all(m.get_content().endswith("..two dots\r\n.end\r\n") for m in sink.messages)


async def test_pipelining_can_be_turned_off(sinks: list[SmtpSink], pools: list[SmtpPool]) -> None:
    sink = await start(sinks)
    pool = pool_for(pools, sink, pipelining=False)
    assert kinds(await pool.send_many(SENDER, batch(5))) == ["Delivered"] * 5
    assert pool.pipelined == 0 and len(sink.messages) == 5


async def test_starttls_and_login_come_before_the_pipelined_mails(
    sinks: list[SmtpSink], pools: list[SmtpPool], tmp_path: Path
) -> None:
    sink = await start(sinks, tls_context=server_tls(tmp_path), login=("pitstop", "s3cret"))
    pool = pool_for(
        pools, sink, tls="starttls", validate_certs=False, username="pitstop", password="s3cret"
    )
    assert kinds(await pool.send_many(SENDER, batch(8))) == ["Delivered"] * 8
    assert pool.pipelined == pool.opened == sink.secure >= 1
    assert len(sink.messages) == 8

    wrong = pool_for(
        pools, sink, tls="starttls", validate_certs=False, username="pitstop", password="nope"
    )
    (outcome,) = await wrong.send_many(SENDER, batch(1, 100))
    assert isinstance(outcome, RetryLater) and "535" in outcome.error  # an operator can fix it
    assert len(sink.messages) == 8


# --- refusals: each mail its own outcome, the others go on ---------------------------------------


@BOTH
async def test_a_4xx_on_rcpt_defers_that_mail_and_the_next_ones_go_out(
    sinks: list[SmtpSink], pools: list[SmtpPool], pipelining: bool
) -> None:
    sink = await start(sinks, pipelining=pipelining)
    sink.rcpt_script = ["250", "450 4.2.1 Mailbox busy, try later"]
    pool = pool_for(pools, sink, pool_size=1)  # one connection: the mails go in order
    outcomes = await pool.send_many(SENDER, batch(5))
    assert kinds(outcomes) == ["Delivered", "RetryLater", "Delivered", "Delivered", "Delivered"]
    assert isinstance(outcomes[1], RetryLater) and "450 4.2.1" in outcomes[1].error
    assert arrived(sink) == Counter(
        {f"r{n}@example.com": 1 for n in (0, 2, 3, 4)}
    )  # the envelope after the refusal was reset: r2 did not inherit anything
    assert [e.mail_from for e in sink.envelopes] == [SENDER] * 4
    if pipelining:
        assert "RSET" in sink.commands


@BOTH
async def test_a_5xx_on_rcpt_is_permanent_for_that_recipient_only(
    sinks: list[SmtpSink], pools: list[SmtpPool], pipelining: bool
) -> None:
    sink = await start(sinks, pipelining=pipelining)
    sink.rcpt_script = ["550 5.1.1 No such user here"]
    pool = pool_for(pools, sink, pool_size=1)
    outcomes = await pool.send_many(SENDER, batch(3))
    assert kinds(outcomes) == ["Permanent", "Delivered", "Delivered"]
    assert isinstance(outcomes[0], Permanent) and "550 5.1.1" in outcomes[0].error
    assert sorted(arrived(sink)) == ["r1@example.com", "r2@example.com"]


@BOTH
async def test_a_5xx_at_the_end_of_data_is_permanent_and_a_4xx_is_retried(
    sinks: list[SmtpSink], pools: list[SmtpPool], pipelining: bool
) -> None:
    sink = await start(sinks, pipelining=pipelining)
    sink.script = ["250", "554 5.6.0 Message rejected", "451 4.3.0 Queue full", "250"]
    pool = pool_for(pools, sink, pool_size=1)
    outcomes = await pool.send_many(SENDER, batch(5))
    assert kinds(outcomes) == ["Delivered", "Permanent", "RetryLater", "Delivered", "Delivered"]
    assert "554 5.6.0" in outcomes[1].error  # type: ignore[union-attr]
    assert "451 4.3.0" in outcomes[2].error  # type: ignore[union-attr]
    assert sorted(arrived(sink)) == ["r0@example.com", "r3@example.com", "r4@example.com"]


@BOTH
async def test_our_sender_refused_is_retried_later_whatever_the_code(
    sinks: list[SmtpSink], pools: list[SmtpPool], pipelining: bool
) -> None:
    sink = await start(sinks, pipelining=pipelining)
    sink.mail_script = ["553 5.7.1 Sender address rejected"]
    pool = pool_for(pools, sink, pool_size=1)
    outcomes = await pool.send_many(SENDER, batch(2))
    assert kinds(outcomes) == ["RetryLater", "Delivered"]
    assert "553 5.7.1" in outcomes[0].error  # type: ignore[union-attr]
    assert sorted(arrived(sink)) == ["r1@example.com"]


async def test_a_421_closes_the_connection_and_the_rest_go_out_on_a_new_one(
    sinks: list[SmtpSink], pools: list[SmtpPool]
) -> None:
    sink = await start(sinks)
    sink.rcpt_script = ["250", "250", "421 4.3.2 Shutting down"]
    pool = pool_for(pools, sink, pool_size=1)
    outcomes = await pool.send_many(SENDER, batch(6))
    assert kinds(outcomes) == ["Delivered"] * 2 + ["RetryLater"] + ["Delivered"] * 3
    assert "421" in outcomes[2].error  # type: ignore[union-attr]
    assert sink.connections == 2  # the client did not go on talking to a server that is closing
    assert sorted(arrived(sink)) == [f"r{n}@example.com" for n in (0, 1, 3, 4, 5)]


# --- connections lost: nothing lost, nothing the server took sent again ---------------------------


async def test_a_connection_dropped_mid_batch_after_a_body_is_retry_later_and_the_rest_go_on(
    sinks: list[SmtpSink], pools: list[SmtpPool]
) -> None:
    sink = await start(sinks)
    sink.script = ["250", "250", "drop"]  # the third mail's body is read, then the line is cut
    pool = pool_for(pools, sink, pool_size=1)
    outcomes = await pool.send_many(SENDER, batch(8))
    assert kinds(outcomes) == ["Delivered"] * 2 + ["RetryLater"] + ["Delivered"] * 5
    assert "may have arrived" in outcomes[2].error  # type: ignore[union-attr]
    # The fourth mail's envelope was on the wire when the line was cut; it went again on a
    # fresh connection, and arrived once.
    assert sink.connections == 2
    assert arrived(sink) == Counter({f"r{n}@example.com": 1 for n in (0, 1, 3, 4, 5, 6, 7)})


@BOTH
async def test_a_connection_dropped_after_an_envelope_resends_that_mail_on_a_new_one(
    sinks: list[SmtpSink], pools: list[SmtpPool], pipelining: bool
) -> None:
    sink = await start(sinks, pipelining=pipelining)
    sink.rcpt_script = ["250", "drop"]  # the second mail's RCPT: no body was sent yet
    pool = pool_for(pools, sink, pool_size=1)
    outcomes = await pool.send_many(SENDER, batch(4))
    if pipelining:
        # Only its envelope had gone: it cannot have arrived, so it goes again at once.
        assert kinds(outcomes) == ["Delivered"] * 4
        assert arrived(sink) == Counter({f"r{n}@example.com": 1 for n in range(4)})
    else:
        # aiosmtplib cannot tell how far it got: retry later (its Message-ID dedupes).
        assert kinds(outcomes) == ["Delivered", "RetryLater", "Delivered", "Delivered"]
        assert arrived(sink) == Counter({f"r{n}@example.com": 1 for n in (0, 2, 3)})
    assert sink.connections == 2


@BOTH
async def test_connections_the_server_closed_while_idle_are_replaced_without_losing_a_mail(
    sinks: list[SmtpSink], pools: list[SmtpPool], pipelining: bool
) -> None:
    sink = await start(sinks, pipelining=pipelining)
    pool = pool_for(pools, sink)
    assert kinds(await pool.send_many(SENDER, batch(6))) == ["Delivered"] * 6
    before = sink.connections
    sink.drop_all()
    await asyncio.sleep(0.05)
    assert kinds(await pool.send_many(SENDER, batch(6, 6))) == ["Delivered"] * 6
    assert sink.connections > before
    assert arrived(sink) == Counter({f"r{n}@example.com": 1 for n in range(12)})


async def test_a_server_that_stops_answering_times_out_and_the_mail_is_retried_later(
    sinks: list[SmtpSink], pools: list[SmtpPool]
) -> None:
    sink = await start(sinks)
    sink.script = ["250", "hang"]
    # The timeout covers connecting and every answer: long enough for a loaded machine.
    pool = pool_for(pools, sink, pool_size=1, timeout=2.0)
    outcomes = await asyncio.wait_for(pool.send_many(SENDER, batch(3)), 15)
    assert kinds(outcomes) == ["Delivered", "RetryLater", "Delivered"]
    assert "no answer from the SMTP server in 2 s" in outcomes[1].error  # type: ignore[union-attr]
    assert "may have arrived" in outcomes[1].error  # type: ignore[union-attr]
    assert sorted(arrived(sink)) == ["r0@example.com", "r2@example.com"]


async def test_a_server_that_is_down_makes_every_mail_retry_later_at_once(
    sinks: list[SmtpSink], pools: list[SmtpPool]
) -> None:
    sink = await start(sinks)
    await sink.stop()
    pool = pool_for(pools, sink)
    outcomes = await asyncio.wait_for(pool.send_many(SENDER, batch(20)), 10)
    assert kinds(outcomes) == ["RetryLater"] * 20
    assert all("unreachable" in o.error for o in outcomes if isinstance(o, RetryLater))


async def test_closing_the_pool_gives_every_waiting_mail_an_outcome(
    sinks: list[SmtpSink], pools: list[SmtpPool]
) -> None:
    sink = await start(sinks)
    sink.script = ["hang"]
    pool = pool_for(pools, sink, pool_size=1)
    sending = asyncio.create_task(pool.send_many(SENDER, batch(5)))
    await asyncio.sleep(0.3)
    await pool.close()
    outcomes = await asyncio.wait_for(sending, 5)
    assert kinds(outcomes) == ["RetryLater"] * 5
    sink.release.set()
    await asyncio.sleep(0.05)
    assert sink.messages == []


async def test_an_address_that_could_smuggle_commands_is_never_sent(
    world: World, smtp: SmtpSink
) -> None:
    channel = world.rt.notify.channels["email"]
    evil = "evil@example.com>\r\nRCPT TO:<victim@example.com"
    outcome = await channel.send(message(evil))
    assert isinstance(outcome, Permanent) and "not an address" in outcome.error
    good = await channel.send(message("ok@example.com"))
    assert isinstance(good, Delivered)
    assert [e.rcpt_tos for e in smtp.envelopes] == [["ok@example.com"]]


# --- through the outbox: what an operator sees -----------------------------------------------------


async def test_one_notification_with_a_refused_and_a_busy_mailbox_among_others(
    world: World, smtp: SmtpSink, clock: ManualClock
) -> None:
    users = [
        await world.rt.users.create(f"u{n}@example.com", "correct horse battery") for n in range(8)
    ]
    smtp.rcpt_script = ["250", "550 5.1.1 No such user", "452 4.2.2 Mailbox full"]
    await notify(world, "mixed", [u.id for u in users], channels=["email"])
    found = await until(
        world, "mixed", lambda ds: all(d.status != "delivering" and d.attempts for d in ds)
    )
    refused = next(a for a, answer in smtp.rcpt_refused.items() if answer.startswith("550"))
    busy = next(a for a, answer in smtp.rcpt_refused.items() if answer.startswith("452"))
    by_address = {d.recipient: d for d in found}
    assert by_address[refused].status == "dead"
    assert "550 5.1.1" in (by_address[refused].last_error or "")
    assert by_address[busy].status == "pending" and by_address[busy].attempts == 1
    assert "452 4.2.2" in (by_address[busy].last_error or "")
    assert Counter(d.status for d in found) == {"delivered": 6, "dead": 1, "pending": 1}
    assert arrived(smtp) == Counter({u.email: 1 for u in users if u.email not in (refused, busy)})

    # The busy mailbox gets its mail on the next attempt; nobody gets a second copy.
    await later(world, clock, 11)
    await until(world, "mixed", lambda ds: by(ds, busy).status == "delivered")
    assert arrived(smtp) == Counter({u.email: 1 for u in users if u.email != refused})


async def test_a_server_without_pipelining_still_gets_every_notification(
    world: World, smtp: SmtpSink
) -> None:
    smtp.pipelining = False
    users = [
        await world.rt.users.create(f"p{n}@example.com", "correct horse battery") for n in range(5)
    ]
    await notify(world, "plain", [u.id for u in users], channels=["email"])
    await settled(world, "plain", "delivered")
    assert arrived(smtp) == Counter({u.email: 1 for u in users})
    channel = world.rt.notify.channels["email"]
    assert isinstance(channel, EmailChannel)
    assert channel.pool.opened >= 1 and channel.pool.pipelined == 0


# --- helpers ------------------------------------------------------------------------------------


def by(deliveries: list[DeliveryInfo], recipient: str) -> DeliveryInfo:
    return next(d for d in deliveries if d.recipient == recipient)


async def until(
    world: World, key: str, done: Callable[[list[DeliveryInfo]], bool], timeout: float = 10
) -> list[DeliveryInfo]:
    """The deliveries of `key`, once `done` says so."""
    async with asyncio.timeout(timeout):
        while True:
            found = await world.rt.notify.outbox.deliveries(key=key)
            if found and done(found):
                return found
            await asyncio.sleep(0.02)


def message(address: str) -> Message:
    return Message(
        delivery_id=1,
        key="direct",
        topic="maintenance.vehicle_data",
        channel="email",
        recipient=Recipient(user_id=None, address=address),
        subject="Hello",
        text="Hello there.",
        html=None,
        data={},
        created_at=dt.datetime.now(dt.UTC),
        attempt=1,
    )


def server_tls(tmp_path: Path) -> ssl.SSLContext:
    """A server TLS context with a fresh self-signed certificate for 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sink.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context
