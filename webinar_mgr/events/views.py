"""Event pages: list, event page, calendar entries, agenda PDF and the organisers' forms."""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from webinar_mgr.errors import DomainError
from webinar_mgr.i18n import reader_timezone
from webinar_mgr.security import access

from . import ics, pdf, services
from .forms import AgendaItemForm, EventForm, KindForm, SpeakerForm, StatusForm, ZonesForm
from .models import AUDIENCES, ITEM_KINDS, STATUSES

bp = Blueprint("events", __name__)


def _apply_field_errors(form, exc: DomainError) -> bool:
    """Put a service's field errors on the form; True when at least one landed on a field."""
    placed = False
    for name, errors in exc.field_errors.items():
        field = getattr(form, name, None)
        if field is not None:
            field.errors = list(field.errors) + list(errors)
            placed = True
    return placed


def _webcal(url: str) -> str:
    for prefix in ("https://", "http://"):
        if url.startswith(prefix):
            return "webcal://" + url[len(prefix) :]
    return url


# Reading --------------------------------------------------------------------------------------


@bp.get("/events")
@access.public
def index():
    when = request.args.get("when", "upcoming")
    if when not in ("upcoming", "past", "all"):
        when = "upcoming"
    year = request.args.get("year", type=int)
    filters = services.EventFilters(
        kind=request.args.get("kind") or None, theme=request.args.get("theme") or None, year=year, when=when
    )
    page = services.list_events(filters, user=current_user, page=request.args.get("page", 1, type=int))
    feed_url = url_for("events.feed", _external=True)
    return render_template(
        "events/index.html",
        page=page,
        filters=filters,
        kinds=services.kinds(),
        years=services.event_years(),
        feed_url=feed_url,
        webcal_url=_webcal(feed_url),
        can_manage=services.can_manage(current_user),
    )


@bp.get("/events/<int:event_id>")
@access.public
def detail(event_id: int):
    event = services.get_visible_event(event_id, current_user)
    manage = services.can_manage(current_user)
    views = current_app.view_functions
    reader_zone = reader_timezone()
    mine = services.reader_registrations(event, current_user)  # one query for all that follows
    my_registration, my_manage_url = (mine[0] if mine else None), None
    if my_registration is not None and "registrations.manage" in views:
        from webinar_mgr.registrations import services as registrations

        if registrations.manage_link_valid(my_registration):
            my_manage_url = url_for("registrations.manage", token=registrations.make_manage_token(my_registration))
    return render_template(
        "events/detail.html",
        my_registration=my_registration,
        my_manage_url=my_manage_url,
        event=event,
        manage=manage,
        reader_zone=reader_zone,
        show_link=services.can_see_link(event, current_user, mine),
        registrant=services.is_registrant(event, current_user, mine),
        has_register="registrations.register" in views,
        has_pledge="commitments.new_for_event" in views,
        zone_rows=services.zone_table(event.starts_at) if event.starts_at and event.status != "tbc" else [],
        has_calendar=ics.has_calendar_entry(event),
        google_url=ics.google_calendar_url(event),
        outlook_url=ics.outlook_calendar_url(event),
        transitions=services.allowed_transitions(event) if manage else [],
        statuses=STATUSES,
        status_form=StatusForm(),
        utc_to_local=services.utc_to_local,
    )


@bp.get("/events/<int:event_id>/calendar.ics")
@access.public
def calendar_ics(event_id: int):
    event = services.get_visible_event(event_id, current_user)
    body = ics.event_ics(event)
    return Response(
        body,
        mimetype="text/calendar",
        headers={
            "Content-Disposition": f'attachment; filename="event-{event.id}.ics"',
        },
    )


@bp.get("/calendar.ics")
@access.public
def feed():
    body = ics.public_feed(name=current_app.config.get("ORGANISATION_NAME", "Events"))
    return Response(
        body,
        mimetype="text/calendar",
        headers={
            "Content-Disposition": 'inline; filename="events.ics"',
            "Cache-Control": "public, max-age=900",
        },
    )


@bp.get("/events/<int:event_id>/agenda.pdf")
@access.public
def agenda_pdf(event_id: int):
    event = services.get_visible_event(event_id, current_user)
    with_link = services.can_see_link(event, current_user)
    body = pdf.agenda_pdf(event, with_link=with_link)
    return Response(
        body,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="agenda-event-{event.id}.pdf"',
            "Cache-Control": "private, no-store" if with_link else "public, max-age=300",
        },
    )


