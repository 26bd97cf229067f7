"""Bench: the co-chairs' statement for 200 held events (issue 17).

Prints, for the statement page, its DOCX and its PDF, the time per request (median of 3) and the
number of SQL statements, beside a floor measured in the same run: the period review (/review) for
the same period, whose figures the statement reads. Then the same with 20 events, to show the
statement's statement count does not grow with the number of events.

    .venv/bin/python bench/bench_statement.py                    # SQLite (temporary file)
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/wm_bench .venv/bin/python bench/bench_statement.py
    BENCH_REGISTRANTS=500 ...                                    # registrants per event (default 300)

The data is bench_review.py's (Core executemany, 18 member governments, half of them in the
Working Group since before the records); the database given is wiped first.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqlalchemy as sa
from bench_review import NOW, Dataset, _url, measure

from webinar_mgr import clock, create_app
from webinar_mgr.directory.models import Organisation, WorkingGroupMembership
from webinar_mgr.extensions import db
from webinar_mgr.registrations.models import Registration

REPEAT = 3


def main() -> None:
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=_url(), RATELIMIT_ENABLED=False)
    with app.app_context():
        from flask_migrate import upgrade

        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
        from webinar_mgr.auth import services as auth

        auth.create_user(
            email="cochair@bench.example", name="Co-chair", password="correct-horse-battery", roles=["cochair"]
        )
        db.session.commit()
        clock.freeze(NOW)
        data = Dataset(regs_per_event=int(os.environ.get("BENCH_REGISTRANTS", "300")))
        # Core inserts bypass the flag's listener: give the flagged members their membership.
        wg = db.session.scalars(sa.select(Organisation.id).where(Organisation.working_group_member)).all()
        db.session.execute(
            sa.insert(WorkingGroupMembership.__table__), [dict(organisation_id=i, created_at=NOW) for i in wg]
        )
        db.session.commit()
        client = app.test_client()
        client.post("/login", data={"email": "cochair@bench.example", "password": "correct-horse-battery"})
        period = "from=2018-01-01&to=2026-06-30"
        pages = [
            ("floor: period review", f"/review?{period}"),
            ("statement page", f"/review/statement?{period}"),
            ("statement DOCX", f"/review/statement.docx?{period}"),
            ("statement PDF", f"/review/statement.pdf?{period}"),
        ]
        print(f"database: {db.engine.dialect.name}; {data.regs_per_event} registrants per event; median of {REPEAT}")
        results: dict[str, dict[int, tuple[float, int]]] = {}
        for target in (20, 200):
            t0 = time.perf_counter()
            data.add_events(target - data.events)
            regs = db.session.scalar(sa.select(sa.func.count()).select_from(Registration))
            print(f"\n{target} events: {regs} registrations (inserted in {time.perf_counter() - t0:.1f} s)")
            for name, url in pages:
                seconds, queries = measure(client, url, REPEAT)
                results.setdefault(name, {})[target] = (seconds, queries)
                print(f"  {name:24s} {seconds * 1000:8.1f} ms/request  {queries:3d} SQL statements")
        print("\nSQL statements 20 -> 200 events:")
        for name, by in results.items():
            same = "same" if by[20][1] == by[200][1] else "DIFFERENT"
            print(f"  {name:24s} {by[20][1]:3d} -> {by[200][1]:3d}  ({same})")
        clock.unfreeze()
        db.session.remove()
        db.engine.dispose()


if __name__ == "__main__":
    main()
