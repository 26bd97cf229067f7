"""Registration pages: the registration form (also behind an invitation link), the manage page,
My registrations, personal feeds, and the organisers' list and exports.

What registrations adds to other modules' pages is connected here: the reader's registration and
the Register button on the event page, the Registrants link for organisers, and the form shown
behind an invitation link.
"""

from __future__ import annotations

import functools

from flask import Blueprint, Response, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from webinar_mgr import exports, links
from webinar_mgr.directory import queries as directory_queries
from webinar_mgr.directory import services as directory
from webinar_mgr.directory.models import SECTORS
from webinar_mgr.errors import DomainError
from webinar_mgr.events.models import STATUS_SCHEDULED, STATUS_TBC
from webinar_mgr.events.signals import PageLink, PagePart, collect, event_page_links, event_page_parts
from webinar_mgr.extensions import db
from webinar_mgr.forms_common import apply_domain_error, form_status
from webinar_mgr.i18n import reader_timezone
from webinar_mgr.invitations.signals import invitation_landing
from webinar_mgr.security import ORGANISERS, access, public_form_limit

from . import feeds, questions, services
from .forms import GuestRegistrationForm, LostLinkForm, OneStepForm
from .manage_links import make_manage_token, manage_link_valid, registration_from_token
from .models import ACTIVE, STATUSES
from .signals import manage_page_parts

bp = Blueprint("registrations", __name__)


@functools.cache
def _countries() -> tuple[tuple[str, str], ...]:
    """Every country (ISO code, English name): a fixed list, sorted once per process."""
    return tuple(directory.country_choices())


def _with_choices(form):
    form.set_choices(*directory_queries.form_lists(), _countries())
    return form


def _guest_form(data: services.RegistrantData | None = None) -> GuestRegistrationForm:
    # The organisation lists (choices) are set when the form is shown (render below): a POST
    # that succeeds never reads them (the fields do not check their choices; the service does).
    form = GuestRegistrationForm(data=(data.__dict__ if data and request.method == "GET" else None))
    if request.method == "GET" and not (data and data.timezone and data.timezone != "UTC"):
        form.timezone.data = reader_timezone()
    return form


def _organisation_data(form) -> dict:
    return {
        "organisation_id": form.organisation_id.data,
        "organisation_name": form.organisation_name.data,
        "sector": form.sector.data or None,
        "country_code": form.country_code.data or None,
        "member_government_id": form.member_government_id.data,
    }


