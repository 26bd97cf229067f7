"""The co-chairs' statement to the Senior Officials' Meeting, drafted from the data (issue 17).

The draft follows the statement the group has always written (../shared/domain/): implementation
of the work plan per priority, each event held with who took part, voluntary commitments, outputs
and their languages, upcoming activities, and the co-chairs' recommendations. Every figure comes
from :func:`services.period_review` for the same period (never counted a second way), the plan
and the outputs from :mod:`webinar_mgr.workplan.services`.

Co-chairs edit each section as plain text and save versions (who, when); each version keeps the
text generated when it was saved, so the page can say which sections' figures changed since and
offer "refresh from the data" per section. The text is plain text everywhere: the page, the PDF
and the DOCX show what was typed, markup included, as text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from babel.lists import format_list
from flask_babel import format_date, get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from webinar_mgr import clock, text
from webinar_mgr.audit import services as audit
from webinar_mgr.errors import Conflict, NotFound, ValidationFailed
from webinar_mgr.events.models import Event
from webinar_mgr.extensions import db
from webinar_mgr.forms_common import db_int
from webinar_mgr.i18n import format_month
from webinar_mgr.persistence import unit_of_work
from webinar_mgr.workplan import services as workplan

from . import queries as q
from .models import StatementVersion
from .services import PeriodReview, event_local_date, period_review

SECTIONS: tuple[tuple[str, object], ...] = (
    ("implementation", _l("Implementation of the Work Plan and priorities")),
    ("events", _l("Meetings and regional webinars held")),
    ("commitments", _l("Voluntary commitments")),
    ("outputs", _l("Outputs and their languages")),
    ("upcoming", _l("Upcoming activities")),
    ("recommendations", _l("Recommendations for programs and activities")),
)
SECTION_KEYS = tuple(k for k, _label in SECTIONS)
MAX_SECTION_CHARS = 20_000
NAME_OTHERS_UP_TO = 8  # other Bali Process members are named (by sub-region) up to this many
EXAMPLES = 3

# The Bali Process members' sub-regions, by ISO country code (the directory's country_code).
SUBREGIONS: dict[str, object] = {
    "pacific": _l("the Pacific"),
    "south_east_asia": _l("South-East Asia"),
    "east_asia": _l("East Asia"),
    "south_asia": _l("South Asia"),
    "west_asia": _l("West Asia and the Middle East"),
    "americas": _l("the Americas"),
    "other": _l("other regions"),
}
_SUBREGION_OF = {
    **dict.fromkeys(("AU", "FJ", "KI", "NC", "NR", "NZ", "PG", "PW", "SB", "TO", "VU", "WS"), "pacific"),
    **dict.fromkeys(("BN", "ID", "KH", "LA", "MM", "MY", "PH", "SG", "TH", "TL", "VN"), "south_east_asia"),
    **dict.fromkeys(("CN", "HK", "JP", "KP", "KR", "MN", "MO"), "east_asia"),
    **dict.fromkeys(("AF", "BD", "BT", "IN", "LK", "MV", "NP", "PK"), "south_asia"),
    **dict.fromkeys(("AE", "IQ", "IR", "JO", "SY", "TR"), "west_asia"),
    **dict.fromkeys(("US", "CA"), "americas"),
}


def subregion_of(country_code: str | None) -> str:
    return _SUBREGION_OF.get((country_code or "").upper(), "other")


def section_label(key: str) -> str:
    return str(dict(SECTIONS)[key])


def _list(items: list[str]) -> str:
    items = [i for i in items if i]
    if not items:
        return ""
    return format_list(items, locale=str(get_locale() or "en"))


def _month(d: date | None) -> str:
    return format_month(d)  # "January 2026", "2026年1月": the locale's own order


def _day(d: date | None) -> str:
    return format_date(d, "long") if d else ""


# The data behind the draft ---------------------------------------------------------------------


@dataclass
class StatementData:
    start: date
    end: date
    review: PeriodReview
    plan: object | None  # workplan.PlanProgress
    outputs: list
    upcoming: list[Event]
    tbc: list[Event]
    examples: list
    # event id -> sector -> names of the international organisations / support office that attended
    named: dict[int, dict[str, list[str]]] = field(default_factory=dict)
    before: Event | None = None
    after: Event | None = None


def statement_data(start: date, end: date, *, now: datetime | None = None) -> StatementData:
    now = now or clock.now()
    review = period_review(start, end, now=now)
    upcoming, tbc = q.upcoming_events(now)
    before = after = None
    named: dict[int, dict[str, list[str]]] = {}
    if not review.events:
        before, after = q.nearest_events(start, end, now)
    else:
        for row in q.attended_organisations(start, end, now):
            named.setdefault(row.event_id, {}).setdefault(row.sector, []).append(row.name)
    return StatementData(
        start=start,
        end=end,
        review=review,
        plan=workplan.progress_for_period(start, end),
        outputs=workplan.outputs_for_period(start, end),
        upcoming=upcoming,
        tbc=tbc,
        examples=q.delivered_commitments(start, end, now, EXAMPLES) if review.events else [],
        named=named,
        before=before,
        after=after,
    )


# Sentences ------------------------------------------------------------------------------------


@dataclass
class EventParticipation:
    """Who took part in one event, from the review's grid and sector table."""

    working_group: list[str] = field(default_factory=list)  # member governments' names
    others: list[tuple[str, str]] = field(default_factory=list)  # (name, sub-region code)
    by_sector: dict[str, int] = field(default_factory=dict)  # sector code -> people who attended
    named: dict[str, list[str]] = field(default_factory=dict)  # sector code -> organisations named
    attended: int = 0
    registered: int = 0


