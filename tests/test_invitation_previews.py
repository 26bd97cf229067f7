"""Organisers see who before anything happens (issue 16): "Add from the directory" lists the people
the filter matches, each ticked, and adds only those still ticked; "Send to the rest" shows who
gets the invitation and the mail as the first of them reads it, and sends only when confirmed."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from tests.factories import NOW, make_event_row
from tests.support import invitation_directory
from webinar_mgr import clock
from webinar_mgr.directory.models import Contact
from webinar_mgr.extensions import db
from webinar_mgr.invitations import services
from webinar_mgr.invitations.models import Invitation
from webinar_mgr.mail.models import OutboxMessage


@pytest.fixture
def directory(app):
    return invitation_directory()


@pytest.fixture(autouse=True)
def frozen(app):
    clock.freeze(NOW)
    yield
    clock.unfreeze()


def _emails(event_id: int) -> list[str]:
    db.session.expire_all()
    return sorted(
        db.session.scalars(
            sa.select(Contact.email)
            .join(Invitation, Invitation.contact_id == Contact.id)
            .where(Invitation.event_id == event_id)
        )
    )


def test_the_directory_filter_shows_who_and_adds_only_the_ticked(app, client, organiser, login, directory):
    login(organiser)
    event = make_event_row(audience="invitation")
    query = {"dir-sector": "member_government", "dir-category": "member"}
    page = client.get(f"/events/{event.id}/invitations/directory", query_string=query)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for name in ("Somchai P.", "Niran K.", "Maria Santos"):
        assert name in html
    assert "Dewi L." not in html  # civil society: not matched
    assert _emails(event.id) == []  # the preview adds nobody
    ticked = dict(re.findall(r'name="contact_ids" value="(\d+)" id="c\d+" checked aria-label="Add ([^"]+)"', html))
    assert set(ticked.values()) == {"Somchai P.", "Niran K.", "Maria Santos"}
    keep = [cid for cid, name in ticked.items() if name != "Niran K."]  # the organiser unticks Niran
    resp = client.post(
        f"/events/{event.id}/invitations/directory",
        data={**query, "dir-preview": "1", "contact_ids": keep},
    )
    assert resp.status_code == 302
    assert _emails(event.id) == ["maria@example.gov.ph", "somchai@example.go.th"]
    assert "2 people added to the list" in client.get(resp.location).get_data(as_text=True)
    # Again: the two are shown as already on the list; only Niran can be added.
    html = client.get(f"/events/{event.id}/invitations/directory", query_string=query).get_data(as_text=True)
    assert html.count(">already on the list<") == 2
    assert len(re.findall(r'name="contact_ids"', html)) == 1


def test_unticking_everyone_adds_nobody_and_says_so(app, client, organiser, login, directory):
    login(organiser)
    event = make_event_row(audience="invitation")
    query = {"dir-sector": "member_government", "dir-category": "member"}
    resp = client.post(f"/events/{event.id}/invitations/directory", data={**query, "dir-preview": "1"})
    assert resp.status_code == 302 and "/invitations/directory?" in resp.location
    assert "Nobody is ticked" in client.get(resp.location).get_data(as_text=True)
    assert _emails(event.id) == []


def test_a_ticked_id_outside_the_filter_is_not_added(app, client, organiser, login, directory):
    """The ticks choose among the people the filter matches, not any contact in the directory."""
    login(organiser)
    event = make_event_row(audience="invitation")
    dewi = db.session.scalar(sa.select(Contact.id).where(Contact.email == "dewi@example.org"))
    somchai = db.session.scalar(sa.select(Contact.id).where(Contact.email == "somchai@example.go.th"))
    client.post(
        f"/events/{event.id}/invitations/directory",
        data={
            "dir-sector": "member_government",
            "dir-category": "member",
            "dir-preview": "1",
            "contact_ids": [dewi, somchai],
        },
    )
    assert _emails(event.id) == ["somchai@example.go.th"]


def test_no_filter_is_a_clear_message_on_the_page(app, client, organiser, login, directory):
    login(organiser)
    event = make_event_row(audience="invitation")
    resp = client.get(f"/events/{event.id}/invitations/directory", query_string={"dir-category": "member"})
    assert resp.status_code == 422 and "Choose at least one filter" in resp.get_data(as_text=True)


def test_send_to_the_rest_shows_who_and_the_mail_first(app, client, organiser, login, directory):
    login(organiser)
    event = make_event_row(audience="invitation", title="Safe migration webinar")
    client.post(
        f"/events/{event.id}/invitations/directory",
        data={"dir-member_government_id": str(directory["ph"].id), "dir-category": "member"},
    )
    client.post(
        f"/events/{event.id}/invitations/directory",
        data={"dir-member_government_id": str(directory["th"].id), "dir-category": "member"},
    )
    index = client.get(f"/events/{event.id}/invitations").get_data(as_text=True)
    assert f'href="/events/{event.id}/invitations/send"' in index  # a link to the preview, not a form
    page = client.get(f"/events/{event.id}/invitations/send")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "3 people have not been sent the invitation yet" in html
    assert "The mail as Maria Santos will read it" in html  # the first by name
    assert "Invitation: Safe migration webinar" in html and "Dear Maria Santos," in html
    assert "(the personal link of Maria Santos)" in html and "/i/" not in html  # no real link shown
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0  # nothing sent
    assert services.state_counts(event.id)["queued"] == 0
    resp = client.post(f"/events/{event.id}/invitations/send", data={"rest": "1"})
    assert resp.status_code == 302
    assert "3 invitations are being sent" in client.get(resp.location).get_data(as_text=True)
    assert services.state_counts(event.id)["queued"] == 3
    again = client.get(f"/events/{event.id}/invitations/send").get_data(as_text=True)
    assert "nobody is left" in again


def test_the_send_preview_shows_the_events_own_invitation_wording(app, client, organiser, login, directory):
    from webinar_mgr.messages import services as messages

    login(organiser)
    event = make_event_row(audience="invitation", title="Safe migration webinar")
    client.post(
        f"/events/{event.id}/invitations/directory",
        data={"dir-member_government_id": str(directory["ph"].id), "dir-category": "member"},
    )
    messages.save_mail_text(
        event, "invitation", "Please join us: {event}", "Dear {name}, we count on you. {link}", actor=organiser
    )
    db.session.commit()
    html = client.get(f"/events/{event.id}/invitations/send").get_data(as_text=True)
    assert "Please join us: Safe migration webinar" in html and "we count on you" in html
    assert "(the personal link of Maria Santos)" in html and "/i/" not in html