def _form_data(form: GuestRegistrationForm, *, email: str | None = None) -> services.RegistrantData:
    return services.RegistrantData(
        name=form.name.data or "",
        email=email or form.email.data or "",
        **_organisation_data(form),
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
        flash(
            _(
                "The event is full: you are number %(position)d on the waiting list. We will write to you if a "
                "seat frees up.",
                position=services.waiting_position(reg) or 1,
            ),
            "info",
        )
    else:
        flash(_("Thank you: your registration awaits an organiser's approval. We will write to you."), "info")
    token = make_manage_token(reg)
    if pledge and "commitments.pledge_by_link" in current_app.view_functions:
        return redirect(url_for("commitments.pledge_by_link", token=token))
    return redirect(url_for("registrations.manage", token=token))


def _registration_page(event, *, invitation=None, invitation_token=None):
    """The registration form: one step for a signed-in reader, the guest form otherwise (also
    behind an invitation link, with the invited address)."""
    problem = services.can_register_problem(event, user=current_user, invitation=invitation)
    one_step = current_user.is_authenticated and invitation is None
    if one_step:
        form = OneStepForm()
    else:
        form = _guest_form(services.data_from_invitation(invitation) if invitation is not None else None)
        if invitation is not None:
            form.email.data = invitation.contact.email

    event_questions = questions.questions_of(event.id)  # the event's own (questions.py)
    question_errors: dict = {}

    def render(status: int):
        _with_choices(form)
        if request.method == "POST" and event_questions and not question_errors:
            question_errors.update(questions.check_answers(event_questions, request.form)[1])
        page = render_template(
            "registrations/register.html",
            event=event,
            form=form,
            one_step=one_step,
            problem=problem,
            outlook=services.outlook(event) if problem is None else None,
            invitation=invitation,
            token=invitation_token,
            questions=event_questions,
            question_values=request.form if request.method == "POST" else None,
            question_errors=question_errors,
            countries=_countries() if event_questions else [],
        )
        return page, status

    if problem is None and form.validate_on_submit():
        if one_step:
            data = services.data_from_user(current_user)
            data.accessibility_needs = form.accessibility_needs.data
            if data.organisation_id is None:  # the profile names none: the form asked for it
                data.__dict__.update(_organisation_data(form))
        else:
            data = _form_data(form)
        data.answers_form = request.form if event_questions else None
        try:
            reg = services.register(event.id, data, user=current_user, invitation_token=invitation_token)
        except DomainError as exc:
            question_errors.update({k: v for k, v in exc.field_errors.items() if k.startswith("q_")})
            labels = {x.field_name: x.label for x in event_questions}  # the summary names each question
            exc.field_errors = {
                k: [_("%(question)s: %(problem)s", question=labels[k], problem=m) for m in v] if k in labels else v
                for k, v in exc.field_errors.items()
            }
            apply_domain_error(form, exc)
            return render(exc.status_code)
        return _after_register(reg, bool(form.pledge.data))
    if problem and request.method == "POST" and not form.errors:
        return render(403)
    return render(form_status(form))


@invitation_landing.connect
def _invitation_registration(invitation, *, token: str, **_kwargs):
    """Behind a personal invitation link: the registration form, with the invited address."""
    return _registration_page(invitation.event, invitation=invitation, invitation_token=token)


@bp.route("/events/<int:event_id>/register", methods=["GET", "POST"])
@access.public
@public_form_limit()
def register(event_id: int):
    event = services.event_to_register_for(event_id, current_user, with_translations=request.method == "GET")
    mine = services.registration_of(event.id, current_user)
    if mine is not None and mine.is_active and manage_link_valid(mine):
        flash(_("You are already registered for this event: here is your registration."), "info")
        return redirect(url_for("registrations.manage", token=make_manage_token(mine)))
    return _registration_page(event)


@bp.route("/registrations/lost-link", methods=["GET", "POST"])
@access.public
@public_form_limit()
def lost_link():
    """A guest who lost the mail with their link asks for it again. The answer is the same whether
    or not the address is registered."""
    form = LostLinkForm()
    if form.validate_on_submit():
        try:
            services.send_lost_links(form.email.data)
        except DomainError as exc:
            apply_domain_error(form, exc)
            return render_template("registrations/lost_link.html", form=form), exc.status_code
        flash(
            _(
                "If %(email)s is registered for an event, a message with the links to manage each registration "
                "is on its way. It can take a few minutes; check your spam folder too.",
                email=form.email.data.strip(),
            ),
            "success",
        )
        return redirect(url_for("registrations.lost_link"))
    return render_template("registrations/lost_link.html", form=form), form_status(form)


@bp.get("/registrations/mine")
@access.authenticated
def mine():
    regs = services.my_registrations(current_user)
    manage = {
        r.id: url_for("registrations.manage", token=make_manage_token(r))
        for r in regs.upcoming + regs.past
        if manage_link_valid(r)
    }
    feed = feeds.feed_url(current_user.email) if regs.upcoming or regs.past else None
    return render_template("registrations/mine.html", regs=regs, manage=manage, feed_url=feed)


@bp.route("/registrations/manage/<token>", methods=["GET", "POST"])
@access.token
@public_form_limit()
def manage(token: str):
    reg = registration_from_token(token)
    form = _with_choices(GuestRegistrationForm(obj=reg if request.method == "GET" else None))
    del form.email
    del form.consent
    del form.pledge
    if request.method == "POST" and form.validate_on_submit():
        try:
            services.update_details(reg, _form_data(form, email=reg.email), actor=current_user)
        except DomainError as exc:
            apply_domain_error(form, exc)
            return _manage_page(reg, form, token), exc.status_code
        flash(_("Your details are saved."), "success")
        return redirect(url_for("registrations.manage", token=token))
    return _manage_page(reg, form, token), form_status(form)


def _manage_page(reg, form, token):
    pledge = None
    if reg.is_active and "commitments.pledge_by_link" in current_app.view_functions:
        pledge = url_for("commitments.pledge_by_link", token=token)
    feed = feeds.feed_url(reg.email) if reg.is_active else None
    agenda = links.abs_url("events.agenda_pdf", event_id=reg.event_id)
    return render_template(
        "registrations/manage.html",
        reg=reg,
        event=reg.event,
        form=form,
        token=token,
        pledge_url=pledge,
        feed_url=feed,
        agenda_url=agenda,
        parts=collect(manage_page_parts, reg, token=token),
        position=services.waiting_position(reg),
    )


@bp.route("/registrations/manage/<token>/cancel", methods=["GET", "POST"])
@access.token
@public_form_limit()
def cancel(token: str):
    """GET asks "are you sure?" (a link in a mail or a stray click cancels nothing); POST cancels."""
    reg = registration_from_token(token, alone=True)
    if request.method == "GET":
        if not reg.is_active:
            flash(_("This registration is already cancelled."), "info")
            return redirect(url_for("registrations.manage", token=token))
        return render_template("registrations/cancel_confirm.html", reg=reg, event=reg.event, token=token)
    reg = services.cancel(reg)  # Conflict (409) when it is already cancelled
    flash(_("Your registration is cancelled. A note for your calendar is on its way."), "success")
    # The link used to cancel now opens nothing; the cancelled registration has a new one.
    return redirect(url_for("registrations.manage", token=make_manage_token(reg)))


@bp.get("/calendar/<token>.ics")
@access.token
def calendar_feed(token: str):
    body = feeds.feed_by_token(token)
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
@access.roles(*ORGANISERS)
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
        member_governments=directory.member_government_choices(),
        answers=questions.answers_by_registration([r.id for r in page.items]),
    )


