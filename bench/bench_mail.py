"""Bench: the mail outbox and password hashing.

Prints: time to queue N messages in one transaction; the delivery rate of ``deliver_due`` to a
real SMTP server (aiosmtpd) on loopback, side by side for claim batches of 20 (MAIL_BATCH_SIZE's
default) and 500, and with ``--before REV`` for the delivery code of that git revision (before
claim tokens); and the cost of one argon2id hash/verify with the production parameters (what a
sign-in costs the server).

    .venv/bin/python bench/bench_mail.py
    .venv/bin/python bench/bench_mail.py --before ef2cb10 --n 2000
    .venv/bin/python bench/bench_mail.py --database-url postgresql://postgres@127.0.0.1:5432/throwaway

``--database-url`` must name a throw-away database: the migrations are run in it and the outbox
is emptied between runs.
"""

from __future__ import annotations

import argparse
import importlib.util
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa

from webinar_mgr import create_app
from webinar_mgr.extensions import db


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Sink:
    def __init__(self):
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        return "250 OK"


def _services_at(rev: str):
    """webinar_mgr/mail/services.py as it was at git revision ``rev``, loaded beside today's."""
    source = subprocess.check_output(["git", "show", f"{rev}:webinar_mgr/mail/services.py"], cwd=ROOT)
    spec = importlib.util.spec_from_loader("webinar_mgr.mail._services_before", loader=None)
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "webinar_mgr.mail"
    exec(compile(source, f"{rev}:webinar_mgr/mail/services.py", "exec"), module.__dict__)
    return module


def _queue(mail, n: int, tag: str) -> float:
    t = time.perf_counter()
    for i in range(n):
        mail.queue(
            f"person{i}@example.org",
            f"Invitation {i}",
            body_text="Hello\n" * 20,
            category="invitation",
            dedupe_key=f"bench:{tag}:{i}",
        )
    db.session.commit()
    return time.perf_counter() - t


def _deliver_all(deliver) -> int:
    sent = 0
    while True:
        counts = deliver()
        sent += counts["sent"]
        if not any(counts.values()):
            return sent


def main() -> None:
    from aiosmtpd.controller import Controller
    from argon2 import PasswordHasher
    from flask_migrate import upgrade

    from webinar_mgr.mail import services as mail
    from webinar_mgr.mail.models import OutboxMessage

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000, help="messages per delivery run")
    parser.add_argument("--before", metavar="REV", help="also time the delivery code of this git revision")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each, interleaved; the median is shown")
    parser.add_argument("--database-url", help="a throw-away database (default: a temporary SQLite file)")
    args = parser.parse_args()

    sink = _Sink()
    port = _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    runs = [
        ("batch 20", lambda: mail.deliver_due(500, batch=20)),
        ("batch 500", lambda: mail.deliver_due(500, batch=500)),
    ]
    if args.before:
        before = _services_at(args.before)
        runs.insert(0, (f"before ({args.before}, 500 per claim)", lambda: before.deliver_due(500)))
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://") :]
        app = create_app("testing", SQLALCHEMY_DATABASE_URI=url, MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
        with app.app_context():
            upgrade()
            db.session.execute(sa.delete(OutboxMessage))
            db.session.commit()
            dialect = db.engine.dialect.name
            queued = _queue(mail, args.n, "q")
            db.session.execute(sa.delete(OutboxMessage))
            db.session.commit()
            results = {name: [] for name, _deliver in runs}
            for round_ in range(args.repeat):  # interleaved, so a busy machine slows each alike
                for name, deliver in runs:
                    _queue(mail, args.n, f"{name}:{round_}")
                    received = sink.count
                    t = time.perf_counter()
                    sent = _deliver_all(deliver)
                    results[name].append((time.perf_counter() - t, sent, sink.count - received))
                    db.session.execute(sa.delete(OutboxMessage))
                    db.session.commit()
    controller.stop()
    rate = args.n / queued
    print(f"queue {args.n} messages (with dedupe keys, one transaction, {dialect}): {queued:.2f} s ({rate:.0f} msg/s)")
    print(f"deliver_due to loopback SMTP ({dialect}), {args.n} messages:")
    for name, timings in results.items():
        elapsed = statistics.median(t for t, _sent, _received in timings)
        sent = sum(n for _t, n, _r in timings)
        received = sum(r for _t, _n, r in timings)
        print(
            f"  {name:32s} median {elapsed:.2f} s ({args.n / elapsed:.0f} msg/s) over {len(timings)} run(s);"
            f" {sent} sent, {received} received"
        )

    ph = PasswordHasher()
    h = ph.hash("correct-horse-battery")
    hashes = []
    for _ in range(10):
        t = time.perf_counter()
        ph.verify(h, "correct-horse-battery")
        hashes.append(time.perf_counter() - t)
    print(
        f"argon2id verify (production parameters t={ph.time_cost}, m={ph.memory_cost} KiB): "
        f"median {statistics.median(hashes) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
