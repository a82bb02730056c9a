"""What the owner verbs share: running the async client, printing results and failures.

Every failure reaches the user as one sentence and a hint on stderr (or, with `--json`, as a
JSON object on stdout) and a non-zero exit code; never as a traceback.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from pitstop.client import (
    CommandResult,
    InvalidInput,
    PitstopClient,
    PitstopError,
    RetryEvent,
)

T = TypeVar("T")

#: Exit codes: 1 for anything that went wrong (an error, a refusal); 2 is Click's usage error.
EXIT_FAILED = 1

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
VinArgument = Annotated[
    str, typer.Argument(metavar="VIN", help="The car's VIN (or id).", show_default=False)
]

#: Refusals that mean "it is already so": reported as success.
ALREADY = {
    ("set_charge_limit", "already_set"): "The charge limit was already set to that.",
    ("charge_start", "is_charging"): "The car is already charging.",
    ("charge_stop", "not_charging"): "The car was not charging.",
}


def stdout() -> Console:
    # Made per call: a Console reads the terminal's width (and COLUMNS) when it is created.
    return Console(highlight=False)


def stderr() -> Console:
    return Console(stderr=True, highlight=False)


def emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def fail(exc: PitstopError, *, as_json: bool = False) -> NoReturn:
    """Print `exc` as a sentence and a hint, and exit non-zero."""
    if as_json:
        emit_json(
            {
                "error": exc.error or type(exc).__name__,
                "message": exc.message,
                "hint": exc.hint,
                "status": exc.status,
            }
        )
    else:
        hint = exc.hint
        if not hint and isinstance(exc, InvalidInput):
            hint = "the command's --help lists the accepted values"
        console = stderr()
        console.print(f"[bold red]{escape(exc.message)}[/]")
        if hint:
            console.print(f"[dim]Hint:[/] {escape(hint.rstrip('.'))}.")
    raise typer.Exit(EXIT_FAILED)


def announce_retry(event: RetryEvent) -> None:
    """Tell the user, on stderr, why they are waiting."""
    if event.reason.startswith("503"):
        why = f"The server is unavailable ({event.reason})"
    elif event.reason.startswith("429"):
        why = "The server asks to slow down (429)"
    else:
        why = f"No answer from the server ({event.reason})"
    stderr().print(f"[dim]{escape(why)}: trying again in {event.wait:.1f} s…[/]")


def client_from_env() -> PitstopClient:
    return PitstopClient.from_env(on_retry=announce_retry)


def run(
    work: Callable[[PitstopClient], Awaitable[T]],
    *,
    as_json: bool = False,
    client: Callable[[], PitstopClient] = client_from_env,
    spinner: str | None = None,
) -> T:
    """Run `work` with a client made from the environment and stored credentials.

    With `spinner`, a spinner with that text runs on stderr meanwhile.
    """

    async def main() -> T:
        async with client() as pitstop:
            return await work(pitstop)

    try:
        if spinner is None:
            return asyncio.run(main())
        with stderr().status(escape(spinner)):
            return asyncio.run(main())
    except PitstopError as exc:
        fail(exc, as_json=as_json)


def report_command(
    vin: str, name: str, outcome: CommandResult, done: str, *, as_json: bool = False
) -> None:
    """Say what a command did; a refusal is printed with the car's reason and exits 1."""
    already = ALREADY.get((name, outcome.reason)) if not outcome.result else None
    ok = outcome.result or already is not None
    if as_json:
        emit_json({"vin": vin, "command": name, "result": outcome.result, "reason": outcome.reason})
    elif ok:
        stdout().print(escape(already or done))
    else:
        stderr().print(
            f"[bold red]The car refused {escape(name)}: {escape(outcome.reason or 'no reason given')}[/]"
        )
    if not ok:
        raise typer.Exit(EXIT_FAILED)


def send_command(vin: str, name: str, done: str, *, as_json: bool = False, **params: Any) -> None:
    """Send one command to `vin` and report it."""

    async def work(pitstop: PitstopClient) -> CommandResult:
        return await pitstop.command(vin, name, **params)

    report_command(vin, name, run(work, as_json=as_json), done, as_json=as_json)


# --- formatting -------------------------------------------------------------------------------

KM_PER_MILE = 1.609344
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def parse_time(value: str | None) -> int | None:
    """`HH:MM` as minutes after midnight (a Typer callback)."""
    if value is None:
        return None
    match = _TIME.match(value.strip())
    if match is None:
        raise typer.BadParameter(f"{value!r} is not a time of day like 23:00")
    return int(match[1]) * 60 + int(match[2])


def clock_time(minutes: object) -> str:
    if not isinstance(minutes, int | float):
        return "—"
    m = int(minutes) % 1440
    return f"{m // 60:02d}:{m % 60:02d}"


def distance(miles: object) -> str:
    """Tesla's miles, shown as km and mi."""
    if not isinstance(miles, int | float):
        return "—"
    return f"{miles * KM_PER_MILE:,.0f} km ({miles:,.0f} mi)"


def number(value: object, unit: str = "", digits: int = 0) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "—"
    return f"{value:.{digits}f}{(' ' + unit) if unit else ''}"


def duration(hours: object) -> str:
    if not isinstance(hours, int | float) or hours <= 0:
        return "—"
    minutes = round(hours * 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


_DAYS = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")


def days(mask: object) -> str:
    """Tesla's days_of_week bitmask (Sunday is bit 0) as words."""
    if isinstance(mask, str):
        return mask
    if not isinstance(mask, int):
        return "—"
    mask &= 0b1111111
    named = {0b1111111: "All", 0b0111110: "Weekdays", 0b1000001: "Weekends"}
    if mask in named:
        return named[mask]
    return ", ".join(d for i, d in enumerate(_DAYS) if mask & (1 << i)) or "—"
