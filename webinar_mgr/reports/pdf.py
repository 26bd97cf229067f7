"""The activity report as a PDF (WeasyPrint, A4, Noto fonts for the region's scripts)."""
from __future__ import annotations

import logging
from pathlib import Path

from flask import current_app, render_template

from . import charts
from .services import ActivityReport

CSS_FILE = "pdf/activity_report.css"


def render_activity_report(report: ActivityReport) -> bytes:
    """Render the report; charts go in as SVG data URIs so WeasyPrint draws them as vectors."""
    from weasyprint import CSS, HTML

    # WeasyPrint logs every rendering step at INFO; only its warnings are worth reading.
    for name in ("weasyprint", "weasyprint.progress"):
        logging.getLogger(name).setLevel(logging.WARNING)

    review = report.review
    chart_uris = {}
    if review.events:
        chart_uris = {name: charts.data_uri(fn(review)) for name, fn in charts.PERIOD_CHARTS.items()}
    html = render_template("pdf/activity_report.html", report=report, review=review, charts=chart_uris,
                           org_name=current_app.config.get("ORGANISATION_NAME"))
    css_path = Path(current_app.root_path).parent / "templates" / CSS_FILE
    return HTML(string=html, base_url=str(css_path.parent)).write_pdf(stylesheets=[CSS(filename=str(css_path))])
