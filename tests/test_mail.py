"""The outbox: caller's transaction, exactly-once keys, SMTP delivery with backoff, attachments,
the worker command and the outbox page."""

from __future__ import annotations

import socket
from datetime import timedelta

import sqlalchemy as sa

from webinar_mgr import clock
from webinar_mgr.audit.models import AuditEntry
from webinar_mgr.extensions import db
from webinar_mgr.mail import services as mail
from webinar_mgr.mail.models import OutboxMessage

ICS = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nPRODID:-//test//EN\r\nEND:VCALENDAR\r\n"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends: nothing listens there


def _one() -> OutboxMessage:
    db.session.expire_all()
    return db.session.scalars(sa.select(OutboxMessage)).one()


def test_queue_and_deliver_over_smtp(app, mailbox):
    mail.queue("ana@example.org", "Hello there", body_text="Plain body", to_name="Ana Example")
    db.session.commit()
    assert mail.deliver_due() == {"sent": 1, "retry": 0, "failed": 0, "skipped": 0}
    (msg,) = mailbox.messages
    assert msg["Subject"] == "Hello there"
    assert "Ana Example" in msg["To"] and "ana@example.org" in msg["To"]
    assert msg["From"] == app.config["MAIL_DEFAULT_SENDER"]
    assert msg.get_body(preferencelist=("plain",)).get_content().strip() == "Plain body"
    row = _one()
    assert row.status == "sent" and row.attempts == 1 and row.sent_at is not None
    assert mail.deliver_due() == {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}  # not sent twice
    assert len(mailbox.messages) == 1


def test_rolled_back_change_leaves_no_mail(app, mailbox):
    from webinar_mgr.auth.models import User

    db.session.add(User(email="x@example.org", name="X"))
    mail.queue("x@example.org", "Welcome", body_text="hi")
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(OutboxMessage.id))) == 0
    assert mail.deliver_due()["sent"] == 0
    assert mailbox.messages == []


def test_dedupe_key_gives_exactly_once(app, mailbox):
    first = mail.queue("a@example.org", "Reminder", body_text="x", dedupe_key="reminder:1:a")
    db.session.commit()
    second = mail.queue("a@example.org", "Reminder", body_text="x", dedupe_key="reminder:1:a")
    other = mail.queue("b@example.org", "Reminder", body_text="x", dedupe_key="reminder:1:b")
    db.session.commit()
    assert first is not None and second is None and other is not None
    mail.deliver_due()
    assert len(mailbox.to("a@example.org")) == 1 and len(mailbox.to("b@example.org")) == 1
    # a duplicate inside the same transaction keeps the caller's other work
    mail.queue("c@example.org", "Once", body_text="x", dedupe_key="k-c")
    db.session.flush()
    assert mail.queue("c@example.org", "Once", body_text="x", dedupe_key="k-c") is None
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count(OutboxMessage.id))) == 3


def test_calendar_attachment_arrives_as_a_request(app, mailbox):
    mail.queue(
        "cal@example.org",
        "Invitation",
        body_text="See the attachment.",
        attachments=[{"filename": "invite.ics", "mimetype": "text/calendar", "content": ICS, "method": "REQUEST"}],
    )
    db.session.commit()
    mail.deliver_due()
    (msg,) = mailbox.messages
    # multipart/mixed: the alternative (text, calendar; method=REQUEST) first, then the .ics file
    assert msg.get_content_type() == "multipart/mixed"
    alternative, attached = msg.get_payload()
    assert alternative.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in alternative.get_payload()] == ["text/plain", "text/html", "text/calendar"]
    calendar = alternative.get_payload()[2]
    assert calendar.get_param("method") == "REQUEST" and calendar.get_filename() is None
    assert "METHOD:REQUEST" in calendar.get_content()
    assert attached.get_content_type() == "application/ics" and attached.get_filename() == "invite.ics"
    assert attached.get_content_disposition() == "attachment"
    assert b"METHOD:REQUEST" in attached.get_payload(decode=True)


