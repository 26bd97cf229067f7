"""`make bench`: issue 19's figures, each beside a floor measured in the same run (bench/harness.py).

Two modes:

- Quick (default, `make bench`): a throw-away SQLite database, the app in-process through Flask's
  test client in the "testing" configuration (CSRF and the public forms' rate limit off, no
  gunicorn). Ratios only; the absolute figures are not what a browser sees.
- PostgreSQL with the production settings (`make bench-pg`, or BENCH_DATABASE_URL=postgresql://...
  make bench; the database given is WIPED: public schema dropped first): the data is built
  in-process, then the app is served by gunicorn as docs/deployment.md starts it (3 sync workers,
  --timeout 120, access log) in the "production" configuration (CSRF on, secure cookies, rate
  limits on with PUBLIC_FORM_RATE_LIMIT raised for the load) and every page figure is timed over
  HTTP, its floor served by the same gunicorn settings (bench/floor_app.py); see bench/pg_mode.py.

    .venv/bin/python bench/run.py [--only NAME] [--seconds S]

The data is the issue's: a registration event (32 clients in the PostgreSQL mode), an agenda of
20 items, 200 registrations of one person, 200 events x 500 registrants over four years (the
review of the whole period; the activity report of one year, 52 events), a public feed of 1,000
events, 5,000 invitees and 300 mails.
"""

from __future__ import annotations

import argparse
import gc
import os
import secrets
import socket
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa
from flask import Flask

from bench.harness import Figure, measure, seconds, summary
from tests.support import QueryCounter
from webinar_mgr import create_app
from webinar_mgr.directory.models import Contact
from webinar_mgr.events import settings
from webinar_mgr.events.models import AgendaItem, Event
from webinar_mgr.extensions import db
from webinar_mgr.registrations.models import Registration

NOW = datetime.now(UTC)
PASSWORD = "correct-horse-battery"
# The review's data (bench/bench_review.py's Dataset): 200 weekly events, Dec 2018 - Aug 2022.
WHOLE_PERIOD = "from=2018-01-01&to=2022-12-31"
ONE_YEAR = "from=2020-01-01&to=2020-12-31"
FEED_EVENTS = 1000


class Bench:
    """The run's settings and the data built for it (ids the figures need)."""

    def __init__(self, url: str | None, mail_port: int, only: str, seconds: float):
        self.pg = bool(url)
        self.url = url  # postgresql://... as given (gunicorn's DATABASE_URL)
        self.only = only
        self.seconds = seconds
        self.mail_port = mail_port
        self.tmp = tempfile.mkdtemp(prefix="bench_run_")
        self.secret = secrets.token_urlsafe(48)
        self.base_url = "https://events.bench.example"
        self.sqlalchemy_url = (
            url.replace("postgresql://", "postgresql+psycopg://", 1) if url else f"sqlite:///{self.tmp}/bench.db"
        )
        # In-process: the data, the query counts and (in the quick mode) every figure. The worker's
        # jobs (invitations, delivery) run in-process in both modes, in the PostgreSQL mode with the
        # production configuration as `flask worker` runs them.
        self.app = create_app(
            "testing",
            SQLALCHEMY_DATABASE_URI=self.sqlalchemy_url,
            INSTANCE_DIR=self.tmp,
            BASE_URL=self.base_url,
            MAIL_SERVER="127.0.0.1",
            MAIL_PORT=mail_port,
        )
        self.worker_app = (
            create_app(
                "production",
                SQLALCHEMY_DATABASE_URI=self.sqlalchemy_url,
                SECRET_KEY=self.secret,
                BASE_URL=self.base_url,
                INSTANCE_DIR=self.tmp,
                MAIL_SERVER="127.0.0.1",
                MAIL_PORT=mail_port,
            )
            if self.pg
            else self.app
        )
        self.ids: dict = {}

    def wanted(self, name: str) -> bool:
        return not self.only or self.only == name


