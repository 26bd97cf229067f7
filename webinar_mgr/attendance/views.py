"""Attendance pages for organisers: import a platform report (upload, a paged preview that shows
the import's effect, confirm by merging or - a separate, confirmed choice - by replacing), the list
of imports (each can be undone), resolve unmatched rows, set the threshold, and the check-in list
for in-person meetings."""

from __future__ import annotations

from blinker import ANY
from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from markupsafe import Markup

from webinar_mgr import exports
from webinar_mgr.directory import services as directory
from webinar_mgr.directory.signals import Gap, person_gaps
from webinar_mgr.errors import DomainError
from webinar_mgr.events.models import Event
from webinar_mgr.events.services import get_visible_event
from webinar_mgr.events.signals import PageLink, PagePart, event_page_links, event_page_parts
from webinar_mgr.forms_common import apply_domain_error, form_status, handle_form
from webinar_mgr.persistence import get_or_404, unit_of_work
from webinar_mgr.registrations import services as registration_services
from webinar_mgr.security import ORGANISERS, access

from . import certificates, services, uploads
from .forms import ImportForm, LinkForm, PlainForm, ReplaceForm, SearchForm, ThresholdForm, WalkInForm
from .merging import Effect
from .models import MATCH_IGNORED, MATCH_NONE, MODE_MERGE, MODE_REPLACE, SOURCE_IMPORT
from .parsers import FORMAT_LABELS, MAX_BYTES

bp = Blueprint("attendance", __name__, url_prefix="/events/<int:event_id>/attendance")
# Certificates of attendance: the attendee's own and their public verification, outside /attendance.
certificates_bp = Blueprint("certificates", __name__)
blueprints = (bp, certificates_bp)
NO_SUCH_EVENT = _l("There is no such event.")


@bp.get("")
@access.roles(*ORGANISERS)
def index(event_id: int):
    event = get_or_404(Event, event_id, NO_SUCH_EVENT)
    records = services.records(event)
    imported = [r for r in records if r.source == SOURCE_IMPORT and r.match not in (MATCH_NONE, MATCH_IGNORED)]
    unmatched = [r for r in records if r.source == SOURCE_IMPORT and r.match == MATCH_NONE]
    ignored = [r for r in records if r.source == SOURCE_IMPORT and r.match == MATCH_IGNORED]
    checkins = [r for r in records if r.source != SOURCE_IMPORT]
    link_form = LinkForm()
    link_form.registration_id.choices = services.link_choices(event)
    threshold_form = ThresholdForm(minutes=event.attendance_threshold_minutes)
    return render_template(
        "attendance/index.html",
        event=event,
        imports=services.imports(event),
        counts=services.event_counts(event),
        effect_of=Effect.from_dict,
        format_labels=FORMAT_LABELS,
        matched=imported,
        unmatched=unmatched,
        ignored=ignored,
        checkins=checkins,
        link_form=link_form,
        threshold_form=threshold_form,
        plain=PlainForm(),
    )


@bp.route("/import", methods=["GET", "POST"])
@access.roles(*ORGANISERS)
def upload(event_id: int):
    event = get_or_404(Event, event_id, NO_SUCH_EVENT)
    form = ImportForm()
    if request.method == "GET":
        form.timezone.data = event.timezone
    # Not handle_form: a report refused for some of its rows lists them (line, problem) below the
    # form's error summary, so the page needs the error itself.
    problems, status = [], 200
    if form.validate_on_submit():
        data = form.report.data.read(MAX_BYTES + 1)
        try:
            pending, _preview = uploads.stage_upload(
                event, form.report.data.filename, data, form.timezone.data, actor=current_user
            )
        except DomainError as exc:
            apply_domain_error(form, exc)
            problems, status = getattr(exc, "problems", []), exc.status_code
        else:
            return redirect(url_for("attendance.preview", event_id=event.id, upload_id=pending.id))
    else:
        status = form_status(form)
    return render_template(
        "attendance/upload.html",
        event=event,
        form=form,
        problems=problems,
        limit_mb=MAX_BYTES // 1_048_576,
    ), status


