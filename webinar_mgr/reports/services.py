"""The co-chairs' review: funnels, the member-by-event grid, sectors over time, commitments.

Services take plain values (dates, ids, "now") and return :class:`EventReview` /
:class:`PeriodReview` objects made of :class:`Table` s; the same tables feed the web pages, the
charts, the CSV/XLSX exports and the activity-report PDF, so the numbers are the same
everywhere. The SQL lives in :mod:`webinar_mgr.reports.queries` (a constant number of GROUP BY
queries per page).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import flask
from dateutil.relativedelta import relativedelta
from flask_babel import gettext as _

from webinar_mgr import clock, exports
from webinar_mgr.commitments.models import STATUSES as COMMITMENT_STATUS_LABELS
from webinar_mgr.directory.membership import MembershipIndex, membership_index
from webinar_mgr.directory.models import SECTOR_MEMBER, SECTORS
from webinar_mgr.errors import DomainError, NotFound
from webinar_mgr.events.models import Event
from webinar_mgr.extensions import db
from webinar_mgr.persistence import get_or_404, unit_of_work

from . import queries as q

DEFAULT_LAST_N = 2
MAX_LAST_N = 12
MAX_PERIOD_DAYS = 366 * 10
# The activity report shows participation by sector per event up to this many events, per quarter
# beyond (a table and a stacked chart of 53 events were a page of small print, issue 19).
SECTORS_PER_EVENT_UP_TO = 20
MIN_DATE = date(1990, 1, 1)
MAX_DATE = date(2200, 12, 31)


class BadPeriod(DomainError):
    """The period asked for cannot be used (bad dates, from after to)."""

    status_code = 400


# Building blocks ------------------------------------------------------------------------------


@dataclass
class Column:
    label: str
    kind: str = "text"  # text, int, pct, date, cell (attended, registered), mark
    # The header in CSV/XLSX where the page's is an abbreviation explained beside the table ("E1"
    # on the page, "E1 · 2026-03-10 · Regional webinar on ..." in the file).
    export_label: str | None = None


@dataclass
class Table:
    key: str
    title: str
    columns: list[Column]
    rows: list[list] = field(default_factory=list)
    # Row labels (first cell) written out in full in CSV/XLSX: {"E1": "E1 · 2026-03-10 · Title"}.
    export_row_labels: dict[str, str] = field(default_factory=dict)
    row_classes: list[str] = field(default_factory=list)
    note: str = ""

    def export_rows(self) -> list[list]:
        """Cells as plain values for CSV/XLSX: rates in per cent, grid cells as text."""
        out = []
        for row in self.rows:
            cells = []
            for col, value in zip(self.columns, row, strict=True):
                cells.append(export_cell(col.kind, value))
            if cells and isinstance(cells[0], str) and cells[0] in self.export_row_labels:
                cells[0] = self.export_row_labels[cells[0]]
            out.append(cells)
        return out

    @property
    def header(self) -> list[str]:
        """The header of the exported file (full labels where the page abbreviates)."""
        return [str(c.export_label or c.label) for c in self.columns]


def export_cell(kind: str, value):
    if value is None:
        return ""
    if kind == "pct":
        return round(value * 100, 1)
    if kind == "cell":
        attended, registered = value
        if not registered and not attended:
            return ""
        return _("%(attended)d of %(registered)d", attended=attended, registered=registered)
    return value


@dataclass
class Funnel:
    invited: int = 0
    registered: int = 0
    invited_registered: int = 0
    confirmed: int = 0
    attended: int = 0

    def add_registrations(self, row) -> None:
        self.registered += int(row.registered)
        self.confirmed += int(row.confirmed)
        self.invited_registered += int(row.invited_registered)
        self.attended += int(row.attended)

    @property
    def registration_rate(self) -> float | None:
        """Share of the invited who registered (registrations made through an invitation)."""
        return self.invited_registered / self.invited if self.invited else None

    @property
    def attendance_rate(self) -> float | None:
        """Attended divided by registered."""
        return self.attended / self.registered if self.registered else None

    def cells(self) -> list:
        return [
            self.invited,
            self.registered,
            self.confirmed,
            self.attended,
            self.registration_rate,
            self.attendance_rate,
        ]


def funnel_columns(first: str) -> list[Column]:
    return [
        Column(first),
        Column(_("Invited"), "int"),
        Column(_("Registered"), "int"),
        Column(_("Confirmed"), "int"),
        Column(_("Attended"), "int"),
        Column(_("Invited who registered"), "pct"),
        Column(_("Registered who attended"), "pct"),
    ]


def sector_label(code: str | None) -> str:
    if not code or code == q.UNKNOWN_SECTOR:
        return _("Not recorded")
    return str(SECTORS.get(code, code))


def sector_order(code: str) -> int:
    keys = list(SECTORS)
    return keys.index(code) if code in keys else len(keys)


def status_label(code: str) -> str:
    return str(COMMITMENT_STATUS_LABELS.get(code, code))


def event_local_date(event: Event) -> date | None:
    if event.starts_at is None:
        return None
    return event.starts_at.astimezone(ZoneInfo(event.timezone or "UTC")).date()


# Period ---------------------------------------------------------------------------------------


def parse_period(from_value: str | None, to_value: str | None, today: date | None = None) -> tuple[date, date]:
    """Read ``from``/``to`` (YYYY-MM-DD, inclusive); default: the last 12 months up to today."""
    today = today or clock.now().date()

    def read(value: str | None, name: str) -> date | None:
        if value is None or value.strip() == "":
            return None
        try:
            parsed = date.fromisoformat(value.strip())
        except ValueError:
            raise BadPeriod(
                _(
                    "“%(value)s” is not a valid %(name)s date: use YYYY-MM-DD, e.g. 2024-03-31.",
                    value=value.strip()[:40],
                    name=name,
                )
            ) from None
        if not MIN_DATE <= parsed <= MAX_DATE:
            raise BadPeriod(
                _(
                    "The %(name)s date must be between %(min)s and %(max)s.",
                    name=name,
                    min=MIN_DATE.isoformat(),
                    max=MAX_DATE.isoformat(),
                )
            )
        return parsed

    start = read(from_value, _("from"))
    end = read(to_value, _("to"))
    if end is None:
        end = today
    if start is None:
        start = end - relativedelta(months=12) + relativedelta(days=1)
    if start > end:
        raise BadPeriod(
            _(
                "The period starts (%(start)s) after it ends (%(end)s): swap the dates.",
                start=start.isoformat(),
                end=end.isoformat(),
            )
        )
    if (end - start).days > MAX_PERIOD_DAYS:
        raise BadPeriod(_("The period is too long: choose at most ten years."))
    return start, end


def held_history(now: datetime | None = None) -> tuple[date, date] | None:
    """UTC dates of the first and the last event ever held, or None when none was held.

    The review offers this whole span when the chosen period holds no event."""
    first, last = q.held_range(now or clock.now())
    if first is None or last is None:
        return None
    return first.astimezone(UTC).date(), last.astimezone(UTC).date()


def resolve_period(from_value: str | None, to_value: str | None, today: date | None = None) -> tuple[date, date, bool]:
    """The period asked for; when none is asked for, the last 12 months, or, if no event was held
    in them but some were before, the 12 months up to the last event held, so that the review
    opens on something. The flag is True in that last case (the page says so)."""
    start, end = parse_period(from_value, to_value, today)
    if (from_value or "").strip() or (to_value or "").strip():
        return start, end, False
    history = held_history()
    if history is not None and history[1] < start:
        end = history[1]
        return end - relativedelta(months=12) + relativedelta(days=1), end, True
    return start, end, False


def parse_last_n(value: str | None) -> int:
    if value is None or value.strip() == "":
        return DEFAULT_LAST_N
    try:
        n = int(value)
    except ValueError:
        raise BadPeriod(_("“Stopped coming” needs a whole number of events.")) from None
    if not 1 <= n <= MAX_LAST_N:
        raise BadPeriod(_("“Stopped coming” must look at between 1 and %(max)d events.", max=MAX_LAST_N))
    return n


# Per event ------------------------------------------------------------------------------------


@dataclass
class EventReview:
    event: Event
    funnel: Funnel
    by_sector: Table
    by_member: Table
    working_group: Table
    commitments: Table
    commitment_totals: dict[str, int]
    wg_present: int
    wg_total: int
    sector_funnels: list[tuple[str, Funnel]]

    @property
    def tables(self) -> dict[str, Table]:
        return {t.key: t for t in (self.by_sector, self.by_member, self.working_group, self.commitments)}


def event_review(event_id: int, today: date | None = None) -> EventReview:
    today = today or clock.now().date()
    event = get_or_404(Event, event_id, _("There is no event with this number."))

    sectors: dict[str, Funnel] = defaultdict(Funnel)
    members: dict[int, Funnel] = defaultdict(Funnel)
    total = Funnel()
    for row in q.event_invitations(event_id):
        sectors[row.sector].invited += row.invited
        if row.member_id is not None:
            members[row.member_id].invited += row.invited
        total.invited += row.invited
    for row in q.event_registrations(event_id):
        sectors[row.sector].add_registrations(row)
        if row.member_id is not None:
            members[row.member_id].add_registrations(row)
        total.add_registrations(row)

    govs = q.member_governments()
    names = {g.id: g.name for g in govs}

    sector_funnels = sorted(sectors.items(), key=lambda kv: (sector_order(kv[0]), kv[0]))
    by_sector = Table(
        "sector",
        _("By sector"),
        funnel_columns(_("Sector")),
        [[sector_label(code), *f.cells()] for code, f in sector_funnels],
    )
    by_sector.rows.append([_("Total"), *total.cells()])
    by_sector.row_classes = [""] * len(sector_funnels) + ["total"]

    member_rows = sorted(((names.get(mid, _("Unknown")), f) for mid, f in members.items()), key=lambda x: x[0].lower())
    by_member = Table(
        "member",
        _("By member government"),
        funnel_columns(_("Member government")),
        [[name, *f.cells()] for name, f in member_rows],
    )

    wg = Table(
        "working_group",
        _("Working Group members present and absent"),
        [
            Column(_("Member government")),
            Column(_("Present"), "mark"),
            Column(_("Registered"), "int"),
            Column(_("Attended"), "int"),
        ],
    )
    wg_present = 0
    # The Working Group as it was on the event's day (today for an event with no date).
    on_day = event_local_date(event) or today
    in_group = membership_index().members_on(on_day)
    wg_members = [g for g in govs if g.id in in_group]
    for g in sorted(
        wg_members,
        key=lambda g: (members[g.id].attended == 0, g.name.lower()) if g.id in members else (True, g.name.lower()),
    ):
        f = members.get(g.id, Funnel())
        present = f.attended > 0
        wg_present += present
        wg.rows.append([g.name, _("Present") if present else _("Absent"), f.registered, f.attended])
        wg.row_classes.append("present" if present else "absent")

    commitments = Table(
        "commitments",
        _("Commitments pledged at this event"),
        [
            Column(_("Member government")),
            *(Column(status_label(s), "int") for s in q.COMMITMENT_STATUSES),
            Column(_("Total"), "int"),
            Column(_("Overdue"), "int"),
        ],
    )
    per_member: dict[int | None, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    totals: dict[str, int] = defaultdict(int)
    for row in q.event_commitments(event_id, today):
        per_member[row.member_id][row.status] += row.n
        per_member[row.member_id]["overdue"] += row.overdue
        totals[row.status] += row.n
        totals["overdue"] += row.overdue
    ordered = sorted(per_member.items(), key=lambda kv: (kv[0] is None, names.get(kv[0], "").lower()))
    for mid, counts in ordered:
        label = names.get(mid, _("Unknown")) if mid is not None else _("Others (not a member government)")
        commitments.rows.append(_commitment_cells(label, counts))
        commitments.row_classes.append("")
    if ordered:
        commitments.rows.append(_commitment_cells(_("Total"), totals))
        commitments.row_classes.append("total")

    return EventReview(
        event=event,
        funnel=total,
        by_sector=by_sector,
        by_member=by_member,
        working_group=wg,
        commitments=commitments,
        commitment_totals=dict(totals),
        wg_present=wg_present,
        wg_total=len(wg_members),
        sector_funnels=[(sector_label(c), f) for c, f in sector_funnels],
    )


def _commitment_cells(label: str, counts: dict[str, int]) -> list:
    return [
        label,
        *(counts.get(s, 0) for s in q.COMMITMENT_STATUSES),
        sum(counts.get(s, 0) for s in q.COMMITMENT_STATUSES),
        counts.get("overdue", 0),
    ]


# Across a period ------------------------------------------------------------------------------


@dataclass
class GridMember:
    id: int
    name: str
    working_group_member: bool
    cells: list[tuple[int, int]]  # per event: (attended, registered)
    events_attended: int
    stopped: bool


@dataclass
class PeriodReview:
    start: date
    end: date
    last_n: int
    group: str
    events: list[Event]
    event_funnels: list[Funnel]
    total: Funnel
    members: list[GridMember]
    events_table: Table
    grid: Table
    sectors: Table
    sector_series: dict[str, list[int]]  # sector label -> attended per column of ``sectors``
    sector_columns: list[str]
    commitments_events: Table
    commitments_members: Table
    commitment_totals: dict[str, int]
    event_commitments: list[dict[str, int]]
    # attendances counted under no sector, or (governments) under no member government
    uncounted_attended: int = 0
    attended_by_sector: dict[str, int] = field(default_factory=dict)  # sector code -> people who attended
    # Working Group membership: the ★ in the grid is "a member on ``membership_on``" (the period's
    # last day, or today for a period not yet over); ``membership`` answers for any other day.
    membership_on: date | None = None
    membership: MembershipIndex | None = None
    # sector code -> people who attended, per event (in the order of ``events``)
    attended_by_sector_event: dict[str, list[int]] = field(default_factory=dict)
    # member government id -> (name, short name, country code)
    governments: dict[int, tuple[str, str | None, str | None]] = field(default_factory=dict)
    # each event's date in its own time zone (in the order of ``events``)
    local_dates: list[date | None] = field(default_factory=list)

    @property
    def tables(self) -> dict[str, Table]:
        return {
            t.key: t
            for t in (self.events_table, self.grid, self.sectors, self.commitments_events, self.commitments_members)
        }

    @property
    def stopped(self) -> list[GridMember]:
        return [m for m in self.members if m.stopped]

    @property
    def members_present(self) -> int:
        return sum(1 for m in self.members if m.events_attended)


def event_code(index: int) -> str:
    # TRANSLATORS: the short column heading of the n-th event in the co-chairs' grid ("E" for event).
    return _("E%(n)d", n=index + 1)


def event_codes(n: int) -> list[str]:
    """``[event_code(0), ..., event_code(n - 1)]`` with one translation call (the review of 200
    events asked for each code seven times: 1,400 gettext calls, 30 ms)."""
    # TRANSLATORS: the short column heading of the n-th event in the co-chairs' grid ("E" for event).
    pattern = _("E%(n)d")
    return [pattern % {"n": i + 1} for i in range(n)]


def event_label(index: int, event: Event, code: str | None = None) -> str:
    """The event in full for exports: "E1 · 2026-03-10 · Regional webinar on ..." (local date)."""
    code = code if code is not None else event_code(index)
    return _event_label(code, event_local_date(event), event.title)


def _event_label(code: str, day: date | None, title: str) -> str:
    return " · ".join(p for p in (code, day.isoformat() if day else "", title) if p)


def quarter_of(d: date) -> str:
    return f"{d.year} Q{(d.month - 1) // 3 + 1}"


def period_registration_rows(start: date, end: date, now: datetime) -> list[tuple]:
    """:func:`queries.period_registrations`' rows, after keeping the figures of the events that
    had none at their current version (:func:`queries.keep_period_figures`): two statements,
    whether anything was counted afresh or not. What was kept is committed here unless a unit of
    work is open (which commits it with its own changes); the objects already read keep their
    values over that commit (the page reads them again without a statement each). The figures
    kept are the review's own bookkeeping, not what the person sent: an error page shown after
    this request does not say that something was saved (``g.unit_saved``)."""
    session = db.session()
    expire = session.expire_on_commit
    saved = flask.g.get("unit_saved") if flask.has_app_context() else None
    session.expire_on_commit = False
    try:
        with unit_of_work():
            q.keep_period_figures(start, end, now)
    finally:
        session.expire_on_commit = expire
        if flask.has_app_context() and not saved:
            flask.g.pop("unit_saved", None)
    return q.period_registrations(start, end, now)


def period_review(
    start: date, end: date, *, last_n: int = DEFAULT_LAST_N, group: str = "event", now: datetime | None = None
) -> PeriodReview:
    now = now or clock.now()
    today = now.date()
    if group not in ("event", "quarter", "auto"):
        group = "event"
    events = q.held_events(start, end, now)
    index = {e.id: i for i, e in enumerate(events)}
    n = len(events)
    codes = event_codes(n)
    local_dates = [event_local_date(e) for e in events]
    labels = [_event_label(codes[i], local_dates[i], e.title) for i, e in enumerate(events)]
    if group == "auto":  # the activity report: per quarter when a row per event would be long
        group = "quarter" if n > SECTORS_PER_EVENT_UP_TO else "event"

    funnels = [Funnel() for _e in events]
    for row in q.period_invitations(start, end, now):
        if row.event_id in index:
            funnels[index[row.event_id]].invited += row.invited
    reg_rows = period_registration_rows(start, end, now)
    govs = q.member_governments()
    # One pass over the rows (event, sector, member government): the funnels, the grid's cells,
    # attendances per sector and event, and those counted under no sector or member government.
    # (With 200 events x 45 member governments they are 9,000 rows; four passes cost 0.1 s.)
    cells: dict[int, list[tuple[int, int]]] = {g.id: [(0, 0)] * n for g in govs}
    by_sector_event: dict[str, list[int]] = {}
    uncounted = 0
    for event_id, sector, member_id, registered, confirmed, invited_registered, attended in reg_rows:
        i = index.get(event_id)
        if i is None:
            continue
        registered, attended = int(registered), int(attended)
        f = funnels[i]
        f.registered += registered
        f.confirmed += int(confirmed)
        f.invited_registered += int(invited_registered)
        f.attended += attended
        member_cells = cells.get(member_id)
        if member_cells is not None:
            a, r = member_cells[i]
            member_cells[i] = (a + attended, r + registered)
        per_event = by_sector_event.get(sector)
        if per_event is None:
            per_event = by_sector_event[sector] = [0] * n
        per_event[i] += attended
        if sector == q.UNKNOWN_SECTOR or (sector == SECTOR_MEMBER and member_id is None):
            uncounted += attended
    total = Funnel()
    for f in funnels:
        total.invited += f.invited
        total.registered += f.registered
        total.confirmed += f.confirmed
        total.invited_registered += f.invited_registered
        total.attended += f.attended

    events_table = Table(
        "events",
        _("Events held"),
        [
            Column("#"),
            Column(_("Date"), "date"),
            Column(_("Event")),
            Column(_("Kind")),
            Column(_("Convenors")),
            *funnel_columns("")[1:],
        ],
    )
    kind_labels: dict[int, str] = {}  # each kind's label (a translation) read once, not once per event
    for i, (e, f) in enumerate(zip(events, funnels, strict=True)):
        kind = e.kind
        if kind is None:
            kind_label = ""
        else:
            kind_label = kind_labels.get(kind.id)
            if kind_label is None:
                kind_label = kind_labels[kind.id] = kind.label
        convenors = e.convenors_text(short=True)
        events_table.rows.append([codes[i], local_dates[i], e.title, kind_label, convenors, *f.cells()])
    if events:
        events_table.rows.append(["", None, _("Total"), "", "", *total.cells()])
        events_table.row_classes = [""] * n + ["total"]

    # Member-by-event grid and "stopped coming".
    membership = membership_index()
    membership_on = min(end, today)
    in_group = membership.members_on(membership_on)
    members = []
    for g in govs:
        row_cells = cells[g.id]
        attended_flags = [a > 0 for a, _r in row_cells]
        stopped = n > last_n and any(attended_flags[: n - last_n]) and not any(attended_flags[n - last_n :])
        members.append(GridMember(g.id, g.name, g.id in in_group, row_cells, sum(attended_flags), stopped))
    grid = Table(
        "grid",
        _("Attendance by member government"),
        [
            Column(_("Member government")),
            *(Column(codes[i], "cell", export_label=labels[i]) for i in range(n)),
            Column(_("Events attended"), "int"),
            Column(_("Stopped coming"), "mark"),
        ],
        note=_(
            "Each cell: people who attended of people registered. “Stopped coming”: attended an "
            "earlier event in the period but none of the last %(n)d.",
            n=last_n,
        ),
    )
    for m in members:
        grid.rows.append(
            [
                m.name + (" ★" if m.working_group_member else ""),
                *m.cells,
                m.events_attended,
                _("Yes") if m.stopped else "",
            ]
        )
        grid.row_classes.append("stopped" if m.stopped else "")

    # Participation (attended) by sector, per event or per quarter.
    if group == "quarter":
        columns = sorted({quarter_of(d) for d in local_dates})
        column_of = {e.id: columns.index(quarter_of(d)) for e, d in zip(events, local_dates, strict=True)}
    else:
        columns = list(codes)
        column_of = {e.id: i for i, e in enumerate(events)}
    by_sector: dict[str, list[int]] = {}
    if group == "quarter":
        event_columns = [column_of[e.id] for e in events]
        for code, per_event in by_sector_event.items():
            per_column = by_sector[code] = [0] * len(columns)
            for i, value in enumerate(per_event):
                per_column[event_columns[i]] += value
    else:
        by_sector = {code: list(per_event) for code, per_event in by_sector_event.items()}
    sector_codes = sorted(by_sector, key=lambda c: (sector_order(c), c))
    sectors = Table(
        "sectors",
        _("Participation by sector (people who attended)"),
        [
            Column(_("Quarter") if group == "quarter" else _("Event")),
            *(Column(sector_label(c), "int") for c in sector_codes),
            Column(_("Total"), "int"),
        ],
    )
    for j, col in enumerate(columns):
        values = [by_sector[c][j] for c in sector_codes]
        sectors.rows.append([col, *values, sum(values)])
    if group != "quarter":
        sectors.export_row_labels = dict(zip(codes, labels, strict=True))
    sector_series = {sector_label(c): by_sector[c] for c in sector_codes}

    # Commitments per event and per member.
    names = {g.id: g.name for g in govs}
    per_event: list[dict[str, int]] = [defaultdict(int) for _e in events]
    per_member: dict[int | None, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    totals: dict[str, int] = defaultdict(int)
    for by, key, status, count, overdue in q.period_commitments(start, end, now, today):
        if by == q.COMMITMENTS_BY_MEMBER:
            buckets = (per_member[key],)
        elif key in index:  # each commitment counted once per event and, with it, in the totals
            buckets = (per_event[index[key]], totals)
        else:
            continue
        for bucket in buckets:
            bucket[status] += count
            bucket["overdue"] += overdue
    status_cols = [Column(status_label(s), "int") for s in q.COMMITMENT_STATUSES]
    commitments_events = Table(
        "commitments_events",
        _("Commitments per event"),
        [
            Column("#"),
            Column(_("Event")),
            *status_cols,
            Column(_("Total"), "int"),
            Column(_("Overdue"), "int"),
            Column(_("Delivered share"), "pct"),
        ],
    )
    for i, (e, counts) in enumerate(zip(events, per_event, strict=True)):
        commitments_events.rows.append(
            [codes[i], e.title, *_commitment_cells("", counts)[1:], _delivered_share(counts)]
        )
    if events:
        commitments_events.rows.append(["", _("Total"), *_commitment_cells("", totals)[1:], _delivered_share(totals)])
        commitments_events.row_classes = [""] * n + ["total"]
    commitments_members = Table(
        "commitments_members",
        _("Commitments per member government"),
        [
            Column(_("Member government")),
            *status_cols,
            Column(_("Total"), "int"),
            Column(_("Overdue"), "int"),
            Column(_("Delivered share"), "pct"),
        ],
    )
    for mid, counts in sorted(per_member.items(), key=lambda kv: (kv[0] is None, names.get(kv[0], "").lower())):
        label = names.get(mid, _("Unknown")) if mid is not None else _("Others (not a member government)")
        commitments_members.rows.append([*_commitment_cells(label, counts), _delivered_share(counts)])

    return PeriodReview(
        start=start,
        end=end,
        last_n=last_n,
        group=group,
        events=events,
        event_funnels=funnels,
        total=total,
        members=members,
        events_table=events_table,
        grid=grid,
        sectors=sectors,
        sector_series=sector_series,
        sector_columns=columns,
        commitments_events=commitments_events,
        commitments_members=commitments_members,
        commitment_totals=dict(totals),
        event_commitments=[dict(c) for c in per_event],
        attended_by_sector={c: sum(by_sector[c]) for c in sector_codes},
        membership_on=membership_on,
        membership=membership,
        attended_by_sector_event=dict(by_sector_event),
        governments={g.id: (g.name, g.short_name, g.country_code) for g in govs},
        uncounted_attended=uncounted,
        local_dates=local_dates,
    )


# The grid split by year or quarter (issue 19): a ten-year period must not be one table of
# 100,000 cells. Each part is a table of the same kind as ``PeriodReview.grid`` (the same cells, the
# same event codes E1...En), with the events of one year (or one quarter when the period holds one
# year's events only); the whole period's "Events attended" and "Stopped coming" are one summary
# table beside them. A period within one quarter, or with a few events, keeps the single grid.
GRID_SPLIT_AFTER = 24  # events: a grid of more is shown in parts


@dataclass
class GridPart:
    key: str  # "2025" or "2025-Q2": the query parameter that picks the part
    label: str  # "2025" or "2025 Q2"
    events: int
    table: Table


def _part_of(d: date | None, by_quarter: bool) -> tuple[str, str]:
    if d is None:
        return "", ""
    if by_quarter:
        q_ = (d.month - 1) // 3 + 1
        return f"{d.year}-Q{q_}", f"{d.year} Q{q_}"
    return str(d.year), str(d.year)


def grid_parts(review: PeriodReview) -> list[GridPart]:
    """The member-by-event grid split by year (by quarter when all events are in one year); one
    part when all events are in one quarter or there are few (then its table is ``review.grid``)."""
    if len(review.events) <= GRID_SPLIT_AFTER:
        return [GridPart("", "", len(review.events), review.grid)]
    days = review.local_dates or [event_local_date(e) for e in review.events]
    by_quarter = len({d.year for d in days if d}) <= 1
    keys = [_part_of(d, by_quarter) for d in days]
    order: dict[str, list[int]] = {}
    labels: dict[str, str] = {}
    for i, (key, label) in enumerate(keys):
        order.setdefault(key, []).append(i)
        labels[key] = label
    if len(order) <= 1:
        key = next(iter(order), "")
        return [GridPart(key, labels.get(key, ""), len(review.events), review.grid)]
    parts = []
    member_label = _("Member government")
    attended_label = _("Events attended")
    grid_columns = review.grid.columns
    for key, idx in order.items():
        table = Table(
            f"grid-{key}",
            _("Member governments by event, %(part)s", part=labels[key]),
            [Column(member_label), *(grid_columns[i + 1] for i in idx), Column(attended_label, "int")],
        )
        for m, row in zip(review.members, review.grid.rows, strict=True):
            cells = [m.cells[i] for i in idx]
            table.rows.append([row[0], *cells, sum(1 for a, _r in cells if a > 0)])
        table.row_classes = list(review.grid.row_classes)
        parts.append(GridPart(key, labels[key], len(idx), table))
    return parts


def grid_summary(review: PeriodReview) -> Table:
    """The whole period's last two columns of the grid, for a grid shown in parts."""
    table = Table(
        "grid_summary",
        _("Attendance by member government"),
        [Column(_("Member government")), Column(_("Events attended"), "int"), Column(_("Stopped coming"), "mark")],
        note=review.grid.note,
    )
    for row in review.grid.rows:
        table.rows.append([row[0], row[-2], row[-1]])
    table.row_classes = list(review.grid.row_classes)
    return table