@bp.post("/registrations/<int:reg_id>/action")
@access.roles(*ORGANISERS)
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
@access.roles(*ORGANISERS)
def export_csv(event_id: int):
    return exports.response(services.export(event_id, "csv", actor=current_user, **_filters()))


@bp.get("/events/<int:event_id>/registrations.xlsx")
@access.roles(*ORGANISERS)
def export_xlsx(event_id: int):
    return exports.response(services.export(event_id, "xlsx", actor=current_user, **_filters()))


# On the event page ---------------------------------------------------------------------------


def _reader_registrations(event) -> list:
    """The reader's registrations for this event, read once per request (status line, button)."""
    cache = g.setdefault("reader_registrations", {})
    if event.id not in cache:
        cache[event.id] = services.registrations_of(event.id, current_user)
    return cache[event.id]


@event_page_parts.connect
def _event_page_parts(event, *, user, **_kwargs) -> list[PagePart]:
    mine = _reader_registrations(event) if user.is_authenticated else []
    reg = mine[0] if mine else None
    parts = []
    if reg is not None:
        manage_url = url_for("registrations.manage", token=make_manage_token(reg)) if manage_link_valid(reg) else None
        html = render_template("registrations/_event_status.html", reg=reg, event=event, manage_url=manage_url)
        parts.append(PagePart("status", Markup(html), order=10))
    if event.status in (STATUS_SCHEDULED, STATUS_TBC) and not (reg is not None and reg.status in ACTIVE):
        html = render_template("registrations/_event_register.html", reg=reg, event=event)
        parts.append(PagePart("actions", Markup(html), order=10))
    return parts


@event_page_links.connect
def _event_page_links(event, **_kwargs) -> PageLink:
    return PageLink(_("Registrants"), url_for("registrations.registrants", event_id=event.id), order=20)
