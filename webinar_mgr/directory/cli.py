"""``flask directory check [--json]``: every person who cannot be counted under an organisation,
a sector and (for governments) a member government, and the organisations waiting for review."""

from __future__ import annotations

import json

import click
from flask import Flask

from . import review


def register(app: Flask) -> None:
    @app.cli.group("directory")
    def directory() -> None:
        """The directory of organisations and contacts."""

    @directory.command("check")
    @click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
    def check(as_json: bool) -> None:
        """List every gap every module reports and the organisations to review.

        Exits 0 with "Nothing to fix." when there is none, 1 when there is something to fix.
        """
        report = review.check()
        if as_json:
            click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        elif report.nothing_to_fix:
            click.echo("Nothing to fix.")
        else:
            _print(report)
        if not report.nothing_to_fix:
            raise SystemExit(1)


def _print(report: review.CheckReport) -> None:
    if report.to_review:
        click.echo(f"Organisations to review ({len(report.to_review)}):")
        for org in report.to_review:
            where = f", {org.country_code}" if org.country_code else ""
            click.echo(f"  organisation {org.id}: {org.name} ({org.sector}{where}; added by {org.added_via or '-'})")
    if report.gaps:
        if report.to_review:
            click.echo("")
        click.echo(f"People who cannot be counted ({len(report.gaps)}):")
        for gap in report.gaps:
            link = f"  {gap.url}" if gap.url else ""
            click.echo(f"  {gap.kind} {gap.id}: {gap.label}: {gap.problem}{link}")