# Organisers: events ---------------------------------------------------------------------------


def _event_form(form: EventForm) -> EventForm:
    from webinar_mgr.directory import services as directory

    form.kind_id.choices = [(k.id, k.label) for k in services.kinds()]
    form.convenor_ids.choices = directory.organisation_choices()
    if not form.timezone.data:
        form.timezone.data = current_app.config.get("DEFAULT_TIMEZONE", "UTC")
    return form


def _event_input(form: EventForm) -> services.EventInput:
    def lines(text):
        return [line.strip() for line in (text or "").splitlines() if line.strip()]

    return services.EventInput(
        title=form.title.data or "",
        kind_id=form.kind_id.data,
        timezone=form.timezone.data or "",
        summary=form.summary.data or "",
        objectives=lines(form.objectives.data),
        date_tbc=bool(form.date_tbc.data),
        tentative_month=form.tentative_month.data,
        starts_local=form.starts_local.data,
        ends_local=form.ends_local.data,
        online_url=form.online_url.data,
        venue=form.venue.data,
        convenor_ids=list(form.convenor_ids.data or []),
        convenor_note=form.convenor_note.data,
        priority_tags=[t.strip() for t in (form.priority_tags.data or "").split(",")],
        capacity=form.capacity.data,
        registration_opens_local=form.registration_opens_local.data,
        registration_closes_local=form.registration_closes_local.data,
        audience=form.audience.data or "invitation",
        requires_approval=bool(form.requires_approval.data),
        pdf_zones=[z for z in (form.pdf_zone_1.data, form.pdf_zone_2.data) if z],
    )


@bp.route("/events/new", methods=["GET", "POST"])
@access.roles("organiser")
def new():
    form = _event_form(EventForm())
    if form.validate_on_submit():
        try:
            event = services.create_event(current_user, _event_input(form))
        except DomainError as exc:
            if not _apply_field_errors(form, exc):
                flash(exc.message, "error")
            return render_template("events/form.html", form=form, event=None), exc.status_code
        flash(_("Event created as a draft. Add its agenda, then publish it."), "success")
        return redirect(url_for("events.detail", event_id=event.id))
    return render_template("events/form.html", form=form, event=None), (400 if form.errors else 200)


@bp.route("/events/<int:event_id>/edit", methods=["GET", "POST"])
@access.roles("organiser")
def edit(event_id: int):
    event = services.get_event(event_id)
    form = EventForm()
    if request.method == "GET":
        form = EventForm(
            data={
                "title": event.title,
                "kind_id": event.kind_id,
                "summary": event.summary,
                "objectives": "\n".join(event.objectives or []),
                "timezone": event.timezone,
                "starts_local": services.utc_to_local(event.starts_at, event.timezone),
                "ends_local": services.utc_to_local(event.ends_at, event.timezone),
                "date_tbc": event.starts_at is None,
                "tentative_month": event.tentative_month,
                "online_url": event.online_url,
                "venue": event.venue,
                "convenor_ids": [o.id for o in event.convenors],
                "convenor_note": event.convenor_note,
                "priority_tags": ", ".join(event.priority_tags or []),
                "capacity": event.capacity,
                "registration_opens_local": services.utc_to_local(event.registration_opens_at, event.timezone),
                "registration_closes_local": services.utc_to_local(event.registration_closes_at, event.timezone),
                "audience": event.audience,
                "requires_approval": event.requires_approval,
                "pdf_zone_1": (event.pdf_zones or [""])[0] if event.pdf_zones else "",
                "pdf_zone_2": event.pdf_zones[1] if len(event.pdf_zones or []) > 1 else "",
            }
        )
    _event_form(form)
    if form.validate_on_submit():
        try:
            changes = services.update_event(current_user, event, _event_input(form))
        except DomainError as exc:
            if not _apply_field_errors(form, exc):
                flash(exc.message, "error")
            return render_template("events/form.html", form=form, event=event), exc.status_code
        flash(_("Event saved.") if changes else _("Nothing changed."), "success")
        return redirect(url_for("events.detail", event_id=event.id))
    return render_template("events/form.html", form=form, event=event), (400 if form.errors else 200)


