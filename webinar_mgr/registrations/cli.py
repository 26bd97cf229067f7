"""``flask registrations ...``: repairs of stored registrations."""

from __future__ import annotations

import click
from flask import Flask

from .repair import repair_people


def register(app: Flask) -> None:
    group = click.Group("registrations", help="Registrations: repairs of stored data.")

    @group.command("repair")
    def repair() -> None:
        """Give stored registrations their organisation's sector and member government, and turn
        organisation names typed earlier into organisations (new ones listed for review)."""
        report = repair_people()
        click.echo(
            f"{report.derived} registration(s) took the sector and member government of their organisation; "
            f"{report.resolved} typed organisation name(s) became organisations; "
            f"{report.left} still without an organisation (see `flask directory check`)."
        )

    app.cli.add_command(group)