def participation(
    review: PeriodReview, i: int, named: dict[int, dict[str, list[str]]] | None = None
) -> EventParticipation:
    """Event ``i`` of the review: member governments that attended (Working Group members as on the
    event's day, the others), people per sector, attended and registered: the review's figures."""
    event = review.events[i]
    day = event_local_date(event) or review.end
    in_group = review.membership.members_on(day) if review.membership else frozenset()
    p = EventParticipation(attended=review.event_funnels[i].attended, registered=review.event_funnels[i].registered)
    for m in review.members:
        if m.cells[i][0] <= 0:
            continue
        name, short, code = review.governments.get(m.id, (m.name, None, None))
        if m.id in in_group:
            p.working_group.append(short or name)
        else:
            p.others.append((short or name, subregion_of(code)))
    p.by_sector = {code: values[i] for code, values in review.attended_by_sector_event.items() if values[i]}
    p.named = (named or {}).get(event.id, {})
    return p


def _sector_phrase(code: str, n: int) -> str:
    if code == "private_sector":
        return ngettext(
            "%(num)d representative of the private sector", "%(num)d representatives of the private sector", n
        )
    if code == "civil_society":
        return ngettext("%(num)d representative of civil society", "%(num)d representatives of civil society", n)
    if code == "international_organisation":
        return ngettext(
            "%(num)d representative of an international organisation",
            "%(num)d representatives of international organisations",
            n,
        )
    if code == "support_office":
        return ngettext("%(num)d person from the support office", "%(num)d people from the support office", n)
    if code == "observer":
        return ngettext("%(num)d observer", "%(num)d observers", n)
    return ngettext(
        "%(num)d participant whose sector is not recorded", "%(num)d participants whose sector is not recorded", n
    )


SECTOR_ORDER = ("private_sector", "civil_society", "international_organisation", "observer", "support_office")


def _others_phrase(others: list[tuple[str, str]]) -> str:
    n = len(others)
    head = ngettext("%(num)d other Bali Process member", "%(num)d other Bali Process members", n)
    groups: dict[str, list[str]] = {}
    for name, region in sorted(others, key=lambda x: x[0].lower()):
        groups.setdefault(region, []).append(name)
    ordered = sorted(groups.items(), key=lambda kv: list(SUBREGIONS).index(kv[0]))
    if n <= NAME_OTHERS_UP_TO:
        parts = [
            _("from %(region)s: %(names)s", region=SUBREGIONS[region], names=_list(names)) for region, names in ordered
        ]
    else:
        parts = [
            ngettext("%(num)d from %(region)s", "%(num)d from %(region)s", len(names), region=SUBREGIONS[region])
            for region, names in ordered
        ]
    return _("%(count)s (%(detail)s)", count=head, detail="; ".join(parts))


