"""Demo commitments (runs after the registrations seed; idempotent: skipped when commitments
exist). The held technology webinar (August 2022) gets pledges in every state, some delivered
with evidence, some overdue, some withdrawn; participant@example.org gets two. No mail is queued."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta

import sqlalchemy as sa

from webinar_mgr import clock
from webinar_mgr.auth.models import User
from webinar_mgr.directory import services as directory
from webinar_mgr.events.models import STATUS_HELD, Event
from webinar_mgr.extensions import db
from webinar_mgr.persistence import transactional
from webinar_mgr.registrations.models import Registration

from . import services
from .models import (
    STATUS_DELIVERED,
    STATUS_IN_PROGRESS,
    STATUS_PLEDGED,
    STATUS_WITHDRAWN,
    Commitment,
    CommitmentEvidence,
    CommitmentUpdate,
)

IDEAS = [
    ("social_media_post", "A post on recognising online job scams that lead to trafficking, with the hotline number."),
    ("campaign", "A two-week campaign for World Day against Trafficking in Persons on safe online recruitment."),
    ("social_media_post", "A short video explaining how to report suspicious job advertisements."),
    ("other", "A briefing for our staff on technology-facilitated trafficking, shared on our intranet and website."),
    ("campaign", "A campaign with partner NGOs on sextortion and grooming risks for young people."),
    ("social_media_post", "An infographic on the indicators of forced criminality in scam compounds."),
    ("other", "A webinar recording and summary published on our organisation's website."),
]
LANGS = [
    ["English"],
    ["Thai", "English"],
    ["Bahasa Indonesia"],
    ["Vietnamese"],
    ["Tagalog", "English"],
    ["Khmer"],
    ["English", "Hindi"],
    ["Fijian", "English"],
]
AUDIENCES = [
    "Young job seekers",
    "Parents and teachers",
    "Recruitment agencies",
    "Frontline officers",
    "The general public",
    "Migrant workers and their families",
]


def _at(day) -> datetime:
    return datetime.combine(day, time(9, 0), tzinfo=UTC)


def _add(reg: Registration, rng: random.Random, status: str, target, codes: list[str], k: int) -> Commitment:
    kind, text = IDEAS[k % len(IDEAS)]
    pledged_at = min((reg.event.ends_at or clock.now()) + timedelta(hours=1), clock.now())
    c = Commitment(
        event_id=reg.event_id,
        registration_id=reg.id,
        contact_id=reg.contact_id,
        organisation_id=reg.organisation_id,
        member_government_id=reg.member_government_id,
        sector=reg.sector,
        kind=kind,
        platforms=rng.sample(codes, k=rng.randint(1, 3)),
        languages=LANGS[k % len(LANGS)],
        audience=AUDIENCES[k % len(AUDIENCES)],
        description=text,
        target_date=target,
        public=k % 3 != 2,
        status=status,
        created_at=pledged_at,
        updated_at=pledged_at,
    )
    db.session.add(c)
    db.session.flush()
    db.session.add(
        CommitmentUpdate(
            commitment_id=c.id,
            at=pledged_at,
            actor_label=reg.name,
            to_status=STATUS_PLEDGED,
            note="Pledged during the webinar."
            if reg.event.ends_at and reg.event.ends_at < clock.now()
            else "Pledged when registering.",
        )
    )
    prev = STATUS_PLEDGED
    step = pledged_at
    if status in (STATUS_IN_PROGRESS, STATUS_DELIVERED) and k % 2 == 0:
        step = pledged_at + timedelta(days=40 + k)
        db.session.add(
            CommitmentUpdate(
                commitment_id=c.id,
                at=step,
                actor_label=f"{reg.name} (by email link)",
                from_status=prev,
                to_status=STATUS_IN_PROGRESS,
                note="Drafting the material with our communications team.",
            )
        )
        prev = STATUS_IN_PROGRESS
    if status == STATUS_DELIVERED:
        done = min(step + timedelta(days=60 + 3 * k), _at(target))
        c.delivered_at = done
        c.updated_at = done
        for n in range(1 + k % 2):
            db.session.add(
                CommitmentEvidence(
                    commitment_id=c.id,
                    url=f"https://example.org/posts/{c.id}-{n + 1}",
                    published_on=done.date(),
                    views=rng.randint(300, 25000) if k % 4 else None,
                    impressions=rng.randint(1000, 80000),
                    shares=rng.randint(0, 400),
                    note="Published with the partner network.",
                    created_at=done,
                )
            )
        db.session.add(
            CommitmentUpdate(
                commitment_id=c.id,
                at=done,
                actor_label=f"{reg.name} (by email link)",
                from_status=prev,
                to_status=STATUS_DELIVERED,
                note="Published; links attached.",
            )
        )
    elif status == STATUS_WITHDRAWN:
        at = step + timedelta(days=90)
        c.updated_at = at
        db.session.add(
            CommitmentUpdate(
                commitment_id=c.id,
                at=at,
                actor_label=f"{reg.name} (by email link)",
                from_status=prev,
                to_status=STATUS_WITHDRAWN,
                note="Our communications budget was cut this year.",
            )
        )
    elif status == STATUS_IN_PROGRESS and prev != STATUS_IN_PROGRESS:
        at = pledged_at + timedelta(days=30)
        db.session.add(
            CommitmentUpdate(
                commitment_id=c.id,
                at=at,
                actor_label=reg.name,
                from_status=prev,
                to_status=STATUS_IN_PROGRESS,
                note="Started.",
            )
        )
    return c


def _participant_registration(event: Event) -> Registration | None:
    """participant@example.org's registration for the event (added to the held webinar if missing)."""
    user = db.session.scalar(sa.select(User).where(User.email == "participant@example.org"))
    if user is None:
        return None
    reg = db.session.scalar(
        sa.select(Registration).where(Registration.event_id == event.id, Registration.email == user.email)
    )
    if reg is not None:
        return reg
    if event.status != STATUS_HELD:
        return None
    contact = directory.get_or_create_contact(
        user.email, user.name, organisation_id=user.organisation_id, position=user.position, timezone=user.timezone
    )
    org = contact.organisation
    at = (event.starts_at or clock.now()) - timedelta(days=10)
    reg = Registration(
        event_id=event.id,
        contact_id=contact.id,
        user_id=user.id,
        email=user.email,
        name=user.name,
        organisation_id=contact.organisation_id,
        sector=org.sector if org else "civil_society",
        member_government_id=org.id if (org and org.is_member_government) else None,
        position=user.position,
        timezone=user.timezone or event.timezone,
        consent_at=at,
        status="confirmed",
        created_at=at,
        updated_at=at,
        confirmed_at=at,
    )
    db.session.add(reg)
    db.session.flush()
    return reg