@bp.post("/events/<int:event_id>/status")
@access.roles("organiser")
def change_status(event_id: int):
    event = services.get_event(event_id)
    form = StatusForm()
    if not form.validate_on_submit():
        abort(400, _("Choose a status."))
    services.change_status(current_user, event, form.status.data)
    flash(_("The event is now “%(status)s”.", status=event.status_label), "success")
    return redirect(url_for("events.detail", event_id=event.id))


@bp.post("/events/<int:event_id>/delete")
@access.roles("organiser")
def delete(event_id: int):
    event = services.get_event(event_id)
    services.delete_event(current_user, event)
    flash(_("The draft was deleted."), "success")
    return redirect(url_for("events.index"))


# Organisers: agenda ---------------------------------------------------------------------------


def _item_input(form: AgendaItemForm) -> services.AgendaInput:
    return services.AgendaInput(
        title=form.title.data or "",
        starts_local=form.starts_local.data,
        duration_minutes=form.duration_minutes.data,
        kind=form.kind.data,
        description=form.description.data,
    )


def _speaker_form(form: SpeakerForm) -> SpeakerForm:
    from webinar_mgr.directory import services as directory

    form.organisation_id.choices = [(0, _("(none)"))] + directory.organisation_choices()
    return form


@bp.route("/events/<int:event_id>/agenda/new", methods=["GET", "POST"])
@access.roles("organiser")
def item_new(event_id: int):
    event = services.get_event(event_id)
    form = AgendaItemForm()
    if request.method == "GET":
        start = max((services.item_end(i) for i in event.agenda_items), default=event.starts_at)
        form.starts_local.data = services.utc_to_local(start, event.timezone)
        form.duration_minutes.data = 15
    if form.validate_on_submit():
        try:
            services.add_item(current_user, event, _item_input(form))
        except DomainError as exc:
            if not _apply_field_errors(form, exc):
                flash(exc.message, "error")
            return render_template("events/item_form.html", form=form, event=event, item=None), exc.status_code
        flash(_("Agenda item added."), "success")
        return redirect(url_for("events.detail", event_id=event.id, _anchor="agenda"))
    return render_template("events/item_form.html", form=form, event=event, item=None), (400 if form.errors else 200)


@bp.route("/events/<int:event_id>/agenda/<int:item_id>/edit", methods=["GET", "POST"])
@access.roles("organiser")
def item_edit(event_id: int, item_id: int):
    event = services.get_event(event_id)
    item = services.get_item(event, item_id)
    if request.method == "GET":
        form = AgendaItemForm(
            data={
                "title": item.title,
                "kind": item.kind,
                "description": item.description,
                "starts_local": services.utc_to_local(item.starts_at, event.timezone),
                "duration_minutes": item.duration_minutes,
            }
        )
    else:
        form = AgendaItemForm()
    speaker_form = _speaker_form(SpeakerForm(formdata=None))
    if form.validate_on_submit():
        try:
            services.update_item(current_user, event, item, _item_input(form))
        except DomainError as exc:
            if not _apply_field_errors(form, exc):
                flash(exc.message, "error")
            return render_template(
                "events/item_form.html", form=form, event=event, item=item, speaker_form=speaker_form
            ), exc.status_code
        flash(_("Agenda item saved."), "success")
        return redirect(url_for("events.detail", event_id=event.id, _anchor="agenda"))
    return render_template("events/item_form.html", form=form, event=event, item=item, speaker_form=speaker_form), (
        400 if form.errors else 200
    )


@bp.post("/events/<int:event_id>/agenda/<int:item_id>/move")
@access.roles("organiser")
def item_move(event_id: int, item_id: int):
    event = services.get_event(event_id)
    item = services.get_item(event, item_id)
    services.move_item(current_user, event, item, request.form.get("direction", ""))
    return redirect(url_for("events.detail", event_id=event.id, _anchor="agenda"))


@bp.post("/events/<int:event_id>/agenda/<int:item_id>/delete")
@access.roles("organiser")
def item_delete(event_id: int, item_id: int):
    event = services.get_event(event_id)
    item = services.get_item(event, item_id)
    services.delete_item(current_user, event, item)
    flash(_("Agenda item deleted."), "success")
    return redirect(url_for("events.detail", event_id=event.id, _anchor="agenda"))


