"""Attendance import, matching, resolution, threshold, check-in: services, pages and the CLI."""

from __future__ import annotations

import csv
import html
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from webinar_mgr.attendance import parsers, services, staging, uploads
from webinar_mgr.attendance.models import AttendanceImport, AttendanceSession
from webinar_mgr.audit.models import AuditEntry
from webinar_mgr.core.models import PendingUpload
from webinar_mgr.directory.models import Contact, Organisation
from webinar_mgr.directory.services import OrganisationChoice
from webinar_mgr.directory.signals import collect_gaps
from webinar_mgr.errors import Conflict, DomainError, NotFound
from webinar_mgr.events.models import Event, EventKind
from webinar_mgr.extensions import db
from webinar_mgr.persistence import unit_of_work
from webinar_mgr.registrations.models import Registration

FIXTURES = Path(__file__).parent / "fixtures" / "attendance"
SAMPLES = FIXTURES / "samples"  # the project's shared samples (../shared/samples/attendance), copied in
WEBINAR = SAMPLES / "zoom-webinar-attendee-report.csv"
MEETING = SAMPLES / "zoom-meeting-participants.csv"
# A second report of the webinar sample's meeting (a Zoom meeting export, times in Bangkok):
# Siosaia again (13:30-13:50 bridges the gap between his two sessions in the first report), and
# three people the first report does not have: Maria (registered; "Attended: No" in the first),
# Kofi (not registered) and Lee (5 minutes: under the threshold).
SECOND_REPORT = (
    b"Name (Original Name),User Email,Join Time,Leave Time,Duration (Minutes),Guest\n"
    b"Siosaia Tupou,s.tupou@gov.example,08/24/2022 01:30:00 PM,08/24/2022 01:50:00 PM,20,Yes\n"
    b"Maria Santos,maria.santos@gov.example,08/24/2022 01:10:00 PM,08/24/2022 02:00:00 PM,50,Yes\n"
    b"Kofi Mensah,kofi@ngo.example,08/24/2022 01:00:00 PM,08/24/2022 01:45:00 PM,45,Yes\n"
    b"Late Lee,late@gov.example,08/24/2022 02:50:00 PM,08/24/2022 02:55:00 PM,5,Yes\n"
)


def page_text(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


def at(y, mo, d, h, mi, tz):
    return datetime(y, mo, d, h, mi, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def make_event(start: datetime, tz: str, title="Regional webinar", capacity=None) -> Event:
    kind = db.session.scalar(sa.select(EventKind).where(EventKind.code == "webinar"))
    if kind is None:
        kind = EventKind(code="webinar", label="Regional webinar")
        db.session.add(kind)
    event = Event(
        title=title,
        kind=kind,
        timezone=tz,
        starts_at=start,
        ends_at=start + timedelta(hours=2),
        status="scheduled",
        capacity=capacity,
    )
    db.session.add(event)
    db.session.commit()
    return event


def register(event: Event, name: str, email: str, status="confirmed") -> Registration:
    contact = db.session.scalar(sa.select(Contact).where(Contact.email == email.lower()))
    if contact is None:
        contact = Contact(name=name, email=email.lower())
        db.session.add(contact)
        db.session.flush()
    reg = Registration(event_id=event.id, contact_id=contact.id, email=email.lower(), name=name, status=status)
    db.session.add(reg)
    db.session.commit()
    return reg


@pytest.fixture
def webinar_event(app):
    """The Zoom webinar sample's event (24 Aug 2022, 13:00 Bangkok) with some registrations."""
    event = make_event(at(2022, 8, 24, 13, 0, "Asia/Bangkok"), "Asia/Bangkok", capacity=4)
    regs = {
        "tupou": register(event, "Siosaia Tupou", "S.Tupou@gov.example"),  # email, other case
        "lan": register(event, "Nguyen Thi Lan", "lan.nguyen.old@ngo.example"),  # by name, no accents
        "somchai": register(event, "สมชาย ใจดี", "somchai@gov.example"),
        "maria": register(event, "Maria Santos", "maria.santos@gov.example"),
    }
    return event, regs


def records(event):
    """The event's listed rows by name (rows an undo or a replace left without sessions are kept
    but not listed)."""
    db.session.expire_all()
    return {r.name: r for r in services.records(event)}


# Services ---------------------------------------------------------------------------------------


def test_import_matches_by_email_then_name_and_applies_threshold(webinar_event, make_user):
    event, regs = webinar_event
    organiser = make_user("organiser")
    preview, imp, _effect = services.import_file(event, WEBINAR.name, WEBINAR.read_bytes(), actor=organiser)
    s = preview.summary()
    assert s["rows_read"] == 8 and s["people"] == 6
    assert s["matched_by_email"] == 2 and s["matched_by_name"] == 1 and s["unmatched"] == 3
    # threshold 10: everyone but Somchai (6 min)
    assert s["attended"] == 5 and s["hosts_and_panelists"] == 2
    recs = records(event)
    assert recs["Siosaia Tupou"].registration_id == regs["tupou"].id and recs["Siosaia Tupou"].match == "email"
    assert recs["Siosaia Tupou"].minutes == 116 and recs["Siosaia Tupou"].attended
    assert [x.line for x in recs["Siosaia Tupou"].sessions] == [13, 14]
    assert recs["Siosaia Tupou"].country == "Tonga"
    assert recs["Nguyễn Thị Lan"].registration_id == regs["lan"].id and recs["Nguyễn Thị Lan"].match == "name"
    assert recs["สมชาย ใจดี"].match == "email" and not recs["สมชาย ใจดี"].attended
    assert recs["+61 2 5550 1234"].match == "unmatched" and recs["+61 2 5550 1234"].registration_id is None
    assert imp.matched == 3 and imp.unmatched == 3 and imp.attended == 5
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(AuditEntry).where(AuditEntry.action == "attendance.import")
        )
        == 1
    )


