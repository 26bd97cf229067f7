"""The co-chairs' review: pages, charts (SVG), exports (CSV/XLSX) and the activity report (PDF)."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from webinar_mgr import exports
from webinar_mgr.errors import DomainError
from webinar_mgr.events.signals import PageLink, event_page_links
from webinar_mgr.forms_common import apply_domain_error
from webinar_mgr.links import abs_url
from webinar_mgr.questions import services as feedback
from webinar_mgr.security import ORGANISERS, REVIEWERS, access, has_role

from . import charts, membership_review, rendering, report_jobs, services, statement
from .forms import StatementForm
from .pdf import activity_report_html, render_activity_report
from .statement_files import render_statement_docx, render_statement_pdf

bp = Blueprint("reports", __name__, url_prefix="/review")
# SVG charts are served as images: no scripts at all, pygal's own inline styles allowed.
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
# The grid's parts (years or quarters) are all on the page up to this many cells; beyond, only the
# part chosen with ?grid= (the latest by default), with links to the others.
GRID_CELLS_AT_ONCE = 12_000

bp.add_app_template_global(rendering.table_rows, "report_rows")


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
    parts = services.grid_parts(review)
    keys = [p.key for p in parts]
    grid_open = request.args.get("grid") if request.args.get("grid") in keys else keys[-1]
    return render_template(
        "reports/index.html",
        review=review,
        grid_parts=parts,
        grid_open=grid_open,
        grid_all=len(review.members) * len(review.events) <= GRID_CELLS_AT_ONCE,
        grid_summary=services.grid_summary(review) if len(parts) > 1 else None,
        report_in_background=report_jobs.too_long(len(review.events)),
        comparison=services.compare_with_previous(review),
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
    fb = feedback.results(event_id) if feedback.survey_of(event_id) else None  # issue 15: the survey's results
    fb_charts = (
        {n: Markup(feedback.bar_chart_svg(r, f"fb{n}")) for n, r in enumerate(fb.questions) if r.counts} if fb else {}
    )
    return render_template("reports/event.html", review=review, feedback=fb, feedback_charts=fb_charts)


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
    if report_jobs.in_background(start, end):
        # Too long to build while the person waits: offer to prepare it (issue 19).
        return render_template(
            "reports/report_job.html", job=None, start=start, end=end, last_n=last_n, shown=(start, end)
        )
    report = services.activity_report(start, end, last_n=last_n)
    pdf = render_activity_report(report)
    resp = Response(pdf, mimetype="application/pdf")
    resp.headers["Content-Disposition"] = exports.content_disposition(
        f"activity-report-{start.isoformat()}-{end.isoformat()}.pdf"
    )
    return resp


@bp.post("/activity-report")
@access.roles(*REVIEWERS)
def request_activity_report():
    """Queue a long period's activity report for the worker; its page shows the progress."""
    start, end, _shifted = _period()
    last_n = services.parse_last_n(request.args.get("last"))
    job = report_jobs.request_activity_report(start, end, last_n, language=str(get_locale() or ""), actor=current_user)
    return redirect(url_for("reports.report_job", job_id=job.id), code=303)


@bp.get("/prepared/<int:job_id>")
@access.roles(*REVIEWERS)
def report_job(job_id: int):
    job = report_jobs.job_for(job_id, current_user)
    shown = (date.fromisoformat(job.parameters["from"]), date.fromisoformat(job.parameters["to"]))
    resp = Response(render_template("reports/report_job.html", job=job, shown=shown))
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/prepared/<int:job_id>/file")
@access.roles(*REVIEWERS)
def report_job_file(job_id: int):
    job = report_jobs.job_for(job_id, current_user)
    resp = Response(report_jobs.file_of(job), mimetype="application/pdf")
    resp.headers["Content-Disposition"] = exports.content_disposition(job.filename)
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


@event_page_links.connect
def _event_page_links(event, **_kwargs) -> PageLink:
    return PageLink(_("Review"), url_for("reports.event", event_id=event.id), order=50)