def test_binary_attachment_roundtrips(app, mailbox):
    import base64

    data = b"%PDF-1.4 \x00\x01\x02"
    mail.queue(
        "pdf@example.org",
        "Agenda",
        body_text="attached",
        attachments=[
            {
                "filename": "agenda.pdf",
                "mimetype": "application/pdf",
                "content": base64.b64encode(data).decode(),
                "base64": True,
            }
        ],
    )
    db.session.commit()
    mail.deliver_due()
    (part,) = [p for p in mailbox.messages[0].walk() if p.get_content_type() == "application/pdf"]
    assert part.get_content() == data


def test_template_mail_renders_text(app, mailbox, make_user):
    user = make_user("participant", name="Tala")
    mail.queue(
        user.email,
        "Reset your password",
        template="mail/password_reset",
        context={"user": user, "link": "http://localhost/x", "minutes": 60},
    )
    db.session.commit()
    mail.deliver_due()
    body = mailbox.messages[0].get_body(preferencelist=("plain",)).get_content()
    assert "Hello Tala," in body and "http://localhost/x" in body and "60 minutes" in body


def test_smtp_down_retries_with_backoff_then_delivers(app, mailbox):
    clock.freeze(clock.now())
    port = app.config["MAIL_PORT"]
    app.config["MAIL_PORT"] = _closed_port()
    mail.queue("later@example.org", "Patience", body_text="x")
    db.session.commit()
    assert mail.deliver_due() == {"sent": 0, "retry": 1, "failed": 0, "skipped": 0}
    row = _one()
    assert row.status == "queued" and row.attempts == 1
    assert row.next_attempt_at > clock.now()
    assert "ConnectionRefused" in row.last_error
    first_wait = row.next_attempt_at - clock.now()
    assert first_wait == timedelta(seconds=app.config["MAIL_BACKOFF_SECONDS"])

    # not due yet: nothing is tried
    assert mail.deliver_due() == {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}
    clock.advance(first_wait)
    assert mail.deliver_due()["retry"] == 1
    row = _one()
    assert row.attempts == 2 and row.next_attempt_at - clock.now() == 2 * first_wait  # exponential

    app.config["MAIL_PORT"] = port  # the server is back
    clock.advance(2 * first_wait)
    assert mail.deliver_due()["sent"] == 1
    row = _one()
    assert row.status == "sent" and row.attempts == 3 and row.last_error is None
    assert len(mailbox.to("later@example.org")) == 1


def test_server_refusing_temporarily_then_failed_after_max_attempts(app, mailbox, smtp_server):
    clock.freeze(clock.now())
    app.config["MAIL_MAX_ATTEMPTS"] = 3
    smtp_server["handler"].refuse = True  # 451 on DATA
    mail.queue("never@example.org", "Doomed", body_text="x")
    db.session.commit()
    results = []
    for _ in range(3):
        results.append(mail.deliver_due())
        clock.advance(timedelta(hours=7))
    assert results[0]["retry"] == 1 and results[1]["retry"] == 1 and results[2]["failed"] == 1
    row = _one()
    assert row.status == "failed" and row.attempts == 3 and "451" in row.last_error
    clock.advance(timedelta(days=1))
    assert mail.deliver_due() == {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}
    assert mailbox.messages == []


def test_retry_puts_a_failed_message_back_and_is_audited(app, mailbox, make_user):
    admin = make_user("admin")
    msg = mail.queue("f@example.org", "Failed once", body_text="x")
    msg.status, msg.attempts, msg.last_error = "failed", 8, "boom"
    db.session.commit()
    mail.retry(msg.id, actor=admin)
    row = _one()
    assert row.status == "queued" and row.attempts == 0
    entry = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "mail.retry")).one()
    assert entry.actor_id == admin.id and entry.changes["status"] == ["failed", "queued"]
    assert mail.deliver_due()["sent"] == 1


def test_console_backend_prints_instead_of_sending(app, mailbox, capsys):
    app.config["MAIL_BACKEND"] = "console"
    mail.queue("console@example.org", "On the console", body_text="printed body")
    db.session.commit()
    assert mail.deliver_due()["sent"] == 1
    out = capsys.readouterr().out
    assert "console@example.org" in out and "On the console" in out
    assert mailbox.messages == []


def test_worker_once_command(app, mailbox):
    mail.queue("w@example.org", "From the worker", body_text="x")
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "sent=1 retry=0 failed=0" in result.output
    assert len(mailbox.to("w@example.org")) == 1