def test_name_matching_needs_a_single_candidate(app):
    event = make_event(at(2023, 3, 14, 9, 0, "Asia/Kuala_Lumpur"), "Asia/Kuala_Lumpur")
    register(event, "Tevita", "tevita.one@gov.example")
    register(event, "TEVITA", "tevita.two@gov.example")
    register(event, "Aisyah Rahman", "aisyah.rahman@other.example")
    preview, _imp, _effect = services.import_file(event, "m.csv", MEETING.read_bytes(), dry_run=True)
    by_name = {mp.person.name: mp for mp in preview.people}
    assert by_name["Tevita"].match == "unmatched"  # two registrations called Tevita
    # "(Ministry of Home Affairs)" is dropped for matching; the display name keeps it.
    assert by_name["Aisyah Rahman (Ministry of Home Affairs)"].match == "name"


def test_dry_run_and_preview_save_nothing(webinar_event):
    event, _ = webinar_event
    services.import_file(event, WEBINAR.name, WEBINAR.read_bytes(), dry_run=True)
    services.analyse(event, WEBINAR.read_bytes())
    assert records(event) == {}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AttendanceImport)) == 0


def test_bad_file_changes_nothing_all_or_nothing(webinar_event, make_user):
    event, _ = webinar_event
    organiser = make_user("organiser")
    services.import_file(event, "good.csv", WEBINAR.read_bytes(), actor=organiser)
    before = sorted((r.name, r.minutes) for r in records(event).values())
    bad = WEBINAR.read_text(encoding="utf-8-sig").replace("08/24/2022 01:42:30 PM", "not a time").encode()
    with pytest.raises(DomainError) as info:
        services.import_file(event, "bad.csv", bad, actor=organiser)
    assert "line 14" in str(info.value.problems) or 14 in dict(info.value.problems)
    assert sorted((r.name, r.minutes) for r in records(event).values()) == before
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AttendanceImport)) == 1


def test_failure_while_saving_rolls_back_everything(webinar_event, make_user):
    """A database error half-way through the save leaves the earlier import as it was."""
    event, _ = webinar_event
    organiser = make_user("organiser")
    services.import_file(event, "good.csv", WEBINAR.read_bytes(), actor=organiser)
    before = sorted((r.name, r.minutes, r.attended) for r in records(event).values())
    preview = services.analyse(event, SECOND_REPORT)
    broken = preview.people[-1].person.rows[0]
    broken.leave = broken.join - timedelta(hours=1)  # violates leave_not_before_join in the database
    with pytest.raises(sa.exc.IntegrityError), unit_of_work():
        services.save_import(event, preview, "broken.csv", "merge", actor=organiser)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AttendanceImport)) == 1
    assert sorted((r.name, r.minutes, r.attended) for r in records(event).values()) == before
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AttendanceSession)) == 7


def test_threshold_change_recomputes(webinar_event, make_user):
    event, _ = webinar_event
    organiser = make_user("organiser")
    services.import_file(event, WEBINAR.name, WEBINAR.read_bytes(), actor=organiser)
    assert services.set_threshold(event, 5, actor=organiser) == 6
    assert records(event)["สมชาย ใจดี"].attended
    assert services.set_threshold(event, 100, actor=organiser) == 3  # host 126, Siosaia 116, Lan 110
    db.session.expire_all()
    assert db.session.get(Event, event.id).attendance_threshold_minutes == 100
    assert not records(event)["Dana Speaker (Platform Co.)"].attended
    with pytest.raises(DomainError):
        services.set_threshold(event, -1, actor=organiser)


def test_link_walk_in_and_ignore_are_audited(webinar_event, make_user):
    event, regs = webinar_event
    organiser = make_user("organiser")
    services.import_file(event, WEBINAR.name, WEBINAR.read_bytes(), actor=organiser)
    recs = records(event)
    # Link the phone caller to Maria's registration.
    services.link_record(event, recs["+61 2 5550 1234"].id, regs["maria"].id, actor=organiser)
    # The host becomes a walk-in, although the event is full (capacity 4, 4 registrations).
    reg = services.add_walk_in(
        event,
        recs["Support Office Host"].id,
        email="host@rso.example",
        name="Support Office Host",
        organisation=OrganisationChoice(name="Regional Support Office", sector="support_office"),
        actor=organiser,
    )
    assert reg.status == "confirmed" and reg.event_id == event.id
    assert db.session.scalar(sa.select(Contact).where(Contact.email == "host@rso.example")) is not None
    services.ignore_record(event, recs["Dana Speaker (Platform Co.)"].id, actor=organiser)
    recs = records(event)
    assert recs["+61 2 5550 1234"].match == "linked" and recs["+61 2 5550 1234"].registration_id == regs["maria"].id
    assert recs["Support Office Host"].match == "walk_in" and recs["Support Office Host"].registration_id == reg.id
    assert recs["Dana Speaker (Platform Co.)"].match == "ignored" and not recs["Dana Speaker (Platform Co.)"].attended
    counts = services.event_counts(event)
    assert (counts.people, counts.matched, counts.unmatched, counts.ignored, counts.attended) == (5, 5, 0, 1, 4)
    actions = set(db.session.scalars(sa.select(AuditEntry.action)))
    assert {"attendance.link", "attendance.walk_in", "registration.walk_in", "attendance.ignore"} <= actions
    # A resolved row cannot be resolved again; rows of other events are not reachable.
    with pytest.raises(Conflict):
        services.ignore_record(event, recs["Siosaia Tupou"].id, actor=organiser)
    other = make_event(at(2022, 9, 1, 10, 0, "UTC"), "UTC", title="Other")
    with pytest.raises(NotFound):
        services.link_record(other, recs["Siosaia Tupou"].id, regs["maria"].id, actor=organiser)


