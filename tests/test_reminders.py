"""Reminders: 24 h and 1 h before the start, once each, in the registrant's zone; a worker that
was down catches up but never reminds after the start. Real SMTP (mailbox), frozen clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from tests.factories import make_event_row, registrant_data
from webinar_mgr import clock, jobs
from webinar_mgr.extensions import db
from webinar_mgr.mail import services as mail
from webinar_mgr.mail.models import OutboxMessage
from webinar_mgr.registrations import notifications, services

START = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)  # 13:00 in Bangkok


def _reminders(mailbox, addr):
    return [m for m in mailbox.to(addr) if "Starting in" in m["Subject"]]


def test_reminders_24h_and_1h_exactly_once(app, mailbox):
    clock.freeze(START - timedelta(days=5))
    event = make_event_row(starts_at=START, ends_at=START + timedelta(hours=2))
    services.register(event.id, registrant_data(tz="Asia/Tokyo"))
    services.register(event.id, registrant_data("Ben", "ben@example.org", tz="Asia/Kolkata"))
    mail.deliver_due()
    mailbox.clear()
    assert jobs.run_scheduled()["reminders"] == 0
    clock.freeze(START - timedelta(hours=24, minutes=1))
    assert notifications.send_reminders() == 0
    clock.advance(timedelta(minutes=2))  # 23h59m before
    assert jobs.run_scheduled()["reminders"] == 2
    assert jobs.run_scheduled()["reminders"] == 0  # idempotent
    mail.deliver_due()
    ana = _reminders(mailbox, "ana.cruz@example.org")
    assert len(ana) == 1 and "24 hours" in ana[0]["Subject"]
    body = ana[0].get_body(("plain",)).get_content()
    assert "15:00" in body and "Asia/Tokyo" in body  # 06:00 UTC in Tokyo
    ben_body = _reminders(mailbox, "ben@example.org")[0].get_body(("plain",)).get_content()
    assert "11:30" in ben_body and "Asia/Kolkata" in ben_body
    clock.freeze(START - timedelta(minutes=59))
    assert notifications.send_reminders() == 2
    assert notifications.send_reminders() == 0
    mail.deliver_due()
    ana = _reminders(mailbox, "ana.cruz@example.org")
    assert sorted(m["Subject"].split(":")[0] for m in ana) == ["Starting in 1 hour", "Starting in 24 hours"]
    keys = set(db.session.scalars(sa.select(OutboxMessage.dedupe_key).where(OutboxMessage.category == "reminder")))
    assert len(keys) == 4 and all(k.startswith("reminder:") for k in keys)


def test_worker_down_catches_up_but_not_after_start(app, mailbox):
    clock.freeze(START - timedelta(days=5))
    event = make_event_row(starts_at=START, ends_at=START + timedelta(hours=2))
    services.register(event.id, registrant_data())
    cancelled = services.register(event.id, registrant_data("Cat", "cat@example.org"))
    services.cancel(cancelled)
    mail.deliver_due()
    mailbox.clear()
    # the worker was down through the 24 h mark and restarts 5 hours before the start
    clock.freeze(START - timedelta(hours=5))
    assert notifications.send_reminders() == 1
    # it was down again through the 1 h mark and restarts after the start: nothing is sent
    clock.freeze(START + timedelta(minutes=5))
    assert notifications.send_reminders() == 0
    mail.deliver_due()
    assert len(_reminders(mailbox, "ana.cruz@example.org")) == 1
    assert _reminders(mailbox, "cat@example.org") == []


def test_late_restart_sends_only_the_nearest_reminder(app, mailbox):
    clock.freeze(START - timedelta(days=5))
    event = make_event_row(starts_at=START, ends_at=START + timedelta(hours=2))
    services.register(event.id, registrant_data())
    clock.freeze(START - timedelta(minutes=30))
    assert notifications.send_reminders() == 1
    assert notifications.send_reminders() == 0
    mail.deliver_due()
    subjects = [m["Subject"] for m in _reminders(mailbox, "ana.cruz@example.org")]
    assert subjects == [f"Starting in 1 hour: {event.title}"]


def test_offsets_are_configurable(app, mailbox):
    app.config["REMINDER_OFFSETS_HOURS"] = "48"
    clock.freeze(START - timedelta(days=5))
    event = make_event_row(starts_at=START, ends_at=START + timedelta(hours=2))
    services.register(event.id, registrant_data())
    clock.freeze(START - timedelta(hours=47))
    assert notifications.send_reminders() == 1
    clock.freeze(START - timedelta(minutes=30))
    assert notifications.send_reminders() == 0
