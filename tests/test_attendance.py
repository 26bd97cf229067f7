"""Attendance import, matching, resolution, threshold, check-in: services, pages and the CLI."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from webinar_mgr.attendance import services
from webinar_mgr.attendance.models import AttendanceImport, AttendanceRecord
from webinar_mgr.audit.models import AuditEntry
from webinar_mgr.core.models import PendingUpload
from webinar_mgr.directory.models import Contact
from webinar_mgr.errors import Conflict, DomainError, NotFound
from webinar_mgr.events.models import Event, EventKind
from webinar_mgr.extensions import db
from webinar_mgr.registrations.models import Registration

FIXTURES = Path(__file__).parent / "fixtures" / "attendance"
SAMPLES = FIXTURES / "samples"  # the project's shared samples (../shared/samples/attendance), copied in
WEBINAR = SAMPLES / "zoom-webinar-attendee-report.csv"
MEETING = SAMPLES / "zoom-meeting-participants.csv"


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
    db.session.expire_all()
    return {
        r.name: r
        for r in db.session.scalars(sa.select(AttendanceRecord).where(AttendanceRecord.event_id == event.id)).unique()
    }


# Services ---------------------------------------------------------------------------------------


def test_import_matches_by_email_then_name_and_applies_threshold(webinar_event, make_user):
    event, regs = webinar_event
    organiser = make_user("organiser")
    preview, imp = services.import_file(event, WEBINAR.name, WEBINAR.read_bytes(), actor=organiser)
    s = preview.summary()
    assert s["rows_read"] == 8 and s["people"] == 6
    assert s["matched_by_email"] == 2 and s["matched_by_name"] == 1 and s["unmatched"] == 3
    # threshold 10: everyone but Somchai (6 min)
    assert s["attended"] == 5 and s["hosts_and_panelists"] == 2
    recs = records(event)
    assert recs["Siosaia Tupou"].registration_id == regs["tupou"].id and recs["Siosaia Tupou"].match == "email"
    assert recs["Siosaia Tupou"].minutes == 116 and recs["Siosaia Tupou"].attended
    assert [x["line"] for x in recs["Siosaia Tupou"].sessions] == [13, 14]
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
    preview, _imp = services.import_file(event, "m.csv", MEETING.read_bytes(), dry_run=True)
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


def test_reimport_replaces_the_earlier_import_but_keeps_checkins(webinar_event, make_user):
    event, regs = webinar_event
    organiser = make_user("organiser")
    services.checkin(event, regs["maria"].id, actor=organiser)
    _p, first = services.import_file(event, "one.csv", WEBINAR.read_bytes(), actor=organiser)
    assert first.filename == "one.csv"
    _p, second = services.import_file(event, "two.csv", WEBINAR.read_bytes(), actor=organiser)
    db.session.expire_all()
    assert [i.filename for i in db.session.scalars(sa.select(AttendanceImport))] == ["two.csv"]
    rows = db.session.scalars(sa.select(AttendanceRecord).where(AttendanceRecord.event_id == event.id)).unique().all()
    assert {r.import_id for r in rows if r.source == "import"} == {second.id}
    assert len([r for r in rows if r.source == "import"]) == 6
    assert [r.name for r in rows if r.source == "checkin"] == ["Maria Santos"]


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
    """A database error half-way through the save leaves the earlier import in place."""
    event, _ = webinar_event
    organiser = make_user("organiser")
    services.import_file(event, "good.csv", WEBINAR.read_bytes(), actor=organiser)
    preview = services.analyse(event, WEBINAR.read_bytes())
    preview.people[-1].person.minutes = -5  # violates minutes >= 0 in the database
    with pytest.raises(sa.exc.IntegrityError):
        try:
            services._save(event, preview, "broken.csv", actor=organiser)
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AttendanceImport)) == 1
    assert {r.import_id is not None for r in records(event).values()} == {True}
    assert len(records(event)) == 6


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
        event, recs["Support Office Host"].id, email="host@rso.example", name="Support Office Host", actor=organiser
    )
    assert reg.status == "confirmed" and reg.event_id == event.id
    assert db.session.scalar(sa.select(Contact).where(Contact.email == "host@rso.example")) is not None
    services.ignore_record(event, recs["Dana Speaker (Platform Co.)"].id, actor=organiser)
    recs = records(event)
    assert recs["+61 2 5550 1234"].match == "linked" and recs["+61 2 5550 1234"].registration_id == regs["maria"].id
    assert recs["Support Office Host"].match == "walk_in" and recs["Support Office Host"].registration_id == reg.id
    assert recs["Dana Speaker (Platform Co.)"].match == "ignored" and not recs["Dana Speaker (Platform Co.)"].attended
    imp = services.current_import(event)
    assert (imp.matched, imp.unmatched, imp.attended) == (5, 0, 4)
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
    upload, _preview = services.stage_upload(event, WEBINAR.name, WEBINAR.read_bytes(), actor=first)
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
    upload, _preview = services.stage_upload(event, WEBINAR.name, WEBINAR.read_bytes(), actor=organiser)
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