def test_walk_in_needs_an_email_and_refuses_an_existing_registration(webinar_event, make_user):
    event, _ = webinar_event
    organiser = make_user("organiser")
    services.import_file(event, WEBINAR.name, WEBINAR.read_bytes(), actor=organiser)
    phone = records(event)["+61 2 5550 1234"]
    with pytest.raises(DomainError) as info:
        services.add_walk_in(event, phone.id, email="", name="Caller", actor=organiser)
    assert "email" in info.value.field_errors
    with pytest.raises(Conflict):
        services.add_walk_in(event, phone.id, email="MARIA.SANTOS@gov.example", name="Maria", actor=organiser)
    assert records(event)["+61 2 5550 1234"].match == "unmatched"


def test_checkin_and_undo(webinar_event, make_user):
    event, regs = webinar_event
    organiser = make_user("organiser")
    services.checkin(event, regs["maria"].id, actor=organiser)
    services.checkin(event, regs["maria"].id, actor=organiser)  # twice: still one record
    rows = services.checkin_list(event, "maria")
    assert [(r.registration.name, r.checked_in_at is not None) for r in rows] == [("Maria Santos", True)]
    recs = records(event)
    assert recs["Maria Santos"].source == "checkin" and recs["Maria Santos"].attended
    services.undo_checkin(event, regs["maria"].id, actor=organiser)
    assert records(event) == {}
    with pytest.raises(NotFound):
        services.undo_checkin(event, regs["maria"].id, actor=organiser)
    assert {"attendance.checkin", "attendance.checkin_undo"} <= set(db.session.scalars(sa.select(AuditEntry.action)))


def test_formula_cells_stored_as_text_and_neutralised_on_export(app, client, make_user, login):
    event = make_event(at(2023, 3, 15, 13, 0, "Asia/Bangkok"), "Asia/Bangkok")
    organiser = make_user("organiser")
    services.import_file(event, "f.csv", (FIXTURES / "zoom-webinar-newer-headers.csv").read_bytes(), actor=organiser)
    assert "=cmd|' /C calc'!A0" in records(event)
    login(organiser)
    resp = client.get(f"/events/{event.id}/attendance/export.csv")
    assert resp.status_code == 200
    rows = list(csv.reader(io.StringIO(resp.get_data().decode("utf-8-sig"))))
    assert rows[1 + [r[0] for r in rows[1:]].index("'=cmd|' /C calc'!A0")][:2] == [
        "'=cmd|' /C calc'!A0",
        "formula@gov.example",
    ]


# Pages ----------------------------------------------------------------------------------------


def test_upload_preview_confirm_and_resolve_through_the_pages(webinar_event, client, make_user, login):
    event, regs = webinar_event
    organiser = make_user("organiser")
    login(organiser)
    resp = client.post(
        f"/events/{event.id}/attendance/import",
        data={"report": (io.BytesIO(WEBINAR.read_bytes()), WEBINAR.name), "timezone": "Asia/Bangkok"},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    preview_url = resp.headers["Location"]
    page = client.get(preview_url).get_data(as_text=True)
    assert "Zoom webinar attendee report" in page and "nothing is saved yet" in page
    assert "month before day" in page and "Hosts, panelists and presenters are counted" in page
    assert records(event) == {}
    upload_id = preview_url.rstrip("/").rsplit("/", 1)[-1]
    resp = client.post(f"/events/{event.id}/attendance/import/{upload_id}/confirm")
    assert resp.status_code == 302
    assert len(records(event)) == 6
    assert db.session.get(PendingUpload, upload_id) is None
    page = client.get(f"/events/{event.id}/attendance").get_data(as_text=True)
    assert "Rows to resolve (3)" in page and "Siosaia Tupou" in page and "สมชาย ใจดี" in page
    phone = records(event)["+61 2 5550 1234"]
    resp = client.post(
        f"/events/{event.id}/attendance/rows/{phone.id}/link", data={"registration_id": regs["maria"].id}
    )
    assert resp.status_code == 302
    assert records(event)["+61 2 5550 1234"].registration_id == regs["maria"].id
    # threshold form
    client.post(f"/events/{event.id}/attendance/threshold", data={"minutes": "5"})
    assert records(event)["สมชาย ใจดี"].attended


def test_walk_in_page(webinar_event, client, make_user, login):
    event, _ = webinar_event
    organiser = make_user("organiser")
    services.import_file(event, WEBINAR.name, WEBINAR.read_bytes(), actor=organiser)
    phone = records(event)["+61 2 5550 1234"]
    login(organiser)
    url = f"/events/{event.id}/attendance/rows/{phone.id}/walk-in"
    assert "+61 2 5550 1234" in client.get(url).get_data(as_text=True)
    resp = client.post(url, data={"name": "Phone caller", "email": "not-an-email"})
    assert resp.status_code == 400
    resp = client.post(url, data={"name": "Phone caller", "email": "caller@gov.example"})
    assert resp.status_code == 422 and "Choose the walk-in's organisation" in page_text(resp)
    resp = client.post(
        url,
        data={
            "name": "Phone caller",
            "email": "caller@gov.example",
            "organisation_name": "Pacific Rights Network",
            "sector": "civil_society",
        },
    )
    assert resp.status_code == 302
    assert records(event)["+61 2 5550 1234"].match == "walk_in"


@pytest.mark.parametrize(
    "content,status,message",
    [
        (b"email,name\na@b.example,A\n", 422, "not a Zoom or Teams attendance report"),
        (b"\x00\x01\x02binary\x00" * 50, 422, "binary"),
        (b"Name (Original Name),User Email,Join Time,Leave Time\n", 422, "no rows"),
    ],
)
def test_bad_uploads_show_a_clear_message_and_save_nothing(
    webinar_event, client, make_user, login, content, status, message
):
    event, _ = webinar_event
    login(make_user("organiser"))
    resp = client.post(
        f"/events/{event.id}/attendance/import",
        data={"report": (io.BytesIO(content), "x.csv"), "timezone": "Asia/Bangkok"},
        content_type="multipart/form-data",
    )
    assert resp.status_code == status
    assert message in resp.get_data(as_text=True)
    assert "Nothing was saved" in resp.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PendingUpload)) == 0


