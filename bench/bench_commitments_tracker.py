"""Bench: the commitments tracker page with 100 and then 10,000 commitments across 100 events.

Prints, for the tracker page (unfiltered, and filtered by overdue / member government / state),
the time per request (median of several, through the Flask test client, signed in as an
organiser) and the number of SQL queries per request (counted with a SQLAlchemy
``before_cursor_execute`` listener). The query count must be the same at both sizes.

    .venv/bin/python bench/bench_commitments_tracker.py                  # SQLite (temporary file)
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/wm_bench_c \
        .venv/bin/python bench/bench_commitments_tracker.py

Data is bulk-inserted with SQLAlchemy Core executemany. A PostgreSQL database given in
BENCH_DATABASE_URL is wiped (public schema dropped) first.
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
from webinar_mgr.commitments.models import Commitment
from webinar_mgr.directory.models import Contact, Organisation
from webinar_mgr.events.models import Event, EventKind
from webinar_mgr.extensions import db
from webinar_mgr.registrations.models import Registration

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
EVENTS = 100
MEMBERS = [
    "Australia",
    "Cambodia",
    "Fiji",
    "Indonesia",
    "Japan",
    "Malaysia",
    "Philippines",
    "Sri Lanka",
    "Thailand",
    "Viet Nam",
]
STATES = ["pledged", "in_progress", "delivered", "delivered", "withdrawn"]
SIZES = (100, 10_000)
REPEAT = 15


def _url() -> str:
    url = os.environ.get("BENCH_DATABASE_URL")
    if url:
        return url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url
    return f"sqlite:///{tempfile.mkdtemp(prefix='bench_commitments_')}/bench.db"


def build_base(rng: random.Random):
    db.session.execute(
        sa.insert(Organisation.__table__),
        [
            dict(name=m, sector="member_government", working_group_member=True, created_at=NOW, updated_at=NOW)
            for m in MEMBERS
        ]
        + [
            dict(
                name="Freedom Network",
                sector="civil_society",
                working_group_member=False,
                created_at=NOW,
                updated_at=NOW,
            )
        ],
    )
    kind = EventKind(code="webinar", label="Regional webinar")
    db.session.add(kind)
    db.session.flush()
    start = NOW - timedelta(days=3 * 365)
    db.session.execute(
        sa.insert(Event.__table__),
        [
            dict(
                title=f"Regional Webinar {i + 1}",
                kind_id=kind.id,
                status="held",
                timezone="Asia/Bangkok",
                starts_at=start + timedelta(days=10 * i),
                ends_at=start + timedelta(days=10 * i, hours=2),
                audience="open",
                sequence=0,
                created_at=NOW,
                updated_at=NOW,
            )
            for i in range(EVENTS)
        ],
    )
    orgs = db.session.execute(sa.select(Organisation.id, Organisation.sector)).all()
    events = db.session.execute(sa.select(Event.id, Event.ends_at)).all()
    db.session.commit()
    return orgs, events


def add_commitments(n: int, start_index: int, orgs, events, rng: random.Random) -> None:
    """n people, each registered for one event with one commitment (bulk inserts)."""
    contacts = [
        dict(
            name=f"Person {i}",
            email=f"person{i}@example.org",
            organisation_id=orgs[i % len(orgs)].id,
            focal_point=False,
            created_at=NOW,
            updated_at=NOW,
        )
        for i in range(start_index, start_index + n)
    ]
    db.session.execute(sa.insert(Contact.__table__), contacts)
    ids = dict(
        db.session.execute(
            sa.select(Contact.email, Contact.id).where(Contact.email.in_([c["email"] for c in contacts]))
        ).all()
    )
    regs, plan = [], []
    for k, c in enumerate(contacts):
        i = start_index + k
        ev = events[i % len(events)]
        org = orgs[i % len(orgs)]
        regs.append(
            dict(
                event_id=ev.id,
                contact_id=ids[c["email"]],
                email=c["email"],
                name=c["name"],
                organisation_id=org.id,
                sector=org.sector,
                member_government_id=org.id if org.sector == "member_government" else None,
                timezone="UTC",
                status="confirmed",
                nonce=f"n{i}",
                created_at=NOW,
                updated_at=NOW,
            )
        )
        plan.append((ev, org, ids[c["email"]]))
    db.session.execute(sa.insert(Registration.__table__), regs)
    rows = []
    for k, (ev, org, contact_id) in enumerate(plan):
        status = rng.choice(STATES)
        rows.append(
            dict(
                event_id=ev.id,
                contact_id=contact_id,
                organisation_id=org.id,
                sector=org.sector,
                member_government_id=org.id if org.sector == "member_government" else None,
                kind=rng.choice(["social_media_post", "campaign", "other"]),
                platforms=["x", "facebook"],
                languages=["English"],
                audience="Public",
                description=f"Commitment {start_index + k}",
                target_date=(ev.ends_at + timedelta(days=rng.randint(30, 365))).date(),
                public=True,
                status=status,
                nonce=f"c{start_index + k}",
                created_at=NOW,
                updated_at=NOW,
                delivered_at=NOW if status == "delivered" else None,
            )
        )
    db.session.execute(sa.insert(Commitment.__table__), rows)
    db.session.commit()


def measure(client, engine, url: str) -> tuple[float, int, int]:
    counter = {"n": 0}

    def count(*_args, **_kw):
        counter["n"] += 1

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        client.get(url)  # warm-up
        times, counts = [], []
        for _ in range(REPEAT):
            counter["n"] = 0
            t0 = time.perf_counter()
            resp = client.get(url)
            times.append(time.perf_counter() - t0)
            counts.append(counter["n"])
            assert resp.status_code == 200, resp.status_code
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    return statistics.median(times) * 1000, min(counts), max(counts)


def main() -> None:
    from flask_migrate import upgrade

    from webinar_mgr.auth import services as auth

    url = _url()
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url, INSTANCE_DIR=tempfile.gettempdir())
    rng = random.Random(11)
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
        clock.freeze(NOW)
        auth.create_user(
            email="organiser@bench.example",
            name="Bench Organiser",
            password="correct-horse-battery",
            roles=["organiser"],
            timezone="UTC",
        )
        db.session.commit()
        orgs, events = build_base(rng)
        member = orgs[0].id
        pages = [
            ("tracker", "/commitments"),
            ("tracker page 20", "/commitments?page=20"),
            ("overdue only", "/commitments?overdue=1"),
            ("member + delivered", f"/commitments?member={member}&status=delivered"),
            ("one event", f"/commitments?event={events[5].id}"),
        ]
        print(f"database: {db.engine.dialect.name}; {EVENTS} events; median of {REPEAT} requests per page")
        print(f"{'commitments':>11}  {'page':<20} {'ms/request':>10}  {'SQL queries':>11}")
        done = 0
        results: dict[str, list[int]] = {}
        for size in SIZES:
            t0 = time.perf_counter()
            add_commitments(size - done, done, orgs, events, rng)
            done = size
            build = time.perf_counter() - t0
            if db.engine.dialect.name == "postgresql":  # fresh statistics, as autovacuum would give
                with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.execute(sa.text("ANALYZE"))
            total = db.session.scalar(sa.select(sa.func.count()).select_from(Commitment))
            client = app.test_client()
            resp = client.post("/login", data={"email": "organiser@bench.example", "password": "correct-horse-battery"})
            assert resp.status_code == 302
            for name, path in pages:
                ms, qmin, qmax = measure(client, db.engine, path)
                results.setdefault(name, []).append(qmax)
                qtext = str(qmin) if qmin == qmax else f"{qmin}-{qmax}"
                print(f"{total:>11}  {name:<20} {ms:>10.1f}  {qtext:>11}")
            print(f"{'':>11}  (bulk insert of {size} rows took {build:.1f} s)")
        same = all(len(set(v)) == 1 for v in results.values())
        print("query count constant from 100 to 10,000 commitments:", "yes" if same else "NO")
        clock.unfreeze()


if __name__ == "__main__":
    main()