def event_rows(n: int, start: datetime, *, step=timedelta(days=1), title="Regional webinar number"):
    kind_id = settings.kind_by_code("regional_webinar").id
    rows = []
    for i in range(n):
        s = start + i * step
        rows.append(
            {
                "uid": f"{uuid.uuid4()}@webinar-mgr",
                "title": f"{title} {i}",
                "summary": "A webinar of the working group. " * 5,
                "objectives": ["One", "Two"],
                "kind_id": kind_id,
                "status": "held" if s < NOW else "scheduled",
                "timezone": "Asia/Bangkok",
                "starts_at": s,
                "ends_at": s + timedelta(hours=2),
                "priority_tags": [],
                "audience": "open",
                "requires_approval": False,
                "attendance_threshold_minutes": 10,
                "pdf_zones": [],
                "sequence": 0,
                "created_at": NOW,
                "updated_at": NOW,
                "online_url": "https://meet.example.org/x",
            }
        )
    db.session.execute(sa.insert(Event), rows)
    db.session.commit()
    return db.session.scalars(sa.select(Event.id).where(Event.title.like(f"{title} %")).order_by(Event.id)).all()


def get(client, url: str) -> float:
    def go():
        r = client.get(url)
        assert r.status_code == 200, (url, r.status_code)

    return seconds(go)


def login(app, email: str):
    client = app.test_client()
    r = client.post("/login", data={"email": email, "password": PASSWORD})
    assert r.status_code == 302, r.status_code
    return client


# The data (both modes) ---------------------------------------------------------------------------


def setup_registrations(b: Bench) -> None:
    (b.ids["register"],) = event_rows(1, NOW + timedelta(days=30), title="Throughput")
    with db.engine.begin() as conn:
        pk = "serial primary key" if conn.dialect.name == "postgresql" else "integer primary key"
        conn.execute(sa.text(f"CREATE TABLE IF NOT EXISTS bench_floor (id {pk}, email varchar(254))"))


def setup_agenda(b: Bench) -> None:
    start = NOW + timedelta(days=40)
    (event_id,) = event_rows(1, start, title="Agenda PDF")
    db.session.execute(
        sa.insert(AgendaItem),
        [
            {
                "event_id": event_id,
                "position": k,
                "starts_at": start + timedelta(minutes=20 * k),
                "duration_minutes": 20,
                "title": f"Presentation {k + 1}: การค้ามนุษย์ / buôn bán người / 人口贩运",
                "kind": "presentation",
            }
            for k in range(20)
        ],
    )
    db.session.commit()
    b.ids["agenda"] = event_id


def setup_mine(b: Bench) -> None:
    from webinar_mgr.auth import services as auth  # import here: only this figure needs a user

    user = auth.create_user(email="bench-ana@example.org", name="Ana", password=PASSWORD, roles=["participant"])
    contact = Contact(email="bench-ana@example.org", name="Ana")
    db.session.add(contact)
    db.session.commit()
    ids = event_rows(200, NOW - timedelta(days=100), title="Mine webinar")
    db.session.execute(
        sa.insert(Registration),
        [
            {
                "event_id": eid,
                "contact_id": contact.id,
                "email": "bench-ana@example.org",
                "name": "Ana",
                "user_id": user.id,
                "status": "confirmed",
                "nonce": uuid.uuid4().hex,
                "timezone": "Asia/Manila",
                "created_at": NOW,
                "updated_at": NOW,
            }
            for eid in ids
        ],
    )
    db.session.commit()


def setup_review(b: Bench) -> None:
    """bench/bench_review.py's data: 200 weekly events of 500 registrants (with invitations,
    attendance and commitments), Dec 2018 - Aug 2022."""
    from bench.bench_review import Dataset
    from webinar_mgr.auth import services as auth

    Dataset(regs_per_event=500).add_events(200)
    auth.create_user(email="bench-cochair@example.org", name="Co-chair", password=PASSWORD, roles=["cochair"])
    db.session.commit()
    in_year = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Event)
        .where(Event.starts_at >= datetime(2020, 1, 1, tzinfo=UTC), Event.starts_at < datetime(2021, 1, 1, tzinfo=UTC))
    )
    b.ids["year_events"] = in_year


