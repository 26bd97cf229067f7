"""Personal data (issue 18): the notice and its versions, consent records, retention and the purge,
a person's export and erasure (admin pages, the command line, the manage link).

The co-chairs' figures are compared before and after with the review's own service on the review
dataset (tests/review_dataset.py): every table of the period and event reviews, cell by cell.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from tests.factories import registrant_data
from tests.review_dataset import NOW, build_dataset
from webinar_mgr import clock
from webinar_mgr.attendance.models import AttendanceRecord
from webinar_mgr.audit import services as audit
from webinar_mgr.audit.models import AuditEntry
from webinar_mgr.commitments.models import Commitment
from webinar_mgr.core.models import PendingUpload
from webinar_mgr.directory.models import Contact
from webinar_mgr.errors import Conflict, NotFound, ValidationFailed
from webinar_mgr.extensions import db
from webinar_mgr.mail import deferred
from webinar_mgr.mail.models import OutboxMessage
from webinar_mgr.privacy import people, retention, services
from webinar_mgr.privacy.models import ConsentRecord, RetentionPeriod
from webinar_mgr.registrations import services as registrations
from webinar_mgr.registrations.manage_links import make_manage_token
from webinar_mgr.registrations.models import CalendarFeed, Registration
from webinar_mgr.reports import services as review

EMAIL = "thai1@example.org"
NAME = "Person thai1"


@pytest.fixture
def data(app):
    return build_dataset()


@pytest.fixture
def admin(make_user):
    return make_user("admin", email="dpo@example.org", name="Data Officer")


def figures(data) -> dict:
    """Every figure of the co-chairs' review: the period reviews' and each event review's tables."""
    out = {}
    for start, end in ((date(2026, 1, 1), date(2026, 6, 30)), (date(2025, 1, 1), date(2025, 12, 31))):
        r = review.period_review(start, end, now=NOW)
        out[f"period {start}"] = {k: t.rows for k, t in r.tables.items()}
        out[f"total {start}"] = r.total.cells()
        out[f"commitments {start}"] = r.commitment_totals
    for key in ("e0", "e1", "e2", "e3"):
        r = review.event_review(data[key].id, today=NOW.date())
        out[key] = {k: t.rows for k, t in r.tables.items()}
        out[f"{key} funnel"] = r.funnel.cells()
    return out


def every_text_cell():
    """(table, column, value) for every text and JSON cell of every table in the metadata."""
    for table in db.metadata.sorted_tables:
        cols = [c for c in table.columns if isinstance(c.type, sa.String | sa.Text | sa.JSON)]
        if not cols:
            continue
        for row in db.session.execute(sa.select(*cols)).all():
            for col, value in zip(cols, row, strict=True):
                if value is not None:
                    yield (
                        table.name,
                        col.name,
                        value if isinstance(value, str) else json.dumps(value, ensure_ascii=False),
                    )


def traces(*needles: str) -> list[tuple[str, str]]:
    patterns = [re.compile(rf"(?<!\w){re.escape(n)}(?!\w)", re.IGNORECASE) for n in needles]
    return [(t, c) for t, c, v in every_text_cell() if any(p.search(v) for p in patterns)]


def add_traces_of_thai1(data):
    """Copies of thai1's address and name where a person's data ends up besides the obvious rows."""
    thai1 = db.session.scalar(sa.select(Contact).where(Contact.email == EMAIL))
    db.session.add(OutboxMessage(to_addr=EMAIL, to_name=NAME, subject="Your registration", body_text=f"Dear {NAME}"))
    db.session.add(CalendarFeed(email=EMAIL))
    audit.record(None, "registration.update", object_type="Registration", object_id=1, summary=f"{EMAIL}: details")
    c = db.session.scalar(sa.select(Commitment).where(Commitment.contact_id == thai1.id))
    c.description = f"A post by {NAME} on safe recruitment"
    reg = db.session.scalar(
        sa.select(Registration).where(Registration.email == EMAIL, Registration.event_id == data["e3"].id)
    )
    reg.accessibility_needs = "Captions"
    rec = db.session.scalar(sa.select(AttendanceRecord).where(AttendanceRecord.registration_id == reg.id))
    rec.email = EMAIL
    services.record_consent(thai1.id, "register", True, source="registration", registration_id=reg.id)
    # Someone else's mail, which must survive.
    db.session.add(OutboxMessage(to_addr="thai2@example.org", subject="Hello", body_text="Dear Person thai2"))
    db.session.commit()
    return thai1


