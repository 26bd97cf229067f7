"""Demo registrations and invitations (runs after the events seed; idempotent: an event that
already has registrations is left alone). No mail is queued for demo data."""

from __future__ import annotations

import random
from datetime import timedelta

import sqlalchemy as sa

from webinar_mgr import clock
from webinar_mgr.auth.models import User
from webinar_mgr.directory import services as directory
from webinar_mgr.directory.models import Contact, Organisation
from webinar_mgr.events.models import AUDIENCE_INVITATION, STATUS_HELD, STATUS_SCHEDULED, Event
from webinar_mgr.extensions import db
from webinar_mgr.invitations.models import Invitation

from .models import STATUS_CANCELLED, STATUS_CONFIRMED, STATUS_WAITLISTED, Registration

# (first names, family names, email domain, zone) by country: demo guests look like the region.
PEOPLE = {
    "TH": (
        ["Somchai", "Pimchanok", "Anong", "Kittisak", "Naree"],
        ["Srisuk", "Wongsawat", "Charoen"],
        "example.go.th",
        "Asia/Bangkok",
    ),
    "PH": (
        ["Maria", "Jose", "Ligaya", "Ramon", "Andrea"],
        ["Santos", "Reyes", "Dela Cruz"],
        "example.gov.ph",
        "Asia/Manila",
    ),
    "ID": (
        ["Siti", "Budi", "Dewi", "Agus", "Rina"],
        ["Rahmawati", "Santoso", "Wijaya"],
        "example.go.id",
        "Asia/Jakarta",
    ),
    "VN": (["Minh", "Lan", "Huong", "Tuan", "Thao"], ["Nguyen", "Tran", "Pham"], "example.gov.vn", "Asia/Ho_Chi_Minh"),
    "AU": (
        ["Olivia", "Jack", "Chloe", "Liam", "Grace"],
        ["Taylor", "Nguyen", "Walker"],
        "example.gov.au",
        "Australia/Sydney",
    ),
    "FJ": (
        ["Mere", "Josefa", "Salote", "Viliame", "Ana"],
        ["Tuilagi", "Naivalu", "Rokotuiwai"],
        "example.gov.fj",
        "Pacific/Fiji",
    ),
    "IN": (
        ["Priya", "Arjun", "Kavya", "Rahul", "Ananya"],
        ["Sharma", "Iyer", "Menon"],
        "example.org.in",
        "Asia/Kolkata",
    ),
    "NGO": (["Hannah", "Rizal", "Mai", "Tomas", "Leila"], ["Ortega", "Hassan", "Kim"], "example.org", "Asia/Singapore"),
}
POSITIONS = [
    "Director, Anti-Trafficking Division",
    "Senior Policy Officer",
    "Deputy Prosecutor",
    "Programme Manager",
    "Legal Adviser",
    "Investigator",
    "Victim Support Coordinator",
    "First Secretary",
]


