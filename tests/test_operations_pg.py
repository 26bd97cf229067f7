"""Operations on PostgreSQL (issue 18, docs/operations.md): the app and the worker live through a
database restart (every connection killed with pg_terminate_backend during a burst of
registrations), and a backup (pg_dump of the database, tar of the instance folder) restores the demo
data with every figure identical.

Both need PostgreSQL (TEST_DATABASE_URL); the restore test also needs pg_dump and pg_restore on
PATH and creates and drops its own database on that server.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
import threading
import time
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import sqlalchemy as sa

from config import Config
from tests.factories import NOW, make_event_row
from webinar_mgr import clock, create_app
from webinar_mgr.cli import run_seed
from webinar_mgr.extensions import db
from webinar_mgr.mail.models import OutboxMessage
from webinar_mgr.privacy.models import ConsentRecord
from webinar_mgr.registrations.models import Registration
from webinar_mgr.reports import services as review

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.skipif(
        not os.environ.get("TEST_DATABASE_URL", "").startswith(("postgresql", "postgres:")),
        reason="needs PostgreSQL: set TEST_DATABASE_URL=postgresql://...",
    ),
]

THREADS = 6
PER_THREAD = 8


def _plain_url(url: str) -> str:
    """psycopg's form of a SQLAlchemy URL."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _kill_connections(url: str) -> int:
    """pg_terminate_backend on every other connection to the database: what a restart does to them."""
    with psycopg.connect(_plain_url(url), autocommit=True) as conn:
        return conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()[0]


def _form(n: int) -> dict:
    return {
        "name": f"Burst Person {n}",
        "email": f"burst{n}@example.org",
        "organisation_name": "Migrant Care Network",
        "sector": "civil_society",
        "timezone": "Asia/Manila",
        "consent": "y",
    }


# A restart during a burst of registrations -------------------------------------------------------


