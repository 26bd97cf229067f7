"""Demo events: the group's recent regional webinars, an annual meeting with date TBC, and
upcoming sessions. Idempotent: events are found by title and left alone when present."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from webinar_mgr import clock
from webinar_mgr.directory.models import Organisation
from webinar_mgr.extensions import db

from . import settings
from .models import STATUS_HELD, STATUS_SCHEDULED, STATUS_TBC, AgendaItem, Event, Speaker

WEBINAR_2021 = "Regional Webinar: Combatting trafficking in persons in the COVID-19 recovery phase"
WEBINAR_2022 = "Regional Webinar: The role of technology in facilitating and combating trafficking in persons"
ANNUAL = "Eighth Annual Meeting of the Working Group"
UPCOMING = "Regional Webinar: Supporting victims through the justice process"
SEMINAR = "Virtual Seminar: Financial investigations into trafficking networks"

OBJECTIVES_2022 = [
    "Promote understanding of the role of technology in negatively facilitating trafficking in persons.",
    "Highlight good practice examples of utilising technology to combat trafficking in persons from "
    "governments, the private sector and civil society.",
    "Identify opportunities for further collaborative action.",
]


def _org(name: str):
    return db.session.scalar(sa.select(Organisation).where(Organisation.name == name))


def _at(zone: str, y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def _make(title: str, kind_code: str, zone: str, **fields) -> Event | None:
    if db.session.scalar(sa.select(Event.id).where(Event.title == title)) is not None:
        return None
    kind = settings.kind_by_code(kind_code)
    convenors = [o for o in (_org(n) for n in fields.pop("convenor_names", ())) if o is not None]
    event = Event(title=title, kind_id=kind.id, timezone=zone, **fields)
    event.convenors = convenors
    db.session.add(event)
    db.session.flush()
    return event


# Issue 15: the technology webinar's moderator and two speakers' biographies (no photos in the demo).
_DEMO_BIOS = {
    "Aziz Rahman": "Leads the Royal Malaysia Police's work on online recruitment and the exploitation of "
    "victims through social media and messaging applications.",
    "Maria Santos": "Prosecutes trafficking cases in Manila, where digital evidence from platforms and "
    "payment services now appears in most files.",
}


def _speaker_details(event: Event) -> None:
    db.session.flush()
    rows = db.session.execute(
        sa.select(Speaker, AgendaItem.kind).join(AgendaItem).where(AgendaItem.event_id == event.id)
    ).all()
    for speaker, kind in rows:
        if kind == "qa" and speaker.name == "Jonathan Lee":
            speaker.role = "moderator"
        speaker.bio = _DEMO_BIOS.get(speaker.name, speaker.bio)


def _agenda(event: Event, items: list[tuple]) -> None:
    """items: (minutes after start, duration, kind, title, [(name, position, organisation)])."""
    for n, (offset, minutes, kind, title, speakers) in enumerate(items):
        orgs = [_org(org_name) for _name, _position, org_name in speakers]
        item = AgendaItem(
            event_id=event.id,
            position=n,
            starts_at=event.starts_at + timedelta(minutes=offset),
            duration_minutes=minutes,
            kind=kind,
            title=title,
        )
        db.session.add(item)
        db.session.flush()
        for k, ((name, position, org_name), org) in enumerate(zip(speakers, orgs, strict=True)):
            db.session.add(
                Speaker(
                    agenda_item_id=item.id,
                    name=name,
                    title=position,
                    position=k,
                    organisation_id=org.id if org else None,
                    organisation_name=None if org else org_name,
                )
            )
    db.session.flush()
    db.session.expire(event, ["agenda_items"])


def seed(echo) -> None:
    settings.kinds()
    created = 0

    e = _make(
        WEBINAR_2021,
        "regional_webinar",
        "Asia/Bangkok",
        summary="Members discussed the challenges anticipated to arise or be exacerbated as international "
        "borders reopen, and how the Working Group could collaborate to meet these shared challenges.",
        objectives=[
            "Share members' assessments of trafficking risks as borders reopen after COVID-19.",
            "Exchange practical responses by law enforcement and justice agencies.",
            "Agree areas where the Working Group can collaborate in the recovery phase.",
        ],
        starts_at=_at("Asia/Bangkok", 2021, 9, 15, 13),
        ends_at=_at("Asia/Bangkok", 2021, 9, 15, 15, 30),
        status=STATUS_HELD,
        audience="members",
        capacity=120,
        sequence=2,
        convenor_note="Co-Chairs Australia and Indonesia",
        convenor_names=("Australia", "Indonesia"),
        priority_tags=["Priority 4: new and emerging issues"],
        pdf_zones=["Australia/Sydney", "Pacific/Fiji"],
        online_url="https://meet.example.org/wg-covid-2021",
    )
    if e:
        _agenda(
            e,
            [
                (
                    0,
                    10,
                    "opening",
                    "Opening remarks by the Co-Chairs",
                    [
                        ("Margaret Ellison", "Ambassador for People Smuggling and Human Trafficking", "Australia"),
                        ("Dewi Kartika", "Director, Transnational Crime", "Indonesia"),
                    ],
                ),
                (
                    10,
                    20,
                    "presentation",
                    "Trafficking trends as borders reopen",
                    [("Nguyễn Thị Lan", "Deputy Director, Anti-Trafficking Division", "Viet Nam")],
                ),
                (
                    30,
                    20,
                    "presentation",
                    "Protecting migrant workers in the recovery phase",
                    [("สมชาย ใจดี (Somchai Jaidee)", "Senior Officer, Anti-Trafficking Division", "Thailand")],
                ),
                (
                    50,
                    20,
                    "presentation",
                    "Online recruitment and debt bondage: what we see",
                    [("Sok Dara (សុខ ដារ៉ា)", "Programme Lead", "Mekong Migrant Support Network")],
                ),
                (70, 15, "break", "Break", []),
                (85, 45, "qa", "Questions and discussion", []),
                (130, 20, "closing", "Closing remarks and next steps", [("Margaret Ellison", "Co-Chair", "Australia")]),
            ],
        )
        created += 1

    e = _make(
        WEBINAR_2022,
        "regional_webinar",
        "Asia/Jakarta",
        summary="The webinar brought together Working Group members, additional Bali Process members from the "
        "Pacific region (Fiji, Palau, Papua New Guinea, Samoa) and Timor-Leste, representatives from the "
        "private sector and civil society, and the Regional Support Office.",
        objectives=OBJECTIVES_2022,
        starts_at=_at("Asia/Jakarta", 2022, 8, 24, 12),
        ends_at=_at("Asia/Jakarta", 2022, 8, 24, 15),
        status=STATUS_HELD,
        audience="invitation",
        capacity=150,
        sequence=1,
        convenor_note="Co-Chairs Australia and Indonesia",
        convenor_names=("Australia", "Indonesia"),
        priority_tags=["Priority 4: new and emerging issues", "Technology"],
        pdf_zones=["Asia/Bangkok", "Pacific/Port_Moresby"],
        online_url="https://meet.example.org/wg-tech-2022",
    )
    if e:
        _agenda(
            e,
            [
                (
                    0,
                    10,
                    "opening",
                    "Opening remarks by the Co-Chairs",
                    [
                        ("Margaret Ellison", "Ambassador for People Smuggling and Human Trafficking", "Australia"),
                        ("Dewi Kartika", "Director, Transnational Crime", "Indonesia"),
                    ],
                ),
                (
                    10,
                    20,
                    "presentation",
                    "How technology facilitates trafficking: recruitment, control and profit",
                    [("Aziz Rahman", "Assistant Commissioner, Anti-Trafficking Unit", "Malaysia")],
                ),
                (
                    30,
                    20,
                    "presentation",
                    "Digital evidence in trafficking prosecutions",
                    [("Maria Santos", "State Prosecutor", "Philippines")],
                ),
                (
                    50,
                    20,
                    "presentation",
                    "Trust and safety: detecting exploitation on online platforms",
                    [("李明 (Li Ming)", "Head of Trust & Safety, Asia-Pacific", "Example Social Platforms Ltd")],
                ),
                (
                    70,
                    20,
                    "presentation",
                    "Survivor-informed technology for outreach",
                    [
                        ("ပန်းဖြူ (Pan Phyu)", "Case Worker", "Freedom Path Foundation"),
                        ("Chanthavong Keo", "Programme Officer", "Freedom Path Foundation"),
                    ],
                ),
                (90, 10, "break", "Break", []),
                (
                    100,
                    50,
                    "qa",
                    "Panel questions and discussion",
                    [("Jonathan Lee", "Programme Manager", "Regional Support Office")],
                ),
                (
                    150,
                    10,
                    "presentation",
                    "Voluntary commitments: a social media post or campaign",
                    [("Jonathan Lee", "Programme Manager", "Regional Support Office")],
                ),
                (160, 20, "closing", "Closing remarks by the Co-Chairs", [("Dewi Kartika", "Co-Chair", "Indonesia")]),
            ],
        )
        _speaker_details(e)
        created += 1

    today = clock.now().astimezone(ZoneInfo("Asia/Bangkok")).date()
    month = today.month + 3
    tentative = date(today.year + (month - 1) // 12, (month - 1) % 12 + 1, 1)
    if _make(
        ANNUAL,
        "annual_meeting",
        "Asia/Jakarta",
        summary="The annual meeting reviews progress against the Forward Work Plan and agrees priorities "
        "for the year ahead.",
        objectives=["Review implementation of the Forward Work Plan.", "Agree priorities for the next year."],
        tentative_month=tentative,
        status=STATUS_TBC,
        audience="members",
        convenor_note="Co-Chairs Australia and Indonesia",
        convenor_names=("Australia", "Indonesia"),
        venue="Bali, Indonesia (hybrid)",
    ):
        created += 1

    start_day = today + timedelta(days=21)
    starts = _at("Asia/Bangkok", start_day.year, start_day.month, start_day.day, 14)
    e = _make(
        UPCOMING,
        "regional_webinar",
        "Asia/Bangkok",
        summary="An open regional webinar on supporting victims and witnesses through investigation, "
        "prosecution and trial.",
        objectives=[
            "Share good practice in victim-centred prosecutions.",
            "Discuss support for witnesses who live in another country.",
            "Identify partners for follow-up work.",
        ],
        starts_at=starts,
        ends_at=starts + timedelta(hours=2),
        status=STATUS_SCHEDULED,
        audience="open",
        capacity=25,
        registration_opens_at=clock.now() - timedelta(days=7),
        registration_closes_at=starts - timedelta(hours=12),
        convenor_note="Co-Chairs Australia and Indonesia",
        convenor_names=("Australia", "Indonesia"),
        pdf_zones=["Australia/Sydney", "Pacific/Fiji"],
        online_url="https://meet.example.org/wg-victims-upcoming",
    )
    if e:
        _agenda(
            e,
            [
                (0, 10, "opening", "Welcome and opening remarks", [("Margaret Ellison", "Co-Chair", "Australia")]),
                (
                    10,
                    25,
                    "presentation",
                    "Victim-centred prosecutions in practice",
                    [("Trần Văn Minh", "Judge, People's Court", "Viet Nam")],
                ),
                (
                    35,
                    25,
                    "presentation",
                    "Remote testimony across borders",
                    [("Siti Nurhaliza", "Senior Prosecutor", "Indonesia")],
                ),
                (60, 45, "qa", "Questions and discussion", []),
                (105, 15, "closing", "Closing", [("Dewi Kartika", "Co-Chair", "Indonesia")]),
            ],
        )
        created += 1

    day = today + timedelta(days=45)
    starts = _at("Asia/Kuala_Lumpur", day.year, day.month, day.day, 10)
    e = _make(
        SEMINAR,
        "virtual_seminar",
        "Asia/Kuala_Lumpur",
        summary="A virtual seminar on following the money in trafficking cases.",
        objectives=[
            "Share financial investigation techniques.",
            "Build contacts between financial intelligence units.",
        ],
        starts_at=starts,
        ends_at=starts + timedelta(hours=2),
        status=STATUS_SCHEDULED,
        audience="members",
        capacity=60,
        convenor_note="Malaysia and the Regional Support Office",
        convenor_names=("Malaysia", "Regional Support Office"),
        pdf_zones=["Asia/Bangkok", "Australia/Sydney"],
        online_url="https://meet.example.org/wg-finance-seminar",
    )
    if e:
        _agenda(
            e,
            [
                (0, 10, "opening", "Opening remarks", [("Aziz Rahman", "Assistant Commissioner", "Malaysia")]),
                (
                    10,
                    60,
                    "panel",
                    "Panel: following the money",
                    [
                        ("Jonathan Lee", "Programme Manager", "Regional Support Office"),
                        ("陈静 (Chen Jing)", "Analyst", "Regional Financial Intelligence Network"),
                    ],
                ),
                (70, 40, "qa", "Questions", []),
                (110, 10, "closing", "Closing", [("Jonathan Lee", "Programme Manager", "Regional Support Office")]),
            ],
        )
        created += 1
    echo(f"events: {created} demo events added.")
