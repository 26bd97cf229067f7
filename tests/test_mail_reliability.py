"""Mail delivery under failure, on PostgreSQL (issue 12): the SMTP server down then up, a worker
killed in mid-batch, two workers overlapping on a slow server. Each mail must arrive once; the
only repeat allowed is the message a killed worker had in flight (with the default
MAIL_RECORD_EVERY=1; opt-in batches are tested in tests/test_mail_batches.py).

Run with ``TEST_DATABASE_URL=postgresql://...``; skipped on SQLite (the claims' row locking and
SKIP LOCKED are what is tested, and the production database is PostgreSQL).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.support import deliveries, queue_plain_mails
from webinar_mgr import clock
from webinar_mgr.extensions import db
from webinar_mgr.mail import services as mail
from webinar_mgr.mail.models import OutboxMessage

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.skipif(
        not os.environ.get("TEST_DATABASE_URL", "").startswith(("postgresql", "postgres:")),
        reason="needs PostgreSQL: set TEST_DATABASE_URL=postgresql://...",
    ),
]

ROOT = Path(__file__).resolve().parent.parent


def _statuses() -> Counter:
    db.session.expire_all()
    return Counter(db.session.scalars(sa.select(OutboxMessage.status)))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _patch_server(monkeypatch, handler, *, advance=None, pause=0.0, hold_at=None, reached=None):
    """A slow server: each message moves the frozen clock by ``advance`` and waits ``pause``
    seconds; the ``hold_at``-th message is received, then its answer waits until ``release`` is
    set. ``reached`` maps a message
    number to an Event set when that message arrives. Returns (held, release)."""
    held, release = threading.Event(), threading.Event()
    original = handler.handle_DATA
    seen = {"n": 0}

    async def handle_DATA(server, session, envelope):
        seen["n"] += 1
        n = seen["n"]
        if advance is not None:
            clock.advance(advance)
        if reached and n in reached:
            reached[n].set()
        if pause:
            await asyncio.sleep(pause)
        if n == hold_at:  # the server has the message, the worker has no answer yet
            result = await original(server, session, envelope)
            held.set()
            await asyncio.get_running_loop().run_in_executor(None, release.wait, 30)
            return result
        return await original(server, session, envelope)

    monkeypatch.setattr(handler, "handle_DATA", handle_DATA)  # read by each new SMTP connection
    return held, release


def test_smtp_down_then_up_delivers_every_message_exactly_once(app, mailbox, smtp_server):
    clock.freeze(clock.now())
    app.config["MAIL_BATCH_SIZE"] = 20
    addresses = queue_plain_mails(50, "outage")
    port = app.config["MAIL_PORT"]

    app.config["MAIL_PORT"] = _closed_port()  # the server is down
    assert mail.deliver_due() == {"sent": 0, "retry": 50, "failed": 0, "skipped": 0}
    assert mail.deliver_due()["retry"] == 0  # backing off: nothing is due yet

    app.config["MAIL_PORT"] = port  # it answers again, but defers everything (451)
    smtp_server["handler"].refuse = True
    clock.advance(timedelta(seconds=app.config["MAIL_BACKOFF_SECONDS"]))
    assert mail.deliver_due()["retry"] == 50

    smtp_server["handler"].refuse = False  # and is back
    clock.advance(timedelta(minutes=10))
    assert mail.deliver_due() == {"sent": 50, "retry": 0, "failed": 0, "skipped": 0}
    clock.advance(timedelta(hours=7))
    assert mail.deliver_due() == {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}

    assert deliveries(mailbox) == Counter(addresses)  # each exactly once
    assert _statuses() == Counter({"sent": 50})
    rows = db.session.scalars(sa.select(OutboxMessage)).all()
    assert {(r.attempts, r.last_error, r.claim_token) for r in rows} == {(3, None, None)}


def test_a_worker_killed_mid_batch_loses_nothing(app, mailbox, smtp_server, monkeypatch, tmp_path):
    """A real `flask worker --once` is killed (SIGKILL) while the server holds its fourth
    message. Its other claimed messages wait until the claim expires, then a second worker
    delivers them: no mail lost, only the one in flight sent twice (the default records each
    outcome before the next send)."""
    app.config["MAIL_BATCH_SIZE"] = 20
    addresses = queue_plain_mails(50, "killed")
    held, release = _patch_server(monkeypatch, smtp_server["handler"], hold_at=4)
    env = dict(
        os.environ,
        WEBINAR_ENV="testing",
        DATABASE_URL=os.environ["TEST_DATABASE_URL"],
        MAIL_PORT=str(app.config["MAIL_PORT"]),
        MAIL_BATCH_SIZE="20",
        INSTANCE_DIR=str(tmp_path),
    )
    cmd = [sys.executable, "-m", "flask", "--app", "webinar_mgr", "worker", "--once"]
    worker = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        reached = held.wait(60)
        worker.kill()
        output = worker.communicate(timeout=30)[0].decode(errors="replace")
    finally:
        release.set()
    assert reached, f"the worker never reached its fourth message:\n{output[-3000:]}"
    assert worker.returncode == -9

    clock.freeze(clock.now())
    recorded = _statuses()["sent"]
    assert recorded == 3  # the default records each outcome before the next send
    # A second worker at once: it sends the 30 never claimed, not the 20 - recorded still claimed.
    assert mail.deliver_due()["sent"] == 30
    assert _statuses() == Counter({"sent": 30 + recorded, "sending": 20 - recorded})
    # Once the claim has expired, the dead worker's messages go out.
    clock.advance(timedelta(seconds=app.config["MAIL_CLAIM_TIMEOUT"] + 1))
    assert mail.deliver_due() == {"sent": 20 - recorded, "retry": 0, "failed": 0, "skipped": 0}

    delivered = deliveries(mailbox)
    assert set(delivered) == set(addresses)  # nothing lost
    # only the one in flight
    assert {a: n for a, n in delivered.items() if n > 1} == {addresses[3]: 2}
    assert _statuses() == Counter({"sent": 50})


def test_two_workers_overlapping_on_a_slow_server_send_no_duplicates(app, mailbox, smtp_server, monkeypatch):
    """Two worker threads, the second starting while the first is in mid-batch; the server takes
    two minutes (of the frozen clock) per message, so without a heartbeat the first worker's claim
    would expire under it and the second would send its messages too."""
    clock.freeze(clock.now())
    app.config["MAIL_BATCH_SIZE"] = 20
    addresses = queue_plain_mails(100, "overlap")
    fifth = threading.Event()
    _patch_server(monkeypatch, smtp_server["handler"], advance=timedelta(minutes=2), pause=0.01, reached={5: fifth})
    totals = {"a": Counter(), "b": Counter()}
    errors = []

    def worker(name: str, wait_for: threading.Event | None) -> None:
        try:
            if wait_for is not None:
                assert wait_for.wait(30)
            with app.app_context():
                for _ in range(20):  # bounded: a round of at most 20 messages each time
                    counts = mail.deliver_due(20)
                    totals[name].update(counts)
                    if not any(counts.values()):
                        break
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [
        threading.Thread(target=worker, args=("a", None), daemon=True),
        threading.Thread(target=worker, args=("b", fifth), daemon=True),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)

    delivered = deliveries(mailbox)
    assert sum(delivered.values()) == 100 and delivered == Counter(addresses)  # 0 duplicates
    assert totals["a"]["sent"] > 0 and totals["b"]["sent"] > 0  # they did overlap
    assert totals["a"]["sent"] + totals["b"]["sent"] == 100
    assert totals["a"]["skipped"] == totals["b"]["skipped"] == 0
    assert _statuses() == Counter({"sent": 100})
