"""Issue 12's reliability suite, registration part (PostgreSQL): 1,000 simultaneous attempts for
100 seats give exactly 100 confirmed, everyone else on the waiting list, duplicates refused, and no
error. Each attempt runs in its own thread with its own app context and database session, as the
requests of several gunicorn workers would."""

from __future__ import annotations

import os
import threading
from collections import Counter

import pytest
import sqlalchemy as sa

from tests.factories import NOW, make_event_row, registrant_data
from webinar_mgr import clock
from webinar_mgr.directory.models import Organisation
from webinar_mgr.errors import Conflict
from webinar_mgr.extensions import db
from webinar_mgr.registrations import services
from webinar_mgr.registrations.models import Registration

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.skipif(
        not os.environ.get("TEST_DATABASE_URL", "").startswith(("postgresql", "postgres:")),
        reason="needs PostgreSQL: set TEST_DATABASE_URL=postgresql://...",
    ),
]

ATTEMPTS = 1000
SEATS = 100
PEOPLE = 950  # 50 attempts repeat an address already tried: they must be refused
THREADS = 10  # under the pool of 15 connections (5 + overflow 10), the test holds one


def test_a_thousand_attempts_for_a_hundred_seats(app):
    clock.freeze(NOW)
    try:
        event = make_event_row(capacity=SEATS, audience="open")
        db.session.commit()
        event_id = event.id
        outcomes: Counter[str] = Counter()
        errors: list[BaseException] = []
        lock = threading.Lock()
        work = list(range(ATTEMPTS))
        barrier = threading.Barrier(THREADS)

        def worker() -> None:
            with app.app_context():
                barrier.wait(timeout=60)
                while True:
                    with lock:
                        if not work:
                            return
                        n = work.pop()
                    person = n % PEOPLE
                    try:
                        reg = services.register(
                            event_id, registrant_data(f"Person {person}", f"person{person}@example.org")
                        )
                        key = reg.status
                    except Conflict:
                        key = "duplicate"
                    except BaseException as exc:  # reported below
                        with lock:
                            errors.append(exc)
                        key = "error"
                    finally:
                        db.session.remove()
                    with lock:
                        outcomes[key] += 1

        threads = [threading.Thread(target=worker) for _ in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=600)
        assert not errors, errors[:3]
        assert outcomes == {"confirmed": SEATS, "waitlisted": PEOPLE - SEATS, "duplicate": ATTEMPTS - PEOPLE}
        db.session.expire_all()
        rows = db.session.execute(
            sa.select(Registration.status, sa.func.count())
            .where(Registration.event_id == event_id)
            .group_by(Registration.status)
        ).all()
        assert dict(rows) == {"confirmed": SEATS, "waitlisted": PEOPLE - SEATS}
        # the one organisation all of them typed was created once, not a thousand times
        assert (
            db.session.scalar(
                sa.select(sa.func.count()).select_from(Organisation).where(Organisation.name == "Migrant Care Network")
            )
            == 1
        )
    finally:
        clock.unfreeze()
