"""The API's remaining resources (issue 14): invitations (list, invite), registering a contact,
check-in, commitments (public without a token, the tracker with one), contacts, and the review's
figures - each through the same services as the pages, with the same rules and roles."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from tests.factories import NOW, make_event_row, register
from tests.review_dataset import NOW as REVIEW_NOW
from tests.review_dataset import THAI, build_dataset
from tests.support import auth, problem, token_for
from webinar_mgr import clock
from webinar_mgr.attendance.models import AttendanceRecord
from webinar_mgr.audit.models import AuditEntry
from webinar_mgr.commitments.models import Commitment
from webinar_mgr.directory.models import Contact, Organisation
from webinar_mgr.events import settings as event_settings
from webinar_mgr.extensions import db
from webinar_mgr.invitations import services as invitations
from webinar_mgr.invitations.models import Invitation
from webinar_mgr.mail.models import OutboxMessage
from webinar_mgr.registrations.models import Registration


@pytest.fixture(autouse=True)
def kinds(app):
    event_settings.kinds()


@pytest.fixture
def frozen(app):
    clock.freeze(NOW)
    yield
    clock.unfreeze()


@pytest.fixture
def people(app):
    th = Organisation(name="Kingdom of Thailand", sector="member_government")
    ngo = Organisation(name="Migrant Care Network", sector="civil_society")
    db.session.add_all([th, ngo])
    db.session.flush()
    somchai = Contact(name="Somchai P.", email="somchai@example.go.th", organisation_id=th.id, timezone="Asia/Bangkok")
    dewi = Contact(name="Dewi L.", email="dewi@example.org", organisation_id=ngo.id)
    db.session.add_all([somchai, dewi])
    db.session.commit()
    return {"th": th, "ngo": ngo, "somchai": somchai, "dewi": dewi}


def _count(model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


# Invitations --------------------------------------------------------------------------------------


def test_invite_contacts_and_list_the_invitations(client, frozen, organiser, people):
    event = make_event_row(audience="invitation")
    token = token_for(organiser, "invitations:read", "invitations:write")
    ids = [people["somchai"].id, people["dewi"].id]
    resp = client.post(
        f"/api/v1/events/{event.id}/invitations", json={"contact_ids": ids, "category": "member"}, headers=auth(token)
    )
    assert resp.status_code == 201 and resp.get_json() == {"added": 2, "sending": 0}
    again = client.post(
        f"/api/v1/events/{event.id}/invitations",
        json={"contact_ids": ids, "category": "member", "send": True},
        headers=auth(token),
    )
    assert again.get_json() == {"added": 0, "sending": 0}  # already invited: skipped, nothing resent
    listing = client.get(f"/api/v1/events/{event.id}/invitations", headers=auth(token)).get_json()
    assert [(i["contact"]["email"], i["state"]) for i in listing["items"]] == [
        ("dewi@example.org", "not_sent"),
        ("somchai@example.go.th", "not_sent"),
    ]
    assert _count(AuditEntry, AuditEntry.action == "invitation.add") == 2  # the page's audit entry, via the service


def test_invite_and_send_at_once(client, frozen, organiser, people):
    event = make_event_row(audience="invitation")
    token = token_for(organiser, "invitations:read", "invitations:write")
    resp = client.post(
        f"/api/v1/events/{event.id}/invitations",
        json={"contact_ids": [people["somchai"].id], "category": "member", "send": True},
        headers=auth(token),
    )
    assert resp.get_json() == {"added": 1, "sending": 1}
    assert invitations.send_requested() == 1
    assert _count(OutboxMessage, OutboxMessage.to_addr == "somchai@example.go.th") == 1
    states = client.get(f"/api/v1/events/{event.id}/invitations?state=queued", headers=auth(token)).get_json()
    assert [i["contact"]["name"] for i in states["items"]] == ["Somchai P."]


def test_invite_refuses_unknown_contacts_and_categories_and_saves_nothing(client, frozen, organiser, people):
    event = make_event_row(audience="invitation")
    token = token_for(organiser, "invitations:write")
    body = problem(
        client.post(
            f"/api/v1/events/{event.id}/invitations",
            json={"contact_ids": [people["somchai"].id, 999999], "category": "member"},
            headers=auth(token),
        ),
        422,
    )
    assert "999999" in body["errors"]["contact_ids"][0]
    body = problem(
        client.post(
            f"/api/v1/events/{event.id}/invitations",
            json={"contact_ids": [people["somchai"].id], "category": "vip"},
            headers=auth(token),
        ),
        422,
    )
    assert "category" in body["errors"]
    assert _count(Invitation) == 0


def test_a_participants_token_cannot_read_or_write_invitations(client, frozen, make_user, people):
    event = make_event_row(audience="invitation")
    participant = make_user("participant", email="p@example.org")
    with pytest.raises(Exception, match="role"):
        token_for(participant, "invitations:read")
    token = token_for(participant, "events:read")
    problem(client.get(f"/api/v1/events/{event.id}/invitations", headers=auth(token)), 403)


# Registering a contact ----------------------------------------------------------------------------


def test_register_a_contact_through_their_invitation(client, frozen, organiser, people, mailbox):
    event = make_event_row(audience="invitation", capacity=1)
    invitations.add_contacts(event.id, [people["somchai"].id], "member", actor=organiser)
    token = token_for(organiser, "registrations:write", "registrations:read")
    resp = client.post(
        f"/api/v1/events/{event.id}/registrations",
        json={"contact_id": people["somchai"].id, "consent": True},
        headers=auth(token),
    )
    assert resp.status_code == 201, resp.get_data(as_text=True)
    reg = resp.get_json()
    assert reg["status"] == "confirmed" and reg["email"] == "somchai@example.go.th"
    assert reg["organisation"]["name"] == "Kingdom of Thailand" and reg["timezone"] == "Asia/Bangkok"
    inv = db.session.scalar(sa.select(Invitation))
    assert inv.state == "registered"  # the invitation follows, as when the person registers
    # Dewi has no invitation: this event is by invitation only, the same rule as the form.
    problem(
        client.post(
            f"/api/v1/events/{event.id}/registrations",
            json={"contact_id": people["dewi"].id, "consent": True},
            headers=auth(token),
        ),
        403,
    )
    # Twice: a conflict, nothing changes.
    problem(
        client.post(
            f"/api/v1/events/{event.id}/registrations",
            json={"contact_id": people["somchai"].id, "consent": True},
            headers=auth(token),
        ),
        409,
    )
    assert _count(Registration) == 1


def test_register_a_guest_by_name_and_email_with_the_forms_rules(client, frozen, organiser):
    event = make_event_row(audience="open", capacity=1, waiting_list=False)
    token = token_for(organiser, "registrations:write")
    body = {
        "name": "Ana Cruz",
        "email": "ana@example.org",
        "organisation_name": "Migrant Care Network",
        "sector": "civil_society",
        "timezone": "Asia/Manila",
        "consent": True,
    }
    assert client.post(f"/api/v1/events/{event.id}/registrations", json=body, headers=auth(token)).status_code == 201
    full = problem(
        client.post(
            f"/api/v1/events/{event.id}/registrations",
            json={**body, "email": "ben@example.org", "name": "Ben"},
            headers=auth(token),
        ),
        409,
    )
    assert "no waiting list" in full["detail"]
    refused = problem(
        client.post(
            f"/api/v1/events/{event.id}/registrations",
            json={**body, "email": "carla@example.org", "consent": False},
            headers=auth(token),
        ),
        422,
    )
    assert "consent" in refused["errors"]
    missing = problem(
        client.post(f"/api/v1/events/{event.id}/registrations", json={"consent": True}, headers=auth(token)), 422
    )
    assert "contact_id" in missing["errors"]
    assert _count(Registration) == 1


# Check-in -----------------------------------------------------------------------------------------


def test_check_in_a_confirmed_registrant_once(client, frozen, organiser):
    event = make_event_row(audience="open")
    reg = register(event, "ana@example.org", "Ana Cruz")
    token = token_for(organiser, "attendance:write", "attendance:read")
    first = client.post(
        f"/api/v1/events/{event.id}/attendance/checkins", json={"registration_id": reg.id}, headers=auth(token)
    )
    second = client.post(
        f"/api/v1/events/{event.id}/attendance/checkins", json={"registration_id": reg.id}, headers=auth(token)
    )
    assert first.status_code == second.status_code == 201
    assert first.get_json()["checked_in_at"] == second.get_json()["checked_in_at"]  # the first stands
    assert _count(AttendanceRecord) == 1
    counts = client.get(f"/api/v1/events/{event.id}/attendance", headers=auth(token)).get_json()["counts"]
    assert counts["checked_in"] == 1
    other = make_event_row(audience="open", title="Another")
    problem(
        client.post(
            f"/api/v1/events/{other.id}/attendance/checkins", json={"registration_id": reg.id}, headers=auth(token)
        ),
        404,
    )


# Commitments --------------------------------------------------------------------------------------


def _commitment(event, reg, *, status="pledged", public=False, target=None, delivered=False):
    c = Commitment(
        event_id=event.id,
        registration_id=reg.id,
        contact_id=reg.contact_id,
        kind="social_media_post",
        description=f"A post by {reg.name}",
        target_date=target or (NOW + timedelta(days=100)).date(),
        status=status,
        public=public,
        delivered_at=NOW if delivered else None,
    )
    db.session.add(c)
    db.session.commit()
    return c


def test_commitments_public_without_a_token_and_the_tracker_with_one(client, frozen, organiser, make_user):
    event = make_event_row(audience="open")
    ana = register(event, "ana@example.org", "Ana Cruz")
    ben = register(event, "ben@example.org", "Ben Lee")
    _commitment(event, ana, status="delivered", public=True, delivered=True)
    _commitment(event, ben, status="delivered", public=False, delivered=True)
    _commitment(event, ben, target=date(2026, 10, 1))  # overdue (NOW is 2 Nov 2026)
    public = client.get("/api/v1/commitments").get_json()["items"]
    assert [c["description"] for c in public] == ["A post by Ana Cruz"]
    assert public[0]["pledged_by"] is None  # no names without a token
    problem(client.get("/api/v1/commitments?status=pledged"), 422)  # filters are the tracker's
    cochair = make_user("cochair", email="cochair@example.org")
    token = token_for(cochair, "commitments:read")
    tracker = client.get("/api/v1/commitments", headers=auth(token)).get_json()["items"]
    assert len(tracker) == 3 and {c["pledged_by"] for c in tracker} == {"Ana Cruz", "Ben Lee"}
    overdue = client.get("/api/v1/commitments?overdue=true", headers=auth(token)).get_json()["items"]
    assert [(c["status"], c["overdue"]) for c in overdue] == [("pledged", True)]
    paged = client.get("/api/v1/commitments?limit=2", headers=auth(token))
    assert len(paged.get_json()["items"]) == 2 and 'rel="next"' in paged.headers["Link"]
    rest = client.get(paged.get_json()["next"], headers=auth(token)).get_json()
    assert len(rest["items"]) == 1 and rest["next"] is None


# Contacts -----------------------------------------------------------------------------------------


def test_contacts_for_organisers_only(client, frozen, organiser, make_user, people):
    token = token_for(organiser, "contacts:read")
    items = client.get("/api/v1/contacts?sector=civil_society", headers=auth(token)).get_json()["items"]
    assert [(c["name"], c["organisation"]["name"]) for c in items] == [("Dewi L.", "Migrant Care Network")]
    found = client.get("/api/v1/contacts?q=somchai", headers=auth(token)).get_json()["items"]
    assert [c["email"] for c in found] == ["somchai@example.go.th"]
    cochair = make_user("cochair", email="cochair@example.org")
    with pytest.raises(Exception, match="role"):
        token_for(cochair, "contacts:read")  # names and addresses are the organisers'
    problem(client.get("/api/v1/contacts", headers=auth(token_for(cochair, "directory:read"))), 403)


# The review ---------------------------------------------------------------------------------------


def test_the_review_figures_are_the_pages(client, make_user):
    build_dataset()
    clock.freeze(REVIEW_NOW)
    try:
        cochair = make_user("cochair", email="cochair@example.org")
        token = token_for(cochair, "review:read")
        data = client.get("/api/v1/review?from=2026-01-01&to=2026-06-30", headers=auth(token)).get_json()
        first = data["events"][0]
        assert (first["code"], first["title"], first["date"]) == ("E1", "Technology and trafficking", "2026-01-15")
        # As counted by hand in tests/review_dataset.py (and asserted for the page in test_reports).
        assert (first["invited"], first["registered"], first["confirmed"], first["attended"]) == (6, 5, 3, 3)
        thai = next(m for m in data["by_member_government"] if m["name"] == THAI)
        assert [(c["attended"], c["registered"]) for c in thai["events"]] == [(1, 2), (1, 1), (1, 1)]
        assert thai["events_attended"] == 3
        sectors = {s["sector"]: s["attended"] for s in data["by_sector"]}
        assert sum(sectors.values()) == data["total"]["attended"]
        problem(client.get("/api/v1/review?from=2026-07-01", headers=auth(token)), 422)
        bad = problem(client.get("/api/v1/review?from=2026-07-01&to=2026-01-01", headers=auth(token)), 400)
        assert "swap the dates" in bad["detail"]  # the review page's own message
        problem(client.get("/api/v1/review?from=2026-01-01&to=2026-06-30"), 401)
    finally:
        clock.unfreeze()
