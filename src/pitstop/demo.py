"""`pitstop demo`: a server on SQLite, three simulated cars, a demo owner and an operator."""

from __future__ import annotations

import asyncio
import json
import signal
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from pitstop.accounts.users import User, UserExists
from pitstop.app import create_app
from pitstop.notify.announcements import parse_reminders
from pitstop.notify.mailbox import Mailbox, MailSink, mail_dir
from pitstop.runtime import Runtime
from pitstop.server import start
from pitstop.service.demo import seed as seed_service_centers
from pitstop.settings import Settings
from pitstop.sim.fleet import CarCredential, CredentialStore, Fleet
from pitstop.story import Pacing, Story

OWNER_EMAIL = "owner@pitstop.example"
OPERATOR_EMAIL = "operator@pitstop.example"
DEMO_PASSWORD = "pitstop-demo"

#: The three demo cars and what they are doing.
CARS = (
    ("5YJ3DEM0000000001", "Blue Model 3", "model3", "parked_asleep"),
    ("5YJYDEM0000000002", "White Model Y", "modely", "charging"),
    ("5YJ3DEM0000000003", "Red Model 3", "model3", "driving"),
)

#: VIN -> (km driven, days) since a demo car's last service. The Red Model 3 is past both
#: limits (20,000 km, 365 days by default), so a newcomer sees the app suggest booking service
#: and the owner's service-due alert without waiting for a car to get there.
SERVICE_HISTORY = {"5YJ3DEM0000000003": (20_450.0, 395)}


@dataclass
class DemoInfo:
    url: str
    owner_token: str
    operator_token: str
    vins: list[str]

    def write(self, data_dir: Path) -> Path:
        path = data_dir / "demo.json"
        path.write_text(json.dumps(self.__dict__, indent=2))
        path.chmod(0o600)
        return path


async def _user(rt: Runtime, email: str, role: str, name: str) -> User:
    try:
        return await rt.users.create(email, DEMO_PASSWORD, role=role, full_name=name)
    except UserExists:
        user = await rt.users.by_email(email)
        assert user is not None
        return user


async def _cars(
    rt: Runtime, owner: User, store: CredentialStore, url_key: str
) -> list[CarCredential]:
    known = store.load(url_key)
    creds = []
    for vin, name, car_type, _ in CARS:
        if vin not in known:
            if await rt.registry.by_vin(vin) is not None:
                raise SystemExit(
                    f"The demo car {vin} exists in this database but its secret is lost; "
                    "start the demo with a fresh PITSTOP_DATA_DIR."
                )
            _, secret = await rt.registry.register(
                owner_id=owner.id, vin=vin, display_name=name, car_type=car_type
            )
            known[vin] = CarCredential(vin=vin, secret=secret, name=name, car_type=car_type)
            store.save(url_key, known)
        creds.append(known[vin])
    return creds


