"""Charge schedules, Tesla's charge_schedule_data: when in the week, and where, a car may charge.

A schedule has a start time, an end time or both (minutes of the car's local day), the days of
the week it runs on, and a place: it applies within SCHEDULE_RADIUS_M of its latitude and
longitude, or anywhere if those are 0, 0. A window that ends before it starts runs overnight and
belongs to the day it starts on. A one-time schedule deletes itself once it has run.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from pitstop.sim.commands import Params, flag, number
from pitstop.sim.local_time import (
    DAY_S,
    MINUTES_PER_DAY,
    crossed,
    minute_of_day,
    on_days,
    parse_days_of_week,
)
from pitstop.sim.routes import LatLon, distance_m

SCHEDULE_RADIUS_M = 1000.0  # a charge schedule applies this close to its location


@dataclass
class ChargeSchedule:
    """One entry of Tesla's charge_schedule_data.charge_schedules; times in minutes of day."""

    id: int
    name: str
    days_of_week: int
    enabled: bool
    start_enabled: bool
    start_time: int
    end_enabled: bool
    end_time: int
    one_time: bool
    latitude: float
    longitude: float

    @classmethod
    def from_params(cls, params: Params, *, default_id: int) -> ChargeSchedule:
        """The schedule add_charge_schedule describes; ValueError if its days make no sense."""
        return cls(
            id=int(number(params, "id", default_id)),
            name=str(params.get("name") or ""),
            days_of_week=parse_days_of_week(_or_all(params.get("days_of_week"))),
            enabled=flag(params, "enabled", True),
            start_enabled=flag(params, "start_enabled", params.get("start_time") is not None),
            start_time=int(number(params, "start_time", 0)) % MINUTES_PER_DAY,
            end_enabled=flag(params, "end_enabled", params.get("end_time") is not None),
            end_time=int(number(params, "end_time", 0)) % MINUTES_PER_DAY,
            one_time=flag(params, "one_time", False),
            latitude=number(params, "lat", 0.0),
            longitude=number(params, "lon", 0.0),
        )

    @property
    def overnight(self) -> bool:
        """Whether the window ends on the day after it starts."""
        return self.start_enabled and self.end_time < self.start_time

    def applies_at(self, here: LatLon) -> bool:
        where = (self.latitude, self.longitude)
        return where == (0.0, 0.0) or distance_m(here, where) <= SCHEDULE_RADIUS_M

    def open_at(self, t: float) -> bool:
        """Whether this schedule lets current flow at `t`, judged afresh (at plug-in, edits)."""
        if self.start_enabled and self.end_enabled:
            minute = minute_of_day(t)
            after_start, before_end = self.start_time <= minute, minute < self.end_time
            inside = (after_start or before_end) if self.overnight else after_start and before_end
            began = t - DAY_S if self.overnight and before_end else t
            return inside and on_days(self.days_of_week, began)
        return self.end_enabled  # only an end: charge now, stop at end_time

    def starts_in(self, t0: float, t1: float) -> bool:
        """Whether this schedule's window opens in (t0, t1]."""
        return (
            self.start_enabled
            and crossed(t0, t1, self.start_time)
            and on_days(self.days_of_week, t1)
        )

    def ends_in(self, t0: float, t1: float) -> bool:
        """Whether this schedule's window closes in (t0, t1]."""
        began = t1 - DAY_S if self.overnight else t1
        return (
            self.end_enabled
            and crossed(t0, t1, self.end_time)
            and on_days(self.days_of_week, began)
        )


class ChargeSchedules:
    """A car's charge schedules, and whether one of them has its window open right now."""

    def __init__(self) -> None:
        self._schedules: list[ChargeSchedule] = []
        self.window_open = False

    def __len__(self) -> int:
        return len(self._schedules)

    def next_id(self) -> int:
        return max((s.id for s in self._schedules), default=0) + 1

    def put(self, schedule: ChargeSchedule) -> None:
        """Add `schedule`, replacing the one with the same id."""
        self._schedules = [s for s in self._schedules if s.id != schedule.id] + [schedule]

    def remove(self, schedule_id: int) -> bool:
        """Delete the schedule with this id; False if there is none."""
        kept = [s for s in self._schedules if s.id != schedule_id]
        found, self._schedules = len(kept) < len(self._schedules), kept
        return found

    def applicable(self, here: LatLon) -> list[ChargeSchedule]:
        """Enabled schedules for where the car is (those without a location apply anywhere)."""
        return [s for s in self._schedules if s.enabled and s.applies_at(here)]

    def hold_back(self, here: LatLon) -> bool:
        """Whether the schedules keep a car at `here` from charging now."""
        return bool(self.applicable(here)) and not self.window_open

    def reopen(self, t: float, here: LatLon) -> None:
        """Judge afresh whether a window is open at `t` (at plug-in, after edits)."""
        self.window_open = any(s.open_at(t) for s in self.applicable(here))

    def run(self, t0: float, t1: float, here: LatLon) -> bool | None:
        """Open and close the windows whose start or end falls in (t0, t1].

        Returns what becomes of an earlier charge_stop: False when a window opens (a fresh
        start lifts it), True when a one-time schedule ends (done, it is deleted and the car
        stays stopped), None when neither happens.
        """
        stopped: bool | None = None
        for s in self.applicable(here):
            if s.starts_in(t0, t1):
                self.window_open, stopped = True, False
                if s.one_time and not s.end_enabled:
                    self._schedules.remove(s)
            if s.ends_in(t0, t1):
                self.window_open = False
                if s.one_time and s in self._schedules:
                    self._schedules.remove(s)
                    stopped = True
        return stopped

    def signals(self) -> list[dict[str, object]]:
        """charge_schedule_data.charge_schedules, as Tesla reports them."""
        return [dataclasses.asdict(s) for s in self._schedules]


def _or_all(days: object) -> object:
    """add_charge_schedule without days_of_week means every day."""
    return "All" if days is None else days
