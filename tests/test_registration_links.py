"""Issue 12, finding 1: a manage link opens only the registration it was issued for, in the state
it was issued for. Registering someone else's address, cancelling, and waiting for the owner to
register must not leave the first person holding the owner's registration."""

from __future__ import annotations

import re

import sqlalchemy as sa

from tests.factories import NOW, make_event_row
from webinar_mgr import clock
from webinar_mgr.extensions import db
from webinar_mgr.mail import services as mail
from webinar_mgr.registrations.models import Registration

OWNER = "owner@example.go.th"


def _form(name: str, email: str = OWNER) -> dict:
    return {
        "name": name,
        "email": email,
        "timezone": "Asia/Bangkok",
        "consent": "y",
        "organisation_name": "Migrant Care Network",
        "sector": "civil_society",
    }


def _manage_path(resp) -> str:
    location = resp.headers["Location"]
    assert "/registrations/manage/" in location
    return re.sub(r"^https?://[^/]+", "", location)


def test_a_link_from_before_a_cancellation_opens_nothing_after_the_owner_registers(app, client, mailbox):
    clock.freeze(NOW)
    try:
        event = make_event_row(audience="open", capacity=10)
        db.session.commit()
        # Someone registers the owner's address and keeps the manage link the page redirects to.
        stolen = _manage_path(client.post(f"/events/{event.id}/register", data=_form("Impostor")))
        assert client.get(stolen).status_code == 200
        # ... cancels (the link used to cancel stops working at once) ...
        after_cancel = client.post(stolen + "/cancel")
        assert after_cancel.status_code == 302
        cancelled_view = _manage_path(after_cancel)
        assert cancelled_view != stolen
        assert client.get(stolen).status_code == 422
        assert "Cancelled" in client.get(cancelled_view).get_data(as_text=True)
        # ... and the real owner registers: the same row is reused, with new links.
        mine = _manage_path(client.post(f"/events/{event.id}/register", data=_form("The Owner")))
        reg = db.session.scalar(sa.select(Registration).where(Registration.email == OWNER))
        assert reg.status == "confirmed" and reg.name == "The Owner"
        for old in (stolen, cancelled_view):
            page = client.get(old)
            assert page.status_code == 422 and "The Owner" not in page.get_data(as_text=True)
            assert client.post(old + "/cancel").status_code == 422
        db.session.expire_all()
        assert db.session.get(Registration, reg.id).status == "confirmed"
        # The owner's own link works; the mails each carry the link of their moment.
        assert "The Owner" in client.get(mine).get_data(as_text=True)
        mail.deliver_due()
        links = [
            re.findall(r"http://localhost(/registrations/manage/\S+)", m.get_body(("plain",)).get_content())
            for m in mailbox.to(OWNER)
        ]
        assert len(links) == 3  # registered (impostor), cancelled, registered (owner)
        assert client.get(links[0][0]).status_code == 422  # issued while the impostor's was active
        assert links[1] == []  # the cancellation offers no "change details" link (issue 16), only the event's page
        assert client.get(links[2][0]).status_code == 200
    finally:
        clock.unfreeze()
