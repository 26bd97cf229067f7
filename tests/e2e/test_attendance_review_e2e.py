"""Browser journey of the attendance and review issue, end to end: an organiser uploads a Zoom
report, reads the preview, confirms, and links an unmatched row (the phone caller) to a
registration; then a co-chair opens the review (which opens on the last year with events), finds the
event, sees that member government
present, and downloads the activity report, whose text names the event."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from webinar_mgr.attendance.models import AttendanceRecord
from webinar_mgr.directory.models import Contact, Organisation
from webinar_mgr.events.models import Event, EventKind
from webinar_mgr.extensions import db
from webinar_mgr.registrations.models import Registration

pytestmark = pytest.mark.e2e
REPORT = (
    Path(__file__).resolve().parents[1] / "fixtures" / "attendance" / "samples" / "zoom-webinar-attendee-report.csv"
)
TITLE = "Regional webinar on technology and trafficking"


def _setup():
    kind = EventKind(code="webinar", label="Regional webinar")
    start = datetime(2022, 8, 24, 13, 0, tzinfo=ZoneInfo("Asia/Bangkok")).astimezone(UTC)
    event = Event(
        title=TITLE,
        kind=kind,
        timezone="Asia/Bangkok",
        starts_at=start,
        ends_at=start + timedelta(hours=2),
        status="held",
    )
    tonga = Organisation(name="Tonga", sector="member_government", working_group_member=True)
    philippines = Organisation(name="Philippines", sector="member_government", working_group_member=True)
    db.session.add_all([event, tonga, philippines])
    db.session.flush()
    for name, email, org in [
        ("Siosaia Tupou", "s.tupou@gov.example", tonga),
        ("Maria Santos", "maria.santos@gov.example", philippines),
    ]:
        contact = Contact(name=name, email=email, organisation_id=org.id)
        db.session.add(contact)
        db.session.flush()
        db.session.add(
            Registration(
                event_id=event.id,
                contact_id=contact.id,
                email=email,
                name=name,
                organisation_id=org.id,
                organisation_name=org.name,
                sector=org.sector,
                member_government_id=org.id,
                status="confirmed",
            )
        )
    db.session.commit()
    return event.id


def _sign_in(page, live_server, email):
    page.goto(f"{live_server}/login")
    page.fill("#email", email)
    page.fill("#password", "correct-horse-battery")
    page.get_by_role("button", name="Sign in").click()


def test_organiser_imports_and_resolves_then_cochair_reviews_and_downloads_the_report(
    live_server, page, make_user, tmp_path
):
    event_id = _setup()
    make_user("organiser", email="org@example.org", timezone="Asia/Bangkok")
    make_user("cochair", email="cochair@example.org", timezone="Asia/Bangkok")

    # The organiser: upload, preview (nothing saved), confirm, resolve the phone caller.
    _sign_in(page, live_server, "org@example.org")
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
    page.get_by_role("button", name="Sign out").click()

    # The co-chair: no event was held in the last twelve months, so the review opens on the twelve
    # months up to the last event held, and says so; the event's review shows both members present.
    _sign_in(page, live_server, "cochair@example.org")
    page.get_by_role("link", name="Review", exact=True).click()
    assert page.get_by_role("heading", name="Co-chairs' review").is_visible()
    assert page.locator("#shifted-hint").is_visible()
    events = page.locator("#table-events")
    events.get_by_role("link", name=TITLE).click()
    page.wait_for_url(f"**/review/events/{event_id}")
    wg = page.locator("#table-working_group")
    assert wg.get_by_role("row", name="Philippines").get_by_text("Present").is_visible()  # the linked caller
    assert wg.get_by_role("row", name="Tonga").get_by_text("Present").is_visible()

    page.get_by_role("link", name="Co-chairs' review").click()
    page.fill("#from", "2022-08-01")
    page.fill("#to", "2022-08-31")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/review?from=2022-08-01&to=2022-08-31*")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download the activity report (PDF)").click()
    download = info.value
    assert download.suggested_filename == "activity-report-2022-08-01-2022-08-31.pdf"
    target = tmp_path / "report.pdf"
    download.save_as(target)
    text = " ".join(
        subprocess.run(["pdftotext", str(target), "-"], capture_output=True, text=True, check=True).stdout.split()
    )
    assert "August 1, 2022 – August 31, 2022" in text
    assert TITLE in text  # in the attendance table (the events table wraps it beside the time)
    assert "Philippines" in text and "Tonga" in text