@bp.get("/import/<upload_id>")
@access.roles(*ORGANISERS)
def preview(event_id: int, upload_id: str):
    event = get_or_404(Event, event_id, NO_SUCH_EVENT)
    return _preview_page(event, upload_id)


def _preview_page(event, upload_id: str, *, replace_form=None, error=None, status=200):
    """The preview: the report's counts, what merging (and replacing) would change, one page of
    its people - from what the upload kept: the report is not parsed again."""
    view = uploads.pending_preview(event, upload_id, request.args.get("page", 1, type=int), actor=current_user)
    return render_template(
        "attendance/preview.html",
        event=event,
        view=view,
        pending=view.upload,
        page=view.page,
        error=error,
        form=PlainForm(),
        replace_form=replace_form or ReplaceForm(),
        threshold_form=ThresholdForm(minutes=event.attendance_threshold_minutes),
    ), status


@bp.post("/import/<upload_id>/confirm")
@access.roles(*ORGANISERS)
def confirm(event_id: int, upload_id: str):
    """Merge the report with what is there."""
    event = get_or_404(Event, event_id, NO_SUCH_EVENT)
    form = PlainForm()
    if not form.validate_on_submit():
        return redirect(url_for("attendance.preview", event_id=event.id, upload_id=upload_id))
    return _confirm(event, upload_id, MODE_MERGE)


@bp.post("/import/<upload_id>/replace")
@access.roles(*ORGANISERS)
def replace(event_id: int, upload_id: str):
    """Replace the earlier imports by the report: only with the confirmation box ticked."""
    event = get_or_404(Event, event_id, NO_SUCH_EVENT)
    form = ReplaceForm()
    if not form.validate_on_submit():
        message = _("Nothing was replaced: tick the box to confirm that the earlier imports are replaced.")
        return _preview_page(event, upload_id, replace_form=form, error=message, status=400)
    return _confirm(event, upload_id, MODE_REPLACE)


def _confirm(event, upload_id: str, mode: str):
    try:
        imp = uploads.confirm(event, upload_id, mode, actor=current_user)
    except services.AlreadyImported as exc:
        return _preview_page(event, upload_id, error=exc.message, status=exc.status_code)
    effect = Effect.from_dict(imp.effect)
    flash(
        _(
            "Attendance imported: %(people)d people, %(matched)d matched, %(unmatched)d to resolve, "
            "%(attended)d attended. For the event: %(effect)s.",
            people=imp.people,
            matched=imp.matched,
            unmatched=imp.unmatched,
            attended=imp.attended,
            effect=effect.line() if effect else "",
        ),
        "success",
    )
    return redirect(url_for("attendance.index", event_id=event.id))


@bp.post("/imports/<int:import_id>/undo")
@access.roles(*ORGANISERS)
def undo_import(event_id: int, import_id: int):
    event = get_or_404(Event, event_id, NO_SUCH_EVENT)
    if PlainForm().validate_on_submit():
        imp, effect = services.undo_import(event, import_id, actor=current_user)
        flash(_("Import of %(file)s undone: %(effect)s.", file=imp.filename, effect=effect.line()), "info")
    return redirect(url_for("attendance.index", event_id=event.id) + "#imports")


@bp.post("/threshold")
@access.roles(*ORGANISERS)
def threshold(event_id: int):
    event = get_or_404(Event, event_id, NO_SUCH_EVENT)
    form = ThresholdForm()
    if not form.validate_on_submit():
        flash(_("The threshold must be a number of minutes between 0 and 1440."), "error")
        return redirect(url_for("attendance.index", event_id=event.id))
    attended = services.set_threshold(event, form.minutes.data, actor=current_user)
    back = url_for("attendance.index", event_id=event.id)
    target = request.form.get("next") or ""
    if target.startswith(back + "/import/") and "//" not in target and "\\" not in target:
        flash(_("Threshold set to %(n)d minutes.", n=form.minutes.data), "success")
        return redirect(target)
    flash(
        _("Threshold set to %(n)d minutes: %(attended)d people attended.", n=form.minutes.data, attended=attended),
        "success",
    )
    return redirect(back)


