"""`pitstop service ...`: find a free slot at a service center, book it, move it, cancel it.

Owners book for their own cars; operators (`list --center ID --date DAY`) see a day's
appointments at a center and may move or cancel any of them. Times are shown in your zone
(`PITSTOP_TZ`, `TZ`, else the system's), with the center's own time beside them when it differs;
`--json` prints what the API gives.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from pitstop.cli.owner_common import JsonOption, VinArgument, emit_json, run, stdout
from pitstop.cli.when import WhenError, parse_when
from pitstop.client import (
    Appointment,
    Conflict,
    InvalidInput,
    PitstopClient,
    PitstopError,
    ServiceCenter,
    SlotList,
)
from pitstop.client._words import local_zone, relative, timestamp

app = typer.Typer(
    help="Service appointments: centers, free slots, booking (PITSTOP_URL and PITSTOP_TOKEN).",
    no_args_is_help=True,
)

AppointmentId = Annotated[
    int, typer.Argument(metavar="ID", help="The appointment's id.", show_default=False)
]
CenterOption = Annotated[
    int, typer.Option("--center", "-c", help="The center's id (see `pitstop service centers`).")
]
AtOption = Annotated[
    str,
    typer.Option(
        "--at",
        help="The slot's start: '2026-12-01 09:00' (your zone), "
        "'2026-12-01 09:00 Europe/Berlin', or an ISO time from `slots --json`.",
        show_default=False,
    ),
]
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _now() -> datetime:
    return datetime.now(UTC)


def _at(text: str) -> datetime:
    try:
        return parse_when(text, now=_now())
    except WhenError as exc:
        raise typer.BadParameter(str(exc), param_hint="--at") from exc


def _day(text: str | None, option: str) -> date | None:
    """`today`, `tomorrow` or 2026-12-01 (today in your zone); None if not given."""
    if text is None:
        return None
    today = _now().astimezone(local_zone()).date()
    words = {"today": today, "tomorrow": today + timedelta(days=1)}
    if text.strip().lower() in words:
        return words[text.strip().lower()]
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise typer.BadParameter(
            f"{text!r} is not a day: use 2026-12-01, today or tomorrow", param_hint=option
        ) from exc


def _when(when: datetime, center_tz: tzinfo | None) -> str:
    """`Thu 26 Mar 10:00 CET`, and the center's time beside it if its zone differs from yours."""
    mine = local_zone()
    text = timestamp(when, now=_now(), tz=mine)
    if center_tz is not None:
        there = timestamp(when, now=_now(), tz=center_tz)
        if when.astimezone(center_tz).utcoffset() != when.astimezone(mine).utcoffset():
            text += f" ({there} at the center)"
    return text


def _hint_slots(exc: PitstopError, center_id: int | str) -> PitstopError:
    """Point a refused slot at the command that lists free ones."""
    if isinstance(exc, Conflict | InvalidInput) and not exc.hint.startswith("see free slots"):
        exc.hint = f"see free slots with `pitstop service slots {center_id}`"
    return exc


def _sentence(a: Appointment) -> str:
    car = a.vehicle_name or a.vin
    car = f"{car} ({a.vin})" if a.vehicle_name else car
    return f"{_when(a.starts_at, a.tz)} at {a.center_name} for {car}"


# --- verbs ------------------------------------------------------------------------------------


@app.command()
def centers(as_json: JsonOption = False) -> None:
    """List the service centers: where they are, when they are open, how many bays."""

    async def work(pitstop: PitstopClient) -> list[ServiceCenter]:
        return await pitstop.service.centers()

    found = run(work, as_json=as_json)
    if as_json:
        emit_json([c.raw for c in found])
        return
    if not found:
        stdout().print("There are no service centers yet.")
        return
    table = Table(show_edge=False)
    for column in ("ID", "Center", "Opening hours (local time)", "Slots"):
        table.add_column(column)
    for c in found:
        hours = "\n".join(
            f"{d.capitalize()} {', '.join(c.hours[d])}" for d in _WEEKDAYS if c.hours.get(d)
        )
        table.add_row(
            str(c.id),
            f"[bold]{escape(c.name)}[/]\n{escape(c.address)}\n[dim]{escape(c.timezone)}[/]",
            escape(hours),
            f"{c.slot_minutes} min, {c.capacity} bay{'s' if c.capacity != 1 else ''}",
        )
    stdout().print(table)


