"""Bench: importing a 10,000-row Zoom webinar attendee report (2,500 people x 4 sessions)
for an event with 2,500 registrations, then previewing a ~20 MB report for the same event.

Prints seconds for: parse only, parse+merge, parse+merge+match, and the full import
(parse+merge+match+plan+save in one transaction: the first run merges into an empty event, the
next ones replace it, since merging the same report again is refused as changing nothing), the
best and median of a few runs.

Then the preview of a ~20 MB report (issue 12, finding 10), as an organiser sees it over HTTP,
BEFORE (the view as it was: the stored file parsed again on every view, every person on one page,
rendered with the template of commit ef2cb10) and AFTER (the file parsed once at upload, the
parsed result reused, 100 people per page, the merge and replace effects computed), interleaved
in the same run (before, after, before, after...), median of PREVIEW_RUNS (default 3); then the
size of each page and the peak Python memory of one more view of each (tracemalloc).

    .venv/bin/python bench/bench_attendance_import.py                 # SQLite (temporary file)
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/wm_attendance_bench \
        .venv/bin/python bench/bench_attendance_import.py

The database in BENCH_DATABASE_URL is wiped (public schema dropped) first.
"""

from __future__ import annotations

import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa
from flask import render_template_string

from webinar_mgr import create_app
from webinar_mgr.attendance import parsers, services
from webinar_mgr.attendance.forms import PlainForm, ThresholdForm
from webinar_mgr.attendance.models import AttendanceRecord
from webinar_mgr.auth import services as auth
from webinar_mgr.core.models import PendingUpload
from webinar_mgr.directory.models import Contact
from webinar_mgr.events.models import Event, EventKind
from webinar_mgr.extensions import db
from webinar_mgr.registrations.models import Registration

PEOPLE = 2500
# The preview's report: people x 4 sessions, ~19.5 MB (the upload limit is 20 MiB).
BIG_PEOPLE = int(os.environ.get("BENCH_BIG_PEOPLE", "30000"))
PREVIEW_RUNS = int(os.environ.get("PREVIEW_RUNS", "3"))
SESSIONS = 4
TZ = "Asia/Bangkok"
START = datetime(2026, 5, 12, 13, 0, tzinfo=ZoneInfo(TZ))


def _url() -> str:
    url = os.environ.get("BENCH_DATABASE_URL")
    if url:
        return url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url
    return f"sqlite:///{tempfile.mkdtemp(prefix='bench_attendance_')}/bench.db"