def test_worker_polling_mode_runs_rounds(app, mailbox):
    mail.queue("p@example.org", "Polled", body_text="x")
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["worker", "--interval", "0", "--rounds", "3"])
    assert result.exit_code == 0, result.output
    assert result.output.count("sent=1") == 1  # sent in the first round, not again
    assert len(mailbox.to("p@example.org")) == 1


# The outbox page ---------------------------------------------------------------------------


def _fill_outbox():
    for i in range(3):
        mail.queue(f"sent{i}@example.org", f"Sent {i}", body_text="secret-body-text", category="invitation")
    db.session.commit()
    mail.deliver_due()
    failed = mail.queue("bad@example.org", "Bounced", body_text="x", category="account")
    failed.status, failed.attempts, failed.last_error = "failed", 8, "SMTPRecipientsRefused"
    mail.queue("wait@example.org", "Waiting", body_text="x", category="reminder")
    db.session.commit()
    return failed


def test_outbox_page_counts_filters_and_hides_bodies(app, client, make_user, login, mailbox):
    failed = _fill_outbox()
    login(make_user("organiser"))
    html = client.get("/admin/outbox/").get_data(as_text=True)
    assert "Outbox" in html and "5 messages" in html
    assert "secret-body-text" not in html
    html = client.get("/admin/outbox/?status=failed").get_data(as_text=True)
    assert "bad@example.org" in html and "sent0@example.org" not in html
    assert f"/admin/outbox/{failed.id}/retry" in html
    html = client.get("/admin/outbox/?category=invitation").get_data(as_text=True)
    assert "3 messages" in html and "wait@example.org" not in html
    html = client.get("/admin/outbox/?recipient=WAIT").get_data(as_text=True)
    assert "1 message" in html and "wait@example.org" in html
    html = client.get("/admin/outbox/?recipient=%25").get_data(as_text=True)
    assert "0 messages" in html
    assert client.get("/admin/outbox/?status=bogus").status_code == 200


def test_outbox_paginates(app, client, make_user, login):
    for i in range(55):
        mail.queue(f"p{i:02d}@example.org", "Bulk", body_text="x")
    db.session.commit()
    login(make_user("admin"))
    html = client.get("/admin/outbox/").get_data(as_text=True)
    assert "Page 1 of 2" in html
    html2 = client.get("/admin/outbox/?page=2").get_data(as_text=True)
    assert "Page 2 of 2" in html2 and html2.count("@example.org&gt;") == 5


def test_outbox_retry_from_the_page(app, client, make_user, login, mailbox):
    failed = _fill_outbox()
    login(make_user("organiser"))
    resp = client.post(f"/admin/outbox/{failed.id}/retry")
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(OutboxMessage, failed.id).status == "queued"
    again = client.post(f"/admin/outbox/{failed.id}/retry")
    assert again.status_code == 409  # only failed messages
    assert client.post("/admin/outbox/999999/retry").status_code == 404


def test_outbox_is_for_organisers_and_admins(app, client, make_user, login):
    login(make_user("participant"))
    assert client.get("/admin/outbox/").status_code == 403


def test_header_injection_is_refused_when_queueing(app):
    import pytest

    for bad in ("a@example.org\r\nBcc: victim@example.org", "a@example.org, b@example.org", "nobody"):
        with pytest.raises(ValueError):
            mail.queue(bad, "x", body_text="x")
    msg = mail.queue("ok@example.org", "x", body_text="x", to_name="Ana\r\nBcc: victim@example.org")
    assert "\n" not in msg.to_name


def test_a_message_that_cannot_be_built_fails_without_stopping_the_batch(app, mailbox):
    broken = mail.queue(
        "broken@example.org",
        "Broken",
        body_text="x",
        attachments=[{"mimetype": "text/plain", "content": "no filename"}],
    )
    mail.queue("fine@example.org", "Fine", body_text="x")
    db.session.commit()
    assert mail.deliver_due() == {"sent": 1, "retry": 0, "failed": 1, "skipped": 0}
    db.session.expire_all()
    row = db.session.get(OutboxMessage, broken.id)
    assert row.status == "failed" and "cannot be built" in row.last_error
    assert len(mailbox.to("fine@example.org")) == 1


