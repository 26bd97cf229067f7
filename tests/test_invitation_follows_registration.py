"""Issue 11: an invitation's state follows the registration it led to (registered, waiting list,
cancelled), so the invitation progress agrees with the registrations list."""

from __future__ import annotations

import sqlalchemy as sa

from tests.factories import NOW, make_event_row, registrant_data
from webinar_mgr import clock
from webinar_mgr.directory.models import Contact, Organisation
from webinar_mgr.extensions import db
from webinar_mgr.invitations import services as invitations
from webinar_mgr.invitations.models import Invitation
from webinar_mgr.registrations import services as registrations
from webinar_mgr.registrations.models import Registration


def _invite(event, name: str, email: str) -> tuple[Invitation, str]:
    org = db.session.scalar(sa.select(Organisation).where(Organisation.name == "Kingdom of Thailand"))
    if org is None:
        org = Organisation(name="Kingdom of Thailand", sector="member_government")
        db.session.add(org)
        db.session.flush()
    contact = Contact(name=name, email=email, organisation_id=org.id)
    db.session.add(contact)
    db.session.flush()
    inv = Invitation(event_id=event.id, contact_id=contact.id, category="member", state="sent")
    db.session.add(inv)
    db.session.commit()
    return inv, invitations.make_token(inv)


def _register(token: str, name: str, email: str) -> Registration:
    event_id = invitations.invitation_from_token(token).event_id
    return registrations.register(event_id, registrant_data(name, email, tz="Asia/Bangkok"), invitation_token=token)


def _states(event) -> dict[int, str]:
    db.session.expire_all()
    rows = db.session.execute(sa.select(Invitation.id, Invitation.state).where(Invitation.event_id == event.id))
    return {row.id: row.state for row in rows}


def test_invitation_follows_waiting_list_cancellation_and_promotion(app, make_user):
    clock.freeze(NOW)
    try:
        event = make_event_row(audience="invitation", capacity=1)
        first, first_token = _invite(event, "Somchai P.", "somchai@example.go.th")
        second, second_token = _invite(event, "Niran K.", "niran@example.go.th")

        reg1 = _register(first_token, "Somchai P.", "somchai@example.go.th")
        reg2 = _register(second_token, "Niran K.", "niran@example.go.th")
        assert (reg1.status, reg2.status) == ("confirmed", "waitlisted")
        assert _states(event) == {first.id: "registered", second.id: "waiting"}
        counts = invitations.state_counts(event.id)
        assert (counts["registered"], counts["waiting"], counts["cancelled"]) == (1, 1, 0)

        # The first cancels: their invitation says so, the second takes the seat.
        registrations.cancel(db.session.get(Registration, reg1.id))
        assert _states(event) == {first.id: "cancelled", second.id: "registered"}
        counts = invitations.state_counts(event.id)
        reg_counts = registrations.status_counts(event.id)
        assert counts["registered"] == reg_counts["confirmed"] + reg_counts["pending"] == 1
        assert counts["cancelled"] == reg_counts["cancelled"] == 1

        # An organiser moves the second to the waiting list, then refuses them.
        organiser = make_user("organiser")
        registrations.organiser_action(reg2.id, "waitlist", actor=organiser)
        assert _states(event)[second.id] == "waiting"
        registrations.organiser_action(reg2.id, "reject", actor=organiser)
        assert _states(event)[second.id] == "cancelled"

        # A cancelled invitee may register again through the same link: registered once more.
        again = _register(first_token, "Somchai P.", "somchai@example.go.th")
        assert again.status == "confirmed" and _states(event)[first.id] == "registered"
    finally:
        clock.unfreeze()


def test_waiting_invitees_are_not_sent_the_invitation_again(app):
    clock.freeze(NOW)
    try:
        event = make_event_row(audience="invitation", capacity=0)
        inv, token = _invite(event, "Maria Santos", "maria@example.gov.ph")
        reg = _register(token, "Maria Santos", "maria@example.gov.ph")
        assert reg.status == "waitlisted" and _states(event)[inv.id] == "waiting"
        assert invitations.request_send(event.id, actor=None, ids=[inv.id]) == 0
    finally:
        clock.unfreeze()


def test_the_invitation_page_shows_the_new_states(app, client, make_user, login):
    clock.freeze(NOW)
    try:
        event = make_event_row(audience="invitation", capacity=1)
        _invite_pair = [_invite(event, f"Person {i}", f"p{i}@example.go.th") for i in range(2)]
        for i, (_inv, token) in enumerate(_invite_pair):
            _register(token, f"Person {i}", f"p{i}@example.go.th")
        login(make_user("organiser"))
        page = client.get(f"/events/{event.id}/invitations").get_data(as_text=True)
        assert "Waiting list" in page and "Registered" in page
        waiting = client.get(f"/events/{event.id}/invitations?state=waiting").get_data(as_text=True)
        assert "p1@example.go.th" in waiting and "p0@example.go.th" not in waiting
    finally:
        clock.unfreeze()
