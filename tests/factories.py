"""Factories shared by the test modules: events, agenda items, registrations, registrant data
(a plain module, not a test module: import it as ``tests.factories``).

Two ways to make an event, on purpose:

* ``make_event(actor, ...)`` goes through ``events.services.create_event``: local times, the
  form's validation, the audit entry and the signal, status "draft";
* ``make_event_row(...)`` adds an ``Event`` row directly (times in UTC, status "scheduled" by
  default, no audit entry), for tests about the modules above events.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from webinar_mgr.directory.models import Contact
from webinar_mgr.events import agenda, services, settings, times
from webinar_mgr.events.models import Event, EventKind
from webinar_mgr.extensions import db
from webinar_mgr.registrations import services as registrations
from webinar_mgr.registrations.models import Registration

# The registration and invitation tests' frozen "now"; ``make_event_row`` starts ten days later.
NOW = datetime(2026, 11, 2, 3, 0, tzinfo=UTC)


# Events through the service -------------------------------------------------------------------


def kind_id(code: str = "regional_webinar") -> int:
    return settings.kind_by_code(code).id


def event_input(**overrides) -> services.EventInput:
    data = dict(
        title="Regional webinar on technology",
        kind_id=kind_id(),
        timezone="Asia/Bangkok",
        summary="How technology facilitates and combats trafficking.",
        objectives=["Understand the risks", "Share good practice"],
        starts_local=datetime(2027, 3, 10, 14, 0),
        ends_local=datetime(2027, 3, 10, 16, 0),
        online_url="https://meet.example.org/secret-room",
        audience="open",
        capacity=25,
    )
    data.update(overrides)
    return services.EventInput(**data)


def make_event(actor, **overrides) -> Event:
    return services.create_event(event_input(**overrides), actor=actor)


def add_item(actor, event, hh: int, mm: int, minutes: int, title: str = "Item", kind: str = "presentation"):
    local = times.utc_to_local(event.starts_at, event.timezone).replace(hour=hh, minute=mm)
    return agenda.add_item(
        event, agenda.AgendaInput(title=title, starts_local=local, duration_minutes=minutes, kind=kind), actor=actor
    )


# Events as rows -------------------------------------------------------------------------------


def webinar_kind() -> EventKind:
    """The "webinar" kind, added when missing."""
    kind = db.session.scalar(sa.select(EventKind).where(EventKind.code == "webinar"))
    if kind is None:
        kind = EventKind(code="webinar", label="Regional webinar")
        db.session.add(kind)
        db.session.flush()
    return kind


def make_event_row(**kw) -> Event:
    values = dict(
        title="Safe migration and online recruitment",
        summary="A regional webinar.",
        kind_id=webinar_kind().id,
        status="scheduled",
        timezone="Asia/Bangkok",
        starts_at=NOW + timedelta(days=10),
        ends_at=NOW + timedelta(days=10, hours=2),
        online_url="https://meet.example.org/j/123",
        audience="open",
        capacity=None,
    )
    values.update(kw)
    event = Event(**values)
    db.session.add(event)
    db.session.commit()
    return event


# Registrations --------------------------------------------------------------------------------


def register(
    event,
    email: str,
    name: str | None = None,
    *,
    status: str = "confirmed",
    user=None,
    member=None,
    sector: str | None = None,
    contact: Contact | None = None,
) -> Registration:
    """A registration row (no mail, no audit). Without ``contact``, a new directory contact is
    added directly; ``name`` defaults to the address's local part; ``member`` is the member
    government (also the organisation)."""
    if name is None:
        name = email.split("@")[0]
    if contact is None:
        contact = Contact(email=email, name=name)
        db.session.add(contact)
        db.session.flush()
    reg = Registration(
        event_id=event.id,
        contact_id=contact.id,
        email=email,
        name=name,
        status=status,
        sector=sector,
        member_government_id=getattr(member, "id", None),
        organisation_id=getattr(member, "id", None),
        user_id=getattr(user, "id", None),
    )
    db.session.add(reg)
    db.session.commit()
    return reg


# Every registrant gives an organisation (issue 11); unless a test says otherwise, this one.
DEFAULT_ORGANISATION = {"organisation_name": "Migrant Care Network", "sector": "civil_society"}


def registrant_data(
    name="Ana Cruz", email="ana.cruz@example.org", tz="Asia/Manila", **kw
) -> registrations.RegistrantData:
    if not kw.get("organisation_id") and not kw.get("organisation_name"):
        kw = {**DEFAULT_ORGANISATION, **kw}
    return registrations.RegistrantData(name=name, email=email, timezone=tz, consent=True, **kw)