@bp.post("/rows/<int:record_id>/link")
@access.roles(*ORGANISERS)
def link(event_id: int, record_id: int):
    event = get_or_404(Event, event_id, NO_SUCH_EVENT)
    record = services.get_record(event, record_id)
    form = LinkForm()
    form.registration_id.choices = services.link_choices(event)
    if not form.validate_on_submit():
        flash(_("Choose a registration to link %(name)s to.", name=record.name), "error")
        return redirect(url_for("attendance.index", event_id=event.id))
    services.link_record(event, record.id, form.registration_id.data, actor=current_user)
    flash(_("%(name)s is linked.", name=record.name), "success")
    return redirect(url_for("attendance.index", event_id=event.id) + "#unmatched")


@bp.route("/rows/<int:record_id>/walk-in", methods=["GET", "POST"])
@access.roles(*ORGANISERS)
def walk_in(event_id: int, record_id: int):
    event = get_or_404(Event, event_id, NO_SUCH_EVENT)
    record = services.get_record(event, record_id)
    form = WalkInForm()
    country_code, member_id = services.country_suggestion(record.country)
    if request.method == "GET":
        form.name.data, form.email.data = record.name, record.email
        form.country_code.data, form.member_government_id.data = country_code or "", member_id
        known = services.existing_contact(record.email)
        if known is not None and known.organisation_id:
            form.organisation_id.data = known.organisation_id

    def add():
        choice = directory.OrganisationChoice(
            organisation_id=form.organisation_id.data,
            name=form.organisation_name.data,
            sector=form.sector.data,
            country_code=form.country_code.data,
            member_government_id=form.member_government_id.data,
        )
        return services.add_walk_in(
            event,
            record.id,
            email=form.email.data,
            name=form.name.data,
            organisation=choice,
            confirm_contact=form.confirm_contact.data,
            actor=current_user,
        )

    def render():
        known = services.existing_contact((form.email.data or "").strip().lower())
        return render_template(
            "attendance/walk_in.html",
            event=event,
            record=record,
            form=form,
            known=known,
            notice=services.contact_notice(known) if known is not None else None,
            suggested_member=member_id,
        )

    def done(_registration):
        flash(_("%(name)s is added as a walk-in.", name=form.name.data), "success")
        return redirect(url_for("attendance.index", event_id=event.id) + "#unmatched")

    return handle_form(form, add, render=render, done=done)


@bp.post("/rows/<int:record_id>/ignore")
@access.roles(*ORGANISERS)
def ignore(event_id: int, record_id: int):
    event = get_or_404(Event, event_id, NO_SUCH_EVENT)
    if PlainForm().validate_on_submit():
        record = services.ignore_record(event, record_id, ignore=True, actor=current_user)
        flash(_("%(name)s is ignored.", name=record.name), "info")
    return redirect(url_for("attendance.index", event_id=event.id) + "#unmatched")


@bp.post("/rows/<int:record_id>/restore")
@access.roles(*ORGANISERS)
def restore(event_id: int, record_id: int):
    event = get_or_404(Event, event_id, NO_SUCH_EVENT)
    if PlainForm().validate_on_submit():
        record = services.ignore_record(event, record_id, ignore=False, actor=current_user)
        flash(_("%(name)s is back among the rows to resolve.", name=record.name), "info")
    return redirect(url_for("attendance.index", event_id=event.id) + "#unmatched")


@bp.get("/checkin")
@access.roles(*ORGANISERS)
def checkin_list(event_id: int):
    event = get_or_404(Event, event_id, NO_SUCH_EVENT)
    search = SearchForm(request.args)
    q = search.q.data if search.validate() else ""
    rows = services.checkin_list(event, q or "")
    return render_template(
        "attendance/checkin.html",
        event=event,
        rows=rows,
        search=search,
        q=q or "",
        form=PlainForm(),
        checked=sum(1 for r in rows if r.checked_in_at),
    )


@bp.post("/checkin/<int:registration_id>")
@access.roles(*ORGANISERS)
def checkin(event_id: int, registration_id: int):
    event = get_or_404(Event, event_id, NO_SUCH_EVENT)
    if PlainForm().validate_on_submit():
        record = services.checkin(event, registration_id, actor=current_user)
        flash(_("%(name)s is checked in.", name=record.name), "success")
    return redirect(
        url_for("attendance.checkin_list", event_id=event.id, q=request.form.get("q") or None)
        + f"#reg-{registration_id}"
    )


