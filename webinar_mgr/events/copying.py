"""Copying an event (issue 15): last year's webinar as this year's draft. The copy takes the
title, kind, summary, objectives, zone, place, convenors, capacity and settings, the agenda shifted
to the new date with its speakers (their photos copied too), and the translations; modules above
copy what they keep for the event through ``signals.event_copied`` (questions, mail texts, work
plan links). It takes no registrations, invitations, attendance or commitments, and not the online
meeting link (a new meeting has its own). The copy starts as a draft."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import gettext as _

from webinar_mgr import clock
from webinar_mgr.audit import services as audit
from webinar_mgr.errors import ValidationFailed
from webinar_mgr.extensions import db
from webinar_mgr.persistence import unit_of_work

from . import photos
from .models import AgendaItem, AgendaItemTranslation, Event, EventTranslation, Speaker
from .services import EventInput, create_event
from .signals import event_copied
from .times import local_to_utc, utc_to_local


@dataclass
class CopyInput:
    title: str
    starts_local: datetime | None  # the copy's start in the event's zone; None: the date to be confirmed


def copy_input(event: Event) -> CopyInput:
    """The copy form's defaults: the same title, the same local time a year later."""
    start = utc_to_local(event.starts_at, event.timezone)
    if start is not None:
        try:
            start = start.replace(year=start.year + 1)
        except ValueError:  # 29 February
            start = start.replace(year=start.year + 1, day=28)
    return CopyInput(title=event.title, starts_local=start)


def copy_event(source: Event, data: CopyInput, *, actor) -> Event:
    """The copy as a new draft, in one unit of work (the event, its agenda, speakers and what the
    modules above copy land together or not at all)."""
    written: list[str] = []  # photo files copied: removed again if the copy is refused
    try:
        with unit_of_work():
            return _copy(source, data, written, actor=actor)
    except BaseException:
        for name in written:
            photos.remove(name)
        raise


def _copy(source: Event, data: CopyInput, written: list[str], *, actor) -> Event:
    local_start = utc_to_local(source.starts_at, source.timezone)
    local_end = utc_to_local(source.ends_at, source.timezone)
    if data.starts_local is not None and local_start is None:
        msg = _("This event has no date yet: leave the new start empty (date to be confirmed).")
        raise ValidationFailed(msg, field_errors={"starts_local": [msg]})
    delta = (data.starts_local - local_start) if (data.starts_local and local_start) else None

    def shift(value):
        local = utc_to_local(value, source.timezone)
        return local + delta if (local is not None and delta is not None) else None

    tentative = None
    if delta is None:  # a date to be confirmed: tentatively the same month a year later
        month = source.tentative_month or (local_start.date() if local_start else clock.now().date())
        tentative = date(month.year + 1, month.month, 1)
    title = " ".join((data.title or "").split())
    if not title:
        msg = _("Give the copy a title.")
        raise ValidationFailed(msg, field_errors={"title": [msg]})
    target = create_event(
        EventInput(
            title=title,
            kind_id=source.kind_id,
            timezone=source.timezone,
            summary=source.summary or "",
            objectives=list(source.objectives or []),
            date_tbc=delta is None,
            tentative_month=tentative,
            starts_local=local_start + delta if delta is not None else None,
            ends_local=local_end + delta if (delta is not None and local_end is not None) else None,
            online_url=None,
            venue=source.venue,
            convenor_ids=[o.id for o in source.convenors],
            convenor_note=source.convenor_note,
            priority_tags=list(source.priority_tags or []),
            capacity=source.capacity,
            registration_opens_local=shift(source.registration_opens_at),
            registration_closes_local=shift(source.registration_closes_at),
            audience=source.audience,
            requires_approval=source.requires_approval,
            waiting_list=source.waiting_list,
            pdf_zones=list(source.pdf_zones or []),
            pdf_speaker_details=source.pdf_speaker_details,
        ),
        actor=actor,
    )
    for t in source.translations:
        db.session.add(
            EventTranslation(
                event_id=target.id,
                language=t.language,
                title=t.title,
                summary=t.summary,
                objectives=list(t.objectives or []),
            )
        )
    if delta is not None:
        for item in source.agenda_items:
            # the same local time of day on the new date (across a change of daylight saving too)
            starts_at = local_to_utc(utc_to_local(item.starts_at, source.timezone) + delta, source.timezone)
            copy = AgendaItem(
                event_id=target.id,
                position=item.position,
                starts_at=starts_at,
                duration_minutes=item.duration_minutes,
                title=item.title,
                description=item.description,
                kind=item.kind,
            )
            copy.translations = [AgendaItemTranslation(language=t.language, title=t.title) for t in item.translations]
            db.session.add(copy)
            db.session.flush()
            for s in item.speakers:
                photo = photos.duplicate(s.photo)
                if photo:
                    written.append(photo)
                db.session.add(
                    Speaker(
                        agenda_item_id=copy.id,
                        position=s.position,
                        name=s.name,
                        title=s.title,
                        organisation_name=s.organisation_name,
                        organisation_id=s.organisation_id,
                        contact_id=s.contact_id,
                        role=s.role,
                        bio=s.bio,
                        photo=photo,
                    )
                )
    db.session.flush()
    event_copied.send(source, target=target, actor=actor)
    summary = _("Copied from %(title)s (#%(id)d)", title=source.title, id=source.id)
    audit.record(actor, "event.copy", target, summary=summary)
    return target
