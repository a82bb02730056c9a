"""Owner verbs: login, logout, vehicles, status, lock, unlock, wake, climate and charge.

They talk to a running server (`PITSTOP_URL`, or the one `pitstop login` saved) through
`pitstop.client`, with the saved sign-in or `PITSTOP_TOKEN`.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from pitstop.cli import charge
from pitstop.cli.owner_common import (
    JsonOption,
    VinArgument,
    announce_retry,
    distance,
    duration,
    emit_json,
    fail,
    number,
    run,
    send_command,
    stderr,
    stdout,
)
from pitstop.client import (
    DEFAULT_URL,
    ENV_TOKEN,
    ENV_URL,
    Credentials,
    CredentialStore,
    ForbiddenError,
    LastKnown,
    PitstopClient,
    PitstopError,
    ServerUnavailable,
    Unreachable,
    User,
    Vehicle,
)
from pitstop.client._words import clock_at, format_age, local_zone

STATUS_SECTIONS = (
    "charge_state",
    "climate_state",
    "drive_state",
    "vehicle_state",
    "gui_settings",
    "vehicle_config",
)
KMH_PER_MPH = 1.609344

climate_app = typer.Typer(
    help="Turn the climate on or off, set the temperature.", no_args_is_help=True
)


# --- signing in -------------------------------------------------------------------------------


def login(
    url: Annotated[
        str | None, typer.Option(help=f"The Pitstop server (default: ${ENV_URL} or {DEFAULT_URL}).")
    ] = None,
    email: Annotated[str | None, typer.Option(help="Your account's email.")] = None,
    password: Annotated[
        str | None, typer.Option(help="Your password (asked for, hidden, when not given).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Sign in and save the tokens for the next commands."""
    store = CredentialStore()
    try:
        stored = store.load()
    except PitstopError:
        stored = None  # a damaged file is about to be replaced
    server = url or os.environ.get(ENV_URL) or (stored.url if stored else "") or DEFAULT_URL
    email = email or typer.prompt("Email")
    password = password or typer.prompt("Password", hide_input=True)

    async def work(pitstop: PitstopClient) -> tuple[Credentials, User]:
        await pitstop.token_password(email, password)
        return pitstop.credentials, await pitstop.me()

    credentials, user = run(
        work, as_json=as_json, client=lambda: PitstopClient(server, on_retry=announce_retry)
    )
    try:
        store.save(credentials)
    except OSError as exc:
        fail(
            PitstopError(
                f"Cannot save the sign-in in {store.path}: {exc.strerror}.",
                "set PITSTOP_CONFIG_DIR to a folder you can write",
            ),
            as_json=as_json,
        )
    if as_json:
        emit_json(
            {
                "email": user.email,
                "url": credentials.url,
                "expires_at": credentials.expires_at,
                "credentials_file": str(store.path),
            }
        )
        return
    stdout().print(f"Signed in as [bold]{escape(user.email)}[/] at {escape(credentials.url)}")
    if os.environ.get(ENV_TOKEN):
        stderr().print(f"[yellow]Note: {ENV_TOKEN} is set and is used instead of this sign-in.[/]")


async def _revoke(credentials: Credentials) -> None:
    async with PitstopClient(credentials.url, credentials=credentials) as pitstop:
        await pitstop.revoke()


def logout(as_json: JsonOption = False) -> None:
    """Sign out: revoke the saved tokens on the server and forget them here."""
    store = CredentialStore()
    try:
        stored = store.load()
    except PitstopError:
        stored = None
    if stored is not None and (stored.access_token or stored.refresh_token):
        try:
            asyncio.run(_revoke(stored))
        except PitstopError as exc:  # forgetting them here is what matters; the server may be gone
            stderr().print(
                f"[yellow]The server did not revoke the tokens: {escape(exc.message)}[/]"
            )
    removed = store.delete()
    if as_json:
        emit_json({"signed_out": removed})
    else:
        stdout().print("Signed out." if removed else "You were not signed in.")