def participation_sentence(p: EventParticipation) -> str:
    """ "The event brought together 16 Working Group members, 5 other Bali Process members (from the
    Pacific: Fiji, Palau, Papua New Guinea and Samoa; ...), 3 representatives of the private sector
    ... In all, 41 people attended of 52 registered." """
    parts = []
    if p.working_group:
        parts.append(ngettext("%(num)d Working Group member", "%(num)d Working Group members", len(p.working_group)))
    if p.others:
        parts.append(_others_phrase(p.others))
    for code in (*SECTOR_ORDER, q.UNKNOWN_SECTOR):
        if p.by_sector.get(code):
            phrase = _sector_phrase(code, p.by_sector[code])
            if p.named.get(code):
                # TRANSLATORS: e.g. "3 people from the support office (RSO)"
                phrase = _("%(phrase)s (%(names)s)", phrase=phrase, names=_list(p.named[code]))
            parts.append(phrase)
    if not p.attended:
        return _("No attendance was recorded for this event (%(registered)d registered).", registered=p.registered)
    together = _("The event brought together %(who)s.", who=_list(parts)) if parts else ""
    total = ngettext(
        "In all, %(num)d person attended of %(registered)d registered.",
        "In all, %(num)d people attended of %(registered)d registered.",
        p.attended,
        registered=p.registered,
    )
    return " ".join(s for s in (together, total) if s)


def short_title(title: str, kind: str) -> str:
    """The title without a leading "<kind>:" ("Regional Webinar: The role of ..." -> "The role of ...")."""
    if kind and title.lower().startswith(kind.lower() + ":"):
        return title[len(kind) + 1 :].strip() or title
    return title


def event_paragraph(review: PeriodReview, i: int, named: dict[int, dict[str, list[str]]] | None = None) -> str:
    event = review.events[i]
    kind = event.kind.label if event.kind else _("event")
    opening = _(
        "In %(month)s, the Working Group held “%(title)s” (%(kind)s).",
        month=_month(event_local_date(event)),
        kind=kind,
        title=short_title(event.title, kind),
    )
    lines = [opening + " " + participation_sentence(participation(review, i, named))]
    objectives = [str(o).strip() for o in (event.objectives or []) if str(o).strip()]
    if objectives:
        lines.append(_("Its objectives were to:"))
        lines.extend(f"• {o}" for o in objectives)
    return "\n".join(lines)


# Sections -------------------------------------------------------------------------------------


def _implementation(d: StatementData) -> str:
    n_events = len(d.review.events)
    opening = ngettext(
        "Between %(start)s and %(end)s, the Working Group held %(num)d event.",
        "Between %(start)s and %(end)s, the Working Group held %(num)d events.",
        n_events,
        start=_day(d.start),
        end=_day(d.end),
    )
    plan = d.plan
    if plan is None:
        return opening + "\n\n" + _("No work plan covers this period.")
    paras = [
        opening
        + " "
        + _(
            "Against its %(plan)s, which identifies %(priorities)d priority issues and commits to %(items)d action "
            "items, %(delivered)d action items have been delivered, %(progress)d are in progress and "
            "%(not_started)d have not started.",
            plan=plan.name,
            priorities=len(plan.priorities),
            items=plan.action_item_count,
            delivered=sum(p.delivered for p in plan.priorities),
            progress=sum(p.in_progress for p in plan.priorities),
            not_started=sum(p.not_started for p in plan.priorities),
        )
    ]
    for p in plan.priorities:
        lines = [
            _(
                "Priority %(number)d: %(title)s (%(delivered)d delivered, %(progress)d in progress, "
                "%(not_started)d not started).",
                number=p.number,
                title=p.title,
                delivered=p.delivered,
                progress=p.in_progress,
                not_started=p.not_started,
            )
        ]
        for a in p.action_items:
            evidence = []
            if a.events:
                evidence.append(_("events: %(titles)s", titles=_list([e.title for e in a.events])))
            if a.outputs:
                evidence.append(_("outputs: %(titles)s", titles=_list([o.title for o in a.outputs])))
            line = _(
                "Action item %(number)d (%(status)s): %(text)s", number=a.number, status=a.status_label, text=a.text
            )
            if evidence:
                line += " " + _("In this period, %(evidence)s.", evidence="; ".join(evidence))
            lines.append("• " + line)
        paras.append("\n".join(lines))
    return "\n\n".join(paras)


def _events(d: StatementData) -> str:
    review = d.review
    if not review.events:
        lines = [_("No event was held between %(start)s and %(end)s.", start=_day(d.start), end=_day(d.end))]
        if d.before is not None:
            lines.append(
                _(
                    "The last event before this period: “%(title)s”, held on %(day)s.",
                    title=d.before.title,
                    day=_day(event_local_date(d.before)),
                )
            )
        if d.after is not None:
            lines.append(
                _(
                    "The first event after this period: “%(title)s”, on %(day)s.",
                    title=d.after.title,
                    day=_day(event_local_date(d.after)),
                )
            )
        if d.before is None and d.after is None:
            lines.append(_("No other event is recorded."))
        return "\n".join(lines)
    return "\n\n".join(event_paragraph(review, i, d.named) for i in range(len(review.events)))


