"""Calendar entries: written with icalendar, read back with icalendar AND two other parsers."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import icalendar
import ics as ics_lib
import pytest
import recurring_ical_events
import sqlalchemy as sa

from tests.factories import add_item, event_input, make_event, register
from tests.support import QueryCounter
from webinar_mgr import clock
from webinar_mgr.errors import NotFound
from webinar_mgr.events import agenda, ics, queries, services, translations
from webinar_mgr.events.models import CalendarEntry
from webinar_mgr.extensions import db


@pytest.fixture
def event(app, organiser):
    e = make_event(organiser)
    services.change_status(e, "scheduled", actor=organiser)
    add_item(organiser, e, 14, 0, 15, "Opening remarks")
    return e


def _vevent(body: bytes):
    cal = icalendar.Calendar.from_ical(body)
    events = [c for c in cal.walk("VEVENT")]
    assert len(events) == 1
    return cal, events[0]


def test_event_ics_parses_back_with_icalendar(app, event):
    cal, ve = _vevent(ics.event_ics(event))
    assert str(cal["METHOD"]) == "PUBLISH"
    assert str(ve["UID"]) == event.uid
    assert ve["SEQUENCE"] == event.sequence
    assert str(ve["STATUS"]) == "CONFIRMED"
    assert str(ve["SUMMARY"]) == "Regional webinar on technology"
    assert ve["DTSTART"].params["TZID"] == "Asia/Bangkok"
    assert ve.decoded("DTSTART") == datetime(2027, 3, 10, 7, 0, tzinfo=UTC)
    assert ve.decoded("DTEND") == datetime(2027, 3, 10, 9, 0, tzinfo=UTC)
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["Asia/Bangkok"]
    assert "DTSTAMP" in ve
    assert str(ve["URL"]) == f"http://localhost/events/{event.id}"
    assert str(ve["ORGANIZER"]) == "mailto:webinars@example.org"
    assert ve["ORGANIZER"].params["CN"] == app.config["ORGANISATION_NAME"]
    assert "14:00–14:15 Opening remarks" in str(ve["DESCRIPTION"])
    # the public copy never carries the meeting link
    assert "secret-room" not in ics.event_ics(event).decode()


def test_event_ics_parses_with_independent_parsers(app, event):
    body = ics.event_ics(event).decode()
    cal = ics_lib.Calendar(body)
    (parsed,) = list(cal.events)
    assert parsed.uid == event.uid
    assert parsed.name == "Regional webinar on technology"
    assert parsed.begin.datetime.astimezone(UTC) == datetime(2027, 3, 10, 7, 0, tzinfo=UTC)
    assert parsed.end.datetime.astimezone(UTC) == datetime(2027, 3, 10, 9, 0, tzinfo=UTC)
    occurrences = recurring_ical_events.of(icalendar.Calendar.from_ical(body)).between(
        date(2027, 3, 1), date(2027, 3, 31)
    )
    assert len(occurrences) == 1
    assert occurrences[0]["DTSTART"].dt.utcoffset().total_seconds() == 7 * 3600


def test_uid_is_stable_and_sequence_grows(app, event, organiser):
    _cal, first = _vevent(ics.event_ics(event))
    services.update_event(
        event,
        event_input(starts_local=datetime(2027, 3, 10, 15, 0), ends_local=datetime(2027, 3, 10, 17, 0)),
        actor=organiser,
    )
    _cal, second = _vevent(ics.event_ics(event))
    services.update_event(
        event,
        event_input(
            starts_local=datetime(2027, 3, 10, 15, 0),
            ends_local=datetime(2027, 3, 10, 17, 0),
            summary="Only the summary changed",
        ),
        actor=organiser,
    )
    _cal, third = _vevent(ics.event_ics(event))
    services.change_status(event, "cancelled", actor=organiser)
    _cal, fourth = _vevent(ics.event_ics(event))
    assert str(first["UID"]) == str(second["UID"]) == str(third["UID"]) == str(fourth["UID"])
    assert first["SEQUENCE"] < second["SEQUENCE"] == third["SEQUENCE"] < fourth["SEQUENCE"]
    assert str(fourth["STATUS"]) == "CANCELLED"


def test_request_and_cancel_for_a_registrant(app, event):
    cal, ve = _vevent(
        ics.event_ics(event, method="REQUEST", attendee_email="ana@example.org", attendee_name="Ana Lima")
    )
    assert str(cal["METHOD"]) == "REQUEST"
    attendee = ve["ATTENDEE"]
    assert str(attendee) == "mailto:ana@example.org"
    assert attendee.params["CN"] == "Ana Lima" and attendee.params["RSVP"] == "TRUE"
    assert "secret-room" in str(ve["DESCRIPTION"])  # the registrant's copy carries the link
    cal, ve = _vevent(ics.event_ics(event, method="CANCEL", attendee_email="ana@example.org"))
    assert str(cal["METHOD"]) == "CANCEL" and str(ve["STATUS"]) == "CANCELLED"


def test_tbc_event_has_no_calendar_entry(app, client, organiser):
    e = make_event(organiser, title="Annual meeting", date_tbc=True, tentative_month=date(2027, 9, 1))
    services.change_status(e, "tbc", actor=organiser)
    with pytest.raises(NotFound):
        ics.event_ics(e)
    resp = client.get(f"/events/{e.id}/calendar.ics")
    assert resp.status_code == 404
    assert "has no calendar entry yet: its date is still to be confirmed" in resp.get_data(as_text=True)


def test_calendar_endpoint_and_feed(app, client, event, organiser):
    resp = client.get(f"/events/{event.id}/calendar.ics")
    assert resp.status_code == 200 and resp.mimetype == "text/calendar"
    other = make_event(
        organiser,
        title="Pacific session",
        timezone="Pacific/Apia",
        starts_local=datetime(2027, 4, 1, 9, 0),
        ends_local=datetime(2027, 4, 1, 10, 0),
    )
    services.change_status(other, "scheduled", actor=organiser)
    make_event(organiser, title="Still a draft")
    tbc = make_event(organiser, title="Annual meeting", date_tbc=True, tentative_month=date(2027, 9, 1))
    services.change_status(tbc, "tbc", actor=organiser)
    body = client.get("/calendar.ics").get_data()
    cal = icalendar.Calendar.from_ical(body)
    assert sorted(str(v["SUMMARY"]) for v in cal.walk("VEVENT")) == [
        "Pacific session",
        "Regional webinar on technology",
    ]
    assert sorted(str(t["TZID"]) for t in cal.walk("VTIMEZONE")) == ["Asia/Bangkok", "Pacific/Apia"]
    assert sorted(e.name for e in ics_lib.Calendar(body.decode()).events) == [
        "Pacific session",
        "Regional webinar on technology",
    ]
    assert "secret-room" not in body.decode()


def test_feed_ics_skips_dateless_events(app, event, organiser):
    tbc = make_event(organiser, title="Later", date_tbc=True, tentative_month=date(2027, 9, 1))
    body = ics.feed_ics([event, tbc], name="Mine")
    cal = icalendar.Calendar.from_ical(body)
    assert str(cal["X-WR-CALNAME"]) == "Mine"
    assert len(cal.walk("VEVENT")) == 1


def test_add_to_calendar_links(app, event):
    google = ics.google_calendar_url(event)
    assert "dates=20270310T070000Z%2F20270310T090000Z" in google and "ctz=Asia%2FBangkok" in google
    outlook = ics.outlook_calendar_url(event)
    assert "startdt=2027-03-10T07%3A00%3A00Z" in outlook


def test_feed_is_rebuilt_after_any_change(app, client, event, organiser):
    clock.freeze(datetime(2027, 1, 5, tzinfo=UTC))
    first = client.get("/calendar.ics").get_data(as_text=True)
    assert first == client.get("/calendar.ics").get_data(as_text=True)
    item = event.agenda_items[0]
    agenda.update_item(
        event,
        item,
        agenda.AgendaInput(
            title="Welcome words", starts_local=datetime(2027, 3, 10, 14, 0), duration_minutes=15, kind="opening"
        ),
        actor=organiser,
    )
    second = client.get("/calendar.ics").get_data(as_text=True)
    assert "Welcome words" in second.replace("\r\n ", "") and "Welcome words" not in first


def test_postponing_an_event_with_registrants(app, event, organiser, mailbox):
    """Back to "date TBC": the public entry disappears, registrants' copies turn tentative."""
    register(event, "ana@example.org")
    services.change_status(event, "tbc", actor=organiser)
    assert event.status == "tbc"
    with pytest.raises(NotFound):
        ics.event_ics(event)
    _cal, ve = _vevent(ics.event_ics(event, method="REQUEST", attendee_email="ana@example.org"))
    assert str(ve["STATUS"]) == "TENTATIVE" and "postponed" in str(ve["SUMMARY"])
    assert str(ve["UID"]) == event.uid
    _cal, ve = _vevent(ics.event_ics(event, method="CANCEL", attendee_email="ana@example.org"))
    assert str(ve["STATUS"]) == "CANCELLED"


