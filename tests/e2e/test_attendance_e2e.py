"""Browser journey: an organiser uploads a Zoom report, reads the preview, confirms, and links
an unmatched row (the phone caller) to a registration."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from webinar_mgr.attendance.models import AttendanceRecord
from webinar_mgr.directory.models import Contact
from webinar_mgr.events.models import Event, EventKind
from webinar_mgr.extensions import db
from webinar_mgr.registrations.models import Registration

pytestmark = pytest.mark.e2e
REPORT = Path("/work/shared/samples/attendance/zoom-webinar-attendee-report.csv")


def _setup():
    kind = EventKind(code="webinar", label="Regional webinar")
    start = datetime(2022, 8, 24, 13, 0, tzinfo=ZoneInfo("Asia/Bangkok")).astimezone(timezone.utc)
    event = Event(title="Regional webinar on technology and trafficking", kind=kind, timezone="Asia/Bangkok",
                  starts_at=start, ends_at=start + timedelta(hours=2), status="held")
    db.session.add(event)
    db.session.flush()
    for name, email in [("Siosaia Tupou", "s.tupou@gov.example"), ("Maria Santos", "maria.santos@gov.example")]:
        contact = Contact(name=name, email=email)
        db.session.add(contact)
        db.session.flush()
        db.session.add(Registration(event_id=event.id, contact_id=contact.id, email=email, name=name,
                                    status="confirmed"))
    db.session.commit()
    return event.id


def test_organiser_imports_attendance_and_links_an_unmatched_row(live_server, page, make_user):
    event_id = _setup()
    make_user("organiser", email="org@example.org", timezone="Asia/Bangkok")
    page.goto(f"{live_server}/login")
    page.fill("#email", "org@example.org")
    page.fill("#password", "correct-horse-battery")
    page.get_by_role("button", name="Sign in").click()

    page.goto(f"{live_server}/events/{event_id}/attendance")
    page.get_by_role("link", name="Import a report").click()
    page.set_input_files("#report", str(REPORT))
    assert page.locator("#timezone").input_value() == "Asia/Bangkok"
    page.get_by_role("button", name="Read the report").click()

    page.wait_for_url("**/attendance/import/*")
    assert page.get_by_role("heading", name="Preview: nothing is saved yet").is_visible()
    assert page.get_by_text("Zoom webinar attendee report").is_visible()
    assert page.get_by_text("month before day (e.g. 08/24/2022)").is_visible()
    assert page.get_by_role("cell", name="+61 2 5550 1234").is_visible()
    with db.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(AttendanceRecord)).scalar() == 0

    page.get_by_role("button", name="Confirm the import").click()
    page.wait_for_url(f"**/events/{event_id}/attendance")
    assert page.get_by_text("Attendance imported: 6 people, 1 matched, 5 to resolve").is_visible()
    row = page.locator("#unmatched ~ .table-wrap tr", has_text="+61 2 5550 1234")
    row.get_by_label("Link to").select_option(label="Maria Santos <maria.santos@gov.example>")
    row.get_by_role("button", name="Link").click()
    assert page.get_by_text("+61 2 5550 1234 is linked.").is_visible()
    assert page.get_by_role("heading", name="Rows to resolve (4)").is_visible()

    db.session.expire_all()
    linked = db.session.scalar(sa.select(AttendanceRecord).where(AttendanceRecord.name == "+61 2 5550 1234"))
    assert linked.match == "linked" and linked.registration.email == "maria.santos@gov.example"
    assert linked.minutes == 50 and linked.attended
