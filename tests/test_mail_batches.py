"""Delivery records its outcomes in batches (issue 19) under a lease on its claim: nothing lost, the
repeats after a crash bounded by what was sent and not yet recorded, a claim taken over mid-batch
never sent by the stalled worker. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from tests.support import deliveries, queue_plain_mails
from webinar_mgr import clock
from webinar_mgr.extensions import db
from webinar_mgr.mail import services as mail
from webinar_mgr.mail.models import OutboxMessage


class Crash(BaseException):
    """The worker process dying (nothing after it runs, not even an except Exception)."""


def _rows() -> list[OutboxMessage]:
    db.session.expire_all()
    return db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)).all()


def test_outcomes_are_recorded_in_one_statement_per_batch(app, mailbox):
    clock.freeze(clock.now())
    app.config["MAIL_BATCH_SIZE"] = 20
    app.config["MAIL_RECORD_EVERY"] = 20  # opt-in batches (the default records each outcome)
    queue_plain_mails(40, "batch")
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("UPDATE MAIL_OUTBOX"):
            statements.append(executemany)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert mail.deliver_due() == {"sent": 40, "retry": 0, "failed": 0, "skipped": 0}
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    # per claim of 20: put back expired claims, claim, and one executemany for the 20 outcomes
    assert statements.count(True) == 2 and len(statements) <= 8, statements
    assert {(r.status, r.attempts, r.claim_token, r.claimed_at is None) for r in _rows()} == {("sent", 1, None, True)}
    assert all(r.sent_at == r.last_attempt_at == clock.now() for r in _rows())


def test_a_crash_between_send_and_record_repeats_only_the_unrecorded(app, mailbox, monkeypatch):
    """The worker dies after the server accepted messages 6-10 and before it recorded them: once
    its claim expires the next worker sends those five again (no more than MAIL_RECORD_EVERY) and
    the two never sent; the five recorded are not repeated and nothing is lost."""
    clock.freeze(clock.now())
    app.config["MAIL_RECORD_EVERY"] = 5
    addresses = queue_plain_mails(12, "crash")
    record = mail._Outcomes.record
    calls = {"n": 0}

    def dying_record(self, lease=None, **kw):
        if self.pending:
            calls["n"] += 1
            if calls["n"] >= 2:  # dead: the way out records nothing either
                raise Crash()
        return record(self, lease, **kw)

    monkeypatch.setattr(mail._Outcomes, "record", dying_record)
    try:
        mail.deliver_due()
    except Crash:
        pass
    else:
        raise AssertionError("the worker did not die")
    db.session.rollback()
    assert deliveries(mailbox) == Counter(addresses[:10])
    assert Counter(r.status for r in _rows()) == Counter({"sent": 5, "sending": 7})
    monkeypatch.setattr(mail._Outcomes, "record", record)

    assert mail.deliver_due()["sent"] == 0  # the dead worker's claim still holds
    clock.advance(timedelta(seconds=app.config["MAIL_CLAIM_TIMEOUT"] + 1))
    assert mail.deliver_due() == {"sent": 7, "retry": 0, "failed": 0, "skipped": 0}
    delivered = deliveries(mailbox)
    assert set(delivered) == set(addresses)  # nothing lost
    assert {a for a, n in delivered.items() if n > 1} == set(addresses[5:10])  # sent, not recorded
    assert Counter(r.status for r in _rows()) == Counter({"sent": 12})


def test_a_claim_taken_over_mid_batch_is_not_sent_by_the_stalled_worker(app, mailbox, smtp_server, monkeypatch):
    """Worker A sends two messages, then its third send stalls past the claim timeout; worker B
    takes the whole claim over and delivers it. A records nothing over B's outcomes and sends
    none of the rest; the repeats are the messages A had sent and not yet recorded, and its
    one in flight."""
    clock.freeze(clock.now())
    app.config["MAIL_BATCH_SIZE"] = 10
    app.config["MAIL_RECORD_EVERY"] = 20  # opt-in batches: A records nothing before its third send
    addresses = queue_plain_mails(10, "takeover")
    held, release = threading.Event(), threading.Event()
    original = smtp_server["handler"].handle_DATA
    seen = {"n": 0}

    async def handle_DATA(server, session, envelope):
        seen["n"] += 1
        if seen["n"] == 3:
            held.set()
            await asyncio.get_running_loop().run_in_executor(None, release.wait, 20)
        return await original(server, session, envelope)

    monkeypatch.setattr(smtp_server["handler"], "handle_DATA", handle_DATA)
    results = {}

    def worker_a():
        with app.app_context():
            results["a"] = mail.deliver_due(10)

    thread = threading.Thread(target=worker_a, daemon=True)
    thread.start()
    try:
        assert held.wait(20), "worker A never reached its third message"
        clock.advance(timedelta(seconds=app.config["MAIL_CLAIM_TIMEOUT"] + 60))
        second = mail.deliver_due(10)  # worker B, in this thread
    finally:
        release.set()
        thread.join(30)
    assert not thread.is_alive()
    assert second == {"sent": 10, "retry": 0, "failed": 0, "skipped": 0}
    assert results["a"] == {"sent": 3, "retry": 0, "failed": 0, "skipped": 7}
    delivered = deliveries(mailbox)
    assert set(delivered) == set(addresses)
    assert {a for a, n in delivered.items() if n > 1} == set(addresses[:3])
    first, again = (m["Message-ID"] for m in mailbox.to(addresses[0]))
    assert first == again  # one message to mail programs
    rows = _rows()
    assert {(r.status, r.attempts, r.claim_token) for r in rows} == {("sent", 1, None)}  # B's outcomes stand


def test_a_slow_send_refreshes_the_lease_before_the_next(app, mailbox, smtp_server, monkeypatch):
    """Sends of two minutes each: the lease (MAIL_CLAIM_TIMEOUT / 10) is due before every send,
    so the claim's rows never look abandoned to another worker."""
    clock.freeze(clock.now())
    app.config["MAIL_BATCH_SIZE"] = 5
    queue_plain_mails(5, "lease")
    original = smtp_server["handler"].handle_DATA
    claimed_at = []

    async def handle_DATA(server, session, envelope):
        clock.advance(timedelta(minutes=2))
        return await original(server, session, envelope)

    heartbeat = mail._heartbeat

    def watched(token, at=None):
        claimed_at.append(at)
        return heartbeat(token, at)

    monkeypatch.setattr(smtp_server["handler"], "handle_DATA", handle_DATA)
    monkeypatch.setattr(mail, "_heartbeat", watched)
    assert mail.deliver_due()["sent"] == 5
    assert len(claimed_at) == 4  # before the 2nd to the 5th send


