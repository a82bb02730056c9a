"""`pitstop maintenance ...`: operators schedule and run maintenance windows on a running server.

Talks to the server at `PITSTOP_URL` with `PITSTOP_TOKEN` (an operator token, e.g. from
`pitstop token create`, or the saved sign-in). Times are read and shown in the operator's zone
(`PITSTOP_TZ`, `TZ`, else the system's); `--json` prints the window as the API gives it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from pitstop.cli.owner_common import JsonOption, emit_json, run, stdout
from pitstop.cli.when import WhenError, parse_duration, parse_when
from pitstop.client import Conflict, PitstopClient, Window
from pitstop.client._words import format_duration, local_zone, relative, timestamp

app = typer.Typer(
    help="Schedule and run maintenance windows (operators; PITSTOP_URL and PITSTOP_TOKEN).",
    no_args_is_help=True,
)

WindowId = Annotated[int, typer.Argument(metavar="ID", help="The window's id.", show_default=False)]
MessageOption = Annotated[str, typer.Option("--message", "-m", help="A note for the timeline.")]

REASONS = "bug_fixes, performance, new_features, security_update, release_preparation, hardware_upgrade, configuration, other"
COMPONENTS = (
    "vehicle_data, vehicle_commands, charging, service, accounts, notifications, web, vehicle_link"
)
STATUS_STYLE = {
    "scheduled": "cyan",
    "in_progress": "bold yellow",
    "completed": "green",
    "cancelled": "dim",
}


def _now() -> datetime:
    return datetime.now(UTC)


def _when(text: str, option: str) -> datetime:
    try:
        return parse_when(text, now=_now())
    except WhenError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from exc


def _minutes(text: str, option: str) -> float:
    try:
        return parse_duration(text).total_seconds() / 60
    except WhenError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from exc


# --- how a window reads -----------------------------------------------------------------------


def _span(window: Window, *, short: bool = False) -> str:
    """`Tue 1 Dec 02:00 CET → 02:30 CET (30 min)`; short: `Tue 1 Dec 02:00–02:30 CET`."""
    start, end = window.starts_at, window.expected_end
    if start is None or end is None:
        return "—"
    now, tz = _now(), local_zone()
    first = timestamp(start, now=now, tz=tz)
    same_day = start.astimezone(tz).date() == end.astimezone(tz).date()
    if short and same_day:
        zone = end.astimezone(tz).strftime("%Z")
        return f"{first.removesuffix(' ' + zone)}–{end.astimezone(tz):%H:%M} {zone}"
    last = end.astimezone(tz).strftime("%H:%M %Z") if same_day else timestamp(end, now=now, tz=tz)
    return f"{first} → {last}" + ("" if short else f" ({format_duration(end - start)})")


def _progress(window: Window) -> str:
    """Where the window stands now, in words."""
    now = _now()
    if window.status == "scheduled" and window.starts_at is not None:
        return f"starts {relative(window.starts_at, now=now)}"
    if window.status == "in_progress" and window.expected_end is not None:
        if window.expected_end <= now:
            return f"overrunning: was expected to end {relative(window.expected_end, now=now)}"
        return f"ends {relative(window.expected_end, now=now)}"
    if window.status == "completed" and window.ended_at is not None:
        return f"ended {relative(window.ended_at, now=now)}"
    return window.status.replace("_", " ")


def _mode(window: Window) -> str:
    if window.mode == "read_only":
        return "read-only (reads work, changes wait)"
    return "full"


def _status(window: Window) -> str:
    style = STATUS_STYLE.get(window.status, "")
    return f"[{style}]{window.status.replace('_', ' ')}[/]" if style else window.status


def _print_window(window: Window, *, timeline: bool = False) -> None:
    console = stdout()
    console.print(
        f"[bold]Window {window.id}[/] “{escape(window.title)}” ({escape(window.reason_text)}): "
        f"{_status(window)}, {escape(_progress(window))}"
    )
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column()
    grid.add_row("When", escape(_span(window)))
    grid.add_row("Scope", escape(window.scope_text))
    grid.add_row("Mode", escape(_mode(window)))
    if window.rrule:
        grid.add_row("Repeats", escape(window.rrule))
    if window.description:
        grid.add_row("For owners", escape(window.description))
    if window.status_url:
        grid.add_row("Status page", escape(window.status_url))
    console.print(grid)
    if timeline and window.updates:
        table = Table(title="Timeline", title_justify="left", show_edge=False)
        table.add_column("When", no_wrap=True)
        table.add_column("What")
        table.add_column("Message")
        table.add_column("By")
        now, tz = _now(), local_zone()
        for update in window.updates:
            at = timestamp(update.at, now=now, tz=tz) if update.at else "—"
            table.add_row(at, update.kind, escape(update.message), escape(update.author))
        console.print(table)


def _report(window: Window, sentence: str, as_json: bool) -> None:
    if as_json:
        emit_json(window.raw)
        return
    stdout().print(escape(sentence))
    _print_window(window)


# --- verbs ------------------------------------------------------------------------------------


@app.command()
def schedule(
    title: Annotated[str, typer.Option(help="What owners see, e.g. 'Database upgrade'.")],
    reason: Annotated[str, typer.Option(help=f"Why: {REASONS}.")],
    start: Annotated[
        str,
        typer.Option(
            help="When it starts: now, 'in 10m', 2026-12-01T02:00Z or '2026-12-01 02:00 Europe/Berlin'."
        ),
    ],
    duration: Annotated[
        str | None, typer.Option(help="How long: 30m, 2h, 1h30m (or give --end).")
    ] = None,
    end: Annotated[
        str | None, typer.Option(help="When it is expected to end (or give --duration).")
    ] = None,
    components: Annotated[
        str | None,
        typer.Option(help=f"Comma-separated parts it takes down ({COMPONENTS}); default: all."),
    ] = None,
    mode: Annotated[
        str, typer.Option(help="full (everything in scope answers 503) or read_only (reads work).")
    ] = "full",
    rrule: Annotated[
        str | None, typer.Option(help="Repeat it, e.g. 'FREQ=WEEKLY;BYDAY=TU'.")
    ] = None,
    description: Annotated[str, typer.Option(help="What owners are told about it.")] = "",
    force: Annotated[
        bool, typer.Option("--force", help="Schedule it even if it overlaps another window.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Schedule a maintenance window."""
    if (duration is None) == (end is None):
        raise typer.BadParameter("give either --duration or --end", param_hint="--duration/--end")
    starts_at = _when(start, "--start")
    minutes = _minutes(duration, "--duration") if duration is not None else None
    expected_end = _when(end, "--end") if end is not None else None
    if expected_end is not None and expected_end <= starts_at:
        tz = local_zone()
        raise typer.BadParameter(
            f"the end ({timestamp(expected_end, now=_now(), tz=tz)}) is not after the start "
            f"({timestamp(starts_at, now=_now(), tz=tz)})",
            param_hint="--end",
        )
    parts = [c.strip() for c in (components or "").split(",") if c.strip()]

    async def work(pitstop: PitstopClient) -> Window:
        try:
            return await pitstop.windows.schedule(
                title=title,
                reason=reason,
                starts_at=starts_at,
                expected_end=expected_end,
                duration_minutes=minutes,
                components=parts,
                mode=mode,
                rrule=rrule,
                description=description,
                force=force,
            )
        except Conflict as exc:
            exc.message = exc.message.replace("; use force to schedule it anyway", "")
            exc.hint = "add --force to schedule it anyway"
            raise

    window = run(work, as_json=as_json)
    _report(window, f"Scheduled window {window.id}.", as_json)


