"""Scheduled charging and scheduled departure: Tesla's scheduled_charging_mode.

One setting with three values, as in the app: "Off"; "StartAt", charging waits until a time of
day (set_scheduled_charging); or "DepartBy", the car is ready by a departure time
(set_scheduled_departure): the cabin preconditioned, and the charge taken in off-peak hours,
starting only just early enough to finish before they end. Turning one mode on turns the other
off. Times are minutes of the car's local day.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from pitstop.sim.commands import Params, flag, number
from pitstop.sim.local_time import MINUTES_PER_DAY, crossed, minute_of_day, next_at, weekday

PRECONDITION_LEAD_MIN = 20  # departure preconditioning starts this long before departure
PRECONDITION_TAIL_MIN = 10  # ... and ends this long after, if nobody drove off
OFF_PEAK_MARGIN_MIN = 15  # off-peak charging aims to finish this early


@dataclass
class ScheduledCharging:
    """The car's scheduled_charging_mode and the settings of both its modes."""

    start_at: bool = False  # "StartAt"
    start_time: int = 0
    depart_by: bool = False  # "DepartBy"
    departure_time: int = 7 * 60
    preconditioning: bool = False
    preconditioning_weekdays_only: bool = False
    off_peak: bool = False
    off_peak_weekdays_only: bool = False
    off_peak_end_time: int = 6 * 60

    @property
    def mode(self) -> str:
        return "StartAt" if self.start_at else "DepartBy" if self.depart_by else "Off"

    def set_start_at(self, params: Params) -> None:
        """set_scheduled_charging: `enable`, `time`."""
        self.start_at = flag(params, "enable", True)
        self.start_time = int(number(params, "time", self.start_time)) % MINUTES_PER_DAY
        if self.start_at:  # like the app: scheduled charging and departure exclude each other
            self.depart_by = False

    def set_depart_by(self, params: Params) -> None:
        """set_scheduled_departure: `enable`, `departure_time`, preconditioning, off-peak."""
        self.depart_by = flag(params, "enable", True)
        departure = int(number(params, "departure_time", self.departure_time))
        self.departure_time = departure % MINUTES_PER_DAY
        self.preconditioning = flag(params, "preconditioning_enabled", self.preconditioning)
        self.preconditioning_weekdays_only = flag(params, "preconditioning_weekdays_only", False)
        self.off_peak = flag(params, "off_peak_charging_enabled", self.off_peak)
        self.off_peak_weekdays_only = flag(params, "off_peak_charging_weekdays_only", False)
        end = int(number(params, "end_off_peak_time", self.off_peak_end_time))
        self.off_peak_end_time = end % MINUTES_PER_DAY
        if self.depart_by:
            self.start_at = False

    def waits(self, t: float) -> bool:
        """Whether a car plugged in at `t` waits for the start time or for off-peak hours."""
        off_peak_today = not self.off_peak_weekdays_only or weekday(t) < 5
        return self.start_at or (self.depart_by and self.off_peak and off_peak_today)

    def start_time_in(self, t0: float, t1: float) -> bool:
        """Whether StartAt's start time falls in (t0, t1]."""
        return self.start_at and crossed(t0, t1, self.start_time)

    def _preconditions_on(self, t: float) -> bool:
        return (
            self.depart_by
            and self.preconditioning
            and (weekday(t) < 5 or not self.preconditioning_weekdays_only)
        )

    def preconditioning_starts_in(self, t0: float, t1: float) -> bool:
        """Whether departure preconditioning begins in (t0, t1]."""
        lead = self.departure_time - PRECONDITION_LEAD_MIN
        return self._preconditions_on(t1) and crossed(t0, t1, lead)

    def preconditioning_ends_in(self, t0: float, t1: float) -> bool:
        """Whether departure preconditioning, if nobody drove off, ends in (t0, t1]."""
        tail = self.departure_time + PRECONDITION_TAIL_MIN
        return self._preconditions_on(t1) and crossed(t0, t1, tail)

    def off_peak_start_in(self, t0: float, t1: float, minutes_to_full: Callable[[], float]) -> bool:
        """Whether off-peak charging should start in (t0, t1]: once the time left before
        off-peak hours end only just suffices (checked on each new minute)."""
        if not (self.depart_by and self.off_peak) or math.floor(t0 / 60) == math.floor(t1 / 60):
            return False
        left = (self.off_peak_end_time - minute_of_day(t1)) % MINUTES_PER_DAY
        return left <= minutes_to_full() + OFF_PEAK_MARGIN_MIN

    def signals(self, t: float, *, pending: bool) -> dict[str, object]:
        """The charge_state fields of this setting; `pending`: a schedule holds charging back."""
        return {
            "scheduled_charging_mode": self.mode,
            "scheduled_charging_pending": pending,
            "scheduled_charging_start_time": next_at(t, self.start_time) if self.start_at else None,
            "scheduled_charging_start_time_app": self.start_time,
            "scheduled_departure_time": (
                next_at(t, self.departure_time) if self.depart_by else None
            ),
            "scheduled_departure_time_minutes": self.departure_time,
            "preconditioning_enabled": self.depart_by and self.preconditioning,
            "preconditioning_times": (
                "weekdays" if self.preconditioning_weekdays_only else "all_week"
            ),
            "off_peak_charging_enabled": self.depart_by and self.off_peak,
            "off_peak_charging_times": "weekdays" if self.off_peak_weekdays_only else "all_week",
            "off_peak_hours_end_time": self.off_peak_end_time,
        }