def test_the_mail_is_the_same_bytes_as_with_the_standard_policy(app, monkeypatch):
    """mail.services.POLICY only remembers header classes and parsed headers: a mail built with it
    is byte for byte the one email.policy.default builds (multipart boundaries aside)."""
    import re
    from email import policy

    from webinar_mgr.mail import services

    ics = "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    rows = [
        mail.queue(
            f"p{i}@example.org",
            f"Invitation: ราชการ webinar {i} " + "long words " * 12,
            body_text=f"Dear Nguyễn {i},\n\nhttp://localhost/i/{'x' * 120}\n\n" + "Line of text. " * 30,
            to_name=f'Nguyễn Văn {i}, "Q"',
            headers={"Auto-Submitted": "auto-generated"},
            attachments=[{"filename": "invite.ics", "mimetype": "text/calendar", "content": ics, "method": "REQUEST"}]
            if i % 2
            else None,
        )
        for i in range(6)
    ]
    db.session.commit()

    def wire(pol):
        monkeypatch.setattr(services, "POLICY", pol)
        out = []
        for row in rows:
            data = services.wire_bytes(services.build_email(row, "Webinars <webinars@example.org>"))
            boundaries = dict.fromkeys(re.findall(rb'boundary="([^"]+)"', data))  # in order of appearance
            for n, b in enumerate(boundaries):
                data = data.replace(b, b"BOUNDARY%d" % n)
            out.append(data)
        return out

    cached = services.POLICY
    assert wire(policy.default) == wire(cached) == wire(cached)


def test_by_default_each_outcome_is_recorded_before_the_next_send(app, mailbox, monkeypatch):
    """The default (MAIL_RECORD_EVERY=1): a worker that dies after the server accepted a message
    has recorded every earlier one, so only the message in flight can be sent twice."""
    clock.freeze(clock.now())
    assert app.config["MAIL_RECORD_EVERY"] == 1
    addresses = queue_plain_mails(6, "default")
    record = mail._Outcomes.record
    calls = {"n": 0}

    def dying_record(self, lease=None, **kw):
        if self.pending:
            calls["n"] += 1
            if calls["n"] >= 4:  # dies after the 4th send, before recording it
                raise Crash()
        return record(self, lease, **kw)

    monkeypatch.setattr(mail._Outcomes, "record", dying_record)
    with pytest.raises(Crash):
        mail.deliver_due()
    db.session.rollback()
    assert Counter(r.status for r in _rows()) == Counter({"sent": 3, "sending": 3})
    monkeypatch.setattr(mail._Outcomes, "record", record)
    clock.advance(timedelta(seconds=app.config["MAIL_CLAIM_TIMEOUT"] + 1))
    assert mail.deliver_due()["sent"] == 3
    delivered = deliveries(mailbox)
    assert set(delivered) == set(addresses)
    assert {a for a, n in delivered.items() if n > 1} == {addresses[3]}  # the one in flight only