def test_mail_settings_come_from_the_environment():
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = dict(
        os.environ,
        MAIL_SERVER="smtp.example.net",
        MAIL_PORT="587",
        MAIL_USERNAME="robot",
        MAIL_PASSWORD="s3cret",
        MAIL_USE_TLS="true",
        MAIL_DEFAULT_SENDER="events@example.net",
    )
    code = (
        "import json, config; c = config.get_config('production'); print(json.dumps({k: getattr(c, k) for k in "
        "('MAIL_SERVER', 'MAIL_PORT', 'MAIL_USERNAME', 'MAIL_PASSWORD', 'MAIL_USE_TLS', 'MAIL_DEFAULT_SENDER')}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    ).stdout
    assert json.loads(out) == {
        "MAIL_SERVER": "smtp.example.net",
        "MAIL_PORT": 587,
        "MAIL_USERNAME": "robot",
        "MAIL_PASSWORD": "s3cret",
        "MAIL_USE_TLS": True,
        "MAIL_DEFAULT_SENDER": "events@example.net",
    }


def test_a_permanent_refusal_fails_at_once(app, mailbox, smtp_server):
    smtp_server["handler"].refuse = "554 5.7.1 Message rejected as spam"
    mail.queue("spam@example.org", "Rejected", body_text="x")
    db.session.commit()
    assert mail.deliver_due() == {"sent": 0, "retry": 0, "failed": 1, "skipped": 0}
    row = _one()
    assert row.status == "failed" and row.attempts == 1 and "554" in row.last_error


# Claims: a batch reclaimed from a stalled worker is never sent by that worker (issue 12) -----


def _slow_server(monkeypatch, handler, *, advance=None, hold_at=None):
    """Make the loopback SMTP server slow: each message it receives moves the frozen clock by
    ``advance`` (a server taking minutes per message), and the ``hold_at``-th message (1-based) is
    held until ``release`` is set. Returns (entered, release): ``entered`` is set once the held
    message has arrived."""
    import asyncio
    import threading

    entered, release = threading.Event(), threading.Event()
    original = handler.handle_DATA
    seen = {"n": 0}

    async def handle_DATA(server, session, envelope):
        seen["n"] += 1
        if advance is not None:
            clock.advance(advance)
        if seen["n"] == hold_at:
            entered.set()
            await asyncio.get_running_loop().run_in_executor(None, release.wait, 20)
        return await original(server, session, envelope)

    # aiosmtpd reads the handler's hooks when a connection opens, so new connections see this one
    monkeypatch.setattr(handler, "handle_DATA", handle_DATA)
    return entered, release


def _in_thread(app, fn, results, key):
    import threading

    def run():
        with app.app_context():
            results[key] = fn()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _deliveries(mailbox) -> dict[str, int]:
    from collections import Counter

    return Counter(str(m["To"]) for m in mailbox.messages)


def test_a_batch_reclaimed_from_a_stalled_worker_is_not_sent_again_by_it(app, mailbox, smtp_server, monkeypatch):
    """Issue 12: worker A claims 60 messages and is stuck on the first one longer than the claim
    lasts; worker B takes the batch over and delivers it. When A wakes up it must not send the
    rest: only the message A had in flight may arrive twice (it was 109 deliveries for 60)."""
    clock.freeze(clock.now())
    app.config["MAIL_BATCH_SIZE"] = 60
    for i in range(60):
        mail.queue(f"r{i:02d}@example.org", f"Batch {i}", body_text="x")
    db.session.commit()
    entered, release = _slow_server(monkeypatch, smtp_server["handler"], hold_at=1)
    results = {}
    worker_a = _in_thread(app, lambda: mail.deliver_due(60), results, "a")
    try:
        assert entered.wait(20), "worker A never reached the SMTP server"
        clock.advance(timedelta(minutes=11))  # A's claim is now older than the claim lasts
        second = mail.deliver_due(60)  # worker B, in this thread
    finally:
        release.set()
        worker_a.join(30)
    assert not worker_a.is_alive()
    assert second["sent"] == 60
    delivered = _deliveries(mailbox)
    assert len(delivered) == 60
    assert sum(delivered.values()) == 61, delivered  # 120 before claims carried a token
    assert [to for to, n in delivered.items() if n > 1] == ["r00@example.org"]  # the one A had in flight
    first, again = (m["Message-ID"] for m in mailbox.to("r00@example.org"))
    assert first == again  # one message to mail programs
    assert results["a"]["sent"] == 1 and results["a"]["skipped"] == 59
    db.session.expire_all()
    statuses = db.session.scalars(sa.select(OutboxMessage.status)).all()
    assert statuses == ["sent"] * 60


def test_a_live_worker_keeps_its_claim_while_the_server_is_slow(app, mailbox, smtp_server, monkeypatch):
    """A worker whose sends take three minutes each refreshes its claim (a heartbeat), so a second
    worker starting a quarter of an hour later takes the next messages, not this worker's."""
    clock.freeze(clock.now())
    app.config["MAIL_BATCH_SIZE"] = 20
    for i in range(40):
        mail.queue(f"h{i:02d}@example.org", f"Slow {i}", body_text="x")
    db.session.commit()
    entered, release = _slow_server(monkeypatch, smtp_server["handler"], advance=timedelta(minutes=3), hold_at=5)
    results = {}
    worker_a = _in_thread(app, lambda: mail.deliver_due(20), results, "a")
    try:
        assert entered.wait(20), "worker A never reached its fifth message"
        # 15 minutes after A claimed its 20: B takes the 20 others, none of A's
        second = mail.deliver_due(20)
    finally:
        release.set()
        worker_a.join(30)
    assert not worker_a.is_alive()
    assert second["sent"] == 20 and results["a"]["sent"] == 20
    delivered = _deliveries(mailbox)
    assert len(delivered) == 40 and set(delivered.values()) == {1}


def test_claims_are_taken_in_batches_of_mail_batch_size(app, mailbox):
    assert app.config["MAIL_BATCH_SIZE"] == 20  # the default
    for i in range(45):
        mail.queue(f"b{i:02d}@example.org", "Batched", body_text="x")
    db.session.commit()
    claim = mail.claim_due()
    assert len(claim.ids) == 20 and len(claim.token) >= 32
    db.session.expire_all()
    rows = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.status == "sending")).all()
    assert {r.id for r in rows} == set(claim.ids) and {r.claim_token for r in rows} == {claim.token}
    # a second worker gets the next 20, then the last 5
    assert set(mail.claim_due().ids).isdisjoint(claim.ids)
    assert len(mail.claim_due().ids) == 5 and mail.claim_due().ids == []