# The co-chairs' statement ---------------------------------------------------------------------


def _explicit_period() -> tuple:
    start, end, _shifted = _period()
    return start, end


def _period_query(start, end) -> dict:
    return {"from": start.isoformat(), "to": end.isoformat()}


def _annex_url(start, end) -> str:
    return abs_url("reports.activity_report", **_period_query(start, end))


def _statement_page(form, st, *, status=200, refreshed=()):
    return render_template(
        "reports/statement.html",
        form=form,
        st=st,
        period=_period_query(st.start, st.end),
        refreshed=set(refreshed),
    ), status


@bp.route("/statement", methods=["GET", "POST"])
@access.roles(*REVIEWERS)
def statement_page():
    try:
        start, end = _explicit_period()
    except services.BadPeriod as exc:
        return render_template("reports/statement.html", form=None, st=None, error=exc.message), 400
    version_id = request.args.get("version")
    if request.method == "GET":
        st = statement.load_statement(start, end, version_id=version_id)
        form = StatementForm(formdata=None, data={**st.texts, "base_version": st.version.id if st.version else ""})
        return _statement_page(form, st)
    form = StatementForm()
    st = statement.load_statement(start, end)
    if not form.validate_on_submit():
        return _statement_page(form, st, status=400)
    action = request.form.get("action", "save")
    if action == "refresh_all" or action.startswith("refresh:"):
        keys = statement.SECTION_KEYS if action == "refresh_all" else (action.split(":", 1)[1],)
        keys = [k for k in keys if k in statement.SECTION_KEYS]
        for key in keys:
            form[key].data = st.generated[key]
        return _statement_page(form, st, refreshed=keys)
    values = {key: form[key].data for key in statement.SECTION_KEYS}
    try:
        version = statement.save_statement(
            start, end, values, base_version_id=form.base_version.data or None, actor=current_user
        )
    except DomainError as exc:
        apply_domain_error(form, exc)
        return _statement_page(form, st, status=exc.status_code)
    flash(_("Version %(number)d of the statement saved.", number=version.number), "success")
    return redirect(url_for("reports.statement_page", **_period_query(start, end), version=version.id))


def _statement_for_download():
    start, end = _explicit_period()
    return statement.load_statement(start, end, version_id=request.args.get("version"))


@bp.get("/statement.pdf")
@access.roles(*REVIEWERS)
def statement_pdf():
    st = _statement_for_download()
    annex_html = None
    if request.args.get("annex") == "1":
        if report_jobs.in_background(st.start, st.end):
            # Too long to append while the person waits (issue 19): the annex is prepared apart.
            return render_template(
                "reports/report_job.html",
                job=None,
                start=st.start,
                end=st.end,
                last_n=services.DEFAULT_LAST_N,
                shown=(st.start, st.end),
            )
        annex_html = activity_report_html(services.activity_report(st.start, st.end))
    pdf = render_statement_pdf(st, annex_url=_annex_url(st.start, st.end), annex_pdf_html=annex_html)
    return _statement_file(st, pdf, "application/pdf", "pdf")


def _statement_file(st, content: bytes, mimetype: str, ext: str) -> Response:
    resp = Response(content, mimetype=mimetype)
    resp.headers["Content-Disposition"] = exports.content_disposition(
        f"statement-{st.start.isoformat()}-{st.end.isoformat()}.{ext}"
    )
    return resp


@bp.get("/statement.docx")
@access.roles(*REVIEWERS)
def statement_docx():
    st = _statement_for_download()
    return _statement_file(
        st,
        render_statement_docx(st, annex_url=_annex_url(st.start, st.end)),
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "docx",
    )


@bp.get("/membership")
@access.roles(*REVIEWERS)
def membership():
    try:
        start, end = _explicit_period()
    except services.BadPeriod as exc:
        return render_template("reports/membership.html", rows=None, error=exc.message), 400
    review = membership_review.membership_review(start, end)
    return render_template("reports/membership.html", review=review, error=None)
