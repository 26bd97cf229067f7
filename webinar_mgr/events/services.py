"""Events: reading them (who sees what), and the rules for creating, changing and publishing them.

Agendas and speakers are in ``agenda.py``, the administrators' settings (kinds of event, the
region's zones) in ``settings.py``, local times in ``times.py``, the calendar feed's queries in
``queries.py``. Each public function that changes data is one unit of work
(``persistence.transactional``); ``event_changed`` is sent after the flush and before the commit,
so the update mails of the modules listening land with the change or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask_babel import gettext as _

from webinar_mgr import clock, text
from webinar_mgr.audit import services as audit
from webinar_mgr.directory.models import Organisation
from webinar_mgr.errors import NotFound, ValidationFailed
from webinar_mgr.extensions import db
from webinar_mgr.i18n import is_valid_timezone
from webinar_mgr.persistence import get_or_404, transactional
from webinar_mgr.security import ORGANISERS, has_role

from .models import (
    AUDIENCES,
    STATUS_CANCELLED,
    STATUS_DRAFT,
    STATUS_HELD,
    STATUS_SCHEDULED,
    STATUS_TBC,
    STATUSES,
    Event,
    EventKind,
)
from .signals import event_changed, event_form_saved, join_link_access, validate_event_change
from .times import local_to_utc

# Status machine: draft -> date TBC -> scheduled -> held; cancelled from any state before held.
# A scheduled event may go back to "date TBC" when it is postponed without a new date.
TRANSITIONS = {
    STATUS_DRAFT: {STATUS_TBC, STATUS_SCHEDULED, STATUS_CANCELLED},
    STATUS_TBC: {STATUS_SCHEDULED, STATUS_CANCELLED},
    STATUS_SCHEDULED: {STATUS_HELD, STATUS_TBC, STATUS_CANCELLED},
    STATUS_HELD: set(),
    STATUS_CANCELLED: set(),
}
# Changes that touch what a calendar shows: each bumps SEQUENCE (RFC 5545 3.8.7.4).
# The online link is written into registrants' calendar copies, so a new link is significant too.
SIGNIFICANT = ("time", "place", "link", "status")


# Reading -------------------------------------------------------------------------------------


def get_event(event_id: int) -> Event:
    return get_or_404(Event, event_id, _("There is no event with this number."))


def is_published(event: Event) -> bool:
    return event.status != STATUS_DRAFT


def can_manage(user) -> bool:
    """Organisers (and administrators) run events."""
    return has_role(user, *ORGANISERS)


def require_visible(event: Event, user=None) -> Event:
    """The one visibility rule of every public entry point (event page, registration, invitation
    and manage links, calendars, PDFs): published events for everyone, drafts for organisers only;
    to anyone else a draft does not exist."""
    if not is_published(event) and not can_manage(user):
        raise NotFound(_("There is no event with this number."))
    return event


def get_visible_event(event_id: int, user) -> Event:
    """The event if ``user`` may read it (see ``require_visible``)."""
    return require_visible(get_event(event_id), user)


def can_see_link(event: Event, user) -> bool:
    """The online meeting link is for organisers, and for readers a higher module vouches for
    (registrations: confirmed registrants), through the ``join_link_access`` signal."""
    if can_manage(user):
        return True
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return any(allowed for _receiver, allowed in join_link_access.send(event, user=user))


@dataclass
class EventFilters:
    kind: str | None = None
    theme: str | None = None
    year: int | None = None
    when: str = "upcoming"  # "upcoming", "past" or "all"
    status: str | None = None  # one status (the API's filter); drafts still for organisers only
    status: str | None = None  # one status (the API's filter); drafts still for organisers only


def list_events(filters: EventFilters, *, user=None, page: int = 1, per_page: int = 20):
    """Events matching the filters; drafts only for organisers. Upcoming soonest first,
    past latest first; date-TBC events sort by their tentative month."""
    now = clock.now()
    stmt = sa.select(Event).join(EventKind)
    if not can_manage(user):
        stmt = stmt.where(Event.status != STATUS_DRAFT)
    if filters.kind:
        stmt = stmt.where(EventKind.code == filters.kind)
    if filters.status in STATUSES:
        stmt = stmt.where(Event.status == filters.status)
    if filters.status in STATUSES:
        stmt = stmt.where(Event.status == filters.status)
    if filters.theme:
        needle = f"%{filters.theme.strip().lower()}%"
        stmt = stmt.where(sa.or_(sa.func.lower(Event.title).like(needle), sa.func.lower(Event.summary).like(needle)))
    if filters.year:
        start = datetime(filters.year, 1, 1, tzinfo=UTC)
        end = datetime(filters.year + 1, 1, 1, tzinfo=UTC)
        stmt = stmt.where(
            sa.or_(
                sa.and_(Event.starts_at >= start, Event.starts_at < end),
                sa.and_(
                    Event.starts_at.is_(None),
                    Event.tentative_month >= date(filters.year, 1, 1),
                    Event.tentative_month < date(filters.year + 1, 1, 1),
                ),
            )
        )
    upcoming = sa.or_(
        Event.ends_at >= now,
        sa.and_(Event.starts_at.is_(None), Event.status.notin_((STATUS_HELD, STATUS_CANCELLED))),
        Event.status == STATUS_TBC,
    )
    if filters.when == "upcoming":
        stmt = stmt.where(upcoming).order_by(
            Event.starts_at.is_(None), Event.starts_at, Event.tentative_month, Event.id
        )
    elif filters.when == "past":
        stmt = stmt.where(sa.not_(upcoming)).order_by(Event.starts_at.desc(), Event.id.desc())
    else:
        stmt = stmt.order_by(Event.starts_at.is_(None), Event.starts_at.desc(), Event.id.desc())
    return db.paginate(stmt, page=page, per_page=per_page, error_out=False)


def event_years() -> list[int]:
    years = set()
    for starts_at, month in db.session.execute(sa.select(Event.starts_at, Event.tentative_month)):
        if starts_at is not None:
            years.add(starts_at.year)
        elif month is not None:
            years.add(month.year)
    return sorted(years, reverse=True)


def touch(event: Event) -> None:
    """Mark the event changed (agenda and speakers are part of what calendars and PDFs show)."""
    event.updated_at = clock.now()


# Creating and changing events ----------------------------------------------------------------

EVENT_FIELDS = (
    "title",
    "summary",
    "objectives",
    "kind_id",
    "timezone",
    "starts_at",
    "ends_at",
    "tentative_month",
    "online_url",
    "venue",
    "convenor_note",
    "priority_tags",
    "capacity",
    "registration_opens_at",
    "registration_closes_at",
    "audience",
    "requires_approval",
    "waiting_list",
    "pdf_zones",
    "pdf_speaker_details",
)


def snapshot(event: Event) -> dict:
    data = {f: getattr(event, f) for f in EVENT_FIELDS}
    data["objectives"] = list(event.objectives or [])
    data["priority_tags"] = list(event.priority_tags or [])
    data["pdf_zones"] = list(event.pdf_zones or [])
    data["convenors"] = sorted(o.name for o in event.convenors)
    data["status"] = event.status
    return data


@dataclass
class EventInput:
    """What the event form gives, with times as wall-clock times in ``timezone``."""

    title: str
    kind_id: int
    timezone: str
    summary: str = ""
    objectives: list[str] | None = None
    date_tbc: bool = False
    tentative_month: date | None = None
    starts_local: datetime | None = None
    ends_local: datetime | None = None
    online_url: str | None = None
    venue: str | None = None
    convenor_ids: list[int] | None = None
    convenor_note: str | None = None
    priority_tags: list[str] | None = None
    capacity: int | None = None
    registration_opens_local: datetime | None = None
    registration_closes_local: datetime | None = None
    audience: str = "invitation"
    requires_approval: bool = False
    waiting_list: bool = True
    pdf_zones: list[str] | None = None
    pdf_speaker_details: bool = False
    # The submitted form's other fields, for the modules that add fields to the event form
    # (signals.event_form_parts / event_form_saved); None when there are none (the API, tests).
    extra: Mapping[str, Any] | None = None


def clean_text(value: str | None) -> str | None:
    """One line, cleaned of control characters (text.single_line), or None for blank input."""
    return text.single_line(value) or None


def _resolve(data: EventInput) -> dict:
    """Validate the input and turn it into column values; raises ValidationFailed with every
    field error at once."""
    errors: dict[str, list[str]] = {}

    def err(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    title = text.single_line(data.title)
    if not title:
        err("title", _("Give the event a title."))
    elif len(title) > 300:
        err("title", _("At most 300 characters."))
    kind = db.session.get(EventKind, data.kind_id) if data.kind_id else None
    if kind is None:
        err("kind_id", _("Choose a kind of event."))
    zone_ok = is_valid_timezone(data.timezone)
    if not zone_ok:
        err("timezone", _("Unknown time zone “%(zone)s”.", zone=data.timezone or ""))
    if data.audience not in AUDIENCES:
        err("audience", _("Choose who may take part."))
    if data.capacity is not None and data.capacity < 0:
        err("capacity", _("The capacity cannot be negative."))
    pdf_zones = [z for z in (data.pdf_zones or []) if z]
    for z in pdf_zones:
        if not is_valid_timezone(z):
            err("pdf_zones", _("Unknown time zone “%(zone)s”.", zone=z))
    url = clean_text(data.online_url)
    if url and not url.lower().startswith(("https://", "http://")):
        err("online_url", _("The online link must start with https://."))

    def convert(local, field):
        if local is None or not zone_ok:
            return None
        try:
            return local_to_utc(local, data.timezone, field=field)
        except ValidationFailed as exc:
            for f, msgs in exc.field_errors.items():
                for m in msgs:
                    err(f, m)
            return None

    starts_at = ends_at = None
    tentative = data.tentative_month.replace(day=1) if data.tentative_month else None
    if data.date_tbc:
        if tentative is None:
            err("tentative_month", _("Give the tentative month when the date is to be confirmed."))
    else:
        if data.starts_local is None:
            err("starts_local", _("Give the start date and time, or tick “date to be confirmed”."))
        if data.ends_local is None:
            err("ends_local", _("Give the end date and time."))
        starts_at = convert(data.starts_local, "starts_local")
        ends_at = convert(data.ends_local, "ends_local")
        if starts_at and ends_at and ends_at <= starts_at:
            err("ends_local", _("The end must be after the start."))
        tentative = None
    opens = convert(data.registration_opens_local, "registration_opens_local")
    closes = convert(data.registration_closes_local, "registration_closes_local")
    if opens and closes and closes <= opens:
        err("registration_closes_local", _("Registration must close after it opens."))
    if closes and ends_at and closes > ends_at:
        err("registration_closes_local", _("Registration must close before the event ends."))
    convenors = []
    if data.convenor_ids:
        convenors = list(db.session.scalars(sa.select(Organisation).where(Organisation.id.in_(data.convenor_ids))))
        if len(convenors) != len(set(data.convenor_ids)):
            err("convenor_ids", _("An organisation chosen as convenor does not exist."))
    if errors:
        first = next(iter(errors.values()))[0]
        raise ValidationFailed(_("Please correct the form: %(first)s", first=first), field_errors=errors)
    return {
        "title": title,
        "summary": text.multi_line(data.summary),
        "objectives": [o for o in (text.single_line(o) for o in data.objectives or []) if o],
        "kind_id": kind.id,
        "timezone": data.timezone,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "tentative_month": tentative,
        "online_url": url,
        "venue": clean_text(data.venue),
        "convenor_note": clean_text(data.convenor_note),
        # Free-text tags are no longer edited (the work plan's action items replaced them): None
        # keeps the event's leftover tags as they are.
        "priority_tags": None
        if data.priority_tags is None
        else [t for t in (text.single_line(t) for t in data.priority_tags) if t],
        "capacity": data.capacity,
        "registration_opens_at": opens,
        "registration_closes_at": closes,
        "audience": data.audience,
        "requires_approval": bool(data.requires_approval),
        "waiting_list": bool(data.waiting_list),
        "pdf_speaker_details": bool(data.pdf_speaker_details),
        "pdf_zones": pdf_zones[:2],
        "_convenors": convenors,
    }


def _classify(before: dict, after: dict) -> set[str]:
    changes = set()
    if any(before.get(k) != after.get(k) for k in ("starts_at", "ends_at", "timezone", "tentative_month")):
        changes.add("time")
    if before.get("venue") != after.get("venue"):
        changes.add("place")
    if before.get("online_url") != after.get("online_url"):
        changes.add("link")
    if before.get("status") != after.get("status"):
        changes.add("status")
    rest = set(before) | set(after)
    if any(
        before.get(k) != after.get(k)
        for k in rest
        if k not in ("starts_at", "ends_at", "timezone", "tentative_month", "venue", "online_url", "status")
    ):
        changes.add("details")
    return changes


def _notify(event: Event, actor, changes: set[str], before: dict | None = None) -> None:
    """Bump SEQUENCE for significant changes and tell listeners, inside the transaction
    (``before``: the snapshot before the change, so that update mails can say from what to what)."""
    significant = changes & set(SIGNIFICANT)
    if not significant:
        return
    if is_published(event):
        event.sequence = (event.sequence or 0) + 1
    db.session.flush()
    event_changed.send(
        event, actor=actor, changes=set(changes), cancelled=event.status == STATUS_CANCELLED, before=before or {}
    )


@transactional
def create_event(data: EventInput, *, actor) -> Event:
    values = _resolve(data)
    convenors = values.pop("_convenors")
    if values["priority_tags"] is None:
        values["priority_tags"] = []
    event = Event(**values, status=STATUS_DRAFT, created_by_id=getattr(actor, "id", None))
    event.convenors = convenors
    db.session.add(event)
    db.session.flush()
    audit.record(actor, "event.create", event, summary=event.title, changes=audit.diff({}, snapshot(event)))
    _form_saved(event, data, actor)
    return event


def _form_saved(event: Event, data: EventInput, actor) -> bool:
    """Let the modules that add fields to the event form save them (or, with no form data, check
    the event as changed against what they keep), in this unit of work."""
    results = event_form_saved.send(event, actor=actor, formdata=data.extra)
    return any(bool(value) for _receiver, value in results)


@transactional
def update_event(event: Event, data: EventInput, *, actor) -> set[str]:
    """Apply the form; returns the kinds of change ("time", "place", "link", "details", ...)."""
    values = _resolve(data)
    convenors = values.pop("_convenors")
    if data.date_tbc and event.status in (STATUS_SCHEDULED, STATUS_HELD):
        msg = _(
            "A scheduled or held event needs its date. To postpone it, change its status to "
            "“date to be confirmed” first."
        )
        raise ValidationFailed(msg, field_errors={"date_tbc": [msg]})
    if values["priority_tags"] is None:
        values["priority_tags"] = list(event.priority_tags or [])
    # Modules above (registrations: the capacity against the people registered) may refuse.
    validate_event_change.send(event, values=values)
    before = snapshot(event)
    old_start = event.starts_at
    for key, value in values.items():
        setattr(event, key, value)
    event.convenors = convenors
    # Moving the event moves its agenda with it; then every item must still fit.
    if old_start is not None and event.starts_at is not None and event.starts_at != old_start:
        delta = event.starts_at - old_start
        for item in event.agenda_items:
            item.starts_at = item.starts_at + delta
    if event.agenda_items and event.starts_at is not None:
        for item in event.agenda_items:
            if item.starts_at < event.starts_at or item.ends_at > event.ends_at:
                msg = _(
                    "The agenda item “%(title)s” would fall outside the new times; shorten or move it first.",
                    title=item.title,
                )
                raise ValidationFailed(msg, field_errors={"ends_local": [msg]})
    after = snapshot(event)
    changes = _classify(before, after)
    # The other modules' fields (they audit their own changes); "links" tells the caller.
    extra = {"links"} if _form_saved(event, data, actor) else set()
    if not changes:  # the same values again: nothing is written
        return extra
    audit.record(actor, "event.update", event, summary=event.title, changes=audit.diff(before, after))
    _notify(event, actor, changes, before)
    return changes | extra


def allowed_transitions(event: Event) -> list[str]:
    """The statuses the event can move to now (held only once it has ended)."""
    out = []
    for s in (STATUS_TBC, STATUS_SCHEDULED, STATUS_HELD, STATUS_CANCELLED):
        if s not in TRANSITIONS[event.status]:
            continue
        if s == STATUS_HELD and (event.ends_at is None or event.ends_at > clock.now()):
            continue
        if s == STATUS_SCHEDULED and (event.starts_at is None or event.ends_at is None):
            continue
        out.append(s)
    return out


@transactional
def change_status(event: Event, new_status: str, *, actor) -> Event:
    if new_status not in STATUSES:
        raise ValidationFailed(_("Unknown status."))
    if new_status == event.status:
        return event
    if new_status not in TRANSITIONS.get(event.status, set()):
        if event.status == STATUS_HELD:
            msg = _("This event has been held; its status can no longer change.")
        elif event.status == STATUS_CANCELLED:
            msg = _("This event is cancelled; its status can no longer change.")
        else:
            msg = _(
                "An event cannot go from “%(old)s” to “%(new)s”.",
                old=STATUSES[event.status],
                new=STATUSES[new_status],
            )
        raise ValidationFailed(msg)
    if new_status == STATUS_SCHEDULED and (event.starts_at is None or event.ends_at is None):
        raise ValidationFailed(_("Give the event its start and end before scheduling it."))
    if new_status == STATUS_TBC and event.tentative_month is None:
        base = event.starts_at or clock.now()
        event.tentative_month = base.astimezone(ZoneInfo(event.timezone)).date().replace(day=1)
    if new_status == STATUS_HELD and (event.ends_at is None or event.ends_at > clock.now()):
        raise ValidationFailed(_("An event can be marked as held only after it has ended."))
    before = snapshot(event)
    event.status = new_status
    audit.record(
        actor,
        "event.status",
        event,
        summary=f"{event.title}: {before['status']} → {new_status}",
        changes=audit.diff(before, snapshot(event)),
    )
    _notify(event, actor, {"status"}, before)
    return event


@transactional
def delete_event(event: Event, *, actor) -> None:
    """Only drafts can be deleted; published events are cancelled instead."""
    if event.status != STATUS_DRAFT:
        raise ValidationFailed(_("Only draft events can be deleted; cancel a published event instead."))
    audit.record(actor, "event.delete", event, summary=event.title, changes=audit.diff(snapshot(event), {}))
    db.session.delete(event)
