"""Events: the rules for creating, changing and publishing events and their agendas.

Services own the transaction: each public function that changes data either commits (and calls
``event_changed`` after the flush, before the commit) or rolls back and raises a DomainError,
so nothing is ever half-saved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask_babel import gettext as _

from webinar_mgr import clock
from webinar_mgr.audit import services as audit
from webinar_mgr.core.models import Setting
from webinar_mgr.errors import NotAllowed, NotFound, ValidationFailed
from webinar_mgr.extensions import db
from webinar_mgr.i18n import is_valid_timezone

from .models import (
    AUDIENCES,
    ITEM_KINDS,
    STATUS_CANCELLED,
    STATUS_DRAFT,
    STATUS_HELD,
    STATUS_SCHEDULED,
    STATUS_TBC,
    STATUSES,
    AgendaItem,
    Event,
    EventKind,
    Speaker,
)
from .signals import event_changed

DEFAULT_KINDS = (
    ("regional_webinar", "Regional webinar"),
    ("annual_meeting", "Annual meeting"),
    ("virtual_seminar", "Virtual seminar"),
    ("open_session", "Open session"),
)
REGION_ZONES_KEY = "region_zones"
DEFAULT_REGION_ZONES = (
    ("Asia/Bangkok", "Bangkok"),
    ("Asia/Jakarta", "Jakarta"),
    ("Asia/Manila", "Manila"),
    ("Australia/Sydney", "Canberra"),
    ("Pacific/Port_Moresby", "Port Moresby"),
    ("Pacific/Fiji", "Suva"),
    ("Pacific/Apia", "Apia"),
)

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
SIGNIFICANT = ("time", "place", "link", "status")
# The online link is written into registrants' calendar copies, so a new link is significant too.


# Reading -------------------------------------------------------------------------------------


def get_event(event_id: int) -> Event:
    event = db.session.get(Event, event_id)
    if event is None:
        raise NotFound(_("There is no event with this number."))
    return event


def is_published(event: Event) -> bool:
    return event.status != STATUS_DRAFT


def can_manage(user) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.has_role("organiser"))


def get_visible_event(event_id: int, user) -> Event:
    """The event if ``user`` may read it: published events for everyone, drafts for organisers."""
    event = get_event(event_id)
    if not is_published(event) and not can_manage(user):
        raise NotFound(_("There is no event with this number."))
    return event


def active_registration_count(event: Event) -> int:
    from webinar_mgr.registrations.models import Registration

    return (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Registration)
            .where(Registration.event_id == event.id, Registration.status.in_(("pending", "confirmed")))
        )
        or 0
    )


def reader_registrations(event: Event, user) -> list:
    """The reader's own registrations for this event (registrations builds on events, hence the
    import here). One query: pass the result to the checks below to ask several of them."""
    from webinar_mgr.registrations.services import registrations_of

    return registrations_of(event.id, user)


def is_confirmed_registrant(event: Event, user, registrations: list | None = None) -> bool:
    regs = reader_registrations(event, user) if registrations is None else registrations
    return any(r.status == "confirmed" for r in regs)


def is_registrant(event: Event, user, registrations: list | None = None) -> bool:
    """Signed in and holding an active registration (pending, confirmed or waiting list)."""
    regs = reader_registrations(event, user) if registrations is None else registrations
    return any(r.status in ("pending", "confirmed", "waitlisted") for r in regs)


def can_see_link(event: Event, user, registrations: list | None = None) -> bool:
    """The online meeting link is for organisers and confirmed registrants only."""
    return can_manage(user) or is_confirmed_registrant(event, user, registrations)


@dataclass
class EventFilters:
    kind: str | None = None
    theme: str | None = None
    year: int | None = None
    when: str = "upcoming"  # "upcoming", "past" or "all"


def list_events(filters: EventFilters, *, user=None, page: int = 1, per_page: int = 20):
    """Events matching the filters; drafts only for organisers. Upcoming soonest first,
    past latest first; date-TBC events sort by their tentative month."""
    now = clock.now()
    stmt = sa.select(Event).join(EventKind)
    if not can_manage(user):
        stmt = stmt.where(Event.status != STATUS_DRAFT)
    if filters.kind:
        stmt = stmt.where(EventKind.code == filters.kind)
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


def feed_events() -> list[Event]:
    """Published, dated events for the subscribable calendar."""
    stmt = sa.select(Event).where(*_feed_filter()).order_by(Event.starts_at)
    return list(db.session.scalars(stmt))


def _feed_filter():
    return (
        Event.status.in_((STATUS_SCHEDULED, STATUS_HELD, STATUS_CANCELLED)),
        Event.starts_at.is_not(None),
        Event.ends_at.is_not(None),
    )


def feed_event_keys() -> list:
    """Light rows (no relationships) of the feed's events, in feed order."""
    return list(
        db.session.execute(
            sa.select(
                Event.id, Event.uid, Event.sequence, Event.status, Event.updated_at, Event.kind_id, Event.timezone
            )
            .where(*_feed_filter())
            .order_by(Event.starts_at)
        )
    )


