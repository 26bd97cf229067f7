"""Issue 19: every main list page runs the same number of SQL statements with 10 rows and with 200.

Each test builds 10 rows, requests the page once to warm up (first-request caches: settings, kinds,
translations), counts the statements of a second request, adds 190 rows and counts again.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.factories import NOW, make_event_row, register
from tests.support import QueryCounter
from webinar_mgr import clock
from webinar_mgr.attendance.models import MATCH_EMAIL, SOURCE_CHECKIN, AttendanceRecord
from webinar_mgr.commitments.models import Commitment
from webinar_mgr.directory.models import Contact, Organisation
from webinar_mgr.events.models import AgendaItem
from webinar_mgr.extensions import db
from webinar_mgr.invitations.models import Invitation


def count(client, url: str, marker: str, rows: int) -> int:
    """SQL statements of one GET of ``url`` (after a warm-up request); the page shows at least
    ``rows`` rows (``marker`` followed by a number)."""
    assert client.get(url).status_code == 200, url
    db.session.expire_all()
    with QueryCounter(db.engine) as counter:
        resp = client.get(url)
    assert resp.status_code == 200, url
    shown = len(set(re.findall(re.escape(marker) + r"(\d+)", resp.get_data(as_text=True))))
    assert shown >= rows, f"{url}: {shown} rows shown"
    return counter.count


def assert_constant(client, url: str, grow, marker: str) -> tuple[int, int]:
    """``grow(first, n)`` adds ``n`` rows named ``marker<i>``; the page's statements with 10 and
    200 rows are equal (paginated pages show their first page: at least 20 rows)."""
    grow(0, 10)
    with_10 = count(client, url, marker, 10)
    grow(10, 190)
    db.session.commit()
    with_200 = count(client, url, marker, 20)
    print(f"{url}: {with_10} statements with 10 rows, {with_200} with 200")
    assert with_200 == with_10, f"{url}: {with_10} statements with 10 rows, {with_200} with 200"
    return with_10, with_200


@pytest.fixture(autouse=True)
def frozen():
    clock.freeze(NOW)
    yield
    clock.unfreeze()


def test_my_registrations(client, make_user, login):
    user = make_user("participant", email="ana@example.org")
    login(user)
    contact = Contact(email="ana@example.org", name="Ana")
    db.session.add(contact)
    db.session.commit()

    def grow(first, n):
        for i in range(first, first + n):
            starts = NOW + timedelta(days=i - 100)
            ev = make_event_row(title=f"Webinar {i}", starts_at=starts, ends_at=starts + timedelta(hours=2))
            register(ev, "ana@example.org", "Ana", user=user, contact=contact)

    assert_constant(client, "/registrations/mine", grow, "Webinar ")


def test_event_page_with_agenda(client, organiser, login):
    login(organiser)
    ev = make_event_row()

    def grow(first, n):
        for i in range(first, first + n):
            db.session.add(
                AgendaItem(
                    event_id=ev.id,
                    position=i,
                    starts_at=ev.starts_at + timedelta(minutes=i),
                    duration_minutes=1,
                    title=f"Item {i}",
                )
            )
        db.session.commit()

    assert_constant(client, f"/events/{ev.id}", grow, "Item ")


def test_registrations_of_an_event(client, organiser, login):
    login(organiser)
    ev = make_event_row()
    org = Organisation(name="Kingdom of Thailand", sector="member_government")
    db.session.add(org)
    db.session.commit()

    def grow(first, n):
        for i in range(first, first + n):
            register(ev, f"p{i}@example.org", f"Person {i}", member=org, sector="member_government")

    assert_constant(client, f"/events/{ev.id}/registrations", grow, "Person ")


def test_invitations_of_an_event(client, organiser, login):
    login(organiser)
    ev = make_event_row()

    def grow(first, n):
        for i in range(first, first + n):
            c = Contact(email=f"c{i}@example.org", name=f"Contact {i}")
            db.session.add(c)
            db.session.flush()
            db.session.add(Invitation(event_id=ev.id, contact_id=c.id, category="member_government"))
        db.session.commit()

    assert_constant(client, f"/events/{ev.id}/invitations", grow, "Contact ")


def test_events_list(client, organiser, login):
    login(organiser)

    def grow(first, n):
        for i in range(first, first + n):
            starts = NOW + timedelta(days=i + 1)
            make_event_row(title=f"Webinar {i}", starts_at=starts, ends_at=starts + timedelta(hours=2))

    assert_constant(client, "/events", grow, "Webinar ")


def test_directory_contacts(client, organiser, login):
    login(organiser)
    org = Organisation(name="Kingdom of Thailand", sector="member_government")
    db.session.add(org)
    db.session.commit()

    def grow(first, n):
        for i in range(first, first + n):
            db.session.add(Contact(email=f"d{i}@example.org", name=f"Contact {i}", organisation_id=org.id))
        db.session.commit()

    assert_constant(client, "/directory/", grow, "Contact ")


def test_attendance(client, organiser, login):
    login(organiser)
    ev = make_event_row(starts_at=NOW - timedelta(days=3), ends_at=NOW - timedelta(days=3) + timedelta(hours=2))

    def grow(first, n):
        for i in range(first, first + n):
            reg = register(ev, f"a{i}@example.org", f"Attendee {i}")
            db.session.add(
                AttendanceRecord(
                    event_id=ev.id,
                    registration_id=reg.id,
                    source=SOURCE_CHECKIN,
                    name=reg.name,
                    email=reg.email,
                    match=MATCH_EMAIL,
                    attended=True,
                )
            )
        db.session.commit()

    assert_constant(client, f"/events/{ev.id}/attendance", grow, "Attendee ")


def _commitments(ev, email_of):
    def grow(first, n):
        for i in range(first, first + n):
            reg = register(ev, email_of(i), f"Pledger {i}")
            db.session.add(
                Commitment(
                    event_id=ev.id,
                    registration_id=reg.id,
                    contact_id=reg.contact_id,
                    kind="campaign",
                    description=f"Commitment {i}",
                    target_date=NOW.date() + timedelta(days=30 + i),
                )
            )
        db.session.commit()

    return grow


def test_commitments_tracker(client, organiser, login):
    login(organiser)
    ev = make_event_row(starts_at=NOW - timedelta(days=3), ends_at=NOW - timedelta(days=3) + timedelta(hours=2))
    assert_constant(client, "/commitments", _commitments(ev, lambda i: f"k{i}@example.org"), "Pledger ")


def test_my_commitments(client, make_user, login):
    user = make_user("participant", email="ana@example.org")
    login(user)
    ev = make_event_row(starts_at=NOW - timedelta(days=3), ends_at=NOW - timedelta(days=3) + timedelta(hours=2))
    contact = Contact(email="ana@example.org", name="Ana")
    db.session.add(contact)
    db.session.commit()
    reg = register(ev, "ana@example.org", "Ana", user=user, contact=contact)

    def grow(first, n):
        for i in range(first, first + n):
            db.session.add(
                Commitment(
                    event_id=ev.id,
                    registration_id=reg.id,
                    contact_id=contact.id,
                    kind="campaign",
                    description=f"Commitment {i}",
                    target_date=NOW.date() + timedelta(days=30 + i),
                )
            )
        db.session.commit()

    assert_constant(client, "/commitments/mine", grow, "Commitment ")


def test_review(client, make_user, login):
    """The co-chairs' review of a period: 10 then 200 events held, each with a registration of a
    member government (200 events: the member-by-event grid shown in parts, by year)."""
    login(make_user("cochair"))
    member = Organisation(name="Kingdom of Thailand", sector="member_government")
    db.session.add(member)
    db.session.commit()
    first_day = NOW - timedelta(days=400)

    def grow(first, n):
        for i in range(first, first + n):
            starts = first_day + timedelta(days=i * 2)
            event = make_event_row(
                title=f"Review event {i}", status="held", starts_at=starts, ends_at=starts + timedelta(hours=1)
            )
            register(event, f"rv{i}@example.org", member=member, sector="member_government")

    period = f"from={first_day.date().isoformat()}&to={NOW.date().isoformat()}"
    assert_constant(client, f"/review?{period}", grow, "Review event ")
