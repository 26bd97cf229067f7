"""Bench: the mail outbox and password hashing.

Prints: time to queue N messages in one transaction, delivery rate of ``deliver_due`` to a real
SMTP server (aiosmtpd) on loopback, and the cost of one argon2id hash/verify with the production
parameters (what a sign-in costs the server).

    .venv/bin/python bench/bench_mail.py
"""

from __future__ import annotations

import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from webinar_mgr import create_app
from webinar_mgr.extensions import db

N = 2000


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


def main() -> None:
    from aiosmtpd.controller import Controller
    from argon2 import PasswordHasher
    from flask_migrate import upgrade

    from webinar_mgr.mail import services as mail

    sink = _Sink()
    port = _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            "testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp}/bench.db", MAIL_SERVER="127.0.0.1", MAIL_PORT=port
        )
        with app.app_context():
            upgrade()
            t = time.perf_counter()
            for i in range(N):
                mail.queue(
                    f"person{i}@example.org",
                    f"Invitation {i}",
                    body_text="Hello\n" * 20,
                    category="invitation",
                    dedupe_key=f"bench:{i}",
                )
            db.session.commit()
            queued = time.perf_counter() - t
            t = time.perf_counter()
            total = {"sent": 0}
            while True:
                counts = mail.deliver_due(500)
                total["sent"] += counts["sent"]
                if not any(counts.values()):
                    break
            sent = time.perf_counter() - t
    controller.stop()
    print(f"queue {N} messages (with dedupe keys, one transaction): {queued:.2f} s ({N / queued:.0f} msg/s)")
    print(
        f"deliver_due to loopback SMTP (SQLite): {total['sent']} sent in {sent:.2f} s "
        f"({total['sent'] / sent:.0f} msg/s); server received {sink.count}"
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
