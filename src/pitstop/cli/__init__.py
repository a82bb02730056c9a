"""The `pitstop` command: one Typer app, its verbs grouped by who uses them."""

from __future__ import annotations

import typer

from pitstop.cli import maintenance, owner, server, service

app = typer.Typer(
    name="pitstop",
    help="Pitstop: a self-hostable connected-car platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
server.register(app)
owner.register(app)
maintenance.register(app)
service.register(app)


def main() -> None:
    app()
