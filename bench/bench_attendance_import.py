"""Bench: importing a 10,000-row Zoom webinar attendee report (2,500 people x 4 sessions)
for an event with 2,500 registrations.

Prints seconds for: parse only, parse+merge, parse+merge+match, and the full import
(parse+merge+match+save in one transaction), the best and median of a few runs, plus a
second full import (which replaces the first).

    .venv/bin/python bench/bench_attendance_import.py                 # SQLite (temporary file)
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/wm_attendance_bench \
        .venv/bin/python bench/bench_attendance_import.py

The database in BENCH_DATABASE_URL is wiped (public schema dropped) first.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa

from webinar_mgr import create_app
from webinar_mgr.attendance import parsers, services
from webinar_mgr.attendance.models import AttendanceRecord
from webinar_mgr.directory.models import Contact
from webinar_mgr.events.models import Event, EventKind
from webinar_mgr.extensions import db
from webinar_mgr.registrations.models import Registration

PEOPLE = 2500
SESSIONS = 4
TZ = "Asia/Bangkok"
START = datetime(2026, 5, 12, 13, 0, tzinfo=ZoneInfo(TZ))


def _url() -> str:
    url = os.environ.get("BENCH_DATABASE_URL")
    if url:
        return url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url
    return f"sqlite:///{tempfile.mkdtemp(prefix='bench_attendance_')}/bench.db"


def make_report() -> bytes:
    """A Zoom webinar attendee report: every person joins 4 times (two sessions overlap)."""
    fmt = "%m/%d/%Y %I:%M:%S %p"
    lines = [
        "\ufeffAttendee Report,",
        f"Report Generated:,{(START + timedelta(hours=3)).strftime(fmt)},",
        "Topic,Webinar ID,Actual Start Time,Actual Duration (minutes),# Registered,# Cancelled,Unique Viewers,"
        "Total Users,Max Concurrent Views,",
        f"Bench webinar,812 0000 0000,{START.strftime(fmt)},180,{PEOPLE},0,{PEOPLE},{PEOPLE * SESSIONS},{PEOPLE},",
        "Host Details,",
        "Attended,User Name (Original Name),Email,Join Time,Leave Time,"
        "Time in Session (minutes),Is Guest,Country/Region Name,",
        f"Yes,Bench Host,host@bench.example,{START.strftime(fmt)},"
        f"{(START + timedelta(hours=3)).strftime(fmt)},180,No,Thailand,",
        "Attendee Details,",
        "Attended,User Name (Original Name),First Name,Last Name,Email,Registration Time,Approval Status,Join Time,"
        "Leave Time,Time in Session (minutes),Is Guest,Country/Region Name,",
    ]
    rows = 0
    for i in range(PEOPLE):
        # Every 10th person has no email (matched by name); every 50th is not registered.
        email = "" if i % 10 == 0 else f"Person.{i}@Gov.Example"
        name = f"Participant Ñame {i}"
        for k in range(SESSIONS):
            join = START + timedelta(minutes=k * 40 + i % 7)
            leave = join + timedelta(minutes=30 + (15 if k == 1 else 0))  # session 2 overlaps session 3
            lines.append(
                f"Yes,{name},Participant,Ñame {i},{email},{(START - timedelta(days=9)).strftime(fmt)},approved,"
                f"{join.strftime(fmt)},{leave.strftime(fmt)},{int((leave - join).total_seconds() // 60)},Yes,Thailand,"
            )
            rows += 1
    assert rows == PEOPLE * SESSIONS
    return ("\n".join(lines) + "\n").encode("utf-8")


def setup(app) -> Event:
    from flask_migrate import upgrade

    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    upgrade()
    kind = EventKind(code="webinar", label="Regional webinar")
    event = Event(
        title="Bench webinar",
        kind=kind,
        timezone=TZ,
        starts_at=START.astimezone(UTC),
        ends_at=(START + timedelta(hours=3)).astimezone(UTC),
        status="held",
    )
    db.session.add(event)
    db.session.flush()
    now = datetime.now(UTC)
    contacts = [
        {
            "name": f"Participant Name {i}",
            "email": f"person.{i}@gov.example",
            "created_at": now,
            "updated_at": now,
            "focal_point": False,
        }
        for i in range(PEOPLE)
        if i % 50 != 1
    ]
    db.session.execute(sa.insert(Contact), contacts)
    ids = dict(db.session.execute(sa.select(Contact.email, Contact.id)).all())
    regs = [
        {
            "event_id": event.id,
            "contact_id": ids[c["email"]],
            "email": c["email"],
            "name": c["name"],
            "status": "confirmed",
            "timezone": TZ,
            "nonce": f"n{n}",
            "created_at": now,
            "updated_at": now,
        }
        for n, c in enumerate(contacts)
    ]
    db.session.execute(sa.insert(Registration), regs)
    # top up to 2,500 registrations with people who did not attend
    extra = PEOPLE - len(regs)
    more = [
        {
            "name": f"Absent {i}",
            "email": f"absent.{i}@gov.example",
            "created_at": now,
            "updated_at": now,
            "focal_point": False,
        }
        for i in range(extra)
    ]
    db.session.execute(sa.insert(Contact), more)
    ids = dict(db.session.execute(sa.select(Contact.email, Contact.id)).all())
    db.session.execute(
        sa.insert(Registration),
        [
            {
                "event_id": event.id,
                "contact_id": ids[c["email"]],
                "email": c["email"],
                "name": c["name"],
                "status": "confirmed",
                "timezone": TZ,
                "nonce": f"x{n}",
                "created_at": now,
                "updated_at": now,
            }
            for n, c in enumerate(more)
        ],
    )
    db.session.commit()
    return event


def timed(fn, runs=3):
    out = []
    result = None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        out.append(time.perf_counter() - t0)
    return min(out), statistics.median(out), result


def main() -> None:
    url = _url()
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url)
    with app.app_context(), app.test_request_context():
        event = setup(app)
        n_regs = db.session.scalar(sa.select(sa.func.count()).select_from(Registration))
        data = make_report()
        print(
            f"database: {db.engine.dialect.name}; report: {len(data) / 1_048_576:.2f} MB, "
            f"{PEOPLE * SESSIONS} attendee rows, {PEOPLE} people; registrations: {n_regs}"
        )
        ev_start, ev_end = event.starts_at, event.ends_at

        best, med, report = timed(lambda: parsers.parse_report(data, tz=TZ, event_start=ev_start, event_end=ev_end))
        print(f"parse only:                      best {best:.2f} s, median {med:.2f} s ({report.rows_read} rows)")
        best, med, people = timed(
            lambda: parsers.merge_people(
                parsers.parse_report(data, tz=TZ, event_start=ev_start, event_end=ev_end).sessions
            )
        )
        print(f"parse + merge:                   best {best:.2f} s, median {med:.2f} s ({len(people)} people)")
        best, med, preview = timed(lambda: services.analyse(event, data))
        s = preview.summary()
        print(
            f"parse + merge + match:           best {best:.2f} s, median {med:.2f} s "
            f"(matched {s['matched']}: email {s['matched_by_email']}, name {s['matched_by_name']}; "
            f"unmatched {s['unmatched']}; attended {s['attended']})"
        )
        best, med, _r = timed(lambda: services.import_file(event, "bench.csv", data, actor=None), runs=3)
        n = db.session.scalar(sa.select(sa.func.count()).select_from(AttendanceRecord))
        print(
            f"parse + merge + match + save:    best {best:.2f} s, median {med:.2f} s "
            f"({n} records saved; runs 2-3 replace the earlier import)"
        )


if __name__ == "__main__":
    main()