# Export ------------------------------------------------------------------------------------------


def test_export_holds_every_record_of_the_person_and_nobody_elses(data):
    thai1 = add_traces_of_thai1(data)
    person = people.find_person("  THAI1@example.org ")
    exported = people.export_data(person)
    text = json.dumps(exported)

    regs = db.session.scalars(sa.select(Registration.id).where(Registration.contact_id == thai1.id)).all()
    assert sorted(r["id"] for r in exported["registrations"]) == sorted(regs) and len(regs) == 4
    records = db.session.scalars(sa.select(AttendanceRecord.id).where(AttendanceRecord.registration_id.in_(regs))).all()
    assert sorted(a["id"] for a in exported["attendance"]) == sorted(records) and len(records) == 4
    pledges = db.session.scalars(sa.select(Commitment.id).where(Commitment.contact_id == thai1.id)).all()
    assert sorted(c["id"] for c in exported["commitments"]) == sorted(pledges) and len(pledges) == 2
    assert [i["event"] for i in exported["invitations"]] == ["Technology and trafficking"]
    assert exported["contact"]["email"] == EMAIL and exported["contact"]["organisation"].endswith("(Thailand)")
    assert [m["to_addr"] for m in exported["mails"]] == [EMAIL]
    assert len(exported["consents"]) == 1 and exported["consents"][0]["notice_version"] == 0
    assert len(exported["calendar_feeds"]) == 1 and "token" not in exported["calendar_feeds"][0]
    assert "nonce" not in exported["registrations"][0]
    # Nobody else's: no other person's address or name anywhere in it.
    for other in ("thai2", "phil1", "viet1", "fiji1", "priv1", "civ1", "io1"):
        assert f"{other}@example.org" not in text
        assert f"Person {other}" not in text


def test_export_and_erase_of_an_unknown_or_bad_address(data, admin):
    with pytest.raises(NotFound, match="Nothing is held about nobody@example.org"):
        people.require_person("nobody@example.org")
    with pytest.raises(ValidationFailed, match="valid email"):
        people.find_person("not an address")
    with pytest.raises(NotFound):
        people.erase("nobody@example.org", actor=admin)
    assert (
        db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(AuditEntry.action.like("privacy.%")))
        == 0
    )


# Erase -------------------------------------------------------------------------------------------


def test_erase_leaves_no_trace_in_any_text_column_and_the_counts_stay(data, admin):
    add_traces_of_thai1(data)
    before = figures(data)
    assert len(traces(EMAIL, NAME)) >= 8  # the test looks where the traces are

    result = people.erase(EMAIL, actor=admin)

    assert result.counts["registrations"] == 4 and result.counts["attendance"] == 4 and result.counts["mails"] == 1
    assert traces(EMAIL, NAME) == []
    assert figures(data) == before
    # Others are untouched; the mail to thai2 is still queued.
    assert db.session.scalar(sa.select(Contact.name).where(Contact.email == "thai2@example.org")) == "Person thai2"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CalendarFeed)) == 0
    # Audited without the data.
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == people.ERASE_ACTION))
    assert entry.actor_email == admin.email and "registrations 4" in entry.summary
    assert "thai1" not in (entry.summary + (entry.object_id or ""))
    # Asked twice: a clear message, nothing more changed.
    with pytest.raises(Conflict, match="already erased on"):
        people.erase(EMAIL, actor=admin)
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(AuditEntry).where(AuditEntry.action == people.ERASE_ACTION)
        )
        == 1
    )


