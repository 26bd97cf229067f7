"""``flask report activity --from DATE --to DATE --out FILE.pdf``."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from webinar_mgr.errors import DomainError

from . import services
from .pdf import render_activity_report

report_group = AppGroup("report", help="Reports for the co-chairs (the activity report PDF).")


@report_group.command("activity")
@click.option("--from", "from_", required=True, metavar="YYYY-MM-DD", help="First day of the period.")
@click.option("--to", "to", required=True, metavar="YYYY-MM-DD", help="Last day of the period.")
@click.option(
    "--out", "out", required=True, type=click.Path(dir_okay=False, writable=True), help="Where to write the PDF."
)
def activity(from_: str, to: str, out: str) -> None:
    """Write the activity report for a period (events held, attendance, commitments, upcoming)."""
    try:
        start, end = services.parse_period(from_, to)
        report = services.activity_report(start, end)
    except DomainError as exc:
        raise click.BadParameter(exc.message, param_hint="--from/--to") from None
    target = Path(out)
    if not target.parent.exists():
        raise click.BadParameter(f"the folder {target.parent} does not exist", param_hint="--out")
    pdf = render_activity_report(report)
    target.write_bytes(pdf)
    review = report.review
    click.echo(
        f"Activity report {start.isoformat()} to {end.isoformat()}: {len(review.events)} event(s) held, "
        f"{review.total.attended} attendance(s), {len(report.upcoming) + len(report.tbc)} upcoming; "
        f"written to {target} ({len(pdf) // 1024} KB)."
    )


def register(app: Flask) -> None:
    app.cli.add_command(report_group)
