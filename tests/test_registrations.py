"""Registration: audience, window, capacity and waiting list, approval, cancellation, manage
links, mails with calendar entries, updates, exports, the personal feed. Real SMTP (mailbox)."""

from __future__ import annotations

import io
import os
import re
import threading
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from icalendar import Calendar

from tests.factories import NOW, make_event_row, registrant_data
from webinar_mgr import clock
from webinar_mgr.directory.models import Organisation
from webinar_mgr.errors import Conflict, NotAllowed, NotFound, ValidationFailed
from webinar_mgr.events.models import Event
from webinar_mgr.extensions import db
from webinar_mgr.mail import services as mail
from webinar_mgr.mail.models import OutboxMessage
from webinar_mgr.registrations import feeds, manage_links, services
from webinar_mgr.registrations.models import CalendarFeed, Registration


def ics_of(msg):
    """The calendar entry of a mail: its text/calendar alternative (the .ics attached beside it is
    the same entry; tests/test_mail_content.py checks the structure)."""
    for part in msg.walk():
        if part.get_content_type() == "text/calendar":
            return Calendar.from_ical(part.get_content()), part
    return None, None


def links(msg) -> list[str]:
    body = msg.get_body(("plain",)).get_content()
    return re.findall(r"https?://\S+", body)


@pytest.fixture(autouse=True)
def frozen(app):
    clock.freeze(NOW)
    yield
    clock.unfreeze()


def test_guest_registers_and_gets_confirmation_with_calendar_entry(app, mailbox):
    event = make_event_row()
    reg = services.register(event.id, registrant_data(email="Ana.Cruz@Example.org"))
    assert reg.status == "confirmed" and reg.email == "ana.cruz@example.org"
    assert reg.contact.email == "ana.cruz@example.org"  # the guest became a contact
    assert mail.deliver_due()["sent"] == 1
    msg = mailbox.to("ana.cruz@example.org")[0]
    assert "confirmed" in msg["Subject"].lower()
    cal, part = ics_of(msg)
    assert cal["METHOD"] == "REQUEST" and 'method="REQUEST"' in part["Content-Type"]
    vevent = cal.walk("VEVENT")[0]
    assert str(vevent["UID"]) == event.uid
    assert str(vevent["ATTENDEE"]).lower() == "mailto:ana.cruz@example.org"
    body = msg.get_body(("plain",)).get_content()
    assert "https://meet.example.org/j/123" in body
    assert "Asia/Manila" in body and "Asia/Bangkok" in body  # reader's zone, event's zone beside it
    assert f"/events/{event.id}/agenda.pdf" in body
    manage = [u for u in links(msg) if "/registrations/manage/" in u][0]
    token = manage.rsplit("/", 1)[1]
    assert manage_links.registration_from_token(token).id == reg.id


def test_capacity_waiting_list_and_promotion_in_order(app, mailbox):
    event = make_event_row(capacity=2)
    a = services.register(event.id, registrant_data("A", "a@example.org"))
    b = services.register(event.id, registrant_data("B", "b@example.org"))
    c = services.register(event.id, registrant_data("C", "c@example.org"))
    clock.advance(timedelta(minutes=1))
    d = services.register(event.id, registrant_data("D", "d@example.org"))
    assert [r.status for r in (a, b, c, d)] == ["confirmed", "confirmed", "waitlisted", "waitlisted"]
    mail.deliver_due()
    mailbox.clear()
    services.cancel(db.session.get(Registration, a.id))
    db.session.expire_all()
    assert db.session.get(Registration, c.id).status == "confirmed"  # first on the list
    assert db.session.get(Registration, d.id).status == "waitlisted"
    mail.deliver_due()
    cancel_msg = mailbox.to("a@example.org")[0]
    cal, _ = ics_of(cancel_msg)
    assert cal["METHOD"] == "CANCEL"
    promoted = mailbox.to("c@example.org")[0]
    assert "seat" in promoted["Subject"].lower()
    assert ics_of(promoted)[0]["METHOD"] == "REQUEST"


