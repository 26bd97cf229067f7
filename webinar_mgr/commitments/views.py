from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup

from webinar_mgr import exports
from webinar_mgr.directory.models import SECTORS
from webinar_mgr.events import services as events
from webinar_mgr.events.signals import PageLink, PagePart, event_page_links, event_page_parts
from webinar_mgr.forms_common import handle_form
from webinar_mgr.registrations import manage_links
from webinar_mgr.registrations import services as registrations
from webinar_mgr.security import ADMINS, ORGANISERS, REVIEWERS, access, has_role

from . import queries, services
from .forms import OnBehalfForm, PlatformForm, PledgeForm, UpdateForm
from .models import STATUSES, Platform

bp = Blueprint("commitments", __name__)

ACTION_LABELS = {
    "progress": _l("I have started: in progress"),
    "deliver": _l("Delivered: report the links"),
    "withdraw": _l("Withdraw the commitment"),
    "note": _l("Add a note only"),
}
DELIVERED_MORE = _l("Add more links (already delivered)")


def _pledge_form(event, form_cls=PledgeForm):
    form = form_cls()
    form.set_platforms(services.platforms())
    if request.method == "GET":
        form.target_date.data = services.default_target(event)
    return form


def _pledge_data(form) -> services.PledgeData:
    return services.PledgeData(
        kind=form.kind.data or "",
        platforms=list(form.platforms.data or []),
        languages=services.split_languages(form.languages.data),
        audience=form.audience.data,
        description=form.description.data or "",
        target_date=form.target_date.data,
        public=bool(form.public.data),
    )


def _handle_pledge(event, form, create, done, **ctx):
    """Shared by the three ways of pledging: ``create()`` calls the service, ``done(commitment)``
    answers once it is recorded."""

    def render():
        return render_template(
            "commitments/pledge.html",
            event=event,
            form=form,
            latest=services.latest_target(event),
            max_days=services.max_days(),
            today=services.today(),
            **ctx,
        )

    def check():  # every error in one pass: the service's rules too when the form refuses
        services.check_pledge(event, _pledge_data(form))

    return handle_form(form, create, render=render, done=done, check=check)


# Pledging ------------------------------------------------------------------------------------


@bp.route("/commitments/pledge/<token>", methods=["GET", "POST"])
@access.token
def pledge_by_link(token: str):
    reg = manage_links.registration_from_token(token)
    services.check_can_pledge(reg)
    form = _pledge_form(reg.event)

    def done(c):
        flash(_("Thank you: your commitment is recorded. An email with a link to update it is on its way."), "success")
        return redirect(url_for("commitments.update_by_link", token=services.make_update_token(c)))

    return _handle_pledge(
        reg.event,
        form,
        lambda: services.pledge(reg, _pledge_data(form)),
        done,
        registration=reg,
        existing=services.for_registration(reg),
        manage_token=token,
    )


@bp.route("/events/<int:event_id>/commitments/new", methods=["GET", "POST"])
@access.authenticated
def new_for_event(event_id: int):
    reg = services.registration_for(event_id, current_user)
    form = _pledge_form(reg.event)

    def done(c):
        flash(_("Thank you: your commitment is recorded."), "success")
        return redirect(url_for("commitments.detail", commitment_id=c.id))

    return _handle_pledge(
        reg.event,
        form,
        lambda: services.pledge_for_user(event_id, _pledge_data(form), actor=current_user),
        done,
        registration=reg,
        existing=services.for_registration(reg),
    )


@bp.route("/events/<int:event_id>/commitments/on-behalf", methods=["GET", "POST"])
@access.roles(*ORGANISERS)
def new_on_behalf(event_id: int):
    event = events.get_event(event_id)
    form = _pledge_form(event, OnBehalfForm)
    people = services.registrants(event_id)
    form.registration_id.choices = [("", _("— choose —"))] + [(r.id, f"{r.name} <{r.email}>") for r in people]

    def create():
        return services.pledge_on_behalf(event_id, form.registration_id.data, _pledge_data(form), actor=current_user)

    def done(c):
        flash(_("The commitment of %(name)s is recorded.", name=c.contact.name), "success")
        return redirect(url_for("commitments.detail", commitment_id=c.id))

    return _handle_pledge(event, form, create, done, on_behalf=True, registrants=people)


@event_page_parts.connect
def _event_page_parts(event, *, user, **_kwargs) -> PagePart | None:
    """The Pledge button on the event page, for a reader with an active registration."""
    if not registrations.is_active_registrant(event.id, user):
        return None
    return PagePart("actions", Markup(render_template("commitments/_event_pledge.html", event=event)), order=20)


# Following up --------------------------------------------------------------------------------


def _update_form(commitment):
    form = UpdateForm()
    actions = services.allowed_actions(commitment)
    form.action.choices = [
        (a, DELIVERED_MORE if (a == "deliver" and commitment.status == "delivered") else ACTION_LABELS[a])
        for a in actions
    ]
    return form


def _evidence(form) -> services.EvidenceData:
    return services.EvidenceData(
        urls=services.split_urls(form.links.data),
        published_on=form.published_on.data,
        views=form.views.data,
        impressions=form.impressions.data,
        shares=form.shares.data,
        note=None,
    )


