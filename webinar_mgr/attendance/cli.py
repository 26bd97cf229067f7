"""``flask attendance import --event ID FILE [--tz ZONE] [--dry-run]``."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask
from flask_babel import gettext as _

from webinar_mgr.errors import DomainError
from webinar_mgr.events.models import Event
from webinar_mgr.persistence import get_or_404

from . import parsers, services


def register(app: Flask) -> None:
    @app.cli.group("attendance")
    def attendance() -> None:
        """Attendance reports from Zoom and Teams."""

    @attendance.command("import")
    @click.option("--event", "event_id", type=int, required=True, help="The event's id.")
    @click.option("--tz", default=None, help="Time zone of the report's times (default: the event's).")
    @click.option("--dry-run", is_flag=True, help="Read and match, print the summary, save nothing.")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False))
    def import_cmd(event_id: int, tz: str | None, dry_run: bool, file: str) -> None:
        """Import an attendance report for an event (replaces the earlier import)."""
        path = Path(file)
        if path.stat().st_size > parsers.MAX_BYTES:
            raise click.ClickException(
                f"{path.name} is too large ({path.stat().st_size / 1_048_576:.1f} MB; "
                f"the limit is {parsers.MAX_BYTES // 1_048_576} MB). Nothing was saved."
            )
        try:
            event = get_or_404(Event, event_id, _("There is no such event."))
            preview, imp = services.import_file(event, path.name, path.read_bytes(), tz, dry_run, actor=None)
        except DomainError as exc:
            lines = [exc.message]
            for line, message in getattr(exc, "problems", [])[:50]:
                lines.append(f"  line {line}: {message}")
            raise click.ClickException("\n".join(lines)) from None
        s = preview.summary()
        click.echo(f"Event {event.id}: {event.title}")
        click.echo(f"Format: {preview.report.format_label}")
        click.echo(
            f"Times read in: {s['timezone']}"
            + (f"; date order: {preview.report.date_order_label}" if s["date_order"] else "")
        )
        click.echo(f"Rows read: {s['rows_read']}")
        click.echo(f"People: {s['people']}")
        click.echo(f"Matched: {s['matched']} (by email {s['matched_by_email']}, by name {s['matched_by_name']})")
        click.echo(f"Unmatched: {s['unmatched']}")
        click.echo(
            f"Attended: {s['attended']} (threshold {preview.threshold} minutes; "
            f"hosts and panelists count: {s['hosts_and_panelists']})"
        )
        for w in preview.warnings:
            click.echo(f"Note: {w}")
        for mp in preview.unmatched[:50]:
            click.echo(f"  unmatched: {mp.person.name} <{mp.person.email or 'no email'}> {mp.person.minutes} min")
        if dry_run:
            click.echo("Dry run: nothing was saved.")
        else:
            click.echo(f"Saved as import {imp.id}.")