def test_another_meetings_report_is_refused_in_the_form(app, client, make_user, login):
    event = make_event(at(2023, 4, 14, 9, 0, "Asia/Kuala_Lumpur"), "Asia/Kuala_Lumpur")
    login(make_user("organiser"))
    resp = client.post(
        f"/events/{event.id}/attendance/import",
        data={"report": (io.BytesIO(MEETING.read_bytes()), MEETING.name), "timezone": "Asia/Kuala_Lumpur"},
        content_type="multipart/form-data",
    )
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "another meeting" in body
    assert "2023-03-14" in body and "2023-04-14" in body
    assert records(event) == {}


def test_twenty_megabyte_upload_is_refused_with_413(webinar_event, client, make_user, login):
    event, _ = webinar_event
    login(make_user("organiser"))
    big = WEBINAR.read_bytes() + b"," * (20 * 1024 * 1024)
    resp = client.post(
        f"/events/{event.id}/attendance/import",
        data={"report": (io.BytesIO(big), "big.csv"), "timezone": "Asia/Bangkok"},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 413
    assert "too large" in resp.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PendingUpload)) == 0


def test_pending_upload_belongs_to_its_uploader(webinar_event, client, make_user, login):
    event, _ = webinar_event
    first = make_user("organiser")
    upload, _preview = uploads.stage_upload(event, WEBINAR.name, WEBINAR.read_bytes(), actor=first)
    login(make_user("organiser"))
    assert client.get(f"/events/{event.id}/attendance/import/{upload.id}").status_code == 404
    assert client.post(f"/events/{event.id}/attendance/import/{upload.id}/confirm").status_code == 404
    assert records(event) == {}


def test_participants_and_cochairs_cannot_use_attendance(webinar_event, client, make_user, login):
    event, regs = webinar_event
    login(make_user("participant"))
    assert client.get(f"/events/{event.id}/attendance").status_code == 403
    assert client.post(f"/events/{event.id}/attendance/checkin/{regs['maria'].id}").status_code == 403
    assert records(event) == {}


def test_checkin_page_search_checkin_and_undo(webinar_event, client, make_user, login):
    event, regs = webinar_event
    login(make_user("organiser"))
    page = client.get(f"/events/{event.id}/attendance/checkin?q=santos").get_data(as_text=True)
    assert "Maria Santos" in page and "Siosaia" not in page and "Check in" in page
    resp = client.post(f"/events/{event.id}/attendance/checkin/{regs['maria'].id}", data={"q": "santos"})
    assert resp.status_code == 302 and "q=santos" in resp.headers["Location"]
    page = client.get(f"/events/{event.id}/attendance/checkin?q=santos").get_data(as_text=True)
    assert "Checked in at" in page and "Undo" in page
    client.post(f"/events/{event.id}/attendance/checkin/{regs['maria'].id}/undo")
    assert records(event) == {}


# Command line -----------------------------------------------------------------------------------


