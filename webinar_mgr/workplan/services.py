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
from pathlib import Path
from typing import BinaryIO

import sqlalchemy as sa
from flask_babel import format_date
from flask_babel import gettext as _
from sqlalchemy import orm

from webinar_mgr import clock, exports, text
from webinar_mgr.audit import services as audit
from webinar_mgr.commitments.models import Commitment
from webinar_mgr.directory.models import Organisation
from webinar_mgr.errors import NotAllowed, NotFound, ValidationFailed
from webinar_mgr.events.models import STATUS_CANCELLED, STATUS_DRAFT, STATUS_HELD, STATUS_SCHEDULED, Event
from webinar_mgr.extensions import db
from webinar_mgr.persistence import get_or_404, transactional, unit_of_work
from webinar_mgr.security import ORGANISERS, has_role

from . import files
from .models import (
    OUTPUT_KINDS,
    OUTPUT_LANGUAGES,
    STATUS_DELIVERED,
    STATUS_NOT_STARTED,
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


# ---------------------------------------------------------------------------------------------
# Who may do what


def can_edit(user) -> bool:
    """Organisers edit plans, action items, notes, links and outputs."""
    return has_role(user, *ORGANISERS)


def can_read_plan(user) -> bool:
    """Any signed-in user (members, co-chairs, organisers) reads the work plan."""
    return bool(user is not None and getattr(user, "is_authenticated", False))


# ---------------------------------------------------------------------------------------------
# Plans and priorities


@dataclass
class PlanInput:
    name: str
    period_start: date | None
    period_end: date | None
    current: bool = False
    summary: str = ""


def _field_errors(errors: dict[str, list[str]]) -> None:
    if errors:
        first = next(iter(errors.values()))[0]
        raise ValidationFailed(_("Please correct the form: %(first)s", first=first), field_errors=errors)


def _plan_values(data: PlanInput) -> dict:
    errors: dict[str, list[str]] = {}
    name = text.single_line(data.name)
    if not name:
        errors.setdefault("name", []).append(_("Give the plan a name."))
    elif len(name) > 200:
        errors.setdefault("name", []).append(_("At most 200 characters."))
    if data.period_start is None:
        errors.setdefault("period_start", []).append(_("Give the first day of the plan's period."))
    if data.period_end is None:
        errors.setdefault("period_end", []).append(_("Give the last day of the plan's period."))
    if data.period_start and data.period_end and data.period_end < data.period_start:
        errors.setdefault("period_end", []).append(_("The period must end after it starts."))
    _field_errors(errors)
    return {
        "name": name,
        "period_start": data.period_start,
        "period_end": data.period_end,
        "current": bool(data.current),
        "summary": text.multi_line(data.summary),
    }


def _plan_snapshot(plan: WorkPlan) -> dict:
    return {
        "name": plan.name,
        "period_start": plan.period_start,
        "period_end": plan.period_end,
        "current": plan.current,
        "summary": plan.summary,
    }


def _only_current(plan: WorkPlan) -> None:
    if plan.current:
        db.session.execute(sa.update(WorkPlan).where(WorkPlan.id != plan.id).values(current=False))


@transactional
def create_plan(data: PlanInput, *, actor) -> WorkPlan:
    _require_editor(actor)
    plan = WorkPlan(**_plan_values(data))
    db.session.add(plan)
    db.session.flush()
    _only_current(plan)
    audit.record(actor, "workplan.plan_create", plan, summary=plan.name, changes=audit.diff({}, _plan_snapshot(plan)))
    return plan


@transactional
def update_plan(plan: WorkPlan, data: PlanInput, *, actor) -> bool:
    _require_editor(actor)
    values = _plan_values(data)
    before = _plan_snapshot(plan)
    _check_links_in_period(plan, values["period_start"], values["period_end"])
    for key, value in values.items():
        setattr(plan, key, value)
    db.session.flush()
    _only_current(plan)
    changes = audit.diff(before, _plan_snapshot(plan))
    if changes:
        audit.record(actor, "workplan.plan_update", plan, summary=plan.name, changes=changes)
    return bool(changes)


def _check_links_in_period(plan: WorkPlan, start: date, end: date) -> None:
    """A plan's period cannot shrink so that events already linked to its action items fall outside."""
    lo, hi = period_bounds(start, end)
    outside = db.session.execute(
        sa.select(Event.title, ActionItem.number)
        .join(action_item_events, action_item_events.c.event_id == Event.id)
        .join(ActionItem, ActionItem.id == action_item_events.c.action_item_id)
        .join(Priority, Priority.id == ActionItem.priority_id)
        .where(Priority.plan_id == plan.id, Event.starts_at.is_not(None))
        .where(sa.or_(Event.starts_at < lo, Event.starts_at >= hi))
        .limit(1)
    ).first()
    if outside is not None:
        msg = _(
            "“%(event)s”, linked to action item %(number)s, would fall outside the new period; unlink it first.",
            event=outside[0],
            number=outside[1],
        )
        raise ValidationFailed(msg, field_errors={"period_start": [msg]})


@dataclass
class PriorityInput:
    number: int | None
    title: str
    description: str = ""


def _priority_values(plan: WorkPlan, data: PriorityInput, priority: Priority | None = None) -> dict:
    errors: dict[str, list[str]] = {}
    title = text.single_line(data.title)
    if not title:
        errors.setdefault("title", []).append(_("Give the priority a title."))
    elif len(title) > 300:
        errors.setdefault("title", []).append(_("At most 300 characters."))
    if data.number is None or not 1 <= data.number <= 99:
        errors.setdefault("number", []).append(_("A number from 1 to 99."))
    else:
        taken = db.session.scalar(
            sa.select(Priority.id).where(
                Priority.plan_id == plan.id,
                Priority.number == data.number,
                Priority.id != (priority.id if priority else -1),
            )
        )
        if taken is not None:
            errors.setdefault("number", []).append(
                _("This plan already has a priority %(number)s.", number=data.number)
            )
    _field_errors(errors)
    return {"number": data.number, "title": title, "description": text.multi_line(data.description)}


@transactional
def create_priority(plan: WorkPlan, data: PriorityInput, *, actor) -> Priority:
    _require_editor(actor)
    priority = Priority(plan_id=plan.id, **_priority_values(plan, data))
    db.session.add(priority)
    db.session.flush()
    audit.record(
        actor, "workplan.priority_create", priority, summary=f"{plan.name}: {priority.number}. {priority.title}"
    )
    return priority


@transactional
def update_priority(priority: Priority, data: PriorityInput, *, actor) -> bool:
    _require_editor(actor)
    values = _priority_values(priority.plan, data, priority)
    before = {k: getattr(priority, k) for k in values}
    for key, value in values.items():
        setattr(priority, key, value)
    changes = audit.diff(before, values)
    if changes:
        audit.record(actor, "workplan.priority_update", priority, summary=priority.title, changes=changes)
    return bool(changes)


# ---------------------------------------------------------------------------------------------
# Action items: text, status, links, progress notes


@dataclass
class ActionItemInput:
    priority_id: int | None
    number: int | None
    text: str
    target: str = ""
    status: str = STATUS_NOT_STARTED
    lead_ids: list[int] = field(default_factory=list)
    event_ids: list[int] = field(default_factory=list)
    output_ids: list[int] = field(default_factory=list)
    commitment_ids: list[int] = field(default_factory=list)


def _require_editor(actor) -> None:
    if not can_edit(actor):
        raise NotAllowed(_("Only organisers can change the work plan and the outputs."))


def _rows(model, ids: list[int], field_name: str, message: str, errors: dict) -> list:
    ids = sorted({int(i) for i in ids or []})
    if not ids:
        return []
    rows = list(db.session.scalars(sa.select(model).where(model.id.in_(ids))))
    if len(rows) != len(ids):
        errors.setdefault(field_name, []).append(message)
    return rows


def event_outside_plan(event: Event, plan: WorkPlan) -> str | None:
    """Why ``event`` cannot contribute to ``plan``'s action items (its date is outside the plan's
    period), or None. An event whose date is to be confirmed counts by its tentative month."""
    day = event.starts_at.date() if event.starts_at is not None else event.tentative_month
    if day is None:
        return None
    if event.tentative_month is not None and event.starts_at is None:
        inside = plan.period_start.replace(day=1) <= day <= plan.period_end
    else:
        inside = plan.covers(day)
    if inside:
        return None
    return _(
        "“%(event)s” (%(day)s) is outside the period of %(plan)s (%(start)s to %(end)s): link it to an "
        "action item of the plan for its period.",
        event=event.title,
        day=format_date(day, "medium"),
        plan=plan.name,
        start=format_date(plan.period_start, "medium"),
        end=format_date(plan.period_end, "medium"),
    )


def _item_values(plan: WorkPlan, data: ActionItemInput, item: ActionItem | None) -> dict:
    errors: dict[str, list[str]] = {}
    priority = db.session.get(Priority, data.priority_id) if data.priority_id else None
    if priority is None or priority.plan_id != plan.id:
        errors.setdefault("priority_id", []).append(_("Choose one of this plan's priorities."))
    body = text.multi_line(data.text)
    if not body:
        errors.setdefault("text", []).append(_("Say what the action item commits the group to."))
    elif len(body) > 2000:
        errors.setdefault("text", []).append(_("At most 2000 characters."))
    target = text.single_line(data.target)
    if len(target) > 300:
        errors.setdefault("target", []).append(_("At most 300 characters."))
    if data.status not in STATUSES:
        errors.setdefault("status", []).append(_("Choose a status."))
    if data.number is None or not 1 <= data.number <= 999:
        errors.setdefault("number", []).append(_("A number from 1 to 999."))
    else:
        taken = db.session.scalar(
            sa.select(ActionItem.id)
            .join(Priority)
            .where(
                Priority.plan_id == plan.id,
                ActionItem.number == data.number,
                ActionItem.id != (item.id if item else -1),
            )
        )
        if taken is not None:
            errors.setdefault("number", []).append(
                _("This plan already has an action item %(number)s.", number=data.number)
            )
    leads = _rows(Organisation, data.lead_ids, "lead_ids", _("A lead member chosen does not exist."), errors)
    events = _rows(Event, data.event_ids, "event_ids", _("An event chosen does not exist."), errors)
    for event in events:
        problem = event_outside_plan(event, plan)
        if problem:
            errors.setdefault("event_ids", []).append(problem)
    outputs = _rows(Output, data.output_ids, "output_ids", _("An output chosen does not exist."), errors)
    commitments = _rows(
        Commitment, data.commitment_ids, "commitment_ids", _("A commitment chosen does not exist."), errors
    )
    _field_errors(errors)
    return {
        "priority_id": priority.id,
        "number": data.number,
        "text": body,
        "target": target,
        "status": data.status,
        "_leads": leads,
        "_events": events,
        "_outputs": outputs,
        "_commitments": commitments,
    }


def _item_snapshot(item: ActionItem) -> dict:
    return {
        "priority_id": item.priority_id,
        "number": item.number,
        "text": item.text,
        "target": item.target,
        "status": item.status,
        "leads": sorted(o.name for o in item.leads),
        "events": sorted(e.id for e in item.events),
        "outputs": sorted(o.id for o in item.outputs),
        "commitments": sorted(c.id for c in item.commitments),
    }


def _apply_item(item: ActionItem, values: dict) -> None:
    item.leads = values.pop("_leads")
    item.events = values.pop("_events")
    item.outputs = values.pop("_outputs")
    item.commitments = values.pop("_commitments")
    for key, value in values.items():
        setattr(item, key, value)


@transactional
def create_action_item(plan: WorkPlan, data: ActionItemInput, *, actor) -> ActionItem:
    _require_editor(actor)
    values = _item_values(plan, data, None)
    item = ActionItem(priority_id=values["priority_id"], number=values["number"], text=values["text"])
    _apply_item(item, values)
    db.session.add(item)
    db.session.flush()
    audit.record(
        actor,
        "workplan.item_create",
        item,
        summary=_("Action item %(number)s", number=item.number),
        changes=audit.diff({}, _item_snapshot(item)),
    )
    return item


@transactional
def update_action_item(item: ActionItem, data: ActionItemInput, *, actor) -> bool:
    _require_editor(actor)
    values = _item_values(item.priority.plan, data, item)
    before = _item_snapshot(item)
    _apply_item(item, values)
    db.session.flush()
    changes = audit.diff(before, _item_snapshot(item))
    if changes:
        audit.record(
            actor,
            "workplan.item_update",
            item,
            summary=_("Action item %(number)s", number=item.number),
            changes=changes,
        )
    return bool(changes)


@transactional
def change_status(item: ActionItem, status: str, *, actor, note: str = "") -> bool:
    """Set the action item's status; a note given is kept as a progress note of today."""
    _require_editor(actor)
    if status not in STATUSES:
        raise ValidationFailed(_("Choose a status."), field_errors={"status": [_("Choose a status.")]})
    changed = status != item.status
    before = item.status
    item.status = status
    if text.multi_line(note):
        add_note(item, NoteInput(noted_on=clock.now().date(), text=note), actor=actor)
    if changed:
        audit.record(
            actor,
            "workplan.item_status",
            item,
            summary=_("Action item %(number)s", number=item.number),
            changes={"status": [before, status]},
        )
    return changed


@dataclass
class NoteInput:
    noted_on: date | None
    text: str


@transactional
def add_note(item: ActionItem, data: NoteInput, *, actor) -> ProgressNote:
    _require_editor(actor)
    errors: dict[str, list[str]] = {}
    body = text.multi_line(data.text)
    if not body:
        errors.setdefault("text", []).append(_("Write the progress note."))
    elif len(body) > 5000:
        errors.setdefault("text", []).append(_("At most 5000 characters."))
    if data.noted_on is None:
        errors.setdefault("noted_on", []).append(_("Give the date the note speaks of."))
    elif data.noted_on > clock.now().date():
        errors.setdefault("noted_on", []).append(_("A progress note cannot be dated in the future."))
    _field_errors(errors)
    note = ProgressNote(
        action_item_id=item.id,
        noted_on=data.noted_on,
        text=body,
        author_id=getattr(actor, "id", None),
        author_label=getattr(actor, "name", "") or getattr(actor, "email", "") or "",
    )
    db.session.add(note)
    db.session.flush()
    audit.record(actor, "workplan.note_add", item, summary=_("Action item %(number)s", number=item.number), changes={})
    return note


# ---------------------------------------------------------------------------------------------
# The event form's part: action items chosen for an event (events/signals.py event_form_saved)


def action_item_choices(event: Event | None = None) -> list[tuple[WorkPlan, list[tuple[Priority, list[ActionItem]]]]]:
    """Every plan's action items grouped by priority (current plan first), for the event form.
    Three queries."""
    all_plans = sorted(plans(), key=lambda p: (not p.current, -p.period_start.toordinal()))
    priorities = list(db.session.scalars(sa.select(Priority).order_by(Priority.plan_id, Priority.number)))
    items = list(db.session.scalars(sa.select(ActionItem).order_by(ActionItem.number)))
    by_priority: dict[int, list[ActionItem]] = defaultdict(list)
    for a in items:
        by_priority[a.priority_id].append(a)
    by_plan: dict[int, list[tuple[Priority, list[ActionItem]]]] = defaultdict(list)
    for p in priorities:
        by_plan[p.plan_id].append((p, by_priority[p.id]))
    return [(plan, by_plan[plan.id]) for plan in all_plans if by_plan[plan.id]]


def linked_item_ids(event: Event | None) -> list[int]:
    if event is None or event.id is None:
        return []
    return list(
        db.session.scalars(
            sa.select(action_item_events.c.action_item_id).where(action_item_events.c.event_id == event.id)
        )
    )


def links_of_event(event: Event) -> list[tuple[WorkPlan, ActionItem]]:
    """The action items an event contributes to, with their plans (one query)."""
    rows = db.session.execute(
        sa.select(WorkPlan, ActionItem)
        .join(Priority, Priority.plan_id == WorkPlan.id)
        .join(ActionItem, ActionItem.priority_id == Priority.id)
        .join(action_item_events, action_item_events.c.action_item_id == ActionItem.id)
        .where(action_item_events.c.event_id == event.id)
        .order_by(WorkPlan.period_start, ActionItem.number)
    ).all()
    return [(plan, item) for plan, item in rows]


def set_event_items(event: Event, item_ids: list[int], *, actor) -> bool:
    """Link the event to exactly these action items (inside the event's unit of work). Refuses an
    action item that does not exist or whose plan's period does not cover the event (nothing is
    saved then: the event's own change rolls back with it). True when the links changed."""
    wanted = sorted({int(i) for i in item_ids})
    errors: dict[str, list[str]] = {}
    items = _rows(ActionItem, wanted, "action_item_ids", _("An action item chosen does not exist."), errors)
    for item in items:
        problem = event_outside_plan(event, item.priority.plan)
        if problem:
            errors.setdefault("action_item_ids", []).append(
                _("Action item %(number)s: %(problem)s", number=item.number, problem=problem)
            )
    _field_errors(errors)
    current = sorted(linked_item_ids(event))
    if current == [i.id for i in sorted(items, key=lambda i: i.id)]:
        return False
    db.session.execute(sa.delete(action_item_events).where(action_item_events.c.event_id == event.id))
    if items:
        db.session.execute(
            sa.insert(action_item_events), [{"action_item_id": i.id, "event_id": event.id} for i in items]
        )
    audit.record(
        actor,
        "workplan.event_links",
        event,
        summary=event.title,
        changes={"action_items": [current, sorted(i.id for i in items)]},
    )
    return True


def check_event_dates(event: Event, starts_at: datetime | None, tentative_month: date | None) -> None:
    """Refuse moving a linked event out of its action items' plan periods (validate_event_change)."""
    links = links_of_event(event)
    if not links:
        return
    moved = Event(title=event.title, starts_at=starts_at, tentative_month=tentative_month)
    for plan, item in links:
        problem = event_outside_plan(moved, plan)
        if problem:
            msg = _("Action item %(number)s: %(problem)s", number=item.number, problem=problem)
            raise ValidationFailed(msg, field_errors={"starts_local": [msg]})


def unmatched_tags() -> list[tuple[str, list[Event]]]:
    """The events' old free-text priority tags that no action item took over (migration 0015),
    with their events, for the organisers to link by hand. One query."""
    found: dict[str, list[Event]] = defaultdict(list)
    for event in db.session.scalars(
        sa.select(Event).where(Event.priority_tags.is_not(None)).order_by(Event.starts_at, Event.id)
    ):
        for tag in event.priority_tags or []:
            found[tag].append(event)
    return sorted(found.items(), key=lambda kv: kv[0].lower())


# ---------------------------------------------------------------------------------------------
# Outputs and their versions


@dataclass
class OutputInput:
    title: str
    kind: str
    description: str = ""
    published: bool = False
    published_on: date | None = None
    event_ids: list[int] = field(default_factory=list)
    action_item_ids: list[int] = field(default_factory=list)


def _output_values(data: OutputInput) -> dict:
    errors: dict[str, list[str]] = {}
    title = text.single_line(data.title)
    if not title:
        errors.setdefault("title", []).append(_("Give the output a title."))
    elif len(title) > 300:
        errors.setdefault("title", []).append(_("At most 300 characters."))
    if data.kind not in OUTPUT_KINDS:
        errors.setdefault("kind", []).append(_("Choose the kind of output."))
    if data.published and data.published_on is None:
        errors.setdefault("published_on", []).append(_("Give the date it was published."))
    events = _rows(Event, data.event_ids, "event_ids", _("An event chosen does not exist."), errors)
    items = _rows(
        ActionItem, data.action_item_ids, "action_item_ids", _("An action item chosen does not exist."), errors
    )
    _field_errors(errors)
    return {
        "title": title,
        "kind": data.kind,
        "description": text.multi_line(data.description),
        "published": bool(data.published),
        "published_on": data.published_on,
        "_events": events,
        "_items": items,
    }


def _output_snapshot(output: Output) -> dict:
    return {
        "title": output.title,
        "kind": output.kind,
        "description": output.description,
        "published": output.published,
        "published_on": output.published_on,
        "events": sorted(e.id for e in output.events),
        "action_items": sorted(a.id for a in output.action_items),
    }


def _apply_output(output: Output, values: dict) -> None:
    output.events = values.pop("_events")
    output.action_items = values.pop("_items")
    for key, value in values.items():
        setattr(output, key, value)


@transactional
def create_output(data: OutputInput, *, actor) -> Output:
    _require_editor(actor)
    values = _output_values(data)
    output = Output(title=values["title"], created_by_id=getattr(actor, "id", None))
    _apply_output(output, values)
    db.session.add(output)
    db.session.flush()
    audit.record(
        actor, "workplan.output_create", output, summary=output.title, changes=audit.diff({}, _output_snapshot(output))
    )
    return output


@transactional
def update_output(output: Output, data: OutputInput, *, actor) -> bool:
    _require_editor(actor)
    values = _output_values(data)
    before = _output_snapshot(output)
    _apply_output(output, values)
    db.session.flush()
    changes = audit.diff(before, _output_snapshot(output))
    if changes:
        audit.record(actor, "workplan.output_update", output, summary=output.title, changes=changes)
    return bool(changes)


def outputs(*, include_drafts: bool) -> list[Output]:
    stmt = sa.select(Output).order_by(Output.published_on.desc().nulls_first(), Output.title)
    if not include_drafts:
        stmt = stmt.where(Output.published.is_(True))
    return list(db.session.scalars(stmt))


def get_output(output_id: int, *, user) -> Output:
    """An output: published ones for anyone, drafts for organisers only (others: not found)."""
    output = get_or_404(Output, output_id, _("There is no such output."))
    if not output.published and not can_edit(user):
        raise NotFound(_("There is no such output."))
    return output


def get_version_file(version_id: int, *, user) -> tuple[OutputVersion, Path]:
    """A stored version's row and file path, for anyone who may see its output."""
    version = get_or_404(OutputVersion, version_id, _("There is no such file."))
    get_output(version.output_id, user=user)
    if not version.is_file:
        raise NotFound(_("This version is a link, not a stored file."))
    path = files.path_of(version.stored_name)
    if not path.is_file():
        raise NotFound(_("The file of this version is missing: ask an organiser to upload it again."))
    return version, path


@dataclass
class VersionInput:
    language: str
    published_on: date | None
    url: str | None = None
    stream: BinaryIO | None = None
    filename: str = ""


def _version_checks(output: Output, data: VersionInput) -> tuple[str | None, dict]:
    errors: dict[str, list[str]] = {}
    if data.language not in OUTPUT_LANGUAGES:
        errors.setdefault("language", []).append(_("Choose a language."))
    elif any(v.language == data.language for v in output.versions):
        errors.setdefault("language", []).append(
            _("This output already has a version in %(language)s.", language=language_label(data.language))
        )
    if data.published_on is None:
        errors.setdefault("published_on", []).append(_("Give the date of this version."))
    url = text.single_line(data.url) or None
    has_file = data.stream is not None and bool(data.filename)
    if url and has_file:
        errors.setdefault("url", []).append(_("Give a file or a link, not both."))
    elif not url and not has_file:
        errors.setdefault("file", []).append(_("Choose a file or give a link."))
    if url and not url.lower().startswith(("https://", "http://")):
        errors.setdefault("url", []).append(_("The link must start with https://."))
    elif url and len(url) > 2000:
        errors.setdefault("url", []).append(_("At most 2000 characters."))
    return url, errors


def add_version(output: Output, data: VersionInput, *, actor) -> OutputVersion:
    """Add a language version: a link, or a file checked by size and content and stored under
    OUTPUTS_DIR. One unit of work; when it fails (bad input, the database) the stored file is
    removed again: a failed upload leaves no file and no row."""
    _require_editor(actor)
    stored = None
    try:
        with unit_of_work():
            url, errors = _version_checks(output, data)
            _field_errors(errors)
            if url is None:
                stored = files.store(data.stream, data.filename)
            version = OutputVersion(
                output_id=output.id,
                language=data.language,
                published_on=data.published_on,
                url=url,
                stored_name=stored.stored_name if stored else None,
                filename=exports.safe_filename(data.filename, fallback="output")[:255] if stored else None,
                content_type=stored.content_type if stored else None,
                size=stored.size if stored else None,
                sha256=stored.sha256 if stored else None,
                created_by_id=getattr(actor, "id", None),
            )
            db.session.add(version)
            db.session.flush()
            audit.record(
                actor,
                "workplan.version_add",
                output,
                summary=f"{output.title} ({data.language})",
                changes={"language": [None, data.language], "file": [None, version.filename or url]},
            )
    except BaseException:
        if stored is not None:
            files.remove(stored.stored_name)
        raise
    return version


def delete_version(version: OutputVersion, *, actor) -> None:
    """Remove a version (and its file, once the row is gone)."""
    _require_editor(actor)
    stored_name = version.stored_name
    with unit_of_work():
        output = version.output
        audit.record(
            actor,
            "workplan.version_delete",
            output,
            summary=f"{output.title} ({version.language})",
            changes={"language": [version.language, None]},
        )
        db.session.delete(version)
    files.remove(stored_name)


def outputs_by_language(refs: list[OutputRef]) -> list[tuple[str, str, list[tuple[OutputRef, VersionRef]]]]:
    """The public page's groups: (language code, label, [(output, its version in it)]), English
    first, then by label."""
    groups: dict[str, list[tuple[OutputRef, VersionRef]]] = defaultdict(list)
    labels: dict[str, str] = {}
    for ref in refs:
        for v in ref.versions:
            groups[v.language].append((ref, v))
            labels[v.language] = v.language_label
    order = sorted(groups, key=lambda code: (code != "en", labels[code].lower()))
    return [(code, labels[code], groups[code]) for code in order]


# ---------------------------------------------------------------------------------------------
# Choices for the organisers' forms


def events_in_period(start: date | None, end: date | None) -> list[Event]:
    """Events (not cancelled) dated in ``start``..``end`` (or all), date-TBC ones by their
    tentative month, for the action item's and the output's event lists."""
    stmt = sa.select(Event).where(Event.status != STATUS_CANCELLED).options(orm.raiseload(Event.agenda_items))
    if start is not None and end is not None:
        lo, hi = period_bounds(start, end)
        stmt = stmt.where(
            sa.or_(
                sa.and_(Event.starts_at >= lo, Event.starts_at < hi),
                sa.and_(
                    Event.starts_at.is_(None),
                    Event.tentative_month >= start.replace(day=1),
                    Event.tentative_month <= end,
                ),
            )
        )
    return list(db.session.scalars(stmt.order_by(Event.starts_at.desc().nulls_first(), Event.id)))


def event_choice_label(event: Event) -> str:
    day = event.starts_at.date() if event.starts_at is not None else event.tentative_month
    when = format_date(day, "medium") if day is not None else _("date to be confirmed")
    return f"{event.title} ({when})"


def commitments_of_events(event_ids: list[int]) -> list[Commitment]:
    """The commitments pledged at these events (the action item's commitment choices)."""
    if not event_ids:
        return []
    return list(
        db.session.scalars(
            sa.select(Commitment)
            .where(Commitment.event_id.in_(event_ids), Commitment.status != "withdrawn")
            .order_by(Commitment.event_id, Commitment.id)
        )
    )


def next_item_number(plan: WorkPlan) -> int:
    last = db.session.scalar(
        sa.select(sa.func.max(ActionItem.number)).join(Priority).where(Priority.plan_id == plan.id)
    )
    return (last or 0) + 1


def output_ref(output: Output) -> OutputRef:
    return _output_refs([output])[output.id]


@transactional
def link_tag(plan: WorkPlan, tag: str, item_id: int | None, *, actor) -> tuple[ActionItem, int]:
    """Move an earlier free-text tag onto an action item of ``plan``: every event carrying ``tag``
    is linked to it (the tag kept on the link, as migration 0015 does) and loses the tag. Refused,
    and nothing changed, when an event lies outside the plan's period. Returns the action item and
    how many events."""
    _require_editor(actor)
    item = db.session.get(ActionItem, item_id) if item_id else None
    if item is None or item.priority.plan_id != plan.id:
        msg = _("Choose an action item of this plan for the tag “%(tag)s”.", tag=tag)
        raise ValidationFailed(msg, field_errors={"action_item_id": [msg]})
    events = [
        e
        for e in db.session.scalars(sa.select(Event).where(Event.priority_tags.is_not(None)))
        if tag in (e.priority_tags or [])
    ]
    if not events:
        raise NotFound(_("No event carries the tag “%(tag)s” any more.", tag=tag))
    problems = [p for p in (event_outside_plan(e, plan) for e in events) if p]
    if problems:
        raise ValidationFailed(problems[0], field_errors={"action_item_id": problems})
    linked = set(
        db.session.scalars(
            sa.select(action_item_events.c.event_id).where(action_item_events.c.action_item_id == item.id)
        )
    )
    for event in events:
        if event.id not in linked:
            db.session.execute(
                sa.insert(action_item_events).values(action_item_id=item.id, event_id=event.id, migrated_from_tag=tag)
            )
        event.priority_tags = [t for t in event.priority_tags if t != tag]
        audit.record(
            actor,
            "workplan.tag_linked",
            event,
            summary=event.title,
            changes={"priority_tags": [tag, None], "action_items": [None, item.number]},
        )
    return item, len(events)
