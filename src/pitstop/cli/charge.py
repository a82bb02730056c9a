"""`pitstop charge ...`: start and stop charging, the charge limit, and charge schedules."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from pitstop.cli.owner_common import (
    JsonOption,
    VinArgument,
    clock_time,
    days,
    emit_json,
    parse_time,
    report_command,
    run,
    send_command,
    stdout,
)
from pitstop.client import CommandResult, PitstopClient, PitstopError

charge_app = typer.Typer(
    help="Start or stop charging, set the limit, manage schedules.", no_args_is_help=True
)
schedule_app = typer.Typer(help="The car's charge schedules.", no_args_is_help=True)
charge_app.add_typer(schedule_app, name="schedule")


@charge_app.command("start")
def charge_start(vin: VinArgument, as_json: JsonOption = False) -> None:
    """Start charging (the cable must be plugged in)."""
    send_command(vin, "charge_start", f"Charging started on {vin}.", as_json=as_json)


@charge_app.command("stop")
def charge_stop(vin: VinArgument, as_json: JsonOption = False) -> None:
    """Stop charging."""
    send_command(vin, "charge_stop", f"Charging stopped on {vin}.", as_json=as_json)


@charge_app.command("limit")
def charge_limit(
    vin: VinArgument,
    percent: Annotated[
        int, typer.Argument(metavar="PERCENT", help="The charge limit in % (50 to 100).")
    ],
    as_json: JsonOption = False,
) -> None:
    """Set the charge limit."""
    send_command(
        vin,
        "set_charge_limit",
        f"Charge limit of {vin} set to {percent} %.",
        as_json=as_json,
        percent=percent,
    )


# --- schedules --------------------------------------------------------------------------------


async def _schedules(pitstop: PitstopClient, vin: str) -> list[dict[str, Any]]:
    data = await pitstop.vehicle_data(vin, "charge_schedule_data")
    listed = (data.get("charge_schedule_data") or {}).get("charge_schedules") or []
    return [s for s in listed if isinstance(s, dict)]


def _print_schedules(vin: str, schedules: list[dict[str, Any]]) -> None:
    console = stdout()
    if not schedules:
        console.print(f"No charge schedules on {escape(vin)}.")
        return
    table = Table(
        "ID",
        "Name",
        "Days",
        "Start",
        "End",
        "Once",
        "Enabled",
        title=f"Charge schedules of {escape(vin)}",
    )
    for s in sorted(schedules, key=lambda s: int(s.get("id") or 0)):
        table.add_row(
            str(s.get("id", "—")),
            escape(str(s.get("name") or "—")),
            days(s.get("days_of_week")),
            clock_time(s.get("start_time")) if s.get("start_enabled") else "—",
            clock_time(s.get("end_time")) if s.get("end_enabled") else "—",
            "yes" if s.get("one_time") else "no",
            "yes" if s.get("enabled", True) else "no",
        )
    console.print(table)


@schedule_app.command("list")
def schedule_list(vin: VinArgument, as_json: JsonOption = False) -> None:
    """List the car's charge schedules."""

    async def work(pitstop: PitstopClient) -> list[dict[str, Any]]:
        return await _schedules(pitstop, vin)

    schedules = run(work, as_json=as_json)
    if as_json:
        emit_json(schedules)
    else:
        _print_schedules(vin, schedules)


@schedule_app.command("add")
def schedule_add(
    vin: VinArgument,
    days_of_week: Annotated[
        str,
        typer.Option("--days", help="All, Weekdays, Weekends, or day names like Monday,Friday."),
    ] = "All",
    start: Annotated[
        str | None, typer.Option(help="When to start charging, HH:MM.", show_default=False)
    ] = None,
    end: Annotated[
        str | None, typer.Option(help="When to stop charging, HH:MM.", show_default=False)
    ] = None,
    one_time: Annotated[bool, typer.Option("--one-time", help="Run once, then remove it.")] = False,
    name: Annotated[str | None, typer.Option(help="A name for the schedule.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Add a charge schedule: charge from --start (and/or until --end) on --days."""
    start_min, end_min = parse_time(start), parse_time(end)
    if start_min is None and end_min is None:
        raise typer.BadParameter("give --start, --end or both", param_hint="--start/--end")
    params: dict[str, Any] = {
        "days_of_week": days_of_week,
        "enabled": True,
        "start_enabled": start_min is not None,
        "end_enabled": end_min is not None,
        "one_time": one_time,
    }
    if start_min is not None:
        params["start_time"] = start_min
    if end_min is not None:
        params["end_time"] = end_min
    if name:
        params["name"] = name

    async def work(pitstop: PitstopClient) -> tuple[CommandResult, list[dict[str, Any]] | None]:
        outcome = await pitstop.command(vin, "add_charge_schedule", **params)
        listed = None
        if outcome.result:
            try:
                listed = await _schedules(pitstop, vin)
            except PitstopError:
                pass  # added all the same; the list is a courtesy
        return outcome, listed

    outcome, listed = run(work, as_json=as_json)
    window = " to ".join(t for t in (start, end) if t)
    report_command(
        vin,
        "add_charge_schedule",
        outcome,
        f"Added a charge schedule to {vin}: {days_of_week}, {window}"
        f"{', once' if one_time else ''}.",
        as_json=as_json,
    )
    if listed is not None and not as_json:
        _print_schedules(vin, listed)


@schedule_app.command("remove")
def schedule_remove(
    vin: VinArgument,
    schedule_id: Annotated[int, typer.Argument(metavar="ID", help="The schedule's id (see list).")],
    as_json: JsonOption = False,
) -> None:
    """Remove a charge schedule."""
    send_command(
        vin,
        "remove_charge_schedule",
        f"Removed charge schedule {schedule_id} from {vin}.",
        as_json=as_json,
        id=schedule_id,
    )
