"""The work plan's and the outputs' rules (issue 17).

Read side, for the work plan pages and for the co-chairs' statement (reports reads these):

- :func:`progress_for_period` - per priority of the plan covering a period: its action items with
  status, the events held in the period and the outputs published in it that contribute, the
  commitments linked, and the progress notes dated in the period.
- :func:`outputs_for_period` - the outputs published (or given a new language version) in a
  period, each with its language versions.
- :func:`plan_page` - one plan with every action item's evidence (all dates), for /workplan.

Every read runs a fixed number of queries, whatever the number of events, outputs or notes.
Write side (organisers only; each one unit of work with its audit entry): plans, priorities,
action items, their status, progress notes and links; outputs and their versions (files checked
by content, see :mod:`webinar_mgr.workplan.files`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy import orm

from webinar_mgr import clock
from webinar_mgr.commitments.models import Commitment
from webinar_mgr.directory.models import Organisation
from webinar_mgr.events.models import STATUS_DRAFT, STATUS_HELD, STATUS_SCHEDULED, Event
from webinar_mgr.extensions import db

from .models import (
    STATUS_DELIVERED,
    STATUSES,
    ActionItem,
    Output,
    OutputVersion,
    Priority,
    ProgressNote,
    WorkPlan,
    action_item_commitments,
    action_item_events,
    action_item_leads,
    action_item_outputs,
    language_label,
    output_events,
)

# ---------------------------------------------------------------------------------------------
# Return shapes (frozen dataclasses: plain values, no ORM objects, safe to keep after the session)


@dataclass(frozen=True)
class EventRef:
    """An event that contributes. ``starts_at``: aware UTC datetime or None (date TBC);
    ``held``: status held, or scheduled with its start already past."""

    id: int
    title: str
    starts_at: datetime | None
    timezone: str
    status: str
    held: bool


@dataclass(frozen=True)
class VersionRef:
    """One language version of an output. ``language``: a code ("th", "zh_Hans");
    ``language_label``: its name in the reader's language; ``url``: the link, or None for a
    stored file (then ``filename``, ``content_type`` and ``size`` in bytes are set and the file is
    served at ``/outputs/versions/<id>/file``)."""

    id: int
    language: str
    language_label: str
    published_on: date
    url: str | None
    filename: str | None
    content_type: str | None
    size: int | None

    @property
    def is_file(self) -> bool:
        return self.url is None


@dataclass(frozen=True)
class OutputRef:
    """An output: ``kind`` one of models.OUTPUT_KINDS (``kind_label`` translated); ``published``
    and ``published_on`` (None for a draft); ``versions`` sorted by language code;
    ``languages``: the version languages' labels in that order; ``event_ids`` and
    ``action_item_numbers`` it is linked to; ``new_versions_in_period``: the versions dated in the
    period asked about (outputs_for_period), else empty."""

    id: int
    title: str
    kind: str
    kind_label: str
    description: str
    published: bool
    published_on: date | None
    versions: tuple[VersionRef, ...]
    event_ids: tuple[int, ...] = ()
    action_item_numbers: tuple[int, ...] = ()
    new_versions_in_period: tuple[VersionRef, ...] = ()

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(v.language_label for v in self.versions)


@dataclass(frozen=True)
class CommitmentRef:
    """A voluntary commitment linked to an action item (``status``: pledged, in_progress,
    delivered, withdrawn)."""

    id: int
    description: str
    status: str
    event_id: int


@dataclass(frozen=True)
class NoteRef:
    """A dated progress note (``noted_on``: the date it speaks of; ``author``: the name kept)."""

    id: int
    noted_on: date
    text: str
    author: str


@dataclass(frozen=True)
class ActionItemProgress:
    """One action item: ``number`` (across the plan), ``text``, ``target``, ``status``
    (not_started, in_progress, delivered; ``status_label`` translated), ``leads`` (the lead
    members' names), and the evidence: ``events``, ``outputs``, ``commitments``, ``notes``
    (in a period: events held in it, outputs published in it, notes dated in it; on the plan
    page: all of them)."""

    id: int
    number: int
    text: str
    target: str
    status: str
    status_label: str
    leads: tuple[str, ...]
    events: tuple[EventRef, ...]
    outputs: tuple[OutputRef, ...]
    commitments: tuple[CommitmentRef, ...]
    notes: tuple[NoteRef, ...]

    @property
    def delivered(self) -> bool:
        return self.status == STATUS_DELIVERED

    @property
    def has_evidence(self) -> bool:
        return bool(self.events or self.outputs or self.commitments or self.notes)


@dataclass(frozen=True)
class PriorityProgress:
    """One priority issue: ``number``, ``title``, ``description``, its ``action_items`` in number
    order; ``delivered`` / ``in_progress`` / ``not_started``: how many action items are in each
    status."""

    id: int
    number: int
    title: str
    description: str
    action_items: tuple[ActionItemProgress, ...]

    def _count(self, status: str) -> int:
        return sum(1 for a in self.action_items if a.status == status)

    @property
    def delivered(self) -> int:
        return self._count(STATUS_DELIVERED)

    @property
    def in_progress(self) -> int:
        return self._count("in_progress")

    @property
    def not_started(self) -> int:
        return self._count("not_started")


@dataclass(frozen=True)
class PlanProgress:
    """A plan and its priorities. ``plan_id``, ``name`` ("Forward Work Plan 2021-23"),
    ``period_start`` / ``period_end`` (dates), ``current``; ``start`` / ``end``: the period asked
    about (the plan's own period on the plan page); ``priorities`` in number order;
    ``action_item_count``, ``delivered_count``; ``events`` / ``outputs``: every distinct event and
    output cited, for counting."""

    plan_id: int
    name: str
    period_start: date
    period_end: date
    current: bool
    summary: str
    start: date
    end: date
    priorities: tuple[PriorityProgress, ...] = field(default_factory=tuple)

    @property
    def action_items(self) -> tuple[ActionItemProgress, ...]:
        return tuple(a for p in self.priorities for a in p.action_items)

    @property
    def action_item_count(self) -> int:
        return len(self.action_items)

    @property
    def delivered_count(self) -> int:
        return sum(1 for a in self.action_items if a.delivered)

    @property
    def events(self) -> tuple[EventRef, ...]:
        seen: dict[int, EventRef] = {}
        for a in self.action_items:
            for e in a.events:
                seen.setdefault(e.id, e)
        return tuple(sorted(seen.values(), key=_event_sort))

    @property
    def outputs(self) -> tuple[OutputRef, ...]:
        seen: dict[int, OutputRef] = {}
        for a in self.action_items:
            for o in a.outputs:
                seen.setdefault(o.id, o)
        return tuple(seen.values())


def _event_sort(e: EventRef):
    return (e.starts_at is None, e.starts_at or datetime.max.replace(tzinfo=UTC), e.id)


# ---------------------------------------------------------------------------------------------
# Reading


def period_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """Inclusive UTC calendar days -> [start 00:00 UTC, day after end 00:00 UTC) (as the review)."""
    return (
        datetime.combine(start, time.min, tzinfo=UTC),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC),
    )


def _held(event_status: str, starts_at: datetime | None, now: datetime) -> bool:
    return event_status == STATUS_HELD or (
        event_status == STATUS_SCHEDULED and starts_at is not None and starts_at <= now
    )


def current_plan() -> WorkPlan | None:
    """The plan marked current, else the one whose period covers today, else the latest."""
    plan = db.session.scalar(sa.select(WorkPlan).where(WorkPlan.current.is_(True)).limit(1))
    if plan is not None:
        return plan
    today = clock.now().date()
    covers = (WorkPlan.period_start <= today) & (WorkPlan.period_end >= today)
    return db.session.scalar(
        sa.select(WorkPlan).order_by(sa.case((covers, 0), else_=1), WorkPlan.period_end.desc()).limit(1)
    )


def plan_for_period(start: date, end: date) -> WorkPlan | None:
    """The plan covering the period: the one overlapping it the most (the current one on a tie),
    or None when no plan overlaps it."""
    plans = db.session.scalars(
        sa.select(WorkPlan).where(WorkPlan.period_start <= end, WorkPlan.period_end >= start)
    ).all()
    if not plans:
        return None

    def overlap(p: WorkPlan) -> tuple[int, bool, date]:
        days = (min(p.period_end, end) - max(p.period_start, start)).days
        return (days, p.current, p.period_end)

    return max(plans, key=overlap)


def plans() -> list[WorkPlan]:
    return list(db.session.scalars(sa.select(WorkPlan).order_by(WorkPlan.period_start.desc(), WorkPlan.id)))


def _versions_by_output(output_ids) -> dict[int, list[OutputVersion]]:
    found: dict[int, list[OutputVersion]] = defaultdict(list)
    if output_ids:
        for v in db.session.scalars(
            sa.select(OutputVersion)
            .where(OutputVersion.output_id.in_(output_ids))
            .order_by(OutputVersion.output_id, OutputVersion.language)
        ):
            found[v.output_id].append(v)
    return found


def _version_ref(v: OutputVersion) -> VersionRef:
    return VersionRef(
        id=v.id,
        language=v.language,
        language_label=language_label(v.language),
        published_on=v.published_on,
        url=v.url,
        filename=v.filename,
        content_type=v.content_type,
        size=v.size,
    )


def _output_refs(outputs: list[Output], *, start: date | None = None, end: date | None = None) -> dict[int, OutputRef]:
    """OutputRefs for ``outputs`` in three queries (versions, event links, action item links)."""
    ids = [o.id for o in outputs]
    versions = _versions_by_output(ids)
    events: dict[int, list[int]] = defaultdict(list)
    numbers: dict[int, list[int]] = defaultdict(list)
    if ids:
        for oid, eid in db.session.execute(
            sa.select(output_events.c.output_id, output_events.c.event_id).where(output_events.c.output_id.in_(ids))
        ):
            events[oid].append(eid)
        for oid, number in db.session.execute(
            sa.select(action_item_outputs.c.output_id, ActionItem.number)
            .join(ActionItem, ActionItem.id == action_item_outputs.c.action_item_id)
            .where(action_item_outputs.c.output_id.in_(ids))
            .order_by(ActionItem.number)
        ):
            numbers[oid].append(number)
    refs = {}
    for o in outputs:
        vs = tuple(_version_ref(v) for v in versions[o.id])
        new = tuple(v for v in vs if start <= v.published_on <= end) if start is not None and end is not None else ()
        refs[o.id] = OutputRef(
            id=o.id,
            title=o.title,
            kind=o.kind,
            kind_label=o.kind_label,
            description=o.description,
            published=o.published,
            published_on=o.published_on,
            versions=vs,
            event_ids=tuple(sorted(events[o.id])),
            action_item_numbers=tuple(numbers[o.id]),
            new_versions_in_period=new,
        )
    return refs


def _progress(plan: WorkPlan, start: date | None, end: date | None, *, include_drafts: bool) -> PlanProgress:
    """The plan with each action item's evidence; with ``start``/``end``, only the events held,
    the outputs published and the notes dated in that period (commitments: pledged at an event
    of the period). A fixed number of queries."""
    now = clock.now()
    priorities = list(
        db.session.scalars(
            sa.select(Priority).where(Priority.plan_id == plan.id).order_by(Priority.number, Priority.id)
        )
    )
    items = list(
        db.session.scalars(
            sa.select(ActionItem)
            .join(Priority)
            .where(Priority.plan_id == plan.id)
            .order_by(ActionItem.number, ActionItem.id)
        )
    )
    item_ids = [a.id for a in items]
    by_priority: dict[int, list[ActionItem]] = defaultdict(list)
    for a in items:
        by_priority[a.priority_id].append(a)

    leads: dict[int, list[str]] = defaultdict(list)
    events: dict[int, list[EventRef]] = defaultdict(list)
    outputs: dict[int, list[int]] = defaultdict(list)
    commitments: dict[int, list[CommitmentRef]] = defaultdict(list)
    notes: dict[int, list[NoteRef]] = defaultdict(list)
    output_rows: dict[int, Output] = {}
    if item_ids:
        for aid, name in db.session.execute(
            sa.select(action_item_leads.c.action_item_id, Organisation.name)
            .join(Organisation, Organisation.id == action_item_leads.c.organisation_id)
            .where(action_item_leads.c.action_item_id.in_(item_ids))
            .order_by(Organisation.name)
        ):
            leads[aid].append(name)

        q = (
            sa.select(
                action_item_events.c.action_item_id,
                Event.id,
                Event.title,
                Event.starts_at,
                Event.timezone,
                Event.status,
            )
            .join(Event, Event.id == action_item_events.c.event_id)
            .where(action_item_events.c.action_item_id.in_(item_ids))
        )
        if start is not None and end is not None:
            lo, hi = period_bounds(start, end)
            q = q.where(
                sa.or_(Event.status == STATUS_HELD, sa.and_(Event.status == STATUS_SCHEDULED, Event.starts_at <= now)),
                Event.starts_at >= lo,
                Event.starts_at < hi,
            )
        elif not include_drafts:
            q = q.where(Event.status != STATUS_DRAFT)
        for aid, eid, title, starts_at, zone, status in db.session.execute(q):
            events[aid].append(
                EventRef(
                    id=eid,
                    title=title,
                    starts_at=starts_at,
                    timezone=zone,
                    status=status,
                    held=_held(status, starts_at, now),
                )
            )

        q = (
            sa.select(action_item_outputs.c.action_item_id, Output)
            .join(Output, Output.id == action_item_outputs.c.output_id)
            .where(action_item_outputs.c.action_item_id.in_(item_ids))
            .order_by(Output.published_on, Output.id)
        )
        if start is not None and end is not None:
            q = q.where(Output.published.is_(True), Output.published_on >= start, Output.published_on <= end)
        elif not include_drafts:
            q = q.where(Output.published.is_(True))
        for aid, output in db.session.execute(q):
            outputs[aid].append(output.id)
            output_rows[output.id] = output

        q = (
            sa.select(
                action_item_commitments.c.action_item_id,
                Commitment.id,
                Commitment.description,
                Commitment.status,
                Commitment.event_id,
            )
            .join(Commitment, Commitment.id == action_item_commitments.c.commitment_id)
            .where(action_item_commitments.c.action_item_id.in_(item_ids))
            .order_by(Commitment.id)
        )
        if start is not None and end is not None:
            lo, hi = period_bounds(start, end)
            q = q.join(Event, Event.id == Commitment.event_id).where(Event.starts_at >= lo, Event.starts_at < hi)
        for aid, cid, description, status, event_id in db.session.execute(q):
            commitments[aid].append(CommitmentRef(id=cid, description=description, status=status, event_id=event_id))

        q = (
            sa.select(ProgressNote)
            .where(ProgressNote.action_item_id.in_(item_ids))
            .order_by(ProgressNote.noted_on, ProgressNote.id)
        )
        if start is not None and end is not None:
            q = q.where(ProgressNote.noted_on >= start, ProgressNote.noted_on <= end)
        for n in db.session.scalars(q):
            notes[n.action_item_id].append(NoteRef(id=n.id, noted_on=n.noted_on, text=n.text, author=n.author_label))

    output_refs = _output_refs(list(output_rows.values()), start=start, end=end)
    return PlanProgress(
        plan_id=plan.id,
        name=plan.name,
        period_start=plan.period_start,
        period_end=plan.period_end,
        current=plan.current,
        summary=plan.summary,
        start=start or plan.period_start,
        end=end or plan.period_end,
        priorities=tuple(
            PriorityProgress(
                id=p.id,
                number=p.number,
                title=p.title,
                description=p.description,
                action_items=tuple(
                    ActionItemProgress(
                        id=a.id,
                        number=a.number,
                        text=a.text,
                        target=a.target,
                        status=a.status,
                        status_label=str(STATUSES.get(a.status, a.status)),
                        leads=tuple(leads[a.id]),
                        events=tuple(sorted(events[a.id], key=_event_sort)),
                        outputs=tuple(output_refs[oid] for oid in outputs[a.id]),
                        commitments=tuple(commitments[a.id]),
                        notes=tuple(notes[a.id]),
                    )
                    for a in by_priority[p.id]
                ),
            )
            for p in priorities
        ),
    )


def progress_for_period(start: date, end: date) -> PlanProgress | None:
    """Progress against the plan covering ``start``..``end`` (inclusive UTC days), for the
    co-chairs' statement's "Implementation of the work plan and priorities" section.

    Returns None when no plan overlaps the period, else a :class:`PlanProgress`:
    ``name``, ``period_start``/``period_end`` (the plan's), ``start``/``end`` (the period asked),
    ``priorities``: tuple of :class:`PriorityProgress` (``number``, ``title``, counts
    ``delivered``/``in_progress``/``not_started``, ``action_items``), each action item an
    :class:`ActionItemProgress` with ``number``, ``text``, ``target``, ``status``/``status_label``
    (the status today), ``leads`` (names), and the evidence of the period:
    ``events`` (:class:`EventRef`, held in the period: status held, or scheduled and started),
    ``outputs`` (:class:`OutputRef` published in the period, with every language version),
    ``commitments`` (:class:`CommitmentRef` pledged at events of the period) and ``notes``
    (:class:`NoteRef` dated in the period). ``PlanProgress.events`` / ``.outputs`` list the
    distinct ones. Eleven queries at most, whatever the data."""
    plan = plan_for_period(start, end)
    if plan is None:
        return None
    return _progress(plan, start, end, include_drafts=False)


def plan_page(plan: WorkPlan, *, include_drafts: bool = False) -> PlanProgress:
    """The plan with all its evidence, whatever the date (the /workplan page). Draft events and
    unpublished outputs only with ``include_drafts`` (organisers)."""
    return _progress(plan, None, None, include_drafts=include_drafts)


def outputs_for_period(start: date, end: date) -> list[OutputRef]:
    """The published outputs that appeared in ``start``..``end`` (inclusive): published in the
    period, or given a language version dated in it (a translation added since the launch), for
    the statement's "outputs" section. Each an :class:`OutputRef` with ``title``, ``kind`` /
    ``kind_label``, ``published_on``, ``versions`` (every :class:`VersionRef`: ``language``,
    ``language_label``, ``published_on``, ``url`` or file details), ``languages`` (labels),
    ``new_versions_in_period`` (those dated in the period), ``event_ids`` and
    ``action_item_numbers``. Ordered by publication date, then title. Four queries."""
    in_period = sa.select(OutputVersion.output_id).where(
        OutputVersion.published_on >= start, OutputVersion.published_on <= end
    )
    rows = list(
        db.session.scalars(
            sa.select(Output)
            .where(
                Output.published.is_(True),
                sa.or_(
                    sa.and_(Output.published_on >= start, Output.published_on <= end),
                    Output.id.in_(in_period),
                ),
            )
            .order_by(Output.published_on, Output.title, Output.id)
        )
    )
    refs = _output_refs(rows, start=start, end=end)
    return [refs[o.id] for o in rows]


def published_outputs() -> list[OutputRef]:
    """Every published output with its versions (the public /outputs page), newest first."""
    rows = list(
        db.session.scalars(
            sa.select(Output)
            .where(Output.published.is_(True))
            .order_by(Output.published_on.desc(), Output.title, Output.id)
            .options(orm.noload(Output.versions))
        )
    )
    refs = _output_refs(rows)
    return [refs[o.id] for o in rows]