@app.command("list")
def list_windows(
    all_: Annotated[
        bool, typer.Option("--all", help="Include completed and cancelled windows.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """List windows, soonest first (scheduled and in progress; --all for every one)."""
    statuses = None if all_ else ["scheduled", "in_progress"]

    async def work(pitstop: PitstopClient) -> list[Window]:
        return await pitstop.windows.list(statuses)

    windows = run(work, as_json=as_json)
    if as_json:
        emit_json([w.raw for w in windows])
        return
    if not windows:
        stdout().print("No maintenance windows." if all_ else "No maintenance windows ahead.")
        return
    table = Table(show_edge=False)
    table.add_column("ID", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    table.add_column("Title (reason)")
    table.add_column("Scope")
    table.add_column("When")
    for w in windows:
        scope = w.scope_text + (" (read-only)" if w.mode == "read_only" else "")
        table.add_row(
            str(w.id),
            _status(w),
            f"{escape(w.title)} [dim]({escape(w.reason_text)})[/]",
            escape(scope),
            f"{escape(_span(w, short=True))}\n[dim]{escape(_progress(w))}[/]",
        )
    stdout().print(table)


@app.command()
def show(window_id: WindowId, as_json: JsonOption = False) -> None:
    """Show one window with its timeline."""

    async def work(pitstop: PitstopClient) -> Window:
        return await pitstop.windows.get(window_id)

    window = run(work, as_json=as_json)
    if as_json:
        emit_json(window.raw)
    else:
        _print_window(window, timeline=True)


@app.command()
def start(window_id: WindowId, as_json: JsonOption = False) -> None:
    """Start a scheduled window now (earlier than planned)."""

    async def work(pitstop: PitstopClient) -> Window:
        return await pitstop.windows.start(window_id)

    window = run(work, as_json=as_json)
    _report(window, f"Started window {window.id}: its scope now answers 503.", as_json)


@app.command()
def extend(
    window_id: WindowId,
    by: Annotated[str, typer.Argument(metavar="DURATION", help="How much longer: 30m, 1h, ...")],
    message: MessageOption = "",
    as_json: JsonOption = False,
) -> None:
    """Move a window's expected end later."""
    minutes = _minutes(by, "DURATION")

    async def work(pitstop: PitstopClient) -> Window:
        return await pitstop.windows.extend(window_id, minutes, message)

    window = run(work, as_json=as_json)
    _report(window, f"Extended window {window.id} by {format_duration(minutes * 60)}.", as_json)


@app.command()
def update(
    window_id: WindowId,
    message: Annotated[
        str, typer.Option("--message", "-m", help="What to tell owners.", show_default=False)
    ],
    as_json: JsonOption = False,
) -> None:
    """Post an update to a window's timeline (shown on the status page)."""
    if not message.strip():
        raise typer.BadParameter("an update needs a message", param_hint="--message")

    async def work(pitstop: PitstopClient) -> Window:
        return await pitstop.windows.update(window_id, message)

    window = run(work, as_json=as_json)
    _report(window, f"Posted an update to window {window.id}.", as_json)


@app.command()
def finish(window_id: WindowId, message: MessageOption = "", as_json: JsonOption = False) -> None:
    """Finish a window in progress: the service is back."""

    async def work(pitstop: PitstopClient) -> Window:
        return await pitstop.windows.finish(window_id, message)

    window = run(work, as_json=as_json)
    _report(window, f"Finished window {window.id}: Pitstop is back.", as_json)


@app.command()
def cancel(window_id: WindowId, message: MessageOption = "", as_json: JsonOption = False) -> None:
    """Cancel a scheduled window."""

    async def work(pitstop: PitstopClient) -> Window:
        return await pitstop.windows.cancel(window_id, message)

    window = run(work, as_json=as_json)
    _report(window, f"Cancelled window {window.id}.", as_json)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="maintenance")
