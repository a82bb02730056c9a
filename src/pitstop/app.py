"""`create_app(settings)`: assembles the parts, routes and middlewares of one server process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable

from sqlalchemy.exc import DBAPIError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware

from pitstop.accounts import routes as account_routes
from pitstop.accounts.tokens import Tokens
from pitstop.accounts.users import Users
from pitstop.admin import routes as admin_routes
from pitstop.alerts.watcher import AlertWatcher, rules_from
from pitstop.availability import health
from pitstop.availability import routes as maintenance_routes
from pitstop.availability.answer import RetryPolicy
from pitstop.availability.changes import make_feed
from pitstop.availability.gate import BypassSigner, Gate, GatedStarlette
from pitstop.availability.outage import dependency_failed
from pitstop.availability.scheduler import WindowScheduler
from pitstop.availability.state import MaintenanceState
from pitstop.availability.store import WindowStore
from pitstop.clock import Clock, SystemClock
from pitstop.db import create_engine, migrate
from pitstop.fleet import routes as fleet_routes
from pitstop.fleet.fast import FastVehicleData
from pitstop.fleet.registry import Registry
from pitstop.fleet.state import VehicleStates
from pitstop.link import endpoint as link_routes
from pitstop.link.hub import LinkHub
from pitstop.notify import routes as notify_routes
from pitstop.notify.announcements import MaintenanceAnnouncer, parse_reminders
from pitstop.notify.service import build_notifications
from pitstop.responses import (
    ApiError,
    api_error_handler,
    http_error_handler,
)
from pitstop.runtime import Runtime
from pitstop.service import routes as service_routes
from pitstop.service.desk import ServiceDesk
from pitstop.service.reminders import ReminderHooks, ServiceReminders
from pitstop.settings import Settings, load_settings
from pitstop.status import routes as status_routes
from pitstop.status import subscribe_routes
from pitstop.status.incidents import IncidentStore
from pitstop.status.monitor import HealthMonitor, database_probe
from pitstop.status.subscribers import Subscribers
from pitstop.web import app as web_app

log = logging.getLogger(__name__)


#: The longest any one step of shutting down may take, in seconds.
SHUTDOWN_STEP = 5.0


async def _bounded(what: str, step: Awaitable[object]) -> None:
    try:
        async with asyncio.timeout(SHUTDOWN_STEP):
            await step
    except TimeoutError:
        log.error("shutting down: %s took longer than %s s; going on", what, SHUTDOWN_STEP)


def build_runtime(settings: Settings, clock: Clock) -> Runtime:
    database_url = settings.resolved_database_url()
    engine = create_engine(database_url)
    registry = Registry(engine, clock)
    windows = WindowStore(engine, clock)
    maintenance = MaintenanceState(
        windows,
        clock,
        feed=make_feed(database_url, settings.redis_url, settings.maintenance_feed),
        poll_interval=settings.maintenance_poll_interval,
    )
    windows.on_change = maintenance.publish
    incidents = IncidentStore(engine)
    return Runtime(
        settings=settings,
        clock=clock,
        engine=engine,
        users=Users(engine, clock),
        tokens=Tokens(
            engine,
            clock,
            secret_key=settings.resolved_secret_key(),
            access_ttl=settings.access_token_ttl,
            refresh_ttl=settings.refresh_token_ttl,
            cache_ttl=settings.token_cache_ttl,
        ),
        registry=registry,
        states=VehicleStates(engine, clock, flush_interval=settings.telemetry_flush_interval),
        hub=LinkHub(
            registry,
            clock,
            command_timeout=settings.command_timeout,
            command_expiry=settings.command_expiry,
        ),
        windows=windows,
        maintenance=maintenance,
        bypass=BypassSigner(settings.resolved_secret_key()),
        retry_policy=RetryPolicy(
            floor=settings.retry_after_floor,
            cap=settings.retry_after_cap,
            jitter=settings.retry_after_jitter,
        ),
        notify=build_notifications(settings, engine, clock),
        incidents=incidents,
        status_subscribers=Subscribers(engine, clock),
        monitor=HealthMonitor(
            [database_probe(engine)],
            incidents,
            clock,
            interval=settings.health_check_interval,
            open_after=settings.incident_after,
        ),
        service=ServiceDesk.build(engine, clock),
    )


def maintenance_gate(rt: Runtime) -> Middleware:
    """The gate over `rt`'s maintenance state, as `GatedStarlette.gate` takes it."""
    return Middleware(
        Gate,
        state=rt.maintenance,
        clock=rt.clock,
        tokens=rt.tokens,
        bypass=rt.bypass,
        retry=rt.retry_policy,
        public_url=rt.settings.public_url,
    )