def test_registrations_and_the_worker_live_through_a_database_restart(app, migrated, smtp_server, mailbox):
    clock.freeze(NOW)
    event_id = make_event_row(capacity=None, audience="open").id
    # The test's own session holds no connection while they are killed (its engine has no pre-ping).
    db.session.remove()
    db.engine.dispose()
    # The real engine options (pool_pre_ping), not the test configuration's.
    served = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=migrated,
        SQLALCHEMY_ENGINE_OPTIONS=dict(Config.SQLALCHEMY_ENGINE_OPTIONS),
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp_server["port"],
        BASE_URL="http://localhost",
        MAIL_CLAIM_TIMEOUT=2,
    )
    assert served.config["SQLALCHEMY_ENGINE_OPTIONS"].get("pool_pre_ping") is True
    served.test_client_class = app.test_client_class
    client = served.test_client()
    results: dict[int, tuple[int, str]] = {}
    lock = threading.Lock()
    started = threading.Barrier(THREADS + 1)
    done_count = [0]

    def registrant(t: int) -> None:
        started.wait(timeout=30)
        for i in range(PER_THREAD):
            n = t * PER_THREAD + i
            resp = client.post(f"/events/{event_id}/register", data=_form(n))
            with lock:
                results[n] = (resp.status_code, resp.get_data(as_text=True))
                done_count[0] += 1

    threads = [threading.Thread(target=registrant, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    started.wait(timeout=30)
    killed = 0
    deadline = time.monotonic() + 60
    while done_count[0] < 8 and time.monotonic() < deadline:
        time.sleep(0.01)
    for _ in range(4):  # a restart is several seconds of refused and broken connections
        killed += _kill_connections(migrated)
        time.sleep(0.05)
    for th in threads:
        th.join(timeout=120)
    assert killed > 0

    statuses = {code for code, _body in results.values()}
    assert len(results) == THREADS * PER_THREAD
    assert statuses <= {302, 503}, {n: r for n, r in results.items() if r[0] not in (302, 503)}
    # Every 503 says what became of the request: nothing saved (try again), saved (the page after
    # it failed), or lost during the commit itself (may or may not be saved; trying again is safe).
    nothing = {n for n, (code, body) in results.items() if code == 503 and "Nothing was saved" in body}
    saved = {n for n, (code, body) in results.items() if code == 302 or (code == 503 and "was saved, but" in body)}
    uncertain = {n for n, (code, body) in results.items() if code == 503 and "may or may not" in body}
    assert nothing | saved | uncertain == set(results) and not (nothing & saved)
    assert nothing, "the restart refused no registration: it did not happen during the burst"
    emails = {n: f"burst{n}@example.org" for n in results}
    with served.app_context():
        regs = db.session.scalars(sa.select(Registration).where(Registration.event_id == event_id)).all()
        # Exactly the confirmed ones, each whole: its contact, its consent record, its confirmation.
        stored = {r.email for r in regs}
        assert {emails[n] for n in saved} <= stored and not ({emails[n] for n in nothing} & stored)
        assert stored <= {emails[n] for n in saved | uncertain}
        confirmed = stored
        for r in regs:
            assert r.contact is not None and r.contact.email == r.email and r.status == "confirmed"
        consents = db.session.scalar(
            sa.select(sa.func.count()).select_from(ConsentRecord).where(ConsentRecord.purpose == "register")
        )
        mails = set(db.session.scalars(sa.select(OutboxMessage.to_addr)))
        assert consents == len(regs) and mails == confirmed
        db.session.remove()

    # Those told to try again can: now they are registered (or told they already are).
    for n in nothing | uncertain:
        again = client.post(f"/events/{event_id}/register", data=_form(n))
        assert again.status_code == 302 or (emails[n] in confirmed and again.status_code == 409), again.status_code

    # The worker delivers while its connections are killed, and goes on.
    runner = served.test_cli_runner()
    outcome = {}
    worker = threading.Thread(
        target=lambda: outcome.update(
            result=runner.invoke(args=["worker", "--rounds", "60", "--interval", "0.1", "--batch", "5"])
        )
    )
    worker.start()
    for _ in range(3):
        time.sleep(0.3)
        _kill_connections(migrated)
    worker.join(timeout=180)
    result = outcome["result"]
    assert result.exit_code == 0, (result.output, result.exception)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with served.app_context():
            waiting = db.session.scalar(
                sa.select(sa.func.count()).select_from(OutboxMessage).where(OutboxMessage.status != "sent")
            )
            db.session.remove()
        if not waiting:
            break
        # Messages whose claim died with a connection go again once the claim expires (time moves on).
        clock.advance(timedelta(seconds=3))
        with served.app_context():  # (the test's own app context would be the CLI's otherwise)
            runner.invoke(args=["worker", "--once"])
        time.sleep(0.2)
    with served.app_context():
        left = db.session.execute(
            sa.select(OutboxMessage.status, OutboxMessage.attempts, OutboxMessage.last_error).where(
                OutboxMessage.status != "sent"
            )
        ).all()
        db.session.remove()
    assert waiting == 0, left
    everyone = {f"burst{n}@example.org" for n in range(THREADS * PER_THREAD)}
    assert {a for a in everyone if mailbox.to(a)} == everyone
    with served.app_context():
        db.engine.dispose()


# Backup and restore ------------------------------------------------------------------------------


def _tools_missing() -> str | None:
    missing = [t for t in ("pg_dump", "pg_restore") if shutil.which(t) is None]
    return f"needs {' and '.join(missing)} on PATH (the PostgreSQL client tools)" if missing else None


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _admin(url: str, sql: str) -> None:
    with psycopg.connect(_plain_url(_with_database(url, "postgres")), autocommit=True) as conn:
        conn.execute(sql)


def _libpq(url: str) -> list[str]:
    """pg_dump/pg_restore arguments for the database of ``url`` (password through PGPASSWORD)."""
    parts = urlsplit(_plain_url(url))
    args = ["-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432), "-U", parts.username or "postgres"]
    return args


def _env(url: str) -> dict:
    env = dict(os.environ)
    password = urlsplit(url).password
    if password:
        env["PGPASSWORD"] = password
    return env


def _figures() -> dict:
    """The co-chairs' review over all the history, then every table's rows (a digest, in key
    order). The review first: it keeps its figures per event (reports.queries.keep_period_figures,
    issue 19), so the tables are read as the review leaves them; after a faithful restore the
    review finds its figures kept at the events' versions and writes nothing."""
    out = {}
    span = review.held_history()
    assert span is not None  # the demo data holds events already held
    period = review.period_review(*span, now=clock.now())
    out["review"] = {k: t.rows for k, t in period.tables.items()}
    out["review total"] = period.total.cells()
    out["held"] = [(e.id, e.title) for e in period.events]
    for event in period.events:
        out[f"event {event.id}"] = {k: t.rows for k, t in review.event_review(event.id).tables.items()}
    for table in db.metadata.sorted_tables:
        rows = db.session.execute(sa.select(table).order_by(*table.primary_key.columns)).all()
        out[table.name] = (len(rows), hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest())
    return out


def _instance_files(folder) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_backup_and_restore_give_back_the_demo_data_and_its_figures(migrated, tmp_path):
    reason = _tools_missing()
    if reason:
        pytest.skip(reason)
    name = f"webinar_restore_{os.getpid()}"
    url = _with_database(migrated, name)
    instance = tmp_path / "instance"
    (instance / "keys").mkdir(parents=True)
    (instance / "keys" / "note.txt").write_text("kept beside the database\n")
    _admin(migrated, f'DROP DATABASE IF EXISTS "{name}"')
    _admin(migrated, f'CREATE DATABASE "{name}"')
    clock.freeze(clock.now())
    try:
        # A server with the demo data, as `make run` makes it.
        first = create_app("testing", SQLALCHEMY_DATABASE_URI=url, INSTANCE_DIR=str(instance))
        with first.app_context():
            from flask_migrate import upgrade  # import here: Alembic loads only for this test

            upgrade()
            run_seed(lambda *a, **k: None)
            before = _figures()
            files_before = _instance_files(instance)
            db.session.remove()
            db.engine.dispose()
        assert before["registrations"][0] > 0 and before["review total"][1] > 0

        # The backup (docs/operations.md): pg_dump of the database, tar of the instance folder.
        dump = tmp_path / "webinar.dump"
        subprocess.run(
            ["pg_dump", *_libpq(url), "--format=custom", "--no-owner", f"--file={dump}", name],
            check=True,
            env=_env(url),
        )
        archive = tmp_path / "instance.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(instance, arcname=".")

        # The machine is lost.
        _admin(migrated, f'DROP DATABASE "{name}"')
        shutil.rmtree(instance)

        # The restore on a fresh machine.
        _admin(migrated, f'CREATE DATABASE "{name}"')
        subprocess.run(
            ["pg_restore", *_libpq(url), "--no-owner", "--exit-on-error", f"--dbname={name}", str(dump)],
            check=True,
            env=_env(url),
        )
        instance.mkdir()
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(instance, filter="data")

        second = create_app("testing", SQLALCHEMY_DATABASE_URI=url, INSTANCE_DIR=str(instance))
        with second.app_context():
            after = _figures()
            db.session.remove()
            db.engine.dispose()
        assert after == before
        assert _instance_files(instance) == files_before
        # The restored server serves the same pages (`make run` against it shows the same data).
        event_id, title = after["held"][-1]
        with second.app_context():
            page = second.test_client().get(f"/events/{event_id}")
            assert page.status_code == 200 and title in page.get_data(as_text=True)
            db.session.remove()
            db.engine.dispose()
    finally:
        _admin(migrated, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