def _delivered_share(counts: dict[str, int]) -> float | None:
    active = sum(counts.get(s, 0) for s in ("pledged", "in_progress", "delivered"))
    return counts.get("delivered", 0) / active if active else None


# Activity report ------------------------------------------------------------------------------


@dataclass
class ActivityReport:
    review: PeriodReview
    issued_on: date
    upcoming: list[Event]
    tbc: list[Event]
    comparison: Comparison | None = None


def activity_report(
    start: date, end: date, *, last_n: int = DEFAULT_LAST_N, now: datetime | None = None
) -> ActivityReport:
    now = now or clock.now()
    review = period_review(start, end, last_n=last_n, group="auto", now=now)
    upcoming, tbc = q.upcoming_events(now)
    comparison = compare_with_previous(review, now=now)
    return ActivityReport(review=review, issued_on=now.date(), upcoming=upcoming, tbc=tbc, comparison=comparison)


# Exports --------------------------------------------------------------------------------------


def export_table(tables: dict[str, Table], key: str) -> Table:
    table = tables.get(key)
    if table is None:
        raise NotFound(_("There is no table “%(key)s” to export.", key=key[:40]))
    return table


def _export(table: Table, fmt: str, *, name: str, obj=None, actor) -> exports.ExportFile:
    if fmt not in exports.FORMATS:
        raise NotFound(_("Exports are available as .csv or .xlsx."))
    return exports.export(
        table.header,
        table.export_rows(),
        fmt=fmt,
        name=name,
        action="review.export",
        actor=actor,
        obj=obj,
        object_type=None if obj is not None else "Review",
        sheet=str(table.title),
    )


