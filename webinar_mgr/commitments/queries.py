"""Read-side queries: the tracker (filters, totals, delivery rate), exports, "my commitments" and
the public list.

"Overdue" is computed in SQL (open state and a target date before today), so the number of
queries per page is the same for 100 or 10,000 commitments: one count, one page, one totals
query, and the two lists for the filter menus.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy import orm

from webinar_mgr.directory.models import SECTORS, Contact, Organisation
from webinar_mgr.events.models import Event
from webinar_mgr.extensions import db

from .models import (
    OPEN_STATUSES,
    STATUS_DELIVERED,
    STATUS_WITHDRAWN,
    STATUSES,
    Commitment,
    CommitmentEvidence,
)


@dataclass
class Filters:
    event_id: int | None = None
    member_government_id: int | None = None
    sector: str | None = None
    status: str | None = None
    overdue: bool = False

    @classmethod
    def from_args(cls, args) -> Filters:
        def as_int(name):
            value = args.get(name, type=int)  # request.args: numbers a query can hold, else None
            return value if value and value > 0 else None

        sector = args.get("sector") or None
        status = args.get("status") or None
        return cls(
            event_id=as_int("event"),
            member_government_id=as_int("member"),
            sector=sector if sector in SECTORS else None,
            status=status if status in STATUSES else None,
            overdue=(args.get("overdue") or "") in ("1", "yes", "on", "true"),
        )

    def as_args(self) -> dict:
        out = {}
        if self.event_id:
            out["event"] = self.event_id
        if self.member_government_id:
            out["member"] = self.member_government_id
        if self.sector:
            out["sector"] = self.sector
        if self.status:
            out["status"] = self.status
        if self.overdue:
            out["overdue"] = 1
        return out


def overdue_clause(today: date):
    return sa.and_(Commitment.status.in_(OPEN_STATUSES), Commitment.target_date < today)


def _where(filters: Filters, today: date) -> list:
    where = []
    if filters.event_id:
        where.append(Commitment.event_id == filters.event_id)
    if filters.member_government_id:
        where.append(Commitment.member_government_id == filters.member_government_id)
    if filters.sector:
        where.append(Commitment.sector == filters.sector)
    if filters.status:
        where.append(Commitment.status == filters.status)
    if filters.overdue:
        where.append(overdue_clause(today))
    return where


def _listing(where: list, today: date):
    """Commitments with their event, contact and organisations in one query (no per-row loads)."""
    return (
        sa.select(Commitment, overdue_clause(today).label("overdue"))
        .where(*where)
        .options(
            orm.joinedload(Commitment.event).lazyload("*"),
            orm.joinedload(Commitment.contact).lazyload("*"),
            orm.joinedload(Commitment.organisation).lazyload("*"),
            orm.joinedload(Commitment.member_government).lazyload("*"),
        )
    )


@dataclass
class Totals:
    by_status: dict[str, int]
    total: int
    overdue: int

    @property
    def delivered(self) -> int:
        return self.by_status.get(STATUS_DELIVERED, 0)

    @property
    def withdrawn(self) -> int:
        return self.by_status.get(STATUS_WITHDRAWN, 0)

    @property
    def delivery_rate(self) -> float | None:
        """Delivered / (all - withdrawn): withdrawn pledges are no longer expected."""
        expected = self.total - self.withdrawn
        return (self.delivered / expected) if expected > 0 else None


def totals(filters: Filters, today: date) -> Totals:
    rows = db.session.execute(
        sa.select(
            Commitment.status, sa.func.count(Commitment.id), sa.func.sum(sa.case((overdue_clause(today), 1), else_=0))
        )
        .where(*_where(filters, today))
        .group_by(Commitment.status)
    ).all()
    by_status = {s: 0 for s in STATUSES}
    overdue = 0
    for status, n, late in rows:
        by_status[status] = int(n)
        overdue += int(late or 0)
    return Totals(by_status=by_status, total=sum(by_status.values()), overdue=overdue)


@dataclass
class Row:
    commitment: Commitment
    overdue: bool


class Page:
    """A page of rows with the attributes the ``pager`` macro reads."""

    def __init__(self, rows: list[Row], page: int, per_page: int, total: int):
        self.items = rows
        self.page = page
        self.per_page = per_page
        self.total = total
        self.pages = max(1, -(-total // per_page))
        self.has_prev = page > 1
        self.has_next = page < self.pages
        self.prev_num = page - 1
        self.next_num = page + 1


def tracker(filters: Filters, today: date, *, page: int = 1, per_page: int = 50) -> Page:
    where = _where(filters, today)
    total = db.session.scalar(sa.select(sa.func.count(Commitment.id)).where(*where)) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    stmt = (
        _listing(where, today)
        .order_by(Commitment.target_date, Commitment.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    rows = [Row(c, bool(late)) for c, late in db.session.execute(stmt).unique().all()]
    return Page(rows, page, per_page, total)


def event_choices() -> list[tuple[int, str]]:
    """Events that have commitments (one grouped query)."""
    rows = db.session.execute(
        sa.select(Event.id, Event.title, Event.starts_at)
        .where(Event.id.in_(sa.select(Commitment.event_id).distinct()))
        .order_by(Event.starts_at.desc(), Event.id)
    ).all()
    return [(eid, f"{title} ({starts.date().isoformat()})" if starts else title) for eid, title, starts in rows]


def member_choices() -> list[tuple[int, str]]:
    rows = db.session.execute(
        sa.select(Organisation.id, Organisation.name)
        .where(Organisation.id.in_(sa.select(Commitment.member_government_id).distinct()))
        .order_by(Organisation.name)
    ).all()
    return [(oid, name) for oid, name in rows]


def export_rows(filters: Filters, today: date, platform_labels: dict[str, str]) -> list[list]:
    where = _where(filters, today)
    items = db.session.execute(_listing(where, today).order_by(Commitment.event_id, Commitment.id)).unique().all()
    evidence: dict[int, list[CommitmentEvidence]] = {}
    ids = [c.id for c, _late in items]
    for chunk_start in range(0, len(ids), 900):
        chunk = ids[chunk_start : chunk_start + 900]
        for ev in db.session.scalars(
            sa.select(CommitmentEvidence)
            .where(CommitmentEvidence.commitment_id.in_(chunk))
            .order_by(CommitmentEvidence.id)
        ):
            evidence.setdefault(ev.commitment_id, []).append(ev)
    out = []
    for c, late in items:
        evs = evidence.get(c.id, [])

        def total(name, evs=evs):
            values = [getattr(e, name) for e in evs if getattr(e, name) is not None]
            return sum(values) if values else None

        out.append(
            [
                c.id,
                c.event.title,
                c.event.starts_at.date().isoformat() if c.event.starts_at else "",
                c.contact.name,
                c.contact.email,
                c.organisation.name if c.organisation else "",
                c.member_government.name if c.member_government else "",
                str(SECTORS.get(c.sector, c.sector or "")),
                c.kind_label,
                ", ".join(platform_labels.get(p, p) for p in c.platforms or []),
                ", ".join(c.languages or []),
                c.audience or "",
                c.description,
                c.target_date.isoformat(),
                c.status_label,
                bool(late),
                bool(c.public),
                c.delivered_at.strftime("%Y-%m-%d %H:%M") if c.delivered_at else "",
                " ".join(e.url for e in evs),
                total("views"),
                total("impressions"),
                total("shares"),
            ]
        )
    return out


EXPORT_HEADER = [
    "id",
    "event",
    "event date",
    "name",
    "email",
    "organisation",
    "member government",
    "sector",
    "kind",
    "platforms",
    "languages",
    "audience",
    "description",
    "target date",
    "status",
    "overdue",
    "public",
    "delivered at (UTC)",
    "evidence links",
    "views",
    "impressions",
    "shares",
]


def mine(email: str, today: date) -> list[Row]:
    stmt = _listing(
        [Commitment.contact_id == sa.select(Contact.id).where(Contact.email == email).scalar_subquery()], today
    ).order_by(Commitment.created_at.desc(), Commitment.id.desc())
    return [Row(c, bool(late)) for c, late in db.session.execute(stmt).unique().all()]


def public_page(page: int = 1, per_page: int = 30) -> tuple[Page, dict[int, list[CommitmentEvidence]]]:
    where = [Commitment.status == STATUS_DELIVERED, Commitment.public.is_(True)]
    total = db.session.scalar(sa.select(sa.func.count(Commitment.id)).where(*where)) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    items = (
        db.session.execute(
            _listing(where, date.min)
            .order_by(Commitment.delivered_at.desc(), Commitment.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
        .unique()
        .all()
    )
    ids = [c.id for c, _late in items]
    evidence: dict[int, list[CommitmentEvidence]] = {}
    if ids:
        for ev in db.session.scalars(
            sa.select(CommitmentEvidence)
            .where(CommitmentEvidence.commitment_id.in_(ids))
            .order_by(CommitmentEvidence.id)
        ):
            evidence.setdefault(ev.commitment_id, []).append(ev)
    return Page([Row(c, False) for c, _late in items], page, per_page, total), evidence
