"""Calendar entries (RFC 5545) for events, and "add to calendar" links.

Every event has a stable UID; SEQUENCE grows with every change of time, place, link or status
(see services._notify). DTSTART/DTEND carry the event's TZID with a matching VTIMEZONE.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, timedelta
from functools import lru_cache
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from icalendar import Calendar, Timezone, vCalAddress, vText
from icalendar import Event as VEvent

from webinar_mgr import clock, links
from webinar_mgr.errors import NotFound

from . import queries
from .models import STATUS_CANCELLED, STATUS_DRAFT, STATUS_TBC, Event

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


def feed_ics(events, *, name: str) -> bytes:
    """A calendar of many events (a subscribable feed); events without a date are skipped."""
    cal = _calendar(name=name, method="PUBLISH")
    cal.add("refresh-interval", timedelta(hours=6), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", "PT6H")
    stamp = clock.now()
    zones = set()
    for event in events:
        if not has_calendar_entry(event):
            continue
        zones.add(event.timezone)
        cal.add_component(_vevent(event, method="PUBLISH", attendee_email=None, attendee_name=None, stamp=stamp))
    _add_timezones(cal, zones)
    return cal.to_ical()


_feed_lock = threading.Lock()
FEED_MAX_AGE_SECONDS = 600


def _feed_cache() -> dict:
    """Per-application cache of the public feed (one entry)."""
    return current_app.extensions.setdefault("events_feed_cache", {})


@lru_cache(maxsize=64)
def _vtimezone_bytes(zone: str) -> bytes:
    return _vtimezone(zone).to_ical()


def _feed_from_parts(*, name: str, parts: dict) -> bytes:
    """The same calendar as feed_ics over queries.feed_events(), assembled from VEVENTs
    serialised earlier when the event has not changed since (keyed on id, sequence, status and
    last update): only the events that changed are loaded and serialised again."""
    head_cal = _calendar(name=name, method="PUBLISH")
    head_cal.add("refresh-interval", timedelta(hours=6), parameters={"VALUE": "DURATION"})
    head_cal.add("x-published-ttl", "PT6H")
    end = b"END:VCALENDAR\r\n"
    head = head_cal.to_ical()
    head = head[: -len(end)] if head.endswith(end) else head
    rows = queries.feed_event_keys()
    keys = [(r.id, r.uid, r.sequence, r.status, r.updated_at, r.kind_id) for r in rows]
    missing = [k[0] for k in keys if k not in parts]
    loaded = {e.id: e for e in queries.events_by_ids(missing)} if missing else {}
    stamp = clock.now()
    chunks, fresh = [], {}
    for key in keys:
        chunk = parts.get(key)
        if chunk is None:
            chunk = _vevent(
                loaded[key[0]],
                method="PUBLISH",
                attendee_email=None,
                attendee_name=None,
                stamp=stamp,
            ).to_ical()
        fresh[key] = chunk
        chunks.append(chunk)
    parts.clear()
    parts.update(fresh)
    zones = sorted({r.timezone for r in rows})
    return head + b"".join(_vtimezone_bytes(z) for z in zones) + b"".join(chunks) + end


def public_feed(*, name: str) -> bytes:
    """The subscribable feed of all published events, rebuilt only when an event changed
    (newest audit entry, count, latest change and sequences of the published events) or after
    ten minutes; a rebuild re-serialises only the events that changed."""
    cache = _feed_cache()
    key = (name, links.base_url(), queries.feed_fingerprint())
    with _feed_lock:
        hit = cache.get("feed")
        if hit and hit[0] == key and time.monotonic() - hit[1] < FEED_MAX_AGE_SECONDS:
            return hit[2]
        body = _feed_from_parts(name=name, parts=cache.setdefault("parts", {}))
        cache["feed"] = (key, time.monotonic(), body)
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