def test_public_feed_assembled_from_parts_matches_feed_ics(app, client, event, organiser):
    other = make_event(
        organiser,
        title="Pacific session",
        timezone="Pacific/Apia",
        starts_local=datetime(2027, 4, 1, 9, 0),
        ends_local=datetime(2027, 4, 1, 10, 0),
    )
    services.change_status(other, "scheduled", actor=organiser)
    clock.freeze(datetime(2027, 1, 5, tzinfo=UTC))
    whole = icalendar.Calendar.from_ical(ics.feed_ics(queries.feed_events(), name=app.config["ORGANISATION_NAME"]))
    parts = icalendar.Calendar.from_ical(client.get("/calendar.ics").data)
    assert whole.to_ical() == parts.to_ical()
    services.change_status(other, "cancelled", actor=organiser)
    again = icalendar.Calendar.from_ical(client.get("/calendar.ics").data)
    status = {str(v["SUMMARY"]): str(v["STATUS"]) for v in again.walk("VEVENT")}
    assert status == {"Pacific session": "CANCELLED", "Regional webinar on technology": "CONFIRMED"}


# Stored entries (issue 19): the feeds are put together from calendar_entries -------------------


def _feed(client, **headers) -> bytes:
    ics._feed_cache().clear()  # what a new worker process has: nothing kept in memory
    resp = client.get("/calendar.ics", headers=headers)
    assert resp.status_code == 200
    return resp.data


