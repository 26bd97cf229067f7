"""`make bench`: issue 19's figures, each beside a floor measured in the same run (bench/harness.py).

Quick mode (default): a throw-away SQLite database, the app in-process through Flask's test client.
PostgreSQL mode: BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/webinar_bench (the
database given is WIPED: public schema dropped first).

    .venv/bin/python bench/run.py [--only NAME]

Both modes use the "testing" configuration (CSRF and the public forms' rate limit off, so the
registration figure measures the write path, not the limiter). The other scripts in bench/ measure
single areas in more detail (gunicorn, the race for seats, the worker).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa
from flask import Flask

from bench.harness import Figure, measure, seconds, summary
from tests.support import QueryCounter
from webinar_mgr import create_app
from webinar_mgr.directory.models import Contact, Organisation
from webinar_mgr.events import ics, pdf, settings
from webinar_mgr.events.models import AgendaItem, Event, RenderedPdf
from webinar_mgr.extensions import db
from webinar_mgr.registrations.models import Registration

NOW = datetime.now(UTC)


def make_app(mail_port: int = 25):
    url = os.environ.get("BENCH_DATABASE_URL")
    tmp = tempfile.mkdtemp(prefix="bench_run_")
    if url:
        url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    app = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=url or f"sqlite:///{tmp}/bench.db",
        INSTANCE_DIR=tmp,
        BASE_URL="http://localhost",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=mail_port,
    )
    return app, ("PostgreSQL" if url else "SQLite")


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


# The figures ------------------------------------------------------------------------------------


def bench_registrations(app, client, healthz):
    """Registrations per second, a thread pool of clients (8 on PostgreSQL, 1 on SQLite), against
    a bare Flask view inserting one row in the same database."""
    with app.app_context():
        start = NOW + timedelta(days=30)
        (event_id,) = event_rows(1, start, title="Throughput")
        clients = 8 if db.engine.dialect.name == "postgresql" else 1
        with db.engine.begin() as conn:
            pk = "serial primary key" if conn.dialect.name == "postgresql" else "integer primary key"
            conn.execute(sa.text(f"CREATE TABLE IF NOT EXISTS bench_floor (id {pk}, email varchar(254))"))
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
    # SQLite has one writer: concurrent registrations there end in "busy" refusals (409), so the
    # quick mode posts from one client; PostgreSQL gets a pool of 8.
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
            with ThreadPoolExecutor(clients) as pool:
                t = seconds(lambda: list(pool.map(lambda _: one(post_fn), range(n_posts))))
            return n_posts / t

        return run

    measure(
        Figure(
            f"registrations/s, {clients} clients (test client)",
            "/s",
            goal=">= 0.5 x floor",
            check=lambda v, f: v >= 0.5 * f,
        ),
        # a new client per post: one client's session would pile up the confirmation flashes
        rate(lambda form: app.test_client().post(f"/events/{event_id}/register", data=form)),
        rate(lambda form: floor_client.post("/insert", data=form)),
    )
    engine.dispose()


def bench_agenda_pdf(app):
    """The agenda PDF of 20 items, cold (stored PDF deleted) and warm (stored), against one paragraph
    in the same fonts."""
    from weasyprint import HTML

    with app.app_context(), app.test_request_context():
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
        event = db.session.get(Event, event_id)
        paragraph = (
            "<html><head><style>body{font-family:'Noto Sans','Noto Sans Thai','Noto Sans CJK SC'}</style></head>"
            "<body><p>One paragraph: การค้ามนุษย์ buôn bán người 人口贩运</p></body></html>"
        )

        def floor():
            return seconds(lambda: HTML(string=paragraph).write_pdf())

        def cold():
            db.session.execute(sa.delete(RenderedPdf))
            db.session.commit()
            return seconds(lambda: pdf.agenda_pdf(event))

        measure(
            Figure("agenda PDF, 20 items, cold (same process)", "ms", "<= 3 x floor", lambda v, f: v <= 3 * f),
            cold,
            floor,
        )
        measure(
            Figure("agenda PDF, 20 items, warm (stored)", "ms", "<= 3 x floor", lambda v, f: v <= 3 * f),
            lambda: seconds(lambda: pdf.agenda_pdf(event)),
            floor,
        )


def bench_calendar(app, client, healthz):
    with app.app_context():
        ids = event_rows(1000, datetime(2024, 1, 1, 5, tzinfo=UTC), title="Feed webinar")
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

    def cold():
        with app.app_context():
            ics._feed_cache().clear()
        return get(client, "/calendar.ics")

    measure(
        Figure("/calendar.ics, 1,000 events, cache cleared", "ms", "<= 150 ms", lambda v, f: v <= 0.150),
        cold,
        healthz,
    )
    measure(
        Figure("/calendar.ics, 1,000 events, cached", "ms", "<= 150 ms", lambda v, f: v <= 0.150),
        lambda: get(client, "/calendar.ics"),
        healthz,
    )


def bench_my_registrations(app, healthz):
    with app.app_context():
        from webinar_mgr.auth import services as auth  # import here: only this figure needs a user

        user = auth.create_user(
            email="bench-ana@example.org", name="Ana", password="correct-horse-battery", roles=["participant"]
        )
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
    client = app.test_client()
    r = client.post("/login", data={"email": "bench-ana@example.org", "password": "correct-horse-battery"})
    assert r.status_code == 302
    measure(
        # issue 19's goal here is a constant number of queries (tests/test_query_counts.py); no time goal
        Figure("My registrations, 200 registrations", "ms", "- (queries constant: tests)"),
        lambda: get(client, "/registrations/mine"),
        healthz,
    )
    counts = []
    with app.app_context():
        for _ in range(3):
            with QueryCounter(db.engine) as q:
                client.get("/registrations/mine")
            counts.append(q.count)
    print(f"{'My registrations, 200 registrations: SQL statements':<58} {statistics.median(counts):>12.0f}")


def bench_review_and_report(app, client, healthz):
    """The review for one year with 200 events x 50 registrants; the activity report PDF of a year."""
    with app.app_context():
        orgs = [Organisation(name=f"Member government {k}", sector="member_government") for k in range(45)]
        db.session.add_all(orgs)
        db.session.commit()
        org_ids = [o.id for o in orgs]
        ids = event_rows(200, datetime(2025, 1, 2, 5, tzinfo=UTC), step=timedelta(hours=43), title="Review webinar")
        db.session.execute(
            sa.insert(Contact),
            [
                {"email": f"rv{k}@example.org", "name": f"Person {k}", "created_at": NOW, "updated_at": NOW}
                for k in range(2000)
            ],
        )
        db.session.commit()
        cids = db.session.scalars(sa.select(Contact.id).where(Contact.email.like("rv%"))).all()
        regs = []
        for n, eid in enumerate(ids):
            for k in range(50):
                c = cids[(n * 37 + k) % len(cids)]
                regs.append(
                    {
                        "event_id": eid,
                        "contact_id": c,
                        "email": f"rv{c}-{n}@example.org",
                        "name": f"Person {k}",
                        "status": "confirmed",
                        "sector": "member_government",
                        "member_government_id": org_ids[k % 45],
                        "organisation_id": org_ids[k % 45],
                        "nonce": uuid.uuid4().hex,
                        "timezone": "UTC",
                        "created_at": NOW,
                        "updated_at": NOW,
                    }
                )
        db.session.execute(sa.insert(Registration), regs)
        db.session.commit()
        from webinar_mgr.auth import services as auth  # import here: as above

        auth.create_user(
            email="bench-cochair@example.org", name="Co-chair", password="correct-horse-battery", roles=["cochair"]
        )
        db.session.commit()
    c = app.test_client()
    assert (
        c.post("/login", data={"email": "bench-cochair@example.org", "password": "correct-horse-battery"}).status_code
        == 302
    )
    period = f"from={date(2025, 1, 1)}&to={date(2025, 12, 31)}"
    measure(
        Figure("review, 200 events x 50 registrants, one year", "ms", "<= 300 ms", lambda v, f: v <= 0.300),
        lambda: get(c, f"/review?{period}"),
        healthz,
    )
    measure(
        Figure("activity report PDF, one year (200 events x 50)", "ms", "<= 1 s", lambda v, f: v <= 1.0),
        lambda: get(c, f"/review/activity-report.pdf?{period}"),
        healthz,
    )


def bench_invitations_and_mail(app, mail_port):
    """Queuing 5,000 invitations (the worker's job: render and insert into the outbox) against a
    bulk insert of 5,000 outbox rows; delivering 300 queued mails by one worker to a local SMTP sink
    against raw smtplib sending 300 messages to the same sink over one connection."""
    import smtplib  # import here: only this figure sends mail
    from email.message import EmailMessage

    from webinar_mgr.invitations import services as invitations
    from webinar_mgr.mail import services as mail
    from webinar_mgr.mail.models import OutboxMessage

    n = 5000
    with app.app_context():
        db.session.execute(
            sa.insert(Contact),
            [
                {"name": f"Invitee {i}", "email": f"invitee{i}@example.org", "created_at": NOW, "updated_at": NOW}
                for i in range(n)
            ],
        )
        db.session.commit()
        contact_ids = db.session.scalars(sa.select(Contact.id).where(Contact.email.like("invitee%"))).all()

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
                "created_at": NOW,
                "next_attempt_at": NOW,
            }
            for i in range(n)
        ]
        with app.app_context():
            t = seconds(lambda: (db.session.execute(sa.insert(OutboxMessage), rows), db.session.commit()))
            db.session.execute(sa.delete(OutboxMessage).where(OutboxMessage.category == "bench"))
            db.session.commit()
            return t

    measure(
        Figure(
            "5,000 invitations queued (worker job)",
            "ms",
            "<= 3 s and <= 5 x floor",
            lambda v, f: v <= 3.0 and v <= 5 * f,
        ),
        queue,
        bulk,
        warm=False,  # 20 s a run on SQLite; the templates are compiled by the first 500 mails anyway
    )

    k = 300

    def deliver():
        with app.app_context(), app.test_request_context():

            def go():
                sent = 0
                while sent < k:
                    counts = mail.deliver_due(min(200, k - sent))
                    sent += counts["sent"]
                    assert any(counts.values()), counts

            return k / seconds(go)

    def raw():
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "bench@example.org", "invitee@example.org", "Invitation"
        msg.set_content("Dear colleague, " * 40)

        def go():
            with smtplib.SMTP("127.0.0.1", mail_port) as smtp:
                for _ in range(k):
                    smtp.send_message(msg)

        return k / seconds(go)

    measure(
        Figure("mail delivery, one worker, 300 mails", "/s", ">= 0.5 x floor", lambda v, f: v >= 0.5 * f),
        deliver,
        raw,
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    from aiosmtpd.controller import Controller
    from flask_migrate import upgrade

    class Sink:
        async def handle_DATA(self, server, session, envelope):
            return "250 OK"

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        mail_port = sock.getsockname()[1]
    smtp = Controller(Sink(), hostname="127.0.0.1", port=mail_port)
    smtp.start()
    app, dialect = make_app(mail_port)
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
    print(f"issue 19 bench: {dialect}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    client = app.test_client()

    def healthz():
        return get(client, "/healthz")

    benches = {
        "registrations": lambda: bench_registrations(app, client, healthz),
        "agenda": lambda: bench_agenda_pdf(app),
        "calendar": lambda: bench_calendar(app, client, healthz),
        "mine": lambda: bench_my_registrations(app, healthz),
        "review": lambda: bench_review_and_report(app, client, healthz),
        "invitations": lambda: bench_invitations_and_mail(app, mail_port),
    }
    for name, fn in benches.items():
        if args.only and name != args.only:
            continue
        fn()
    smtp.stop()
    summary()


if __name__ == "__main__":
    main()
