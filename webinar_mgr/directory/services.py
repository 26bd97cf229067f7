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