def export_period_table(review: PeriodReview, key: str, fmt: str, *, actor) -> exports.ExportFile:
    """One table of the period's review as ``review-<table>-<from>-<to>.csv`` / ``.xlsx``, audited."""
    table = export_table(review.tables, key)
    name = f"review-{table.key}-{review.start.isoformat()}-{review.end.isoformat()}"
    return _export(table, fmt, name=name, actor=actor)


def export_event_table(review: EventReview, key: str, fmt: str, *, actor) -> exports.ExportFile:
    """One table of an event's review as ``event-<id>-<table>.csv`` / ``.xlsx``, audited."""
    table = export_table(review.tables, key)
    return _export(table, fmt, name=f"event-{review.event.id}-{table.key}", obj=review.event, actor=actor)


# Comparison with the previous period of the same length ----------------------------------------


def previous_period(start: date, end: date) -> tuple[date, date]:
    """The period of the same number of days that ends the day before ``start``."""
    days = (end - start).days
    prev_end = start - relativedelta(days=1)
    return prev_end - relativedelta(days=days), prev_end


@dataclass
class Comparison:
    start: date
    end: date
    previous_start: date
    previous_end: date
    table: Table


def _active_commitments(totals: dict[str, int]) -> int:
    return sum(totals.get(s, 0) for s in ("pledged", "in_progress", "delivered"))


