"""The outbox under stress: duplicate keys, a worker dying mid-delivery, workers racing."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from pitstop.app import build_runtime
from pitstop.clock import ManualClock
from pitstop.db import create_engine, is_postgres, migrate
from pitstop.db.tables import notification_deliveries
from pitstop.notify.outbox import NewDelivery, Outbox
from pitstop.notify.outcomes import Delivered, Message, Outcome
from pitstop.notify.preferences import Preferences, PreferencesUpdate
from pitstop.notify.render import Renderer
from pitstop.notify.worker import DeliveryWorker
from pitstop.runtime import Runtime
from pitstop.settings import Settings
from tests.notify.support import SmtpSink, WebhookReceiver, notify, receiver, settled, verify
from tests.world import Account, World


async def test_enqueueing_the_same_key_twice_sends_one_message(
    world: World, ada: Account, smtp: SmtpSink
) -> None:
    notifier = world.rt.notify.notifier
    first, second = await asyncio.gather(
        *(
            notifier.notify(
                key="window:3:reminder:24h",
                topic="maintenance.charging",
                user_ids=[ada.user.id],
                subject="Tomorrow: charging maintenance",
                text="Charging commands pause tomorrow at 02:00 UTC.",
            )
            for _ in range(2)
        )
    )
    assert sorted([first.duplicate, second.duplicate]) == [False, True]
    third = await notifier.notify(
        key="window:3:reminder:24h",
        topic="maintenance.charging",
        user_ids=[ada.user.id],
        subject="changed",
        text="changed",
    )
    assert third.duplicate and third.deliveries == 0
    await settled(world, "window:3:reminder:24h", "delivered")
    assert len(smtp.messages) == 1
    assert smtp.messages[0]["Subject"] == "Tomorrow: charging maintenance"
    async with world.client(ada.token) as http:
        items = (await http.get("/api/1/notifications")).json()["response"]["items"]
    assert [i["key"] for i in items] == ["window:3:reminder:24h"]


async def test_keys_and_topics_are_checked(world: World, ada: Account) -> None:
    with pytest.raises(ValueError, match="idempotency key"):
        await notify(world, "has spaces", [ada.user.id])
    with pytest.raises(ValueError, match="topic"):
        await notify(world, "k1", [ada.user.id], topic="maintenance.everything")
    with pytest.raises(ValueError, match="template"):
        await world.rt.notify.notifier.notify(
            key="k2", topic="maintenance.web", user_ids=[ada.user.id], template="nope"
        )


@pytest.fixture
async def rt(settings: Settings, clock: ManualClock) -> AsyncIterator[Runtime]:
    runtime = build_runtime(settings, clock)
    await migrate(runtime.engine)
    yield runtime
    await runtime.notify.stop()
    await runtime.engine.dispose()


class DiesAfterSending:
    """Sends for real, then hangs: its worker is killed before it can record anything."""

    name = "webhook"

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.sent = asyncio.Event()

    async def recipients(self, conn: object, user_ids: list[int]) -> list[tuple[int, str]]:
        raise NotImplementedError

    async def send(self, message: Message) -> Outcome:
        outcome: Outcome = await self.inner.send(message)  # type: ignore[attr-defined]
        self.sent.set()
        await asyncio.Event().wait()
        return outcome

    async def close(self) -> None:
        return None


async def test_a_worker_dying_mid_delivery_leaves_it_to_another_after_the_lease(
    rt: Runtime, clock: ManualClock
) -> None:
    user = await rt.users.create("ada@example.com", "correct horse battery")
    await rt.notify.preferences.update(
        user.id, PreferencesUpdate(channels={"maintenance.web": ["webhook"]})
    )
    hook: WebhookReceiver
    async with receiver() as hook:
        _, secret = await rt.notify.endpoints.create(user.id, hook.url)
        made = await rt.notify.notifier.notify(
            key="crash-test", topic="maintenance.web", user_ids=[user.id], subject="S", text="T"
        )
        assert made.deliveries == 1
        real = rt.notify.channels["webhook"]
        dying = DeliveryWorker(
            rt.notify.outbox,
            {"webhook": DiesAfterSending(real)},  # type: ignore[dict-item]
            rt.notify.preferences,
            rt.notify.renderer,
            clock,
            name="doomed",
        )
        task = asyncio.create_task(dying.run_once())
        await asyncio.wait_for(dying_channel(dying).sent.wait(), 10)
        task.cancel()  # the process dies: nothing recorded after the send
        with pytest.raises(asyncio.CancelledError):
            await task
        assert len(hook.requests) == 1

        survivor = rt.notify.worker
        assert await survivor.run_once() == 0  # the lease still holds
        clock.set(clock.now() + timedelta(seconds=rt.notify.outbox.lease + 1))
        assert await survivor.run_once() == 1
        (delivery,) = await rt.notify.outbox.deliveries(key="crash-test")
        assert delivery.status == "delivered" and delivery.attempts == 2
        # At least once: the receiver got it twice, with one webhook-id to drop the copy by.
        assert [r.webhook_id for r in hook.requests] == ["crash-test", "crash-test"]
        for r in hook.requests:
            verify(secret, r)


def dying_channel(worker: DeliveryWorker) -> DiesAfterSending:
    channel = worker.channels["webhook"]
    assert isinstance(channel, DiesAfterSending)
    return channel


class Recorder:
    """Counts sends per delivery and notices two sends of one delivery at the same time."""

    name = "feed"

    def __init__(self, delay: float = 0.001) -> None:
        self.delay = delay
        self.sends: Counter[int] = Counter()
        self.in_flight: set[int] = set()
        self.overlaps = 0
        self.most_at_once = 0

    async def recipients(self, conn: object, user_ids: list[int]) -> list[tuple[int, str]]:
        return [(uid, str(uid)) for uid in user_ids]

    async def send(self, message: Message) -> Outcome:
        if message.delivery_id in self.in_flight:
            self.overlaps += 1
        self.in_flight.add(message.delivery_id)
        self.most_at_once = max(self.most_at_once, len(self.in_flight))
        self.sends[message.delivery_id] += 1
        await asyncio.sleep(self.delay)
        self.in_flight.discard(message.delivery_id)
        return Delivered()

    async def close(self) -> None:
        return None


async def test_four_workers_each_on_its_own_engine_never_deliver_one_row_twice(
    settings: Settings, clock: ManualClock
) -> None:
    url = settings.resolved_database_url()
    setup = create_engine(url)
    await migrate(setup)
    async with setup.begin() as conn:
        for n in range(12):
            await Outbox(setup, clock).enqueue(
                conn,
                key=f"race-{n}",
                topic="maintenance.web",
                subject="S",
                text="T",
                deliveries=[NewDelivery("feed", None, f"r{i}") for i in range(25)],
            )
    # One engine per worker, as separate server processes would have.
    engines = [create_engine(url) for _ in range(4)]
    recorder = Recorder()
    workers = [
        DeliveryWorker(
            Outbox(engine, clock),
            {"feed": recorder},
            Preferences(engine, clock),
            Renderer(),
            clock,
            name=f"w{i}",
            batch=20,
        )
        for i, engine in enumerate(engines)
    ]

    async def drain(worker: DeliveryWorker) -> None:
        while await worker.run_once():
            pass

    try:
        await asyncio.wait_for(asyncio.gather(*(drain(w) for w in workers)), 60)
        async with setup.connect() as conn:
            statuses = dict(
                (
                    await conn.execute(
                        sa.select(notification_deliveries.c.status, sa.func.count()).group_by(
                            notification_deliveries.c.status
                        )
                    )
                ).all()
            )
    finally:
        for engine in [setup, *engines]:
            await engine.dispose()
    assert statuses == {"delivered": 300}
    assert len(recorder.sends) == 300 and set(recorder.sends.values()) == {1}
    assert recorder.overlaps == 0


async def test_the_background_worker_keeps_batches_in_flight_and_delivers_each_row_once(
    settings: Settings, clock: ManualClock
) -> None:
    engine = create_engine(settings.resolved_database_url())
    await migrate(engine)
    outbox = Outbox(engine, clock)
    async with engine.begin() as conn:
        await outbox.enqueue(
            conn,
            key="flood",
            topic="maintenance.web",
            subject="S",
            text="T",
            deliveries=[NewDelivery("feed", None, f"r{i}") for i in range(300)],
        )
    recorder = Recorder(delay=0.2)  # a slow channel: the next batch is claimed meanwhile
    worker = DeliveryWorker(
        outbox, {"feed": recorder}, Preferences(engine, clock), Renderer(), clock, batch=20
    )
    task = asyncio.create_task(worker.run())
    try:
        async with asyncio.timeout(60):
            while sum(recorder.sends.values()) < 300:
                await asyncio.sleep(0.01)
            while (await outbox.counts()).get("feed", {}).get("delivered") != 300:
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await engine.dispose()
    assert len(recorder.sends) == 300 and set(recorder.sends.values()) == {1}
    assert recorder.overlaps == 0
    assert recorder.most_at_once > 20  # the next batch was out while one was still sending


async def test_a_large_fan_out_is_claimed_straight_off_the_due_index(
    settings: Settings, clock: ManualClock
) -> None:
    """6,000 deliveries enqueued into a table whose statistics say it is empty: the claim's
    candidates come off the due index in order, not from a sort of every waiting row, and on
    PostgreSQL the planner knows of the rows at once (with the statistics of the empty table
    it sorted all 200,000 waiting rows for each claim in the 100,000-subscriber benchmark,
    until autovacuum came by, which can take minutes)."""
    engine = create_engine(settings.resolved_database_url())
    await migrate(engine)
    outbox = Outbox(engine, clock)
    try:
        async with engine.begin() as conn:
            if is_postgres(conn):
                await conn.execute(sa.text("ANALYZE notification_deliveries"))
            await outbox.enqueue(
                conn,
                key="fan-out",
                topic="maintenance.web",
                subject="S",
                text="T",
                deliveries=[NewDelivery("feed", None, f"r{i}") for i in range(6000)],
            )
        d = notification_deliveries
        candidates = (
            sa.select(d.c.id)
            .where(d.c.status == "pending", d.c.next_attempt_at <= clock.now())
            .order_by(d.c.next_attempt_at)
            .limit(200)
        )
        async with engine.connect() as conn:
            sql = str(candidates.compile(conn, compile_kwargs={"literal_binds": True}))
            explain = "EXPLAIN " if is_postgres(conn) else "EXPLAIN QUERY PLAN "
            plan = "\n".join(str(r[-1]) for r in (await conn.exec_driver_sql(explain + sql)).all())
            if is_postgres(conn):
                known = await conn.scalar(
                    sa.text(
                        "SELECT reltuples FROM pg_class WHERE relname = 'notification_deliveries'"
                    )
                )
                assert known is not None and known >= 6000
        assert "ix_notification_deliveries_due" in plan, plan
        assert "Sort" not in plan and "TEMP B-TREE" not in plan, plan
        claims = await outbox.claim("w", 200)
        assert [c.recipient for c in claims] == [f"r{i}" for i in range(200)]
    finally:
        await engine.dispose()