def test_same_email_other_case_is_refused_and_nothing_written(app, client):
    event = make_event_row()
    services.register(event.id, registrant_data(email="ana@example.org"))
    with pytest.raises(Conflict, match="already registered"):
        services.register(event.id, registrant_data(email="ANA@Example.ORG"))
    resp = client.post(
        f"/events/{event.id}/register",
        data={
            "name": "Ana",
            "email": "Ana@EXAMPLE.org",
            "timezone": "Asia/Manila",
            "consent": "y",
            "organisation_name": "Migrant Care Network",
            "sector": "civil_society",
        },
    )
    assert resp.status_code == 409
    assert "already registered" in resp.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Registration)) == 1


def test_registration_window(app, client):
    event = make_event_row(registration_closes_at=NOW - timedelta(hours=1))
    with pytest.raises(ValidationFailed, match="closed"):
        services.register(event.id, registrant_data())
    resp = client.post(
        f"/events/{event.id}/register",
        data={
            "name": "Ana",
            "email": "ana@example.org",
            "timezone": "Asia/Manila",
            "consent": "y",
            "organisation_name": "Migrant Care Network",
            "sector": "civil_society",
        },
    )
    assert resp.status_code == 403 and "closed" in resp.get_data(as_text=True)
    later = make_event_row(title="Later", registration_opens_at=NOW + timedelta(days=1))
    with pytest.raises(ValidationFailed, match="opens"):
        services.register(later.id, registrant_data())
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Registration)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0


def test_unknown_time_zone_and_missing_consent(app, client):
    event = make_event_row()
    resp = client.post(
        f"/events/{event.id}/register",
        data={
            "name": "Ana",
            "email": "ana@example.org",
            "timezone": "Mars/Olympus",
            "consent": "y",
            "organisation_name": "Migrant Care Network",
            "sector": "civil_society",
        },
    )
    assert resp.status_code == 400 and "Unknown time zone" in resp.get_data(as_text=True)
    with pytest.raises(ValidationFailed) as exc:
        services.register(
            event.id,
            services.RegistrantData(
                name="Ana",
                email="ana@example.org",
                timezone="Mars/Olympus",
                consent=False,
                organisation_name="Migrant Care Network",
                sector="civil_society",
            ),
        )
    assert set(exc.value.field_errors) == {"timezone", "consent"}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Registration)) == 0


def test_tampered_and_expired_manage_links(app, client):
    event = make_event_row()
    reg = services.register(event.id, registrant_data())
    token = manage_links.make_manage_token(reg)
    assert client.get(f"/registrations/manage/{token}").status_code == 200
    resp = client.get(f"/registrations/manage/{token[:-3]}xyz")
    assert resp.status_code == 422 and "not valid" in resp.get_data(as_text=True)
    clock.advance(timedelta(days=400))
    resp = client.get(f"/registrations/manage/{token}")
    assert resp.status_code == 422 and "expired" in resp.get_data(as_text=True)


def test_manage_change_details_and_cancel_through_http(app, client, mailbox):
    event = make_event_row(capacity=1)
    reg = services.register(event.id, registrant_data())
    waiting = services.register(event.id, registrant_data("Ben", "ben@example.org"))
    token = manage_links.make_manage_token(reg)
    resp = client.post(f"/registrations/manage/{token}", data={"name": "Ana M. Cruz", "timezone": "Mars/Olympus"})
    assert resp.status_code == 400
    resp = client.post(
        f"/registrations/manage/{token}",
        data={"name": "Ana M. Cruz", "timezone": "Asia/Tokyo", "accessibility_needs": "Captions"},
    )
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(Registration, reg.id).timezone == "Asia/Tokyo"
    resp = client.post(f"/registrations/manage/{token}/cancel")
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(Registration, reg.id).status == "cancelled"
    assert db.session.get(Registration, waiting.id).status == "confirmed"
    # the page after cancelling holds the cancelled registration's new link (the old one is spent)
    resp = client.post(f"{urlsplit(resp.location).path}/cancel")
    assert resp.status_code == 409


