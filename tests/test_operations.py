"""What the app and the worker do when the database goes away for a moment (issue 18; the real
restart, with pg_terminate_backend, is in tests/test_operations_pg.py): a clear 503 that says
whether anything was saved, never a 500, and a worker that waits and goes on."""

from __future__ import annotations

import sqlalchemy as sa

from tests.factories import NOW, make_event_row
from webinar_mgr import clock
from webinar_mgr.extensions import db
from webinar_mgr.mail import services as mail
from webinar_mgr.mail.models import OutboxMessage
from webinar_mgr.registrations import services as registrations
from webinar_mgr.registrations.models import Registration


def _lost(*_args, **_kwargs):
    raise sa.exc.OperationalError("SELECT 1", {}, Exception("terminating connection due to administrator command"))


def _form():
    return {
        "name": "Ana Cruz",
        "email": "ana@example.org",
        "organisation_name": "Migrant Care Network",
        "sector": "civil_society",
        "timezone": "Asia/Manila",
        "consent": "y",
    }


def test_a_request_that_loses_the_database_gets_a_clear_503(client, app, monkeypatch):
    clock.freeze(NOW)
    event = make_event_row()
    monkeypatch.setattr(registrations, "_validate", _lost)
    resp = client.post(f"/events/{event.id}/register", data=_form())
    body = resp.get_data(as_text=True)
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "30"
    assert "Please try again" in body and "Nothing was saved by this request" in body
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Registration)) == 0


def test_a_request_saved_before_the_database_went_says_so(client, app, monkeypatch):
    clock.freeze(NOW)
    event = make_event_row()
    # The registration is committed, then the page after it cannot read the database.
    real = registrations.register

    def register_then_lose(*args, **kwargs):
        real(*args, **kwargs)
        _lost()

    monkeypatch.setattr(registrations, "register", register_then_lose)
    resp = client.post(f"/events/{event.id}/register", data=_form())
    assert resp.status_code == 503 and "What you sent was saved" in resp.get_data(as_text=True)
    assert db.session.scalar(sa.select(Registration.email)) == "ana@example.org"


def test_the_worker_waits_when_the_database_is_gone_and_goes_on(app, mailbox, monkeypatch):
    db.session.add(OutboxMessage(to_addr="ana@example.org", subject="Hello", body_text="Hello"))
    db.session.commit()
    real = mail.deliver_due
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            _lost()
        return real(*args, **kwargs)

    monkeypatch.setattr(mail, "deliver_due", flaky)
    out = app.test_cli_runner().invoke(args=["worker", "--rounds", "1", "--interval", "0"])
    assert out.exit_code == 0, out.output
    assert calls["n"] == 2 and "sent=1" in out.output
    assert len(mailbox.to("ana@example.org")) == 1


def test_a_cron_run_of_the_worker_says_the_database_did_not_answer(app, monkeypatch):
    monkeypatch.setattr(mail, "deliver_due", _lost)
    out = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert out.exit_code == 1 and "The database did not answer; nothing is lost: run again." in out.output