def _commitments(d: StatementData) -> str:
    totals = d.review.commitment_totals
    pledged = sum(totals.get(s, 0) for s in q.COMMITMENT_STATUSES)
    if not pledged:
        return _("No voluntary commitment was pledged at the events held in this period.")
    events_with = sum(1 for c in d.review.event_commitments if sum(c.get(s, 0) for s in q.COMMITMENT_STATUSES))
    lines = [
        ngettext(
            "Participants pledged %(num)d voluntary commitment at %(events)s held in this period.",
            "Participants pledged %(num)d voluntary commitments at %(events)s held in this period.",
            pledged,
            events=ngettext("%(num)d event", "%(num)d events", events_with),
        )
        + " "
        + _(
            "%(delivered)d delivered, %(progress)d in progress, %(pledged)d not yet started and %(withdrawn)d "
            "withdrawn.",
            delivered=totals.get("delivered", 0),
            progress=totals.get("in_progress", 0),
            pledged=totals.get("pledged", 0),
            withdrawn=totals.get("withdrawn", 0),
        )
    ]
    if d.examples:
        lines.append(_("Commitments delivered include:"))
        for row in d.examples:
            lines.append(
                "• "
                + _(
                    "%(organisation)s (pledged at “%(event)s”): %(description)s",
                    organisation=row.organisation or _("a participant"),
                    event=row.event_title,
                    description=" ".join((row.description or "").split()),
                )
            )
    return "\n".join(lines)


def _outputs(d: StatementData) -> str:
    if not d.outputs:
        return _("No output was published or translated in this period.")
    lines = []
    for o in d.outputs:
        languages = _list([v.language_label for v in o.versions])
        sentence = _(
            "%(title)s (%(kind)s), available in %(count)s: %(languages)s.",
            title=o.title,
            kind=o.kind_label,
            count=ngettext("%(num)d language", "%(num)d languages", len({v.language for v in o.versions})),
            languages=languages,
        )
        new = [v.language_label for v in o.new_versions_in_period]
        if new:
            sentence += " " + _("New in this period: %(languages)s.", languages=_list(new))
        lines.append("• " + sentence)
    return "\n".join(lines)


def _event_when(event: Event) -> str:
    if event.starts_at is not None:
        return _day(event.starts_at.astimezone(ZoneInfo(event.timezone or "UTC")).date())
    if event.tentative_month is not None:
        return _("%(month)s, dates to be confirmed", month=_month(event.tentative_month))
    return _("dates to be confirmed")


def _upcoming(d: StatementData) -> str:
    events = [*d.upcoming, *d.tbc]
    if not events:
        return _("No upcoming activity is scheduled yet.")
    lines = [_("Upcoming activities of the Working Group include:")]
    for e in events:
        kind = e.kind.label if e.kind else _("event")
        lines.append(
            "• "
            + _("%(kind)s: “%(title)s” (%(when)s).", kind=kind, title=short_title(e.title, kind), when=_event_when(e))
        )
    return "\n".join(lines)


def _recommendations(d: StatementData) -> str:
    return _(
        "The Co-Chairs' recommendations for programs and activities (stakeholder engagement, technology, "
        "returns and reintegration, membership): to be written."
    )


GENERATORS = {
    "implementation": _implementation,
    "events": _events,
    "commitments": _commitments,
    "outputs": _outputs,
    "upcoming": _upcoming,
    "recommendations": _recommendations,
}


def generate(d: StatementData) -> dict[str, str]:
    """Every section's text from the data."""
    return {key: GENERATORS[key](d) for key in SECTION_KEYS}


# Drafts and versions --------------------------------------------------------------------------


@dataclass
class Statement:
    start: date
    end: date
    data: StatementData
    generated: dict[str, str]
    texts: dict[str, str]
    version: StatementVersion | None
    versions: list[StatementVersion]
    stale: set[str] = field(default_factory=set)  # sections whose figures changed since the version

    @property
    def sections(self) -> list[tuple[str, str, str]]:
        return [(key, str(label), self.texts.get(key, "")) for key, label in SECTIONS]


def versions_for(start: date, end: date) -> list[StatementVersion]:
    return list(
        db.session.scalars(
            sa.select(StatementVersion)
            .where(StatementVersion.period_start == start, StatementVersion.period_end == end)
            .order_by(StatementVersion.number.desc())
        )
    )


class WrongPeriod(ValidationFailed):
    """A version of the statement for another period."""

    status_code = 400


