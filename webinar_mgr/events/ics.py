"""Calendar entries (RFC 5545) for events, and "add to calendar" links.

Every event has a stable UID; SEQUENCE grows with every change of time, place, link or status
(see services._notify). DTSTART/DTEND carry the event's TZID with a matching VTIMEZONE.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import logging
import os
import threading
import time
import zoneinfo
from datetime import UTC, timedelta
from functools import lru_cache
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import icalendar
import sqlalchemy as sa
import sqlalchemy.orm
from flask import current_app
from flask_babel import get_locale
from flask_babel import gettext as _
from icalendar import Calendar, Timezone, vCalAddress, vText
from icalendar import Event as VEvent

from webinar_mgr import clock, links
from webinar_mgr.errors import NotFound
from webinar_mgr.extensions import db
from webinar_mgr.persistence import unit_of_work

from . import queries
from .models import (
    STATUS_CANCELLED,
    STATUS_DRAFT,
    STATUS_TBC,
    AgendaItem,
    CalendarEntry,
    CalendarZone,
    Event,
    EventKind,
    EventTranslation,
)

log = logging.getLogger(__name__)

PRODID = "-//webinar_mgr//Events//EN"
METHODS = ("PUBLISH", "REQUEST", "CANCEL")


def has_calendar_entry(event: Event) -> bool:
    return event.status != STATUS_TBC and event.starts_at is not None and event.ends_at is not None


def _require_dated(event: Event, method: str = "PUBLISH") -> None:
    # A postponed event (back to "date TBC") keeps its old times: registrants' personal copies
    # (REQUEST/CANCEL) can still say so, as TENTATIVE/CANCELLED; public entries need a date.
    if method != "PUBLISH" and event.starts_at is not None and event.ends_at is not None:
        return
    if not has_calendar_entry(event):
        raise NotFound(
            _("“%(title)s” has no calendar entry yet: its date is still to be confirmed.", title=event.title)
        )


def _postponed(event: Event) -> bool:
    return event.status == STATUS_TBC


def event_url(event: Event) -> str:
    return links.abs_url("events.detail", event_id=event.id) or ""


def agenda_lines(event: Event) -> list[str]:
    zone = ZoneInfo(event.timezone)
    lines = []
    for item in event.agenda_items:
        start = item.starts_at.astimezone(zone)
        end = (item.starts_at + timedelta(minutes=item.duration_minutes)).astimezone(zone)
        who = ", ".join(s.name for s in item.speakers)
        lines.append(f"{start:%H:%M}–{end:%H:%M} {item.title}" + (f" ({who})" if who else ""))
    return lines


def description(event: Event, *, with_link: bool = False) -> str:
    parts = []
    if event.summary:
        parts.append(event.summary.strip())
    lines = agenda_lines(event)
    if lines:
        parts.append(_("Agenda (%(zone)s):", zone=event.timezone) + "\n" + "\n".join(lines))
    if with_link and event.online_url:
        parts.append(_("Join online: %(url)s", url=event.online_url))
    parts.append(_("Details: %(url)s", url=event_url(event)))
    return "\n\n".join(parts)


def _vevent(event: Event, *, method: str, attendee_email: str | None, attendee_name: str | None, stamp) -> VEvent:
    zone = ZoneInfo(event.timezone)
    ve = VEvent()
    ve.add("uid", event.uid)
    ve.add("dtstamp", stamp)
    ve.add("dtstart", event.starts_at.astimezone(zone))
    ve.add("dtend", event.ends_at.astimezone(zone))
    ve.add("sequence", event.sequence or 0)
    cancelled = event.status == STATUS_CANCELLED or method == "CANCEL"
    tentative = event.status == STATUS_DRAFT or _postponed(event)
    ve.add("status", "CANCELLED" if cancelled else ("TENTATIVE" if tentative else "CONFIRMED"))
    title = event.shown().title  # in the language being rendered, where organisers translated it
    ve.add(
        "summary",
        _("%(title)s (postponed, new date to be confirmed)", title=title)
        if _postponed(event) and not cancelled
        else title,
    )
    # The online link only goes into a registrant's personal copy (attendee given).
    with_link = attendee_email is not None
    ve.add("description", description(event, with_link=with_link))
    ve.add("url", event_url(event))
    location = event.venue or ""
    if with_link and event.online_url:
        location = f"{location} / {event.online_url}" if location else event.online_url
    elif not location and event.online_url:
        location = _("Online")
    if location:
        ve.add("location", location)
    if event.kind is not None:
        ve.add("categories", [event.kind.label])
    organiser = vCalAddress(f"mailto:{current_app.config.get('MAIL_DEFAULT_SENDER', 'webinars@example.org')}")
    organiser.params["cn"] = vText(current_app.config.get("ORGANISATION_NAME", ""))
    ve["organizer"] = organiser
    if attendee_email:
        attendee = vCalAddress(f"mailto:{attendee_email}")
        if attendee_name:
            attendee.params["cn"] = vText(attendee_name)
        attendee.params["role"] = vText("REQ-PARTICIPANT")
        attendee.params["partstat"] = vText("DECLINED" if method == "CANCEL" else "ACCEPTED")
        attendee.params["rsvp"] = vText("TRUE")
        ve.add("attendee", attendee, encode=0)
    ve.add("last-modified", (event.updated_at or stamp).astimezone(UTC))
    return ve


def _calendar(name: str | None = None, method: str | None = None) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if method:
        cal.add("method", method)
    if name:
        cal.add("x-wr-calname", name)
    return cal


@lru_cache(maxsize=64)
def _vtimezone(zone: str) -> Timezone:
    """The VTIMEZONE of a zone (building one takes tens of milliseconds, so it is kept)."""
    return Timezone.from_tzid(zone)


def _add_timezones(cal: Calendar, zones) -> None:
    for n, zone in enumerate(sorted(set(zones))):
        cal.subcomponents.insert(n, _vtimezone(zone))


def event_ics(
    event: Event,
    *,
    method: str = "PUBLISH",
    attendee_email: str | None = None,
    attendee_name: str | None = None,
) -> bytes:
    """One VCALENDAR with one VEVENT (and the event zone's VTIMEZONE)."""
    method = (method or "PUBLISH").upper()
    if method not in METHODS:
        raise ValueError(f"unknown iTIP method {method}")
    _require_dated(event, method)
    cal = _calendar(method=method)
    cal.add_component(
        _vevent(
            event,
            method=method,
            attendee_email=attendee_email,
            attendee_name=attendee_name,
            stamp=clock.now(),
        )
    )
    _add_timezones(cal, [event.timezone])
    return cal.to_ical()


def _feed_head(name: str) -> tuple[bytes, bytes]:
    """The feed's calendar lines before its components, and its END line."""
    cal = _calendar(name=name, method="PUBLISH")
    cal.add("refresh-interval", timedelta(hours=6), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", "PT6H")
    end = b"END:VCALENDAR\r\n"
    head = cal.to_ical()
    return (head[: -len(end)] if head.endswith(end) else head), end


@lru_cache(maxsize=1)
def _zones_key() -> str:
    """The versions a stored VTIMEZONE depends on: icalendar's and the time zone data's."""
    tzdata = ""
    for folder in zoneinfo.TZPATH:  # zoneinfo reads the system's data first
        try:
            with open(os.path.join(folder, "tzdata.zi"), encoding="ascii", errors="replace") as f:
                tzdata = f.readline().strip()
            break
        except OSError:
            continue
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        tzdata += " " + importlib.metadata.version("tzdata")
    return hashlib.sha256(f"{icalendar.__version__} {tzdata}".encode()).hexdigest()


_zone_texts: dict[str, bytes] = {}


def _vtimezones(zones: list[str]) -> bytes:
    """The zones' VTIMEZONEs: kept in the process, else read from calendar_zones, else built and
    stored there (a new worker process does not build them again)."""
    missing = [z for z in zones if z not in _zone_texts]
    if missing:
        key = _zones_key()
        stored = db.session.execute(
            sa.select(CalendarZone.tzid, CalendarZone.vtimezone).where(
                CalendarZone.tzid.in_(missing), CalendarZone.source_key == key
            )
        )
        _zone_texts.update((tzid, text.encode("utf-8")) for tzid, text in stored)
        built = {z: _vtimezone(z).to_ical() for z in missing if z not in _zone_texts}
        if built:
            _zone_texts.update(built)
            try:
                with unit_of_work(), db.session.begin_nested():
                    db.session.execute(sa.delete(CalendarZone).where(CalendarZone.tzid.in_(list(built))))
                    db.session.execute(
                        sa.insert(CalendarZone),
                        [
                            {"tzid": z, "source_key": key, "vtimezone": t.decode("utf-8"), "built_at": clock.now()}
                            for z, t in built.items()
                        ],
                    )
            except (sa.exc.IntegrityError, sa.exc.OperationalError) as exc:
                _not_stored(exc)
    return b"".join(_zone_texts[z] for z in zones)


# Stored VEVENTs (issue 19) ---------------------------------------------------------------------
#
# Each event's public VEVENT is kept in ``calendar_entries``, one row per language, with a hash of
# everything it shows (``source_key``). A feed is its header, the zones' VTIMEZONEs and the stored
# texts, read in one query; an entry missing or whose key no longer matches is built again and
# stored (so a new worker process serves a 1,000-event feed without serialising any of them).
# The key covers the event's row (every change of the event, its agenda or speakers moves
# updated_at: services.touch), its kind's name, its translated title in that language, and what
# the whole feed shares (the address of the site, the organiser line, the wording of the fixed
# texts in that language, FORMAT). DTSTAMP is when the entry was built, as before.

FORMAT = "1"  # change when _vevent writes something else: every stored entry is rebuilt


def _shared_key() -> str:
    """What every entry in the reader's language shares."""
    return "\x1f".join(
        (
            FORMAT,
            links.base_url(),
            str(current_app.config.get("MAIL_DEFAULT_SENDER", "")),
            str(current_app.config.get("ORGANISATION_NAME", "")),
            _("Agenda (%(zone)s):", zone="~"),
            _("Details: %(url)s", url="~"),
            _("Online"),
        )
    )


def _source_key(shared: str, row) -> str:
    parts = (
        shared,
        row.uid,
        row.sequence,
        row.status,
        row.updated_at and row.updated_at.isoformat(),
        row.timezone,
        row.kind_label,
        row.translated_title,
        row.translated_at and row.translated_at.isoformat(),
    )
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()


def _entry_rows(language: str, ids: list[int] | None) -> list:
    """One light row per event of the feed (the public feed's events when ids is None, in date
    order), with what its key needs and its stored entry in ``language`` (None when there is none):
    one query (per 500 ids)."""
    translation = sa.orm.aliased(EventTranslation)
    entry = sa.orm.aliased(CalendarEntry)
    stmt = (
        sa.select(
            Event.id,
            Event.uid,
            Event.sequence,
            Event.status,
            Event.updated_at,
            Event.timezone,
            EventKind.stored_label.label("kind_label"),
            translation.title.label("translated_title"),
            translation.updated_at.label("translated_at"),
            entry.source_key,
            entry.vevent,
        )
        .join(EventKind, EventKind.id == Event.kind_id)
        .outerjoin(translation, sa.and_(translation.event_id == Event.id, translation.language == language))
        .outerjoin(entry, sa.and_(entry.event_id == Event.id, entry.language == language))
        .order_by(Event.starts_at, Event.id)
    )
    if ids is None:
        return list(db.session.execute(stmt.where(*queries._feed_filter())))  # the public feed's rule
    out = []
    for n in range(0, len(ids), 500):
        out.extend(db.session.execute(stmt.where(Event.id.in_(ids[n : n + 500]))))
    return out


def _events_to_build(ids: list[int]) -> list[Event]:
    """The events with everything their VEVENT shows, in a few queries whatever their number."""
    out = []
    for n in range(0, len(ids), 500):
        stmt = (
            sa.select(Event)
            .where(Event.id.in_(ids[n : n + 500]))
            .options(
                sa.orm.joinedload(Event.kind),
                sa.orm.selectinload(Event.translations),
                sa.orm.selectinload(Event.agenda_items).selectinload(AgendaItem.speakers),
            )
        )
        out.extend(db.session.scalars(stmt).unique())
    return out


def _build_entries(ids: list[int], *, stamp) -> dict[int, str]:
    """The public VEVENT text of each event (loaded here with what it shows, whatever the models'
    loading options)."""
    out = {}
    for event in _events_to_build(ids):
        chunk = _vevent(event, method="PUBLISH", attendee_email=None, attendee_name=None, stamp=stamp).to_ical()
        out[event.id] = chunk.decode("utf-8")
    return out


def _store_entries(language: str, built: dict[int, tuple[str, str]]) -> None:
    """Keep the entries built (event id -> (key, text)); a parallel request storing the same ones
    a moment ago wins (theirs is as good as ours), and a failure to store leaves the feed served."""
    try:
        with unit_of_work(), db.session.begin_nested():
            ids = list(built)
            for n in range(0, len(ids), 500):
                db.session.execute(
                    sa.delete(CalendarEntry).where(
                        CalendarEntry.event_id.in_(ids[n : n + 500]), CalendarEntry.language == language
                    )
                )
            now = clock.now()
            db.session.execute(
                sa.insert(CalendarEntry),
                [
                    {"event_id": i, "language": language, "source_key": k, "vevent": v, "built_at": now}
                    for i, (k, v) in built.items()
                ],
            )
    except (sa.exc.IntegrityError, sa.exc.OperationalError) as exc:
        _not_stored(exc)


def _not_stored(exc: Exception) -> None:
    """Storing built entries is a saving, not the answer: the feed is served all the same. A
    parallel request storing the same rows first (IntegrityError) is as good; a database that
    refuses the write for a moment (SQLite busy) is worth a warning."""
    if isinstance(exc, sa.exc.OperationalError):
        log.warning("calendar entries not stored: %s", type(exc.orig or exc).__name__)


def _stored_feed(*, name: str, ids: list[int] | None) -> bytes:
    """The feed of the public feed's events (ids None) or of these events (in this order), from
    the stored entries in the reader's language."""
    language = str(get_locale() or "en")
    rows = _entry_rows(language, ids)
    if ids is not None:  # the caller's order
        position = {i: n for n, i in enumerate(ids)}
        rows.sort(key=lambda r: position[r.id])
    shared = _shared_key()
    keys = {r.id: _source_key(shared, r) for r in rows}
    stale = [r.id for r in rows if r.vevent is None or r.source_key != keys[r.id]]
    fresh = _build_entries(stale, stamp=clock.now()) if stale else {}
    if fresh:
        _store_entries(language, {i: (keys[i], text) for i, text in fresh.items()})
    head, end = _feed_head(name)
    zones = sorted({r.timezone for r in rows})
    body = "".join(fresh.get(r.id) or r.vevent for r in rows if r.id in fresh or r.vevent is not None)
    return head + _vtimezones(zones) + body.encode("utf-8") + end


def feed_ics(events, *, name: str) -> bytes:
    """A calendar of many events (a subscribable feed); events without a date are skipped. Served
    from the stored entries (built and stored for the events that have none yet)."""
    return _stored_feed(name=name, ids=[e.id for e in events if has_calendar_entry(e)])


_feed_lock = threading.Lock()
FEED_MAX_AGE_SECONDS = 600


def _feed_cache() -> dict:
    """Per-process cache of the public feed (one entry per language): saves even the one query."""
    return current_app.extensions.setdefault("events_feed_cache", {})


def public_feed(*, name: str) -> bytes:
    """The subscribable feed of all published events, from the stored entries; kept in the
    process until an event changes (newest audit entry, count, latest change and sequences of the
    published events) or for ten minutes."""
    cache = _feed_cache()
    language = str(get_locale() or "en")
    key = (name, links.base_url(), queries.feed_fingerprint())
    with _feed_lock:
        hit = cache.get(language)
        if hit and hit[0] == key and time.monotonic() - hit[1] < FEED_MAX_AGE_SECONDS:
            return hit[2]
        body = _stored_feed(name=name, ids=None)
        cache[language] = (key, time.monotonic(), body)
    return body


def _utc_stamp(value) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def google_calendar_url(event: Event) -> str | None:
    if not has_calendar_entry(event):
        return None
    params = {
        "action": "TEMPLATE",
        "text": event.title,
        "dates": f"{_utc_stamp(event.starts_at)}/{_utc_stamp(event.ends_at)}",
        "details": description(event)[:1500],
        "ctz": event.timezone,
    }
    if event.venue:
        params["location"] = event.venue
    return "https://calendar.google.com/calendar/render?" + urlencode(params)


def outlook_calendar_url(event: Event) -> str | None:
    if not has_calendar_entry(event):
        return None
    params = {
        "path": "/calendar/action/compose",
        "rru": "addevent",
        "subject": event.title,
        "startdt": event.starts_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "enddt": event.ends_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "body": description(event)[:1500],
    }
    if event.venue:
        params["location"] = event.venue
    return "https://outlook.office.com/calendar/0/deeplink/compose?" + urlencode(params)
