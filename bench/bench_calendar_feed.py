"""Bench: GET /calendar.ics with 1,000 published events (3 agenda items each, 7 zones).

Prints the time per request over 20 requests (median, p95, min, max) and the number of SQL
queries per request in three cases: the feed built from scratch, the feed after one event
changed (only that event is serialised again), and unchanged data (served from the cache).

    .venv/bin/python bench/bench_calendar_feed.py
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/wm_bench .venv/bin/python bench/bench_calendar_feed.py
    (the PostgreSQL database given is wiped: public schema dropped first)
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa

from webinar_mgr import create_app
from webinar_mgr.events import ics, settings
from webinar_mgr.events.models import AgendaItem, Event
from webinar_mgr.extensions import db

N_EVENTS = 1000
REQUESTS = 20
ZONES = [
    "Asia/Bangkok",
    "Asia/Jakarta",
    "Asia/Manila",
    "Australia/Sydney",
    "Pacific/Port_Moresby",
    "Pacific/Fiji",
    "Pacific/Apia",
]


def main() -> None:
    from flask_migrate import upgrade

    url = os.environ.get("BENCH_DATABASE_URL")
    tmp = tempfile.mkdtemp(prefix="bench_feed_")
    if url:
        url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url or f"sqlite:///{tmp}/bench.db", INSTANCE_DIR=tmp)
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
        kind_id = settings.kind_by_code("regional_webinar").id
        base = datetime(2024, 1, 1, 5, 0, tzinfo=UTC)
        now = datetime.now(UTC)
        rows = []
        for n in range(N_EVENTS):
            start = base + timedelta(days=n)
            rows.append(
                {
                    "uid": f"{uuid.uuid4()}@webinar-mgr",
                    "title": f"Regional webinar number {n}",
                    "summary": "A webinar of the working group. " * 5,
                    "objectives": ["One", "Two"],
                    "kind_id": kind_id,
                    "status": "held" if start < now else "scheduled",
                    "timezone": ZONES[n % len(ZONES)],
                    "starts_at": start,
                    "ends_at": start + timedelta(hours=2),
                    "priority_tags": [],
                    "audience": "open",
                    "requires_approval": False,
                    "attendance_threshold_minutes": 10,
                    "pdf_zones": [],
                    "sequence": n % 4,
                    "created_at": now,
                    "updated_at": now,
                    "venue": None,
                    "online_url": "https://meet.example.org/x",
                }
            )
        db.session.execute(sa.insert(Event), rows)
        ids = db.session.scalars(sa.select(Event.id, Event.starts_at).order_by(Event.id)).all()
        starts = dict(db.session.execute(sa.select(Event.id, Event.starts_at)).all())
        items = []
        for eid in ids:
            for k in range(3):
                items.append(
                    {
                        "event_id": eid,
                        "position": k,
                        "starts_at": starts[eid] + timedelta(minutes=30 * k),
                        "duration_minutes": 30,
                        "title": f"Agenda item {k + 1}",
                        "kind": "presentation",
                    }
                )
        db.session.execute(sa.insert(AgendaItem), items)
        db.session.commit()

    client = app.test_client()
    queries = {"n": 0}
    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", lambda *a, **k: queries.__setitem__("n", queries["n"] + 1))
    resp = client.get("/calendar.ics")  # warm-up (zone data, templates)
    assert resp.status_code == 200, resp.status_code
    size = len(resp.data)
    n_events = resp.data.count(b"BEGIN:VEVENT")
    dialect = "PostgreSQL" if url else "SQLite"
    print(f"/calendar.ics with {n_events} events ({dialect}, {size / 1024:.0f} KiB)")
    scenarios = (
        ("rebuilt from scratch (all caches cleared)", "all"),
        ("after one event changed (its VEVENT re-serialised)", "one"),
        ("unchanged data (served from cache)", "none"),
    )
    for label, mode in scenarios:
        times = []
        queries["n"] = 0
        for n in range(REQUESTS):
            with app.app_context():
                if mode == "all":
                    ics._feed_cache().clear()
                elif mode == "one":
                    db.session.execute(
                        sa.update(Event)
                        .where(Event.id == 1 + n)
                        .values(sequence=Event.sequence + 1, updated_at=datetime.now(UTC))
                    )
                    db.session.commit()
            t = time.perf_counter()
            r = client.get("/calendar.ics")
            times.append(time.perf_counter() - t)
            assert r.status_code == 200
        times.sort()
        p95 = times[min(len(times) - 1, int(round(0.95 * len(times))) - 1)]
        print(f"  {label}: ~{queries['n'] / REQUESTS:.0f} queries/request")
        print(f"    median over {REQUESTS} requests : {statistics.median(times) * 1000:8.1f} ms")
        print(f"    p95                        : {p95 * 1000:8.1f} ms")
        print(f"    min / max                  : {times[0] * 1000:8.1f} / {times[-1] * 1000:.1f} ms")


if __name__ == "__main__":
    main()
