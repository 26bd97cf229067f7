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
    assert mail.deliver_due() == {"sent": 1, "retry": 0, "failed": 0}
    (msg,) = mailbox.messages
    assert msg["Subject"] == "Hello there"
    assert "Ana Example" in msg["To"] and "ana@example.org" in msg["To"]
    assert msg["From"] == app.config["MAIL_DEFAULT_SENDER"]
    assert msg.get_body(preferencelist=("plain",)).get_content().strip() == "Plain body"
    row = _one()
    assert row.status == "sent" and row.attempts == 1 and row.sent_at is not None
    assert mail.deliver_due() == {"sent": 0, "retry": 0, "failed": 0}  # not sent twice
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
    parts = [p for p in msg.walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1
    assert parts[0].get_param("method") == "REQUEST"
    assert parts[0].get_filename() == "invite.ics"
    assert "METHOD:REQUEST" in parts[0].get_content()


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
    assert mail.deliver_due() == {"sent": 0, "retry": 1, "failed": 0}
    row = _one()
    assert row.status == "queued" and row.attempts == 1
    assert row.next_attempt_at > clock.now()
    assert "ConnectionRefused" in row.last_error
    first_wait = row.next_attempt_at - clock.now()
    assert first_wait == timedelta(seconds=app.config["MAIL_BACKOFF_SECONDS"])

    # not due yet: nothing is tried
    assert mail.deliver_due() == {"sent": 0, "retry": 0, "failed": 0}
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
    assert mail.deliver_due() == {"sent": 0, "retry": 0, "failed": 0}
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
    assert mail.deliver_due() == {"sent": 1, "retry": 0, "failed": 1}
    db.session.expire_all()
    row = db.session.get(OutboxMessage, broken.id)
    assert row.status == "failed" and "cannot build" in row.last_error
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
    assert mail.deliver_due() == {"sent": 0, "retry": 0, "failed": 1}
    row = _one()
    assert row.status == "failed" and row.attempts == 1 and "554" in row.last_error