def test_a_claim_left_by_a_dead_worker_is_delivered_after_it_expires(app, mailbox):
    clock.freeze(clock.now())
    for i in range(5):
        mail.queue(f"d{i}@example.org", "Orphan", body_text="x")
    db.session.commit()
    dead = mail.claim_due()  # a worker claims, then dies without sending anything
    assert len(dead.ids) == 5
    assert mail.deliver_due()["sent"] == 0  # the claim still holds
    clock.advance(timedelta(seconds=app.config["MAIL_CLAIM_TIMEOUT"] + 1))
    assert mail.deliver_due()["sent"] == 5
    assert sorted(_deliveries(mailbox).values()) == [1] * 5


def test_worker_batch_defaults_to_mail_batch_size(app, mailbox, monkeypatch):
    claimed = []
    claim_due = mail.claim_due

    def counting_claim(size=None, **kw):
        claim = claim_due(size, **kw)
        claimed.append(len(claim.ids))
        return claim

    monkeypatch.setattr(mail, "claim_due", counting_claim)
    app.config["MAIL_BATCH_SIZE"] = 3
    for i in range(7):
        mail.queue(f"wb{i}@example.org", "x", body_text="x")
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "sent=7" in result.output and claimed == [3, 3, 1, 0]
    claimed.clear()
    for i in range(5):
        mail.queue(f"wc{i}@example.org", "x", body_text="x")
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["worker", "--once", "--batch", "2", "--limit", "4"])
    assert "sent=4" in result.output and claimed == [2, 2]


# Control characters in subjects and names (issue 12) ----------------------------------------


def test_control_characters_in_the_subject_and_name_are_cleaned(app, mailbox):
    mail.queue(
        "cr@example.org",
        "Webinar\ron trafficking\x00 \x1b[31mtoday\u2028now",
        body_text="x",
        to_name="Ana\x07 Cruz\r",
    )
    db.session.commit()
    assert mail.deliver_due()["sent"] == 1
    (msg,) = mailbox.messages
    assert msg["Subject"] == "Webinar on trafficking [31mtoday now"
    assert str(msg["To"]) == "Ana Cruz <cr@example.org>"
    assert _one().subject == "Webinar on trafficking [31mtoday now"