# --- vehicles and status ----------------------------------------------------------------------


def _state(state: str) -> str:
    color = {"online": "green", "asleep": "yellow", "offline": "red"}.get(state, "white")
    return f"[{color}]{escape(state or 'unknown')}[/]"


def vehicles(as_json: JsonOption = False) -> None:
    """List your cars."""

    async def work(pitstop: PitstopClient) -> list[Vehicle]:
        return await pitstop.vehicles()

    cars = run(work, as_json=as_json)
    if as_json:
        emit_json([car.raw for car in cars])
        return
    if not cars:
        stdout().print("You have no vehicles yet.")
        return
    table = Table("Name", "VIN", "ID", "State")
    table.columns[1].no_wrap = True
    for car in cars:
        table.add_row(escape(car.display_name or "—"), car.vin, str(car.id), _state(car.state))
    stdout().print(table)


def _status_rows(data: dict[str, Any], location: bool) -> list[tuple[str, str]]:
    charge: dict[str, Any] = data.get("charge_state") or {}
    climate: dict[str, Any] = data.get("climate_state") or {}
    drive: dict[str, Any] = data.get("drive_state") or {}
    body: dict[str, Any] = data.get("vehicle_state") or {}

    battery = number(charge.get("battery_level"), "%")
    if isinstance(charge.get("usable_battery_level"), int | float):
        battery += f" (usable {number(charge['usable_battery_level'], '%')})"
    range_ = f"{distance(charge.get('battery_range'))} rated"
    if isinstance(charge.get("est_battery_range"), int | float):
        range_ += f", {distance(charge['est_battery_range'])} estimated"

    state = str(charge.get("charging_state") or "—")
    charging = f"{state}, limit {number(charge.get('charge_limit_soc'), '%')}"
    if state == "Charging":
        charging += (
            f", {number(charge.get('charger_power'), 'kW')}"
            f", full in {duration(charge.get('time_to_full_charge'))}"
        )

    if not location:
        where = "hidden (the token lacks the vehicle_location scope)"
    else:
        where = (
            f"{number(drive.get('latitude'), digits=5)}, {number(drive.get('longitude'), digits=5)}"
        )
    shift = drive.get("shift_state") or "P"
    speed = drive.get("speed")
    if isinstance(speed, int | float) and speed > 0:
        where += f", {speed * KMH_PER_MPH:.0f} km/h ({speed:.0f} mph), shift {shift}"
    else:
        where += f", parked (shift {shift})"

    on = climate.get("is_climate_on")
    air = (
        f"{'on' if on else 'off'}, inside {number(climate.get('inside_temp'), '°C', 1)}"
        f", outside {number(climate.get('outside_temp'), '°C', 1)}"
        f", set to {number(climate.get('driver_temp_setting'), '°C', 1)}"
    )
    locked = body.get("locked")
    locks = "locked" if locked else "UNLOCKED" if locked is not None else "—"
    return [
        ("Battery", battery),
        ("Range", range_),
        ("Charging", charging),
        ("Location", where),
        ("Climate", air),
        ("Locks", locks),
        ("Odometer", distance(body.get("odometer"))),
    ]