def _handle_update(commitment, form, *, actor, via_link, back, **ctx):
    """The update form of the detail page; ``back`` is where a saved update returns to."""

    def update():
        return services.update(
            commitment,
            form.action.data,
            note=form.note.data,
            evidence=_evidence(form),
            via_link=via_link,
            actor=actor,
        )

    def done(c):
        flash(_("Thank you: the commitment is updated (%(status)s).", status=c.status_label), "success")
        return redirect(back)

    return handle_form(form, update, render=lambda: _render_detail(commitment, form, **ctx), done=done)


def _render_detail(commitment, form, **ctx):
    return render_template(
        "commitments/detail.html",
        c=commitment,
        form=form,
        platform_labels=services.platform_labels(),
        overdue=commitment.is_overdue(services.today()),
        statuses=STATUSES,
        sectors=SECTORS,
        **ctx,
    )


@bp.route("/commitments/u/<token>", methods=["GET", "POST"])
@access.token
def update_by_link(token: str):
    commitment = services.commitment_from_token(token)
    back = url_for("commitments.update_by_link", token=token)
    return _handle_update(
        commitment, _update_form(commitment), actor=None, via_link=True, back=back, token=token, can_edit=True
    )


@bp.get("/commitments/<int:commitment_id>")
@access.authenticated
def detail(commitment_id: int):
    commitment = services.get_for_user(commitment_id, current_user)
    can_edit = services.can_edit(commitment, current_user)
    return _render_detail(commitment, _update_form(commitment), can_edit=can_edit)


@bp.post("/commitments/<int:commitment_id>/update")
@access.authenticated
def update(commitment_id: int):
    commitment = services.get_for_edit(commitment_id, current_user)
    back = url_for("commitments.detail", commitment_id=commitment.id)
    return _handle_update(
        commitment, _update_form(commitment), actor=current_user, via_link=False, back=back, can_edit=True
    )


@bp.post("/commitments/<int:commitment_id>/public")
@access.authenticated
def set_public(commitment_id: int):
    commitment = services.get_for_edit(commitment_id, current_user)
    services.set_public(commitment, request.form.get("public") == "1", actor=current_user)
    flash(_("Saved."), "success")
    return redirect(url_for("commitments.detail", commitment_id=commitment.id))


# Lists ---------------------------------------------------------------------------------------


@bp.get("/commitments/mine")
@access.authenticated
def mine():
    rows = queries.mine((current_user.email or "").lower(), services.today())
    return render_template("commitments/mine.html", rows=rows, platform_labels=services.platform_labels())


def _page_arg() -> int:
    return max(request.args.get("page", 1, type=int), 1)


@bp.get("/commitments")
@access.roles(*REVIEWERS)
def tracker():
    filters = queries.Filters.from_args(request.args)
    today = services.today()
    page = queries.tracker(filters, today, page=_page_arg())
    return render_template(
        "commitments/tracker.html",
        page=page,
        filters=filters,
        totals=queries.totals(filters, today),
        events=queries.event_choices(),
        members=queries.member_choices(),
        statuses=STATUSES,
        sectors=SECTORS,
        can_edit=has_role(current_user, *ORGANISERS),
        can_admin=has_role(current_user, *ADMINS),
    )


def _export(fmt: str):
    filters = queries.Filters.from_args(request.args)
    return exports.response(services.export(filters, fmt, actor=current_user))


@bp.get("/commitments.csv")
@access.roles(*REVIEWERS)
def export_csv():
    return _export("csv")


@bp.get("/commitments.xlsx")
@access.roles(*REVIEWERS)
def export_xlsx():
    return _export("xlsx")


@bp.get("/commitments/public")
@access.public
def public():
    page, evidence = queries.public_page(_page_arg())
    return render_template(
        "commitments/public.html", page=page, evidence=evidence, platform_labels=services.platform_labels()
    )


# Platforms (admin) ---------------------------------------------------------------------------


@bp.route("/commitments/platforms", methods=["GET", "POST"])
@access.roles(*ADMINS)
def platforms():
    form = PlatformForm()

    def done(_platform):
        flash(_("Platform added."), "success")
        return redirect(url_for("commitments.platforms"))

    return handle_form(
        form,
        lambda: services.add_platform(form.label.data, actor=current_user),
        render=lambda: render_template(
            "commitments/platforms.html", form=form, items=services.platforms(active_only=False)
        ),
        done=done,
    )


@bp.post("/commitments/platforms/<int:platform_id>/toggle")
@access.roles(*ADMINS)
def platform_toggle(platform_id: int):
    platform: Platform = services.toggle_platform(platform_id, actor=current_user)
    flash(
        _("%(label)s is now %(state)s.", label=platform.label, state=_("active") if platform.active else _("inactive")),
        "success",
    )
    return redirect(url_for("commitments.platforms"))


@event_page_links.connect
def _event_page_links(event, **_kwargs) -> PageLink:
    return PageLink(_("Record a commitment"), url_for("commitments.new_on_behalf", event_id=event.id), order=40)