@transactional
def seed(echo) -> None:
    if db.session.scalar(sa.select(sa.func.count()).select_from(Commitment)):
        echo("commitments: demo commitments already present")
        return
    services.ensure_platforms()
    codes = [p.code for p in services.platforms()]
    rng = random.Random(5)
    held = (
        db.session.scalars(
            sa.select(Event)
            .where(Event.status == STATUS_HELD, Event.title.ilike("%technology%"))
            .order_by(Event.starts_at)
        )
        .unique()
        .first()
    )
    if held is None:
        echo("commitments: no held technology webinar to attach demo commitments to")
        return
    regs = list(
        db.session.scalars(
            sa.select(Registration)
            .where(Registration.event_id == held.id, Registration.status == "confirmed")
            .order_by(Registration.id)
        ).unique()
    )
    latest = services.latest_target(held)
    pattern = [
        STATUS_DELIVERED,
        STATUS_PLEDGED,
        STATUS_DELIVERED,
        STATUS_IN_PROGRESS,
        STATUS_WITHDRAWN,
        STATUS_DELIVERED,
        STATUS_IN_PROGRESS,
        STATUS_PLEDGED,
    ]
    made = 0
    for k, reg in enumerate(regs[:24]):
        status = pattern[k % len(pattern)]
        target = latest - timedelta(days=(k * 11) % 200)
        _add(reg, rng, status, target, codes, k)
        made += 1
    mine = _participant_registration(held)
    if mine is not None and not db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Commitment)
        .where(Commitment.event_id == held.id, Commitment.contact_id == mine.contact_id)
    ):
        _add(mine, rng, STATUS_DELIVERED, latest, codes, 0)
        made += 1
    # An open, not yet due pledge for the participant on an upcoming event they registered for.
    upcoming = (
        db.session.scalars(
            sa.select(Registration)
            .join(Event, Event.id == Registration.event_id)
            .where(
                Registration.email == "participant@example.org",
                Registration.status == "confirmed",
                Event.starts_at > clock.now(),
            )
            .order_by(Event.starts_at)
        )
        .unique()
        .first()
    )
    if upcoming is not None:
        _add(upcoming, rng, STATUS_PLEDGED, services.latest_target(upcoming.event) - timedelta(days=120), codes, 1)
        made += 1
    echo(f"commitments: {made} demo commitments added")