def test_audiences(app, make_user, client, login):
    inv_only = make_event_row(audience="invitation")
    with pytest.raises(NotAllowed, match="invitation only"):
        services.register(inv_only.id, registrant_data())
    members = make_event_row(title="Members", audience="members")
    with pytest.raises(NotAllowed, match="members only"):
        services.register(members.id, registrant_data())
    gov = Organisation(name="Kingdom of Thailand", sector="member_government")
    db.session.add(gov)
    db.session.commit()
    user = make_user("participant", email="focal@example.go.th", timezone="Asia/Bangkok", organisation_id=gov.id)
    login(user)
    resp = client.post(f"/events/{members.id}/register", data={})
    assert resp.status_code == 302
    reg = db.session.scalar(sa.select(Registration).where(Registration.event_id == members.id))
    assert reg.email == "focal@example.go.th" and reg.member_government_id == gov.id and reg.user_id == user.id
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(Registration).where(Registration.event_id == inv_only.id)
        )
        == 0
    )


def test_approval_and_organiser_moves_are_audited(app, make_user, client, login, mailbox):
    from webinar_mgr.audit.models import AuditEntry

    event = make_event_row(requires_approval=True, capacity=1)
    p1 = services.register(event.id, registrant_data("P1", "p1@example.org"))
    p2 = services.register(event.id, registrant_data("P2", "p2@example.org"))
    assert p1.status == p2.status == "pending"
    org = make_user("organiser")
    login(org)
    assert client.post(f"/registrations/{p1.id}/action", data={"action": "approve"}).status_code == 302
    assert client.post(f"/registrations/{p2.id}/action", data={"action": "approve"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Registration, p1.id).status == "confirmed"
    assert db.session.get(Registration, p2.id).status == "waitlisted"
    # the event is full: moving up is refused until someone moves down
    assert client.post(f"/registrations/{p2.id}/action", data={"action": "confirm"}).status_code == 409
    assert client.post(f"/registrations/{p1.id}/action", data={"action": "waitlist"}).status_code == 302
    assert client.post(f"/registrations/{p2.id}/action", data={"action": "confirm"}).status_code == 302
    assert client.post(f"/registrations/{p1.id}/action", data={"action": "reject"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Registration, p2.id).status == "confirmed"
    assert db.session.get(Registration, p1.id).status == "rejected"
    actions = db.session.scalars(sa.select(AuditEntry.action).where(AuditEntry.action.like("registration.%"))).all()
    assert sorted(actions) == sorted(
        [
            "registration.approve",
            "registration.approve",
            "registration.waitlist",
            "registration.confirm",
            "registration.reject",
        ]
    )
    # participants cannot act on registrations
    client.post("/logout")
    login(make_user("participant"))
    assert client.post(f"/registrations/{p2.id}/action", data={"action": "reject"}).status_code == 403


def test_export_csv_and_xlsx_neutralise_formulas(app, make_user, client, login):
    from openpyxl import load_workbook

    event = make_event_row()
    services.register(
        event.id,
        registrant_data(
            name='=HYPERLINK("http://evil","x")',
            email="evil@example.org",
            organisation_name="+Org",
            sector="private_sector",
        ),
    )
    login(make_user("organiser"))
    resp = client.get(f"/events/{event.id}/registrations.csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    text = resp.get_data().decode("utf-8-sig")
    header = text.splitlines()[0].split(",")
    for col in ("name", "email", "organisation", "sector", "member_government", "status"):
        assert col in header
    assert "'=HYPERLINK(" in text and "'+Org" in text
    resp = client.get(f"/events/{event.id}/registrations.xlsx")
    ws = load_workbook(io.BytesIO(resp.get_data())).active
    assert ws["A2"].value == '\'=HYPERLINK("http://evil","x")'
    assert ws["C2"].value == "'+Org"


def test_registrant_list_filters_and_search(app, make_user, client, login):
    event = make_event_row(capacity=1)
    services.register(event.id, registrant_data("Siti Rahma", "siti@example.org"))
    services.register(event.id, registrant_data("Tran Van Minh", "minh@example.org"))
    login(make_user("organiser"))
    page = client.get(f"/events/{event.id}/registrations?q=siti").get_data(as_text=True)
    assert "siti@example.org" in page and "minh@example.org" not in page
    page = client.get(f"/events/{event.id}/registrations?status=waitlisted").get_data(as_text=True)
    assert "minh@example.org" in page and "siti@example.org" not in page


def test_event_change_and_cancellation_reach_registrants(app, make_user, mailbox):
    from webinar_mgr.events import services as events
    from webinar_mgr.events.signals import event_changed

    event = make_event_row(capacity=1)
    services.register(event.id, registrant_data("A", "a@example.org"))
    services.register(event.id, registrant_data("B", "b@example.org"))  # wait-listed
    mail.deliver_due()
    mailbox.clear()
    organiser = make_user("organiser")
    # a time change, as the events service announces it
    event.starts_at += timedelta(hours=1)
    event.ends_at += timedelta(hours=1)
    event.sequence += 1
    db.session.flush()
    event_changed.send(event, actor=organiser, changes={"time"}, cancelled=False)
    db.session.commit()
    mail.deliver_due()
    upd = mailbox.to("a@example.org")[0]
    cal, _ = ics_of(upd)
    assert cal["METHOD"] == "REQUEST" and int(cal.walk("VEVENT")[0]["SEQUENCE"]) == 1
    assert str(cal.walk("VEVENT")[0]["UID"]) == event.uid
    assert len(mailbox.to("b@example.org")) == 1 and ics_of(mailbox.to("b@example.org")[0])[0] is None
    mailbox.clear()
    events.change_status(db.session.get(Event, event.id), "cancelled", actor=organiser)
    mail.deliver_due()
    msg = mailbox.to("a@example.org")[0]
    assert "cancelled" in msg["Subject"].lower()
    cal, _ = ics_of(msg)
    assert cal["METHOD"] == "CANCEL" and int(cal.walk("VEVENT")[0]["SEQUENCE"]) >= 2
    assert len(mailbox.to("b@example.org")) == 1


def test_personal_calendar_feed(app, client):
    e1 = make_event_row(title="First")
    e2 = make_event_row(title="Second")
    e3 = make_event_row(title="Third")
    services.register(e1.id, registrant_data())
    r2 = services.register(e2.id, registrant_data())
    services.register(e3.id, registrant_data("Other", "other@example.org"))
    services.cancel(db.session.get(Registration, r2.id))
    feed = feeds.feed_for("ana.cruz@example.org")
    db.session.commit()
    resp = client.get(f"/calendar/{feed.token}.ics")
    assert resp.status_code == 200 and resp.mimetype == "text/calendar"
    cal = Calendar.from_ical(resp.get_data())
    assert [str(v["SUMMARY"]) for v in cal.walk("VEVENT")] == ["First"]
    assert client.get("/calendar/not-a-token.ics").status_code == 404
    # one feed per email, however many registrations
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(CalendarFeed).where(CalendarFeed.email == "ana.cruz@example.org")
        )
        == 1
    )


def test_registration_from_token_gone(app):
    event = make_event_row()
    reg = services.register(event.id, registrant_data())
    token = manage_links.make_manage_token(reg)
    db.session.delete(reg)
    db.session.commit()
    with pytest.raises(NotFound):
        manage_links.registration_from_token(token)


def test_no_overbooking_under_parallel_requests(app):
    """40 simultaneous registrations through the app for 10 seats: 10 confirmed, 30 waiting."""
    event = make_event_row(capacity=10)
    event_id = event.id
    org = Organisation(name="Migrant Care Network", sector="civil_society")  # all pick it from the list
    db.session.add(org)
    db.session.commit()
    org_id = org.id
    barrier = threading.Barrier(40)
    results: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def attempt(i: int) -> None:
        client = app.test_client()
        try:
            barrier.wait(timeout=30)
            resp = client.post(
                f"/events/{event_id}/register",
                data={
                    "name": f"Person {i}",
                    "email": f"p{i}@example.org",
                    "timezone": "Asia/Jakarta",
                    "consent": "y",
                    "organisation_id": str(org_id),
                },
            )
            with lock:
                results.append(resp.status_code)
        except BaseException as exc:  # reported below
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    assert results.count(302) == 40, results
    db.session.expire_all()
    counts = services.status_counts(event_id)
    assert counts["confirmed"] == 10 and counts["waitlisted"] == 30


def test_signed_in_registrant_sees_and_manages_their_registrations(app, make_user, client, login, mailbox):
    upcoming = make_event_row(title="Upcoming webinar", capacity=1)
    later = make_event_row(
        title="Later webinar", starts_at=NOW + timedelta(days=40), ends_at=NOW + timedelta(days=40, hours=1)
    )
    held = make_event_row(
        title="Held webinar",
        status="held",
        starts_at=NOW - timedelta(days=30),
        ends_at=NOW - timedelta(days=30) + timedelta(hours=2),
    )
    old = make_event_row(
        title="Old webinar",
        status="held",
        starts_at=NOW - timedelta(days=800),
        ends_at=NOW - timedelta(days=800) + timedelta(hours=2),
    )
    services.register(upcoming.id, registrant_data(email="someone.else@example.org"))  # takes the only seat
    user = make_user("participant", email="pat@example.org", timezone="Pacific/Fiji")
    for event in (held, old):  # registered by address before the account existed
        db.session.add(
            Registration(
                event_id=event.id,
                contact_id=services.directory.get_or_create_contact("pat@example.org", "Pat").id,
                email="pat@example.org",
                name="Pat",
                status="confirmed",
            )
        )
    db.session.commit()
    login(user)

    # Register in one step; the event page then shows the registration instead of the button.
    page = client.get(f"/events/{upcoming.id}").get_data(as_text=True)
    assert f'href="/events/{upcoming.id}/register"' in page and 'id="my-registration"' not in page
    org = {"organisation_name": "Migrant Care Network", "sector": "civil_society"}  # the profile names none
    assert client.post(f"/events/{upcoming.id}/register", data=org).status_code == 302
    reg = services.registration_of(upcoming.id, user)
    assert reg.status == "waitlisted" and reg.user_id == user.id
    page = client.get(f"/events/{upcoming.id}").get_data(as_text=True)
    assert "Your registration:" in page and "Waiting list" in page and "Manage my registration" in page
    assert f'href="/events/{upcoming.id}/register"' not in page
    # Asking to register again leads to the registration, not to a 409.
    resp = client.get(f"/events/{upcoming.id}/register")
    assert resp.status_code == 302 and "/registrations/manage/" in resp.location
    assert client.get(resp.location).status_code == 200

    # My registrations: upcoming soonest first, then past latest first; only old manage links expire.
    client.post(f"/events/{later.id}/register", data=org)
    mine = services.my_registrations(user)
    assert [r.event.title for r in mine.upcoming] == ["Upcoming webinar", "Later webinar"]
    assert [r.event.title for r in mine.past] == ["Held webinar", "Old webinar"]
    page = client.get("/registrations/mine").get_data(as_text=True)
    assert (
        page.index("Upcoming webinar")
        < page.index("Later webinar")
        < page.index("Held webinar")
        < page.index("Old webinar")
    )
    assert page.count("Manage my registration") == 3 and "Closed" in page  # the old one is read-only
    assert "someone.else@example.org" not in page
    feed = db.session.scalar(sa.select(CalendarFeed).where(CalendarFeed.email == "pat@example.org"))
    assert feed is not None and f"/calendar/{feed.token}.ics" in page
    assert 'href="/registrations/mine"' in page  # in the navigation

    # Cancelled: the event page offers to register again.
    services.cancel(reg)
    page = client.get(f"/events/{upcoming.id}").get_data(as_text=True)
    assert "Cancelled" in page and "Register again" in page


def test_my_registrations_needs_an_account(app, client):
    resp = client.get("/registrations/mine")
    assert resp.status_code == 302 and "/login" in resp.location


def test_public_forms_are_rate_limited_per_address(migrated, smtp_server, app):
    from webinar_mgr import create_app

    event = make_event_row()
    limited = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=migrated,
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI="memory://",
        PUBLIC_FORM_RATE_LIMIT="3 per minute",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp_server["port"],
    )
    client = limited.test_client()

    def post(n):
        return client.post(
            f"/events/{event.id}/register",
            data={
                "name": f"Guest {n}",
                "email": f"guest{n}@example.org",
                "timezone": "Asia/Manila",
                "consent": "y",
                "organisation_name": "Migrant Care Network",
                "sector": "civil_society",
            },
        )

    assert [post(n).status_code for n in range(3)] == [302, 302, 302]
    refused = post(3)
    assert refused.status_code == 429 and "Too many attempts" in refused.get_data(as_text=True)
    # The manage page shares the budget; reading pages is not limited.
    reg = db.session.scalar(sa.select(Registration).where(Registration.email == "guest0@example.org"))
    token = manage_links.make_manage_token(reg)
    assert client.post(f"/registrations/manage/{token}", data={"name": "Guest Zero"}).status_code == 429
    assert client.get(f"/events/{event.id}/register").status_code == 200
    assert client.get(f"/registrations/manage/{token}").status_code == 200
    emails = db.session.scalars(sa.select(Registration.email).where(Registration.event_id == event.id)).all()
    assert sorted(emails) == ["guest0@example.org", "guest1@example.org", "guest2@example.org"]