def test_a_message_queued_with_a_carriage_return_before_the_fix_is_delivered(app, mailbox):
    # rows written before subjects were cleaned on the way in
    db.session.add(OutboxMessage(to_addr="old@example.org", to_name="Old\rName", subject="Old\rsubject", body_text="x"))
    db.session.commit()
    assert mail.deliver_due()["sent"] == 1
    assert mailbox.messages[0]["Subject"] == "Old subject"


def test_every_mail_of_an_event_titled_with_a_carriage_return_goes_out(app, mailbox):
    from tests.factories import make_event_row, register
    from webinar_mgr.persistence import unit_of_work
    from webinar_mgr.registrations import notifications

    event = make_event_row(title="Safe migration\r\x0bonline")
    for i in range(3):
        register(event, f"reg{i}@example.org", f"Registrant\r{i}")
    with unit_of_work():
        assert notifications.notify_event_change(event, cancelled=True) == 3
    assert mail.deliver_due() == {"sent": 3, "retry": 0, "failed": 0, "skipped": 0}
    assert {m["Subject"] for m in mailbox.messages} == {"Cancelled: Safe migration online"}


def test_a_refused_message_says_why_on_the_outbox_page(app, client, make_user, login, mailbox, smtp_server):
    smtp_server["handler"].refuse = "550 5.1.1 <gone@example.org>: user unknown"
    mail.queue("gone@example.org", "Refused", body_text="x")
    broken = mail.queue("bad-attachment@example.org", "Broken", body_text="x", attachments=[{"content": "x"}])
    db.session.commit()
    assert mail.deliver_due() == {"sent": 0, "retry": 0, "failed": 2, "skipped": 0}
    db.session.expire_all()
    assert "cannot be built" in db.session.get(OutboxMessage, broken.id).last_error
    login(make_user("organiser"))
    html = client.get("/admin/outbox/?status=failed").get_data(as_text=True)
    assert "Refused by the mail server: 550 5.1.1 &lt;gone@example.org&gt;: user unknown" in html
    assert "The message cannot be built: KeyError" in html


def test_an_unexpected_error_while_sending_is_recorded_and_the_batch_goes_on(app, mailbox, monkeypatch):
    real_send = mail._Transport.send

    def send(self, email, wire=None, envelope=None, **kw):
        if "boom" in (str(email["To"]) if email is not None else " ".join(envelope[1])):
            raise RuntimeError("the transport broke")
        return real_send(self, email, wire, envelope, **kw)

    monkeypatch.setattr(mail._Transport, "send", send)
    boom = mail.queue("boom@example.org", "Boom", body_text="x")
    mail.queue("fine2@example.org", "Fine", body_text="x")
    db.session.commit()
    assert mail.deliver_due() == {"sent": 1, "retry": 1, "failed": 0, "skipped": 0}
    db.session.expire_all()
    row = db.session.get(OutboxMessage, boom.id)
    assert row.status == "queued" and row.claim_token is None
    assert row.last_error == "RuntimeError: the transport broke"


# Retrying many failed messages at once (issue 12) ------------------------------------------


def _fail_at(when, *addresses):
    """Messages that failed (refused for good) at ``when``."""
    clock.freeze(when)
    for a in addresses:
        msg = mail.queue(a, "Outage", body_text="x")
        msg.status, msg.attempts, msg.last_error, msg.last_attempt_at = "failed", 8, "451 down", when
    db.session.commit()


