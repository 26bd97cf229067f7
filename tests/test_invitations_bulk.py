"""Invitations sent in bulk (issue 19): each mail rendered once per event, language, zone and
category, filled in per invitee and inserted together, must be exactly the mail rendered for that
invitee alone; outbox rows go in with a few statements, whatever their number."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import event as sa_event

from tests.factories import NOW, make_event_row
from webinar_mgr import clock, tokens
from webinar_mgr.directory.models import Contact
from webinar_mgr.extensions import db
from webinar_mgr.i18n import in_language
from webinar_mgr.invitations import services
from webinar_mgr.invitations.models import Invitation
from webinar_mgr.mail import services as mail
from webinar_mgr.mail.models import OutboxMessage
from webinar_mgr.messages import services as messages

NAMES = [
    "Ana Cruz",
    "Somchai Jaidee",
    'O\'Neil & <Sons> "Q"',  # escaped in the HTML part
    "สมศรี ใจดี",
    "Nguyễn Văn A",
    "Line\nBreak",  # not one line: rendered on its own
    "http://not-a-name.example",  # would be a link: rendered on its own
    "Two  spaces",  # cleaned in a subject: rendered on its own
]


@pytest.fixture(autouse=True)
def frozen(app, monkeypatch):
    clock.freeze(NOW)
    # the same token for an invitation whenever it is made (a real one carries the second it was signed)
    monkeypatch.setattr(tokens, "make", lambda salt, payload, **kw: f"{salt}.{payload['i']}.{payload['n']}")
    yield
    clock.unfreeze()


def _invite(event, people) -> list[int]:
    ids = []
    for n, (name, language, zone) in enumerate(people):
        contact = Contact(name=name, email=f"bulk{n}@example.org", language=language, timezone=zone)
        db.session.add(contact)
        db.session.flush()
        ids.append(contact.id)
    db.session.commit()
    services.add_contacts(event.id, ids, "member", actor=None)
    services.request_send(event.id, actor=None, rest=True)
    return ids


def _people():
    langs, zones = ("en", "th"), ("Asia/Bangkok", "Pacific/Auckland")
    return [(name, langs[n % 2], zones[(n // 2) % 2]) for n, name in enumerate(NAMES * 2)]


def _one_by_one(inv: Invitation) -> tuple[str, str, str]:
    """The mail as queue() rendered it for one invitee before issue 19."""
    with in_language(inv.contact.language):
        subject, ctx = services._invitation_mail(inv, {}, token=services.make_token(inv))
        msg = mail.queue(inv.contact.email, subject, template="mail/invitation", context=ctx, to_name=inv.contact.name)
    db.session.expunge(msg)
    return msg.subject, msg.body_text, msg.body_html


def _check_every_mail(event_id: int) -> int:
    invs = db.session.scalars(sa.select(Invitation).where(Invitation.event_id == event_id)).unique().all()
    assert invs
    for inv in invs:
        assert inv.state == "sent" and inv.send_count == 1 and inv.send_requested_at is None
        row = db.session.get(OutboxMessage, inv.outbox_message_id)
        assert (row.subject, row.body_text, row.body_html) == _one_by_one(inv), inv.contact.name
        assert row.to_addr == inv.contact.email and row.to_name == mail.clean_header_text(inv.contact.name)
        assert row.category == "invitation" and row.status == "queued" and row.render_data is None
    db.session.rollback()
    return len(invs)


def test_bulk_mails_are_the_one_by_one_mails_in_two_languages_and_zones(app):
    event = make_event_row(audience="invitation", venue="Room 1 <East>")
    _invite(event, _people())
    assert services.send_requested(batch=7) == 2 * len(NAMES)
    assert _check_every_mail(event.id) == 2 * len(NAMES)
    texts = db.session.scalars(sa.select(OutboxMessage.body_text)).all()
    assert any("เรียน" in t or "Dear" not in t for t in texts) and any("Dear Ana Cruz," in t for t in texts)
    html = db.session.scalar(sa.select(OutboxMessage.body_html).where(OutboxMessage.to_name.like("O'Neil%")))
    assert "O&#39;Neil &amp; &lt;Sons&gt; &#34;Q&#34;" in html and "<Sons>" not in html


def test_bulk_mails_with_the_events_own_wording(app):
    event = make_event_row(audience="invitation")
    messages.save_mail_text(
        event,
        "invitation",
        "{name}, you are invited: {event}",
        "Dear {name},\n\nCome to {event} ({when}).\n\nYour link: {link}.\n({link})\n{name}{link}",
        actor=None,
    )
    _invite(event, _people())
    assert services.send_requested() == 2 * len(NAMES)
    assert _check_every_mail(event.id) == 2 * len(NAMES)
    subjects = db.session.scalars(sa.select(OutboxMessage.subject)).all()
    assert "Ana Cruz, you are invited: " + event.title in subjects


def test_invitations_are_queued_with_a_few_statements(app):
    event = make_event_row(audience="invitation")
    people = [(f"Person {n}", "en", "Asia/Bangkok") for n in range(60)]
    _invite(event, people)
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement.split(None, 3)[:3])

    sa_event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert services.send_requested() == 60
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", count)
    inserts = [s for s in statements if s[0].upper() == "INSERT"]
    assert len(inserts) == 1 and len(statements) < 30, statements
    assert _check_every_mail(event.id) == 60


def test_a_jobs_later_batches_reuse_the_groups_checked_mail_until_the_event_changes(app, monkeypatch):
    """send_requested renders a group's mail once for the whole job (not once per batch), and again
    after its event changes; every mail is still the one rendered for its invitee alone."""
    event = make_event_row(audience="invitation")
    _invite(event, [(f"Person {n}", "en", "Asia/Bangkok") for n in range(12)])
    rendered = []
    group_template = services._group_template

    def counted(inv, labels, language):
        rendered.append(inv.id)
        return group_template(inv, labels, language)

    monkeypatch.setattr(services, "_group_template", counted)
    assert services.send_requested(batch=4) == 12  # three batches, one group
    assert len(rendered) == 1
    assert _check_every_mail(event.id) == 12

    other = make_event_row(audience="invitation")
    title = other.title
    ids = [Contact(name=f"Guest {n}", email=f"guest{n}@example.org", timezone="Asia/Bangkok") for n in range(6)]
    db.session.add_all(ids)
    db.session.commit()
    services.add_contacts(other.id, [c.id for c in ids], "member", actor=None)
    services.request_send(other.id, actor=None, rest=True)
    rendered.clear()
    calls = {"n": 0}
    contents = services._batch_contents

    def changing(invitees, templates=None):
        calls["n"] += 1
        if calls["n"] == 2:  # the organiser renames the event between two batches
            later = clock.now() + timedelta(seconds=1)
            db.session.execute(
                sa.update(type(other)).where(type(other).id == other.id).values(title="Renamed", updated_at=later)
            )
        return contents(invitees, templates)

    monkeypatch.setattr(services, "_batch_contents", changing)
    assert services.send_requested(batch=3) == 6
    assert len(rendered) == 2  # rendered again after the change
    subjects = db.session.scalars(
        sa.select(OutboxMessage.subject).where(OutboxMessage.to_addr.like("guest%")).order_by(OutboxMessage.id)
    ).all()
    assert subjects == [f"Invitation: {title}"] * 3 + ["Invitation: Renamed"] * 3, subjects