def events_by_ids(ids: list[int]) -> list[Event]:
    out = []
    for n in range(0, len(ids), 500):
        out.extend(db.session.scalars(sa.select(Event).where(Event.id.in_(ids[n : n + 500]))).unique())
    return out


def feed_fingerprint() -> tuple:
    """Changes whenever anything in the public feed changes: every organiser change writes an
    audit entry in its own transaction, so the newest audit id moves with each of them; the
    event figures cover changes made without the audit log (demo data, imports)."""
    from webinar_mgr.audit.models import AuditEntry

    last_audit = db.session.scalar(sa.select(sa.func.max(AuditEntry.id)))
    row = db.session.execute(
        sa.select(
            sa.func.count(), sa.func.max(Event.updated_at), sa.func.sum(Event.sequence), sa.func.sum(Event.id)
        ).where(*_feed_filter())
    ).one()
    return (str(last_audit), *(str(v) for v in row))


def _touch(event: Event) -> None:
    """Mark the event changed (agenda and speakers are part of what calendars and PDFs show)."""
    event.updated_at = clock.now()


# Kinds and region zones (admin settings) -----------------------------------------------------


def kinds(*, include_inactive: bool = False) -> list[EventKind]:
    """Event kinds; the defaults are created the first time the list is empty."""
    rows = list(db.session.scalars(sa.select(EventKind).order_by(EventKind.label)))
    if not rows:
        for code, label in DEFAULT_KINDS:
            db.session.add(EventKind(code=code, label=label, active=True))
        db.session.commit()
        rows = list(db.session.scalars(sa.select(EventKind).order_by(EventKind.label)))
    return rows if include_inactive else [k for k in rows if k.active]


def kind_by_code(code: str) -> EventKind | None:
    kinds(include_inactive=True)
    return db.session.scalar(sa.select(EventKind).where(EventKind.code == code))


def add_kind(actor, label: str) -> EventKind:
    label = (label or "").strip()
    if not label or len(label) > 100:
        raise ValidationFailed(
            _("Give the kind a name of up to 100 characters."), field_errors={"label": [_("Required.")]}
        )
    code = "".join(c if c.isalnum() else "_" for c in label.lower()).strip("_")[:32] or "kind"
    existing = {k.code for k in kinds(include_inactive=True)}
    base, n = code, 2
    while code in existing:
        code = f"{base[:29]}_{n}"
        n += 1
    if any(k.label.lower() == label.lower() for k in kinds(include_inactive=True)):
        raise ValidationFailed(
            _("There is already a kind called “%(label)s”.", label=label),
            field_errors={"label": [_("Already exists.")]},
        )
    kind = EventKind(code=code, label=label, active=True)
    db.session.add(kind)
    db.session.flush()
    audit.record(actor, "event_kind.create", kind, summary=label)
    db.session.commit()
    return kind


def set_kind_active(actor, kind_id: int, active: bool) -> EventKind:
    kind = db.session.get(EventKind, kind_id)
    if kind is None:
        raise NotFound(_("There is no such event kind."))
    if kind.active != active:
        audit.record(actor, "event_kind.update", kind, summary=kind.label, changes={"active": [kind.active, active]})
        kind.active = active
        db.session.commit()
    return kind


def region_zones() -> list[tuple[str, str]]:
    """[(IANA zone, label)] of the region's main zones, as the admin set them."""
    setting = db.session.get(Setting, REGION_ZONES_KEY)
    if setting is None or not setting.value:
        return list(DEFAULT_REGION_ZONES)
    out = []
    for item in setting.value:
        if isinstance(item, dict) and is_valid_timezone(item.get("zone")):
            out.append((item["zone"], item.get("label") or _zone_city(item["zone"])))
        elif isinstance(item, str) and is_valid_timezone(item):
            out.append((item, _zone_city(item)))
    return out or list(DEFAULT_REGION_ZONES)