@bp.post("/events/<int:event_id>/agenda/<int:item_id>/speakers")
@access.roles("organiser")
def speaker_add(event_id: int, item_id: int):
    event = services.get_event(event_id)
    item = services.get_item(event, item_id)
    speaker_form = _speaker_form(SpeakerForm())
    form = AgendaItemForm(
        formdata=None,
        data={
            "title": item.title,
            "kind": item.kind,
            "description": item.description,
            "starts_local": services.utc_to_local(item.starts_at, event.timezone),
            "duration_minutes": item.duration_minutes,
        },
    )
    if speaker_form.validate_on_submit():
        try:
            services.add_speaker(
                current_user,
                event,
                item,
                services.SpeakerInput(
                    name=speaker_form.name.data or "",
                    title=speaker_form.title.data,
                    organisation_name=speaker_form.organisation_name.data,
                    organisation_id=speaker_form.organisation_id.data or None,
                    contact_email=speaker_form.contact_email.data,
                ),
            )
        except DomainError as exc:
            if not _apply_field_errors(speaker_form, exc):
                flash(exc.message, "error")
            return render_template(
                "events/item_form.html", form=form, event=event, item=item, speaker_form=speaker_form
            ), exc.status_code
        flash(_("Speaker added."), "success")
        return redirect(url_for("events.item_edit", event_id=event.id, item_id=item.id, _anchor="speakers"))
    return render_template("events/item_form.html", form=form, event=event, item=item, speaker_form=speaker_form), 400


@bp.post("/events/<int:event_id>/agenda/<int:item_id>/speakers/<int:speaker_id>/delete")
@access.roles("organiser")
def speaker_delete(event_id: int, item_id: int, speaker_id: int):
    event = services.get_event(event_id)
    item = services.get_item(event, item_id)
    speaker = services.get_speaker(item, speaker_id)
    services.delete_speaker(current_user, event, item, speaker)
    flash(_("Speaker removed."), "success")
    return redirect(url_for("events.item_edit", event_id=event.id, item_id=item.id, _anchor="speakers"))


# Admin: kinds and region zones ----------------------------------------------------------------


@bp.route("/events/settings", methods=["GET", "POST"])
@access.roles("admin")
def settings():
    kind_form = KindForm(prefix="kind")
    zones_form = ZonesForm(prefix="zones")
    status = 200
    if request.method == "POST":
        status = 400
        try:
            if "kind-label" in request.form and kind_form.validate_on_submit():
                kind = services.add_kind(current_user, kind_form.label.data)
                flash(_("Kind “%(label)s” added.", label=kind.label), "success")
                return redirect(url_for("events.settings"))
            if "zones-zones" in request.form and zones_form.validate_on_submit():
                services.set_region_zones(current_user, zones_form.zones.data)
                flash(_("The region's time zones were saved."), "success")
                return redirect(url_for("events.settings"))
        except DomainError as exc:
            status = exc.status_code
            form = kind_form if "kind-label" in request.form else zones_form
            field_errors = {
                ("label" if form is kind_form else "zones"): list(
                    exc.field_errors.get("label") or exc.field_errors.get("zones") or [exc.message]
                )
            }
            _apply_field_errors(form, DomainError(exc.message, field_errors=field_errors))
    if not zones_form.zones.data:
        zones_form.zones.data = "\n".join(f"{z} | {label}" for z, label in services.region_zones())
    return render_template(
        "events/settings.html",
        kind_form=kind_form,
        zones_form=zones_form,
        kinds=services.kinds(include_inactive=True),
        status_form=StatusForm(),
    ), status


@bp.post("/events/settings/kinds/<int:kind_id>/active")
@access.roles("admin")
def kind_active(kind_id: int):
    kind = services.set_kind_active(current_user, kind_id, request.form.get("active") == "1")
    flash(
        _("“%(label)s” is now %(state)s.", label=kind.label, state=_("active") if kind.active else _("inactive")),
        "success",
    )
    return redirect(url_for("events.settings"))


@bp.app_context_processor
def _event_labels():
    return {"EVENT_AUDIENCES": AUDIENCES, "AGENDA_ITEM_KINDS": ITEM_KINDS}