async def run_demo(
    settings: Settings,
    *,
    host: str,
    port: int,
    time_scale: float,
    console: Console,
    story: float | None = None,
) -> None:
    """`story`: also walk a maintenance window through its life, this many times faster than
    the few minutes it takes at 1.0 (None: no story)."""
    # The demo's mail goes to an SMTP sink of its own; the console shows it at /admin/mail.
    sink = MailSink(Mailbox(mail_dir(settings.data_dir)))
    await sink.start()
    settings.smtp_host, settings.smtp_port, settings.smtp_tls = "127.0.0.1", sink.port, "none"
    if not settings.public_url and port:  # links in mails name the demo's own address
        shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        settings.public_url = f"http://{shown}:{port}"
    pacing = Pacing().scaled(story) if story else None
    if pacing is not None:  # the story's reminder comes minutes, not hours, ahead
        leads = (*parse_reminders(settings.maintenance_reminders), pacing.reminder_hours)
        settings.maintenance_reminders = ",".join(f"{h:.6g}" for h in leads)
        settings.announce_interval = min(settings.announce_interval, 1.0)
    app = create_app(settings)
    rt: Runtime = app.state.runtime
    try:
        server = await start(app, host=host, port=port)
    except BaseException:
        await sink.stop()
        raise
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    fleet: Fleet | None = None
    story_task: asyncio.Task[None] | None = None
    try:
        owner = await _user(rt, OWNER_EMAIL, "owner", "Demo Owner")
        operator = await _user(rt, OPERATOR_EMAIL, "operator", "Demo Operator")
        await seed_service_centers(rt.service.centers)
        store = CredentialStore(settings.data_dir / "demo-cars.json")
        creds = await _cars(rt, owner, store, "demo")
        owner_grant = await rt.tokens.issue(owner, client_id="pitstop-demo", label="demo owner")
        operator_grant = await rt.tokens.issue(
            operator, client_id="pitstop-demo", label="demo operator"
        )
        fleet = Fleet(server.url, creds, situations=[c[3] for c in CARS], time_scale=time_scale)
        for car in fleet.cars:
            if car.vin in SERVICE_HISTORY:
                km, days = SERVICE_HISTORY[car.vin]
                serviced = fleet.physics_clock.now() - timedelta(days=days)
                car.model.set_service(distance_km=km, last_service_at=serviced)
        await fleet.start()
        async with asyncio.timeout(30):
            await fleet.wait_connected()
        info = DemoInfo(
            server.url,
            owner_grant.access_token,
            operator_grant.access_token,
            [c.vin for c in creds],
        )
        path = info.write(settings.data_dir)
        _print_welcome(console, info, path, time_scale, sink.port)
        if pacing is not None:
            told = Story(
                rt,
                sink,
                url=info.url,
                owner_token=info.owner_token,
                operator=operator.email,
                say=lambda text: console.print(text, soft_wrap=True),
                pacing=pacing,
            )
            story_task = asyncio.create_task(told.run(), name="demo-story")
            story_task.add_done_callback(lambda task: _story_ended(console, task))
        await stop.wait()
        console.print(
            "\n[bold]Stopping:[/] cars disconnect, telemetry is flushed, the server shuts down."
        )
    finally:
        if story_task is not None:
            story_task.cancel()
        if fleet is not None:
            await fleet.stop()
        await server.stop()
        await sink.stop()
    console.print("Pitstop demo stopped cleanly.")


def _story_ended(console: Console, task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        console.print(f"[red]The story stopped: {task.exception()!r}[/]")


def _print_welcome(
    console: Console, info: DemoInfo, path: Path, time_scale: float, smtp_port: int
) -> None:
    console.print(f"\n[bold green]Pitstop demo is running[/] at [link={info.url}]{info.url}[/]")
    table = Table(show_header=True, header_style="bold")
    table.add_column("car")
    table.add_column("VIN")
    table.add_column("doing")
    for vin, name, _, situation in CARS:
        doing = situation.replace("_", " ")
        table.add_row(name, vin, f"{doing}, due for service" if vin in SERVICE_HISTORY else doing)
    console.print(table)
    console.print(f"Owner:    {OWNER_EMAIL} / {DEMO_PASSWORD}")
    console.print(f"Operator: {OPERATOR_EMAIL} / {DEMO_PASSWORD}")
    console.print(f"Console:  {info.url}/admin (sign in as the operator)")
    console.print(
        f"Mail:     {info.url}/admin/mail (kept by an SMTP sink on 127.0.0.1:{smtp_port})"
    )
    console.print(f"Owner token:    {info.owner_token}", soft_wrap=True)
    console.print(f"Operator token: {info.operator_token}", soft_wrap=True)
    console.print(f"Written to {path}. Simulated time runs {time_scale:g}x.")
    console.print("\nTry, in another terminal:")
    console.print(
        f"  export PITSTOP_URL={info.url} PITSTOP_TOKEN=$(python3 -c \"import json;print(json.load(open('{path}'))['owner_token'])\")",
        soft_wrap=True,
    )
    console.print("  ./run pitstop vehicles")
    console.print(f"  ./run pitstop status {info.vins[1]}")
    console.print(
        f'  curl -H "Authorization: Bearer $PITSTOP_TOKEN" {info.url}/api/1/vehicles/{info.vins[1]}/vehicle_data',
        soft_wrap=True,
    )
    console.print("\nPress Ctrl-C to stop.")
