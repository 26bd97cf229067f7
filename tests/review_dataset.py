"""The review dataset: events, contacts, invitations, registrations, attendance and commitments
built by hand with the models, shared by the review tests (test_reports.py, test_reports_pdf.py,
e2e/test_review_e2e.py). A plain module, not a test module.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from webinar_mgr import clock
from webinar_mgr.attendance.models import AttendanceRecord
from webinar_mgr.commitments.models import Commitment
from webinar_mgr.directory.models import Contact, Organisation
from webinar_mgr.events.models import Event, EventKind
from webinar_mgr.extensions import db
from webinar_mgr.invitations.models import Invitation
from webinar_mgr.registrations.models import Registration

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
THAI = "ราชอาณาจักรไทย (Thailand)"
FORMULA_TITLE = '=HYPERLINK("http://evil.example","click")'


def utc(y, m, d, h=6):
    return datetime(y, m, d, h, 0, tzinfo=UTC)


def build_dataset():
    """Three events held in the first half of 2026, one held in 2025, one cancelled, one
    scheduled after "now" and one with a date to be confirmed.

    E1 (15 Jan): invited (sent) thai1, thai2, phil1, viet1, priv1, civ1 = 6 (a draft to io1 and a
      revoked one to fiji1 do not count). Registrations: thai1 confirmed, thai2 pending, viet1
      waitlisted, priv1 confirmed (all through invitations), io1 confirmed (no invitation),
      phil1 cancelled, fiji1 rejected -> registered 5, confirmed 3, invited who registered 4.
      Attended: thai1, priv1, phil1 (cancelled but came) = 3; io1 below threshold; one unlinked row.
    E2 (10 Mar): thai1, viet1, phil1, fiji1 confirmed; thai1, viet1, fiji1 attended.
    E3 (20 May, formula-like title): thai1, phil1, viet1 confirmed; thai1, phil1 attended.
    """
    clock.freeze(NOW)
    kind = EventKind(code="webinar", label="Regional webinar")
    db.session.add(kind)
    orgs = {
        "thai": Organisation(name=THAI, short_name="Thailand", sector="member_government", working_group_member=True),
        "phil": Organisation(name="Philippines", sector="member_government", working_group_member=True),
        "viet": Organisation(name="Viet Nam", sector="member_government", working_group_member=True),
        "fiji": Organisation(name="Fiji", sector="member_government", working_group_member=False),
        "priv": Organisation(name="SafeDate Inc.", sector="private_sector"),
        "civ": Organisation(name="Civil Hope", sector="civil_society"),
        "io": Organisation(name="IOM", sector="international_organisation"),
    }
    db.session.add_all(orgs.values())
    db.session.flush()
    people = {}
    for key, org in [
        ("thai1", "thai"),
        ("thai2", "thai"),
        ("phil1", "phil"),
        ("viet1", "viet"),
        ("fiji1", "fiji"),
        ("priv1", "priv"),
        ("civ1", "civ"),
        ("io1", "io"),
    ]:
        people[key] = Contact(name=f"Person {key}", email=f"{key}@example.org", organisation_id=orgs[org].id)
    db.session.add_all(people.values())

    def event(title, starts, status="held", **kw):
        e = Event(
            title=title,
            kind=kind,
            status=status,
            timezone="Asia/Bangkok",
            starts_at=starts,
            ends_at=starts + timedelta(hours=2) if starts else None,
            **kw,
        )
        db.session.add(e)
        return e

    e0 = event("Annual meeting 2025", utc(2025, 3, 1))
    e1 = event("Technology and trafficking", utc(2026, 1, 15), priority_tags=["Priority 4"])
    e1.convenors.append(orgs["thai"])
    e2 = event("COVID-19 recovery", utc(2026, 3, 10), status="scheduled")  # past: counts as held
    e3 = event(FORMULA_TITLE, utc(2026, 5, 20))
    event("Cancelled seminar", utc(2026, 4, 1), status="cancelled")
    event("Open session on online scams", utc(2026, 8, 1), status="scheduled")
    event("Annual meeting 2026", None, status="tbc", tentative_month=date(2026, 10, 1))
    db.session.flush()

    def _org_key(key):
        return key.rstrip("0123456789")

    def invite(e, key, state="sent"):
        inv = Invitation(event_id=e.id, contact_id=people[key].id, category="member", state=state)
        db.session.add(inv)
        db.session.flush()
        return inv

    def register(e, key, status="confirmed", invitation=None):
        org = orgs[_org_key(key)]
        r = Registration(
            event_id=e.id,
            contact_id=people[key].id,
            email=people[key].email,
            name=people[key].name,
            organisation_id=org.id,
            sector=org.sector,
            status=status,
            member_government_id=org.id if org.sector == "member_government" else None,
            invitation_id=invitation.id if invitation else None,
        )
        db.session.add(r)
        db.session.flush()
        return r

    def attend(e, reg, minutes=45, attended=True, name=None):
        db.session.add(
            AttendanceRecord(
                event_id=e.id,
                registration_id=reg.id if reg else None,
                name=name or (reg.name if reg else "?"),
                minutes=minutes,
                attended=attended,
                match="email" if reg else "unmatched",
            )
        )

    def pledge(e, key, status, target, reg=None):
        org = orgs[_org_key(key)]
        db.session.add(
            Commitment(
                event_id=e.id,
                contact_id=people[key].id,
                organisation_id=org.id,
                member_government_id=org.id if org.sector == "member_government" else None,
                sector=org.sector,
                kind="social_media_post",
                description="A post",
                target_date=target,
                status=status,
                nonce="n",
            )
        )

    # E0 (2025, outside the 2026 periods)
    attend(e0, register(e0, "thai1"))
    pledge(e0, "thai1", "delivered", date(2025, 6, 1))
    # E1
    inv = {k: invite(e1, k) for k in ("thai1", "thai2", "phil1", "viet1", "priv1", "civ1")}
    invite(e1, "io1", state="draft")
    invite(e1, "fiji1", state="revoked")
    r_thai1 = register(e1, "thai1", "confirmed", inv["thai1"])
    register(e1, "thai2", "pending", inv["thai2"])
    register(e1, "viet1", "waitlisted", inv["viet1"])
    r_priv1 = register(e1, "priv1", "confirmed", inv["priv1"])
    r_io1 = register(e1, "io1", "confirmed")
    r_phil1 = register(e1, "phil1", "cancelled", inv["phil1"])
    register(e1, "fiji1", "rejected")
    attend(e1, r_thai1)
    attend(e1, r_priv1, minutes=30)
    attend(e1, r_phil1, minutes=20)
    attend(e1, r_io1, minutes=5, attended=False)
    attend(e1, None, name="Unknown caller")
    pledge(e1, "thai1", "pledged", date(2026, 3, 1))  # overdue on 30 June
    pledge(e1, "thai2", "delivered", date(2026, 4, 1))
    pledge(e1, "priv1", "in_progress", date(2026, 12, 1))
    # E2
    for k, came in (("thai1", True), ("viet1", True), ("phil1", False), ("fiji1", True)):
        r = register(e2, k)
        if came:
            attend(e2, r)
    pledge(e2, "viet1", "withdrawn", date(2026, 9, 1))
    pledge(e2, "fiji1", "delivered", date(2026, 5, 1))
    # E3
    for k, came in (("thai1", True), ("phil1", True), ("viet1", False)):
        r = register(e3, k)
        if came:
            attend(e3, r)
    db.session.commit()
    return {"orgs": orgs, "e0": e0, "e1": e1, "e2": e2, "e3": e3}
