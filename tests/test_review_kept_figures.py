"""The review's figures kept per event (issue 19, migration 0024): after every kind of write to
registrations and attendance (a service, an ORM change, a bulk statement, a foreign key's SET NULL
or cascade, an erasure, an event deleted), the figures the review reads from what it kept equal
the same figures counted from the rows one by one, and the second review reads every event from
what it kept (nothing counted afresh): the database raised the version of each event changed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date

import pytest
import sqlalchemy as sa

from tests.review_dataset import NOW, build_dataset
from webinar_mgr.attendance import services as attendance
from webinar_mgr.attendance.models import AttendanceRecord
from webinar_mgr.directory.models import Organisation
from webinar_mgr.events.models import Event
from webinar_mgr.extensions import db
from webinar_mgr.persistence import unit_of_work
from webinar_mgr.privacy import people
from webinar_mgr.registrations import services as registrations
from webinar_mgr.registrations.models import Registration
from webinar_mgr.reports import queries as q
from webinar_mgr.reports import services
from webinar_mgr.reports.models import ReviewEventVersion, ReviewKeptFigure

PERIOD = (date(2025, 1, 1), date(2026, 6, 30))


def _row_by_row() -> dict:
    """(event, sector, member government) -> (registered, confirmed, invited and registered,
    attended), counted from the rows of the period's held events one by one."""
    db.session.expire_all()
    ids = [e.id for e in q.held_events(*PERIOD, NOW)]
    came = set(
        db.session.scalars(
            sa.select(AttendanceRecord.registration_id).where(
                AttendanceRecord.event_id.in_(ids), AttendanceRecord.attended.is_(True)
            )
        )
    )
    groups: dict = defaultdict(Counter)
    for r in db.session.scalars(sa.select(Registration).where(Registration.event_id.in_(ids))):
        active = r.status in q.ACTIVE_STATUSES
        if not (active or r.id in came):
            continue
        g = groups[(r.event_id, r.sector or q.UNKNOWN_SECTOR, r.member_government_id)]
        g["registered"] += active
        g["confirmed"] += r.status == "confirmed"
        g["invited_registered"] += active and r.invitation_id is not None
        g["attended"] += r.id in came
    return {k: (g["registered"], g["confirmed"], g["invited_registered"], g["attended"]) for k, g in groups.items()}


def _as_dict(rows) -> dict:
    out = {}
    for event_id, sector, member_id, *counts in rows:
        assert (event_id, sector, member_id) not in out, "one row per group"
        out[(event_id, sector, member_id)] = tuple(int(c) for c in counts)
    return out


def _kept_at_current_versions() -> dict:
    """The kept table's rows at each event's current version (what the review reads)."""
    F, V = ReviewKeptFigure, ReviewEventVersion
    current = sa.func.coalesce(sa.select(V.version).where(V.event_id == F.event_id).scalar_subquery(), sa.literal(0))
    rows = db.session.execute(
        sa.select(
            F.event_id,
            F.sector,
            sa.func.nullif(F.member_id, 0),
            F.registered,
            F.confirmed,
            F.invited_registered,
            F.attended,
        ).where(F.version == current, F.sector != q.KEPT_MARK)
    ).all()
    return _as_dict(rows)


def check(changed: bool = True) -> None:
    """Before the review keeps anything, its rows (counted afresh where changed) are the rows
    counted one by one; it keeps the changed events' figures (and only those); then it reads every
    event from what it kept, and that is the rows counted one by one again."""
    want = _row_by_row()
    assert _as_dict(q.period_registrations(*PERIOD, NOW)) == want
    inserted = q.keep_period_figures(*PERIOD, NOW)
    db.session.commit()
    assert (inserted > 0) == changed, inserted
    assert q.keep_period_figures(*PERIOD, NOW) == 0, "every event's figures kept at its version"
    db.session.commit()
    assert _as_dict(q.period_registrations(*PERIOD, NOW)) == want
    held = {e.id for e in q.held_events(*PERIOD, NOW)}
    assert {k: v for k, v in _kept_at_current_versions().items() if k[0] in held} == want
    # the review itself (funnels) is built from the same rows
    review = services.period_review(*PERIOD, now=NOW)
    by_event = defaultdict(lambda: [0, 0, 0, 0])
    for (event_id, _s, _m), counts in want.items():
        by_event[event_id] = [a + b for a, b in zip(by_event[event_id], counts, strict=True)]
    for e, f in zip(review.events, review.event_funnels, strict=True):
        assert [f.registered, f.confirmed, f.invited_registered, f.attended] == by_event[e.id], e.title


@pytest.fixture
def data(app):
    d = build_dataset()
    check()  # nothing kept yet: every event counted afresh, then kept
    return d


def _reg(event, email) -> Registration:
    return db.session.scalar(
        sa.select(Registration).where(Registration.event_id == event.id, Registration.email == email)
    )


def test_nothing_changed_nothing_counted_again(data):
    check(changed=False)


def test_registration_added_cancelled_and_moved_between_lists(data):
    e2 = data["e2"]
    thai1 = _reg(data["e1"], "thai1@example.org")
    db.session.add(
        Registration(
            event_id=e2.id,
            contact_id=thai1.contact_id,
            email="new@example.org",
            name="New",
            status="pending",
            sector="member_government",
            member_government_id=data["orgs"]["thai"].id,
        )
    )
    db.session.commit()
    check()
    registrations.cancel(_reg(e2, "viet1@example.org"))
    check()
    registrations.organiser_action(_reg(e2, "new@example.org").id, "approve", actor=None)
    check()
    registrations.organiser_action(_reg(e2, "new@example.org").id, "cancel", actor=None)
    check()


