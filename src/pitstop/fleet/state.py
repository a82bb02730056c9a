"""Each car's latest state, in memory for reads, persisted with its history.

Telemetry arrives numbered by the car. It is merged into memory at once (so reads see it), and
written to the database in batches; the car is told a record is stored (acked) only after the
batch commits, so a crash of the server loses nothing: the car resends what was not acked.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from pitstop.clock import Clock
from pitstop.db.engine import upsert
from pitstop.db.tables import telemetry, vehicle_states

log = logging.getLogger(__name__)

Ack = Callable[[int], Awaitable[None]]

#: The state a car reports of itself; "offline" is ours, for a car with no link.
ONLINE, ASLEEP, OFFLINE = "online", "asleep", "offline"


@dataclass
class LiveState:
    """What the server knows of one car."""

    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: When each section last changed, epoch milliseconds (Tesla's per-section `timestamp`).
    section_ts: dict[str, int] = field(default_factory=dict)
    reported: str = ASLEEP  # what the car last said of itself
    connected: bool = False
    last_seq: int = 0
    updated_at: datetime | None = None
    #: Bumped on every change; lets readers cache what they built from this state.
    version: int = 0

    @property
    def state(self) -> str:
        return self.reported if self.connected else OFFLINE

    def merge(self, ts: int, signals: dict[str, Any]) -> None:
        for key, value in signals.items():
            if key == "state":
                self.reported = str(value)
                continue
            section, _, name = key.partition(".")
            if not name:
                continue
            self.sections.setdefault(section, {})[name] = value
            self.section_ts[section] = max(self.section_ts.get(section, 0), ts)
        self.version += 1

    def to_json(self) -> dict[str, Any]:
        return {"sections": self.sections, "section_ts": self.section_ts, "reported": self.reported}


@dataclass
class _Pending:
    vehicle_id: int
    seq: int
    recorded_at: datetime
    signals: dict[str, Any]
    ack: Ack | None


class VehicleStates:
    def __init__(self, engine: AsyncEngine, clock: Clock, *, flush_interval: float = 0.2) -> None:
        self.engine = engine
        self.clock = clock
        self.flush_interval = flush_interval
        self._live: dict[int, LiveState] = {}
        self._pending: list[_Pending] = []
        self._flushed = asyncio.Event()
        self._lock = asyncio.Lock()

    async def load(self) -> None:
        """Read every car's last persisted state (a restart keeps last-known data)."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sa.select(vehicle_states))).all()
        for row in rows:
            data = row.state
            self._live[row.vehicle_id] = LiveState(
                sections=data.get("sections", {}),
                section_ts={k: int(v) for k, v in data.get("section_ts", {}).items()},
                reported=data.get("reported", ASLEEP),
                last_seq=row.last_seq,
                updated_at=row.updated_at,
            )

    def get(self, vehicle_id: int) -> LiveState:
        live = self._live.get(vehicle_id)
        if live is None:
            live = self._live[vehicle_id] = LiveState()
        return live

    def set_connected(self, vehicle_id: int, connected: bool) -> None:
        live = self.get(vehicle_id)
        live.connected = connected
        live.version += 1

    def apply(
        self, vehicle_id: int, seq: int, ts_ms: int, signals: dict[str, Any], ack: Ack | None
    ) -> None:
        """Take one telemetry record: into memory now, into the database with the next batch."""
        live = self.get(vehicle_id)
        # A resent record the server has already merged changes nothing in memory, but it is
        # still written (idempotently) and acked: the car needs the ack to forget it.
        if seq > live.last_seq:
            live.merge(ts_ms, signals)
            live.last_seq = seq
            live.updated_at = self.clock.now()
        recorded_at = datetime.fromtimestamp(ts_ms / 1000, UTC)
        self._pending.append(_Pending(vehicle_id, seq, recorded_at, signals, ack))

    async def flush(self) -> int:
        """Write the pending batch; returns how many records were stored."""
        async with self._lock:
            batch, self._pending = self._pending, []
            if not batch:
                return 0
            try:
                await self._write(batch)
            except Exception:
                # Keep them for the next try; the cars keep them too until acked.
                self._pending = batch + self._pending
                raise
        acks: dict[tuple[int, int], tuple[Ack, int]] = {}
        for item in batch:
            if item.ack is not None:
                # One ack per car per batch: the highest seq (acks are cumulative).
                key = (item.vehicle_id, id(item.ack))
                if key not in acks or acks[key][1] < item.seq:
                    acks[key] = (item.ack, item.seq)
        for ack, seq in acks.values():
            try:
                await ack(seq)
            except Exception:  # the car went away; it will resend and be acked next time
                log.debug("ack for seq %s not delivered", seq)
        return len(batch)

    async def _write(self, batch: list[_Pending]) -> None:
        now = self.clock.now()
        touched = {item.vehicle_id for item in batch}
        async with self.engine.begin() as conn:
            await conn.execute(
                upsert(conn, telemetry, index_elements=["vehicle_id", "seq"]),
                [
                    {
                        "vehicle_id": i.vehicle_id,
                        "seq": i.seq,
                        "recorded_at": i.recorded_at,
                        "signals": i.signals,
                    }
                    for i in batch
                ],
            )
            await conn.execute(
                upsert(
                    conn,
                    vehicle_states,
                    index_elements=["vehicle_id"],
                    update=["state", "last_seq", "updated_at"],
                ),
                [
                    {
                        "vehicle_id": vid,
                        "state": self._live[vid].to_json(),
                        "last_seq": self._live[vid].last_seq,
                        "updated_at": now,
                    }
                    for vid in sorted(touched)
                ],
            )

    async def run_writer(self) -> None:
        """Flush every `flush_interval` seconds until cancelled; a failing database is retried."""
        while True:
            await asyncio.sleep(self.flush_interval)
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("telemetry flush failed; will retry")
                await asyncio.sleep(1.0)

    async def history(
        self, vehicle_id: int, *, after_seq: int = 0, limit: int = 1000
    ) -> list[tuple[int, datetime, dict[str, Any]]]:
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(telemetry.c.seq, telemetry.c.recorded_at, telemetry.c.signals)
                    .where(telemetry.c.vehicle_id == vehicle_id, telemetry.c.seq > after_seq)
                    .order_by(telemetry.c.seq)
                    .limit(limit)
                )
            ).all()
        return [(r.seq, r.recorded_at, r.signals) for r in rows]
