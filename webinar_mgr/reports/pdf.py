"""The activity report as a PDF (WeasyPrint, A4, Noto fonts for the region's scripts).

Rendering a long period takes seconds (bench/bench_review.py), so each PDF is kept under the
SHA-256 of its HTML: the HTML holds every figure, the charts, the date of issue, the language and
the template itself, so equal HTML means an equal PDF and any change of data makes a new one. The
co-chairs who download the same report after the first pay only for the HTML.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import sqlalchemy as sa
from flask import current_app, render_template
from flask_babel import get_locale

from webinar_mgr import pdfs
from webinar_mgr.extensions import db
from webinar_mgr.persistence import unit_of_work
from webinar_mgr.questions import services as feedback

from . import charts
from .models import RenderedReport
from .services import ActivityReport

CSS_FILE = "reports/activity_report_pdf.css"
KIND = "activity"
KEEP = 20  # rendered reports kept (the newest)


def activity_report_html(report: ActivityReport) -> str:
    """The report's HTML; charts go in as SVG data URIs so WeasyPrint draws them as vectors: the
    lean charts of :data:`charts.PDF_CHARTS` (a few paths and texts each; pygal's, which the web
    pages show, cost WeasyPrint about 0.5 s for the four, issue 19)."""
    review = report.review
    chart_uris = {}
    if review.events:
        chart_uris = {name: charts.data_uri(fn(review)) for name, fn in charts.PDF_CHARTS.items()}
    return render_template(
        "reports/activity_report_pdf.html",
        report=report,
        review=review,
        charts=chart_uris,
        org_name=current_app.config.get("ORGANISATION_NAME"),
        feedback=feedback.results_for_events(review.events),  # issue 15: surveys with answers
    )


def _render(html: str, progress=None) -> bytes:
    """The PDF of ``html`` with the process's fonts (one FontConfiguration) and the stylesheet
    parsed once per process (webinar_mgr.pdfs), fetching only the app's static files."""
    # WeasyPrint logs every rendering step at INFO; only its warnings are worth reading.
    for name in ("weasyprint", "weasyprint.progress"):
        logging.getLogger(name).setLevel(logging.WARNING)
    if progress:
        progress(50)
    content = pdfs.render(html, stylesheets=[pdfs.stylesheet(_css_path())])
    if progress:
        progress(85)
    return content


def _css_path() -> Path:
    return Path(current_app.root_path).parent / "templates" / CSS_FILE


def render_activity_report(report: ActivityReport, progress=None) -> bytes:
    """The report as PDF bytes: from the store when this exact report was rendered before.
    ``progress(per_cent)`` is called as the work goes on (the worker's report jobs)."""
    html = activity_report_html(report)
    if progress:
        progress(40)
    css = _css_path().read_bytes()
    digest = hashlib.sha256(f"{get_locale() or 'en'}\n{html}".encode() + css).hexdigest()
    cached = db.session.scalar(
        sa.select(RenderedReport.content).where(RenderedReport.kind == KIND, RenderedReport.content_hash == digest)
    )
    if cached is not None:
        return cached
    content = _render(html, progress)
    try:
        with unit_of_work():
            db.session.add(RenderedReport(kind=KIND, content_hash=digest, content=content))
            db.session.flush()
            keep = (
                sa.select(RenderedReport.id)
                .where(RenderedReport.kind == KIND)
                .order_by(RenderedReport.created_at.desc(), RenderedReport.id.desc())
                .limit(KEEP)
            )
            db.session.execute(
                sa.delete(RenderedReport).where(
                    RenderedReport.kind == KIND, RenderedReport.id.not_in(keep.scalar_subquery())
                )
            )
    except sa.exc.IntegrityError:
        # Another request stored the same report a moment ago: theirs is as good as ours.
        pass
    return content