def _stored(language: str = "en") -> dict[int, str]:
    rows = db.session.execute(
        sa.select(CalendarEntry.event_id, CalendarEntry.vevent).where(CalendarEntry.language == language)
    )
    return dict(rows.all())


def test_feed_served_from_stored_entries_without_building_any(app, client, event, organiser, monkeypatch):
    ics._zone_texts.clear()  # a new process: its zones are built once and stored
    first = _feed(client)
    assert set(_stored()) == {event.id}
    monkeypatch.setattr(ics, "_vevent", lambda *a, **kw: pytest.fail("built again"))
    ics._zone_texts.clear()  # the VTIMEZONE too comes from the database (calendar_zones)
    monkeypatch.setattr(ics, "_vtimezone", lambda *a, **kw: pytest.fail("zone built again"))
    assert _feed(client) == first


def test_feed_is_a_valid_calendar_identical_to_a_fresh_build(app, client, event, organiser):
    clock.freeze(datetime(2027, 1, 5, tzinfo=UTC))
    body = _feed(client)
    # every line at most 75 octets (RFC 5545 3.1), CRLF-terminated, folded lines start with a space
    lines = body.split(b"\r\n")
    assert lines[-1] == b"" and all(len(line) <= 75 for line in lines)
    assert not any(b"\n" in line for line in lines)
    cal = icalendar.Calendar.from_ical(body)
    assert [str(v["UID"]) for v in cal.walk("VEVENT")] == [event.uid]
    assert [str(z["TZID"]) for z in cal.walk("VTIMEZONE")] == ["Asia/Bangkok"]
    # the same bytes as icalendar writing the whole calendar at once (the entries were built now)
    whole = ics._calendar(name=app.config["ORGANISATION_NAME"], method="PUBLISH")
    whole.add("refresh-interval", timedelta(hours=6), parameters={"VALUE": "DURATION"})
    whole.add("x-published-ttl", "PT6H")
    whole.add_component(ics._vtimezone("Asia/Bangkok"))
    whole.add_component(
        ics._vevent(event, method="PUBLISH", attendee_email=None, attendee_name=None, stamp=clock.now())
    )
    assert body == whole.to_ical()
    assert list(ics_lib.Calendar(body.decode()).events)[0].uid == event.uid  # a second parser


