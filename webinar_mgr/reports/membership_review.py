"""The membership review (issue 17): per member government, over a chosen span, the events held to
which it was invited, those it attended and those it missed, and when it last took part; with its
Working Group membership as it was at the end of the span. It supports the co-chairs' proposal
that the Working Group review its membership. Attendance comes from the period review (the same
figures as /review); invitations from the review's own invitation query, per member government."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from webinar_mgr import clock

from . import queries as q
from .services import period_review


@dataclass
class MemberRow:
    id: int
    name: str
    working_group: bool
    since: date | None  # joined (None: before the records) when a member at the end of the span
    invited: int  # events held in the span to which someone of this government was invited
    attended: int  # events held in the span that someone of this government attended
    missed: int  # invited or registered, but nobody attended
    last_took_part: date | None  # over all time up to the end of the span


@dataclass
class MembershipReview:
    start: date
    end: date
    as_of: date
    events: int
    rows: list[MemberRow]

    @property
    def working_group(self) -> list[MemberRow]:
        return [r for r in self.rows if r.working_group]

    @property
    def others(self) -> list[MemberRow]:
        return [r for r in self.rows if not r.working_group]


def membership_review(start: date, end: date, *, now: datetime | None = None) -> MembershipReview:
    now = now or clock.now()
    review = period_review(start, end, now=now)
    index = {e.id: i for i, e in enumerate(review.events)}
    invited: dict[int, set[int]] = {}
    for row in q.period_invitations_by_member(start, end, now):
        if row.member_id is not None and row.invited and row.event_id in index:
            invited.setdefault(row.member_id, set()).add(index[row.event_id])
    last = {r.member_id: r.last.astimezone(UTC).date() for r in q.last_attended(end, now) if r.last is not None}
    as_of = review.membership_on or end
    rows = []
    for m in review.members:
        attended = {i for i, (a, _r) in enumerate(m.cells) if a > 0}
        expected = invited.get(m.id, set()) | {i for i, (_a, r) in enumerate(m.cells) if r > 0}
        period = review.membership.period_on(m.id, as_of) if review.membership else None
        rows.append(
            MemberRow(
                id=m.id,
                name=m.name,
                working_group=m.working_group_member,
                since=period.joined_on if period else None,
                invited=len(invited.get(m.id, set())),
                attended=len(attended),
                missed=len(expected - attended),
                last_took_part=last.get(m.id),
            )
        )
    rows.sort(key=lambda r: (not r.working_group, r.name.lower()))
    return MembershipReview(start, end, as_of, len(review.events), rows)
