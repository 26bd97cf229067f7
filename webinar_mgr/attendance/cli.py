"""``flask attendance import --event ID FILE [--tz ZONE] [--dry-run] [--replace]``,
``flask attendance imports --event ID`` and ``flask attendance undo --event ID --import ID``."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask
from flask_babel import gettext as _

from webinar_mgr.errors import DomainError
from webinar_mgr.events.models import Event
from webinar_mgr.persistence import get_or_404

from . import parsers, services
from .merging import Effect
from .models import MODE_MERGE, MODE_REPLACE


def register(app: Flask) -> None:
    @app.cli.group("attendance")
    def attendance() -> None:
        """Attendance reports from Zoom and Teams."""

    @attendance.command("import")
    @click.option("--event", "event_id", type=int, required=True, help="The event's id.")
    @click.option("--tz", default=None, help="Time zone of the report's times (default: the event's).")
    @click.option("--dry-run", is_flag=True, help="Read and match, print the summary and the effect, save nothing.")
    @click.option(
        "--replace",
        is_flag=True,
        help="Replace the earlier imports instead of merging with them (people linked by hand and check-ins are kept).",
    )
    @click.argument("file", type=click.Path(exists=True, dir_okay=False))
    def import_cmd(event_id: int, tz: str | None, dry_run: bool, replace: bool, file: str) -> None:
        """Import an attendance report for an event: merged with the earlier imports (a person's
        sessions combined, overlaps counted once), or replacing them with --replace."""
        path = Path(file)
        if path.stat().st_size > parsers.MAX_BYTES:
            raise click.ClickException(
                f"{path.name} is too large ({path.stat().st_size / 1_048_576:.1f} MB; "
                f"the limit is {parsers.MAX_BYTES // 1_048_576} MB). Nothing was saved."
            )
        mode = MODE_REPLACE if replace else MODE_MERGE
        try:
            event = get_or_404(Event, event_id, _("There is no such event."))
            preview, imp, effect = services.import_file(
                event, path.name, path.read_bytes(), tz, dry_run, mode=mode, actor=None
            )
        except services.AlreadyImported as exc:
            click.echo(exc.message)
            return  # nothing to do is not a failure: running the same import twice is safe
        except DomainError as exc:
            lines = [exc.message]
            for line, message in getattr(exc, "problems", [])[:50]:
                lines.append(f"  line {line}: {message}")
            raise click.ClickException("\n".join(lines)) from None
        _print_summary(event, preview)
        click.echo(f"Effect ({'replace' if replace else 'merge'}): {effect.line()}")
        click.echo(
            f"  sessions added {effect.sessions_added}, already imported {effect.sessions_known}, "
            f"removed {effect.sessions_removed}; in the co-chairs' review "
            f"{effect.registrations_before} -> {effect.registrations_after}; to resolve {effect.to_resolve}"
        )
        if dry_run:
            click.echo("Dry run: nothing was saved.")
        else:
            click.echo(f"Saved as import {imp.id}.")

    @attendance.command("imports")
    @click.option("--event", "event_id", type=int, required=True, help="The event's id.")
    def imports_cmd(event_id: int) -> None:
        """List an event's imports with their effect."""
        try:
            event = get_or_404(Event, event_id, _("There is no such event."))
        except DomainError as exc:
            raise click.ClickException(exc.message) from None
        for imp in services.imports(event):
            effect = Effect.from_dict(imp.effect)
            state = f"undone {imp.undone_at:%Y-%m-%d %H:%M} UTC" if imp.undone_at else "counts"
            who = imp.imported_by.email if imp.imported_by else "command line"
            click.echo(
                f"{imp.id}\t{imp.imported_at:%Y-%m-%d %H:%M} UTC\t{who}\t{imp.filename}\t{imp.format}\t{imp.mode}\t"
                f"rows {imp.rows_read}, people {imp.people}\t{effect.line() if effect else '-'}\t{state}"
            )

    @attendance.command("undo")
    @click.option("--event", "event_id", type=int, required=True, help="The event's id.")
    @click.option("--import", "import_id", type=int, required=True, help="The import's id (see `imports`).")
    def undo_cmd(event_id: int, import_id: int) -> None:
        """Undo an import: its sessions stop counting, the people it touched are recomputed."""
        try:
            event = get_or_404(Event, event_id, _("There is no such event."))
            imp, effect = services.undo_import(event, import_id, actor=None)
        except DomainError as exc:
            raise click.ClickException(exc.message) from None
        click.echo(f"Import {imp.id} ({imp.filename}) undone: {effect.line()}")


def _print_summary(event: Event, preview: services.Preview) -> None:
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