def test_erase_finds_a_name_in_any_script_inside_json(data, admin):
    thai = "สมชาย ใจดี"
    reg = db.session.scalar(sa.select(Registration).where(Registration.email == "thai2@example.org"))
    reg.name = thai
    audit.record(None, "registration.update", reg, summary="details", changes={"name": ["Person thai2", thai]})
    db.session.commit()
    assert ("audit_log", "changes") in traces(thai)
    people.erase("thai2@example.org", actor=admin)
    assert traces(thai, "thai2@example.org", "Person thai2") == []


def test_erase_is_refused_while_an_upload_waiting_for_confirmation_lists_the_person(data, admin):
    db.session.add(
        PendingUpload(kind="attendance", filename="zoom.csv", content=f"Name,Email\n{NAME},{EMAIL}\n".encode(), meta={})
    )
    db.session.commit()
    with pytest.raises(Conflict, match="zoom.csv"):
        people.erase(EMAIL, actor=admin)
    assert (
        db.session.scalar(sa.select(sa.func.count()).select_from(Registration).where(Registration.email == EMAIL)) == 4
    )


def test_admin_pages_find_export_and_erase(client, login, admin, make_user, data):
    organiser = make_user("organiser", email="o@example.org")
    login(organiser)
    assert client.get("/admin/privacy").status_code == 403
    client.post("/logout")
    login(admin)
    page = client.get("/admin/privacy")
    assert page.status_code == 200 and "Retention periods" in page.get_data(as_text=True)

    found = client.post("/admin/privacy/person", data={"email": EMAIL})
    assert found.status_code == 200 and "Registrations: 4" in found.get_data(as_text=True)
    missing = client.post("/admin/privacy/person", data={"email": "nobody@example.org"})
    assert missing.status_code == 404 and "Nothing is held about nobody@example.org" in missing.get_data(as_text=True)

    as_json = client.post("/admin/privacy/person/export", data={"email": EMAIL, "format": "json"})
    assert as_json.status_code == 200 and as_json.mimetype == "application/json"
    assert len(as_json.get_json()["registrations"]) == 4
    as_html = client.post("/admin/privacy/person/export", data={"email": EMAIL, "format": "html"})
    assert as_html.status_code == 200 and "Technology and trafficking" in as_html.get_data(as_text=True)

    wrong = client.post("/admin/privacy/person/erase", data={"email": EMAIL, "confirm_email": "thai2@example.org"})
    assert wrong.status_code == 400 and "The two addresses differ" in wrong.get_data(as_text=True)
    assert (
        db.session.scalar(sa.select(sa.func.count()).select_from(Registration).where(Registration.email == EMAIL)) == 4
    )

    done = client.post(
        "/admin/privacy/person/erase", data={"email": EMAIL, "confirm_email": EMAIL}, follow_redirects=True
    )
    assert done.status_code == 200 and "is erased: 4 registration(s)" in done.get_data(as_text=True)
    again = client.post("/admin/privacy/person/erase", data={"email": EMAIL, "confirm_email": EMAIL})
    assert again.status_code == 409 and "already erased on" in again.get_data(as_text=True)


# Purge -------------------------------------------------------------------------------------------


