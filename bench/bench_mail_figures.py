"""Issue 19's mail figures alone, old against new (PostgreSQL, production settings).

One process (``--tree PATH``: the webinar_mgr of that checkout) builds a throw-away PostgreSQL
database (WIPED: public schema dropped) with bench/run.py's data for these figures (5,000 directory
contacts; 100 guest registrations whose confirmations the worker writes), then measures, each
beside its floor in the same process, interleaved, median of three (bench/harness.py):

* 5,000 invitations queued (the worker job) against a bulk insert of 5,000 outbox rows;
* mail delivery by one worker, 300 invitations, against raw smtplib to the same aiosmtpd sink;
* mail delivery, 100 registration confirmations written by the worker, against the same floor.

``--compare OLD_TREE`` runs this file for OLD_TREE and for ``--tree`` (this checkout) alternately
(``--rounds`` times each) and prints each figure's medians and ratios, old and new.
``--profile invitations|delivery|confirmations`` profiles one figure in-process (cProfile).

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_mail \\
        .venv/bin/python bench/bench_mail_figures.py --compare /work/wt-old --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOW = datetime.now(UTC)


def _args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tree", default=str(HERE.parent), help="the checkout whose webinar_mgr is measured")
    ap.add_argument("--compare", metavar="OLD_TREE", help="alternate processes of OLD_TREE and this checkout")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--profile", choices=["invitations", "delivery", "confirmations"])
    ap.add_argument("--json", help="write the figures here (used by --compare)")
    ap.add_argument("--only", default="", help="invitations|delivery|confirmations (comma separated)")
    return ap.parse_args()


def compare(args) -> None:
    url = os.environ["BENCH_DATABASE_URL"]
    trees = {"old": args.compare, "new": args.tree}
    got: dict[str, list[dict]] = {"old": [], "new": []}
    for r in range(args.rounds):
        for name in ("old", "new") if r % 2 == 0 else ("new", "old"):
            out = f"/tmp/bench_mail_{os.getpid()}_{name}_{r}.json"
            cmd = [sys.executable, __file__, "--tree", trees[name], "--json", out]
            if args.only:
                cmd += ["--only", args.only]
            # in the tree: its migrations are the ones run
            subprocess.run(cmd, check=True, cwd=trees[name], env={**os.environ, "BENCH_DATABASE_URL": url})
            got[name].append(json.loads(Path(out).read_text()))
            print(f"round {r + 1} {name}: {got[name][-1]}", flush=True)
    print("\nmedians of the per-process medians (each process: median of 3, floor in the same process)")
    for fig in got["new"][0]:
        for name in ("old", "new"):
            vals = [g[fig]["value"] for g in got[name]]
            floors = [g[fig]["floor"] for g in got[name]]
            ratios = [g[fig]["ratio"] for g in got[name]]
            print(
                f"  {fig:45s} {name}: value {statistics.median(vals):9.3f} floor {statistics.median(floors):9.3f}"
                f" ratio {statistics.median(ratios):.2f} (ratios {', '.join(f'{x:.2f}' for x in ratios)})"
            )


def main() -> None:
    args = _args()
    if args.compare:
        compare(args)
        return
    sys.path.insert(0, args.tree)
    sys.path.insert(1, str(HERE.parent))
    import gc
    import logging
    import smtplib
    from email.message import EmailMessage

    import sqlalchemy as sa
    from aiosmtpd.controller import Controller

    from bench.harness import Figure, measure, seconds
    from webinar_mgr import create_app
    from webinar_mgr.directory.models import Contact
    from webinar_mgr.events import settings
    from webinar_mgr.events.models import Event
    from webinar_mgr.extensions import db

    assert Path(sys.modules["webinar_mgr"].__file__).resolve().is_relative_to(Path(args.tree).resolve())
    logging.getLogger("mail.log").setLevel(logging.WARNING)

    class Sink:
        async def handle_DATA(self, server, session, envelope):
            return "250 OK"

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    smtp = Controller(Sink(), hostname="127.0.0.1", port=port)
    smtp.start()
    url = os.environ["BENCH_DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
    tmp = f"/tmp/bench_mail_{os.getpid()}"
    os.makedirs(tmp, exist_ok=True)
    base = "https://events.bench.example"
    setup = create_app("testing", SQLALCHEMY_DATABASE_URI=url, INSTANCE_DIR=tmp, BASE_URL=base)
    worker = create_app(
        "production",
        SQLALCHEMY_DATABASE_URI=url,
        SECRET_KEY="bench-" + "x" * 48,
        BASE_URL=base,
        INSTANCE_DIR=tmp,
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=port,
    )

    def event(title: str) -> int:
        s = NOW + timedelta(days=30)
        row = {
            "uid": f"{uuid.uuid4()}@webinar-mgr",
            "title": title,
            "summary": "A webinar of the working group. " * 5,
            "objectives": ["One", "Two"],
            "kind_id": settings.kind_by_code("regional_webinar").id,
            "status": "scheduled",
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
        return db.session.execute(sa.insert(Event).values(**row).returning(Event.id)).scalar_one()

    from flask_migrate import upgrade

    from webinar_mgr.invitations import services as invitations
    from webinar_mgr.mail.models import OutboxMessage
    from webinar_mgr.registrations import services as registrations

    with setup.app_context():
        with db.engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
        db.session.execute(
            sa.insert(Contact),
            [
                {"name": f"Invitee {i}", "email": f"invitee{i}@example.org", "created_at": NOW, "updated_at": NOW}
                for i in range(5000)
            ],
        )
        reg_event = event("Throughput")
        db.session.commit()
        contact_ids = db.session.scalars(sa.select(Contact.id).where(Contact.email.like("invitee%"))).all()
        tzs = ["Asia/Manila", "Asia/Bangkok", "Australia/Sydney", "UTC"]
        with setup.test_request_context():
            for i in range(100):
                registrations.register(
                    reg_event,
                    registrations.RegistrantData(
                        name=f"Guest {i}",
                        email=f"guest{i}@example.org",
                        timezone=tzs[i % 4],
                        consent=True,
                        organisation_name="Migrant Care Network",
                        sector="civil_society",
                    ),
                )
        reg_ids = db.session.scalars(sa.text("SELECT id FROM registrations ORDER BY id")).all()
        db.session.execute(sa.delete(OutboxMessage))
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("ANALYZE"))
        db.engine.dispose()
    gc.collect()
    gc.freeze()

    app = worker
    later = NOW + timedelta(days=3650)

    def queue():
        with app.app_context(), app.test_request_context():
            event_id = event(f"Invitations {uuid.uuid4().hex[:8]}")
            db.session.commit()
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
                "next_attempt_at": later,
            }
            for i in range(len(contact_ids))
        ]
        with app.app_context():
            return seconds(lambda: (db.session.execute(sa.insert(OutboxMessage), rows), db.session.commit()))

    from webinar_mgr.mail import services as mail

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
                with smtplib.SMTP("127.0.0.1", port) as s:
                    for _ in range(k):
                        s.send_message(msg)

            return k / seconds(go)

        return raw

    from webinar_mgr.registrations import notifications
    from webinar_mgr.registrations.models import Registration

    def confirmations(k: int):
        deliver = deliverer(k)

        def run():
            with app.app_context(), app.test_request_context():
                for reg in db.session.scalars(sa.select(Registration).where(Registration.id.in_(reg_ids[:k]))):
                    notifications.status_mail(reg, "registered")
                db.session.commit()
            return deliver()

        return run

    only = set(filter(None, args.only.split(",")))
    figs = []
    if args.profile:
        import cProfile
        import pstats

        if args.profile == "invitations":
            queue()  # the process's first job: the profile is of the second
            fn = queue
        elif args.profile == "delivery":
            queue()
            deliverer(300)()
            fn = deliverer(300)
        else:
            confirmations(100)()
            fn = confirmations(100)
        import time

        from sqlalchemy import event as sa_event

        timings: dict[str, list[float]] = {}

        def before(conn, cursor, statement, parameters, context, executemany):
            conn.info["bench_t"] = time.perf_counter()

        def after(conn, cursor, statement, parameters, context, executemany):
            key = " ".join(statement.split())[:90]
            timings.setdefault(key, []).append(time.perf_counter() - conn.info.pop("bench_t"))

        with app.app_context():
            engine = db.engine
        sa_event.listen(engine, "before_cursor_execute", before)
        sa_event.listen(engine, "after_cursor_execute", after)
        t = time.perf_counter()
        fn()
        total = time.perf_counter() - t
        sa_event.remove(engine, "before_cursor_execute", before)
        sa_event.remove(engine, "after_cursor_execute", after)
        print(f"{args.profile}: {total * 1000:.0f} ms without the profiler; its SQL statements (time, count):")
        for key, ts in sorted(timings.items(), key=lambda kv: -sum(kv[1]))[:15]:
            print(f"  {sum(ts) * 1000:7.1f} ms {len(ts):5d}  {key}")
        prof = cProfile.Profile()
        prof.enable()
        fn()
        prof.disable()
        stats = pstats.Stats(prof)
        stats.sort_stats("cumulative").print_stats(45)
        stats.sort_stats("tottime").print_stats(30)
        smtp.stop()
        return
    if not only or "invitations" in only:
        fig = Figure("5,000 invitations queued", "ms", "<= 3 s and <= 5 x floor")
        figs.append(measure(fig, queue, bulk, warm=False))
    if not only or "delivery" in only:
        if only and "invitations" not in only:
            queue()
        fig = Figure("delivery, 300 invitations", "/s", ">= 0.5 x floor")
        figs.append(measure(fig, deliverer(300), raw_smtplib(300)))
    if not only or "confirmations" in only:
        with app.app_context():  # the invitations aside while the confirmations are sent
            db.session.execute(
                sa.update(OutboxMessage).where(OutboxMessage.status == "queued").values(next_attempt_at=later)
            )
            db.session.commit()
        figs.append(
            measure(
                Figure("delivery, 100 confirmations written by the worker", "/s", ">= 0.5 x floor"),
                confirmations(100),
                raw_smtplib(100),
            )
        )
    smtp.stop()
    if args.json:
        Path(args.json).write_text(
            json.dumps({f.name: {"value": f.value, "floor": f.floor, "ratio": f.ratio} for f in figs})
        )


if __name__ == "__main__":
    main()
