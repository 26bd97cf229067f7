"""Helpers shared by the events tests (no tests here)."""

from __future__ import annotations

from datetime import datetime

from webinar_mgr.events import agenda, services, settings, times
from webinar_mgr.extensions import db


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


def make_event(actor, **overrides):
    return services.create_event(event_input(**overrides), actor=actor)


def add_item(actor, event, hh: int, mm: int, minutes: int, title: str = "Item", kind: str = "presentation"):
    local = times.utc_to_local(event.starts_at, event.timezone).replace(hour=hh, minute=mm)
    return agenda.add_item(
        event, agenda.AgendaInput(title=title, starts_local=local, duration_minutes=minutes, kind=kind), actor=actor
    )


def register(event, email: str, status: str = "confirmed", user=None):
    from webinar_mgr.directory.models import Contact
    from webinar_mgr.registrations.models import Registration

    contact = Contact(email=email, name=email.split("@")[0])
    db.session.add(contact)
    db.session.flush()
    reg = Registration(
        event_id=event.id,
        contact_id=contact.id,
        email=email,
        name=contact.name,
        status=status,
        user_id=getattr(user, "id", None),
    )
    db.session.add(reg)
    db.session.commit()
    return reg