def setup_calendar(b: Bench) -> None:
    """Fill the public feed up to 1,000 events (the other figures' events are in it too)."""
    client = b.app.test_client()
    r = client.get("/calendar.ics")
    have = r.get_data().count(b"BEGIN:VEVENT")
    ids = event_rows(max(0, FEED_EVENTS - have), datetime(2024, 1, 1, 5, tzinfo=UTC), title="Feed webinar")
    db.session.execute(
        sa.insert(AgendaItem),
        [
            {
                "event_id": eid,
                "position": 0,
                "starts_at": datetime(2024, 1, 1, 5, tzinfo=UTC),
                "duration_minutes": 30,
                "title": "Opening",
                "kind": "presentation",
            }
            for eid in ids
        ],
    )
    db.session.commit()
    b.ids["feed_events"] = b.app.test_client().get("/calendar.ics").get_data().count(b"BEGIN:VEVENT")


def setup_invitations(b: Bench) -> None:
    n = 5000
    db.session.execute(
        sa.insert(Contact),
        [
            {"name": f"Invitee {i}", "email": f"invitee{i}@example.org", "created_at": NOW, "updated_at": NOW}
            for i in range(n)
        ],
    )
    db.session.commit()
    b.ids["invitees"] = db.session.scalars(sa.select(Contact.id).where(Contact.email.like("invitee%"))).all()


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database named in ``url`` when it does not exist yet."""
    server, _, name = url.rpartition("/")
    engine = sa.create_engine(
        server.replace("postgresql://", "postgresql+psycopg://", 1) + "/postgres", isolation_level="AUTOCOMMIT"
    )
    with engine.connect() as conn:
        if not conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()


def build(b: Bench) -> None:
    from flask_migrate import upgrade

    t0 = time.perf_counter()
    with b.app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
        steps = [
            ("review", setup_review),  # first: its Dataset takes every contact and organisation as its own
            ("registrations", setup_registrations),
            ("agenda", setup_agenda),
            ("mine", setup_mine),
            ("invitations", setup_invitations),
            ("calendar", setup_calendar),  # last: it fills the feed up to 1,000 events
        ]
        for name, fn in steps:
            if b.wanted(name):
                fn(b)
        db.session.remove()
        # Statistics, as a production database has them: autovacuum (off on the bench machine's
        # server) would analyse the freshly loaded tables; without them PostgreSQL plans the
        # review's joins as nested loops over 100,000 rows.
        with db.engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))
        db.engine.dispose()
    print(f"data built in {time.perf_counter() - t0:.0f} s", flush=True)


# The quick mode's figures (in-process, SQLite) -----------------------------------------------------


def quick_registrations(b: Bench, healthz) -> None:
    """Registrations per second from one client (SQLite has one writer) through the test client,
    against a bare Flask view inserting one row in the same database."""
    app, event_id = b.app, b.ids["register"]
    floor_app = Flask("floor")
    engine = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"])

    @floor_app.post("/insert")
    def insert():
        with engine.begin() as conn:
            conn.execute(
                sa.text("INSERT INTO bench_floor (email) VALUES (:e)"),
                {"e": __import__("flask").request.form.get("email", "")},
            )
        return "", 302, {"Location": "/done"}

    floor_client = floor_app.test_client()
    n_posts = 120
    counter = {"n": 0}

    def one(post):
        counter["n"] += 1
        k = counter["n"]
        form = {
            "name": f"Bench person {k}",
            "email": f"bench{k}-{uuid.uuid4().hex[:6]}@example.org",
            "timezone": "Asia/Bangkok",
            "consent": "y",
            "organisation_name": "Migrant Care Network",
            "sector": "civil_society",
        }
        r = post(form)
        assert r.status_code == 302, (r.status_code, r.get_data(as_text=True)[:300])

    def rate(post_fn):
        def run():
            with ThreadPoolExecutor(1) as pool:
                t = seconds(lambda: list(pool.map(lambda _: one(post_fn), range(n_posts))))
            return n_posts / t

        return run

    measure(
        Figure("registrations/s, 1 client (test client, CSRF off)", "/s", ">= 0.5 x floor"),
        # a new client per post: one client's session would pile up the confirmation flashes
        rate(lambda form: app.test_client().post(f"/events/{event_id}/register", data=form)),
        rate(lambda form: floor_client.post("/insert", data=form)),
    )
    engine.dispose()


def _paragraph_pdf() -> float:
    from weasyprint import HTML

    from bench.floor_app import PARAGRAPH

    return seconds(lambda: HTML(string=PARAGRAPH).write_pdf())


def clear_stored_pdfs(app) -> None:
    """Make the next PDF "cold": the stored renderings (agenda PDFs, activity reports) deleted."""
    with app.app_context():
        names = set(sa.inspect(db.engine).get_table_names())
        with db.engine.begin() as conn:
            for table in ("rendered_pdfs", "rendered_reports"):
                if table in names:
                    conn.execute(sa.text(f"DELETE FROM {table}"))


def quick_agenda(b: Bench) -> None:
    from webinar_mgr.events import pdf

    app = b.app
    with app.app_context(), app.test_request_context():
        event = db.session.get(Event, b.ids["agenda"])

        def cold():
            clear_stored_pdfs(app)
            db.session.expire_all()
            return seconds(lambda: pdf.agenda_pdf(event))

        measure(
            Figure("agenda PDF, 20 items, cold (warm process)", "ms", "<= 3 x floor"),
            cold,
            _paragraph_pdf,
        )
        measure(
            Figure("agenda PDF, 20 items, stored", "ms", "<= 3 x floor"),
            lambda: seconds(lambda: pdf.agenda_pdf(event)),
            _paragraph_pdf,
        )


def quick_calendar(b: Bench, client, healthz) -> None:
    from webinar_mgr.events import ics

    def cold():
        # what a new process would not have: the feed's cache and events.ics's lru_caches
        with b.app.app_context():
            cache = getattr(ics, "_feed_cache", None)
            if cache is not None:
                cache().clear()
        for value in vars(ics).values():
            if type(value).__name__ == "_lru_cache_wrapper":
                value.cache_clear()
        return get(client, "/calendar.ics")

    n = b.ids["feed_events"]
    measure(
        Figure(f"/calendar.ics, {n:,} events, process cache cleared", "ms", "<= 150 ms"),
        cold,
        healthz,
    )
    measure(
        Figure(f"/calendar.ics, {n:,} events, warm", "ms", "<= 150 ms"),
        lambda: get(client, "/calendar.ics"),
        healthz,
    )


def mine_query_count(b: Bench) -> None:
    client = login(b.app, "bench-ana@example.org")
    counts = []
    with b.app.app_context():
        client.get("/registrations/mine")
        for _ in range(3):
            with QueryCounter(db.engine) as q:
                client.get("/registrations/mine")
            counts.append(q.count)
        db.engine.dispose()
    print(f"{'My registrations, 200 registrations: SQL statements':<58} {statistics.median(counts):>12.0f}", flush=True)


def quick_mine(b: Bench, healthz) -> None:
    client = login(b.app, "bench-ana@example.org")
    measure(
        # issue 19's goal here is a constant number of queries (tests/test_query_counts.py); no time goal
        Figure("My registrations, 200 registrations", "ms", "- (queries constant: tests)"),
        lambda: get(client, "/registrations/mine"),
        healthz,
    )
    mine_query_count(b)


def quick_review(b: Bench, healthz) -> None:
    c = login(b.app, "bench-cochair@example.org")
    measure(
        Figure("review, 200 events x 500, whole period", "ms", "<= 300 ms"),
        lambda: get(c, f"/review?{WHOLE_PERIOD}"),
        healthz,
    )

    def report():
        clear_stored_pdfs(b.app)
        return get(c, f"/review/activity-report.pdf?{ONE_YEAR}")

    measure(
        Figure(
            f"activity report PDF, one year ({b.ids['year_events']} events x 500), cold",
            "ms",
            "<= 1 s",
        ),
        report,
        healthz,
    )


# The worker's jobs (both modes, in-process) ---------------------------------------------------------


def bench_invitations_and_mail(b: Bench) -> None:
    """Queuing 5,000 invitations (the worker's job: render and insert into the outbox) against a
    bulk insert of 5,000 outbox rows; delivering 300 queued mails by one worker to a local SMTP sink
    against raw smtplib sending 300 messages to the same sink over one connection."""
    import smtplib  # import here: only this figure sends mail
    from email.message import EmailMessage

    from webinar_mgr.invitations import services as invitations
    from webinar_mgr.mail import services as mail
    from webinar_mgr.mail.models import OutboxMessage

    app, contact_ids, mail_port = b.worker_app, b.ids["invitees"], b.mail_port
    n = len(contact_ids)

    def queue():
        with app.app_context(), app.test_request_context():
            (event_id,) = event_rows(1, NOW + timedelta(days=30), title=f"Invitations {uuid.uuid4().hex[:8]}")
            invitations.add_contacts(event_id, contact_ids, "member", actor=None)
            invitations.request_send(event_id, actor=None, rest=True)
            return seconds(invitations.send_requested)

    def bulk():
        rows = [
            {
                "to_addr": f"invitee{i}@example.org",
                "subject": "Invitation",
                "body_text": "Dear colleague, " * 40,
                "status": "queued",
                "attempts": 0,
                "category": "bench",
                "created_at": NOW,
                "next_attempt_at": NOW + timedelta(days=3650),  # never due: the delivery figure skips them
            }
            for i in range(n)
        ]
        with app.app_context():
            # the rows stay (never due): deleting them makes PostgreSQL check every invitation's
            # reference to the outbox, minutes with the review's 80,000 invitations
            return seconds(lambda: (db.session.execute(sa.insert(OutboxMessage), rows), db.session.commit()))

    measure(
        Figure(
            f"{n:,} invitations queued (worker job)",
            "ms",
            "<= 3 s and <= 5 x floor",
        ),
        queue,
        bulk,
        warm=False,  # 15-20 s a run; the templates are compiled by the first batch anyway
    )

    def deliverer(k: int):
        def deliver():
            with app.app_context(), app.test_request_context():

                def go():
                    sent = 0
                    while sent < k:
                        counts = mail.deliver_due(min(200, k - sent))
                        sent += counts["sent"]
                        assert any(counts.values()), counts

                return k / seconds(go)

        return deliver

    def raw_smtplib(k: int):
        def raw():
            msg = EmailMessage()
            msg["From"], msg["To"], msg["Subject"] = "bench@example.org", "invitee@example.org", "Invitation"
            msg.set_content("Dear colleague, " * 40)

            def go():
                with smtplib.SMTP("127.0.0.1", mail_port) as smtp:
                    for _ in range(k):
                        smtp.send_message(msg)

            return k / seconds(go)

        return raw

    # Two kinds of mail wait in the outbox after a full run: the invitations just queued (written
    # in bulk by their job) and the registration figure's confirmations, which the worker writes
    # just before sending them (mail.deferred). Each is its own figure: the confirmations are set
    # aside (not due) while the invitations are sent, then sent alone.
    written_by_worker = (OutboxMessage.status == "queued") & OutboxMessage.render_kind.is_not(None)
    with app.app_context():
        aside = db.session.scalars(sa.select(OutboxMessage.id).where(written_by_worker)).all()
        if aside:
            db.session.execute(
                sa.update(OutboxMessage)
                .where(OutboxMessage.id.in_(aside))
                .values(next_attempt_at=NOW + timedelta(days=3650))
            )
            db.session.commit()
    measure(
        Figure("mail delivery, one worker, 300 mails", "/s", ">= 0.5 x floor"),
        deliverer(300),
        raw_smtplib(300),
    )
    k = 100
    if len(aside) >= 4 * k:  # the warm-up and three runs
        with app.app_context():
            db.session.execute(
                sa.update(OutboxMessage)
                .where(OutboxMessage.id.in_(aside))
                .values(next_attempt_at=NOW - timedelta(days=1))
            )
            db.session.commit()
        measure(
            Figure(
                f"mail delivery, {k} registration confirmations written by the worker (calendar entry)",
                "/s",
                ">= 0.5 x floor",
            ),
            deliverer(k),
            raw_smtplib(k),
        )


# Running ----------------------------------------------------------------------------------------


def machine(b: Bench) -> str:
    from importlib.metadata import version

    cpu = "?"
    try:
        for row in Path("/proc/cpuinfo").read_text().splitlines():
            if row.startswith("model name"):
                cpu = row.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    db_name = "SQLite " + __import__("sqlite3").sqlite_version
    if b.pg:
        with b.app.app_context():
            db_name = db.session.scalar(sa.text("SHOW server_version")).split()[0]
            db_name = f"PostgreSQL {db_name}"
            db.engine.dispose()
    return f"{os.cpu_count()} CPUs ({cpu}), Python {sys.version.split()[0]}, {db_name}, " + ", ".join(
        f"{name} {version(name)}" for name in ("Flask", "SQLAlchemy", "gunicorn", "psycopg", "WeasyPrint", "icalendar")
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="", help="registrations|agenda|calendar|mine|review|invitations")
    ap.add_argument("--seconds", type=float, default=8.0, help="length of each registration load run (PostgreSQL)")
    args = ap.parse_args()
    import logging

    from aiosmtpd.controller import Controller

    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's connection lines

    class Sink:
        async def handle_DATA(self, server, session, envelope):
            return "250 OK"

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        mail_port = sock.getsockname()[1]
    smtp = Controller(Sink(), hostname="127.0.0.1", port=mail_port)
    smtp.start()
    url = os.environ.get("BENCH_DATABASE_URL") or None
    if url and url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url:
        ensure_database(url)
    b = Bench(url, mail_port, args.only, args.seconds)
    started = datetime.now(UTC)
    mode = "PostgreSQL, gunicorn, production settings" if b.pg else "quick: SQLite, in-process test client"
    print(f"issue 19 bench ({mode}), {started:%Y-%m-%d %H:%M} UTC", flush=True)
    try:
        build(b)
        print(machine(b), flush=True)
        if b.pg:
            from bench import pg_mode

            pg_mode.run(b)
        else:
            client = b.app.test_client()

            def healthz():
                return get(client, "/healthz")

            groups = {
                "registrations": lambda: quick_registrations(b, healthz),
                "agenda": lambda: quick_agenda(b),
                "calendar": lambda: quick_calendar(b, client, healthz),
                "mine": lambda: quick_mine(b, healthz),
                "review": lambda: quick_review(b, healthz),
            }
            for name, fn in groups.items():
                if b.wanted(name):
                    fn()
        if b.wanted("invitations"):
            # The worker's figures run in this process, which built the data (100,000 rows of the
            # review's dataset went through it) and ran the other figures: its objects are frozen
            # out of the collector, as a production worker's start-up objects are (pdfs.warm_up),
            # so that full collections over them are not timed as the worker's.
            gc.collect()
            gc.freeze()
            bench_invitations_and_mail(b)
    finally:
        smtp.stop()
    print(f"took {(datetime.now(UTC) - started).total_seconds() / 60:.1f} minutes")
    summary()


if __name__ == "__main__":
    main()
