"""Demo work plan and outputs (runs after the events and commitments seeds; idempotent).

The Forward Work Plan 2021-23: five priority issues and 11 action items, worded after the
co-chairs' statement (../shared/domain/), with lead members, targets, statuses and dated progress
notes; the held webinars of 2021 and 2022 and the Seventh Annual Meeting (September 2021, where the
co-chairs launched the Compendium; added here when missing) linked to the action items they served;
the technology webinar's voluntary commitments linked to the digital-industry action item. Outputs:
the Compendium of Good Practice, launched at the Seventh Annual Meeting, with its English original
and 14 regional languages (links), the technology webinar's recording (a link), and the COVID-19
victim-support survey as a draft.

Migration 0015 may already have created the plan (from the events' old priority tags): the plan is
found by name and only what is missing is added.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from webinar_mgr.auth.models import User
from webinar_mgr.commitments.models import Commitment
from webinar_mgr.directory.models import Organisation
from webinar_mgr.events import seed as events_seed
from webinar_mgr.events import settings as event_settings
from webinar_mgr.events.models import STATUS_HELD, Event
from webinar_mgr.extensions import db

from .models import (
    STATUS_DELIVERED,
    STATUS_IN_PROGRESS,
    STATUS_NOT_STARTED,
    ActionItem,
    Output,
    OutputVersion,
    Priority,
    ProgressNote,
    WorkPlan,
)

PLAN_NAME = "Forward Work Plan 2021-23"
ANNUAL_2021 = "Seventh Annual Meeting of the Working Group"
COMPENDIUM = "Compendium of Good Practice Examples to Combat Criminal Exploitation in Supply Chains"
CO_CHAIRS = ("Australia", "Indonesia")

PRIORITIES = (
    (1, "Law and justice responses to trafficking in persons"),
    (2, "Protection and support for victims"),
    (3, "Criminal exploitation in supply chains"),
    (4, "New and emerging priorities"),
    (5, "Forced marriage and the Working Group's reach in the region"),
)
# (number, priority, text (as migration 0015 has it), target, status, leads)
ACTION_ITEMS = (
    (
        1,
        1,
        "Share members' laws and practice on criminalising, investigating and prosecuting trafficking in "
        "persons, including through virtual seminars convened by members and the RSO.",
        "A virtual seminar convened by Malaysia and the RSO",
        STATUS_IN_PROGRESS,
        ("Malaysia", "Regional Support Office"),
    ),
    (
        2,
        1,
        "Strengthen cooperation with the ASEAN SOMTC Working Group on Trafficking in Persons through "
        "reciprocal updates and joint action on shared priorities.",
        "A reciprocal update at the SOMTC TIP-WG's open session",
        STATUS_IN_PROGRESS,
        CO_CHAIRS,
    ),
    (
        3,
        2,
        "Disseminate the Viet Nam/IOM-led survey on the impacts of COVID-19 on victim support measures "
        "across the region.",
        "Survey results shared with every member",
        STATUS_IN_PROGRESS,
        ("Viet Nam", "International Organization for Migration"),
    ),
    (
        4,
        2,
        "Promote coordinated responses to trafficking for forced criminality in scam compounds, with the "
        "Technical Experts Group on Returns and Reintegration and the Working Group on Disruption.",
        "A joint activity with the other Bali Process work streams",
        STATUS_NOT_STARTED,
        CO_CHAIRS,
    ),
    (
        5,
        3,
        "Develop and launch a Compendium of Good Practice Examples to Combat Criminal Exploitation in Supply Chains.",
        "Launched at the Seventh Annual Meeting",
        STATUS_DELIVERED,
        CO_CHAIRS,
    ),
    (
        6,
        3,
        "Translate the Compendium into regional languages and promote it with policy officials.",
        "The Compendium in 14 regional languages",
        STATUS_DELIVERED,
        ("Regional Support Office",),
    ),
    (
        7,
        4,
        "Consider new and emerging priorities at each annual meeting and set the regional webinars' themes from them.",
        "Themes agreed at each annual meeting",
        STATUS_IN_PROGRESS,
        CO_CHAIRS,
    ),
    (
        8,
        4,
        "Hold regional webinars on new and emerging issues (the COVID-19 recovery phase, the role of technology).",
        "Two regional webinars by the end of 2022",
        STATUS_DELIVERED,
        CO_CHAIRS,
    ),
    (
        9,
        4,
        "Enhance practical cooperation with digital industry, including trafficking indicators for the online context.",
        "Online trafficking indicators explored with industry",
        STATUS_IN_PROGRESS,
        CO_CHAIRS,
    ),
    (
        10,
        5,
        "Commission research on the legislative approaches to the links between forced marriage and "
        "trafficking in persons, for the 2023 Annual Meeting.",
        "Research presented at the 2023 Annual Meeting",
        STATUS_IN_PROGRESS,
        ("Australia", "Regional Support Office"),
    ),
    (
        11,
        5,
        "Review the Working Group's membership so that it remains responsive to regional trafficking trends.",
        "A proposal to members",
        STATUS_NOT_STARTED,
        CO_CHAIRS,
    ),
)
# action item number -> demo event titles that contributed
EVENT_LINKS = {
    5: (ANNUAL_2021,),
    7: (ANNUAL_2021,),
    8: (events_seed.WEBINAR_2021, events_seed.WEBINAR_2022),
    9: (events_seed.WEBINAR_2022,),
}
NOTES = (
    (5, date(2021, 9, 29), "The Co-Chairs launched the Compendium at the Seventh Annual Meeting."),
    (6, date(2022, 3, 15), "Eight translations published on the Bali Process website; six more in preparation."),
    (6, date(2022, 10, 20), "All 14 regional language versions are now available."),
    (8, date(2021, 9, 15), "Regional webinar on the COVID-19 recovery phase held."),
    (8, date(2022, 8, 24), "Regional webinar on the role of technology held; 16 Working Group members took part."),
    (
        9,
        date(2022, 8, 24),
        "A dating-platform company presented its trust and safety practice; participants invited to pledge a "
        "social media post or campaign.",
    ),
    (
        10,
        date(2022, 9, 28),
        "Members chose the topic: different legislative approaches to the links between forced marriage and "
        "trafficking in persons used across the region.",
    ),
    (1, date(2022, 11, 10), "Malaysia and the RSO are preparing a virtual seminar (date to be confirmed)."),
    (2, date(2022, 9, 28), "SOMTC TIP-WG colleagues updated the annual meeting on their work."),
)
# Language versions of the Compendium: English at the launch, 14 regional languages after it.
COMPENDIUM_LANGUAGES = (
    ("en", date(2021, 9, 29)),
    ("th", date(2022, 2, 14)),
    ("vi", date(2022, 2, 14)),
    ("id", date(2022, 2, 28)),
    ("ms", date(2022, 2, 28)),
    ("km", date(2022, 3, 15)),
    ("lo", date(2022, 3, 15)),
    ("my", date(2022, 3, 15)),
    ("zh_Hans", date(2022, 3, 15)),
    ("fil", date(2022, 6, 1)),
    ("bn", date(2022, 6, 1)),
    ("hi", date(2022, 6, 1)),
    ("ne", date(2022, 10, 20)),
    ("si", date(2022, 10, 20)),
    ("ur", date(2022, 10, 20)),
)


def _org(name: str) -> Organisation | None:
    return db.session.scalar(sa.select(Organisation).where(Organisation.name == name))


def _event(title: str) -> Event | None:
    return db.session.scalar(sa.select(Event).where(Event.title == title))


def _annual_meeting_2021() -> Event:
    event = _event(ANNUAL_2021)
    if event is not None:
        return event
    kind = event_settings.kind_by_code("annual_meeting") or event_settings.kind_by_code("regional_webinar")
    zone = "Asia/Jakarta"
    starts = datetime(2021, 9, 29, 13, tzinfo=ZoneInfo(zone)).astimezone(UTC)
    event = Event(
        title=ANNUAL_2021,
        kind_id=kind.id,
        timezone=zone,
        summary="The Working Group's annual meeting, held online. The Co-Chairs launched the Compendium of Good "
        "Practice Examples to Combat Criminal Exploitation in Supply Chains.",
        starts_at=starts,
        ends_at=starts + timedelta(hours=3),
        status=STATUS_HELD,
        audience="members",
        convenor_note="Co-Chairs Australia and Indonesia",
    )
    event.convenors = [o for o in (_org(n) for n in CO_CHAIRS) if o is not None]
    db.session.add(event)
    db.session.flush()
    return event


def seed(echo) -> None:
    plan = db.session.scalar(sa.select(WorkPlan).where(WorkPlan.name == PLAN_NAME))
    if plan is not None and db.session.scalar(sa.select(Output.id).where(Output.title == COMPENDIUM)):
        return  # seeded already
    author = db.session.scalar(sa.select(User).where(User.email == "organiser@example.org"))
    annual = _annual_meeting_2021()
    if plan is None:
        plan = WorkPlan(
            name=PLAN_NAME,
            period_start=date(2021, 1, 1),
            period_end=date(2023, 12, 31),
            current=True,
        )
        db.session.add(plan)
        db.session.flush()
    plan.summary = (
        "The strategic direction for how the Working Group promotes more effective and coordinated law and "
        "justice responses to trafficking in persons in the Asia-Pacific region: five priority issues and 11 "
        "action items, endorsed after the Senior Officials' Meeting of October 2020."
    )
    priorities = {p.number: p for p in plan.priorities}
    for number, title in PRIORITIES:
        if number not in priorities:
            priorities[number] = Priority(plan_id=plan.id, number=number, title=title)
            db.session.add(priorities[number])
    db.session.flush()
    items = {
        a.number: a for a in db.session.scalars(sa.select(ActionItem).join(Priority).where(Priority.plan_id == plan.id))
    }
    for number, priority, text, target, status, leads in ACTION_ITEMS:
        item = items.get(number)
        if item is None:
            item = ActionItem(priority_id=priorities[priority].id, number=number, text=text)
            db.session.add(item)
            items[number] = item
        if not item.target:
            item.target = target
            item.status = status
            item.leads = [o for o in (_org(n) for n in leads) if o is not None]
    db.session.flush()

    for number, titles in EVENT_LINKS.items():
        for title in titles:
            event = annual if title == ANNUAL_2021 else _event(title)
            if event is not None and event not in items[number].events:
                items[number].events.append(event)
    for event in (_event(events_seed.WEBINAR_2021), _event(events_seed.WEBINAR_2022)):
        if event is not None:  # the action items replaced the free-text tags
            event.priority_tags = []
    tech = _event(events_seed.WEBINAR_2022)
    if tech is not None:
        items[9].commitments = list(
            db.session.scalars(
                sa.select(Commitment).where(Commitment.event_id == tech.id, Commitment.status != "withdrawn")
            )
        )
    for number, day, text in NOTES:
        db.session.add(
            ProgressNote(
                action_item_id=items[number].id,
                noted_on=day,
                text=text,
                author_id=author.id if author else None,
                author_label=author.name if author else "Co-Chairs' secretariat",
            )
        )

    compendium = Output(
        title=COMPENDIUM,
        kind="compendium",
        description="Good practice examples from members on initiatives to address criminal forms of exploitation "
        "in supply chains. Its delivery was agreed at the Fifth Annual Meeting; it also contributes to the Bali "
        "Process Government and Business Forum's Acknowledge, Act, Advance (AAA) Recommendations.",
        published=True,
        published_on=date(2021, 9, 29),
        created_by_id=author.id if author else None,
    )
    compendium.versions = [
        OutputVersion(language=code, published_on=day, url=f"https://example.org/compendium/compendium-{code}.pdf")
        for code, day in COMPENDIUM_LANGUAGES
    ]
    compendium.events = [annual]
    compendium.action_items = [items[5], items[6]]
    db.session.add(compendium)
    if tech is not None:
        recording = Output(
            title="Regional Webinar on the role of technology: recording",
            kind="recording",
            published=True,
            published_on=date(2022, 8, 26),
        )
        recording.versions = [
            OutputVersion(language="en", published_on=date(2022, 8, 26), url="https://example.org/webinars/technology")
        ]
        recording.events = [tech]
        recording.action_items = [items[9]]
        db.session.add(recording)
    survey = Output(
        title="Survey on the impacts of COVID-19 on victim support measures",
        kind="survey",
        description="Led by Viet Nam and IOM; to be disseminated around the region.",
        published=False,
    )
    survey.action_items = [items[3]]
    db.session.add(survey)
    db.session.flush()
    echo(
        f"Work plan: {plan.name} ({len(items)} action items); outputs: the Compendium in "
        f"{len(COMPENDIUM_LANGUAGES)} languages"
    )
