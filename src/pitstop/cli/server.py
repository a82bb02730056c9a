"""Verbs for whoever runs Pitstop: serve, demo, sim, and local user and token admin."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from pitstop.accounts.tokens import TokenInfo
from pitstop.responses import ApiError
from pitstop.runtime import Runtime
from pitstop.settings import Settings, load_settings

T = TypeVar("T")
console = Console()
err = Console(stderr=True)

token_app = typer.Typer(
    help="Create, list and revoke access tokens (on this server's database).", no_args_is_help=True
)
user_app = typer.Typer(help="Create users (on this server's database).", no_args_is_help=True)


def _settings(data_dir: Path | None = None) -> Settings:
    try:
        return load_settings(data_dir=data_dir)
    except ValueError as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Run the Pitstop server (database from PITSTOP_DATABASE_URL; SQLite in the data dir by default).

    On SIGTERM it drains: /readyz turns 503, it serves on for PITSTOP_DRAIN_GRACE seconds, tells
    its cars to reconnect, finishes requests in flight and exits 0."""
    settings = _settings()  # fail early, and readably, on bad settings
    from pitstop.server import run

    try:
        run(
            host=host,
            port=port,
            workers=workers,
            grace=settings.drain_grace,
            timeout=settings.drain_timeout,
        )
    except OSError as exc:
        err.print(f"[red]Cannot listen on {host}:{port}: {exc.strerror}.[/] Try another --port.")
        raise typer.Exit(1) from exc


def demo(
    port: Annotated[int, typer.Option(help="Port for the demo server.")] = 8000,
    host: Annotated[str, typer.Option(help="Address for the demo server.")] = "127.0.0.1",
    time_scale: Annotated[float, typer.Option(help="Simulated seconds per real second.")] = 10.0,
    story: Annotated[
        bool,
        typer.Option(
            "--story",
            help="Walk a maintenance window through its life (announced, reminded, started, "
            "extended, finished) in about five minutes.",
        ),
    ] = False,
    story_speed: Annotated[
        float, typer.Option(help="How many times faster the story runs.", min=0.1)
    ] = 1.0,
) -> None:
    """A server on SQLite with three simulated cars, a demo owner and an operator; Ctrl-C stops it.

    Its mail goes to a built-in SMTP sink, readable at /admin/mail."""
    from pitstop.demo import run_demo

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    settings = _settings()
    if os.environ.get("PITSTOP_DATABASE_URL"):
        err.print(
            "[yellow]The demo runs on SQLite in the data dir; PITSTOP_DATABASE_URL is ignored.[/]"
        )
        settings.database_url = ""
    try:
        asyncio.run(
            run_demo(
                settings,
                host=host,
                port=port,
                time_scale=time_scale,
                console=console,
                story=story_speed if story else None,
            )
        )
    except OSError as exc:
        err.print(
            f"[red]Cannot start the demo server on {host}:{port}: {exc.strerror}.[/] Try --port."
        )
        raise typer.Exit(1) from exc


def sim(
    url: Annotated[
        str, typer.Option(envvar="PITSTOP_URL", help="The Pitstop server.")
    ] = "http://127.0.0.1:8000",
    cars: Annotated[int, typer.Option(help="How many cars.")] = 3,
    token: Annotated[
        str, typer.Option(envvar="PITSTOP_TOKEN", help="An operator token, to register the cars.")
    ] = "",
    owner: Annotated[
        str, typer.Option(help="The owner's email; the cars are registered to them.")
    ] = "owner@pitstop.example",
    time_scale: Annotated[float, typer.Option(help="Simulated seconds per real second.")] = 1.0,
    tick: Annotated[float, typer.Option(help="Real seconds between two physics steps.")] = 1.0,
    vin_prefix: Annotated[
        str, typer.Option(help="First 7 characters of the cars' VINs.")
    ] = "5YJ3SVX",
) -> None:
    """Run a fleet of simulated cars against a server, in this process, until Ctrl-C."""
    from pitstop.sim.fleet import CredentialStore, Fleet, provision

    if not token:
        err.print(
            "[red]An operator token is needed to register the cars:[/] pass --token or set PITSTOP_TOKEN."
        )
        raise typer.Exit(2)
    settings = _settings()
    store = CredentialStore(settings.data_dir / "sim-cars.json")

    async def main() -> None:
        creds = await provision(
            url, token, owner_email=owner, count=cars, store=store, prefix=vin_prefix
        )
        fleet = Fleet(url, creds, time_scale=time_scale, tick=tick)
        console.print(
            f"{len(creds)} simulated cars for {owner} connecting to {url}. Ctrl-C stops them."
        )
        await fleet.run_forever()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        console.print("Simulation stopped.")
    except (RuntimeError, OSError) as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc


def _with_runtime(work: Callable[[Runtime], Awaitable[T]]) -> T:
    """Run admin work on this server's database (migrated first), without a server."""
    from pitstop.app import build_runtime
    from pitstop.clock import SystemClock
    from pitstop.db import migrate

    settings = _settings()

    async def main() -> T:
        rt = build_runtime(settings, SystemClock())
        try:
            await migrate(rt.engine)
            return await work(rt)
        finally:
            await rt.engine.dispose()

    return asyncio.run(main())


@user_app.command("create")
def user_create(
    email: Annotated[str, typer.Option(help="The user's email.")],
    role: Annotated[str, typer.Option(help="owner or operator.")] = "owner",
    name: Annotated[str, typer.Option(help="Full name.")] = "",
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)
    ] = "",
) -> None:
    """Create an owner or an operator."""
    from pitstop.accounts.users import User

    async def work(rt: Runtime) -> User:
        return await rt.users.create(email, password, role=role, full_name=name)

    try:
        user = _with_runtime(work)
    except ValueError as exc:
        err.print(f"[red]Cannot create the user: {exc}.[/]")
        raise typer.Exit(1) from exc
    console.print(f"Created {user.role} {user.email} (id {user.id}).")


@token_app.command("create")
def token_create(
    email: Annotated[str, typer.Option(help="Whose token.")],
    label: Annotated[str, typer.Option(help="What it is for, shown in `token list`.")] = "",
    scopes: Annotated[
        str, typer.Option(help="Space-separated scopes; default: all the role allows.")
    ] = "",
    ttl_days: Annotated[float, typer.Option(help="Lifetime in days.")] = 30.0,
) -> None:
    """Create an access token for a user and print it (shown this once)."""

    async def work(rt: Runtime) -> str:
        user = await rt.users.by_email(email)
        if user is None:
            raise LookupError(f"There is no user with email {email}.")
        grant = await rt.tokens.issue(
            user,
            frozenset(scopes.split()) if scopes else None,
            client_id="pitstop-admin",
            label=label,
            ttl=int(ttl_days * 86400),
            refresh=False,
        )
        return grant.access_token

    try:
        console.print(_with_runtime(work), soft_wrap=True)
    except (LookupError, ApiError) as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc


@token_app.command("list")
def token_list() -> None:
    """List access tokens."""

    async def work(rt: Runtime) -> list[TokenInfo]:
        return await rt.tokens.list()

    table = Table("id", "user", "label", "scopes", "expires", "revoked")
    for t in _with_runtime(work):
        table.add_row(
            str(t.id),
            t.email,
            t.label,
            t.scopes,
            f"{t.expires_at:%Y-%m-%d %H:%M}",
            f"{t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "",
        )
    console.print(table)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[int, typer.Argument(help="The id from `pitstop token list`.")],
) -> None:
    """Revoke a token: it stops working at once on this server (within seconds on others)."""

    async def work(rt: Runtime) -> bool:
        return await rt.tokens.revoke(token_id=token_id)

    if not _with_runtime(work):
        err.print(
            f"[red]There is no active token with id {token_id}.[/] `pitstop token list` shows them."
        )
        raise typer.Exit(1)
    console.print(f"Token {token_id} revoked.")


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(demo)
    app.command()(sim)
    app.add_typer(user_app, name="user")
    app.add_typer(token_app, name="token")