WORKER_SCRIPT = """
import json, sys
from webinar_mgr import create_app
settings, event_id, numbers = json.loads(sys.argv[1])
client = create_app("testing", **settings).test_client()
codes = [client.post(f"/events/{event_id}/register", data={
    "name": f"Guest {n}", "email": f"guest{n}@example.org", "timezone": "Asia/Manila", "consent": "y",
    "organisation_name": "Migrant Care Network", "sector": "civil_society"}).status_code for n in numbers]
print(json.dumps(codes))
"""


def test_rate_limits_are_shared_between_processes_through_redis(migrated, app):
    """Two processes (like two gunicorn workers) count against one budget kept in Redis; with the
    in-memory store each process would count alone (the control)."""
    import json
    import subprocess
    import sys
    import uuid

    import redis

    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"no Redis at {url} (set TEST_REDIS_URL)")

    def run(storage: str, event_id: int) -> list[list[int]]:
        settings = dict(
            SQLALCHEMY_DATABASE_URI=migrated,
            RATELIMIT_ENABLED=True,
            RATELIMIT_STORAGE_URI=storage,
            RATELIMIT_KEY_PREFIX=f"test-{uuid.uuid4().hex}",
            PUBLIC_FORM_RATE_LIMIT="3 per minute",
        )
        out = []
        for numbers in ([event_id * 10, event_id * 10 + 1], [event_id * 10 + 2, event_id * 10 + 3]):
            proc = subprocess.run(
                [sys.executable, "-c", WORKER_SCRIPT, json.dumps([settings, event_id, numbers])],
                capture_output=True,
                text=True,
                timeout=120,
                check=True,
            )
            out.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        return out

    # The subprocesses read the real clock, not this module's frozen one.
    start = datetime.now(UTC) + timedelta(days=10)
    when = dict(starts_at=start, ends_at=start + timedelta(hours=2))
    assert run(url, make_event_row(**when).id) == [[302, 302], [302, 429]]
    assert run("memory://", make_event_row(title="Control", **when).id) == [[302, 302], [302, 302]]
