"""Bench: the API's lists with 1,000 rows - the events list and the registrations of one event.

Prints, for the first page, a middle page and the last page (limit 50): the time per request
(median of 5) and the SQL statements it ran. The statements must not grow with the rows or the
page: the page is read with LIMIT/OFFSET in a stable order, no row is loaded one by one.

    .venv/bin/python bench/bench_api.py
    .venv/bin/python bench/bench_api.py --database-url postgresql://postgres@127.0.0.1:5432/throwaway
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa
from flask_migrate import upgrade

from tests.support import QueryCounter
from webinar_mgr import create_app
from webinar_mgr.api import services as api_services
from webinar_mgr.auth import services as auth
from webinar_mgr.directory.models import Contact, Organisation
from webinar_mgr.events.models import Event, EventKind
from webinar_mgr.extensions import db
from webinar_mgr.registrations.models import Registration

N = 1000


def seed() -> tuple[int, str]:
    kind = EventKind(code="webinar", label="Regional webinar")
    org = Organisation(name="Bench organisation", sector="civil_society")
    db.session.add_all([kind, org])
    db.session.flush()
    start = datetime(2030, 1, 1, 3, 0, tzinfo=UTC)
    db.session.execute(
        sa.insert(Event),
        [
            dict(
                uid=f"bench-{i}@x",
                title=f"Event {i}",
                summary="",
                objectives=[],
                kind_id=kind.id,
                status="scheduled",
                timezone="Asia/Bangkok",
                starts_at=start + timedelta(days=i),
                ends_at=start + timedelta(days=i, hours=2),
                priority_tags=[],
                pdf_zones=[],
                audience="open",
            )
            for i in range(N)
        ],
    )
    first = db.session.scalar(sa.select(sa.func.min(Event.id)))
    db.session.execute(
        sa.insert(Contact),
        [dict(email=f"p{i}@example.org", name=f"Person {i}", organisation_id=org.id) for i in range(N)],
    )
    contacts = db.session.scalars(sa.select(Contact.id).order_by(Contact.id)).all()
    db.session.execute(
        sa.insert(Registration),
        [
            dict(
                event_id=first,
                contact_id=c,
                email=f"p{i}@example.org",
                name=f"Person {i}",
                status="confirmed",
                organisation_id=org.id,
                sector="civil_society",
                timezone="UTC",
                nonce=f"n{i}",
            )
            for i, c in enumerate(contacts)
        ],
    )
    user = auth.create_user(
        email="bench@example.org", name="Bench", password="correct-horse-battery", roles=["organiser"], timezone="UTC"
    )
    db.session.commit()
    token = api_services.create_token(user, "bench", ["events:read", "registrations:read"], 30, actor=user).secret
    return first, token


def measure(client, url: str, headers: dict) -> tuple[float, int]:
    times, queries = [], 0
    for _ in range(5):
        with QueryCounter(db.engine) as qc:
            t0 = time.perf_counter()
            resp = client.get(url, headers=headers)
            times.append(time.perf_counter() - t0)
        assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
        queries = qc.count
    return statistics.median(times) * 1000, queries


def walk(client, url: str, headers: dict) -> list[str]:
    """The URLs of every page (following the cursors)."""
    urls = []
    while url:
        urls.append(url)
        url = client.get(url, headers=headers).get_json()["next"]
        url = url.replace("http://localhost", "") if url else None
    return urls


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url, BASE_URL="http://localhost")
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
        event_id, token = seed()
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        print(f"{db.engine.dialect.name}, {N} events, {N} registrations on one event, limit 50")
        for label, first in (
            ("events", "/api/v1/events?when=all&limit=50"),
            ("registrations", f"/api/v1/events/{event_id}/registrations?limit=50"),
        ):
            pages = walk(client, first, headers)
            for name, page in (("first", pages[0]), ("middle", pages[len(pages) // 2]), ("last", pages[-1])):
                ms, queries = measure(client, page, headers)
                print(f"  {label:13} {name:6} page ({len(pages)} pages): {ms:7.1f} ms, {queries} SQL statements")


if __name__ == "__main__":
    main()