def status(vin: VinArgument, as_json: JsonOption = False) -> None:
    """Battery, range, charging, location, climate, locks and odometer (never wakes the car).

    While Pitstop is in maintenance (or unreachable) it shows the car's last-known state, and
    how old it is.
    """

    async def work(pitstop: PitstopClient) -> tuple[dict[str, Any], bool, str]:
        try:
            try:
                data = await pitstop.vehicle_data(vin, [*STATUS_SECTIONS, "location_data"])
                location = True
            except ForbiddenError as exc:
                if "vehicle_location" not in exc.missing_scopes:
                    raise
                data, location = await pitstop.vehicle_data(vin, STATUS_SECTIONS), False
        except (ServerUnavailable, Unreachable) as exc:
            if exc.last_known is None:
                raise
            data = exc.last_known.data
            return data, "latitude" in (data.get("drive_state") or {}), exc.message
        notice = pitstop.notice
        if notice.read_only_until is None:
            return data, location, ""
        now = datetime.now(UTC)
        until = clock_at(notice.read_only_until, now=now, tz=local_zone())
        return data, location, f"Pitstop is in read-only maintenance until {until}."

    data, location, why_stale = run(work, as_json=as_json)
    if why_stale:
        stale = LastKnown(data, fetched_at=datetime.now(UTC))
        age = stale.age(datetime.now(UTC)).total_seconds()
        if as_json:
            data = data | {
                "last_known": {
                    "reported_at": stale.reported_at.isoformat(),
                    "age_seconds": round(age),
                    "because": why_stale,
                }
            }
        else:
            reported = clock_at(stale.reported_at, now=datetime.now(UTC), tz=local_zone())
            stderr().print(f"[yellow]{escape(why_stale)}[/]")
            stderr().print(
                f"[yellow]Showing the last-known state, reported at {reported} "
                f"({format_age(age)} ago).[/]"
            )
    if as_json:
        emit_json(data)
        return
    console = stdout()
    name = data.get("display_name") or data.get("vin") or vin
    console.print(
        f"[bold]{escape(str(name))}[/]  {escape(str(data.get('vin') or vin))}  "
        f"{_state(str(data.get('state') or ''))}"
    )
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column()
    for label, value in _status_rows(data, location):
        grid.add_row(label, escape(value))
    console.print(grid)


# --- commands ---------------------------------------------------------------------------------


def lock(vin: VinArgument, as_json: JsonOption = False) -> None:
    """Lock the doors."""
    send_command(vin, "door_lock", f"Locked {vin}.", as_json=as_json)


def unlock(vin: VinArgument, as_json: JsonOption = False) -> None:
    """Unlock the doors."""
    send_command(vin, "door_unlock", f"Unlocked {vin}.", as_json=as_json)


def wake(
    vin: VinArgument,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the car.")] = 60.0,
    as_json: JsonOption = False,
) -> None:
    """Wake the car and wait until it is online."""

    async def work(pitstop: PitstopClient) -> Vehicle:
        return await pitstop.wake_and_wait(vin, timeout=timeout)

    car = run(work, as_json=as_json, spinner=f"Waking {vin}…")
    if as_json:
        emit_json(car.raw)
    else:
        stdout().print(f"{escape(car.display_name or car.vin)} ({car.vin}) is {_state(car.state)}.")


@climate_app.command("on")
def climate_on(vin: VinArgument, as_json: JsonOption = False) -> None:
    """Start heating or cooling the cabin."""
    send_command(vin, "auto_conditioning_start", f"Climate on in {vin}.", as_json=as_json)


@climate_app.command("off")
def climate_off(vin: VinArgument, as_json: JsonOption = False) -> None:
    """Stop the climate."""
    send_command(vin, "auto_conditioning_stop", f"Climate off in {vin}.", as_json=as_json)


@climate_app.command("temp")
def climate_temp(
    vin: VinArgument,
    celsius: Annotated[
        float, typer.Argument(metavar="CELSIUS", help="Driver's setpoint in °C (15 to 28).")
    ],
    passenger: Annotated[
        float | None, typer.Option(help="Passenger's setpoint in °C (default: the driver's).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Set the cabin temperature."""
    send_command(
        vin,
        "set_temps",
        f"Temperature in {vin} set to {celsius:g} °C.",
        as_json=as_json,
        driver_temp=celsius,
        passenger_temp=passenger if passenger is not None else celsius,
    )


def register(app: typer.Typer) -> None:
    app.command()(login)
    app.command()(logout)
    app.command()(vehicles)
    app.command()(status)
    app.command()(lock)
    app.command()(unlock)
    app.command()(wake)
    app.add_typer(climate_app, name="climate")
    app.add_typer(charge.charge_app, name="charge")
