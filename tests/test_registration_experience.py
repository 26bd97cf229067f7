"""Registration as a guest sees it (issue 16): seats left and the waiting list said before
submitting, the position on the waiting list afterwards, a waiting-list switch per event, a cancel
that asks first, and the manage link sent again on request (same answer for any address)."""

from __future__ import annotations

import re

import sqlalchemy as sa

from tests.factories import NOW, make_event_row
from webinar_mgr import clock
from webinar_mgr.directory.models import Contact
from webinar_mgr.events.models import Event
from webinar_mgr.extensions import db
from webinar_mgr.i18n import TZ_COOKIE
from webinar_mgr.mail import services as mail
from webinar_mgr.mail.models import OutboxMessage
from webinar_mgr.registrations.models import Registration


def _form(name: str, email: str) -> dict:
    return {
        "name": name,
        "email": email,
        "timezone": "Asia/Bangkok",
        "consent": "y",
        "organisation_name": "Migrant Care Network",
        "sector": "civil_society",
    }


def _path(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def _count(model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def test_the_form_says_seats_left_then_waiting_list_and_the_position_follows(app, client):
    clock.freeze(NOW)
    try:
        event = make_event_row(capacity=2)
        page = client.get(f"/events/{event.id}/register").get_data(as_text=True)
        assert "2 seats left." in page
        client.post(f"/events/{event.id}/register", data=_form("Ana", "ana@example.org"))
        assert "1 seat left." in client.get(f"/events/{event.id}/register").get_data(as_text=True)
        client.post(f"/events/{event.id}/register", data=_form("Ben", "ben@example.org"))
        page = client.get(f"/events/{event.id}/register").get_data(as_text=True)
        assert "The event is full: if you register, you will join the waiting list" in page
        assert "seats left" not in page
        first = client.post(f"/events/{event.id}/register", data=_form("Chai", "chai@example.org"))
        second = client.post(f"/events/{event.id}/register", data=_form("Dao", "dao@example.org"))
        assert first.status_code == second.status_code == 302
        page = client.get(_path(second.headers["Location"])).get_data(as_text=True)
        assert "You are number 2 on the waiting list" in page
        assert "you are number 2 on the waiting list" in page  # the flash says it too
        # Chai cancels: Dao moves up to number 1.
        chai = client.get(_path(first.headers["Location"])).get_data(as_text=True)
        assert "You are number 1 on the waiting list" in chai
        client.post(_path(first.headers["Location"]) + "/cancel")
        db.session.expire_all()
        dao = db.session.scalar(sa.select(Registration).where(Registration.email == "dao@example.org"))
        assert dao.status == "waitlisted"
        # (the position is computed, not stored: the old link of Dao's still shows it)
        assert "You are number 1 on the waiting list" in client.get(_path(second.headers["Location"])).get_data(
            as_text=True
        )
    finally:
        clock.unfreeze()


def test_without_a_waiting_list_a_full_event_refuses_and_saves_nothing(app, client):
    clock.freeze(NOW)
    try:
        event = make_event_row(capacity=1, waiting_list=False)
        assert client.post(f"/events/{event.id}/register", data=_form("Ana", "ana@example.org")).status_code == 302
        page = client.get(f"/events/{event.id}/register")
        assert "keeps no waiting list" in page.get_data(as_text=True)
        contacts_before = _count(Contact)
        resp = client.post(f"/events/{event.id}/register", data=_form("Ben", "ben@example.org"))
        assert resp.status_code == 403 and "keeps no waiting list" in resp.get_data(as_text=True)
        assert _count(Registration) == 1 and _count(Contact) == contacts_before  # nothing half-saved
    finally:
        clock.unfreeze()


def test_the_service_refuses_under_the_lock_when_the_event_filled_meanwhile(app):
    """The page's check is advice; the authoritative one is under the event's lock."""
    from tests.factories import registrant_data
    from webinar_mgr.errors import Conflict
    from webinar_mgr.registrations import services

    clock.freeze(NOW)
    try:
        event = make_event_row(capacity=1, waiting_list=False)
        services.register(event.id, registrant_data("Ana", "ana@example.org"))
        try:
            services.register(event.id, registrant_data("Ben", "ben@example.org"))
        except Conflict as exc:
            assert "keeps no waiting list" in exc.message
        else:
            raise AssertionError("a full event without a waiting list took a registration")
        assert _count(Registration) == 1
        assert _count(Contact, Contact.email == "ben@example.org") == 0
    finally:
        clock.unfreeze()


def test_cancel_asks_first_and_a_get_cancels_nothing(app, client):
    clock.freeze(NOW)
    try:
        event = make_event_row(capacity=5)
        manage = _path(client.post(f"/events/{event.id}/register", data=_form("Ana", "ana@example.org")).location)
        page = client.get(manage).get_data(as_text=True)
        assert f'href="{manage}/cancel"' in page  # a link to the question, not a one-click form
        confirm = client.get(manage + "/cancel")
        assert confirm.status_code == 200
        text = confirm.get_data(as_text=True)
        assert "Cancel my registration?" in text and "Yes, cancel my registration" in text
        assert db.session.scalar(sa.select(Registration.status)) == "confirmed"
        done = client.post(manage + "/cancel")
        assert done.status_code == 302
        db.session.expire_all()
        assert db.session.scalar(sa.select(Registration.status)) == "cancelled"
        page = client.get(_path(done.location)).get_data(as_text=True)
        assert "Pledge a voluntary commitment" not in page  # nothing to pledge from a cancelled one
    finally:
        clock.unfreeze()


def test_a_lost_link_is_sent_again_and_the_answer_is_the_same_for_anyone(app, client, mailbox):
    clock.freeze(NOW)
    try:
        event = make_event_row(capacity=5, title="Online recruitment and safe migration")
        client.post(f"/events/{event.id}/register", data=_form("Ana Cruz", "ana@example.org"))
        mail.deliver_due()
        mailbox.clear()
        known = client.post("/registrations/lost-link", data={"email": "ANA@example.org"}, follow_redirects=True)
        unknown = client.post("/registrations/lost-link", data={"email": "nobody@example.org"}, follow_redirects=True)
        assert known.status_code == unknown.status_code == 200
        said = "is registered for an event, a message with the links to manage each registration is on its way"
        assert said in known.get_data(as_text=True) and said in unknown.get_data(as_text=True)
        mail.deliver_due()
        assert mailbox.to("nobody@example.org") == []
        (msg,) = mailbox.to("ana@example.org")
        body = msg.get_body(("plain",)).get_content()
        assert "Online recruitment and safe migration" in body
        link = re.search(r"https?://[^/\s]+(/registrations/manage/\S+)", body).group(1)
        assert "Ana Cruz" in client.get(link).get_data(as_text=True)
        # Asked again at once: no second mail (at most one every ten minutes per address) ...
        client.post("/registrations/lost-link", data={"email": "ana@example.org"})
        assert _count(OutboxMessage, OutboxMessage.category == "registration-links") == 1
        # ... and again later: another.
        clock.freeze(NOW.replace(minute=15))
        client.post("/registrations/lost-link", data={"email": "ana@example.org"})
        assert _count(OutboxMessage, OutboxMessage.category == "registration-links") == 2
    finally:
        clock.unfreeze()


def test_a_malformed_address_gets_a_clear_message(app, client):
    resp = client.post("/registrations/lost-link", data={"email": "not an address"})
    assert resp.status_code == 400
    assert "Invalid email address" in resp.get_data(as_text=True)
    assert _count(OutboxMessage) == 0


def test_the_event_form_keeps_the_waiting_list_switch(app, client, organiser, login):
    from tests.factories import make_event

    login(organiser)
    event = make_event(organiser)
    assert event.waiting_list is True  # the default, as before
    form = client.get(f"/events/{event.id}/edit").get_data(as_text=True)
    assert re.search(r'<input[^>]*checked[^>]*name="waiting_list"', form) and "keep a waiting list" in form
    data = {
        "title": event.title,
        "kind_id": str(event.kind_id),
        "summary": event.summary,
        "timezone": event.timezone,
        "starts_local": "2027-03-10T14:00",
        "ends_local": "2027-03-10T16:00",
        "audience": event.audience,
        "capacity": "25",
    }
    assert client.post(f"/events/{event.id}/edit", data=data).status_code == 302  # box unticked
    db.session.expire_all()
    assert db.session.get(Event, event.id).waiting_list is False
    client.post(f"/events/{event.id}/edit", data={**data, "waiting_list": "y"})
    db.session.expire_all()
    assert db.session.get(Event, event.id).waiting_list is True


def test_the_form_names_each_zone_once(app, client):
    """The "When" line names the reader's zone once: "(UTC)" for a reader in UTC, not "(UTC) UTC";
    "(UTC+07) Asia/Bangkok" when the zone's name says more than its offset."""
    clock.freeze(NOW)
    try:
        event = make_event_row()
        db.session.commit()
        client.set_cookie(TZ_COOKIE, "UTC")
        page = client.get(f"/events/{event.id}/register").get_data(as_text=True)
        when = re.search(r"<dt>When</dt>\s*<dd>(.*?)</dd>", page, re.S).group(1)
        text = " ".join(re.sub(r"<[^>]+>", " ", when).split())
        assert "(UTC) UTC" not in text
        assert re.search(r"\(UTC\) .*\(UTC\+07\) Asia/Bangkok \(the event's time\)", text), text
        client.set_cookie(TZ_COOKIE, "Asia%2FManila")
        page = client.get(f"/events/{event.id}/register").get_data(as_text=True)
        when = re.search(r"<dt>When</dt>\s*<dd>(.*?)</dd>", page, re.S).group(1)
        text = " ".join(re.sub(r"<[^>]+>", " ", when).split())
        assert "(UTC+08) Asia/Manila" in text, text
    finally:
        clock.unfreeze()


def test_the_error_summary_says_what_to_do_once(app, client):
    """A registration with a missing consent: the summary gives the service's message and the
    failing fields, without a second "Please correct the form:" under "Please correct the marked
    fields." (seen in the browser pass at 390 px)."""
    clock.freeze(NOW)
    try:
        event = make_event_row()
        db.session.commit()
        form = _form("Ana", "ana@example.org")
        del form["consent"]
        page = client.post(f"/events/{event.id}/register", data=form).get_data(as_text=True)
        summary = re.search(r"<div class=\"flash flash-error error-summary\".*?</div>", page, re.S).group(0)
        assert "Please correct the marked fields." in summary
        assert "Please correct the form" not in summary
        assert 'href="#consent"' in summary
    finally:
        clock.unfreeze()