def test_cli_import_prints_the_summary(webinar_event):
    event, _ = webinar_event
    runner = _runner()
    result = runner.invoke(args=["attendance", "import", "--event", str(event.id), str(WEBINAR), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "Rows read: 8" in result.output and "People: 6" in result.output
    assert "Matched: 3 (by email 2, by name 1)" in result.output and "Unmatched: 3" in result.output
    assert "Attended: 5" in result.output and "Dry run" in result.output
    assert records(event) == {}
    result = runner.invoke(
        args=["attendance", "import", "--event", str(event.id), "--tz", "Asia/Bangkok", str(WEBINAR)]
    )
    assert result.exit_code == 0, result.output
    assert "Saved as import" in result.output
    assert len(records(event)) == 6


def test_cli_refuses_bad_input_with_a_message(webinar_event, tmp_path):
    event, _ = webinar_event
    bad = tmp_path / "contacts.csv"
    bad.write_text("email,name\na@b.example,A\n")
    result = _runner().invoke(args=["attendance", "import", "--event", str(event.id), str(bad)])
    assert result.exit_code != 0
    assert "not a Zoom or Teams attendance report" in result.output
    result = _runner().invoke(args=["attendance", "import", "--event", str(event.id), str(MEETING)])
    assert result.exit_code != 0 and "another meeting" in result.output
    result = _runner().invoke(args=["attendance", "import", "--event", "999999", str(WEBINAR)])
    assert result.exit_code != 0 and "no such event" in result.output
    result = _runner().invoke(
        args=["attendance", "import", "--event", str(event.id), "--tz", "Mars/Olympus", str(WEBINAR)]
    )
    assert result.exit_code != 0 and "Unknown time zone" in result.output
    assert records(event) == {}


def _runner():
    from flask import current_app

    return current_app.test_cli_runner()


def test_link_without_a_choice_changes_nothing(webinar_event, client, make_user, login):
    event, _ = webinar_event
    organiser = make_user("organiser")
    services.import_file(event, WEBINAR.name, WEBINAR.read_bytes(), actor=organiser)
    phone = records(event)["+61 2 5550 1234"]
    login(organiser)
    resp = client.post(
        f"/events/{event.id}/attendance/rows/{phone.id}/link", data={"registration_id": ""}, follow_redirects=True
    )
    assert "Choose a registration" in resp.get_data(as_text=True)
    assert records(event)["+61 2 5550 1234"].match == "unmatched"


def test_cli_refuses_a_file_over_20_mb(webinar_event, tmp_path):
    event, _ = webinar_event
    big = tmp_path / "big.csv"
    big.write_bytes(WEBINAR.read_bytes() + b"," * (20 * 1024 * 1024))
    result = _runner().invoke(args=["attendance", "import", "--event", str(event.id), str(big)])
    assert result.exit_code == 1 and "too large" in result.output
    assert records(event) == {}


def test_threshold_changed_on_the_preview_comes_back_to_the_preview(webinar_event, client, make_user, login):
    event, _ = webinar_event
    organiser = make_user("organiser")
    upload, _preview = uploads.stage_upload(event, WEBINAR.name, WEBINAR.read_bytes(), actor=organiser)
    login(organiser)
    preview_url = f"/events/{event.id}/attendance/import/{upload.id}"
    resp = client.post(f"/events/{event.id}/attendance/threshold", data={"minutes": "100", "next": preview_url})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(preview_url)
    page = client.get(preview_url).get_data(as_text=True)
    assert "100 minutes" in page
    # elsewhere is refused as a target
    resp = client.post(
        f"/events/{event.id}/attendance/threshold", data={"minutes": "10", "next": "https://evil.example/"}
    )
    assert resp.headers["Location"].endswith(f"/events/{event.id}/attendance")
    assert records(event) == {}


# Merging imports (issue 11) ------------------------------------------------------------------------


def _state(event):
    """Every count the attendance page and the review show, and each row's minutes and match."""
    counts = services.event_counts(event)
    rows = sorted((r.name, r.minutes, r.attended, r.match, r.registration_id) for r in services.records(event))
    return counts, rows


def test_importing_the_same_report_twice_changes_nothing(webinar_event, make_user):
    event, regs = webinar_event
    organiser = make_user("organiser")
    services.import_file(event, "first.csv", WEBINAR.read_bytes(), actor=organiser)
    phone = records(event)["+61 2 5550 1234"]
    services.link_record(event, phone.id, regs["maria"].id, actor=organiser)  # a decision to keep
    before = _state(event)
    # The same file again: refused as already imported, nothing written.
    with pytest.raises(services.AlreadyImported) as info:
        services.import_file(event, "again.csv", WEBINAR.read_bytes(), actor=organiser)
    assert "already imported" in info.value.message and info.value.previous is not None
    # The same sessions in another file (a re-export: another "Report Generated" line): also nothing.
    reexport = WEBINAR.read_bytes().replace(b"08/24/2022 03:20:11 PM", b"08/25/2022 09:00:00 AM")
    with pytest.raises(services.AlreadyImported) as info:
        services.import_file(event, "reexport.csv", reexport, actor=organiser)
    assert "already imported" in info.value.message
    assert _state(event) == before
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AttendanceImport)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AttendanceSession)) == 7
    assert records(event)["+61 2 5550 1234"].match == "linked"
    # The command line says so and succeeds (running an import twice is safe).
    result = _runner().invoke(args=["attendance", "import", "--event", str(event.id), str(WEBINAR)])
    assert result.exit_code == 0 and "already imported" in result.output
    assert _state(event) == before


def test_a_second_report_adds_its_people_and_merges_sessions(webinar_event, make_user):
    event, regs = webinar_event
    organiser = make_user("organiser")
    services.checkin(event, regs["lan"].id, actor=organiser)
    services.import_file(event, "webinar.csv", WEBINAR.read_bytes(), actor=organiser)
    assert services.event_counts(event).attended == 5
    _p, second, effect = services.import_file(event, "meeting.csv", SECOND_REPORT, actor=organiser)
    recs = records(event)
    # Everyone of the first report is still there; the second adds Maria, Kofi and Lee.
    assert {"Support Office Host", "Dana Speaker (Platform Co.)", "Siosaia Tupou", "Nguyễn Thị Lan"} <= set(recs)
    assert {"Maria Santos", "Kofi Mensah", "Late Lee"} <= set(recs)
    # Siosaia: 13:01:10-13:40 and 13:42:30-15:00, plus 13:30-13:50 from the second report: the
    # union is 13:01:10-15:00 (118m50s), overlaps counted once - not 116 + 20.
    tupou = recs["Siosaia Tupou"]
    assert tupou.minutes == 119 and len(tupou.sessions) == 3
    assert {s.import_id for s in tupou.sessions} == {tupou.import_id, second.id}
    assert recs["Maria Santos"].registration_id == regs["maria"].id and recs["Maria Santos"].attended
    assert recs["Kofi Mensah"].match == "unmatched" and not recs["Late Lee"].attended
    assert recs["Nguyễn Thị Lan"].source == "import"  # the check-in stays a row of its own
    assert (effect.attended_before, effect.attended_after, effect.new, effect.removed) == (5, 7, 3, 0)
    assert (effect.registrations_before, effect.registrations_after) == (2, 3)
    assert effect.line() == "attended 5 -> 7; 3 new, 0 removed"
    counts = services.event_counts(event)
    assert (counts.people, counts.attended, counts.attended_registrations, counts.checked_in) == (9, 7, 3, 1)
    assert [i.filename for i in services.imports(event)] == ["meeting.csv", "webinar.csv"]


