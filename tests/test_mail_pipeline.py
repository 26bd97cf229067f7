"""The default delivery (MAIL_RECORD_EVERY=1): each outcome is committed before the next message is
delivered (the claim rule, across claims too), a record that fails delivers nothing more, and the
claim reads the due messages in order without sorting the queue (issue 19, migration 0025). Runs
on SQLite and PostgreSQL (the plan's test on PostgreSQL only)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.support import deliveries, queue_plain_mails
from webinar_mgr import clock
from webinar_mgr.extensions import db
from webinar_mgr.mail import services as mail
from webinar_mgr.mail.models import OutboxMessage


def _statuses() -> Counter:
    db.session.expire_all()
    return Counter(db.session.scalars(sa.select(OutboxMessage.status)))


@pytest.mark.parametrize("batch", [3, 20])
def test_each_outcome_is_committed_before_the_next_message_is_delivered(app, mailbox, smtp_server, monkeypatch, batch):
    """When the server takes message k (the end of its data), the k - 1 before it are recorded as
    sent, committed, as another connection sees them: across claims too."""
    app.config["MAIL_BATCH_SIZE"] = batch
    addresses = queue_plain_mails(7, "order")
    other = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"].replace("postgresql://", "postgresql+psycopg://"))
    original = smtp_server["handler"].handle_DATA
    seen = []

    async def handle_DATA(server, session, envelope):
        with other.connect() as conn:
            seen.append(conn.scalar(sa.text("SELECT count(*) FROM mail_outbox WHERE status = 'sent'")))
        return await original(server, session, envelope)

    monkeypatch.setattr(smtp_server["handler"], "handle_DATA", handle_DATA)
    try:
        assert mail.deliver_due() == {"sent": 7, "retry": 0, "failed": 0, "skipped": 0}
    finally:
        other.dispose()
    assert seen == list(range(7))
    assert deliveries(mailbox) == Counter(addresses)
    assert _statuses() == Counter({"sent": 7})


def test_a_record_that_fails_stops_the_round_and_delivers_nothing_more(app, mailbox, monkeypatch):
    """The database fails while the outcome of the third message is written: the fourth is not
    delivered, the round stops with the error, and once the claim has expired the third is the only
    message sent twice."""
    clock.freeze(clock.now())
    addresses = queue_plain_mails(6, "failing")
    record = mail._Outcomes.record
    calls = {"n": 0}

    def failing_record(self, lease=None, **kw):
        if self.pending:
            calls["n"] += 1
            if calls["n"] >= 3:
                raise sa.exc.OperationalError("UPDATE mail_outbox", {}, Exception("the server closed the connection"))
        return record(self, lease, **kw)

    monkeypatch.setattr(mail._Outcomes, "record", failing_record)
    with pytest.raises(sa.exc.OperationalError):
        mail.deliver_due()
    db.session.rollback()
    assert deliveries(mailbox) == Counter(addresses[:3])  # not the fourth
    assert _statuses() == Counter({"sent": 2, "sending": 4})
    monkeypatch.setattr(mail._Outcomes, "record", record)
    clock.advance(timedelta(seconds=app.config["MAIL_CLAIM_TIMEOUT"] + 1))
    assert mail.deliver_due() == {"sent": 4, "retry": 0, "failed": 0, "skipped": 0}
    delivered = deliveries(mailbox)
    assert set(delivered) == set(addresses)  # nothing lost
    assert {a for a, n in delivered.items() if n > 1} == {addresses[2]}  # the one whose record failed
    assert _statuses() == Counter({"sent": 6})


def test_the_claim_reads_the_due_messages_in_order_without_sorting_them(app):
    """PostgreSQL: the claim's pick walks the due index (status, next_attempt_at, id) and stops at its
    batch, whatever the planner's statistics say (5,000 invitations queued together were sorted
    again for each claim of 20); the order stays next_attempt_at, then id."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the plan is PostgreSQL's")
    now = clock.now()
    db.session.execute(
        sa.insert(OutboxMessage),
        [
            {
                "to_addr": f"p{i}@example.org",
                "subject": "s",
                "body_text": "x",
                "status": "queued",
                "attempts": 0,
                "category": "bench",
                "created_at": now,
                "next_attempt_at": now - timedelta(seconds=i % 2),
            }
            for i in range(3000)
        ],
    )
    db.session.commit()
    with db.session.begin():
        db.session.execute(mail._CLAIM_SETTINGS)
        pick = sa.text(
            "EXPLAIN SELECT id FROM mail_outbox WHERE status = 'queued' AND next_attempt_at <= now()"
            " ORDER BY next_attempt_at, id LIMIT 20 FOR UPDATE SKIP LOCKED"
        )
        plan = "\n".join(db.session.scalars(pick))
    assert "Sort" not in plan and "ix_mail_outbox_due" in plan, plan
    claim = mail.claim_due(20)
    expected = db.session.scalars(
        sa.select(OutboxMessage.id).order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(20)
    ).all()
    assert claim.ids == expected