def test_purge_by_period_anonymises_guests_and_keeps_every_figure(data):
    db.session.add_all(
        [
            RetentionPeriod(kind="registrations", days=100),  # E1 (15 Jan) is past it, E3 (20 May) is not
            RetentionPeriod(kind="accessibility", days=30),
            RetentionPeriod(kind="mail", days=30),
            RetentionPeriod(kind="audit", days=365),
            RetentionPeriod(kind="uploads", days=7),
        ]
    )
    e3_reg = db.session.scalar(sa.select(Registration).where(Registration.event_id == data["e3"].id).limit(1))
    e3_reg.accessibility_needs = "Sign language"
    db.session.add_all(
        [
            OutboxMessage(
                to_addr="a@example.org", subject="s", body_text="old", status="sent", sent_at=NOW - timedelta(days=40)
            ),
            OutboxMessage(
                to_addr="b@example.org", subject="s", body_text="new", status="sent", sent_at=NOW - timedelta(days=5)
            ),
            OutboxMessage(to_addr="c@example.org", subject="s", body_text="queued", status="queued"),
            PendingUpload(
                kind="attendance", filename="old.csv", content=b"x", meta={}, created_at=NOW - timedelta(days=9)
            ),
        ]
    )
    audit.record(None, "old.thing", object_type="X")
    db.session.flush()
    db.session.execute(sa.update(AuditEntry).values(at=NOW - timedelta(days=400)))
    db.session.execute(sa.update(Contact).values(created_at=NOW - timedelta(days=600)))
    db.session.commit()
    before = figures(data)

    dry = retention.purge(dry_run=True, now=NOW)
    assert dry.counts == {
        "registrations": 2,  # E1's guests priv1 and io1 (E0 and E2 had officials only; E3 is recent)
        "attendance": 3,  # priv1's, io1's and the unlinked "Unknown caller" at E1
        "contacts": 2,  # priv1 and io1: no later registration, no account, not focal points
        "accessibility": 1,
        "uploads": 1,
        "audit": 1,
        "mail": 1,
    }
    assert (
        db.session.scalar(sa.select(Registration.name).where(Registration.email == "priv1@example.org"))
        == "Person priv1"
    )

    done = retention.purge(now=NOW)
    assert done.counts == dry.counts and done.skipped == []
    guests = db.session.scalars(
        sa.select(Registration.name).where(
            Registration.event_id == data["e1"].id, Registration.sector != "member_government"
        )
    ).all()
    assert guests and set(guests) == {people.ERASED_NAME}
    officials = db.session.scalars(
        sa.select(Registration.name).where(
            Registration.event_id == data["e1"].id, Registration.sector == "member_government"
        )
    ).all()
    assert people.ERASED_NAME not in officials and "Person thai1" in officials
    assert (
        db.session.scalar(sa.select(sa.func.count()).select_from(Contact).where(Contact.name == people.ERASED_NAME))
        == 2
    )
    assert traces("priv1@example.org", "Person priv1", "io1@example.org", "Person io1") == []
    assert db.session.get(Registration, e3_reg.id).accessibility_needs is None
    bodies = dict(db.session.execute(sa.select(OutboxMessage.to_addr, OutboxMessage.body_text)).all())
    assert bodies == {"a@example.org": retention.REMOVED_MAIL_TEXT, "b@example.org": "new", "c@example.org": "queued"}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PendingUpload)) == 0
    assert (
        db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(AuditEntry.action == "old.thing"))
        == 0
    )
    assert figures(data) == before
    # Nothing more to do the second time.
    assert retention.purge(now=NOW).total == 0


def test_purge_leaves_an_event_alone_while_its_attendance_import_is_in_progress(app, data):
    db.session.add(RetentionPeriod(kind="registrations", days=100))
    db.session.add(
        PendingUpload(kind="attendance", filename="zoom.csv", content=b"x", meta={"event_id": data["e1"].id})
    )
    db.session.commit()
    result = retention.purge(now=NOW)
    assert len(result.skipped) == 1 and "attendance import is in progress" in result.skipped[0]
    assert (
        db.session.scalar(sa.select(Registration.name).where(Registration.email == "priv1@example.org"))
        == "Person priv1"
    )
    # The command line says so and exits non-zero.
    clock.freeze(NOW)
    out = app.test_cli_runner().invoke(args=["privacy", "purge"])
    assert out.exit_code == 3 and "attendance import is in progress" in out.output


# Retention settings ------------------------------------------------------------------------------


