"""Outbox rows the worker renders (mail/deferred.py): the request writes what the mail is about,
the worker writes its words before delivery; a renderer that fails fails its message alone."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from webinar_mgr.extensions import db
from webinar_mgr.mail import deferred
from webinar_mgr.mail import services as mail
from webinar_mgr.mail.models import OutboxMessage

SEEN: list[dict] = []


@deferred.renderer("test_greeting")
def _greeting(data: dict) -> dict:
    SEEN.append(data)
    if data.get("explode"):
        raise LookupError("the person was erased")
    return {
        "subject": f"Hello {data['name']}\r\n",
        "body_text": f"Dear {data['name']},\n\nYou are number {data['number']}.",
        "attachments": [{"filename": "a.txt", "mimetype": "text/plain", "content": "x"}],
        "to_name": data["name"],
    }


def _rows() -> list[OutboxMessage]:
    db.session.expire_all()
    return db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)).all()


def test_the_request_writes_one_row_the_worker_renders_it(app, mailbox):
    SEEN.clear()
    deferred.queue_later("test_greeting", {"name": "Ana", "number": 7}, to="ana@example.org", subject="Greeting")
    db.session.commit()
    (row,) = _rows()
    assert SEEN == []  # nothing rendered in the request
    assert row.body_text == "" and row.render_kind == "test_greeting"
    assert row.render_data == {"name": "Ana", "number": 7}
    assert row.subject == "Greeting"  # provisional, for the outbox page

    assert deferred.render_pending() == 1
    (row,) = _rows()
    assert row.render_data is None and row.render_kind == "test_greeting"
    assert row.subject == "Hello Ana"  # cleaned of control characters like any subject
    assert row.body_text.startswith("Dear Ana,") and "number 7" in row.body_html
    assert row.to_name == "Ana" and row.attachments[0]["filename"] == "a.txt"
    assert deferred.render_pending() == 0  # rendered once
    assert SEEN == [{"name": "Ana", "number": 7}]


def test_the_worker_renders_before_it_delivers(app, mailbox):
    deferred.queue_later("test_greeting", {"name": "Budi", "number": 2}, to="budi@example.org", subject="Greeting")
    db.session.commit()
    assert mail.deliver_due()["sent"] == 1
    (msg,) = mailbox.to("budi@example.org")
    assert msg["Subject"] == "Hello Budi"
    assert "You are number 2." in msg.get_body(preferencelist=("plain",)).get_content()
    (row,) = _rows()
    assert row.status == "sent" and row.body_text.startswith("Dear Budi")


def test_a_failing_renderer_fails_its_message_alone(app, mailbox):
    deferred.queue_later("test_greeting", {"explode": True}, to="gone@example.org", subject="Greeting")
    deferred.queue_later("test_greeting", {"name": "Chai", "number": 3}, to="chai@example.org", subject="Greeting")
    db.session.commit()
    counts = mail.deliver_due()
    assert counts["sent"] == 1
    failed, sent = _rows()
    assert failed.status == "failed" and "the person was erased" in failed.last_error
    assert sent.status == "sent"
    assert [m["To"] for m in mailbox.messages] == ["Chai <chai@example.org>"]


def test_rolled_back_change_leaves_no_row_and_bad_input_is_refused(app):
    deferred.queue_later("test_greeting", {"name": "X", "number": 1}, to="x@example.org", subject="S")
    db.session.rollback()
    assert _rows() == []
    with pytest.raises(ValueError):
        deferred.queue_later("no_such_kind", {}, to="x@example.org", subject="S")
    with pytest.raises(ValueError):
        deferred.queue_later("test_greeting", {}, to="a@example.org, b@example.org", subject="S")


def test_dedupe_key_queues_once(app):
    data = {"name": "D", "number": 1}
    assert deferred.queue_later("test_greeting", data, to="d@example.org", subject="S", dedupe_key="k1")
    db.session.commit()
    assert deferred.queue_later("test_greeting", data, to="d@example.org", subject="S", dedupe_key="k1") is None
    db.session.commit()
    assert len(_rows()) == 1 and _rows()[0].render_data == data


def test_a_second_renderer_for_the_same_kind_is_refused():
    with pytest.raises(ValueError):
        deferred.renderer("test_greeting")(lambda data: {})


@deferred.renderer("test_templated")
def _templated(data: dict) -> dict:
    return {
        "subject": "Lupa",
        "template": "mail/lost_links",
        "context": {"name": "Ana", "rows": []},
        "language": data["language"],
    }


def test_a_template_is_rendered_in_the_language_the_renderer_names(app):
    deferred.queue_later("test_templated", {"language": "id"}, to="i@example.org", subject="S")
    deferred.queue_later("test_templated", {"language": None}, to="e@example.org", subject="S")
    db.session.commit()
    assert deferred.render_pending() == 2
    indonesian, default = _rows()
    assert 'lang="id"' in indonesian.body_html and 'lang="en"' in default.body_html
    assert indonesian.body_text != default.body_text


def test_a_database_error_while_rendering_is_not_the_message_s_fault(app, monkeypatch):
    """The database restarting mid-round (tests/test_operations_pg.py kills its connections) must
    not mark the messages failed: the round stops and rolls back, and the next one renders them."""
    from sqlalchemy.exc import OperationalError

    deferred.queue_later("test_greeting", {"name": "Eka", "number": 5}, to="eka@example.org", subject="S")
    db.session.commit()
    calls = {"n": 0}

    def dropping(data: dict) -> dict:
        calls["n"] += 1
        raise OperationalError("SELECT 1", {}, Exception("terminating connection due to administrator command"))

    monkeypatch.setitem(deferred._RENDERERS, "test_greeting", dropping)
    with pytest.raises(OperationalError):
        deferred.render_pending()
    db.session.rollback()
    (row,) = _rows()
    assert calls["n"] == 1 and row.status == "queued" and row.render_data == {"name": "Eka", "number": 5}
    monkeypatch.setitem(deferred._RENDERERS, "test_greeting", _greeting)
    assert deferred.render_pending() == 1
    assert _rows()[0].body_text.startswith("Dear Eka")
