"""Messages to an event's people, organisers' mail texts and the invitee reminder (issue 15).
Mails through the suite's real SMTP server (``mailbox``); frozen clock."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.factories import NOW, make_event_row, register, registrant_data
from webinar_mgr import clock, jobs
from webinar_mgr.audit.models import AuditEntry
from webinar_mgr.directory.models import Contact, Organisation
from webinar_mgr.errors import ValidationFailed
from webinar_mgr.events.models import Event
from webinar_mgr.extensions import db
from webinar_mgr.invitations import services as invitations
from webinar_mgr.invitations.models import Invitation
from webinar_mgr.mail import services as mail
from webinar_mgr.messages import services
from webinar_mgr.messages.models import EventMessage, EventMessageRecipient, InvitationReminder, MailText
from webinar_mgr.registrations import notifications
from webinar_mgr.registrations import services as registrations


@pytest.fixture(autouse=True)
def frozen(app):
    clock.freeze(NOW)
    yield
    clock.unfreeze()


@pytest.fixture
def event(app):
    return make_event_row(registration_closes_at=NOW + timedelta(days=8))


def _text(msg) -> str:
    return msg.get_body(("plain",)).get_content()


def _html(msg) -> str:
    return msg.get_body(("html",)).get_content()


def _invite(event, email, name, *, state="sent", org=None, language=None) -> Invitation:
    contact = Contact(email=email, name=name, organisation_id=getattr(org, "id", None), language=language)
    db.session.add(contact)
    db.session.flush()
    inv = Invitation(event_id=event.id, contact_id=contact.id, category="member", state=state)
    db.session.add(inv)
    db.session.commit()
    return inv


def _member(name: str) -> Organisation:
    org = Organisation(name=name, sector="member_government")
    db.session.add(org)
    db.session.commit()
    return org


# Placeholders -------------------------------------------------------------------------------


def test_placeholders_are_filled_and_nothing_else_is_interpreted():
    values = {"name": "Ana", "event": "Webinar", "when": "Tue", "where": "", "link": "L"}
    assert (
        services.fill("Dear {name}, {event} {{ 7*7 }} {% if x %}", values) == "Dear Ana, Webinar {{ 7*7 }} {% if x %}"
    )
    assert services.unknown_placeholders("{name} {nmae} {7*7} {{ 7*7 }} {nmae} {title}") == ["nmae", "title"]


def test_unknown_placeholder_refused_with_its_name_and_nothing_saved(event, organiser):
    with pytest.raises(ValidationFailed) as exc:
        services.save_mail_text(event, "confirmation", "Hello {nmae}", "Dear {name}, see {venue}.", actor=organiser)
    assert "{nmae}" in exc.value.field_errors["subject"][0]
    assert "{venue}" in exc.value.field_errors["body"][0]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MailText)) == 0


def test_empty_subject_and_body_refused(event, organiser):
    with pytest.raises(ValidationFailed) as exc:
        services.save_mail_text(event, "confirmation", "  \n ", "", actor=organiser)
    assert set(exc.value.field_errors) == {"subject", "body"}
    with pytest.raises(ValidationFailed):
        services.save_mail_text(event, "no_such_kind", "S", "B", actor=organiser)


# Mail texts in the mails -----------------------------------------------------------------------

ORGANISER_BODY = "Dear {name},\n\nWelcome to {event} on {when}. Bring <b>your</b> ID & badge. {{ 7*7 }}"


def test_confirmation_with_organiser_text_keeps_links_calendar_and_footer(event, organiser, mailbox):
    services.save_mail_text(event, "confirmation", "Welcome, {name}: {event}", ORGANISER_BODY, actor=organiser)
    registrations.register(event.id, registrant_data(name="Ana <Cruz>", tz="Asia/Tokyo"))
    mail.deliver_due()
    (msg,) = mailbox.to("ana.cruz@example.org")
    assert msg["Subject"] == f"Welcome, Ana <Cruz>: {event.title}"
    text = _text(msg)
    assert "Dear Ana <Cruz>," in text and "Bring <b>your</b> ID & badge. {{ 7*7 }}\r\n" in text
    assert "Asia/Tokyo" in text  # {when} in the recipient's zone
    assert "Manage my registration" in text and "http://localhost/registrations/manage/" in text
    assert "Join link: https://meet.example.org/j/123" in text
    assert "calendar entry" in text
    assert "Privacy notice" in text  # the footer stays
    html = _html(msg)
    assert "&lt;b&gt;your&lt;/b&gt;" in html and "<b>your</b>" not in html
    assert "Ana &lt;Cruz&gt;" in html and "&amp; badge" in html and "{{ 7*7 }}" in html
    assert any(part.get_content_type() == "text/calendar" for part in msg.walk())


def test_reset_brings_back_the_default_wording(event, organiser, mailbox):
    services.save_mail_text(event, "confirmation", "Custom {event}", "Custom words for {name}.", actor=organiser)
    assert services.reset_mail_text(event, "confirmation", actor=organiser) is True
    assert services.reset_mail_text(event, "confirmation", actor=organiser) is False
    registrations.register(event.id, registrant_data())
    mail.deliver_due()
    (msg,) = mailbox.to("ana.cruz@example.org")
    assert msg["Subject"].startswith("Registration confirmed:")
    assert "Custom words" not in _text(msg)
    actions = set(db.session.scalars(sa.select(AuditEntry.action)))
    assert {"mail_text.save", "mail_text.reset"} <= actions


def test_waiting_list_text_only_for_the_waiting_list(event, organiser, mailbox):
    event.capacity = 1
    db.session.commit()
    services.save_mail_text(event, "waiting_list", "Full: {event}", "Sorry {name}, it is full.", actor=organiser)
    registrations.register(event.id, registrant_data())
    registrations.register(event.id, registrant_data("Ben", "ben@example.org"))
    mail.deliver_due()
    assert mailbox.to("ana.cruz@example.org")[0]["Subject"].startswith("Registration confirmed")
    ben = mailbox.to("ben@example.org")[0]
    assert ben["Subject"] == f"Full: {event.title}" and "Sorry Ben, it is full." in _text(ben)
    assert "Manage my registration" in _text(ben)


def test_preview_as_a_named_recipient_hides_their_link(event, organiser):
    reg = register(event, "kim@example.org", "Kim Lee")
    shown = services.preview_mail_text(event, "reminder", "Soon: {event}", "Hi {name}, {link}", f"r{reg.id}")
    assert shown.recipient_name == "Kim Lee" and "Hi Kim Lee, (the personal link of Kim Lee)" in shown.body_text
    assert shown.subject == f"Soon: {event.title}"
    with pytest.raises(ValidationFailed):
        services.preview_mail_text(event, "reminder", "Soon", "{oops}", None)


def test_copy_mail_texts(event, organiser):
    target = make_event_row(title="Next year")
    services.save_mail_text(event, "invitation", "Come to {event}", "Dear {name}", actor=organiser)
    services.save_mail_text(target, "invitation", "Old", "Old text", actor=organiser)
    services.set_reminder(event, 4, actor=organiser)
    assert services.copy_mail_texts(event, target, actor=organiser) == 1
    db.session.commit()
    assert services.mail_text(target.id, "invitation").subject == "Come to {event}"
    assert services.reminder_days(target.id) == 4


# Messages ------------------------------------------------------------------------------------


def test_filtered_message_goes_only_to_the_matching_people(event, organiser, mailbox):
    thailand, fiji = _member("Thailand"), _member("Fiji")
    a = register(event, "a@example.org", "Anong", member=thailand, sector="member_government")
    register(event, "b@example.org", "Bula", member=fiji, sector="member_government")
    register(event, "c@example.org", "Chai", member=thailand, status="waitlisted")
    register(event, "d@example.org", "Dara", member=thailand, status="cancelled")
    audience = services.Audience("confirmed", member_government_id=thailand.id)
    preview = services.preview_message(event, audience, "Note for {name}", "Hello {name}, {{ x }} <i>")
    assert [p.email for p in preview.recipients] == ["a@example.org"]
    assert "Hello Anong, {{ x }} <i>" in preview.mail.body_text
    message = services.send_message(event, audience, "Note for {name}", "Hello {name}, {{ x }} <i>", actor=organiser)
    assert message.recipient_count == 1 and message.filter == {
        "audience": "confirmed",
        "member_government_id": thailand.id,
    }
    rows = db.session.scalars(sa.select(EventMessageRecipient)).all()
    assert [(r.email, r.registration_id) for r in rows] == [("a@example.org", a.id)] and rows[0].outbox_message_id
    mail.deliver_due()
    assert len(mailbox) == 1
    (msg,) = mailbox.to("a@example.org")
    assert msg["Subject"] == "Note for Anong"
    assert "Hello Anong, {{ x }} <i>" in _text(msg) and "Manage my registration" in _text(msg)
    assert "&lt;i&gt;" in _html(msg)
    waiting = services.recipients(event, services.Audience("waiting"))
    assert [r.email for r in waiting] == ["c@example.org"]
    everyone = services.recipients(event, services.Audience("registrants"))
    assert sorted(r.email for r in everyone) == ["a@example.org", "b@example.org", "c@example.org"]
    by_sector = services.recipients(event, services.Audience("registrants", sector="member_government"))
    assert sorted(r.email for r in by_sector) == ["a@example.org", "b@example.org"]


def test_message_with_no_recipients_or_no_subject_is_refused_and_nothing_kept(event, organiser):
    register(event, "a@example.org", "Anong")
    with pytest.raises(ValidationFailed) as exc:
        services.send_message(event, services.Audience("waiting"), "Hello", "Text", actor=organiser)
    assert "no recipients" in exc.value.message
    with pytest.raises(ValidationFailed) as exc:
        services.send_message(event, services.Audience("confirmed"), "", "Text", actor=organiser)
    assert "subject" in exc.value.field_errors
    with pytest.raises(ValidationFailed):
        services.send_message(event, services.Audience("confirmed"), "Hi {who}", "Text", actor=organiser)
    with pytest.raises(ValidationFailed):
        services.send_message(event, services.Audience("nobody"), "Hi", "Text", actor=organiser)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EventMessage)) == 0
    assert services.messages_of(event.id) == []


def test_message_to_invitees_who_have_not_answered_has_their_register_link(event, organiser, mailbox):
    _invite(event, "sent@example.org", "Sent Person")
    _invite(event, "opened@example.org", "Opened Person", state="opened")
    _invite(event, "declined@example.org", "Declined Person", state="declined")
    _invite(event, "draft@example.org", "Draft Person", state="draft")
    message = services.send_message(
        event, services.Audience("not_answered"), "Please answer", "Dear {name}", actor=organiser
    )
    assert message.recipient_count == 2
    mail.deliver_due()
    assert sorted(str(m["To"]) for m in mailbox.messages) == [
        "Opened Person <opened@example.org>",
        "Sent Person <sent@example.org>",
    ]
    text = _text(mailbox.to("sent@example.org")[0])
    assert "Dear Sent Person" in text and "http://localhost/i/" in text
    assert "Decline in one click" in text


# The invitee reminder ------------------------------------------------------------------------


def test_invitee_reminder_off_by_default_then_once_each(event, organiser, mailbox):
    _invite(event, "sent@example.org", "Sent Person")
    _invite(event, "opened@example.org", "Opened Person", state="opened")
    _invite(event, "registered@example.org", "Reg Person", state="registered")
    clock.freeze(NOW + timedelta(days=6))  # registration closes in 2 days
    assert jobs.run_scheduled()["invitee-reminders"] == 0  # off by default
    services.set_reminder(event, 3, actor=organiser)
    clock.freeze(NOW + timedelta(days=4))  # 4 days before: not yet
    assert services.send_invitee_reminders() == 0
    clock.freeze(NOW + timedelta(days=5, hours=1))  # under 3 days before
    assert jobs.run_scheduled()["invitee-reminders"] == 2
    assert services.send_invitee_reminders() == 0  # each invitee once
    assert db.session.scalar(sa.select(sa.func.count()).select_from(InvitationReminder)) == 2
    mail.deliver_due()
    (msg,) = mailbox.to("sent@example.org")
    assert msg["Subject"] == f"Reminder: your invitation to {event.title}"
    assert "Decline in one click" in _text(msg)
    assert not mailbox.to("registered@example.org")
    clock.freeze(NOW + timedelta(days=9))  # registration closed: nothing more
    _invite(event, "late@example.org", "Late Person")
    assert services.send_invitee_reminders() == 0


def test_invitee_reminder_uses_the_events_wording_and_refuses_bad_days(event, organiser, mailbox):
    _invite(event, "sent@example.org", "Sent Person")
    services.save_mail_text(
        event, "invitation_reminder", "Last call: {event}", "{name}, answer please.", actor=organiser
    )
    with pytest.raises(ValidationFailed):
        services.set_reminder(event, 0, actor=organiser)
    services.set_reminder(event, 2, actor=organiser)
    clock.freeze(NOW + timedelta(days=7))
    assert services.send_invitee_reminders() == 1
    mail.deliver_due()
    (msg,) = mailbox.to("sent@example.org")
    assert msg["Subject"] == f"Last call: {event.title}" and "Sent Person, answer please." in _text(msg)


# Pages ---------------------------------------------------------------------------------------


def test_pages_for_organisers_only(client, login, event, organiser, make_user):
    login(make_user("participant"))
    assert client.get(f"/events/{event.id}/messages").status_code == 403
    assert client.get(f"/events/{event.id}/mail-texts").status_code == 403


def test_pages_preview_send_and_errors(app, client, login, event, organiser, mailbox):
    app.config["WTF_CSRF_ENABLED"] = False
    register(event, "a@example.org", "Anong")
    login(organiser)
    assert client.get(f"/events/{event.id}/messages").status_code == 200
    data = {"audience": "confirmed", "subject": "Hi {name}", "body": "Text {{ 7*7 }}", "action": "preview"}
    page = client.post(f"/events/{event.id}/messages", data=data).get_data(as_text=True)
    assert "a@example.org" in page and "Send to 1 person" in page and "Text {{ 7*7 }}" in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EventMessage)) == 0
    resp = client.post(f"/events/{event.id}/messages", data={**data, "action": "send"})
    assert resp.status_code == 302
    history = client.get(f"/events/{event.id}/messages").get_data(as_text=True)
    assert "Hi {name}" in history and "Confirmed registrants" in history
    mail.deliver_due()
    assert mailbox.to("a@example.org")[0]["Subject"] == "Hi Anong"
    resp = client.post(f"/events/{event.id}/messages", data={**data, "audience": "waiting"})
    assert resp.status_code == 422 and "no recipients" in resp.get_data(as_text=True)
    resp = client.post(f"/events/{event.id}/messages", data={**data, "member_government_id": "x"})
    assert resp.status_code == 422
    resp = client.post(f"/events/{event.id}/mail-texts/confirmation", data={"subject": "S {bad}", "body": "B"})
    assert resp.status_code == 422 and "{bad}" in resp.get_data(as_text=True)
    resp = client.post(f"/events/{event.id}/mail-texts/nope", data={"subject": "S", "body": "B"})
    assert resp.status_code == 404
    resp = client.post(
        f"/events/{event.id}/mail-texts/confirmation",
        data={"subject": "S {event}", "body": "B {name}", "action": "preview", "recipient": ""},
    )
    assert resp.status_code == 200 and "B Anong" in resp.get_data(as_text=True)
    resp = client.post(f"/events/{event.id}/messages/reminder", data={"enabled": "y", "days_before": "abc"})
    assert resp.status_code == 422
    resp = client.post(f"/events/{event.id}/messages/reminder", data={"enabled": "y", "days_before": "5"})
    assert resp.status_code == 302 and services.reminder_days(event.id) == 5


def test_reminder_and_follow_up_take_the_events_wording(event, organiser, mailbox):
    services.save_mail_text(event, "reminder", "Tomorrow: {event}", "{name}, see you {when}.", actor=organiser)
    services.save_mail_text(event, "follow_up", "How was {event}?", "{name}, tell us.", actor=organiser)
    registrations.register(event.id, registrant_data(tz="Asia/Manila"))
    clock.freeze(event.starts_at - timedelta(hours=23))
    assert notifications.send_reminders() == 1
    mail.queue(
        "ana.cruz@example.org",
        "unused",
        template="mail/feedback_request",
        context={"event": event, "name": "Ana Cruz", "title": event.title, "url": "http://localhost/feedback/t"},
    )
    db.session.commit()
    mailbox.clear()
    mail.deliver_due()
    subjects = {m["Subject"]: m for m in mailbox.to("ana.cruz@example.org")}
    reminder = subjects[f"Tomorrow: {event.title}"]
    assert "Ana Cruz, see you" in _text(reminder) and "Asia/Manila" in _text(reminder)
    assert "Manage my registration" in _text(reminder)
    follow_up = subjects[f"How was {event.title}?"]
    assert "Ana Cruz, tell us." in _text(follow_up) and "http://localhost/feedback/t" in _text(follow_up)


def test_copying_an_event_copies_its_mail_texts(app, client, login, event, organiser):
    app.config["WTF_CSRF_ENABLED"] = False
    services.save_mail_text(event, "confirmation", "Welcome to {event}", "Dear {name}, welcome.", actor=organiser)
    services.set_reminder(event, 3, actor=organiser)
    login(organiser)
    resp = client.post(
        f"/events/{event.id}/copy", data={"title": "The same, next year", "starts_local": "2027-11-12T10:00"}
    )
    assert resp.status_code == 302, re.findall(r"<li>.*?</li>|<strong>.*?</strong>", resp.get_data(as_text=True))
    db.session.expire_all()
    copy = db.session.scalar(sa.select(Event).where(Event.title == "The same, next year"))
    assert copy is not None and copy.id != event.id
    assert services.mail_text(copy.id, "confirmation").body == "Dear {name}, welcome."
    assert services.reminder_days(copy.id) == 3
    assert services.mail_text(event.id, "confirmation") is not None  # the source keeps its own


def test_invitation_takes_the_events_wording_with_the_personal_links(event, organiser, mailbox):
    inv = _invite(event, "guest@example.org", "Guest <One>", state="draft")
    services.save_mail_text(event, "invitation", "Join us: {event}", "Dear {name}, see {link}", actor=organiser)
    invitations.request_send(event.id, actor=organiser, ids=[inv.id])
    assert invitations.send_requested() == 1
    mail.deliver_due()
    (msg,) = mailbox.to("guest@example.org")
    assert msg["Subject"] == f"Join us: {event.title}"
    text = _text(msg)
    assert text.startswith("Dear Guest <One>, see http://localhost/i/")
    assert "Cannot come? Decline in one click:" in text and "/decline" in text
    assert "Guest &lt;One&gt;" in _html(msg)
