"""The co-chairs' review: pages, charts (SVG), exports (CSV/XLSX) and the activity report (PDF)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from webinar_mgr import exports
from webinar_mgr.events.signals import PageLink, event_page_links
from webinar_mgr.security import ORGANISERS, REVIEWERS, access, has_role

from . import charts, services
from .pdf import render_activity_report

bp = Blueprint("reports", __name__, url_prefix="/review")
# SVG charts are served as images: no scripts at all, pygal's own inline styles allowed.
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _period_args() -> dict:
    """The query-string arguments that define the period view (for links and exports)."""
    return {k: v for k, v in request.args.items() if k in ("from", "to", "last", "group") and v}


def _period() -> tuple:
    """(start, end, shifted): the period in the query string, or the default one."""
    return services.resolve_period(request.args.get("from"), request.args.get("to"))


def _period_review(period: tuple | None = None) -> services.PeriodReview:
    start, end, _shifted = period or _period()
    last_n = services.parse_last_n(request.args.get("last"))
    return services.period_review(start, end, last_n=last_n, group=request.args.get("group", "event"))


def _svg(svg: str) -> Response:
    resp = Response(svg, mimetype="image/svg+xml")
    resp.headers["Content-Security-Policy"] = SVG_CSP
    resp.headers["Cache-Control"] = "private, max-age=60"
    return resp


@bp.get("")
@access.roles(*REVIEWERS)
def index():
    try:
        period = _period()
        review = _period_review(period)
    except services.BadPeriod as exc:
        return render_template(
            "reports/index.html", review=None, error=exc.message, args=request.args, period_args={}
        ), 400
    history = services.held_history() if not review.events else None
    return render_template(
        "reports/index.html",
        review=review,
        error=None,
        args=request.args,
        period_args=_period_args(),
        history=history,
        shifted=period[2],
        can_fix_people=has_role(current_user, *ORGANISERS),
    )


@bp.get("/events/<int:event_id>")
@access.roles(*REVIEWERS)
def event(event_id: int):
    review = services.event_review(event_id)
    return render_template("reports/event.html", review=review)


@bp.get("/export/<table>.<fmt>")
@access.roles(*REVIEWERS)
def export(table: str, fmt: str):
    review = _period_review()
    return exports.response(services.export_period_table(review, table, fmt, actor=current_user))


@bp.get("/events/<int:event_id>/export/<table>.<fmt>")
@access.roles(*REVIEWERS)
def event_export(event_id: int, table: str, fmt: str):
    review = services.event_review(event_id)
    return exports.response(services.export_event_table(review, table, fmt, actor=current_user))


@bp.get("/chart/<name>.svg")
@access.roles(*REVIEWERS)
def chart(name: str):
    if name not in charts.PERIOD_CHARTS:
        abort(404)
    return _svg(charts.render(charts.PERIOD_CHARTS, name, _period_review()))


@bp.get("/events/<int:event_id>/chart/<name>.svg")
@access.roles(*REVIEWERS)
def event_chart(event_id: int, name: str):
    if name not in charts.EVENT_CHARTS:
        abort(404)
    return _svg(charts.render(charts.EVENT_CHARTS, name, services.event_review(event_id)))


@bp.get("/activity-report.pdf")
@access.roles(*REVIEWERS)
def activity_report():
    start, end, _shifted = _period()
    last_n = services.parse_last_n(request.args.get("last"))
    report = services.activity_report(start, end, last_n=last_n)
    pdf = render_activity_report(report)
    resp = Response(pdf, mimetype="application/pdf")
    resp.headers["Content-Disposition"] = exports.content_disposition(
        f"activity-report-{start.isoformat()}-{end.isoformat()}.pdf"
    )
    return resp


@event_page_links.connect
def _event_page_links(event, **_kwargs) -> PageLink:
    return PageLink(_("Review"), url_for("reports.event", event_id=event.id), order=50)
