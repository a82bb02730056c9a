"""The durable outbox: notifications, their deliveries, and the claims workers take on them.

A notification is stored once per idempotency key (a second enqueue of the same key changes
nothing) with one delivery per (channel, recipient). A worker *claims* due deliveries with
one conditional UPDATE: on PostgreSQL the candidates are picked `FOR UPDATE SKIP LOCKED`, on
SQLite the statement holds the write lock from its start; either way no two workers hold the
same row. A claim is a lease: a worker that dies mid-delivery leaves the row `delivering`, and
once `lease_until` has passed any worker takes it again (at-least-once; the key travels with
the message so receivers drop duplicates). Every write after the claim names the claim's
token, so a worker that lost its lease cannot overwrite what the new holder records.

    pending ──claim──▶ delivering ──▶ delivered
       ▲                  │  │
       └──retry (backoff)─┘  └──permanent / attempts exhausted──▶ dead ──replay──▶ pending
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from pitstop.clock import Clock
from pitstop.db import is_postgres, upsert
from pitstop.db.tables import notification_deliveries as d
from pitstop.db.tables import notifications as n
from pitstop.notify.backoff import Backoff

PENDING, DELIVERING, DELIVERED, DEAD = "pending", "delivering", "delivered", "dead"
STATUSES = (PENDING, DELIVERING, DELIVERED, DEAD)
_CHUNK = 50_000
_TEXTS = postgresql.ARRAY(sa.String)
_INTS = postgresql.ARRAY(sa.Integer)
#: Deliveries enqueued at once from which the table's statistics are refreshed (PostgreSQL).
_ANALYZE_AFTER = 5000


class NewDelivery(NamedTuple):
    """A delivery to store (a tuple: a fan-out makes 200,000 of them)."""

    channel: str
    user_id: int | None
    recipient: str


@dataclass(frozen=True)
class Claim:
    """A delivery a worker holds until `lease_until`."""

    id: int
    notification_id: int
    channel: str
    user_id: int | None
    recipient: str
    attempts: int  # including this one
    token: str


class DeliveryInfo(msgspec.Struct, kw_only=True):
    """A delivery as operators see it."""

    id: int
    key: str
    topic: str
    channel: str
    user_id: int | None
    recipient: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None


class Outbox:
    def __init__(
        self,
        engine: AsyncEngine,
        clock: Clock,
        *,
        backoff: Backoff | None = None,
        lease: float = 120.0,
    ) -> None:
        """`lease`: seconds a claim lasts; longer than any channel's own timeout."""
        self.engine = engine
        self.clock = clock
        self.backoff = backoff or Backoff()
        self.lease = lease
        #: Seconds between looks for leases that ran out, while there is plenty pending.
        self.lapsed_every = min(5.0, lease / 4)
        self._lapsed_looked: datetime | None = None

    # --- writing -----------------------------------------------------------------------------

    async def enqueue(
        self,
        conn: AsyncConnection,
        *,
        key: str,
        topic: str,
        deliveries: Sequence[NewDelivery],
        subject: str = "",
        text: str = "",
        html: str | None = None,
        template: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> int | None:
        """Store a notification and its deliveries in `conn`'s transaction; None if `key`
        was enqueued before (nothing is changed then)."""
        now = self.clock.now()
        stmt = upsert(conn, n, index_elements=["key"]).values(
            key=key,
            topic=topic,
            subject=subject,
            text=text,
            html=html,
            template=template,
            data=data or {},
            created_at=now,
        )
        notification_id: int | None = await conn.scalar(stmt.returning(n.c.id))
        if notification_id is None:
            return None
        # The same (channel, recipient) once, in the order given (workers claim in it).
        unique = list({(x.channel, x.recipient): x for x in deliveries}.values())
        for start in range(0, len(unique), _CHUNK):
            await self._insert(conn, notification_id, now, unique[start : start + _CHUNK])
        if len(unique) >= _ANALYZE_AFTER and is_postgres(conn):
            # Fresh statistics for the claims: planned on the numbers of an emptier table,
            # PostgreSQL read and sorted every waiting row for each batch of 200 (30-60 ms a
            # claim at 200,000 rows) instead of reading the due index in order. ANALYZE in
            # this transaction counts its own rows; autovacuum may take a minute or more.
            await conn.execute(sa.text(f"ANALYZE {d.name}"))
        return notification_id

    async def _insert(
        self,
        conn: AsyncConnection,
        notification_id: int,
        now: datetime,
        deliveries: Sequence[NewDelivery],
    ) -> None:
        """Pending deliveries, in the given order, by one INSERT ... SELECT from three arrays
        (PostgreSQL) or a JSON array (SQLite): 200,000 rows as bound parameters sets cost
        seconds of Python, three of them timestamps going through their type each."""
        when = sa.bindparam("now", now, type_=d.c.next_attempt_at.type)
        columns = "notification_id, channel, user_id, recipient, status, attempts, "
        columns += "next_attempt_at, created_at, updated_at"
        values = f":nid, {{}}, '{PENDING}', 0, :now, :now, :now"
        if is_postgres(conn):
            stmt = sa.text(
                f"INSERT INTO {d.name} ({columns}) SELECT "
                + values.format("x.channel, x.user_id, x.recipient")
                + " FROM unnest(CAST(:channels AS VARCHAR[]), CAST(:user_ids AS INTEGER[]),"
                " CAST(:recipients AS VARCHAR[])) WITH ORDINALITY AS x(channel, user_id,"
                " recipient, n) ORDER BY x.n"
            ).bindparams(
                when,
                sa.bindparam("nid", notification_id),
                sa.bindparam("channels", [x.channel for x in deliveries], type_=_TEXTS),
                sa.bindparam("user_ids", [x.user_id for x in deliveries], type_=_INTS),
                sa.bindparam("recipients", [x.recipient for x in deliveries], type_=_TEXTS),
            )
        else:
            stmt = sa.text(
                f"INSERT INTO {d.name} ({columns}) SELECT "
                + values.format(
                    "json_extract(value, '$[0]'), json_extract(value, '$[1]'), "
                    "json_extract(value, '$[2]')"
                )
                + " FROM json_each(:rows) ORDER BY key"
            ).bindparams(
                when,
                sa.bindparam("nid", notification_id),
                sa.bindparam("rows", msgspec.json.encode(deliveries).decode()),
            )
        await conn.execute(stmt)

    async def claim(
        self, worker: str, limit: int, *, channels: Iterable[str] | None = None
    ) -> list[Claim]:
        """Take up to `limit` due deliveries (of `channels`, if given) for `worker`: leases
        that ran out first, then pending ones by their time.

        Two statements rather than one with an OR: each reads the due index in its order and
        stops at `limit`, where the OR made the database sort every due row on every claim
        (about 80 ms a claim on SQLite with 200,000 rows waiting, for a batch of 100).

        Leases that ran out are looked for at most every `lapsed_every` seconds while full
        batches of pending rows keep coming (a lease is only taken back long after it ran
        out anyway); every claim that finds less than `limit` pending looks for them too."""
        now = self.clock.now()
        token = f"{worker}:{secrets.token_hex(6)}"
        wanted = list(channels) if channels is not None else None
        lapsed = sa.and_(d.c.status == DELIVERING, d.c.lease_until <= now)
        waiting = sa.and_(d.c.status == PENDING, d.c.next_attempt_at <= now)
        looked = self._lapsed_looked
        order = (
            [lapsed, waiting]
            if looked is None or (now - looked).total_seconds() >= self.lapsed_every
            else [waiting, lapsed]
        )
        rows: list[Any] = []
        async with self.engine.begin() as conn:
            for due in order:
                if len(rows) >= limit:
                    break
                if due is lapsed:
                    self._lapsed_looked = now
                candidates = (
                    sa.select(d.c.id)
                    .where(due)
                    .order_by(d.c.next_attempt_at)
                    .limit(limit - len(rows))
                )
                if wanted is not None:
                    candidates = candidates.where(d.c.channel.in_(wanted))
                chosen: sa.ColumnElement[bool]
                if is_postgres(conn):
                    # Locked as they are picked (skipping rows another worker holds); a row
                    # changed since the statement began is checked again by the lock itself
                    # (READ COMMITTED rechecks the WHERE on its newest version). Joined by id
                    # from a CTE: with the candidates as `id IN (...) AND due`, stale
                    # statistics (a fan-out just written) made PostgreSQL hash-join every
                    # due row, 60-200 ms a claim at 200,000 rows.
                    picked = candidates.with_for_update(skip_locked=True).cte("picked")
                    chosen = d.c.id == picked.c.id
                else:
                    # The statement holds the write lock from its start, so the candidates are
                    # still due; checking it again made SQLite walk the due index (every
                    # waiting row) instead of fetching the candidates by id.
                    chosen = d.c.id.in_(candidates.scalar_subquery())
                stmt = (
                    d.update()
                    .where(chosen)
                    .values(
                        status=DELIVERING,
                        attempts=d.c.attempts + 1,
                        lease_token=token,
                        lease_until=now + timedelta(seconds=self.lease),
                        updated_at=now,
                    )
                    .returning(
                        d.c.id,
                        d.c.notification_id,
                        d.c.channel,
                        d.c.user_id,
                        d.c.recipient,
                        d.c.attempts,
                    )
                )
                rows.extend((await conn.execute(stmt)).all())
        claims = [
            Claim(r.id, r.notification_id, r.channel, r.user_id, r.recipient, r.attempts, token)
            for r in rows
        ]
        return sorted(claims, key=lambda c: c.id)

    async def delivered(self, claims: Sequence[Claim]) -> int:
        """Record successful deliveries; returns how many were still ours to record."""
        done = 0
        now = self.clock.now()
        by_token: dict[str, list[int]] = {}
        for c in claims:
            by_token.setdefault(c.token, []).append(c.id)
        async with self.engine.begin() as conn:
            for token, ids in by_token.items():
                result = await conn.execute(
                    d.update()
                    .where(d.c.id.in_(ids), d.c.lease_token == token, d.c.status == DELIVERING)
                    .values(
                        status=DELIVERED,
                        delivered_at=now,
                        updated_at=now,
                        lease_token=None,
                        lease_until=None,
                        last_error=None,
                    )
                )
                done += result.rowcount
        return done

    async def failed(
        self, claim: Claim, error: str, *, permanent: bool, retry_after: float | None = None
    ) -> str:
        """Record a failed attempt: back to pending after a backoff, or dead. Returns the
        new status ("" if the claim was no longer ours)."""
        now = self.clock.now()
        dead = permanent or self.backoff.exhausted(claim.attempts)
        values: dict[str, Any] = {
            "status": DEAD if dead else PENDING,
            "last_error": error[:2000],
            "updated_at": now,
            "lease_token": None,
            "lease_until": None,
        }
        if not dead:
            wait = self.backoff.delay(claim.attempts, retry_after)
            values["next_attempt_at"] = now + timedelta(seconds=wait)
        async with self.engine.begin() as conn:
            result = await conn.execute(
                d.update()
                .where(d.c.id == claim.id, d.c.lease_token == claim.token)
                .values(**values)
            )
        return str(values["status"]) if result.rowcount else ""

    async def replay(
        self, *, ids: Iterable[int] | None = None, channel: str | None = None
    ) -> list[int]:
        """Put dead deliveries back in line with a fresh set of attempts; returns their ids."""
        now = self.clock.now()
        stmt = d.update().where(d.c.status == DEAD)
        if ids is not None:
            stmt = stmt.where(d.c.id.in_(list(ids)))
        if channel is not None:
            stmt = stmt.where(d.c.channel == channel)
        stmt = stmt.values(status=PENDING, attempts=0, next_attempt_at=now, updated_at=now)
        async with self.engine.begin() as conn:
            rows = (await conn.execute(stmt.returning(d.c.id))).all()
        return sorted(r.id for r in rows)

    # --- reading -----------------------------------------------------------------------------

    async def notifications(self, ids: Iterable[int]) -> dict[int, Any]:
        """The notification rows behind a batch of claims."""
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sa.select(n).where(n.c.id.in_(wanted)))).all()
        return {r.id: r for r in rows}

    async def deliveries(
        self,
        *,
        status: str | None = None,
        channel: str | None = None,
        key: str | None = None,
        before_id: int | None = None,
        limit: int = 50,
    ) -> list[DeliveryInfo]:
        """Deliveries, newest first, filtered; `before_id` pages on."""
        query = (
            sa.select(d, n.c.key, n.c.topic)
            .join(n, n.c.id == d.c.notification_id)
            .order_by(d.c.id.desc())
            .limit(limit)
        )
        if status is not None:
            query = query.where(d.c.status == status)
        if channel is not None:
            query = query.where(d.c.channel == channel)
        if key is not None:
            query = query.where(n.c.key == key)
        if before_id is not None:
            query = query.where(d.c.id < before_id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        fields = [f for f in DeliveryInfo.__struct_fields__]
        return [DeliveryInfo(**{f: getattr(r, f) for f in fields}) for r in rows]

    async def counts(self) -> dict[str, dict[str, int]]:
        """channel -> status -> number of deliveries."""
        query = sa.select(d.c.channel, d.c.status, sa.func.count()).group_by(
            d.c.channel, d.c.status
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        out: dict[str, dict[str, int]] = {}
        for channel, status, count in rows:
            out.setdefault(channel, dict.fromkeys(STATUSES, 0))[status] = int(count)
        return out
