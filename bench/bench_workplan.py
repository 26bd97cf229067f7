"""Bench: the work plan page (/workplan) with 20 and then 200 linked events.

A plan with 5 priorities and 11 action items; every event linked to one or two action items,
a dated progress note per event, an output with three language versions for every tenth event,
five voluntary commitments per event linked to its action item. Prints, for each page, the time
per request (median of 3) and its SQL statements, beside a floor measured in the same run
(/healthz: the app's own cost per request), and the same for progress_for_period (what the
co-chairs' statement reads). The SQL count must not grow with the number of events.

    .venv/bin/python bench/bench_workplan.py                       # SQLite (temporary file)
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/wm_bench .venv/bin/python bench/bench_workplan.py

The database given in BENCH_DATABASE_URL / TEST_DATABASE_URL is wiped (public schema dropped) first.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa
from flask_migrate import upgrade

from tests.support import QueryCounter
from webinar_mgr import clock, create_app
from webinar_mgr.auth import services as auth
from webinar_mgr.commitments.models import Commitment
from webinar_mgr.directory.models import Contact, Organisation
from webinar_mgr.events.models import Event, EventKind
from webinar_mgr.extensions import db
from webinar_mgr.workplan import services
from webinar_mgr.workplan.models import (
    ActionItem,
    Output,
    OutputVersion,
    Priority,
    ProgressNote,
    WorkPlan,
    action_item_commitments,
    action_item_events,
    action_item_leads,
    action_item_outputs,
    output_events,
)

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
REPEAT = 3


def _url() -> str:
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    if url:
        return url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url
    return f"sqlite:///{tempfile.mkdtemp(prefix='bench_workplan_')}/bench.db"


class Dataset:
    def __init__(self):
        self.events = 0
        db.session.execute(
            sa.insert(Organisation.__table__),
            [dict(name=f"Member {i}", sector="member_government", country_code=None) for i in range(12)],
        )
        self.orgs = db.session.scalars(sa.select(Organisation.id)).all()
        db.session.execute(
            sa.insert(Contact.__table__),
            [
                dict(name=f"Person {i}", email=f"p{i}@bench.example", organisation_id=self.orgs[i % 12])
                for i in range(50)
            ],
        )
        self.contacts = db.session.scalars(sa.select(Contact.id)).all()
        kind = EventKind(code="webinar", label="Regional webinar")
        db.session.add(kind)
        plan = WorkPlan(name="Forward Work Plan 2018-26", period_start=date(2018, 1, 1), period_end=date(2026, 12, 31))
        plan.current = True
        db.session.add(plan)
        db.session.flush()
        self.kind_id = kind.id
        self.items = []
        for p in range(1, 6):
            priority = Priority(plan_id=plan.id, number=p, title=f"Priority issue {p}")
            db.session.add(priority)
            db.session.flush()
            for _ in range(2 if p < 5 else 3):
                n = len(self.items) + 1
                item = ActionItem(priority_id=priority.id, number=n, text=f"Action item {n} of the plan", target="2026")
                db.session.add(item)
                db.session.flush()
                self.items.append(item.id)
        db.session.execute(
            sa.insert(action_item_leads),
            [dict(action_item_id=a, organisation_id=self.orgs[k % 12]) for k, a in enumerate(self.items)],
        )
        db.session.commit()

    def add_events(self, count: int) -> None:
        for _ in range(count):
            i = self.events
            self.events += 1
            starts = NOW - timedelta(days=7 * (400 - i))
            event_id = db.session.execute(
                sa.insert(Event.__table__).returning(Event.__table__.c.id),
                [
                    dict(
                        title=f"Regional webinar {i + 1}",
                        kind_id=self.kind_id,
                        status="held",
                        timezone="Asia/Bangkok",
                        starts_at=starts,
                        ends_at=starts + timedelta(hours=2),
                        summary="",
                        objectives=[],
                        priority_tags=[],
                        pdf_zones=[],
                    )
                ],
            ).scalar_one()
            linked = {self.items[i % len(self.items)], self.items[(i * 7) % len(self.items)]}
            db.session.execute(
                sa.insert(action_item_events), [dict(action_item_id=a, event_id=event_id) for a in linked]
            )
            db.session.add(
                ProgressNote(
                    action_item_id=self.items[i % len(self.items)],
                    noted_on=starts.date(),
                    text=f"Webinar {i + 1} held.",
                    author_label="Organiser",
                )
            )
            commitment_ids = (
                db.session.execute(
                    sa.insert(Commitment.__table__).returning(Commitment.__table__.c.id),
                    [
                        dict(
                            event_id=event_id,
                            contact_id=self.contacts[(i + k) % 50],
                            kind="social_media_post",
                            description="A post",
                            target_date=(starts + timedelta(days=180)).date(),
                            status=("pledged", "delivered")[k % 2],
                            nonce="bench",
                            platforms=[],
                            languages=[],
                        )
                        for k in range(5)
                    ],
                )
                .scalars()
                .all()
            )
            db.session.execute(
                sa.insert(action_item_commitments),
                [dict(action_item_id=self.items[i % len(self.items)], commitment_id=c) for c in commitment_ids],
            )
            if i % 10 == 0:
                output = Output(title=f"Output {i}", kind="slides", published=True, published_on=starts.date())
                output.versions = [
                    OutputVersion(language=lang, published_on=starts.date(), url=f"https://example.org/{i}/{lang}")
                    for lang in ("en", "th", "vi")
                ]
                db.session.add(output)
                db.session.flush()
                db.session.execute(
                    sa.insert(action_item_outputs),
                    [dict(action_item_id=self.items[i % len(self.items)], output_id=output.id)],
                )
                db.session.execute(sa.insert(output_events), [dict(output_id=output.id, event_id=event_id)])
        db.session.commit()


def measure(client, url: str) -> tuple[float, int]:
    times, count = [], None
    for _ in range(REPEAT):
        with QueryCounter(db.engine) as counter:
            t0 = time.perf_counter()
            resp = client.get(url)
            elapsed = time.perf_counter() - t0
        if resp.status_code != 200:
            raise SystemExit(f"{url}: HTTP {resp.status_code}")
        times.append(elapsed)
        count = counter.count
    return statistics.median(times), count


def measure_service() -> tuple[float, int]:
    times, count = [], None
    for _ in range(REPEAT):
        db.session.expire_all()
        with QueryCounter(db.engine) as counter:
            t0 = time.perf_counter()
            services.progress_for_period(date(2018, 1, 1), date(2026, 12, 31))
            elapsed = time.perf_counter() - t0
        times.append(elapsed)
        count = counter.count
    return statistics.median(times), count


def main() -> None:
    url = _url()
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url, RATELIMIT_ENABLED=False)
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
        clock.freeze(NOW)
        for email, role in (("organiser@bench.example", "organiser"), ("member@bench.example", "participant")):
            auth.create_user(
                email=email, name=role.title(), password="correct-horse-battery", roles=[role], timezone="UTC"
            )
        db.session.commit()
        data = Dataset()
        print(f"database: {db.engine.dialect.name}; median of {REPEAT} requests each")
        print(f"{'events':>6}  {'page':<34} {'ms':>8} {'SQL':>5}")
        counts: dict[str, set[int]] = {}
        for target in (20, 200):
            data.add_events(target - data.events)
            rows = []
            for who in ("organiser", "member"):
                client = app.test_client()
                client.post("/login", data={"email": f"{who}@bench.example", "password": "correct-horse-battery"})
                client.get("/workplan")  # warm the templates
                rows.append((f"/healthz (floor, {who})", *measure(client, "/healthz")))
                rows.append((f"/workplan ({who})", *measure(client, "/workplan")))
            rows.append(("progress_for_period (service)", *measure_service()))
            for name, seconds, sql in rows:
                counts.setdefault(name, set()).add(sql)
                print(f"{target:>6}  {name:<34} {seconds * 1000:8.1f} {sql:>5}")
        grown = [name for name, seen in counts.items() if len(seen) > 1]
        print("SQL statements constant in the number of events:", "yes" if not grown else f"NO: {grown}")


if __name__ == "__main__":
    main()