def test_bulk_statements_change_status_sector_and_member_government(data):
    e1, e3 = data["e1"], data["e3"]
    db.session.execute(sa.update(Registration).where(Registration.event_id == e1.id).values(status="waitlisted"))
    db.session.commit()
    check()
    # a person's sector and member government changed (the directory's repair, a merge)
    db.session.execute(
        sa.update(Registration)
        .where(Registration.event_id == e3.id, Registration.email == "thai1@example.org")
        .values(sector="private_sector", member_government_id=None)
    )
    db.session.commit()
    check()
    db.session.execute(
        sa.update(Registration)
        .where(Registration.member_government_id == data["orgs"]["viet"].id)
        .values(member_government_id=data["orgs"]["thai"].id, invitation_id=None)
    )
    db.session.commit()
    check()
    # an update that changes nothing the review counts leaves the figures kept
    db.session.execute(sa.update(Registration).values(position="Officer"))
    db.session.commit()
    check(changed=False)


def test_attendance_checked_in_undone_linked_imported_and_deleted(data):
    e2, e3 = data["e2"], data["e3"]
    # a check-in of someone registered who did not come, then undone
    attendance.checkin(e2, _reg(e2, "phil1@example.org").id, actor=None)
    check()
    attendance.undo_checkin(e2, _reg(e2, "phil1@example.org").id, actor=None)
    check()
    # an attendance row flipped below the threshold (a re-import's recount), then linked elsewhere
    record = db.session.scalar(
        sa.select(AttendanceRecord).where(
            AttendanceRecord.event_id == e3.id, AttendanceRecord.registration_id == _reg(e3, "thai1@example.org").id
        )
    )
    record.attended = False
    db.session.commit()
    check()
    record.attended = True
    record.registration_id = _reg(e3, "viet1@example.org").id
    db.session.commit()
    check()
    # rows imported in bulk, then the import's rows deleted
    db.session.execute(
        sa.insert(AttendanceRecord),
        [
            {
                "event_id": e2.id,
                "registration_id": _reg(e2, "phil1@example.org").id,
                "name": "Phil",
                "person_key": "phil-bulk",
                "minutes": 60,
                "attended": True,
                "match": "email",
            }
        ],
    )
    db.session.commit()
    check()
    db.session.execute(sa.delete(AttendanceRecord).where(AttendanceRecord.person_key == "phil-bulk"))
    db.session.commit()
    check()


def test_registrations_deleted_erased_and_events_deleted(data):
    e1, e2 = data["e1"], data["e2"]
    db.session.delete(_reg(e2, "fiji1@example.org"))
    db.session.commit()
    check()
    people.erase("priv1@example.org", actor=None)
    db.session.commit()
    check(changed=False)  # erasure keeps the registration's status, sector and member government
    # a member government deleted: its registrants' member_government_id set to NULL by the key
    gone = Organisation(name="Gone", sector="member_government")
    db.session.add(gone)
    db.session.flush()
    reg = _reg(e1, "io1@example.org")
    reg.member_government_id = gone.id
    db.session.commit()
    check()
    if db.engine.dialect.name == "postgresql":  # SQLite runs without foreign key actions here
        db.session.execute(sa.delete(Organisation).where(Organisation.id == gone.id))
        db.session.commit()
        check()
    db.session.execute(sa.delete(Registration).where(Registration.event_id == e2.id))
    db.session.commit()
    check()
    event_id = e1.id
    db.session.execute(sa.delete(AttendanceRecord).where(AttendanceRecord.event_id == event_id))
    db.session.execute(sa.delete(Registration).where(Registration.event_id == event_id))
    db.session.execute(sa.delete(Event).where(Event.id == event_id))
    db.session.commit()
    check(changed=False)  # the other events are as they were; the deleted one is no longer read
    left = sa.select(sa.func.count()).select_from(ReviewKeptFigure).where(ReviewKeptFigure.event_id == event_id)
    assert db.session.scalar(left) == 0


def test_figures_kept_in_a_unit_that_rolls_back_are_not_kept(data):
    e3 = data["e3"]
    with pytest.raises(RuntimeError), unit_of_work():
        db.session.execute(sa.update(Registration).where(Registration.event_id == e3.id).values(status="cancelled"))
        inside = _as_dict(services.period_registration_rows(*PERIOD, NOW))  # inside the unit: not committed
        assert all(v[0] == 0 for k, v in inside.items() if k[0] == e3.id)  # the change is counted
        raise RuntimeError("rolled back")
    check(changed=False)  # the change and the version rolled back together: the figures kept still hold


def test_a_change_after_the_review_in_the_same_transaction_is_not_missed(data):
    e2, e3 = data["e2"], data["e3"]
    with unit_of_work():
        db.session.execute(sa.update(Registration).where(Registration.event_id == e2.id).values(status="waitlisted"))
        services.period_registration_rows(*PERIOD, NOW)  # counts e2 afresh inside the unit
        # changed again after the review, in the same transaction
        db.session.execute(sa.update(Registration).where(Registration.event_id == e2.id).values(status="pending"))
    check()
    with unit_of_work():
        db.session.execute(sa.update(Registration).where(Registration.event_id == e2.id).values(status="confirmed"))
        services.period_registration_rows(*PERIOD, NOW)  # counts e2 (and keeps e3's figures as they are)
        db.session.execute(sa.update(Registration).where(Registration.event_id == e3.id).values(status="cancelled"))
        db.session.execute(sa.update(Registration).where(Registration.event_id == e2.id).values(status="waitlisted"))
    check()
