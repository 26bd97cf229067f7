"""A commitment's whole life with the real worker pieces: the scheduled job, the outbox and a real
SMTP server (aiosmtpd) catching the reminders at the right times on a frozen clock."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from webinar_mgr import clock, jobs
from webinar_mgr.commitments import services
from webinar_mgr.commitments.models import Commitment
from webinar_mgr.directory import services as directory
from webinar_mgr.events.models import Event, EventKind
from webinar_mgr.extensions import db
from webinar_mgr.mail import services as mail
from webinar_mgr.registrations.models import Registration

PLEDGED_AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
TARGET = date(2026, 9, 30)


def _run_worker_round() -> None:
    """What ``flask worker`` does each round: scheduled jobs, then delivery."""
    jobs.run_scheduled()
    mail.deliver_due()


def _link(msg) -> str:
    body = msg.get_body(("plain",)).get_content()
    return re.search(r"http://localhost/commitments/u/\S+", body).group(0)


def _path(url: str) -> str:
    return url.replace("http://localhost", "")


def _commitment_mails(mailbox, kind: str):
    return [m for m in mailbox.to("rosa@example.gov.ph") if kind in m["Subject"]]


def test_whole_life_with_reminders_over_real_smtp(app, client, mailbox):
    clock.freeze(PLEDGED_AT)
    kind = EventKind(code="webinar", label="Regional webinar")
    db.session.add(kind)
    db.session.flush()
    start = PLEDGED_AT - timedelta(hours=3)
    event = Event(
        title="Regional Webinar: Online recruitment",
        kind_id=kind.id,
        status="held",
        timezone="Asia/Manila",
        starts_at=start,
        ends_at=start + timedelta(hours=2),
        audience="open",
    )
    db.session.add(event)
    db.session.flush()
    contact = directory.get_or_create_contact("rosa@example.gov.ph", "Rosa Dizon")
    reg = Registration(
        event_id=event.id,
        contact_id=contact.id,
        email=contact.email,
        name=contact.name,
        status="confirmed",
        sector="member_government",
    )
    db.session.add(reg)
    db.session.commit()

    c = services.pledge(
        reg,
        services.PledgeData(
            kind="campaign",
            platforms=["facebook", "tiktok"],
            languages=["Tagalog"],
            audience="Young job seekers",
            description="A campaign on fake job offers",
            target_date=TARGET,
            public=True,
        ),
    )
    _run_worker_round()
    assert [m["Subject"] for m in mailbox.to("rosa@example.gov.ph")] == [
        "Your commitment for Regional Webinar: Online recruitment is recorded"
    ]
    mailbox.clear()

    # Nothing is due before 30 days ahead of the target date.
    clock.freeze(datetime(2026, 8, 30, 12, 0, tzinfo=UTC))
    _run_worker_round()
    assert len(mailbox) == 0

    # 30 days before: one reminder with a working one-click link.
    clock.freeze(datetime(2026, 8, 31, 1, 0, tzinfo=UTC))
    _run_worker_round()
    first = _commitment_mails(mailbox, "30 days to go")
    assert len(first) == 1 and len(mailbox) == 1
    link = _link(first[0])
    page = client.get(_path(link))
    assert page.status_code == 200 and "A campaign on fake job offers" in page.get_data(as_text=True)
    resp = client.post(_path(link), data={"action": "progress", "note": "Designing the visuals"})
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(Commitment, c.id).status == "in_progress"

    # Running again (the same day or later) sends no duplicate.
    _run_worker_round()
    clock.advance(timedelta(days=5))
    _run_worker_round()
    assert len(mailbox) == 1

    # 7 days before: the second reminder.
    clock.freeze(datetime(2026, 9, 23, 0, 30, tzinfo=UTC))
    _run_worker_round()
    assert len(_commitment_mails(mailbox, "7 days to go")) == 1 and len(mailbox) == 2
    _run_worker_round()
    assert len(mailbox) == 2

    # The target date passes: one overdue notice, once.
    clock.freeze(datetime(2026, 10, 1, 0, 30, tzinfo=UTC))
    _run_worker_round()
    overdue = _commitment_mails(mailbox, "past its target date")
    assert len(overdue) == 1 and len(mailbox) == 3
    clock.advance(timedelta(days=3))
    _run_worker_round()
    assert len(mailbox) == 3

    # Follow the link from the received overdue email to report delivery, without signing in.
    link = _link(overdue[0])
    resp = client.post(
        _path(link),
        data={
            "action": "deliver",
            "links": "https://www.facebook.com/wg/posts/1\nhttps://www.tiktok.com/@wg/video/2",
            "published_on": "2026-10-02",
            "views": "1200",
            "impressions": "5400",
            "shares": "31",
            "note": "Ran for two weeks",
        },
    )
    assert resp.status_code == 302
    db.session.expire_all()
    done = db.session.get(Commitment, c.id)
    assert done.status == "delivered" and done.delivered_at == clock.now()
    assert [e.url for e in done.evidence] == [
        "https://www.facebook.com/wg/posts/1",
        "https://www.tiktok.com/@wg/video/2",
    ]
    assert done.evidence[0].views == 1200 and done.evidence[0].published_on == date(2026, 10, 2)
    assert done.evidence[1].views is None and done.evidence[1].published_on == date(2026, 10, 2)
    assert [(u.from_status, u.to_status) for u in done.updates] == [
        (None, "pledged"),
        ("pledged", "in_progress"),
        ("in_progress", "delivered"),
    ]
    assert all(u.at.tzinfo is not None for u in done.updates)
    assert not done.is_overdue(services.today())

    # Delivered: no more reminders, and the public page shows it.
    clock.advance(timedelta(days=30))
    _run_worker_round()
    assert len(mailbox) == 3
    public = client.get("/commitments/public").get_data(as_text=True)
    assert "https://www.tiktok.com/@wg/video/2" in public and "rosa@example.gov.ph" not in public

    # The link from the first reminder has expired by now (60 days): a clear 4xx, nothing changes.
    resp = client.post(_path(_link(first[0])), data={"action": "note", "note": "late"})
    assert resp.status_code == 422 and "This link has expired." in resp.get_data(as_text=True)
    db.session.expire_all()
    assert len(db.session.get(Commitment, c.id).updates) == 3
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Commitment)) == 1
