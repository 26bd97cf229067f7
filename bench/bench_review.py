"""Bench: the co-chairs' review pages over 20 and 200 events with 500 registrants each.

Prints, for each page, the time per request (median of several) and the number of SQL
queries, first with 20 events and then with 200: the query count must stay the same.

    .venv/bin/python bench/bench_review.py                       # SQLite (temporary file)
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/wm_bench .venv/bin/python bench/bench_review.py

Data is inserted with SQLAlchemy Core executemany (no ORM objects); the database given in
BENCH_DATABASE_URL / TEST_DATABASE_URL is wiped (public schema dropped) first.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa

from webinar_mgr import clock, create_app
from webinar_mgr.attendance.models import AttendanceRecord
from webinar_mgr.commitments.models import Commitment
from webinar_mgr.directory.models import Contact, Organisation
from webinar_mgr.events.models import Event, EventKind, event_convenors
from webinar_mgr.extensions import db
from webinar_mgr.invitations.models import Invitation
from webinar_mgr.registrations.models import Registration

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
MEMBERS = [
    ("Australia", "AU", True),
    ("Bangladesh", "BD", False),
    ("Cambodia", "KH", True),
    ("Fiji", "FJ", False),
    ("Indonesia", "ID", True),
    ("Japan", "JP", True),
    ("Lao PDR", "LA", False),
    ("Malaysia", "MY", True),
    ("Myanmar", "MM", False),
    ("New Zealand", "NZ", True),
    ("Palau", "PW", False),
    ("Papua New Guinea", "PG", False),
    ("Philippines", "PH", True),
    ("Samoa", "WS", False),
    ("Sri Lanka", "LK", True),
    ("ราชอาณาจักรไทย (Thailand)", "TH", True),
    ("Timor-Leste", "TL", False),
    ("Viet Nam", "VN", True),
]
OTHERS = [
    ("SafeDate Inc.", "private_sector"),
    ("Global Payments Ltd", "private_sector"),
    ("Freedom Fund Asia", "civil_society"),
    ("Migrant Rights Network", "civil_society"),
    ("IOM", "international_organisation"),
    ("UNODC", "international_organisation"),
    ("Regional Support Office", "support_office"),
]
THEMES = [
    "Technology and trafficking",
    "Labour exploitation in supply chains",
    "Online scams and forced criminality",
    "Victim identification at borders",
    "COVID-19 recovery",
    "Financial flows",
    "Child protection online",
]


def _url() -> str:
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    if url:
        return url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url
    return f"sqlite:///{tempfile.mkdtemp(prefix='bench_review_')}/bench.db"


class Dataset:
    """Builds the directory once, then adds events in batches (Core executemany)."""

    def __init__(self, regs_per_event: int = 500, seed: int = 7):
        self.rng = random.Random(seed)
        self.regs_per_event = regs_per_event
        self.events = 0
        orgs = [
            dict(
                name=n,
                short_name=n.split(" (")[-1].rstrip(")"),
                sector="member_government",
                country_code=c,
                working_group_member=wg,
            )
            for n, c, wg in MEMBERS
        ]
        orgs += [
            dict(name=n, short_name=None, sector=s, country_code=None, working_group_member=False) for n, s in OTHERS
        ]
        db.session.execute(sa.insert(Organisation.__table__), orgs)
        db.session.add(EventKind(code="webinar", label="Regional webinar"))
        db.session.add(EventKind(code="seminar", label="Virtual seminar"))
        db.session.flush()
        self.kinds = db.session.scalars(sa.select(EventKind.id)).all()
        self.orgs = db.session.execute(sa.select(Organisation.id, Organisation.sector)).all()
        member_orgs = [o for o in self.orgs if o.sector == "member_government"]
        # Most people come from member governments; a fifth from the other sectors.
        contacts = []
        for i in range(regs_per_event + 100):
            org = self.rng.choice(member_orgs) if i % 5 else self.rng.choice(self.orgs)
            contacts.append(dict(name=f"Participant {i}", email=f"p{i}@bench.example", organisation_id=org.id))
        db.session.execute(sa.insert(Contact.__table__), contacts)
        rows = db.session.execute(sa.select(Contact.id, Contact.email, Contact.name, Contact.organisation_id)).all()
        sector_of = {o.id: o.sector for o in self.orgs}
        self.contacts = [(c.id, c.email, c.name, c.organisation_id, sector_of[c.organisation_id]) for c in rows]
        # A few members stop coming halfway, to give "stopped coming" something to find.
        self.stoppers = {o.id for o in member_orgs[:3]}
        db.session.commit()

    def add_events(self, count: int) -> None:
        rng = self.rng
        for _ in range(count):
            i = self.events
            self.events += 1
            starts = NOW - timedelta(days=7 * (400 - i))  # weekly, oldest first, all in the past
            result = db.session.execute(
                sa.insert(Event.__table__).returning(Event.__table__.c.id),
                [
                    dict(
                        title=f"{THEMES[i % len(THEMES)]} ({i + 1})",
                        kind_id=self.kinds[i % len(self.kinds)],
                        status="held",
                        timezone="Asia/Bangkok",
                        starts_at=starts,
                        ends_at=starts + timedelta(hours=2),
                        summary="",
                        objectives=[],
                        priority_tags=[f"Priority {1 + i % 5}"],
                        pdf_zones=[],
                    )
                ],
            )
            event_id = result.scalar_one()
            db.session.execute(
                sa.insert(event_convenors), [dict(event_id=event_id, organisation_id=self.orgs[i % 5].id)]
            )
            people = rng.sample(self.contacts, self.regs_per_event)
            invitations = [
                dict(event_id=event_id, contact_id=c[0], category="member", state="sent")
                for c in people[: int(self.regs_per_event * 0.8)]
            ]
            db.session.execute(sa.insert(Invitation.__table__), invitations)
            inv_ids = dict(
                db.session.execute(
                    sa.select(Invitation.contact_id, Invitation.id).where(Invitation.event_id == event_id)
                ).all()
            )
            regs = []
            for c in people:
                status = rng.choices(("confirmed", "pending", "waitlisted", "cancelled"), (80, 5, 5, 10))[0]
                regs.append(
                    dict(
                        event_id=event_id,
                        contact_id=c[0],
                        email=c[1],
                        name=c[2],
                        organisation_id=c[3],
                        sector=c[4],
                        member_government_id=c[3] if c[4] == "member_government" else None,
                        status=status,
                        invitation_id=inv_ids.get(c[0]),
                        timezone="UTC",
                    )
                )
            db.session.execute(sa.insert(Registration.__table__), regs)
            reg_rows = db.session.execute(
                sa.select(Registration.id, Registration.name, Registration.status, Registration.organisation_id).where(
                    Registration.event_id == event_id
                )
            ).all()
            attendance, commitments = [], []
            late = self.events > 100
            for r in reg_rows:
                if r.status == "cancelled" or (late and r.organisation_id in self.stoppers):
                    continue
                minutes = rng.choice((0, 5, 30, 60, 90, 110))
                if minutes or rng.random() < 0.5:
                    attendance.append(
                        dict(
                            event_id=event_id,
                            registration_id=r.id,
                            name=r.name,
                            minutes=minutes,
                            attended=minutes >= 10,
                            match="email",
                            source="import",
                        )
                    )
            for c in rng.sample(people, self.regs_per_event // 10):
                commitments.append(
                    dict(
                        event_id=event_id,
                        contact_id=c[0],
                        organisation_id=c[3],
                        member_government_id=c[3] if c[4] == "member_government" else None,
                        sector=c[4],
                        kind="social_media_post",
                        description="A post",
                        target_date=(starts + timedelta(days=180)).date(),
                        status=rng.choice(("pledged", "in_progress", "delivered", "delivered", "withdrawn")),
                        nonce="bench",
                        platforms=[],
                        languages=[],
                    )
                )
            db.session.execute(sa.insert(AttendanceRecord.__table__), attendance)
            db.session.execute(sa.insert(Commitment.__table__), commitments)
        db.session.commit()


def measure(client, url: str, repeat: int) -> tuple[float, int]:
    from tests.support import QueryCounter

    times, count = [], None
    for _ in range(repeat):
        with QueryCounter(db.engine) as counter:
            t0 = time.perf_counter()
            resp = client.get(url)
            elapsed = time.perf_counter() - t0
        if resp.status_code != 200:
            raise SystemExit(f"{url}: HTTP {resp.status_code}")
        times.append(elapsed)
        count = counter.count
    return statistics.median(times), count


def main() -> None:
    url = _url()
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url, RATELIMIT_ENABLED=False)
    with app.app_context():
        from flask_migrate import upgrade

        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
        from webinar_mgr.auth import services as auth

        auth.create_user(
            email="cochair@bench.example",
            name="Co-chair",
            password="correct-horse-battery",
            roles=["cochair"],
            timezone="UTC",
        )
        db.session.commit()
        clock.freeze(NOW)
        data = Dataset()
        client = app.test_client()
        client.post("/login", data={"email": "cochair@bench.example", "password": "correct-horse-battery"})
        period = "from=2018-01-01&to=2026-06-30"
        pages = [
            ("period review", f"/review?{period}", 5),
            ("period review, per quarter", f"/review?{period}&group=quarter", 3),
            ("event review", "/review/events/{last}", 5),
            ("export grid.csv", f"/review/export/grid.csv?{period}", 3),
            ("export events.xlsx", f"/review/export/events.xlsx?{period}", 3),
            ("chart sectors.svg", f"/review/chart/sectors.svg?{period}", 3),
            ("activity report PDF", f"/review/activity-report.pdf?{period}", 1),
            ("activity report PDF, again", f"/review/activity-report.pdf?{period}", 3),  # stored
        ]
        print(f"database: {db.engine.dialect.name}; {data.regs_per_event} registrants per event")
        results = {}
        for target in (20, 200):
            t0 = time.perf_counter()
            data.add_events(target - data.events)
            regs = db.session.scalar(sa.select(sa.func.count()).select_from(Registration))
            att = db.session.scalar(sa.select(sa.func.count()).select_from(AttendanceRecord))
            print(
                f"\n{target} events: {regs} registrations, {att} attendance records "
                f"(inserted in {time.perf_counter() - t0:.1f} s)"
            )
            last = db.session.scalar(sa.select(sa.func.max(Event.id)))
            for name, page, repeat in pages:
                seconds, queries = measure(client, page.format(last=last), repeat)
                results.setdefault(name, {})[target] = (seconds, queries)
                print(f"  {name:28s} {seconds * 1000:8.1f} ms/request  {queries:3d} SQL queries")
        print("\nquery counts 20 -> 200 events:")
        for name, by in results.items():
            same = "same" if by[20][1] == by[200][1] else "DIFFERENT"
            print(f"  {name:28s} {by[20][1]:3d} -> {by[200][1]:3d}  ({same})")
        clock.unfreeze()
        db.session.remove()
        db.engine.dispose()


if __name__ == "__main__":
    main()