def test_replace_is_explicit_and_keeps_manual_rows(webinar_event, make_user, client, login):
    event, regs = webinar_event
    organiser = make_user("organiser")
    services.checkin(event, regs["maria"].id, actor=organiser)
    services.import_file(event, "webinar.csv", WEBINAR.read_bytes(), actor=organiser)
    recs = records(event)
    walk_in = services.add_walk_in(
        event,
        recs["+61 2 5550 1234"].id,
        email="caller@gov.example",
        name="Phone caller",
        organisation=OrganisationChoice(name="Pacific Rights Network", sector="civil_society"),
        actor=organiser,
    )
    # Through the page: the merge is the default; the replace button needs its box ticked.
    upload, _preview = uploads.stage_upload(event, "meeting.csv", SECOND_REPORT, actor=organiser)
    login(organiser)
    page = page_text(client.get(f"/events/{event.id}/attendance/import/{upload.id}"))
    assert "Confirm the import" in page and "Replace the earlier imports with this report" in page
    before = _state(event)
    resp = client.post(f"/events/{event.id}/attendance/import/{upload.id}/replace", data={})
    assert resp.status_code == 400 and "Nothing was replaced" in resp.get_data(as_text=True)
    assert _state(event) == before
    resp = client.post(f"/events/{event.id}/attendance/import/{upload.id}/replace", data={"confirm_replace": "y"})
    assert resp.status_code == 302
    recs = records(event)
    # The first report's people are gone, except the walk-in (an organiser's decision) and the
    # check-in; Siosaia is in both reports: only his session of the second counts now.
    assert "Support Office Host" not in recs and "สมชาย ใจดี" not in recs
    assert recs["+61 2 5550 1234"].registration_id == walk_in.id and recs["+61 2 5550 1234"].minutes == 50
    assert recs["Siosaia Tupou"].minutes == 20
    assert [r.source for r in services.records(event) if r.name == "Maria Santos"] == ["checkin", "import"]
    replace = services.current_import(event)
    assert replace.mode == "replace"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AttendanceImport)) == 2
    assert "attendance.replace" in set(db.session.scalars(sa.select(AuditEntry.action)))
    # The command line merges unless told --replace.
    result = _runner().invoke(args=["attendance", "import", "--event", str(event.id), str(WEBINAR)])
    assert result.exit_code == 0 and "Effect (merge)" in result.output
    assert "Support Office Host" in records(event)


def test_undo_restores_the_counts(webinar_event, make_user, client, login):
    event, _regs = webinar_event
    organiser = make_user("organiser")
    services.import_file(event, "webinar.csv", WEBINAR.read_bytes(), actor=organiser)
    first = _state(event)
    _p, second, _e = services.import_file(event, "meeting.csv", SECOND_REPORT, actor=organiser)
    assert _state(event) != first
    login(organiser)
    page = page_text(client.get(f"/events/{event.id}/attendance"))
    assert "Imported reports (2)" in page and "attended 5 -> 7; 3 new, 0 removed" in page
    resp = client.post(f"/events/{event.id}/attendance/imports/{second.id}/undo", follow_redirects=True)
    assert "attended 7 -> 5; 0 new, 3 removed" in page_text(resp)
    assert _state(event) == first
    assert records(event)["Siosaia Tupou"].minutes == 116
    db.session.expire_all()
    undone = db.session.get(AttendanceImport, second.id)
    assert undone.undone_at is not None and undone.undone_by_id == organiser.id
    assert "attendance.undo" in set(db.session.scalars(sa.select(AuditEntry.action)))
    # Still listed, not undoable twice; the same file may now be imported again.
    assert client.post(f"/events/{event.id}/attendance/imports/{second.id}/undo").status_code == 409
    # Undoing a replace brings back what it replaced.
    services.import_file(event, "meeting.csv", SECOND_REPORT, mode="replace", actor=organiser)
    replace = services.current_import(event)
    assert "Support Office Host" not in records(event)
    _imp, effect = services.undo_import(event, replace.id, actor=organiser)
    assert _state(event) == first
    assert effect.line() == "attended 3 -> 5; 5 new, 3 removed"


def test_the_effect_line_in_the_preview_and_the_cli(webinar_event, make_user, client, login):
    event, _regs = webinar_event
    organiser = make_user("organiser")
    services.import_file(event, "webinar.csv", WEBINAR.read_bytes(), actor=organiser)
    login(organiser)
    resp = client.post(
        f"/events/{event.id}/attendance/import",
        data={"report": (io.BytesIO(SECOND_REPORT), "meeting.csv"), "timezone": "Asia/Bangkok"},
        content_type="multipart/form-data",
    )
    page = page_text(client.get(resp.headers["Location"]))
    assert "If you confirm: attended 5 -> 7; 3 new, 0 removed" in page  # computed, nothing written
    assert "If you replace: attended 5 -> 3; 3 new, 5 removed" in page
    assert len(records(event)) == 6
    path = Path(client.application.config["INSTANCE_DIR"]) / f"second-{event.id}.csv"
    path.write_bytes(SECOND_REPORT)
    try:
        dry = _runner().invoke(args=["attendance", "import", "--event", str(event.id), "--dry-run", str(path)])
        assert "Effect (merge): attended 5 -> 7; 3 new, 0 removed" in dry.output and len(records(event)) == 6
        result = _runner().invoke(args=["attendance", "import", "--event", str(event.id), str(path)])
    finally:
        path.unlink()
    assert result.exit_code == 0 and "Effect (merge): attended 5 -> 7; 3 new, 0 removed" in result.output
    listing = _runner().invoke(args=["attendance", "imports", "--event", str(event.id)])
    assert "attended 5 -> 7; 3 new, 0 removed" in listing.output


def _big_report(people: int) -> bytes:
    lines = ["Name (Original Name),User Email,Join Time,Leave Time,Duration (Minutes),Guest"]
    for i in range(people):
        lines.append(f"Person {i:03d},p{i:03d}@gov.example,08/24/2022 01:00:00 PM,08/24/2022 02:00:00 PM,60,Yes")
    return ("\n".join(lines) + "\n").encode()


