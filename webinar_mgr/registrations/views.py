from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from webinar_mgr.directory import services as directory
from webinar_mgr.directory.models import SECTORS
from webinar_mgr.errors import DomainError
from webinar_mgr.extensions import db, limiter
from webinar_mgr.i18n import reader_timezone
from webinar_mgr.security import access

from . import services
from .forms import GuestRegistrationForm, OneStepForm
from .models import STATUSES

bp = Blueprint("registrations", __name__)


def _apply_field_errors(form, exc: DomainError) -> bool:
    applied = False
    for name, errors in exc.field_errors.items():
        f = getattr(form, name, None)
        if f is not None:
            f.errors = list(f.errors) + list(errors)
            applied = True
    return applied


def _guest_form(data: services.RegistrantData | None = None) -> GuestRegistrationForm:
    form = GuestRegistrationForm(data=(data.__dict__ if data and request.method == "GET" else None))
    form.set_choices(directory.organisation_choices(), directory.organisation_choices("member_government"))
    if request.method == "GET" and not (data and data.timezone and data.timezone != "UTC"):
        form.timezone.data = reader_timezone()
    return form


def _form_data(form: GuestRegistrationForm, *, email: str | None = None) -> services.RegistrantData:
    return services.RegistrantData(
        name=form.name.data or "",
        email=email or form.email.data or "",
        organisation_id=form.organisation_id.data,
        organisation_name=form.organisation_name.data,
        sector=form.sector.data or None,
        member_government_id=form.member_government_id.data,
        position=form.position.data,
        timezone=form.timezone.data or "",
        accessibility_needs=form.accessibility_needs.data,
        consent=bool(getattr(form, "consent", None) is not None and form.consent.data),
    )


def _after_register(reg, pledge: bool):
    if reg.status == services.STATUS_CONFIRMED:
        flash(
            _("You are registered. A confirmation with a calendar entry is on its way to %(email)s.", email=reg.email),
            "success",
        )
    elif reg.status == services.STATUS_WAITLISTED:
        flash(_("The event is full: you are on the waiting list. We will write to you if a seat frees up."), "info")
    else:
        flash(_("Thank you: your registration awaits an organiser's approval. We will write to you."), "info")
    token = services.make_manage_token(reg)
    if pledge and "commitments.pledge_by_link" in current_app.view_functions:
        return redirect(url_for("commitments.pledge_by_link", token=token))
    return redirect(url_for("registrations.manage", token=token))


def handle_registration(event, *, invitation=None, invitation_token=None):
    """Shared by /events/<id>/register and the invitation link /i/<token>."""
    problem = services.can_register_problem(event, user=current_user, invitation=invitation)
    one_step = current_user.is_authenticated and invitation is None
    if one_step:
        form = OneStepForm()
        if problem is None and form.validate_on_submit():
            data = services.data_from_user(current_user)
            data.accessibility_needs = form.accessibility_needs.data
            try:
                reg = services.register(event.id, data, user=current_user)
            except DomainError as exc:
                flash(exc.message, "error")
                return render_template(
                    "registrations/register.html",
                    event=event,
                    form=form,
                    one_step=True,
                    problem=problem,
                    invitation=invitation,
                ), exc.status_code
            return _after_register(reg, bool(form.pledge.data))
        status = 400 if form.errors else (403 if problem and request.method == "POST" else 200)
        return render_template(
            "registrations/register.html", event=event, form=form, one_step=True, problem=problem, invitation=invitation
        ), status
    prefill = services.data_from_invitation(invitation) if invitation is not None else None
    form = _guest_form(prefill)
    if invitation is not None:
        form.email.data = invitation.contact.email
    if problem is None and form.validate_on_submit():
        try:
            reg = services.register(event.id, _form_data(form), user=current_user, invitation_token=invitation_token)
        except DomainError as exc:
            if not _apply_field_errors(form, exc) or exc.message:
                flash(exc.message, "error")
            return render_template(
                "registrations/register.html",
                event=event,
                form=form,
                one_step=False,
                problem=problem,
                invitation=invitation,
                token=invitation_token,
            ), exc.status_code
        return _after_register(reg, bool(form.pledge.data))
    status = 400 if form.errors else (403 if problem and request.method == "POST" else 200)
    return render_template(
        "registrations/register.html",
        event=event,
        form=form,
        one_step=False,
        problem=problem,
        invitation=invitation,
        token=invitation_token,
    ), status


def public_form_limit():
    """Flask-Limiter decorator for the public forms' POSTs: one budget per client address, shared
    by the registration page, the invitation link and the manage page."""
    return limiter.shared_limit(
        lambda: current_app.config["PUBLIC_FORM_RATE_LIMIT"], scope="public-forms", methods=["POST"]
    )


