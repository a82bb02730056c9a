"""The service desk of one server process: centers, the appointment book and the hooks."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from pitstop.clock import Clock
from pitstop.service.appointments import Appointments
from pitstop.service.centers import Centers
from pitstop.service.hooks import ServiceHooks


@dataclass
class ServiceDesk:
    centers: Centers
    appointments: Appointments
    hooks: ServiceHooks = field(default_factory=ServiceHooks)

    @classmethod
    def build(cls, engine: AsyncEngine, clock: Clock) -> ServiceDesk:
        return cls(Centers(engine, clock), Appointments(engine, clock))
