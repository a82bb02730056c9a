"""The alert mechanism: looks at the live state of this process's cars on the clock, asks the
rules (alerts/rules.py) what to say, and hands it to the notification center.

Why a periodic scan rather than a hook in VehicleStates.apply: half the rules are about time
passing with nothing reported (unlocked for 10 minutes, a scheduled start that comes while the
car is unplugged and asleep), so a tick through the injectable clock is needed anyway; a scan
keeps the telemetry hot path (apply, thousands of records a second) free of alert work; and
sampling every `interval` seconds is itself a debounce: a signal that flips and flips back
between two looks is not worth anyone's attention. What it costs: a condition shorter than the
interval is not seen, and alerts come up to `interval` seconds late.

Only cars whose link this process holds are looked at: only there is their live state fresh.
A car that moves to another process (or a restarted one) is seen afresh there: its memory
starts from what was sent for it (read back from the outbox by key), so the intervals and
"already told" hold across processes and restarts.

Every alert goes out under the key `alert:<vehicle id>:<kind>:<slot>`, slot being the alert's
time divided by the rules' `min_interval`: two processes (a car changing process, a restart
mid-scan) that decide the same alert in the same interval enqueue it once. A car's memory moves
on only once its alerts are enqueued, so an outbox that fails is retried at the next scan.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from pitstop.alerts.rules import KINDS, Alert, Memory, Rules, observe, resume, step
from pitstop.clock import Clock
from pitstop.db.tables import notifications
from pitstop.fleet.registry import Vehicle
from pitstop.fleet.state import VehicleStates
from pitstop.link.hub import LinkHub
from pitstop.notify.notifier import Notifier
from pitstop.notify.topics import alert_topic
from pitstop.settings import Settings

log = logging.getLogger(__name__)

#: How far back the outbox is read for a car seen afresh.
HISTORY = timedelta(days=7)
#: Cars looked at between two yields to the event loop.
YIELD_EVERY = 256
#: Up to this many cars seen afresh are looked up in the outbox by key prefix; more (a restart)
#: read every recent alert at once.
FEW = 20


def rules_from(settings: Settings) -> Rules:
    return Rules(
        unlocked_after=settings.alert_unlocked_after,
        battery_low=settings.alert_battery_low,
        battery_rearm=settings.alert_battery_rearm,
        not_charging_after=settings.alert_not_charging_after,
        service_km=settings.alert_service_km,
        service_days=settings.alert_service_days,
        tyre_bar=settings.alert_tyre_bar,
        min_interval=settings.alert_min_interval,
    )


def alert_key(vehicle_id: int, alert: Alert, rules: Rules) -> str:
    slot = int(alert.t // max(1.0, rules.min_interval))
    return f"alert:{vehicle_id}:{alert.kind}:{slot}"


def template(kind: str) -> str:
    return f"alert_{kind}"


class AlertWatcher:
    def __init__(
        self,
        *,
        states: VehicleStates,
        hub: LinkHub,
        notifier: Notifier,
        engine: AsyncEngine,
        clock: Clock,
        rules: Rules,
        interval: float = 10.0,
        base_url: Callable[[], str] | None = None,
    ) -> None:
        self.states = states
        self.hub = hub
        self.notifier = notifier
        self.engine = engine
        self.clock = clock
        self.rules = rules
        self.interval = interval
        #: Where the owner app is, for the links in alerts (the booking screen for service due).
        self.base_url = base_url or (lambda: "")
        self._memory: dict[int, Memory] = {}

    async def run(self) -> None:
        while True:
            try:
                await self.scan()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database may be away: try again next pass
                log.warning("vehicle alerts postponed: %s", exc)
            await self.clock.sleep(self.interval)

    async def scan(self) -> int:
        """Look at every car linked here once; returns how many alerts were enqueued."""
        links = dict(self.hub.links)
        for vehicle_id in list(self._memory):
            if vehicle_id not in links:  # gone, or to another process: seen afresh if back
                del self._memory[vehicle_id]
        t = self.clock.timestamp()
        fresh = [v for v in links if v not in self._memory and self.states.get(v).sections]
        told = await self._sent_before(fresh) if fresh else {}
        enqueued = 0
        for i, (vehicle_id, link) in enumerate(links.items(), start=1):
            if i % YIELD_EVERY == 0:  # ~20 µs a car: let requests in between
                await asyncio.sleep(0)
            live = self.states.get(vehicle_id)
            if not live.sections:
                continue
            obs = observe(t, live.sections)
            memory = self._memory.get(vehicle_id)
            if memory is None:
                memory = resume(Memory(), told.get(vehicle_id, {}), obs, self.rules)
            memory, alerts = step(self.rules, memory, obs)
            for alert in alerts:
                if await self._send(link.vehicle, live.sections, alert):
                    enqueued += 1
            self._memory[vehicle_id] = memory
        return enqueued

    async def _sent_before(self, vehicle_ids: list[int]) -> dict[int, dict[str, float]]:
        """vehicle id -> kind -> when an alert of that kind was last enqueued for that car,
        by any process (one query: by key prefix for a few cars, every alert for many)."""
        key, created_at = notifications.c.key, notifications.c.created_at
        if len(vehicle_ids) <= FEW:
            which = sa.or_(*(key.startswith(f"alert:{v}:", autoescape=True) for v in vehicle_ids))
        else:
            which = key.startswith("alert:")
        since = self.clock.now() - HISTORY
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(key, sa.func.max(created_at))
                    .where(which, created_at >= since)
                    .group_by(key)
                )
            ).all()
        wanted = set(vehicle_ids)
        sent: dict[int, dict[str, float]] = {}
        for found, created in rows:
            parts = str(found).split(":")
            car, kind = (parts[1], parts[2]) if len(parts) == 4 else ("", "")
            if not car.isdigit() or int(car) not in wanted or kind not in KINDS:
                continue
            if isinstance(created, datetime):
                told = sent.setdefault(int(car), {})
                told[kind] = max(told.get(kind, 0.0), created.timestamp())
        return sent

    def _links(self, vehicle: Vehicle) -> dict[str, str]:
        """The app, and its booking screen with this car chosen (the service_due alert's
        "book now"; the app fills the problem in with the reasons the car reports)."""
        app = f"{self.base_url().rstrip('/')}/app"
        return {"app_url": app, "book_url": f"{app}#service/book?vin={quote(vehicle.vin)}"}

    async def _send(
        self, vehicle: Vehicle, sections: dict[str, dict[str, Any]], alert: Alert
    ) -> bool:
        name = vehicle.display_name or str(
            sections.get("vehicle_state", {}).get("vehicle_name") or ""
        )
        result = await self.notifier.notify(
            key=alert_key(vehicle.id, alert, self.rules),
            topic=alert_topic(alert.kind),
            user_ids=[vehicle.owner_id],
            template=template(alert.kind),
            data={
                **alert.facts,
                "kind": alert.kind,
                "car": name or vehicle.vin,
                "vin": vehicle.vin,
                "vehicle_id": vehicle.id_s,
                **self._links(vehicle),
            },
        )
        if not result.duplicate:
            log.info("alert %s for car %s enqueued", alert.kind, vehicle.vin)
        return not result.duplicate