def make_report(people: int = PEOPLE, shift: int = 0) -> bytes:
    """A Zoom webinar attendee report: every person joins 4 times (two sessions overlap); ``shift``
    moves every join and leave by that many minutes (another report of the same meeting)."""
    fmt = "%m/%d/%Y %I:%M:%S %p"
    lines = [
        "\ufeffAttendee Report,",
        f"Report Generated:,{(START + timedelta(hours=3)).strftime(fmt)},",
        "Topic,Webinar ID,Actual Start Time,Actual Duration (minutes),# Registered,# Cancelled,Unique Viewers,"
        "Total Users,Max Concurrent Views,",
        f"Bench webinar,812 0000 0000,{START.strftime(fmt)},180,{people},0,{people},{people * SESSIONS},{people},",
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
    for i in range(people):
        # Every 10th person has no email (matched by name); every 50th is not registered.
        email = "" if i % 10 == 0 else f"Person.{i}@Gov.Example"
        name = f"Participant Ñame {i}"
        for k in range(SESSIONS):
            join = START + timedelta(minutes=k * 40 + i % 7 + shift)
            leave = join + timedelta(minutes=30 + (15 if k == 1 else 0))  # session 2 overlaps session 3
            lines.append(
                f"Yes,{name},Participant,Ñame {i},{email},{(START - timedelta(days=9)).strftime(fmt)},approved,"
                f"{join.strftime(fmt)},{leave.strftime(fmt)},{int((leave - join).total_seconds() // 60)},Yes,Thailand,"
            )
            rows += 1
    assert rows == people * SESSIONS
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
    app.add_url_rule("/bench/old-preview/<int:event_id>/<upload_id>", view_func=_old_preview)
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
        modes = iter(["merge", "replace", "replace"])
        best, med, _r = timed(
            lambda: services.import_file(event, "bench.csv", data, mode=next(modes), actor=None), runs=3
        )
        n = db.session.scalar(sa.select(sa.func.count()).select_from(AttendanceRecord))
        print(
            f"parse + merge + match + save:    best {best:.2f} s, median {med:.2f} s "
            f"({n} records saved; run 1 merges into an empty event, runs 2-3 replace)"
        )
        preview_bench(app, event)


# The preview of a ~20 MB report, before and after ----------------------------------------------

# templates/attendance/preview.html as it was before the change (every person on one page), read
# from the repository's history.
OLD_COMMIT = "ef2cb10"


def old_template() -> str:
    root = Path(__file__).resolve().parent.parent
    return subprocess.run(
        ["git", "show", f"{OLD_COMMIT}:templates/attendance/preview.html"],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def _old_preview(event_id: int, upload_id: str):
    """The preview view before issue 12's finding 10: the stored file parsed, merged and matched
    again on every view, every person rendered on one page."""
    event = db.session.get(Event, event_id)
    upload = db.session.get(PendingUpload, upload_id)
    result = services.analyse(event, upload.content, (upload.meta or {}).get("tz"))
    return render_template_string(
        OLD_TEMPLATE["text"],
        event=event,
        pending=upload,
        preview=result,
        replaces=services.current_import(event),
        form=PlainForm(),
        threshold_form=ThresholdForm(minutes=event.attendance_threshold_minutes),
    )


OLD_TEMPLATE: dict[str, str] = {}


def preview_bench(app, event: Event) -> None:
    OLD_TEMPLATE["text"] = old_template()
    organiser = auth.create_user(
        email="organiser@bench.example", name="Bench organiser", password="correct-horse-battery", roles=["organiser"]
    )
    db.session.commit()
    client = app.test_client()
    assert (
        client.post("/login", data={"email": organiser.email, "password": "correct-horse-battery"}).status_code == 302
    )
    big = make_report(BIG_PEOPLE, shift=1)  # the first 2,500 are the people imported above
    t0 = time.perf_counter()
    resp = client.post(
        f"/events/{event.id}/attendance/import",
        data={"report": (io.BytesIO(big), "big.csv"), "timezone": TZ},
        content_type="multipart/form-data",
    )
    upload_s = time.perf_counter() - t0
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    after_url = resp.headers["Location"]
    upload_id = after_url.rstrip("/").rsplit("/", 1)[-1]
    before_url = f"/bench/old-preview/{event.id}/{upload_id}"
    print(
        f"\npreview of a {len(big) / 1_048_576:.1f} MB report ({BIG_PEOPLE * SESSIONS} rows, {BIG_PEOPLE} people; "
        f"the event has {PEOPLE} people imported): upload (parsed once, kept) {upload_s:.2f} s"
    )

    def view(url: str) -> tuple[float, int]:
        t = time.perf_counter()
        r = client.get(url)
        elapsed = time.perf_counter() - t
        assert r.status_code == 200, r.status_code
        return elapsed, len(r.data)

    before, after = [], []
    sizes = {}
    for _ in range(PREVIEW_RUNS):  # interleaved: before, after, before, after...
        t, sizes["before"] = view(before_url)
        before.append(t)
        t, sizes["after"] = view(after_url)
        after.append(t)
    t, sizes["after, page 2"] = view(after_url + "?page=2")
    for label, times in (("before", before), ("after", after)):
        print(
            f"preview view {label:6}: median {statistics.median(times):.2f} s, best {min(times):.2f} s "
            f"({', '.join(f'{x:.2f}' for x in times)}); page {sizes[label] / 1_048_576:.2f} MB"
        )
    print(f"preview view after, page 2: {t:.2f} s; page {sizes['after, page 2'] / 1_048_576:.2f} MB")
    for label, url in (("before", before_url), ("after", after_url)):
        tracemalloc.start()
        view(url)
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"peak Python memory of one view, {label:6}: {peak / 1_048_576:.0f} MB (tracemalloc)")
    t0 = time.perf_counter()
    resp = client.post(after_url + "/confirm")
    print(f"confirm (merge, from the parsed result): {time.perf_counter() - t0:.2f} s -> {resp.status_code}")


if __name__ == "__main__":
    main()
