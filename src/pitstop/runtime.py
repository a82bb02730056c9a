"""The running parts of one server process, made once at start and shared by every route."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import HTTPConnection

from pitstop.accounts.tokens import Tokens
from pitstop.accounts.users import Users
from pitstop.availability.answer import RetryPolicy
from pitstop.availability.gate import BypassSigner
from pitstop.availability.state import MaintenanceState
from pitstop.availability.store import WindowStore
from pitstop.clock import Clock
from pitstop.fleet.registry import Registry
from pitstop.fleet.state import VehicleStates
from pitstop.link.hub import LinkHub
from pitstop.notify.service import Notifications
from pitstop.service.desk import ServiceDesk
from pitstop.settings import Settings
from pitstop.status.incidents import IncidentStore
from pitstop.status.monitor import HealthMonitor
from pitstop.status.subscribers import Subscribers


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    engine: AsyncEngine
    users: Users
    tokens: Tokens
    registry: Registry
    states: VehicleStates
    hub: LinkHub
    windows: WindowStore
    maintenance: MaintenanceState
    bypass: BypassSigner
    retry_policy: RetryPolicy
    notify: Notifications
    incidents: IncidentStore
    monitor: HealthMonitor
    status_subscribers: Subscribers
    service: ServiceDesk


def runtime(conn: HTTPConnection) -> Runtime:
    rt: Runtime = conn.app.state.runtime
    return rt