@bp.route("/events/<int:event_id>/register", methods=["GET", "POST"])
@access.public
@public_form_limit()
def register(event_id: int):
    event = services.get_event(event_id)
    mine = services.registration_of(event.id, current_user)
    if mine is not None and mine.is_active and services.manage_link_valid(mine):
        flash(_("You are already registered for this event: here is your registration."), "info")
        return redirect(url_for("registrations.manage", token=services.make_manage_token(mine)))
    return handle_registration(event)


@bp.get("/registrations/mine")
@access.authenticated
def mine():
    regs = services.my_registrations(current_user)
    manage = {
        r.id: url_for("registrations.manage", token=services.make_manage_token(r))
        for r in regs.upcoming + regs.past
        if services.manage_link_valid(r)
    }
    feed = services.feed_url(current_user.email) if regs.upcoming or regs.past else None
    db.session.commit()  # the personal feed is created on first use
    return render_template("registrations/mine.html", regs=regs, manage=manage, feed_url=feed)


@bp.route("/registrations/manage/<token>", methods=["GET", "POST"])
@access.token
@public_form_limit()
def manage(token: str):
    reg = services.registration_from_token(token)
    form = GuestRegistrationForm(obj=reg if request.method == "GET" else None)
    form.set_choices(directory.organisation_choices(), directory.organisation_choices("member_government"))
    del form.email
    del form.consent
    del form.pledge
    if request.method == "POST" and form.validate_on_submit():
        try:
            services.update_details(reg, _form_data(form, email=reg.email))
        except DomainError as exc:
            db.session.rollback()
            if not _apply_field_errors(form, exc) or exc.message:
                flash(exc.message, "error")
            return _manage_page(reg, form, token), exc.status_code
        flash(_("Your details are saved."), "success")
        return redirect(url_for("registrations.manage", token=token))
    return _manage_page(reg, form, token), (400 if form.errors else 200)


def _manage_page(reg, form, token):
    pledge = None
    if "commitments.pledge_by_link" in current_app.view_functions:
        pledge = url_for("commitments.pledge_by_link", token=token)
    feed = services.feed_url(reg.email) if reg.is_active else None
    agenda = services.abs_url("events.agenda_pdf", event_id=reg.event_id)
    db.session.commit()
    return render_template(
        "registrations/manage.html",
        reg=reg,
        event=reg.event,
        form=form,
        token=token,
        pledge_url=pledge,
        feed_url=feed,
        agenda_url=agenda,
    )


@bp.post("/registrations/manage/<token>/cancel")
@access.token
def cancel(token: str):
    reg = services.registration_from_token(token)
    services.cancel(reg)
    flash(_("Your registration is cancelled. A note for your calendar is on its way."), "success")
    return redirect(url_for("registrations.manage", token=token))


@bp.get("/calendar/<token>.ics")
@access.token
def calendar_feed(token: str):
    body = services.feed_by_token(token)
    return Response(body, mimetype="text/calendar", headers={"Cache-Control": "private, max-age=300"})


# Organisers ----------------------------------------------------------------------------------


def _filters() -> dict:
    mg = request.args.get("member_government", type=int)
    return {
        "status": request.args.get("status") or None,
        "sector": request.args.get("sector") or None,
        "member_government_id": mg,
        "q": (request.args.get("q") or "").strip() or None,
    }


@bp.get("/events/<int:event_id>/registrations")
@access.roles("organiser")
def registrants(event_id: int):
    event = services.get_event(event_id)
    page = db.paginate(
        services.registrant_query(event.id, **_filters()),
        page=request.args.get("page", 1, type=int),
        per_page=50,
        error_out=False,
    )
    return render_template(
        "registrations/list.html",
        event=event,
        page=page,
        statuses=STATUSES,
        sectors=SECTORS,
        counts=services.status_counts(event.id),
        seats_left=services.seats_left(event),
        member_governments=directory.organisation_choices("member_government"),
    )


@bp.post("/registrations/<int:reg_id>/action")
@access.roles("organiser")
def action(reg_id: int):
    act = request.form.get("action", "")
    reg = services.organiser_action(reg_id, act, actor=current_user)
    flash(_("%(name)s: %(status)s.", name=reg.name, status=reg.status_label), "success")
    return redirect(
        request.form.get("next")
        if (request.form.get("next") or "").startswith("/events/")
        else url_for("registrations.registrants", event_id=reg.event_id)
    )


@bp.get("/events/<int:event_id>/registrations.csv")
@access.roles("organiser")
def export_csv(event_id: int):
    body = services.export(event_id, "csv", actor=current_user, **_filters())
    return Response(
        body, mimetype="text/csv", headers={"Content-Disposition": f"attachment; filename=registrations-{event_id}.csv"}
    )


@bp.get("/events/<int:event_id>/registrations.xlsx")
@access.roles("organiser")
def export_xlsx(event_id: int):
    body = services.export(event_id, "xlsx", actor=current_user, **_filters())
    return Response(
        body,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f"attachment; filename=registrations-{event_id}.xlsx"},
    )