def create_app(settings: Settings, *, clock: Clock | None = None) -> Starlette:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    rt = build_runtime(settings, clock or SystemClock())

    announcer = MaintenanceAnnouncer(
        rt.windows,
        rt.notify.notifier,
        rt.engine,
        rt.clock,
        base_url=lambda: rt.notify.links.base_url,
        subscribers=rt.status_subscribers,
        incidents=rt.incidents,
        reminders=parse_reminders(settings.maintenance_reminders),
        interval=settings.announce_interval,
    )
    publish = rt.windows.on_change

    async def changed() -> None:  # announce a change at once in the process that made it
        if publish is not None:
            await publish()
        announcer.poke()

    rt.windows.on_change = changed
    service_reminders = ServiceReminders(
        rt.engine,
        rt.notify.notifier,
        rt.service.centers,
        rt.registry,
        rt.clock,
        base_url=lambda: rt.notify.links.base_url,
        interval=settings.announce_interval,
    )
    rt.service.hooks = ReminderHooks(service_reminders)
    alerts = AlertWatcher(
        states=rt.states,
        hub=rt.hub,
        notifier=rt.notify.notifier,
        engine=rt.engine,
        clock=rt.clock,
        rules=rules_from(settings),
        interval=settings.alert_interval,
        base_url=lambda: rt.notify.links.base_url,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await migrate(rt.engine)
        await rt.registry.load()
        await rt.states.load()
        await rt.maintenance.refresh()
        tasks = [
            asyncio.create_task(rt.states.run_writer(), name="telemetry-writer"),
            asyncio.create_task(rt.maintenance.run(), name="maintenance-state"),
            asyncio.create_task(
                WindowScheduler(rt.maintenance, rt.windows, rt.clock).run(),
                name="maintenance-scheduler",
            ),
            asyncio.create_task(rt.monitor.run(), name="health-monitor"),
            asyncio.create_task(announcer.run(), name="maintenance-announcer"),
            asyncio.create_task(service_reminders.run(), name="service-reminders"),
            asyncio.create_task(alerts.run(), name="vehicle-alerts"),
        ]
        rt.notify.start()
        try:
            yield
        finally:
            # Each step is bounded: one part that does not stop must not keep the process up.
            await _bounded("telling cars to reconnect", rt.hub.reconnect_all())
            for task in tasks:
                task.cancel()
            _, stuck = await asyncio.wait(tasks, timeout=SHUTDOWN_STEP)
            for task in stuck:
                log.error(
                    "background task %s did not stop within %s s", task.get_name(), SHUTDOWN_STEP
                )
            await _bounded("stopping notifications", rt.notify.stop())
            with contextlib.suppress(Exception):
                await rt.states.flush()
            await rt.maintenance.feed.close()
            await rt.engine.dispose()

    app = GatedStarlette(
        routes=[
            *health.routes,
            *account_routes.routes,
            *fleet_routes.routes,
            *link_routes.routes,
            *maintenance_routes.routes,
            *notify_routes.routes,
            *status_routes.routes,
            *subscribe_routes.routes,
            *service_routes.routes,
            *web_app.routes,
            *admin_routes.routes,
        ],
        middleware=[Middleware(FastVehicleData, runtime=rt)],  # behind the gate: see fleet/fast.py
        exception_handlers={
            ApiError: api_error_handler,
            HTTPException: http_error_handler,
            DBAPIError: dependency_failed,
            OSError: dependency_failed,
            TimeoutError: dependency_failed,
        },
        lifespan=lifespan,
    )
    # In front of Starlette's own stack, error middleware included: see GatedStarlette.
    app.gate = maintenance_gate(rt)
    app.state.runtime = rt
    app.state.announcer = announcer
    app.state.service_reminders = service_reminders
    app.state.alerts = alerts
    app.state.draining = False
    return app


def from_environment() -> Starlette:
    """The app as `pitstop serve` runs it: settings from the environment (uvicorn's factory)."""
    return create_app(load_settings())
