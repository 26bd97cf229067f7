"""Read-side queries for the co-chairs' review.

Every function here runs a fixed number of aggregate (GROUP BY) queries, whatever the number
of events, registrations or attendance rows: the review pages must not grow with the data.
Only this module reads other modules' tables for the review; it never writes them (it writes
only the review's own figures kept per event: :func:`keep_period_figures`).

Definitions (also in docs/reports.md):
- *held* event: status ``held``, or ``scheduled`` with a start time already past.
- *invited*: an invitation that was sent (state sent, opened, registered or declined; drafts
  and revoked invitations do not count).
- *registered*: a registration that is active (pending approval, confirmed or on the waiting
  list); *confirmed* is counted separately.
- *attended*: a registration with at least one attendance record marked attended (the
  attendance threshold in minutes is applied when the attendance is imported). Rows of an
  attendance report that were never linked to a registration are not counted.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.dialects import postgresql, sqlite

from webinar_mgr.attendance.models import AttendanceRecord
from webinar_mgr.commitments.models import Commitment
from webinar_mgr.directory.models import SECTOR_MEMBER, Contact, Organisation
from webinar_mgr.events.models import (
    STATUS_HELD,
    STATUS_SCHEDULED,
    STATUS_TBC,
    Event,
)
from webinar_mgr.extensions import db
from webinar_mgr.invitations.models import DELIVERED, Invitation
from webinar_mgr.registrations.models import Registration

from .models import ReviewEventVersion, ReviewKeptFigure

ACTIVE_STATUSES = ("pending", "confirmed", "waitlisted")
INVITED_STATES = DELIVERED  # the invitation reached the person (answered or not)
OPEN_COMMITMENT_STATUSES = ("pledged", "in_progress")
COMMITMENT_STATUSES = ("pledged", "in_progress", "delivered", "withdrawn")
UNKNOWN_SECTOR = "unknown"

# Invitation category -> sector, for invitees whose contact has no organisation.
_CATEGORY_SECTOR = {
    "member": SECTOR_MEMBER,
    "observer": "observer",
    "private_sector": "private_sector",
    "civil_society": "civil_society",
    "international_organisation": "international_organisation",
}


def period_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """Inclusive UTC calendar days -> [start 00:00 UTC, day after end 00:00 UTC)."""
    lo = datetime.combine(start, time.min, tzinfo=UTC)
    hi = datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC)
    return lo, hi


# Lists of events need the kind and the convenors (one extra query), never the agenda: refuse
# any lazy load of it so that a template cannot slip into one query per event.
def _list_options():
    return (orm.raiseload(Event.agenda_items),)


def _held_condition(now: datetime):
    return sa.or_(
        Event.status == STATUS_HELD,
        sa.and_(Event.status == STATUS_SCHEDULED, Event.starts_at <= now),
    )


def _attended_subquery(where):
    """Ids of registrations with an attendance record marked attended, for the same events.

    A grouped sub-query joined with LEFT OUTER JOIN (rather than a correlated EXISTS) keeps
    PostgreSQL's cost estimate honest, so it does not spend a second JIT-compiling the query.
    """
    return (
        sa.select(AttendanceRecord.registration_id.label("rid"))
        .join(Event, Event.id == AttendanceRecord.event_id)
        .where(AttendanceRecord.attended.is_(True), AttendanceRecord.registration_id.is_not(None), *where)
        .group_by(AttendanceRecord.registration_id)
        .subquery("att")
    )


def _registration_metrics(att):
    # count(*) FILTER (WHERE ...) rather than SUM(CASE ...): the same counts (0 for a group
    # without any, never NULL), a little cheaper per row on both databases (SQLite >= 3.30).
    active = Registration.status.in_(ACTIVE_STATUSES)
    return (
        sa.func.count().filter(active).label("registered"),
        sa.func.count().filter(Registration.status == "confirmed").label("confirmed"),
        sa.func.count().filter(sa.and_(active, Registration.invitation_id.is_not(None))).label("invited_registered"),
        sa.func.count(att.c.rid).label("attended"),
    )


def _all(stmt):
    """The rows of a Core ``select`` of plain columns, read in the session's transaction
    without the ORM's per-row processing (``session.execute`` would run it through the ORM's
    loading: 20-30% slower for the review's thousands of aggregate rows). Pending changes are
    flushed first, as ``session.execute`` would."""
    if db.session.autoflush:
        db.session.flush()
    return db.session.connection().execute(stmt).all()


def _registration_rows(group_cols, where):
    """``where`` holds conditions on :class:`Event` (the event or the period)."""
    att = _attended_subquery(where)
    stmt = (
        sa.select(*group_cols, *_registration_metrics(att))
        .select_from(Registration)
        .join(Event, Event.id == Registration.event_id)
        .outerjoin(att, att.c.rid == Registration.id)
        .where(sa.or_(Registration.status.in_(ACTIVE_STATUSES), att.c.rid.is_not(None)), *where)
        .group_by(*group_cols)
    )
    return _all(stmt)


def _invitation_sector():
    category = sa.case(
        *((Invitation.category == cat, sa.literal(sector)) for cat, sector in _CATEGORY_SECTOR.items()),
        else_=sa.literal(UNKNOWN_SECTOR),
    )
    return sa.func.coalesce(Organisation.sector, category)


def _invitation_member():
    """The member government an invitee counts under (the directory's one rule, in SQL)."""
    return Organisation.counted_member_government_id


def _invitation_rows(group_cols, where, *, by_contact: bool = True):
    """Invitations sent, grouped by ``group_cols``; ``by_contact`` joins the contact and its
    organisation (for the sector and the member government).

    The sent states are counted (``count(*) FILTER``, groups without any dropped by HAVING) rather than
    filtered in WHERE: a WHERE on ``state`` lets PostgreSQL, with statistics not yet gathered
    after a bulk load, AND the state index (80,000 rows read once per event) with the event's:
    250 ms for the review's 200 events instead of 17 ms (issue 19)."""
    sent = sa.func.count().filter(Invitation.state.in_(INVITED_STATES))
    stmt = (
        sa.select(*group_cols, sent.label("invited"))
        .select_from(Invitation)
        .join(Event, Event.id == Invitation.event_id)
        .where(*where)
        .group_by(*group_cols)
        .having(sent > 0)
    )
    if by_contact:
        stmt = stmt.join(Contact, Contact.id == Invitation.contact_id).outerjoin(
            Organisation, Organisation.id == Contact.organisation_id
        )
    return _all(stmt)


# Per event ----------------------------------------------------------------------------------


def event_invitations(event_id: int):
    """Rows (sector, member_government_id, invited) for one event."""
    sector, member = _invitation_sector().label("sector"), _invitation_member().label("member_id")
    return _invitation_rows([sector, member], [Invitation.event_id == event_id])


def event_registrations(event_id: int):
    """Rows (sector, member_government_id, registered, confirmed, invited_registered, attended)."""
    sector = sa.func.coalesce(Registration.sector, UNKNOWN_SECTOR).label("sector")
    member = Registration.member_government_id.label("member_id")
    return _registration_rows([sector, member], [Event.id == event_id])


def event_commitments(event_id: int, today: date):
    """Rows (member_government_id, status, count, overdue) for one event."""
    return _commitment_rows(
        [Commitment.member_government_id.label("member_id")], [Commitment.event_id == event_id], today
    )


def _commitment_counts(today: date):
    overdue = sa.and_(Commitment.status.in_(OPEN_COMMITMENT_STATUSES), Commitment.target_date < today)
    return (
        Commitment.status.label("status"),
        sa.func.count().label("n"),
        sa.func.count().filter(overdue).label("overdue"),
    )


def _commitment_rows(group_cols, where, today: date):
    stmt = (
        sa.select(*group_cols, *_commitment_counts(today))
        .select_from(Commitment)
        .join(Event, Event.id == Commitment.event_id)
        .where(*where)
        .group_by(*group_cols, Commitment.status)
    )
    return _all(stmt)


def member_governments():
    """All member governments: (id, name, short_name, country_code, working_group_member: today), by name.
    Who was a Working Group member on a given day: ``directory.membership``."""
    stmt = (
        sa.select(
            Organisation.id,
            Organisation.name,
            Organisation.short_name,
            Organisation.country_code,
            Organisation.working_group_member,
        )
        .where(Organisation.is_member_government)  # the member governments themselves, not their agencies
        .order_by(Organisation.name)
    )
    return _all(stmt)


# Across a period ----------------------------------------------------------------------------


def held_range(now: datetime) -> tuple[datetime | None, datetime | None]:
    """Start of the first and of the last event held, over all time (one query)."""
    row = db.session.execute(
        sa.select(sa.func.min(Event.starts_at), sa.func.max(Event.starts_at)).where(_held_condition(now))
    ).one()
    return row[0], row[1]


def held_events(start: date, end: date, now: datetime) -> list[Event]:
    """The period's held events with their kind, convenors and translations in one statement: the
    convenors and translations joined (a few rows each) rather than loaded by two more statements
    with one bound parameter per event (200 events: 15-20 ms against 23-33 ms, issue 19)."""
    lo, hi = period_bounds(start, end)
    stmt = (
        sa.select(Event)
        .where(_held_condition(now), Event.starts_at >= lo, Event.starts_at < hi)
        .order_by(Event.starts_at, Event.id)
        .options(*_list_options(), orm.joinedload(Event.convenors), orm.joinedload(Event.translations))
    )
    return list(db.session.scalars(stmt).unique())


def held_event_count(start: date, end: date, now: datetime) -> int:
    lo, hi = period_bounds(start, end)
    return int(
        db.session.scalar(
            sa.select(sa.func.count(Event.id)).where(_held_condition(now), Event.starts_at >= lo, Event.starts_at < hi)
        )
        or 0
    )


def _period_where(start: date, end: date, now: datetime):
    lo, hi = period_bounds(start, end)
    return [_held_condition(now), Event.starts_at >= lo, Event.starts_at < hi]


def period_invitations(start: date, end: date, now: datetime):
    """Rows (event_id, invited) for held events in the period."""
    # invitations.contact_id is NOT NULL with a foreign key: the join to contacts drops no row
    return _invitation_rows([Invitation.event_id.label("event_id")], _period_where(start, end, now), by_contact=False)


KEPT_MARK = ""  # the sector of the row marking an event's figures as kept (reports.models)


def _figures_parts(where, *, to_keep: bool = False):
    """The parts of the statements of :func:`keep_period_figures` and :func:`period_registrations`:
    the events matching ``where`` (conditions on :class:`Event`) with their current version, those
    without kept figures at it (``stale``; ``to_keep``: only those whose figures may be kept),
    and their figures counted from the rows."""
    F = ReviewKeptFigure
    cur = (
        sa.select(Event.id.label("event_id"), sa.func.coalesce(ReviewEventVersion.version, 0).label("version"))
        .select_from(Event)
        .outerjoin(ReviewEventVersion, ReviewEventVersion.event_id == Event.id)
        .where(*where)
    )
    if to_keep and db.session.get_bind().dialect.name == "postgresql":
        # Not an event whose version this very transaction raised (its triggers raise a version
        # once per transaction, migration 0024): figures counted now would miss a later change
        # in it. pg_current_xact_id_if_assigned() is NULL in a transaction that wrote nothing.
        # (An inequality, which PostgreSQL estimates as true for nearly every row, as it is.)
        cur = cur.where(
            sa.func.coalesce(sa.cast(sa.literal_column("review_event_versions.xmin"), sa.Text), "")
            != sa.func.coalesce(sa.cast(sa.literal_column("pg_current_xact_id_if_assigned()"), sa.Text), "-")
        )
    cur = cur.cte("cur")
    kept_now = sa.exists().where(
        F.event_id == cur.c.event_id, F.version == cur.c.version, F.sector == KEPT_MARK, F.member_id == 0
    )
    stale = sa.select(cur.c.event_id, cur.c.version).where(~kept_now).cte("stale")
    # An attendance record counts for the registration it is linked to at its own event (an
    # organiser links a record only to a registration of the record's event): the whole period's
    # join of the registrations with the period's attendance counted the same.
    att = (
        sa.select(AttendanceRecord.registration_id.label("rid"))
        .where(
            AttendanceRecord.attended.is_(True),
            AttendanceRecord.registration_id.is_not(None),
            AttendanceRecord.event_id.in_(sa.select(stale.c.event_id)),
        )
        .group_by(AttendanceRecord.registration_id)
        .subquery("att")
    )
    sector = sa.func.coalesce(Registration.sector, UNKNOWN_SECTOR)
    member = sa.func.coalesce(Registration.member_government_id, 0)
    # Grouped without the version (joined to the groups afterwards): with it, PostgreSQL expected
    # 100,000 groups and sorted 90,000 rows on disk instead of hashing them (4,400 groups).
    counted = (
        sa.select(
            Registration.event_id.label("event_id"),
            sector.label("sector"),
            member.label("member_id"),
            *_registration_metrics(att),
        )
        .select_from(Registration)
        .join(stale, stale.c.event_id == Registration.event_id)
        .outerjoin(att, att.c.rid == Registration.id)
        .where(sa.or_(Registration.status.in_(ACTIVE_STATUSES), att.c.rid.is_not(None)))
        .group_by(Registration.event_id, sector, member)
        .subquery("counted")
    )
    return cur, stale, counted


def keep_period_figures(start: date, end: date, now: datetime) -> int:
    """Count the figures of the period's held events that have none kept at their current
    version, and keep them (with their mark), in one statement: the versions read and the rows
    counted in the same snapshot. Another request keeping the same event at the same version
    keeps the same rows (an event's rows at one version are the same in every snapshot that
    reads it): the insert of a row already there does nothing. Returns the rows inserted (0:
    every event's figures were kept already)."""
    _cur, stale, counted = _figures_parts(_period_where(start, end, now), to_keep=True)
    marks = sa.select(
        stale.c.event_id,
        stale.c.version,
        sa.literal(KEPT_MARK),
        sa.literal(0),
        sa.literal(0),
        sa.literal(0),
        sa.literal(0),
        sa.literal(0),
    )
    c = counted.c
    counted_rows = sa.select(c.event_id, stale.c.version, *list(c)[1:]).join(stale, stale.c.event_id == c.event_id)
    rows = sa.union_all(counted_rows, marks).subquery("kept")
    # WHERE true: SQLite's INSERT ... SELECT ... ON CONFLICT needs one; ORDER BY: two requests
    # keeping the same rows insert them in the same order (no deadlock on PostgreSQL).
    select = sa.select(rows).where(sa.true()).order_by(*rows.c[:4])
    names = ["event_id", "version", "sector", "member_id", "registered", "confirmed", "invited_registered", "attended"]
    insert = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = (
        insert(ReviewKeptFigure)
        .from_select(names, select)
        .on_conflict_do_nothing()
        .returning(ReviewKeptFigure.event_id)  # (SQLite gives no rowcount for WITH ... INSERT)
    )
    return len(_all(stmt))


def period_registrations(start: date, end: date, now: datetime) -> list[tuple]:
    """Rows (event_id, sector, member_id, registered, confirmed, invited_registered, attended)
    for held events in the period: one query serves the funnels, the sectors and the grid.

    The figures kept for each event at its current version (:func:`keep_period_figures` keeps
    them first), and those of an event without any (changed by this transaction) counted from
    its rows, in one statement. The whole period's join of 100,000 registrations with 55,000
    attendance rows took about half of the review (issue 19). Plain tuples: named ones cost
    10 ms for the bench's 4,400 rows."""
    F = ReviewKeptFigure
    cur, stale, counted = _figures_parts(_period_where(start, end, now))
    kept = (
        sa.select(
            F.event_id,
            F.sector,
            sa.func.nullif(F.member_id, 0),
            F.registered,
            F.confirmed,
            F.invited_registered,
            F.attended,
        )
        .select_from(cur)
        .join(F, sa.and_(F.event_id == cur.c.event_id, F.version == cur.c.version))
        .where(F.sector != KEPT_MARK)
    )
    c = counted.c
    live = sa.select(c.event_id, c.sector, sa.func.nullif(c.member_id, 0), *list(c)[3:])
    return [tuple(r) for r in _all(sa.union_all(kept, live))]


COMMITMENTS_BY_EVENT, COMMITMENTS_BY_MEMBER = 0, 1


def period_commitments(start: date, end: date, now: datetime, today: date):
    """Rows (by, key, status, n, overdue) for commitments pledged at held events of the period:
    per event (``by`` is COMMITMENTS_BY_EVENT, ``key`` the event's id) and per member government
    (COMMITMENTS_BY_MEMBER, ``key`` its id or None), in one statement. Grouping by event and
    member government together returned 7,177 rows for the bench's 10,000 commitments; the two
    groupings return 876 (issue 19)."""
    where = _period_where(start, end, now)

    def grouped(by: int, key):
        return (
            sa.select(sa.literal_column(str(by)).label("by"), key.label("key"), *_commitment_counts(today))
            .select_from(Commitment)
            .join(Event, Event.id == Commitment.event_id)
            .where(*where)
            .group_by(key, Commitment.status)
        )

    return _all(
        sa.union_all(
            grouped(COMMITMENTS_BY_EVENT, Commitment.event_id),
            grouped(COMMITMENTS_BY_MEMBER, Commitment.member_government_id),
        )
    )


def upcoming_events(now: datetime) -> tuple[list[Event], list[Event]]:
    """(scheduled events starting after now, events with a date to be confirmed)."""
    scheduled = (
        db.session.scalars(
            sa.select(Event)
            .where(Event.status == STATUS_SCHEDULED, Event.starts_at > now)
            .order_by(Event.starts_at, Event.id)
            .options(*_list_options())
        )
        .unique()
        .all()
    )
    tbc = (
        db.session.scalars(
            sa.select(Event)
            .where(Event.status == STATUS_TBC)
            .order_by(Event.tentative_month.is_(None), Event.tentative_month, Event.title)
            .options(*_list_options())
        )
        .unique()
        .all()
    )
    return list(scheduled), list(tbc)


def delivered_commitments(start: date, end: date, now: datetime, limit: int = 3):
    """A few commitments delivered, pledged at held events of the period, the most recently
    updated first: rows (description, organisation name, event title)."""
    stmt = (
        sa.select(Commitment.description, Organisation.name.label("organisation"), Event.title.label("event_title"))
        .select_from(Commitment)
        .join(Event, Event.id == Commitment.event_id)
        .outerjoin(Organisation, Organisation.id == Commitment.organisation_id)
        .where(Commitment.status == "delivered", *_period_where(start, end, now))
        .order_by(Commitment.updated_at.desc(), Commitment.id.desc())
        .limit(limit)
    )
    return _all(stmt)


def nearest_events(start: date, end: date, now: datetime) -> tuple[Event | None, Event | None]:
    """The last event held before the period and the first event held or scheduled after it."""
    lo, hi = period_bounds(start, end)
    before = db.session.scalars(
        sa.select(Event)
        .where(_held_condition(now), Event.starts_at < lo)
        .order_by(Event.starts_at.desc(), Event.id.desc())
        .limit(1)
        .options(*_list_options())
    ).first()
    after = db.session.scalars(
        sa.select(Event)
        .where(sa.or_(_held_condition(now), Event.status == STATUS_SCHEDULED), Event.starts_at >= hi)
        .order_by(Event.starts_at, Event.id)
        .limit(1)
        .options(*_list_options())
    ).first()
    return before, after


def period_invitations_by_member(start: date, end: date, now: datetime):
    """Rows (event_id, member_id, invited) for held events in the period: invitations sent to
    people who count under a member government."""
    return _invitation_rows(
        [Invitation.event_id.label("event_id"), _invitation_member().label("member_id")],
        _period_where(start, end, now),
    )


def last_attended(end: date, now: datetime):
    """Rows (member_id, last): the start of the last held event up to ``end`` that someone counted
    under each member government attended."""
    _lo, hi = period_bounds(end, end)
    where = [_held_condition(now), Event.starts_at < hi]
    att = _attended_subquery(where)
    stmt = (
        sa.select(Registration.member_government_id.label("member_id"), sa.func.max(Event.starts_at).label("last"))
        .select_from(Registration)
        .join(Event, Event.id == Registration.event_id)
        .join(att, att.c.rid == Registration.id)
        .where(Registration.member_government_id.is_not(None), *where)
        .group_by(Registration.member_government_id)
    )
    return _all(stmt)


NAMED_SECTORS = ("international_organisation", "support_office")


def attended_organisations(start: date, end: date, now: datetime):
    """Rows (event_id, sector, name) of the organisations of the named sectors (international
    organisations, the support office) that someone attended each held event of the period from:
    the statement names them beside the review's counts."""
    att = _attended_subquery(_period_where(start, end, now))
    name = sa.func.coalesce(Organisation.short_name, Organisation.name)
    stmt = (
        sa.select(Registration.event_id.label("event_id"), Registration.sector.label("sector"), name.label("name"))
        .select_from(Registration)
        .join(Event, Event.id == Registration.event_id)
        .join(att, att.c.rid == Registration.id)
        .join(Organisation, Organisation.id == Registration.organisation_id)
        .where(Registration.sector.in_(NAMED_SECTORS), *_period_where(start, end, now))
        .group_by(Registration.event_id, Registration.sector, name)
        .order_by(Registration.event_id, name)
    )
    return _all(stmt)