def test_preview_is_parsed_once_and_paged(webinar_event, make_user, client, login, monkeypatch):
    event, _regs = webinar_event
    organiser = make_user("organiser")
    calls = []
    real = services.parsers.parse_report
    monkeypatch.setattr(services.parsers, "parse_report", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    login(organiser)
    resp = client.post(
        f"/events/{event.id}/attendance/import",
        data={"report": (io.BytesIO(_big_report(250)), "big.csv"), "timezone": "Asia/Bangkok"},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 302 and len(calls) == 1
    url = resp.headers["Location"]
    first = page_text(client.get(url))
    second = page_text(client.get(url + "?page=2"))
    last = page_text(client.get(url + "?page=3"))
    assert len(calls) == 1  # three views of the preview: no parse
    assert "Person 000" in first and "Person 099" in first and "Person 100" not in first
    assert "Person 100" in second and "Person 199" in second and "Person 099" not in second
    assert "Person 249" in last and "Page 3 of 3" in last
    for page in (first, second, last):  # the totals on every page
        assert "People in the report (250)" in page and "If you confirm: attended 0 -> 250; 250 new, 0 removed" in page
    client.post(url + "/confirm")
    assert len(calls) == 1 and len(records(event)) == 250


# Walk-ins with their organisation (issue 11) -------------------------------------------------------


def member_government(name: str, code: str) -> Organisation:
    org = Organisation(name=name, sector="member_government", country_code=code)
    db.session.add(org)
    db.session.commit()
    return org


def _walk_in_url(event, record) -> str:
    return f"/events/{event.id}/attendance/rows/{record.id}/walk-in"


def test_walk_in_with_a_new_organisation(webinar_event, make_user, client, login):
    event, _regs = webinar_event
    organiser = make_user("organiser")
    australia = member_government("Australia", "AU")
    services.import_file(event, WEBINAR.name, WEBINAR.read_bytes(), actor=organiser)
    phone = records(event)["+61 2 5550 1234"]
    login(organiser)
    resp = client.post(
        _walk_in_url(event, phone),
        data={
            "name": "Phone caller",
            "email": "caller@homeaffairs.example",
            "organisation_id": "None",
            "organisation_name": "Department of Home Affairs",
            "sector": "member_government",
            "country_code": "AU",
            "member_government_id": str(australia.id),
        },
    )
    assert resp.status_code == 302, page_text(resp)[:3000]
    db.session.expire_all()
    agency = db.session.scalar(sa.select(Organisation).where(Organisation.name == "Department of Home Affairs"))
    assert agency.sector == "member_government" and agency.member_government_id == australia.id
    assert agency.added_via == "walk_in" and agency.needs_review
    reg = db.session.scalar(sa.select(Registration).where(Registration.email == "caller@homeaffairs.example"))
    assert (reg.organisation_id, reg.sector, reg.member_government_id) == (agency.id, "member_government", australia.id)
    contact = db.session.scalar(sa.select(Contact).where(Contact.email == "caller@homeaffairs.example"))
    assert contact.organisation_id == agency.id
    assert records(event)["+61 2 5550 1234"].registration_id == reg.id
    # A known organisation picked from the list.
    host = records(event)["Support Office Host"]
    resp = client.post(
        _walk_in_url(event, host),
        data={"name": "Host", "email": "host@rso.example", "organisation_id": str(australia.id)},
    )
    assert resp.status_code == 302
    reg = db.session.scalar(sa.select(Registration).where(Registration.email == "host@rso.example"))
    assert reg.organisation_id == australia.id and reg.member_government_id == australia.id


def test_walk_in_with_another_contacts_email_asks_first(webinar_event, make_user, client, login):
    event, _regs = webinar_event
    organiser = make_user("organiser")
    office = Organisation(name="Regional Support Office", sector="support_office")
    db.session.add(office)
    db.session.flush()
    ana = Contact(name="Ana Lima", email="ana.lima@rso.example", organisation_id=office.id)
    db.session.add(ana)
    db.session.add(Contact(name="Office Host", email="host@rso.example", organisation_id=office.id))
    db.session.commit()
    services.import_file(event, WEBINAR.name, WEBINAR.read_bytes(), actor=organiser)
    recs = records(event)
    login(organiser)
    # The report's own address belongs to a contact: the form says whose it is, before anything.
    page = page_text(client.get(_walk_in_url(event, recs["Support Office Host"])))
    assert "This address belongs to Office Host, Regional Support Office." in page
    phone = recs["+61 2 5550 1234"]
    data = {"name": "Phone caller", "email": "ANA.LIMA@rso.example"}
    resp = client.post(_walk_in_url(event, phone), data=data)
    assert resp.status_code == 409
    assert "This address belongs to Ana Lima, Regional Support Office." in page_text(resp)
    assert 'name="confirm_contact"' in page_text(resp)
    assert records(event)["+61 2 5550 1234"].match == "unmatched"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Registration)) == 4
    resp = client.post(_walk_in_url(event, phone), data=data | {"confirm_contact": "y"})
    assert resp.status_code == 302
    reg = db.session.scalar(sa.select(Registration).where(Registration.email == "ana.lima@rso.example"))
    assert reg.contact_id == ana.id and reg.organisation_id == office.id and reg.sector == "support_office"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Contact)) == 4 + 2  # nobody new


def test_zoom_country_suggests_the_member_government(webinar_event, make_user, client, login):
    event, _regs = webinar_event
    organiser = make_user("organiser")
    thailand = member_government("Thailand", "TH")
    services.import_file(event, WEBINAR.name, WEBINAR.read_bytes(), actor=organiser)
    host = records(event)["Support Office Host"]
    assert host.country == "Thailand" and records(event)["Siosaia Tupou"].country == "Tonga"
    login(organiser)
    page = page_text(client.get(_walk_in_url(event, host)))
    assert "joined from Thailand" in page
    assert f'<option selected value="{thailand.id}">Thailand</option>' in page
    assert '<option selected value="TH">Thailand</option>' in page
    # A country that is no member suggests none.
    dana = records(event)["Dana Speaker (Platform Co.)"]
    assert dana.country == "Singapore"
    assert services.country_suggestion("Singapore") == ("SG", None)
    page = page_text(client.get(_walk_in_url(event, dana)))
    assert f'<option selected value="{thailand.id}">' not in page