def test_retry_all_failed_from_the_outbox_page(app, client, make_user, login, mailbox):
    from datetime import UTC, datetime

    _fail_at(datetime(2026, 12, 1, 9, 0, tzinfo=UTC), "f1@example.org", "f2@example.org")
    _fail_at(datetime(2026, 12, 3, 9, 0, tzinfo=UTC), "f3@example.org")
    mail.queue("ok@example.org", "Sent", body_text="x")
    db.session.commit()
    mail.deliver_due()
    organiser = make_user("organiser")
    login(organiser)
    page = client.get("/admin/outbox/?status=failed").get_data(as_text=True)
    assert 'action="/admin/outbox/retry-failed"' in page
    resp = client.post("/admin/outbox/retry-failed", data={"since": ""})
    assert resp.status_code == 302
    assert "3 failed messages are queued again" in client.get(resp.headers["Location"]).get_data(as_text=True)
    db.session.expire_all()
    rows = {r.to_addr: r for r in db.session.scalars(sa.select(OutboxMessage))}
    assert {a: rows[a].status for a in ("f1@example.org", "f2@example.org", "f3@example.org")} == dict.fromkeys(
        ("f1@example.org", "f2@example.org", "f3@example.org"), "queued"
    )
    assert rows["f1@example.org"].attempts == 0 and rows["ok@example.org"].status == "sent"
    (entry,) = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "mail.retry_failed")).all()
    assert entry.actor_id == organiser.id and "3" in entry.summary
    assert mail.deliver_due()["sent"] == 3


def test_retry_failed_since_a_date_in_the_readers_zone(app, client, make_user, login):
    from datetime import UTC, datetime

    # 2 Dec 2026 starts at 1 Dec 17:00 UTC in Bangkok (UTC+07)
    _fail_at(datetime(2026, 12, 1, 16, 59, tzinfo=UTC), "early@example.org")
    _fail_at(datetime(2026, 12, 1, 17, 0, tzinfo=UTC), "late@example.org")
    login(make_user("organiser", timezone="Asia/Bangkok"))
    resp = client.post("/admin/outbox/retry-failed", data={"since": "2026-12-02"})
    assert resp.status_code == 302
    db.session.expire_all()
    status = dict(db.session.execute(sa.select(OutboxMessage.to_addr, OutboxMessage.status)).all())
    assert status == {"early@example.org": "failed", "late@example.org": "queued"}
    entry = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "mail.retry_failed")).one()
    assert "2026-12-01T17:00:00+00:00" in str(entry.changes)


def test_bulk_retry_refuses_bad_input_and_other_roles(app, client, make_user, login):
    from datetime import UTC, datetime

    _fail_at(datetime(2026, 12, 1, 9, 0, tzinfo=UTC), "x1@example.org")
    login(make_user("organiser"))
    bad = client.post("/admin/outbox/retry-failed", data={"since": "not-a-date"})
    assert bad.status_code == 400 and "Not a valid date value" in bad.get_data(as_text=True)
    future = client.post("/admin/outbox/retry-failed", data={"since": "2027-01-05"})
    assert future.status_code == 422 and "in the future" in future.get_data(as_text=True)
    assert client.get("/admin/outbox/retry-failed").status_code == 405
    db.session.expire_all()
    assert db.session.scalars(sa.select(OutboxMessage.status)).all() == ["failed"]
    participant_client = app.test_client()
    participant = make_user("participant")
    participant_client.post("/login", data={"email": participant.email, "password": "correct-horse-battery"})
    assert participant_client.post("/admin/outbox/retry-failed").status_code == 403


def test_bulk_retry_needs_the_csrf_token(app, client, make_user, login):
    login(make_user("organiser"))
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        resp = client.post("/admin/outbox/retry-failed", data={"since": ""})
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert resp.status_code == 400 and "Form expired" in resp.get_data(as_text=True)


def test_mail_retry_command(app):
    from datetime import UTC, datetime

    _fail_at(datetime(2026, 12, 1, 9, 0, tzinfo=UTC), "c1@example.org")
    _fail_at(datetime(2026, 12, 4, 9, 0, tzinfo=UTC), "c2@example.org", "c3@example.org")
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["mail", "retry"])
    assert refused.exit_code != 0 and "--failed" in refused.output
    bad = runner.invoke(args=["mail", "retry", "--failed", "--since", "04/12/2026"])
    assert bad.exit_code == 2
    result = runner.invoke(args=["mail", "retry", "--failed", "--since", "2026-12-02"])
    assert result.exit_code == 0, result.output
    assert "2 failed messages queued again" in result.output
    result = runner.invoke(args=["mail", "retry", "--failed"])
    assert "1 failed message queued again" in result.output
    db.session.expire_all()
    assert set(db.session.scalars(sa.select(OutboxMessage.status))) == {"queued"}
    assert db.session.scalar(sa.select(sa.func.count()).where(AuditEntry.action == "mail.retry_failed")) == 2
