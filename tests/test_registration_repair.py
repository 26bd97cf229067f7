"""Issue 11's repair path for registrations stored before every registrant gave an organisation:
``flask directory check`` lists them, ``flask registrations repair`` fixes what the data allows."""

from __future__ import annotations

import sqlalchemy as sa

from tests.factories import make_event_row
from webinar_mgr.directory.models import Contact, Organisation
from webinar_mgr.directory.signals import collect_gaps
from webinar_mgr.extensions import db
from webinar_mgr.registrations.models import Registration


def _stored(event, email: str, **fields) -> Registration:
    contact = Contact(name=email.split("@")[0], email=email)
    db.session.add(contact)
    db.session.flush()
    reg = Registration(event_id=event.id, contact_id=contact.id, email=email, name=contact.name, **fields)
    db.session.add(reg)
    db.session.flush()
    return reg


def test_stored_registrations_are_listed_then_repaired(app):
    event = make_event_row()
    myanmar = Organisation(name="Myanmar", sector="member_government", country_code="MM")
    db.session.add(myanmar)
    db.session.flush()
    # the first issue's bug: Myanmar picked as organisation, member government and sector empty
    picked = _stored(event, "official@mofa.example.mm", organisation_id=myanmar.id, status="confirmed")
    typed = _stored(event, "guest@khmer-women.example", organisation_name="Khmer Women Network", status="confirmed")
    nothing = _stored(event, "nobody@example.org", status="confirmed")
    cancelled = _stored(event, "gone@example.org", status="cancelled")
    db.session.commit()

    gaps = {(g.kind, g.id): g for g in collect_gaps()}
    for reg in (picked, typed, nothing):
        assert ("registration", reg.id) in gaps
    assert ("registration", cancelled.id) not in gaps  # not counted anyway
    assert gaps[("registration", picked.id)].problem == "no sector"

    result = app.test_cli_runner().invoke(args=["registrations", "repair"])
    assert result.exit_code == 0, result.output
    assert "1 registration(s) took the sector" in result.output
    assert "1 typed organisation name(s) became organisations" in result.output
    assert "2 still without an organisation" not in result.output  # the cancelled one is not counted
    assert "1 still without an organisation" in result.output

    db.session.expire_all()
    picked, typed = db.session.get(Registration, picked.id), db.session.get(Registration, typed.id)
    assert picked.sector == "member_government" and picked.member_government_id == myanmar.id
    assert typed.organisation.name == "Khmer Women Network" and typed.sector == "civil_society"
    assert typed.organisation.needs_review and typed.contact.organisation_id == typed.organisation_id
    remaining = {(g.kind, g.id) for g in collect_gaps() if g.kind == "registration"}
    assert remaining == {("registration", nothing.id)}

    # running it again changes nothing
    again = app.test_cli_runner().invoke(args=["registrations", "repair"])
    assert "0 registration(s) took the sector" in again.output and "0 typed organisation" in again.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Organisation)) == 2
