"""Read-side queries of the directory that forms across the modules share."""

from __future__ import annotations

import sqlalchemy as sa

from webinar_mgr.extensions import db

from .models import SECTORS, Organisation


def organisation_groups() -> list[tuple[str, list[tuple[int, str]]]]:
    """The organisations a person may pick on a public form, grouped by sector (in the order of
    SECTORS) and sorted by name. Organisations added by people and not yet reviewed by the
    secretariat are left out: a name typed by one guest is not offered to the next."""
    return form_lists()[0]


def form_lists() -> tuple[list[tuple[str, list[tuple[int, str]]]], list[tuple[int, str]]]:
    """What a public form's organisation picker offers, from one statement: the organisations
    grouped by sector (``organisation_groups``) and the member governments themselves, by name
    (``organisations.member_government_choices``)."""
    member = Organisation.is_member_government
    rows = db.session.execute(
        sa.select(Organisation.id, Organisation.name, Organisation.sector, Organisation.needs_review, member)
        .where(sa.or_(Organisation.needs_review.is_(False), member))
        .order_by(Organisation.name)
    ).all()
    groups: dict[str, list[tuple[int, str]]] = {sector: [] for sector in SECTORS}
    members: list[tuple[int, str]] = []
    for oid, name, sector, needs_review, is_member in rows:
        if not needs_review:
            groups.setdefault(sector, []).append((oid, name))
        if is_member:
            members.append((oid, name))
    return [(str(SECTORS.get(sector, sector)), items) for sector, items in groups.items() if items], members
