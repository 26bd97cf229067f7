"""``flask privacy export --email``, ``flask privacy erase --email [--yes]``, ``flask privacy purge [--dry-run]``."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from webinar_mgr.errors import DomainError

from . import people, retention

privacy_group = AppGroup("privacy", help="Personal data: a person's export and erasure, the retention purge.")


@privacy_group.command("export")
@click.option("--email", required=True, help="The person's email address.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Write the JSON here (default: standard output).",
)
def export(email: str, out: str | None) -> None:
    """Everything held about a person, as JSON (audited without the address)."""
    try:
        person = people.require_person(email)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    people.record_export(person, actor=None)
    body = people.export_json(person)
    if out:
        with open(out, "wb") as fh:
            fh.write(body)
        click.echo(f"Wrote {out} ({len(body)} bytes).", err=True)
    else:
        click.echo(body.decode("utf-8"))


@privacy_group.command("erase")
@click.option("--email", required=True, help="The person's email address.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def erase(email: str, yes: bool) -> None:
    """Anonymise a person in place (counts stay), remove their mails; audited without the data."""
    try:
        person = people.require_person(email)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    counts = ", ".join(f"{k} {v}" for k, v in person.counts().items() if v)
    click.echo(f"Held about {person.email}: {counts}.")
    if not yes and not click.confirm("Erase this person? This cannot be undone", default=False):
        raise click.ClickException("Nothing was erased.")
    try:
        result = people.erase(email, actor=None)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(
        f"Erased {result.email}: {result.counts['registrations']} registration(s), {result.counts['attendance']} "
        f"attendance record(s), {result.counts['commitments']} commitment(s) anonymised; "
        f"{result.counts['mails']} mail(s) removed; {result.scrubbed_cells} other text(s) cleaned."
    )


@privacy_group.command("purge")
@click.option("--dry-run", is_flag=True, help="Only count what is past its retention period.")
def purge(dry_run: bool) -> None:
    """Anonymise or remove what is past its retention period (the worker does it daily)."""
    result = retention.purge(dry_run=dry_run)
    verb = "Would purge" if dry_run else "Purged"
    click.echo(f"{verb}: " + ", ".join(f"{k} {v}" for k, v in result.counts.items()) + ".")
    for reason in result.skipped:
        click.echo(f"Skipped {reason}", err=True)
    if result.skipped and not dry_run:
        raise SystemExit(3)


def register(app: Flask) -> None:
    app.cli.add_command(privacy_group)
