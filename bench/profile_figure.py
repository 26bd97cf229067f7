"""Where a figure's time goes: cProfile of one figure's request(s), in-process, on the data a
bench/run.py run left in its database (run the bench first; nothing is wiped here).

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/webinar_bench \\
        .venv/bin/python bench/profile_figure.py review [--top 25] [--sort cumulative|tottime]

Figures: register (20 guest registrations, GET form + POST), review, report (activity report of
one year, stored renderings deleted first), calendar (/calendar.ics as the first request of a new
app, as in a fresh worker), agenda (agenda PDF, stored PDF deleted, in a process that has rendered it once),
mine, invitations (queuing 1,000 invitations: the worker's job), delivery (one worker
sending up to 300 queued mails to a local SMTP sink). The app runs in the "testing"
configuration (CSRF off) so that the profile shows the application's work, not the test client's.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa

from bench.run import NOW, ONE_YEAR, PASSWORD, WHOLE_PERIOD, clear_stored_pdfs, event_rows
from tests.support import QueryCounter
from webinar_mgr import create_app
from webinar_mgr.events.models import Event
from webinar_mgr.extensions import db


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("figure")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--sort", default="cumulative")
    ap.add_argument(
        "--only",
        default=r"webinar_mgr/|templates/|weasyprint/|icalendar/|pydyf|fontTools|flask_babel|babel/",
        help="regular expression on the file names listed in the first table",
    )
    args = ap.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL")
    if not url:
        raise SystemExit("BENCH_DATABASE_URL: the database a bench/run.py run filled")
    url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url, INSTANCE_DIR=tempfile.mkdtemp(), RATELIMIT_ENABLED=False)
    client = app.test_client()
    prof = cProfile.Profile()
    fig = args.figure

    def login(email: str) -> None:
        assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 302

    with app.app_context():
        if fig == "register":
            event_id = db.session.scalar(sa.select(Event.id).where(Event.title.like("Throughput %")))

            def one(k: int) -> None:
                c = app.test_client()
                assert c.get(f"/events/{event_id}/register").status_code == 200
                form = {
                    "name": f"Profiled {k}",
                    "email": f"profiled-{uuid.uuid4().hex[:8]}@example.org",
                    "timezone": "Asia/Bangkok",
                    "consent": "y",
                    "organisation_name": "Migrant Care Network",
                    "sector": "civil_society",
                }
                r = c.post(f"/events/{event_id}/register", data=form)
                assert r.status_code == 302, r.status_code

            one(0)
            with QueryCounter(db.engine) as q:
                prof.runcall(lambda: [one(k) for k in range(1, 21)])
            print(f"20 guests (GET + POST): {q.count / 20:.1f} SQL statements each")
        elif fig in ("review", "report", "mine"):
            login("bench-ana@example.org" if fig == "mine" else "bench-cochair@example.org")
            path = {
                "review": f"/review?{WHOLE_PERIOD}",
                "report": f"/review/activity-report.pdf?{ONE_YEAR}",
                "mine": "/registrations/mine",
            }[fig]
            client.get(path)  # warm (templates compiled, fonts loaded)
            if fig == "report":
                clear_stored_pdfs(app)
            with QueryCounter(db.engine) as q:
                r = prof.runcall(client.get, path)
            print(f"{path}: HTTP {r.status_code}, {len(r.data):,} bytes, {q.count} SQL statements")
        elif fig == "calendar":
            with QueryCounter(db.engine) as q:
                r = prof.runcall(client.get, "/calendar.ics")
            print(f"/calendar.ics first request: {r.data.count(b'BEGIN:VEVENT')} events, {q.count} SQL statements")
        elif fig == "agenda":
            event_id = db.session.scalar(sa.select(Event.id).where(Event.title.like("Agenda PDF %")))
            clear_stored_pdfs(app)
            client.get(f"/events/{event_id}/agenda.pdf")  # warm: the process has rendered once
            clear_stored_pdfs(app)
            r = prof.runcall(client.get, f"/events/{event_id}/agenda.pdf")
            print(f"agenda PDF, cold render in a warm process: HTTP {r.status_code}, {len(r.data):,} bytes")
        elif fig == "invitations":
            from webinar_mgr.directory.models import Contact
            from webinar_mgr.invitations import services as invitations

            ids = db.session.scalars(sa.select(Contact.id).where(Contact.email.like("invitee%")).limit(1000)).all()
            with app.test_request_context():
                (event_id,) = event_rows(1, NOW + timedelta(days=30), title=f"Profiled {uuid.uuid4().hex[:8]}")
                invitations.add_contacts(event_id, ids, "member", actor=None)
                invitations.request_send(event_id, actor=None, rest=True)
                with QueryCounter(db.engine) as q:
                    n = prof.runcall(invitations.send_requested)
            print(f"{n} invitations queued, {q.count} SQL statements")
        elif fig == "delivery":
            import logging
            import socket

            from aiosmtpd.controller import Controller

            from webinar_mgr.mail import services as mail

            class Sink:
                async def handle_DATA(self, server, session, envelope):
                    return "250 OK"

            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port = sock.getsockname()[1]
            logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's lines, as bench/run.py
            smtp = Controller(Sink(), hostname="127.0.0.1", port=port)
            smtp.start()
            app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
            try:
                with app.test_request_context(), QueryCounter(db.engine) as q:
                    counts = prof.runcall(mail.deliver_due, 300)
            finally:
                smtp.stop()
            print(f"delivery of up to 300 queued mails: {counts}, {q.count} SQL statements")
        else:
            raise SystemExit(f"unknown figure {fig!r}")
        db.engine.dispose()
    import site

    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)

    def show(title: str) -> None:
        text = out.getvalue()
        for prefix in [*site.getsitepackages(), str(ROOT)]:  # shorter file names
            text = text.replace(prefix + "/", "")
        print(title)
        print(text)
        out.seek(0)
        out.truncate()

    stats.sort_stats(args.sort).print_stats(args.only, args.top)
    show(f"== the application's and its libraries' functions, by {args.sort} time")
    stats.sort_stats("tottime").print_stats(args.top)
    show("== every function, by own time (tottime)")


if __name__ == "__main__":
    main()