def comparison_figures(review: PeriodReview) -> list[tuple[str, int]]:
    """The figures compared, read from a period's review (never counted again)."""
    return [
        (_("Events held"), len(review.events)),
        (_("Registrations"), review.total.registered),
        (_("Participants (attendances)"), review.total.attended),
        (_("Member governments that attended"), review.members_present),
        (_("Sectors that attended"), sum(1 for v in review.attended_by_sector.values() if v)),
        (_("Commitments pledged (not withdrawn)"), _active_commitments(review.commitment_totals)),
        (_("Commitments delivered"), review.commitment_totals.get("delivered", 0)),
    ]


def period_figures(start: date, end: date, *, now: datetime | None = None) -> list[tuple[str, int]]:
    """:func:`comparison_figures` of a period without building its whole review: the same queries
    (held events, registrations with attendance, commitments) read the same way, in three
    statements. ``tests/test_statement.py`` checks that both give the same figures."""
    now = now or clock.now()
    today = now.date()
    events = q.held_event_count(start, end, now)
    registered = attended = 0
    members: set[int] = set()
    sectors: dict[str, int] = defaultdict(int)
    for _event_id, sector, member_id, registered_n, _confirmed, _invited, attended_n in period_registration_rows(
        start, end, now
    ):
        registered += int(registered_n)
        attended += int(attended_n)
        sectors[sector] += int(attended_n)
        if attended_n and member_id is not None:
            members.add(member_id)
    totals: dict[str, int] = defaultdict(int)
    for by, _key, status, count, _overdue in q.period_commitments(start, end, now, today):
        if by == q.COMMITMENTS_BY_EVENT:
            totals[status] += count
    governments = {g.id for g in q.member_governments()} if members else set()
    return [
        (_("Events held"), events),
        (_("Registrations"), registered),
        (_("Participants (attendances)"), attended),
        (_("Member governments that attended"), len(members & governments)),
        (_("Sectors that attended"), sum(1 for v in sectors.values() if v)),
        (_("Commitments pledged (not withdrawn)"), _active_commitments(totals)),
        (_("Commitments delivered"), totals.get("delivered", 0)),
    ]


def signed(n: int) -> str:
    return f"+{n}" if n > 0 else ("−" + str(-n) if n < 0 else "0")


def compare_with_previous(review: PeriodReview, *, now: datetime | None = None) -> Comparison:
    """This period beside the previous period of the same length: events, registrations,
    participants, member governments, sectors and commitments, with the change."""
    prev_start, prev_end = previous_period(review.start, review.end)
    table = Table(
        "comparison",
        _("Compared with the previous period of the same length"),
        [
            Column(_("Measure")),
            Column(_("This period"), "int"),
            Column(_("Previous period"), "int"),
            Column(_("Change")),
        ],
        note=_(
            "This period: %(start)s to %(end)s. Previous period: %(prev_start)s to %(prev_end)s.",
            start=review.start.isoformat(),
            end=review.end.isoformat(),
            prev_start=prev_start.isoformat(),
            prev_end=prev_end.isoformat(),
        ),
    )
    for (label, now_value), (_label, before) in zip(
        comparison_figures(review), period_figures(prev_start, prev_end, now=now), strict=True
    ):
        table.rows.append([label, now_value, before, signed(now_value - before)])
    return Comparison(review.start, review.end, prev_start, prev_end, table)
