"""Issue 12, finding 4: one visibility rule for every public entry point. A draft event does not
exist for anyone but organisers, whether it is reached by its number (event page, registration
page, calendar entry, agenda PDF) or by a personal link (invitation, manage, pledge, personal
calendar feed). A cancelled event can be read but no one can register for it.

The test walks the URL map, so a new public route with an event number or a personal link is
checked without being named here."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.factories import NOW, make_event_row, register
from webinar_mgr import clock
from webinar_mgr.directory.models import Contact, Organisation
from webinar_mgr.extensions import db
from webinar_mgr.invitations import services as invitations
from webinar_mgr.invitations.models import Invitation
from webinar_mgr.registrations import feeds, manage_links
from webinar_mgr.security import PUBLIC, TOKEN, policy_of

DRAFT_TITLE = "Unannounced ministerial dialogue"


@pytest.fixture
def draft(app):
    clock.freeze(NOW)
    event = make_event_row(title=DRAFT_TITLE, status="draft", audience="invitation")
    org = Organisation(name="Kingdom of Thailand", sector="member_government")
    db.session.add(org)
    db.session.flush()
    contact = Contact(name="Somchai P.", email="somchai@example.go.th", organisation_id=org.id)
    db.session.add(contact)
    db.session.flush()
    inv = Invitation(event_id=event.id, contact_id=contact.id, category="member", state="sent")
    db.session.add(inv)
    db.session.flush()
    reg = register(event, "somchai@example.go.th", "Somchai P.", status="confirmed", contact=contact)
    reg.invitation_id = inv.id
    db.session.commit()
    yield {
        "event": event,
        "tokens": {
            "invitations.": invitations.make_token(inv),
            "registrations.manage": manage_links.make_manage_token(reg),
            "registrations.cancel": manage_links.make_manage_token(reg),
            "commitments.pledge_by_link": manage_links.make_manage_token(reg),
            "registrations.calendar_feed": feeds.feed_for(reg.email).token,
        },
    }
    clock.unfreeze()


def _token_for(endpoint: str, tokens: dict) -> str | None:
    for prefix, token in tokens.items():
        if endpoint.startswith(prefix):
            return token
    return None


def _public_urls(app, event_id: int, tokens: dict) -> list[tuple[str, str, str]]:
    """(endpoint, method, url) of every public or personal-link route reachable with the draft."""
    urls = []
    for rule in app.url_map.iter_rules():
        policy = policy_of(app.view_functions[rule.endpoint])
        if policy is None or policy.kind not in (PUBLIC, TOKEN):
            continue
        values = {}
        for arg in rule.arguments:
            if arg == "event_id":
                values[arg] = event_id
            elif arg == "token" and _token_for(rule.endpoint, tokens):
                values[arg] = _token_for(rule.endpoint, tokens)
        if not values or set(values) != set(rule.arguments):
            continue
        with app.test_request_context():
            url = app.url_map.bind("localhost").build(rule.endpoint, values)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            urls.append((rule.endpoint, method, url))
    return urls


def test_a_draft_is_not_there_for_anyone_but_organisers(app, client, draft):
    urls = _public_urls(app, draft["event"].id, draft["tokens"])
    endpoints = {e for e, _m, _u in urls}
    # the walk reaches every kind of entry point (so it cannot pass by checking nothing)
    for expected in (
        "events.detail",
        "events.calendar_ics",
        "events.agenda_pdf",
        "registrations.register",
        "registrations.manage",
        "registrations.calendar_feed",
        "invitations.open_link",
        "commitments.pledge_by_link",
    ):
        assert expected in endpoints, expected
    for endpoint, method, url in urls:
        resp = client.open(url, method=method, data={"name": "X", "email": "x@example.org", "consent": "y"})
        body = resp.get_data(as_text=False)
        assert resp.status_code == 404 or (endpoint == "registrations.calendar_feed" and resp.status_code == 200), (
            endpoint,
            method,
            resp.status_code,
        )
        assert DRAFT_TITLE.encode() not in body, (endpoint, method)
    # nothing was changed through them
    db.session.expire_all()
    assert db.session.scalar(sa.select(Invitation.state)) == "sent"


def test_organisers_still_see_their_draft(app, client, make_user, login, draft):
    login(make_user("organiser"))
    event_id = draft["event"].id
    assert DRAFT_TITLE in client.get(f"/events/{event_id}").get_data(as_text=True)
    assert client.get(f"/events/{event_id}/agenda.pdf").status_code in (200, 404)  # a draft may have no date


def test_a_cancelled_event_is_readable_but_closed(app, client):
    clock.freeze(NOW)
    try:
        event = make_event_row(title="Called-off seminar", status="cancelled", audience="open")
        db.session.commit()
        page = client.get(f"/events/{event.id}")
        assert page.status_code == 200 and "cancelled" in page.get_data(as_text=True)
        resp = client.post(
            f"/events/{event.id}/register",
            data={"name": "X", "email": "x@example.org", "timezone": "UTC", "consent": "y"},
        )
        assert resp.status_code == 403
        assert "This event has been cancelled." in resp.get_data(as_text=True)
    finally:
        clock.unfreeze()