def test_stale_entry_rebuilt_on_read_and_stored(app, client, event, organiser):
    _feed(client)
    before = _stored()[event.id]
    add_item(organiser, event, 14, 30, 20, "Case studies")  # touches the event: a new key
    body = _feed(client).decode().replace("\r\n ", "")
    assert "Case studies" in body
    after = _stored()[event.id]
    assert after != before and "Case studies" in after.replace("\r\n ", "")
    # an entry gone from the table is built again too
    db.session.execute(sa.delete(CalendarEntry))
    db.session.commit()
    assert "Case studies" in _feed(client).decode().replace("\r\n ", "")
    assert set(_stored()) == {event.id}


def test_entries_per_language_and_translated_title(app, client, event, organiser):
    english = _feed(client)
    translations.save_translation(event, "th", title="สัมมนาออนไลน์ระดับภูมิภาค", actor=organiser)
    thai = _feed(client, **{"Accept-Language": "th"}).decode().replace("\r\n ", "")
    assert "SUMMARY:สัมมนาออนไลน์ระดับภูมิภาค" in thai
    assert set(_stored("th")) == {event.id} and set(_stored("en")) == {event.id}
    # the English feed is not the Thai one (the process keeps one per language)
    again = client.get("/calendar.ics").data
    assert b"Regional webinar on technology" in again.replace(b"\r\n ", b"")
    assert again.replace(b"\r\n ", b"").split(b"DTSTAMP")[0] == english.replace(b"\r\n ", b"").split(b"DTSTAMP")[0]


def test_personal_feed_uses_the_stored_entries(app, client, event, organiser):
    public = _feed(client)
    vevent = public[public.index(b"BEGIN:VEVENT") : public.index(b"END:VEVENT")]
    mine = ics.feed_ics([event], name="Mine")
    assert vevent in mine and b"X-WR-CALNAME:Mine" in mine


def test_cold_feed_query_count_does_not_grow_with_events(app, client, organiser):
    def count(n: int) -> int:
        for i in range(n):
            e = make_event(
                organiser,
                title=f"Webinar {i}",
                starts_local=datetime(2027, 5, 1 + i, 9, 0),
                ends_local=datetime(2027, 5, 1 + i, 10, 0),
            )
            services.change_status(e, "scheduled", actor=organiser)
        _feed(client)  # builds and stores what is missing
        with QueryCounter(db.engine) as counter:
            _feed(client)
        return counter.count

    assert count(2) == count(10)


def test_feed_served_when_its_entries_cannot_be_stored(app, client, event, monkeypatch, caplog):
    @contextmanager
    def busy():
        yield db.session
        raise sa.exc.OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(ics, "unit_of_work", busy)
    ics._zone_texts.clear()
    body = _feed(client).decode().replace("\r\n ", "")
    assert f"UID:{event.uid}" in body and "BEGIN:VTIMEZONE" in body
    assert "calendar entries not stored" in caplog.text
