"""Bench: sending 5,000 invitations (loopback only).

Prints, on a throw-away database (SQLite file by default; ``--pg`` for a throw-away PostgreSQL
database at BENCH_PG, default postgresql://postgres@127.0.0.1:5432):
  * the organiser's click: marking 5,000 invitations to send (what the web request does);
  * the worker job that renders and queues the 5,000 personal mails into the outbox (batches of 500);
  * delivery: mails per second from the outbox to a local aiosmtpd server (the first
    ``--deliver`` of them, 1,000 by default, to stay within two minutes).

    .venv/bin/python bench/bench_invitations.py [--pg] [--n 5000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pg", action="store_true")
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--deliver", type=int, default=1000, help="how many of the queued mails to deliver")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="wm_bench_inv_")
    db_name = f"wm_bench_inv_{os.getpid()}"
    if args.pg:
        subprocess.run(["psql", f"{PG}/postgres", "-q", "-c", f"CREATE DATABASE {db_name}"], check=True)
        url = f"{PG}/{db_name}".replace("postgresql://", "postgresql+psycopg://", 1)
    else:
        url = f"sqlite:///{tmp}/bench.db"

    from aiosmtpd.controller import Controller

    class Sink:
        count = 0

        async def handle_DATA(self, server, session, envelope):
            Sink.count += 1
            return "250 OK"

    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    smtp = Controller(Sink(), hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        import sqlalchemy as sa
        from flask_migrate import upgrade

        from webinar_mgr import clock, create_app
        from webinar_mgr.directory.models import Contact
        from webinar_mgr.events.models import Event, EventKind
        from webinar_mgr.extensions import db
        from webinar_mgr.invitations import services
        from webinar_mgr.mail import services as mail

        app = create_app(
            "testing",
            SQLALCHEMY_DATABASE_URI=url,
            INSTANCE_DIR=tmp,
            MAIL_SERVER="127.0.0.1",
            MAIL_PORT=port,
            BASE_URL="https://webinars.example.org",
        )
        with app.app_context():
            upgrade()
            kind = EventKind(code="webinar", label="Regional webinar")
            db.session.add(kind)
            db.session.flush()
            start = clock.now() + timedelta(days=30)
            event = Event(
                title="Regional Webinar: Safe migration and online recruitment",
                kind_id=kind.id,
                status="scheduled",
                timezone="Asia/Bangkok",
                starts_at=start,
                ends_at=start + timedelta(hours=2),
                audience="invitation",
                summary="A webinar. " * 20,
            )
            db.session.add(event)
            db.session.flush()
            zones = ["Asia/Bangkok", "Asia/Manila", "Australia/Sydney", "Pacific/Fiji", "Asia/Kolkata", None]
            db.session.execute(
                sa.insert(Contact),
                [
                    {
                        "name": f"Invitee {i}",
                        "email": f"invitee{i}@example.org",
                        "timezone": zones[i % len(zones)],
                        "focal_point": False,
                        "created_at": clock.now(),
                        "updated_at": clock.now(),
                    }
                    for i in range(args.n)
                ],
            )
            db.session.commit()
            t = time.perf_counter()
            ids = list(db.session.scalars(sa.select(Contact.id)))
            added = services.add_contacts(event.id, ids, "member", actor=None)
            t_add = time.perf_counter() - t
            t = time.perf_counter()
            marked = services.request_send(event.id, actor=None, rest=True)
            t_mark = time.perf_counter() - t
            t = time.perf_counter()
            queued = services.send_requested()
            t_queue = time.perf_counter() - t
            t = time.perf_counter()
            sent = 0
            while sent < args.deliver:
                counts = mail.deliver_due(min(200, args.deliver - sent))
                sent += counts["sent"]
                if not any(counts.values()):
                    break
            t_send = time.perf_counter() - t
            counts = services.state_counts(event.id)
            engine = db.engine.dialect.name
            db.engine.dispose()
        print(f"{args.n:,} invitations on {engine}:")
        print(f"  add {added:,} directory contacts to the list (bulk insert): {t_add * 1000:8.0f} ms")
        print(f'  organiser clicks "send" (mark {marked:,} to send):      {t_mark * 1000:8.0f} ms')
        print(
            f"  worker renders and queues {queued:,} personal mails:   {t_queue:8.2f} s "
            f"({queued / t_queue:,.0f} mails/s)"
        )
        print(
            f"  worker delivers {sent:,} mails to local SMTP:          {t_send:8.2f} s "
            f"({sent / t_send:,.0f} mails/s; server received {Sink.count:,})"
        )
        print(
            f"  states afterwards: sent {counts['sent']:,}, queued {counts['queued']:,}, failed {counts['failed']:,}"
            " (the worker delivers the rest in its next rounds)"
        )
    finally:
        smtp.stop()
        if args.pg:
            subprocess.run(
                ["psql", f"{PG}/postgres", "-q", "-c", f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)"], check=False
            )


if __name__ == "__main__":
    main()