@app.command()
def slots(
    center: Annotated[int, typer.Argument(metavar="CENTER", help="The center's id.")],
    vin: Annotated[
        str | None, typer.Option("--vin", help="Leave out slots this car already holds.")
    ] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="First day: 2026-12-01, today, tomorrow.")
    ] = None,
    days: Annotated[int, typer.Option(help="How many days, 1 to 31.")] = 7,
    as_json: JsonOption = False,
) -> None:
    """List the free slots of a center."""
    first = _day(start, "--from")

    async def work(pitstop: PitstopClient) -> SlotList:
        return await pitstop.service.slots(center, vin=vin, start=first, days=days)

    found = run(work, as_json=as_json)
    if as_json:
        emit_json(found.raw)
        return
    if not found.slots:
        stdout().print(
            f"{found.center_name} has no free slot in those {days} days.",
        )
        stdout().print("[dim]Hint:[/] look further ahead with --from and --days.")
        return
    tz = local_zone()
    table = Table(title=f"Free slots at {escape(found.center_name)}", title_justify="left")
    table.add_column("Day", no_wrap=True)
    table.add_column("Starts (your time)")
    table.add_column("Free bays", justify="right")
    center_tz = found.tz
    differs = center_tz is not None and any(
        s.starts_at.astimezone(center_tz).utcoffset() != s.starts_at.astimezone(tz).utcoffset()
        for s in found.slots
    )
    if differs:
        table.add_column(f"At the center ({found.timezone})")
    previous = None
    for s in found.slots:
        local = s.starts_at.astimezone(tz)
        day = timestamp(s.starts_at, now=_now(), tz=tz).rsplit(" ", 2)[0]
        row = [
            day if day != previous else "",
            f"{local:%H:%M} {local.tzname() or ''}".rstrip(),
            f"{s.free}/{s.capacity}",
        ]
        if differs and center_tz is not None:
            there = s.starts_at.astimezone(center_tz)
            row.append(f"{there:%a %H:%M} {there.tzname() or ''}".rstrip())
        table.add_row(*row)
        previous = day
    stdout().print(table)


@app.command()
def book(
    vin: VinArgument,
    center: CenterOption,
    at: AtOption,
    description: Annotated[
        str,
        typer.Option("--description", "-d", help="What is wrong with the car.", show_default=False),
    ],
    as_json: JsonOption = False,
) -> None:
    """Book a slot at a service center for one of your cars."""
    starts_at = _at(at)

    async def work(pitstop: PitstopClient) -> Appointment:
        try:
            return await pitstop.service.book(vin, center, starts_at, description)
        except (Conflict, InvalidInput) as exc:
            raise _hint_slots(exc, center) from None

    made = run(work, as_json=as_json)
    if as_json:
        emit_json(made.raw)
        return
    stdout().print(f"Booked appointment {made.id}: {escape(_sentence(made))}.")


@app.command("list")
def list_appointments(
    center: Annotated[
        int | None, typer.Option("--center", "-c", help="Operators: one center's appointments.")
    ] = None,
    day: Annotated[
        str | None,
        typer.Option("--date", help="Operators: the day (2026-12-01, today, tomorrow)."),
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Include cancelled (and past) ones.")] = False,
    as_json: JsonOption = False,
) -> None:
    """List your appointments ahead (operators: a day's appointments at a center)."""
    when = _day(day, "--date")

    async def work(pitstop: PitstopClient) -> list[Appointment]:
        return await pitstop.service.appointments(
            center_id=center, day=when, include_cancelled=all_
        )

    found = run(work, as_json=as_json)
    if as_json:
        emit_json([a.raw for a in found])
        return
    if not found:
        stdout().print("No service appointments.")
        return
    table = Table(show_edge=False)
    for column in ("ID", "When", "Center", "Car", "Problem", "Status"):
        table.add_column(column)
    for a in found:
        status = a.status
        if a.status == "booked":
            status = f"booked, {relative(a.starts_at, now=_now())}"
        elif a.status == "cancelled":
            status = f"[dim]cancelled{f' by {escape(a.cancelled_by)}' if a.cancelled_by else ''}[/]"
        table.add_row(
            str(a.id),
            escape(_when(a.starts_at, a.tz)),
            escape(a.center_name),
            escape(f"{a.vehicle_name}\n{a.vin}" if a.vehicle_name else a.vin),
            escape(a.description),
            status,
        )
    stdout().print(table)


@app.command()
def reschedule(appointment: AppointmentId, at: AtOption, as_json: JsonOption = False) -> None:
    """Move an appointment to another slot of the same center (it keeps its place if that fails)."""
    starts_at = _at(at)

    async def work(pitstop: PitstopClient) -> Appointment:
        try:
            return await pitstop.service.reschedule(appointment, starts_at)
        except (Conflict, InvalidInput) as exc:
            if exc.error in ("slot_full", "invalid_field"):
                current = await pitstop.service.appointment(appointment)
                exc.message += f" Your appointment stays at {_when(current.starts_at, current.tz)}."
                raise _hint_slots(exc, current.center_id) from None
            raise

    moved = run(work, as_json=as_json)
    if as_json:
        emit_json(moved.raw)
        return
    stdout().print(f"Moved appointment {moved.id} to {escape(_sentence(moved))}.")


@app.command()
def cancel(appointment: AppointmentId, as_json: JsonOption = False) -> None:
    """Cancel an appointment; its slot is free again."""

    async def work(pitstop: PitstopClient) -> Appointment:
        return await pitstop.service.cancel(appointment)

    gone = run(work, as_json=as_json)
    if as_json:
        emit_json(gone.raw)
        return
    stdout().print(
        f"Cancelled appointment {gone.id}: {escape(_sentence(gone))}; the slot is free again."
    )


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="service")
