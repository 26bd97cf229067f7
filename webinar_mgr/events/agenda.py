"""Agendas: items within the event's times, in order, without overlaps; their speakers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext as _

from webinar_mgr import text
from webinar_mgr.audit import services as audit
from webinar_mgr.directory import services as directory
from webinar_mgr.directory.models import Organisation
from webinar_mgr.errors import NotFound, ValidationFailed
from webinar_mgr.extensions import db
from webinar_mgr.persistence import transactional, unit_of_work

from . import photos
from .models import ITEM_KINDS, ROLE_SPEAKER, SPEAKER_ROLES, AgendaItem, Event, Speaker
from .services import clean_text, touch
from .times import local_to_utc, utc_to_local


@dataclass
class AgendaInput:
    title: str
    starts_local: datetime | None
    duration_minutes: int | None
    kind: str = "presentation"
    description: str | None = None


def get_item(event: Event, item_id: int) -> AgendaItem:
    item = db.session.get(AgendaItem, item_id)
    if item is None or item.event_id != event.id:
        raise NotFound(_("There is no such agenda item in this event."))
    return item


def _check_item(event: Event, data: AgendaInput, *, exclude_id: int | None = None) -> tuple[datetime, int]:
    errors: dict[str, list[str]] = {}
    if not event.starts_at or not event.ends_at:
        raise ValidationFailed(_("Give the event its start and end before building the agenda."))
    if not text.single_line(data.title):
        errors.setdefault("title", []).append(_("Give the item a title."))
    if data.kind not in ITEM_KINDS:
        errors.setdefault("kind", []).append(_("Choose a kind of item."))
    if not data.duration_minutes or data.duration_minutes <= 0:
        errors.setdefault("duration_minutes", []).append(_("The duration must be at least one minute."))
    if data.starts_local is None:
        errors.setdefault("starts_local", []).append(_("Give the start time."))
    if errors:
        raise ValidationFailed(
            _("Please correct the form: %(first)s", first=next(iter(errors.values()))[0]), field_errors=errors
        )
    starts_at = local_to_utc(data.starts_local, event.timezone, field="starts_local")
    ends_at = starts_at + timedelta(minutes=data.duration_minutes)
    if starts_at < event.starts_at or ends_at > event.ends_at:
        tz = event.timezone
        msg = _(
            "The item must be within the event (%(start)s–%(end)s, %(zone)s).",
            start=utc_to_local(event.starts_at, tz).strftime("%Y-%m-%d %H:%M"),
            end=utc_to_local(event.ends_at, tz).strftime("%H:%M"),
            zone=tz,
        )
        raise ValidationFailed(msg, field_errors={"starts_local": [msg]})
    for other in event.agenda_items:
        if other.id == exclude_id:
            continue
        if starts_at < other.ends_at and other.starts_at < ends_at:
            msg = _(
                "This overlaps “%(title)s” (%(start)s–%(end)s).",
                title=other.title,
                start=utc_to_local(other.starts_at, event.timezone).strftime("%H:%M"),
                end=utc_to_local(other.ends_at, event.timezone).strftime("%H:%M"),
            )
            raise ValidationFailed(msg, field_errors={"starts_local": [msg]})
    return starts_at, data.duration_minutes


def _item_snapshot(item: AgendaItem) -> dict:
    return {
        "title": item.title,
        "starts_at": item.starts_at,
        "duration_minutes": item.duration_minutes,
        "kind": item.kind,
        "description": item.description,
        "position": item.position,
        "speakers": [s.name for s in item.speakers],
    }


def _order(item: AgendaItem) -> tuple:
    return (item.position, item.starts_at, item.id or 0)


def _renumber(event: Event) -> None:
    for n, item in enumerate(sorted(event.agenda_items, key=_order)):
        item.position = n


@transactional
def add_item(event: Event, data: AgendaInput, *, actor) -> AgendaItem:
    starts_at, minutes = _check_item(event, data)
    last = max((i.position for i in event.agenda_items), default=-1)
    item = AgendaItem(
        event=event,
        title=text.single_line(data.title),
        starts_at=starts_at,
        duration_minutes=minutes,
        kind=data.kind,
        description=text.multi_line(data.description) or None,
        position=last + 1,
    )
    db.session.add(item)
    db.session.flush()
    touch(event)
    audit.record(
        actor,
        "agenda.create",
        item,
        summary=f"{event.title}: {item.title}",
        changes=audit.diff({}, _item_snapshot(item)),
    )
    return item


@transactional
def update_item(event: Event, item: AgendaItem, data: AgendaInput, *, actor) -> AgendaItem:
    starts_at, minutes = _check_item(event, data, exclude_id=item.id)
    before = _item_snapshot(item)
    item.title = text.single_line(data.title)
    item.starts_at = starts_at
    item.duration_minutes = minutes
    item.kind = data.kind
    item.description = text.multi_line(data.description) or None
    changes = audit.diff(before, _item_snapshot(item))
    if changes:
        touch(event)
        audit.record(actor, "agenda.update", item, summary=f"{event.title}: {item.title}", changes=changes)
    return item


@transactional
def move_item(event: Event, item: AgendaItem, direction: str, *, actor) -> None:
    if direction not in ("up", "down"):
        raise ValidationFailed(_("Move an item up or down."))
    ordered = sorted(event.agenda_items, key=_order)
    index = ordered.index(item)
    other_index = index - 1 if direction == "up" else index + 1
    if not 0 <= other_index < len(ordered):  # already first or last: nothing to write
        return
    _renumber(event)
    other = ordered[other_index]
    item.position, other.position = other.position, item.position
    touch(event)
    audit.record(
        actor,
        "agenda.reorder",
        item,
        summary=f"{event.title}: {item.title} {direction}",
        changes={"position": [other.position, item.position]},
    )


@transactional
def delete_item(event: Event, item: AgendaItem, *, actor) -> None:
    touch(event)
    audit.record(
        actor,
        "agenda.delete",
        item,
        summary=f"{event.title}: {item.title}",
        changes=audit.diff(_item_snapshot(item), {}),
    )
    event.agenda_items.remove(item)
    db.session.flush()
    _renumber(event)


@dataclass
class SpeakerInput:
    name: str = ""
    title: str | None = None
    organisation_name: str | None = None
    organisation_id: int | None = None
    contact_email: str | None = None
    role: str = ROLE_SPEAKER
    bio: str | None = None
    photo: object | None = None  # an uploaded file (a stream), or None to keep the one there is
    remove_photo: bool = False


BIO_MAX = 2000


def _check_details(data: SpeakerInput) -> tuple[str, str | None]:
    """The role and the cleaned biography, or ValidationFailed naming the field."""
    if data.role not in SPEAKER_ROLES:
        msg = _("Choose speaker or moderator.")
        raise ValidationFailed(msg, field_errors={"role": [msg]})
    bio = text.multi_line(data.bio or "").strip() or None
    if bio and len(bio) > BIO_MAX:
        msg = _("The biography is longer than %(n)d characters.", n=BIO_MAX)
        raise ValidationFailed(msg, field_errors={"bio": [msg]})
    return data.role, bio


def _with_photo(data: SpeakerInput, save):
    """Store the uploaded photo (if any), then run ``save(photo_name)`` in one unit of work; a
    failure there removes the stored file again, so no file outlives a refused change."""
    name = photos.store(data.photo) if data.photo is not None else None
    try:
        with unit_of_work():
            return save(name)
    except BaseException:
        photos.remove(name)
        raise


def get_speaker(item: AgendaItem, speaker_id: int) -> Speaker:
    speaker = db.session.get(Speaker, speaker_id)
    if speaker is None or speaker.agenda_item_id != item.id:
        raise NotFound(_("There is no such speaker on this agenda item."))
    return speaker


def add_speaker(event: Event, item: AgendaItem, data: SpeakerInput, *, actor) -> Speaker:
    """A speaker or moderator, typed in or taken from the directory (by the contact's email), with
    an optional biography and photo."""
    role, bio = _check_details(data)
    return _with_photo(data, lambda photo: _add_speaker(event, item, data, role, bio, photo, actor=actor))


def _add_speaker(event, item, data: SpeakerInput, role: str, bio: str | None, photo: str | None, *, actor):
    contact = None
    if clean_text(data.contact_email):
        contact = directory.find_contact_by_email(data.contact_email)
        if contact is None:
            msg = _("No directory contact has the email %(email)s.", email=data.contact_email.strip())
            raise ValidationFailed(msg, field_errors={"contact_email": [msg]})
    name = clean_text(data.name) or (contact.name if contact else None)
    if not name:
        msg = _("Give the speaker's name or a directory contact.")
        raise ValidationFailed(msg, field_errors={"name": [msg]})
    org_id = data.organisation_id or (contact.organisation_id if contact else None)
    if org_id and db.session.get(Organisation, org_id) is None:
        raise ValidationFailed(_("There is no such organisation."), field_errors={"organisation_id": [_("Unknown.")]})
    speaker = Speaker(
        agenda_item=item,
        name=name[:200],
        title=clean_text(data.title) or (contact.position if contact else None),
        organisation_name=clean_text(data.organisation_name),
        organisation_id=org_id,
        contact_id=contact.id if contact else None,
        position=max((s.position for s in item.speakers), default=-1) + 1,
        role=role,
        bio=bio,
        photo=photo,
    )
    db.session.add(speaker)
    db.session.flush()
    touch(event)
    audit.record(actor, "speaker.create", speaker, summary=f"{event.title}: {item.title}: {speaker.name}")
    return speaker


def update_speaker(event: Event, item: AgendaItem, speaker: Speaker, data: SpeakerInput, *, actor) -> Speaker:
    """Change a speaker's name, position, organisation, role, biography or photo."""
    role, bio = _check_details(data)
    name = clean_text(data.name)
    if not name:
        msg = _("Give the speaker's name or a directory contact.")
        raise ValidationFailed(msg, field_errors={"name": [msg]})
    if data.organisation_id and db.session.get(Organisation, data.organisation_id) is None:
        raise ValidationFailed(_("There is no such organisation."), field_errors={"organisation_id": [_("Unknown.")]})
    old_photo = speaker.photo

    def save(photo: str | None) -> Speaker:
        speaker.name = name[:200]
        speaker.title = clean_text(data.title)
        speaker.organisation_id = data.organisation_id or None
        speaker.organisation_name = clean_text(data.organisation_name)
        speaker.role, speaker.bio = role, bio
        if photo is not None or data.remove_photo:
            speaker.photo = photo
        touch(event)
        audit.record(actor, "speaker.update", speaker, summary=f"{event.title}: {item.title}: {speaker.name}")
        return speaker

    result = _with_photo(data, save)
    if old_photo and result.photo != old_photo:
        photos.remove(old_photo)  # after the commit: the old file is no longer referenced
    return result


def delete_speaker(event: Event, item: AgendaItem, speaker: Speaker, *, actor) -> None:
    photo = speaker.photo
    with unit_of_work():
        touch(event)
        audit.record(actor, "speaker.delete", speaker, summary=f"{event.title}: {item.title}: {speaker.name}")
        item.speakers.remove(speaker)
    photos.remove(photo)