def _version_of_period(version_id, start: date, end: date) -> StatementVersion:
    try:
        vid = db_int(str(version_id).strip())  # beyond the database's INTEGER: no such version
    except (TypeError, ValueError):
        raise NotFound(_("There is no such version of the statement.")) from None
    version = db.session.get(StatementVersion, vid)
    if version is None:
        raise NotFound(_("There is no such version of the statement."))
    if (version.period_start, version.period_end) != (start, end):
        raise WrongPeriod(
            _(
                "Version %(number)d is a version of the statement for %(start)s to %(end)s, not for this period.",
                number=version.number,
                start=version.period_start.isoformat(),
                end=version.period_end.isoformat(),
            )
        )
    return version


def load_statement(start: date, end: date, *, version_id=None, now: datetime | None = None) -> Statement:
    """The statement for a period: the version asked for, else the latest saved, else the draft."""
    data = statement_data(start, end, now=now)
    generated = generate(data)
    versions = versions_for(start, end)
    version = _version_of_period(version_id, start, end) if version_id not in (None, "") else None
    if version is None and versions:
        version = versions[0]
    texts = dict(generated)
    stale: set[str] = set()
    if version is not None:
        texts.update({k: v for k, v in (version.sections or {}).items() if k in SECTION_KEYS})
        stale = {k for k in SECTION_KEYS if (version.generated or {}).get(k) != generated[k]}
    return Statement(start, end, data, generated, texts, version, versions, stale)


def clean_sections(values: dict[str, str | None]) -> dict[str, str]:
    """The sections' text as typed (newlines kept, control characters and trailing spaces removed);
    a section over the limit is refused with a field error."""
    errors: dict[str, list[str]] = {}
    out = {}
    for key in SECTION_KEYS:
        value = text.multi_line(values.get(key) or "")
        if len(value) > MAX_SECTION_CHARS:
            errors[key] = [
                _("This section is too long: at most %(max)d characters, please shorten it.", max=MAX_SECTION_CHARS)
            ]
        out[key] = value
    if errors:
        raise ValidationFailed(_("A section of the statement is too long."), field_errors=errors)
    return out


def save_statement(
    start: date, end: date, values: dict[str, str | None], *, base_version_id=None, actor, now=None
) -> StatementVersion:
    """Save the sections as a new version of the period's statement (number = last + 1), with the
    text generated from the data at this moment. Refused, nothing saved: a base version of another
    period, a version saved by someone else since the page was opened, a section over the limit."""
    sections = clean_sections(values)
    versions = versions_for(start, end)
    latest = versions[0] if versions else None
    if base_version_id not in (None, ""):
        base = _version_of_period(base_version_id, start, end)
        if latest is not None and base.id != latest.id:
            raise Conflict(
                _(
                    "%(name)s saved version %(number)d since you opened this page: open it, then make your changes "
                    "again (your text is below, not saved).",
                    name=latest.created_by_name,
                    number=latest.number,
                )
            )
    elif latest is not None:
        raise Conflict(
            _(
                "%(name)s saved version %(number)d since you opened this page: open it, then make your changes "
                "again (your text is below, not saved).",
                name=latest.created_by_name,
                number=latest.number,
            )
        )
    generated = generate(statement_data(start, end, now=now))
    try:
        with unit_of_work():
            version = StatementVersion(
                period_start=start,
                period_end=end,
                number=(latest.number + 1) if latest else 1,
                sections=sections,
                generated=generated,
                created_by_id=getattr(actor, "id", None),
                created_by_name=getattr(actor, "name", None) or getattr(actor, "email", "") or "",
            )
            db.session.add(version)
            db.session.flush()
            audit.record(
                actor,
                "statement.save",
                version,
                summary=_(
                    "Statement %(start)s to %(end)s, version %(number)d",
                    start=start.isoformat(),
                    end=end.isoformat(),
                    number=version.number,
                ),
            )
    except IntegrityError:
        raise Conflict(_("Someone saved a version at the same moment: open the page again.")) from None
    return version


def paragraphs(value: str) -> list[list[tuple[str, str]]]:
    """A section's text as blocks of lines for the PDF and the DOCX: blocks split on blank lines;
    each line ("p", text) or ("li", text) for a line starting with "•", "-" or "*"."""
    blocks = []
    for block in (value or "").replace("\r\n", "\n").split("\n\n"):
        lines = []
        for line in block.split("\n"):
            stripped = line.strip()
            if not stripped:
                continue
            if stripped[:1] in ("•", "-", "*") and len(stripped) > 1 and stripped[1] == " ":
                lines.append(("li", stripped[2:].strip()))
            else:
                lines.append(("p", stripped))
        if lines:
            blocks.append(lines)
    return blocks