def test_retention_refuses_zero_and_a_hundred_years_and_saves_nothing(app, admin):
    with pytest.raises(ValidationFailed) as zero:
        services.set_retention({"mail": "0", "audit": "400"}, actor=admin)
    assert "at least 1 day" in zero.value.field_errors["mail"][0]
    with pytest.raises(ValidationFailed) as century:
        services.set_retention({"registrations": str(100 * 365)}, actor=admin)
    assert "at most 3650 days" in century.value.field_errors["registrations"][0]
    with pytest.raises(ValidationFailed) as words:
        services.set_retention({"audit": "two years"}, actor=admin)
    assert "whole number of days" in words.value.field_errors["audit"][0]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RetentionPeriod)) == 0
    assert services.set_retention({"audit": "400"}, actor=admin)["audit"] == 400
    assert services.retention_days()["audit"] == 400


def test_retention_form_shows_the_messages(client, login, admin):
    login(admin)
    values = {"registrations": "36500", "accessibility": "0", "uploads": "7", "audit": "730", "mail": "30"}
    resp = client.post("/admin/privacy/retention", data=values)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "Nothing was saved" in page and "at most 3650 days" in page and "at least 1 day" in page
    values.update(registrations="1095", accessibility="14")
    assert client.post("/admin/privacy/retention", data=values).status_code == 302
    assert services.retention_days()["accessibility"] == 14
    notice = client.get("/privacy").get_data(as_text=True)
    assert "14 days" in notice


# Consent and the notice --------------------------------------------------------------------------


def test_consent_records_name_the_notice_version(app, admin):
    from tests.factories import make_event_row

    clock.freeze(NOW)
    event = make_event_row(starts_at=NOW + timedelta(days=10), ends_at=NOW + timedelta(days=10, hours=2))
    first = registrations.register(event.id, registrant_data(name="Ana Cruz", email="ana@example.org"))
    services.save_notice("We keep your name.\n\nWrite to us.", actor=admin)
    with pytest.raises(ValidationFailed) as same:
        services.save_notice("We keep your name.\n\nWrite to us.", actor=admin)
    assert "same as version 1" in same.value.field_errors["body"][0]
    services.save_notice("We keep your name and organisation.", actor=admin)
    second = registrations.register(event.id, registrant_data(name="Ben Ito", email="ben@example.org"))
    versions = dict(
        db.session.execute(
            sa.select(ConsentRecord.registration_id, ConsentRecord.notice_version).where(
                ConsentRecord.purpose == "register"
            )
        ).all()
    )
    assert versions == {first.id: 0, second.id: 2}
    assert services.current_notice().version == 2
    # The answer about public pages names the version in its audit line (read in Python, not in
    # the INSERT as a registration's consent is)
    services.set_public_consent(db.session.get(Registration, second.id), True)
    line = db.session.scalars(sa.select(AuditEntry.summary).where(AuditEntry.action == "privacy.consent")).one()
    assert line == "public pages: granted (notice version 2)"


def test_the_notice_page_and_the_forms_link_it(client, app, admin):
    from tests.factories import make_event_row

    clock.freeze(NOW)
    event = make_event_row()
    form = client.get(f"/events/{event.id}/register").get_data(as_text=True)
    assert form.count('href="/privacy"') == 2  # beside the consent box, and in the footer
    registrations.register(event.id, registrant_data(name="Ana Cruz", email="ana@example.org"))
    deferred.render_pending()  # the worker writes the confirmation (issue 19)
    mail = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.to_addr == "ana@example.org"))
    assert "Privacy notice: http://localhost/privacy" in mail.body_text
    assert 'href="http://localhost/privacy"' in (mail.body_html or "")
    page = client.get("/privacy")
    assert page.status_code == 200 and "How long we keep it" in page.get_data(as_text=True)
    services.save_notice("Our own words about your data.", actor=admin)
    page = client.get("/privacy").get_data(as_text=True)
    assert "Our own words about your data." in page and "Version 1" in page


