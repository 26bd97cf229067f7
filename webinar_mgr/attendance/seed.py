"""Demo attendance: for each held event with registrations and no import yet, a Zoom meeting
participants report is written from its registrations and imported through the real parser."""

from __future__ import annotations

import random
from datetime import timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from webinar_mgr.auth.models import User
from webinar_mgr.directory import services as directory
from webinar_mgr.events.models import STATUS_HELD, Event
from webinar_mgr.extensions import db
from webinar_mgr.registrations.models import STATUS_CONFIRMED, Registration

from . import certificates, services
from .models import MATCH_IGNORED, AttendanceImport


def demo_report(event: Event, registrations: list[Registration], rng: random.Random) -> bytes:
    zone = ZoneInfo(event.timezone)
    start = event.starts_at.astimezone(zone)
    end = (event.ends_at or event.starts_at + timedelta(hours=2)).astimezone(zone)
    span = int((end - start).total_seconds() // 60)
    fmt = "%m/%d/%Y %I:%M:%S %p"
    lines = ["Name (Original Name),User Email,Join Time,Leave Time,Duration (Minutes),Guest"]

    def row(name, email, a, b):
        lines.append(f'"{name}",{email},{a.strftime(fmt)},{b.strftime(fmt)},{int((b - a).total_seconds() // 60)},Yes')

    for k, reg in enumerate(registrations):
        roll = rng.random()
        if roll < 0.2:
            continue  # registered, did not come
        email = reg.email.upper() if k % 7 == 0 else reg.email
        if roll < 0.27:  # dropped in briefly: below the threshold
            a = start + timedelta(minutes=rng.randint(5, 30))
            row(reg.name, email, a, a + timedelta(minutes=rng.randint(2, 8)))
            continue
        a = start + timedelta(minutes=rng.randint(0, 15))
        b = end - timedelta(minutes=rng.randint(0, 20))
        if roll > 0.85 and (b - a).total_seconds() > 3600:  # lost the connection once
            mid = a + (b - a) / 2
            row(reg.name, email, a, mid)
            row(reg.name, email, mid + timedelta(minutes=3), b)
        else:
            row(reg.name, "" if k % 11 == 5 else email, a, b)
    row("+66 2 555 0147", "", start + timedelta(minutes=10), start + timedelta(minutes=min(span, 55)))
    row("Rapporteur (External)", "rapporteur@partner.example", start, end)
    return ("\n".join(lines) + "\n").encode("utf-8")


def _resolve_demo_rows(event: Event) -> None:
    """What an organiser does after the import: the rapporteur is added as a walk-in of the
    Regional Support Office, the anonymous dial-in is ignored (nobody can say who it was), so the
    demo's figures count everyone (``flask directory check`` finds nothing to fix)."""
    rso = directory.find_organisation("Regional Support Office")
    for record in services.records(event):
        if record.registration_id is not None or record.match == MATCH_IGNORED:
            continue
        if record.email == "rapporteur@partner.example" and rso is not None:
            services.add_walk_in(
                event,
                record.id,
                email=record.email,
                name="Rapporteur (External)",
                organisation=directory.OrganisationChoice(organisation_id=rso.id),
                confirm_contact=True,  # the same rapporteur at every demo webinar
                actor=None,
            )
        elif not record.email:
            services.ignore_record(event, record.id, actor=None)


def _demo_participant_attended(event: Event) -> None:
    """The demo participant attended the technology webinar (issue 15: they can download their
    certificate of attendance): registered and, if the random report left them out, checked in."""
    if "technology" not in event.title.lower():
        return
    user = db.session.scalar(sa.select(User).where(User.email == "participant@example.org"))
    if user is None:
        return
    reg = db.session.scalar(
        sa.select(Registration).where(Registration.event_id == event.id, Registration.email == user.email)
    )
    if reg is None:
        contact = directory.get_or_create_contact(
            user.email, user.name, organisation_id=user.organisation_id, timezone=user.timezone
        )
        org = contact.organisation
        reg = Registration(
            event_id=event.id,
            contact_id=contact.id,
            user_id=user.id,
            email=user.email,
            name=user.name,
            status=STATUS_CONFIRMED,
            organisation_id=org.id if org else None,
            sector=org.sector if org else None,
            member_government_id=org.counted_member_government_id if org else None,
            timezone=user.timezone or "UTC",
            created_at=event.starts_at - timedelta(days=7),
            confirmed_at=event.starts_at - timedelta(days=7),
            consent_at=event.starts_at - timedelta(days=7),
        )
        db.session.add(reg)
        db.session.flush()
    if not certificates.has_attended(reg):
        services.checkin(event, reg.id, actor=None)


def seed(echo) -> None:
    rng = random.Random(6)
    events = (
        db.session.scalars(
            sa.select(Event).where(Event.status == STATUS_HELD, Event.starts_at.is_not(None)).order_by(Event.starts_at)
        )
        .unique()
        .all()
    )
    done = 0
    for event in events:
        if db.session.scalar(sa.select(AttendanceImport.id).where(AttendanceImport.event_id == event.id).limit(1)):
            continue
        regs = (
            db.session.scalars(
                sa.select(Registration)
                .where(Registration.event_id == event.id, Registration.status == STATUS_CONFIRMED)
                .order_by(Registration.id)
            )
            .unique()
            .all()
        )
        if not regs:
            continue
        services.import_file(event, f"zoom-participants-event-{event.id}.csv", demo_report(event, list(regs), rng))
        _resolve_demo_rows(event)
        _demo_participant_attended(event)
        done += 1
    if done:
        echo(f"Attendance imported for {done} held event(s).")
