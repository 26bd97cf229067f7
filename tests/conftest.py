"""Test fixtures: an app and a clean database per test, a real SMTP server on loopback,
and Playwright on the system Chromium.

The database is built once per run by running the real migrations (not ``create_all``); each
test then starts from empty tables. ``TEST_DATABASE_URL`` (a PostgreSQL URL) runs the suite on
PostgreSQL; without it the suite runs on an SQLite file.
"""

from __future__ import annotations

import contextvars
import os
import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from webinar_mgr import clock, create_app
from webinar_mgr.extensions import db

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def _normalise_url(url: str) -> str:
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return _normalise_url(url)
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def migrated(database_url):
    """Build the schema once per run through the migrations."""
    from flask_migrate import upgrade

    app = create_app("testing", SQLALCHEMY_DATABASE_URI=database_url)
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
        db.engine.dispose()
    return database_url


@dataclass
class Mailbox:
    messages: list[EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in list(self.messages) if address.lower() in str(m["To"]).lower()]

    def __len__(self) -> int:
        return len(self.messages)


class _Handler:
    def __init__(self, box: Mailbox):
        self.box = box
        self.refuse = False

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:  # True: a temporary refusal; a string: that SMTP reply, e.g. "554 Rejected"
            return self.refuse if isinstance(self.refuse, str) else "451 Try again later"
        msg = message_from_bytes(envelope.content, policy=policy.default)
        with self.box.lock:
            self.box.messages.append(msg)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def smtp_server():
    """A real SMTP server (aiosmtpd) on loopback for the whole run."""
    from aiosmtpd.controller import Controller

    box = Mailbox()
    handler = _Handler(box)
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield {"port": port, "box": box, "handler": handler}
    controller.stop()


@pytest.fixture
def mailbox(smtp_server) -> Mailbox:
    smtp_server["box"].clear()
    smtp_server["handler"].refuse = False
    return smtp_server["box"]


def _clean(engine) -> None:
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            for t in tables:
                conn.execute(sa.text(f'DELETE FROM "{t}"'))


class IsolatedClient(FlaskClient):
    """Runs each request in its own app context, as a real server does, instead of reusing
    the test's (which would share ``g``, the signed-in user and the database session)."""

    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture
def app(migrated, smtp_server):
    app = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=migrated,
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp_server["port"],
        BASE_URL="http://localhost",
        INSTANCE_DIR=os.environ.get("TMPDIR", "/tmp"),
    )
    app.test_client_class = IsolatedClient
    ctx = app.app_context()
    ctx.push()
    try:
        yield app
    finally:
        db.session.remove()
        _clean(db.engine)
        db.engine.dispose()
        ctx.pop()
        clock.unfreeze()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_user(app):
    from webinar_mgr.auth import services as auth

    counter = {"n": 0}

    def factory(
        *roles: str,
        email: str | None = None,
        password: str = "correct-horse-battery",
        name: str | None = None,
        timezone: str = "UTC",
        **kw,
    ):
        counter["n"] += 1
        user = auth.create_user(
            email=email or f"user{counter['n']}-{'-'.join(roles) or 'none'}@example.org",
            name=name or f"Test User {counter['n']}",
            password=password,
            roles=list(roles) or ["participant"],
            timezone=timezone,
            **kw,
        )
        db.session.commit()
        return user

    return factory


@pytest.fixture
def organiser(make_user):
    """An organiser (a module may define its own, e.g. in another zone)."""
    return make_user("organiser", email="org@example.org")


@pytest.fixture
def login(client):
    """Sign a user in through the real login form."""

    def do(user, password: str = "correct-horse-battery"):
        resp = client.post("/login", data={"email": user.email, "password": password})
        assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
        return resp

    return do


# Browser tests -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    # The server's default zone (Config.DEFAULT_TIMEZONE): a guest's first page needs no second
    # rendering in the browser's zone (tests/e2e/test_guest_timezone_e2e.py covers that case).
    return {**browser_context_args, "timezone_id": "Asia/Bangkok"}


@pytest.fixture
def live_server(app):
    """Serve the test app on a loopback port in a thread, for Playwright."""
    from werkzeug.serving import make_server

    app.config["BASE_URL"] = "http://127.0.0.1"
    server = make_server("127.0.0.1", 0, app, threaded=True)
    port = server.server_port
    app.config["BASE_URL"] = f"http://127.0.0.1:{port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    thread.join(timeout=5)


def pytest_collection_modifyitems(config, items):
    """``@pytest.mark.postgres_only`` tests run only when TEST_DATABASE_URL is a PostgreSQL URL."""
    if os.environ.get("TEST_DATABASE_URL", "").startswith(("postgresql", "postgres:")):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: set TEST_DATABASE_URL=postgresql://...")
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)
