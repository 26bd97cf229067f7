"""The Working Group's membership over time (issue 17).

A member government is a member of the Working Group itself on a day when one of its
:class:`WorkingGroupMembership` periods covers that day; otherwise it is one of the other Bali
Process members. ``Organisation.working_group_member`` stays as "a member today", so the pages that
read it (the directory, the API) keep working: a flush that changes the flag opens a membership
today (or, for a new organisation, one with no start date: "before the records") or ends the open
one today, and :func:`record_membership` sets the flag from the periods it records.

Reports for a past period ask :func:`membership_index` once (one query) and then
``index.members_on(day)`` per event, so "16 Working Group members and 5 other Bali Process members"
is counted as the membership was on that day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask_babel import gettext as _

from webinar_mgr import clock
from webinar_mgr.audit import services as audit
from webinar_mgr.errors import ValidationFailed
from webinar_mgr.extensions import db
from webinar_mgr.persistence import unit_of_work

from .models import Organisation, WorkingGroupMembership


@dataclass(frozen=True)
class Period:
    organisation_id: int
    joined_on: date | None
    left_on: date | None

    def covers(self, day: date) -> bool:
        return (self.joined_on is None or self.joined_on <= day) and (self.left_on is None or day < self.left_on)

    def overlaps(self, start: date, end: date) -> bool:
        """Any day of [start, end] (inclusive) in the membership."""
        return (self.joined_on is None or self.joined_on <= end) and (self.left_on is None or start < self.left_on)


class MembershipIndex:
    """Every membership period, read once; answers "member on day D" without another query."""

    def __init__(self, periods: list[Period]):
        self.periods: dict[int, list[Period]] = {}
        for p in periods:
            self.periods.setdefault(p.organisation_id, []).append(p)

    def is_member(self, organisation_id: int | None, day: date) -> bool:
        return any(p.covers(day) for p in self.periods.get(organisation_id, ()))

    def members_on(self, day: date) -> frozenset[int]:
        return frozenset(oid for oid, ps in self.periods.items() if any(p.covers(day) for p in ps))

    def member_during(self, organisation_id: int, start: date, end: date) -> bool:
        return any(p.overlaps(start, end) for p in self.periods.get(organisation_id, ()))

    def period_on(self, organisation_id: int, day: date) -> Period | None:
        return next((p for p in self.periods.get(organisation_id, ()) if p.covers(day)), None)


def membership_index() -> MembershipIndex:
    """All membership periods (one query)."""
    rows = db.session.execute(
        sa.select(
            WorkingGroupMembership.organisation_id, WorkingGroupMembership.joined_on, WorkingGroupMembership.left_on
        )
    ).all()
    return MembershipIndex([Period(r.organisation_id, r.joined_on, r.left_on) for r in rows])


def members_on(day: date) -> frozenset[int]:
    """Ids of the member governments in the Working Group on ``day``."""
    return membership_index().members_on(day)


def is_member_on(org: Organisation, day: date) -> bool:
    """``org`` was (is) a Working Group member on ``day``."""
    return any(m.covers(day) for m in org.memberships)


def record_membership(
    org: Organisation, *, joined_on: date | None, left_on: date | None, note: str | None = None, actor
) -> WorkingGroupMembership:
    """Record a period of Working Group membership with its dates (joined, left or still a member).

    Refused with a field error and nothing saved: an organisation that is not a member government, a
    leaving date not after the joining date, a period overlapping one already recorded."""
    errors: dict[str, list[str]] = {}
    if not org.is_member_government:
        errors["joined_on"] = [_("Only a member government can be a member of the Working Group.")]
    if joined_on and left_on and left_on <= joined_on:
        errors["left_on"] = [_("The date of leaving must come after the date of joining.")]
    if not errors:
        new = Period(org.id, joined_on, left_on)
        for m in org.memberships:
            other = Period(org.id, m.joined_on, m.left_on)
            if _overlap(new, other):
                errors["joined_on"] = [
                    _(
                        "This period overlaps the membership from %(joined)s to %(left)s: change that one instead.",
                        joined=m.joined_on.isoformat() if m.joined_on else _("before the records"),
                        left=m.left_on.isoformat() if m.left_on else _("today"),
                    )
                ]
                break
    if errors:
        raise ValidationFailed(next(iter(errors.values()))[0], field_errors=errors)
    with unit_of_work():
        m = WorkingGroupMembership(joined_on=joined_on, left_on=left_on, note=(note or "").strip()[:500] or None)
        org.memberships.append(m)
        org.working_group_member = any(x.covers(clock.now().date()) for x in org.memberships)
        db.session.flush()
        audit.record(
            actor,
            "organisation.membership",
            org,
            summary=org.name,
            changes={"joined_on": [None, str(joined_on or "")], "left_on": [None, str(left_on or "")]},
        )
    return m


def end_membership(org: Organisation, membership_id: int, *, left_on: date, actor) -> WorkingGroupMembership:
    """Close an open membership on ``left_on`` (a day after it began)."""
    m = next((x for x in org.memberships if x.id == membership_id), None)
    if m is None:
        raise ValidationFailed(_("This membership is not one of this organisation's."), field_errors={})
    if m.joined_on and left_on <= m.joined_on:
        raise ValidationFailed(
            _("The date of leaving must come after the date of joining."), field_errors={"left_on": []}
        )
    with unit_of_work():
        before = m.left_on
        m.left_on = left_on
        org.working_group_member = any(x.covers(clock.now().date()) for x in org.memberships)
        audit.record(
            actor,
            "organisation.membership",
            org,
            summary=org.name,
            changes={"left_on": [str(before or ""), left_on.isoformat()]},
        )
    return m


def _overlap(a: Period, b: Period) -> bool:
    a_start, b_start = a.joined_on or date.min, b.joined_on or date.min
    a_end, b_end = a.left_on or date.max, b.left_on or date.max
    return a_start < b_end and b_start < a_end
