"""The directory: member governments, organisations and contacts."""
from __future__ import annotations

import sqlalchemy as sa

from webinar_mgr.extensions import db

from .models import SECTORS, Organisation


def organisation_choices(sector: str | None = None) -> list[tuple[int, str]]:
    stmt = sa.select(Organisation.id, Organisation.name, Organisation.sector).order_by(Organisation.name)
    if sector:
        stmt = stmt.where(Organisation.sector == sector)
    return [(oid, name if sector else f"{name} ({SECTORS.get(sec, sec)})") for oid, name, sec in db.session.execute(stmt)]


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def find_contact_by_email(email: str):
    from .models import Contact

    return db.session.scalar(sa.select(Contact).where(Contact.email == normalise_email(email)))


def get_or_create_contact(email: str, name: str, *, organisation_id: int | None = None,
                          position: str | None = None, timezone: str | None = None, actor=None):
    """The directory contact with this email, created when new (guests become contacts).

    An existing contact keeps its data; missing organisation/position/zone are filled in.
    Adds to the session without committing (the caller owns the transaction).
    """
    from webinar_mgr.audit import services as audit

    from .models import Contact

    contact = find_contact_by_email(email)
    if contact is None:
        contact = Contact(email=normalise_email(email), name=name.strip(), organisation_id=organisation_id,
                          position=position, timezone=timezone)
        db.session.add(contact)
        db.session.flush()
        audit.record(actor, "contact.create", contact, summary=contact.email)
        return contact
    if contact.organisation_id is None and organisation_id:
        contact.organisation_id = organisation_id
    if not contact.position and position:
        contact.position = position
    if not contact.timezone and timezone:
        contact.timezone = timezone
    return contact