def _zone_city(zone: str) -> str:
    return zone.rsplit("/", 1)[-1].replace("_", " ")


def parse_region_zones(text: str) -> list[tuple[str, str]]:
    """Lines of "Zone" or "Zone | Label"; raises ValidationFailed naming the bad lines."""
    zones, bad = [], []
    for n, line in enumerate((text or "").splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        zone, _sep, label = line.partition("|")
        zone, label = zone.strip(), label.strip()
        if not is_valid_timezone(zone):
            bad.append(_("line %(n)s: unknown time zone “%(zone)s”", n=n, zone=zone))
            continue
        zones.append((zone, label or _zone_city(zone)))
    if bad:
        raise ValidationFailed("; ".join(bad), field_errors={"zones": bad})
    if not zones:
        raise ValidationFailed(_("Give at least one time zone."), field_errors={"zones": [_("Required.")]})
    return zones


def set_region_zones(actor, text: str) -> list[tuple[str, str]]:
    zones = parse_region_zones(text)
    before = region_zones()
    setting = db.session.get(Setting, REGION_ZONES_KEY)
    value = [{"zone": z, "label": label} for z, label in zones]
    if setting is None:
        setting = Setting(key=REGION_ZONES_KEY, value=value)
        db.session.add(setting)
    else:
        setting.value = value
    audit.record(
        actor,
        "settings.region_zones",
        object_type="Setting",
        object_id=REGION_ZONES_KEY,
        summary=_("Region time zones"),
        changes=audit.diff({"zones": [list(z) for z in before]}, {"zones": [list(z) for z in zones]}),
    )
    db.session.commit()
    return zones


# Local times in the event's zone -------------------------------------------------------------


def local_to_utc(local: datetime, zone: str, *, field: str = "starts_at") -> datetime:
    """Turn a wall-clock time in ``zone`` into UTC.

    A time skipped by a daylight-saving jump (a gap) does not exist: refused with a message.
    A time that happens twice (a fold) takes the first occurrence, the usual reading.
    """
    if not is_valid_timezone(zone):
        raise ValidationFailed(
            _("Unknown time zone “%(zone)s”.", zone=zone), field_errors={"timezone": [_("Unknown time zone.")]}
        )
    tz = ZoneInfo(zone)
    naive = local.replace(tzinfo=None, fold=0)
    aware = naive.replace(tzinfo=tz)
    roundtrip = aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    if roundtrip != naive:
        msg = _(
            "%(time)s does not exist in %(zone)s (the clocks jump forward then); pick another time.",
            time=naive.strftime("%Y-%m-%d %H:%M"),
            zone=zone,
        )
        raise ValidationFailed(msg, field_errors={field: [msg]})
    return aware.astimezone(UTC)


def utc_to_local(value: datetime | None, zone: str) -> datetime | None:
    if value is None:
        return None
    return value.astimezone(ZoneInfo(zone)).replace(tzinfo=None)


def zone_table(moment: datetime, zones: list[tuple[str, str]] | None = None) -> list[dict]:
    """The same moment in each of the region's zones."""
    rows = []
    for zone, label in zones or region_zones():
        local = moment.astimezone(ZoneInfo(zone))
        rows.append(
            {
                "zone": zone,
                "label": label,
                "local": local,
                "moment": moment,
                "day_shift": (local.date() - moment.astimezone(UTC).date()).days,
            }
        )
    return rows


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
    "pdf_zones",
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
    pdf_zones: list[str] | None = None


def _clean(text: str | None) -> str | None:
    text = (text or "").strip()
    return text or None


def _resolve(data: EventInput) -> dict:
    """Validate the input and turn it into column values; raises ValidationFailed with every
    field error at once."""
    errors: dict[str, list[str]] = {}

    def err(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    title = (data.title or "").strip()
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
    url = _clean(data.online_url)
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
        from webinar_mgr.directory.models import Organisation

        convenors = list(db.session.scalars(sa.select(Organisation).where(Organisation.id.in_(data.convenor_ids))))
        if len(convenors) != len(set(data.convenor_ids)):
            err("convenor_ids", _("An organisation chosen as convenor does not exist."))
    if errors:
        first = next(iter(errors.values()))[0]
        raise ValidationFailed(_("Please correct the form: %(first)s", first=first), field_errors=errors)
    return {
        "title": title,
        "summary": (data.summary or "").strip(),
        "objectives": [o.strip() for o in (data.objectives or []) if o and o.strip()],
        "kind_id": kind.id,
        "timezone": data.timezone,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "tentative_month": tentative,
        "online_url": url,
        "venue": _clean(data.venue),
        "convenor_note": _clean(data.convenor_note),
        "priority_tags": [t.strip() for t in (data.priority_tags or []) if t and t.strip()],
        "capacity": data.capacity,
        "registration_opens_at": opens,
        "registration_closes_at": closes,
        "audience": data.audience,
        "requires_approval": bool(data.requires_approval),
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


def _notify(event: Event, actor, changes: set[str]) -> None:
    """Bump SEQUENCE for significant changes and tell listeners, inside the transaction."""
    significant = changes & set(SIGNIFICANT)
    if not significant:
        return
    if is_published(event):
        event.sequence = (event.sequence or 0) + 1
    db.session.flush()
    event_changed.send(event, actor=actor, changes=set(changes), cancelled=event.status == STATUS_CANCELLED)


def create_event(actor, data: EventInput) -> Event:
    try:
        values = _resolve(data)
        convenors = values.pop("_convenors")
        event = Event(**values, status=STATUS_DRAFT, created_by_id=getattr(actor, "id", None))
        event.convenors = convenors
        db.session.add(event)
        db.session.flush()
        audit.record(actor, "event.create", event, summary=event.title, changes=audit.diff({}, snapshot(event)))
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return event


def update_event(actor, event: Event, data: EventInput) -> set[str]:
    """Apply the form; returns the kinds of change ("time", "place", "link", "details", ...)."""
    try:
        values = _resolve(data)
        convenors = values.pop("_convenors")
        if data.date_tbc and event.status in (STATUS_SCHEDULED, STATUS_HELD):
            msg = _(
                "A scheduled or held event needs its date. To postpone it, change its status to "
                "“date to be confirmed” first."
            )
            raise ValidationFailed(msg, field_errors={"date_tbc": [msg]})
        if values["capacity"] is not None:
            registered = active_registration_count(event)
            if values["capacity"] < registered:
                msg = _("The capacity cannot be below the %(n)s people already registered.", n=registered)
                raise ValidationFailed(msg, field_errors={"capacity": [msg]})
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
                if item.starts_at < event.starts_at or item_end(item) > event.ends_at:
                    msg = _(
                        "The agenda item “%(title)s” would fall outside the new times; shorten or move it first.",
                        title=item.title,
                    )
                    raise ValidationFailed(msg, field_errors={"ends_local": [msg]})
        after = snapshot(event)
        changes = _classify(before, after)
        if not changes:
            db.session.rollback()
            return set()
        audit.record(actor, "event.update", event, summary=event.title, changes=audit.diff(before, after))
        _notify(event, actor, changes)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return changes


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


def change_status(actor, event: Event, new_status: str) -> Event:
    try:
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
        _notify(event, actor, {"status"})
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return event


def delete_event(actor, event: Event) -> None:
    """Only drafts can be deleted; published events are cancelled instead."""
    if event.status != STATUS_DRAFT:
        raise ValidationFailed(_("Only draft events can be deleted; cancel a published event instead."))
    try:
        audit.record(actor, "event.delete", event, summary=event.title, changes=audit.diff(snapshot(event), {}))
        db.session.delete(event)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise


# Agenda ---------------------------------------------------------------------------------------


def item_end(item: AgendaItem) -> datetime:
    return item.starts_at + timedelta(minutes=item.duration_minutes)


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
    if not (data.title or "").strip():
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
        if starts_at < item_end(other) and other.starts_at < ends_at:
            msg = _(
                "This overlaps “%(title)s” (%(start)s–%(end)s).",
                title=other.title,
                start=utc_to_local(other.starts_at, event.timezone).strftime("%H:%M"),
                end=utc_to_local(item_end(other), event.timezone).strftime("%H:%M"),
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


def _renumber(event: Event) -> None:
    for n, item in enumerate(sorted(event.agenda_items, key=lambda i: (i.position, i.starts_at, i.id or 0))):
        item.position = n


def add_item(actor, event: Event, data: AgendaInput) -> AgendaItem:
    try:
        starts_at, minutes = _check_item(event, data)
        last = max((i.position for i in event.agenda_items), default=-1)
        item = AgendaItem(
            event=event,
            title=data.title.strip(),
            starts_at=starts_at,
            duration_minutes=minutes,
            kind=data.kind,
            description=_clean(data.description),
            position=last + 1,
        )
        db.session.add(item)
        db.session.flush()
        _touch(event)
        audit.record(
            actor,
            "agenda.create",
            item,
            summary=f"{event.title}: {item.title}",
            changes=audit.diff({}, _item_snapshot(item)),
        )
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return item


def update_item(actor, event: Event, item: AgendaItem, data: AgendaInput) -> AgendaItem:
    try:
        starts_at, minutes = _check_item(event, data, exclude_id=item.id)
        before = _item_snapshot(item)
        item.title = data.title.strip()
        item.starts_at = starts_at
        item.duration_minutes = minutes
        item.kind = data.kind
        item.description = _clean(data.description)
        changes = audit.diff(before, _item_snapshot(item))
        if changes:
            _touch(event)
            audit.record(actor, "agenda.update", item, summary=f"{event.title}: {item.title}", changes=changes)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return item


def move_item(actor, event: Event, item: AgendaItem, direction: str) -> None:
    if direction not in ("up", "down"):
        raise ValidationFailed(_("Move an item up or down."))
    try:
        _renumber(event)
        ordered = sorted(event.agenda_items, key=lambda i: i.position)
        index = ordered.index(item)
        other_index = index - 1 if direction == "up" else index + 1
        if not 0 <= other_index < len(ordered):
            db.session.rollback()
            return
        other = ordered[other_index]
        item.position, other.position = other.position, item.position
        _touch(event)
        audit.record(
            actor,
            "agenda.reorder",
            item,
            summary=f"{event.title}: {item.title} {direction}",
            changes={"position": [other.position, item.position]},
        )
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise


def delete_item(actor, event: Event, item: AgendaItem) -> None:
    try:
        _touch(event)
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
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise


@dataclass
class SpeakerInput:
    name: str = ""
    title: str | None = None
    organisation_name: str | None = None
    organisation_id: int | None = None
    contact_email: str | None = None


def get_speaker(item: AgendaItem, speaker_id: int) -> Speaker:
    speaker = db.session.get(Speaker, speaker_id)
    if speaker is None or speaker.agenda_item_id != item.id:
        raise NotFound(_("There is no such speaker on this agenda item."))
    return speaker


def add_speaker(actor, event: Event, item: AgendaItem, data: SpeakerInput) -> Speaker:
    """A speaker, typed in or taken from the directory (by the contact's email)."""
    from webinar_mgr.directory import services as directory
    from webinar_mgr.directory.models import Organisation

    try:
        contact = None
        if _clean(data.contact_email):
            contact = directory.find_contact_by_email(data.contact_email)
            if contact is None:
                msg = _("No directory contact has the email %(email)s.", email=data.contact_email.strip())
                raise ValidationFailed(msg, field_errors={"contact_email": [msg]})
        name = _clean(data.name) or (contact.name if contact else None)
        if not name:
            msg = _("Give the speaker's name or a directory contact.")
            raise ValidationFailed(msg, field_errors={"name": [msg]})
        org_id = data.organisation_id or (contact.organisation_id if contact else None)
        if org_id and db.session.get(Organisation, org_id) is None:
            raise ValidationFailed(
                _("There is no such organisation."), field_errors={"organisation_id": [_("Unknown.")]}
            )
        speaker = Speaker(
            agenda_item=item,
            name=name[:200],
            title=_clean(data.title) or (contact.position if contact else None),
            organisation_name=_clean(data.organisation_name),
            organisation_id=org_id,
            contact_id=contact.id if contact else None,
            position=max((s.position for s in item.speakers), default=-1) + 1,
        )
        db.session.add(speaker)
        db.session.flush()
        _touch(event)
        audit.record(actor, "speaker.create", speaker, summary=f"{event.title}: {item.title}: {speaker.name}")
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return speaker


def delete_speaker(actor, event: Event, item: AgendaItem, speaker: Speaker) -> None:
    try:
        _touch(event)
        audit.record(actor, "speaker.delete", speaker, summary=f"{event.title}: {item.title}: {speaker.name}")
        item.speakers.remove(speaker)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise


def require_manager(user) -> None:
    if not can_manage(user):
        raise NotAllowed(_("Only organisers can change events."))