@pytest.mark.parametrize(
    "fields,status,message",
    [
        ({"organisation_name": "M" * 2000, "sector": "civil_society"}, 422, "has 2000 characters; at most 200"),
        ({"organisation_name": "Pirate Radio", "sector": "pirates"}, 422, "Unknown sector: pirates"),
        (
            {"organisation_name": "Atlantis Ministry", "sector": "civil_society", "country_code": "Atlantis"},
            422,
            "Unknown country: Atlantis",
        ),
        (
            {"organisation_name": "Acme Ltd", "sector": "private_sector", "member_government_id": "MEMBER"},
            422,
            "Only a government agency belongs to a member government",
        ),
        (
            {"email": "taken@rso.example", "organisation_name": "Anything", "sector": "civil_society"},
            409,
            "This address belongs to Taken Person",
        ),
        ({"organisation_id": "999999"}, 422, "Unknown organisation"),
    ],
)
def test_walk_in_bad_input_says_why_and_saves_nothing(webinar_event, make_user, client, login, fields, status, message):
    event, _regs = webinar_event
    organiser = make_user("organiser")
    member = member_government("Tonga", "TO")
    db.session.add(Contact(name="Taken Person", email="taken@rso.example"))
    db.session.commit()
    services.import_file(event, WEBINAR.name, WEBINAR.read_bytes(), actor=organiser)
    phone = records(event)["+61 2 5550 1234"]

    def counts():
        return [
            db.session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (Organisation, Contact, Registration, AuditEntry)
        ]

    before = counts()
    login(organiser)
    data = {"name": "Phone caller", "email": "caller@gov.example"} | fields
    if data.get("member_government_id") == "MEMBER":
        data["member_government_id"] = str(member.id)
    resp = client.post(_walk_in_url(event, phone), data=data)
    assert resp.status_code == status
    assert message in page_text(resp)
    assert counts() == before
    assert records(event)["+61 2 5550 1234"].match == "unmatched"


def test_attended_rows_without_an_organisation_are_gaps(webinar_event, make_user):
    event, regs = webinar_event
    organiser = make_user("organiser")
    services.import_file(event, WEBINAR.name, WEBINAR.read_bytes(), actor=organiser)
    tonga = member_government("Tonga", "TO")
    agency = Organisation(name="Tonga Police", sector="member_government", member_government_id=tonga.id)
    db.session.add(agency)
    db.session.flush()
    tupou = db.session.get(Registration, regs["tupou"].id)
    tupou.organisation_id, tupou.sector, tupou.member_government_id = agency.id, "member_government", tonga.id
    lan = db.session.get(Registration, regs["lan"].id)
    lan.organisation_id, lan.sector = agency.id, "member_government"  # an agency, but no member government
    db.session.commit()
    gaps = {g.label.split(",")[0]: g for g in collect_gaps() if g.kind == "attendance"}
    # Attended and unmatched: host, panelist, phone caller; Lan: no member government. Tupou is
    # complete; Somchai did not attend (6 minutes); Maria did not come.
    assert set(gaps) == {
        "Support Office Host <host@rso.example>",
        "Dana Speaker (Platform Co.) <dana@platform.example>",
        "+61 2 5550 1234",
        "Nguyễn Thị Lan <lan.nguyen@ngo.example>",
    }
    assert "member government" in gaps["Nguyễn Thị Lan <lan.nguyen@ngo.example>"].problem
    phone = gaps["+61 2 5550 1234"]
    assert "matches no registration" in phone.problem
    assert phone.url.endswith(f"/events/{event.id}/attendance#row-{phone.id}")


@pytest.mark.parametrize(
    "path,tz",
    [
        (WEBINAR, "Asia/Bangkok"),
        (MEETING, "Asia/Kuala_Lumpur"),
        (SAMPLES / "teams-attendance-report.csv", "Asia/Seoul"),
        (FIXTURES / "teams-legacy.csv", "Asia/Seoul"),
    ],
)
def test_the_parsed_report_kept_with_the_upload_is_the_report(app, path, tz):
    """What the upload keeps (JSON) gives back exactly the people the parser read."""
    with app.test_request_context():
        report = parsers.parse_report(path.read_bytes(), tz=tz)
        people = parsers.merge_people(report.sessions)
        stored = json.loads(json.dumps([staging.dump_person(p) for p in people]))
        description = json.loads(json.dumps(staging.describe(report)))
        again = staging.report_of(description)
    assert [staging.load_person(entry) for entry in stored] == people
    assert (again.format, again.rows_read, again.date_order, again.timezone, again.meta) == (
        report.format,
        report.rows_read,
        report.date_order,
        report.timezone,
        report.meta,
    )


def test_the_preview_follows_changes_made_after_the_upload(webinar_event, make_user, client, login):
    """The effects are kept with the upload for the event as it was; when the event changes (an
    import undone, a threshold changed), the next view computes them again from the kept people."""
    event, _regs = webinar_event
    organiser = make_user("organiser")
    _p, first, _e = services.import_file(event, "webinar.csv", WEBINAR.read_bytes(), actor=organiser)
    upload, _preview = uploads.stage_upload(event, "meeting.csv", SECOND_REPORT, actor=organiser)
    login(organiser)
    url = f"/events/{event.id}/attendance/import/{upload.id}"
    assert "If you confirm: attended 5 -> 7; 3 new, 0 removed" in page_text(client.get(url))
    services.undo_import(event, first.id, actor=organiser)
    page = page_text(client.get(url))
    assert "If you confirm: attended 0 -> 3; 4 new, 0 removed" in page
    assert "Or replace the earlier imports" not in page  # nothing left to replace
    services.set_threshold(event, 30, actor=organiser)
    assert "If you confirm: attended 0 -> 2; 4 new, 0 removed" in page_text(client.get(url))
    client.post(url + "/confirm")
    assert services.event_counts(event).attended == 2
