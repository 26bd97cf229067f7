"""Event pages: list, event page, calendar entries, agenda PDF and the organisers' forms.

The event page shows what higher modules contribute (the reader's registration, the Register and
Pledge buttons, the organisers' links) through the signals in ``signals.py``; this module imports
none of them.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from webinar_mgr import exports, links
from webinar_mgr.directory import services as directory
from webinar_mgr.errors import DomainError
from webinar_mgr.extensions import db
from webinar_mgr.forms_common import handle_form
from webinar_mgr.i18n import reader_timezone
from webinar_mgr.security import ADMINS, ORGANISERS, access, has_role

from . import agenda, copying, ics, pdf, photos, services, settings
from . import translations as event_translations
from .forms import (
    AgendaItemForm,
    CopyEventForm,
    EventForm,
    EventTranslationForm,
    KindForm,
    SpeakerForm,
    StatusForm,
    ZonesForm,
)
from .models import (
    AUDIENCES,
    ITEM_KINDS,
    STATUS_CANCELLED,
    STATUS_DRAFT,
    STATUS_HELD,
    STATUS_SCHEDULED,
    STATUS_TBC,
    STATUSES,
    Speaker,
)
from .signals import collect, event_form_parts, event_page_links, event_page_parts
from .times import utc_to_local, zone_table

bp = Blueprint("events", __name__)


# Reading --------------------------------------------------------------------------------------


@bp.get("/events")
@access.public
def index():
    when = request.args.get("when", "upcoming")
    if when not in ("upcoming", "past", "all"):
        when = "upcoming"
    year = request.args.get("year", type=int)
    if year is not None and not 1 <= year <= 9998:  # the filter reads 1 January of year + 1
        abort(400, description=_("There are no events in the year %(year)s.", year=year))
    filters = services.EventFilters(
        kind=request.args.get("kind") or None, theme=request.args.get("theme") or None, year=year, when=when
    )
    page = services.list_events(filters, user=current_user, page=request.args.get("page", 1, type=int))
    feed_url = url_for("events.feed", _external=True)
    return render_template(
        "events/index.html",
        page=page,
        filters=filters,
        kinds=settings.kinds(),
        years=services.event_years(),
        feed_url=feed_url,
        webcal_url=links.webcal(feed_url),
        can_manage=services.can_manage(current_user),
        can_admin=has_role(current_user, *ADMINS),
    )


@bp.get("/events/<int:event_id>")
@access.public
def detail(event_id: int):
    event = services.get_visible_event(event_id, current_user)
    manage = services.can_manage(current_user)
    parts = collect(event_page_parts, event, user=current_user)
    return render_template(
        "events/detail.html",
        event=event,
        text=event.shown(),
        manage=manage,
        reader_zone=reader_timezone(),
        status_parts=[p for p in parts if p.slot == "status"],
        action_parts=[p for p in parts if p.slot == "actions"],
        organiser_links=collect(event_page_links, event, user=current_user) if manage else [],
        show_link=services.can_see_link(event, current_user),
        zone_rows=zone_table(event.starts_at) if event.starts_at and event.status != "tbc" else [],
        has_calendar=ics.has_calendar_entry(event),
        google_url=ics.google_calendar_url(event),
        outlook_url=ics.outlook_calendar_url(event),
        transitions=_status_actions(event) if manage else [],
        statuses=STATUSES,
        status_form=StatusForm(),
        utc_to_local=utc_to_local,
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
            "Content-Disposition": exports.content_disposition(f"{event.title}.ics", fallback=f"event-{event.id}"),
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
            "Content-Disposition": exports.content_disposition("events.ics", inline=True),
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
            "Content-Disposition": exports.content_disposition(
                _("Agenda - %(title)s", title=event.title) + ".pdf", fallback=f"agenda-event-{event.id}"
            ),
            "Cache-Control": "private, no-store" if with_link else "public, max-age=300",
        },
    )


# Organisers: events ---------------------------------------------------------------------------


def _event_form(form: EventForm) -> EventForm:
    # No kind is chosen for the organiser (the first in the list used to be, "Annual meeting").
    form.kind_id.choices = [(0, _("Choose the kind of event"))] + [(k.id, k.label) for k in settings.kinds()]
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
        extra=request.form,
        capacity=form.capacity.data,
        registration_opens_local=form.registration_opens_local.data,
        registration_closes_local=form.registration_closes_local.data,
        audience=form.audience.data or "invitation",
        requires_approval=bool(form.requires_approval.data),
        pdf_speaker_details=bool(form.pdf_speaker_details.data),
        waiting_list=bool(form.waiting_list.data),
        pdf_zones=[z for z in (form.pdf_zone_1.data, form.pdf_zone_2.data) if z],
    )


def _event_data(event) -> dict:
    """The event as the form shows it (times in the event's zone)."""
    zone = event.timezone
    return {
        "title": event.title,
        "kind_id": event.kind_id,
        "summary": event.summary,
        "objectives": "\n".join(event.objectives or []),
        "timezone": zone,
        "starts_local": utc_to_local(event.starts_at, zone),
        "ends_local": utc_to_local(event.ends_at, zone),
        "date_tbc": event.starts_at is None,
        "tentative_month": event.tentative_month,
        "online_url": event.online_url,
        "venue": event.venue,
        "convenor_ids": [o.id for o in event.convenors],
        "convenor_note": event.convenor_note,
        "capacity": event.capacity,
        "registration_opens_local": utc_to_local(event.registration_opens_at, zone),
        "registration_closes_local": utc_to_local(event.registration_closes_at, zone),
        "audience": event.audience,
        "requires_approval": event.requires_approval,
        "pdf_speaker_details": event.pdf_speaker_details,
        "waiting_list": event.waiting_list,
        "pdf_zone_1": (event.pdf_zones or [""])[0] if event.pdf_zones else "",
        "pdf_zone_2": event.pdf_zones[1] if len(event.pdf_zones or []) > 1 else "",
    }


def _form_parts(event, errors: dict) -> list:
    """Fields the modules above add to the event form (signals.event_form_parts)."""
    formdata = request.form if request.method == "POST" else None
    parts = collect(event_form_parts, event, user=current_user, formdata=formdata, errors=errors)
    return [p for p in parts if p.slot == "form"]


def _keeping_errors(action, errors: dict):
    """Run the service, keeping its field errors for the added fields' parts."""

    def run():
        try:
            return action()
        except DomainError as exc:
            errors.update(exc.field_errors)
            raise

    return run


@bp.route("/events/new", methods=["GET", "POST"])
@access.roles(*ORGANISERS)
def new():
    form = _event_form(EventForm())
    errors: dict = {}

    def done(event):
        flash(_("Event created as a draft. Add its agenda, then publish it."), "success")
        return redirect(url_for("events.detail", event_id=event.id))

    return handle_form(
        form,
        _keeping_errors(lambda: services.create_event(_event_input(form), actor=current_user), errors),
        render=lambda: render_template("events/form.html", form=form, event=None, form_parts=_form_parts(None, errors)),
        done=done,
    )


@bp.route("/events/<int:event_id>/edit", methods=["GET", "POST"])
@access.roles(*ORGANISERS)
def edit(event_id: int):
    event = services.get_event(event_id)
    form = _event_form(EventForm(data=_event_data(event)) if request.method == "GET" else EventForm())
    errors: dict = {}

    def done(changes):
        flash(_("Event saved.") if changes else _("Nothing changed."), "success")
        return redirect(url_for("events.detail", event_id=event.id))

    return handle_form(
        form,
        _keeping_errors(lambda: services.update_event(event, _event_input(form), actor=current_user), errors),
        render=lambda: render_template(
            "events/form.html", form=form, event=event, form_parts=_form_parts(event, errors)
        ),
        done=done,
    )


@bp.post("/events/<int:event_id>/status")
@access.roles(*ORGANISERS)
def change_status(event_id: int):
    event = services.get_event(event_id)
    form = StatusForm()
    if not form.validate_on_submit():
        abort(400, _("Choose a status."))
    services.change_status(event, form.status.data, actor=current_user)
    flash(_("The event is now “%(status)s”.", status=event.status_label), "success")
    return redirect(url_for("events.detail", event_id=event.id))


def _status_actions(event) -> list[tuple[str, str]]:
    """The status buttons of the Manage box, named by what they do: a draft is published (or
    deleted, never "cancelled": nobody has seen it), a published event is cancelled or held."""
    labels = {
        (STATUS_DRAFT, STATUS_SCHEDULED): _("Publish"),
        (STATUS_DRAFT, STATUS_TBC): _("Publish with the date to be confirmed"),
        (STATUS_TBC, STATUS_SCHEDULED): _("Mark the date as confirmed"),
        (STATUS_SCHEDULED, STATUS_TBC): _("Mark the date as to be confirmed"),
    }
    out = []
    for status in services.allowed_transitions(event):
        if event.status == STATUS_DRAFT and status == STATUS_CANCELLED:
            continue  # "Delete draft" instead
        if status == STATUS_CANCELLED:
            label = _("Cancel the event")
        elif status == STATUS_HELD:
            label = _("Mark as held")
        else:
            label = labels.get((event.status, status)) or _("Mark as “%(status)s”", status=STATUSES[status])
        out.append((status, label))
    return out


@bp.post("/events/<int:event_id>/delete")
@access.roles(*ORGANISERS)
def delete(event_id: int):
    event = services.get_event(event_id)
    services.delete_event(event, actor=current_user)
    flash(_("The draft was deleted."), "success")
    return redirect(url_for("events.index"))


# Organisers: agenda ---------------------------------------------------------------------------


def _item_input(form: AgendaItemForm) -> agenda.AgendaInput:
    return agenda.AgendaInput(
        title=form.title.data or "",
        starts_local=form.starts_local.data,
        duration_minutes=form.duration_minutes.data,
        kind=form.kind.data,
        description=form.description.data,
    )


def _item_data(event, item) -> dict:
    return {
        "title": item.title,
        "kind": item.kind,
        "description": item.description,
        "starts_local": utc_to_local(item.starts_at, event.timezone),
        "duration_minutes": item.duration_minutes,
    }


def _speaker_form(form: SpeakerForm) -> SpeakerForm:
    form.organisation_id.choices = [(0, _("(none)"))] + directory.organisation_choices()
    return form


def _speaker_input(form: SpeakerForm) -> agenda.SpeakerInput:
    upload = form.photo.data
    return agenda.SpeakerInput(
        name=form.name.data or "",
        title=form.title.data,
        organisation_name=form.organisation_name.data,
        organisation_id=form.organisation_id.data or None,
        contact_email=form.contact_email.data if "contact_email" in form else None,
        role=form.role.data or "speaker",
        bio=form.bio.data,
        photo=upload.stream if upload and getattr(upload, "filename", "") else None,
        remove_photo=bool(form.remove_photo.data),
    )


def _back_to_agenda(event):
    return redirect(url_for("events.detail", event_id=event.id, _anchor="agenda"))


@bp.route("/events/<int:event_id>/agenda/new", methods=["GET", "POST"])
@access.roles(*ORGANISERS)
def item_new(event_id: int):
    event = services.get_event(event_id)
    form = AgendaItemForm()
    if request.method == "GET":
        start = max((i.ends_at for i in event.agenda_items), default=event.starts_at)
        form.starts_local.data = utc_to_local(start, event.timezone)
        form.duration_minutes.data = 15

    def done(_item):
        flash(_("Agenda item added."), "success")
        return _back_to_agenda(event)

    return handle_form(
        form,
        lambda: agenda.add_item(event, _item_input(form), actor=current_user),
        render=lambda: render_template("events/item_form.html", form=form, event=event, item=None),
        done=done,
    )


@bp.route("/events/<int:event_id>/agenda/<int:item_id>/edit", methods=["GET", "POST"])
@access.roles(*ORGANISERS)
def item_edit(event_id: int, item_id: int):
    event = services.get_event(event_id)
    item = agenda.get_item(event, item_id)
    form = AgendaItemForm(data=_item_data(event, item)) if request.method == "GET" else AgendaItemForm()
    speaker_form = _speaker_form(SpeakerForm(formdata=None))

    def done(_item):
        flash(_("Agenda item saved."), "success")
        return _back_to_agenda(event)

    return handle_form(
        form,
        lambda: agenda.update_item(event, item, _item_input(form), actor=current_user),
        render=lambda: render_template(
            "events/item_form.html", form=form, event=event, item=item, speaker_form=speaker_form
        ),
        done=done,
    )


@bp.post("/events/<int:event_id>/agenda/<int:item_id>/move")
@access.roles(*ORGANISERS)
def item_move(event_id: int, item_id: int):
    event = services.get_event(event_id)
    item = agenda.get_item(event, item_id)
    agenda.move_item(event, item, request.form.get("direction", ""), actor=current_user)
    return _back_to_agenda(event)


@bp.post("/events/<int:event_id>/agenda/<int:item_id>/delete")
@access.roles(*ORGANISERS)
def item_delete(event_id: int, item_id: int):
    event = services.get_event(event_id)
    item = agenda.get_item(event, item_id)
    agenda.delete_item(event, item, actor=current_user)
    flash(_("Agenda item deleted."), "success")
    return _back_to_agenda(event)


@bp.post("/events/<int:event_id>/agenda/<int:item_id>/speakers")
@access.roles(*ORGANISERS)
def speaker_add(event_id: int, item_id: int):
    event = services.get_event(event_id)
    item = agenda.get_item(event, item_id)
    speaker_form = _speaker_form(SpeakerForm())
    form = AgendaItemForm(formdata=None, data=_item_data(event, item))

    def add():
        return agenda.add_speaker(event, item, _speaker_input(speaker_form), actor=current_user)

    def done(_speaker):
        flash(_("Speaker added."), "success")
        return redirect(url_for("events.item_edit", event_id=event.id, item_id=item.id, _anchor="speakers"))

    return handle_form(
        speaker_form,
        add,
        render=lambda: render_template(
            "events/item_form.html", form=form, event=event, item=item, speaker_form=speaker_form
        ),
        done=done,
    )


@bp.route("/events/<int:event_id>/agenda/<int:item_id>/speakers/<int:speaker_id>/edit", methods=["GET", "POST"])
@access.roles(*ORGANISERS)
def speaker_edit(event_id: int, item_id: int, speaker_id: int):
    event = services.get_event(event_id)
    item = agenda.get_item(event, item_id)
    speaker = agenda.get_speaker(item, speaker_id)
    if request.method == "GET":
        form = SpeakerForm(
            data={
                "name": speaker.name,
                "title": speaker.title,
                "organisation_id": speaker.organisation_id or 0,
                "organisation_name": speaker.organisation_name,
                "role": speaker.role,
                "bio": speaker.bio,
            }
        )
    else:
        form = SpeakerForm()
    del form.contact_email
    _speaker_form(form)

    def done(_speaker):
        flash(_("Speaker saved."), "success")
        return redirect(url_for("events.item_edit", event_id=event.id, item_id=item.id, _anchor="speakers"))

    return handle_form(
        form,
        lambda: agenda.update_speaker(event, item, speaker, _speaker_input(form), actor=current_user),
        render=lambda: render_template("events/speaker_form.html", form=form, event=event, item=item, speaker=speaker),
        done=done,
    )


@bp.route("/events/<int:event_id>/copy", methods=["GET", "POST"])
@access.roles(*ORGANISERS)
def copy(event_id: int):
    """Copy an event as a new draft (GET: the copy's title and date; POST: copy)."""
    event = services.get_event(event_id)
    if request.method == "GET":
        defaults = copying.copy_input(event)
        form = CopyEventForm(data={"title": defaults.title, "starts_local": defaults.starts_local})
    else:
        form = CopyEventForm()

    def done(copy):
        flash(_("The copy is a draft: check its dates and details, then publish it."), "success")
        return redirect(url_for("events.edit", event_id=copy.id))

    def save():
        data = copying.CopyInput(title=form.title.data or "", starts_local=form.starts_local.data)
        return copying.copy_event(event, data, actor=current_user)

    return handle_form(
        form,
        save,
        render=lambda: render_template("events/copy.html", form=form, event=event),
        done=done,
    )


@bp.get("/speakers/<int:speaker_id>/photo.jpg")
@access.public
def speaker_photo(speaker_id: int):
    """A speaker's photo, for whoever may see the event (a draft's only for organisers)."""
    speaker = db.session.get(Speaker, speaker_id)
    if speaker is None or not speaker.photo:
        abort(404)
    services.get_visible_event(speaker.agenda_item.event_id, current_user)
    try:
        body = photos.path_of(speaker.photo).read_bytes()
    except (OSError, ValueError):
        abort(404)
    return Response(
        body,
        mimetype="image/jpeg",
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


@bp.post("/events/<int:event_id>/agenda/<int:item_id>/speakers/<int:speaker_id>/delete")
@access.roles(*ORGANISERS)
def speaker_delete(event_id: int, item_id: int, speaker_id: int):
    event = services.get_event(event_id)
    item = agenda.get_item(event, item_id)
    speaker = agenda.get_speaker(item, speaker_id)
    agenda.delete_speaker(event, item, speaker, actor=current_user)
    flash(_("Speaker removed."), "success")
    return redirect(url_for("events.item_edit", event_id=event.id, item_id=item.id, _anchor="speakers"))


# Admin: kinds and region zones ----------------------------------------------------------------


@bp.route("/events/settings", methods=["GET", "POST"], endpoint="settings")
@access.roles(*ADMINS)
def settings_page():
    kind_form = KindForm(prefix="kind")
    zones_form = ZonesForm(prefix="zones")

    def render():
        if not zones_form.zones.data:
            zones_form.zones.data = "\n".join(f"{z} | {label}" for z, label in settings.region_zones())
        return render_template(
            "events/settings.html",
            kind_form=kind_form,
            zones_form=zones_form,
            kinds=settings.kinds(include_inactive=True),
            status_form=StatusForm(),
        )

    def kind_added(kind):
        flash(_("Kind “%(label)s” added.", label=kind.label), "success")
        return redirect(url_for("events.settings"))

    def zones_saved(_zones):
        flash(_("The region's time zones were saved."), "success")
        return redirect(url_for("events.settings"))

    if request.method == "POST" and "zones-zones" in request.form:
        return handle_form(
            zones_form,
            lambda: settings.set_region_zones(zones_form.zones.data, actor=current_user),
            render=render,
            done=zones_saved,
        )
    if request.method == "POST" and "kind-label" not in request.form:
        return render(), 400
    return handle_form(
        kind_form,
        lambda: settings.add_kind(kind_form.label.data, actor=current_user),
        render=render,
        done=kind_added,
    )


@bp.post("/events/settings/kinds/<int:kind_id>/active")
@access.roles(*ADMINS)
def kind_active(kind_id: int):
    kind = settings.set_kind_active(kind_id, request.form.get("active") == "1", actor=current_user)
    flash(
        _("“%(label)s” is now %(state)s.", label=kind.label, state=_("active") if kind.active else _("inactive")),
        "success",
    )
    return redirect(url_for("events.settings"))


@bp.app_context_processor
def _event_labels():
    return {"EVENT_AUDIENCES": AUDIENCES, "AGENDA_ITEM_KINDS": ITEM_KINDS}


# Translations of the event (issue 13) ------------------------------------------------------------


@bp.route("/events/<int:event_id>/translations", methods=["GET", "POST"])
@access.roles(*ORGANISERS)
def translations(event_id: int):
    """The event's title, summary, objectives and agenda item titles in one offered language."""
    event = services.get_event(event_id)
    languages = event_translations.translation_languages()
    language = request.values.get("language") or next(iter(languages), "")
    if request.method == "GET" and language not in languages:
        abort(400, description=_("“%(code)s” is not a language offered for translations.", code=language[:35]))
    form = EventTranslationForm()
    form.language.choices = list(languages.items())
    if request.method == "GET":
        current = event.translation_in(language)
        form.language.data = language
        if current is not None:
            form.title.data, form.summary.data = current.title, current.summary
            form.objectives.data = "\n".join(current.objectives or [])
    item_titles = {
        item.id: (
            request.form.get(f"item-{item.id}", "")
            if request.method == "POST"
            else next((t.title for t in item.translations if t.language == language), "")
        )
        for item in event.agenda_items
    }

    def done(_result):
        flash(_("The translation is saved."), "success")
        return redirect(url_for("events.translations", event_id=event.id, language=form.language.data))

    return handle_form(
        form,
        lambda: event_translations.save_translation(
            event,
            form.language.data,
            title=form.title.data or "",
            summary=form.summary.data or "",
            objectives=form.objectives.data or "",
            item_titles=item_titles,
            actor=current_user,
        ),
        render=lambda: render_template(
            "events/translations.html",
            event=event,
            form=form,
            languages=languages,
            language=form.language.data or language,
            item_titles=item_titles,
            translated=[t.language for t in event.translations],
        ),
        done=done,
    )