@bp.post("/checkin/<int:registration_id>/undo")
@access.roles(*ORGANISERS)
def undo_checkin(event_id: int, registration_id: int):
    event = get_or_404(Event, event_id, NO_SUCH_EVENT)
    if PlainForm().validate_on_submit():
        services.undo_checkin(event, registration_id, actor=current_user)
        flash(_("Check-in undone."), "info")
    return redirect(
        url_for("attendance.checkin_list", event_id=event.id, q=request.form.get("q") or None)
        + f"#reg-{registration_id}"
    )


@bp.get("/export.csv")
@access.roles(*ORGANISERS)
def export_csv(event_id: int):
    event = get_or_404(Event, event_id, NO_SUCH_EVENT)
    return exports.response(services.export_records(event, actor=current_user))


@event_page_links.connect
def _event_page_links(event, **_kwargs) -> list[PageLink]:
    return [
        PageLink(_("Attendance"), url_for("attendance.index", event_id=event.id), order=30),
        PageLink(_("Check-in list"), url_for("attendance.checkin_list", event_id=event.id), order=31),
    ]


@person_gaps.connect_via(ANY, weak=False)
def _attendance_gaps(_sender, **_kwargs) -> list[Gap]:
    """Attended rows whose person is counted under no organisation, sector or member government."""
    return services.people_gaps()


# Certificates of attendance ------------------------------------------------------------------------


def _pdf_response(cert) -> Response:
    body = certificates.certificate_pdf(cert)
    return Response(
        body,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": exports.content_disposition(certificates.file_name(cert), inline=True),
            "Cache-Control": "private, no-store",
        },
    )


@certificates_bp.get("/events/<int:event_id>/certificate.pdf")
@access.authenticated
def own_certificate(event_id: int):
    """The signed-in attendee's own certificate (403 with a clear message for anyone else)."""
    event = get_visible_event(event_id, current_user)
    with unit_of_work():
        cert = certificates.issue(certificates.own_registration(event, current_user))
    return _pdf_response(cert)


@certificates_bp.get("/certificates/<code>")
@access.public
def verify(code: str):
    """Anyone holding a certificate checks it: who, which event, when (nothing else)."""
    view = certificates.view_of(certificates.verify(code))
    resp = render_template("attendance/certificate_verify.html", c=view)
    return resp, 200, {"X-Robots-Tag": "noindex", "Cache-Control": "private, max-age=300"}


@bp.get("/certificates/<int:registration_id>.pdf")
@access.roles(*ORGANISERS)
def certificate(event_id: int, registration_id: int):
    event = get_or_404(Event, event_id, NO_SUCH_EVENT)
    reg = next((r for r in certificates.attendees(event) if r.id == registration_id), None)
    if reg is None:
        return render_template(
            "errors/error.html",
            status=404,
            title=_("No certificate"),
            message=_("This person's attendance at this event is not recorded."),
        ), 404
    with unit_of_work():
        cert = certificates.issue(reg)
    return _pdf_response(cert)


@bp.post("/certificates/send")
@access.roles(*ORGANISERS)
def send_certificates(event_id: int):
    event = get_or_404(Event, event_id, NO_SUCH_EVENT)
    n = certificates.request_send_all(event, actor=current_user)
    if n:
        flash(
            ngettext(
                "%(num)d certificate will be mailed; the worker sends them in a few minutes.",
                "%(num)d certificates will be mailed; the worker sends them in a few minutes.",
                n,
            ),
            "success",
        )
    else:
        flash(_("Every attendee's certificate has been sent already, or no attendance is recorded."), "info")
    return redirect(url_for("attendance.index", event_id=event.id, _anchor="certificates"))


@event_page_parts.connect
def _certificate_part(event, *, user, **_kwargs):
    """On a held event's page, the attendee's link to their certificate."""
    if not user.is_authenticated or event.status != "held":
        return None
    for reg in registration_services.registrations_of(event.id, user):
        if certificates.has_attended(reg):
            html = render_template("attendance/_certificate_link.html", event=event)
            return PagePart("actions", Markup(html), order=40)
    return None