def test_a_guest_gets_their_own_data_and_chooses_about_public_pages(client, app):
    from tests.factories import make_event_row

    clock.freeze(NOW)
    event = make_event_row()
    reg = registrations.register(event.id, registrant_data(name="Ana Cruz", email="ana@example.org"))
    registrations.register(event.id, registrant_data(name="Ben Ito", email="ben@example.org"))
    c = Commitment(
        event_id=event.id,
        contact_id=reg.contact_id,
        kind="campaign",
        description="x",
        target_date=date(2027, 1, 1),
        public=True,
    )
    db.session.add(c)
    db.session.commit()
    token = make_manage_token(reg)
    manage = client.get(f"/registrations/manage/{token}").get_data(as_text=True)
    assert f"/privacy/my-data/{token}" in manage

    mine = client.get(f"/privacy/my-data/{token}")
    assert mine.status_code == 200 and "ana@example.org" in mine.get_data(as_text=True)
    copy = client.post(f"/privacy/my-data/{token}/export", data={"format": "json", "csrf_token": ""})
    assert copy.status_code == 200
    body = copy.get_json()
    assert [r["email"] for r in body["registrations"]] == ["ana@example.org"]
    assert "ben@example.org" not in copy.get_data(as_text=True)
    bad = client.post(f"/privacy/my-data/{token}/export", data={"format": "pdf"})
    assert bad.status_code == 422

    assert client.post(f"/privacy/my-data/{token}/public", data={"public": "y"}).status_code == 302
    assert services.may_publish(reg.contact_id)
    assert client.post(f"/privacy/my-data/{token}/public", data={}).status_code == 302
    assert not services.may_publish(reg.contact_id)
    assert db.session.get(Commitment, c.id).public is False
    answers = db.session.scalars(
        sa.select(ConsentRecord.granted).where(ConsentRecord.purpose == "public").order_by(ConsentRecord.id)
    ).all()
    assert answers == [True, False]
    assert client.get("/privacy/my-data/not-a-token").status_code in (404, 422)


# Command line ------------------------------------------------------------------------------------


def test_the_commands(app, data, tmp_path):
    runner = app.test_cli_runner()
    unknown = runner.invoke(args=["privacy", "export", "--email", "nobody@example.org"])
    assert unknown.exit_code == 1 and "Nothing is held about nobody@example.org" in unknown.output
    out = tmp_path / "thai1.json"
    exported = runner.invoke(args=["privacy", "export", "--email", EMAIL, "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    assert len(json.loads(out.read_text())["registrations"]) == 4

    refused = runner.invoke(args=["privacy", "erase", "--email", EMAIL], input="n\n")
    assert refused.exit_code == 1 and "Nothing was erased" in refused.output
    before = figures(data)
    erased = runner.invoke(args=["privacy", "erase", "--email", EMAIL, "--yes"])
    assert erased.exit_code == 0 and "Erased thai1@example.org: 4 registration(s)" in erased.output
    assert figures(data) == before
    twice = runner.invoke(args=["privacy", "erase", "--email", EMAIL, "--yes"])
    assert twice.exit_code == 1 and "already erased on" in twice.output

    dry = runner.invoke(args=["privacy", "purge", "--dry-run"])
    assert dry.exit_code == 0 and dry.output.startswith("Would purge: registrations")


def test_the_worker_purges_once_a_day(app, mailbox):
    clock.freeze(NOW)
    db.session.add(
        OutboxMessage(
            to_addr="a@example.org", subject="s", body_text="old", status="sent", sent_at=NOW - timedelta(days=40)
        )
    )
    db.session.commit()
    runner = app.test_cli_runner()
    first = runner.invoke(args=["worker", "--once"])
    assert first.exit_code == 0 and "privacy-purge=1" in first.output
    assert db.session.scalar(sa.select(OutboxMessage.body_text)) == retention.REMOVED_MAIL_TEXT
    db.session.add(
        OutboxMessage(
            to_addr="b@example.org", subject="s", body_text="old", status="sent", sent_at=NOW - timedelta(days=40)
        )
    )
    db.session.commit()
    again = runner.invoke(args=["worker", "--once"])  # the same day: not again
    assert "privacy-purge=0" in again.output
    clock.advance(timedelta(days=1))
    later = runner.invoke(args=["worker", "--once"])
    assert "privacy-purge=1" in later.output
