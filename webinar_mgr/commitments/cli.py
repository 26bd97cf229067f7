"""``flask commitments ...``: the reminders job on demand and a summary for the terminal."""

from __future__ import annotations

import click
from flask import Flask

from . import queries, services


def register(app: Flask) -> None:
    group = click.Group("commitments", help="Voluntary commitments: reminders and totals.")

    @group.command("remind")
    def remind() -> None:
        """Queue the due reminders and overdue notices now (the worker also does this each round)."""
        n = services.send_reminders()
        click.echo(f"{n} commitment reminder(s) queued; `flask worker --once` delivers them.")

    @group.command("summary")
    @click.option("--event", "event_id", type=int, default=None, help="Only this event (id).")
    def summary(event_id: int | None) -> None:
        """Print the totals per state, the number overdue and the delivery rate."""
        t = queries.totals(queries.Filters(event_id=event_id), services.today())
        for status, n in t.by_status.items():
            click.echo(f"{status:12s} {n:6d}")
        click.echo(f"{'overdue':12s} {t.overdue:6d}")
        rate = "-" if t.delivery_rate is None else f"{t.delivery_rate:.0%}"
        click.echo(f"delivery rate (delivered / (all - withdrawn)): {rate}")

    app.cli.add_command(group)