def _guests(rng: random.Random, n: int, orgs: list[Organisation]) -> list[Contact]:
    """Existing demo contacts first, then generated guests (who become contacts)."""
    contacts = list(db.session.scalars(sa.select(Contact).order_by(Contact.id)).unique())
    rng.shuffle(contacts)
    out = contacts[:n]
    i = 0
    while len(out) < n:
        country = list(PEOPLE)[i % len(PEOPLE)]
        firsts, lasts, domain, zone = PEOPLE[country]
        first, last = firsts[(i // len(PEOPLE)) % len(firsts)], lasts[(i // 3) % len(lasts)]
        email = f"{first}.{last}".lower().replace(" ", "") + f"{i}@{domain}"
        org = orgs[i % len(orgs)] if orgs else None
        contact = directory.get_or_create_contact(
            email,
            f"{first} {last}",
            organisation_id=org.id if org else None,
            position=rng.choice(POSITIONS),
            timezone=zone,
        )
        if contact not in out:
            out.append(contact)
        i += 1
    return out


def _register(event: Event, contact: Contact, status: str, at, *, invitation: Invitation | None = None) -> Registration:
    org = contact.organisation
    reg = Registration(
        event_id=event.id,
        contact_id=contact.id,
        email=contact.email,
        name=contact.name,
        organisation_id=contact.organisation_id,
        sector=org.sector if org else "civil_society",
        member_government_id=org.id if (org and org.is_member_government) else None,
        position=contact.position,
        timezone=contact.timezone or event.timezone,
        consent_at=at,
        status=status,
        created_at=at,
        updated_at=at,
        invitation_id=invitation.id if invitation else None,
        confirmed_at=at if status in (STATUS_CONFIRMED, STATUS_CANCELLED) else None,
        cancelled_at=at + timedelta(days=2) if status == STATUS_CANCELLED else None,
    )
    db.session.add(reg)
    return reg


def _invite(event: Event, contact: Contact, state: str, at) -> Invitation:
    org = contact.organisation
    category = (
        "member"
        if (org and org.is_member_government)
        else (
            org.sector
            if org and org.sector in ("observer", "private_sector", "civil_society", "international_organisation")
            else "civil_society"
        )
    )
    inv = Invitation(
        event_id=event.id,
        contact_id=contact.id,
        category=category,
        state=state,
        send_count=0 if state == "draft" else 1,
        sent_at=None if state == "draft" else at,
        opened_at=at + timedelta(days=1) if state in ("opened", "registered", "declined") else None,
        responded_at=at + timedelta(days=1) if state in ("registered", "declined") else None,
        created_at=at,
    )
    db.session.add(inv)
    db.session.flush()
    return inv


def seed(echo) -> None:
    rng = random.Random(4)
    orgs = list(db.session.scalars(sa.select(Organisation).order_by(Organisation.id)))
    events = list(
        db.session.scalars(
            sa.select(Event).where(Event.status.in_((STATUS_HELD, STATUS_SCHEDULED))).order_by(Event.starts_at)
        ).unique()
    )
    done = 0
    for event in events:
        if db.session.scalar(
            sa.select(sa.func.count()).select_from(Registration).where(Registration.event_id == event.id)
        ):
            continue
        opened = event.registration_opens_at or (event.starts_at or clock.now()) - timedelta(days=30)
        if event.status == STATUS_HELD:
            people = _guests(rng, rng.randint(30, 42), orgs)
            invite_states = ["registered"] * len(people) + ["declined", "declined", "sent", "opened", "revoked"]
            extra = [c for c in _guests(rng, len(people) + 5, orgs) if c not in people][:5]
            for k, contact in enumerate(people):
                at = opened + timedelta(hours=5 * k + 1)
                inv = _invite(event, contact, "registered", at) if event.audience == AUDIENCE_INVITATION else None
                _register(event, contact, STATUS_CANCELLED if k % 13 == 12 else STATUS_CONFIRMED, at, invitation=inv)
            if event.audience == AUDIENCE_INVITATION:
                for contact, state in zip(extra, invite_states[len(people) :], strict=False):
                    _invite(event, contact, state, opened)
        elif event.capacity and event.audience == "open" and (event.starts_at or clock.now()) > clock.now():
            # The upcoming open webinar: full, with a waiting list, and some invitations out.
            people = _guests(rng, event.capacity + 6, orgs)
            participant = db.session.scalar(sa.select(Contact).where(Contact.email == "participant@example.org"))
            if participant is None:
                user = db.session.scalar(sa.select(User).where(User.email == "participant@example.org"))
                if user is not None:
                    participant = directory.get_or_create_contact(
                        user.email,
                        user.name,
                        organisation_id=user.organisation_id,
                        position=user.position,
                        timezone=user.timezone,
                    )
            if participant is not None:
                people = [participant] + [c for c in people if c.id != participant.id][: event.capacity + 5]
            for k, contact in enumerate(people):
                at = opened + timedelta(hours=3 * k + 1)
                status = STATUS_CONFIRMED if k < event.capacity else STATUS_WAITLISTED
                reg = _register(event, contact, status, at)
                if contact.email == "participant@example.org":
                    reg.user_id = db.session.scalar(sa.select(User.id).where(User.email == contact.email))
            extra = [c for c in _guests(rng, len(people) + 8, orgs) if c not in people][:8]
            for contact, state in zip(
                extra, ["sent", "sent", "opened", "declined", "draft", "draft", "sent", "opened"], strict=False
            ):
                _invite(event, contact, state, opened)
        else:
            continue
        db.session.flush()
        done += 1
    echo(f"registrations: demo registrants added to {done} events")
