"""Read-side queries of the directory that forms across the modules share."""

from __future__ import annotations

import sqlalchemy as sa

from webinar_mgr.extensions import db

from .models import SECTORS, Organisation


def organisation_groups() -> list[tuple[str, list[tuple[int, str]]]]:
    """The organisations a person may pick on a public form, grouped by sector (in the order of
    SECTORS) and sorted by name. Organisations added by people and not yet reviewed by the
    secretariat are left out: a name typed by one guest is not offered to the next."""
    rows = db.session.execute(
        sa.select(Organisation.id, Organisation.name, Organisation.sector)
        .where(Organisation.needs_review.is_(False))
        .order_by(Organisation.name)
    ).all()
    groups: dict[str, list[tuple[int, str]]] = {sector: [] for sector in SECTORS}
    for oid, name, sector in rows:
        groups.setdefault(sector, []).append((oid, name))
    return [(str(SECTORS.get(sector, sector)), items) for sector, items in groups.items() if items]
