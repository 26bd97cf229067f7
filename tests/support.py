"""Helpers shared by tests and the bench scripts (a plain module, not a test module)."""

from __future__ import annotations

from collections import Counter

import sqlalchemy as sa


class QueryCounter:
    """Count the SQL statements an engine runs inside a ``with`` block."""

    def __init__(self, engine):
        self.engine = engine
        self.count = 0
        self.statements: list[str] = []  # what ran, to show when a count is over

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        self.count += 1
        self.statements.append(" ".join(statement.split())[:160])

    def __enter__(self) -> QueryCounter:
        sa.event.listen(self.engine, "before_cursor_execute", self._before)
        return self

    def __exit__(self, *exc) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._before)


# The outbox's test helpers ----------------------------------------------------------------------


def queue_plain_mails(n: int, prefix: str) -> list[str]:
    """Queue and commit ``n`` one-line mails to ``<prefix>NNN@example.org``; returns the addresses."""
    # import here, as the helpers below do: bench scripts import this module and never queue mail
    from webinar_mgr.extensions import db
    from webinar_mgr.mail import services as mail

    addresses = [f"{prefix}{i:03d}@example.org" for i in range(n)]
    for address in addresses:
        mail.queue(address, f"Message for {address}", body_text="x")
    db.session.commit()
    return addresses


def deliveries(mailbox) -> Counter:
    """How many mails the test SMTP server received for each recipient."""
    return Counter(str(m["To"]) for m in list(mailbox.messages))


# The API's test helpers -------------------------------------------------------------------------


def token_for(user, *scopes, days=30) -> str:
    """A personal access token of ``user`` with ``scopes`` (the secret, shown once)."""
    # import here: tests.support is also imported by bench scripts that never touch the API
    from webinar_mgr.api import services as api_services

    return api_services.create_token(user, "test", list(scopes), days, actor=user).secret


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def problem(resp, status: int) -> dict:
    """The problem+json body of ``resp``, checked to carry ``status``."""
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/problem+json"
    body = resp.get_json(force=True)
    assert body["status"] == status and body["title"]
    return body


# A small directory for the invitation tests ---------------------------------------------------


def invitation_directory() -> dict:
    """Two member governments and an NGO with four contacts (two focal points, one tagged)."""
    # import here: as above (bench scripts import this module without an app)
    from webinar_mgr.directory.models import Contact, Organisation, Tag
    from webinar_mgr.extensions import db

    th = Organisation(name="Kingdom of Thailand", sector="member_government")
    ph = Organisation(name="Republic of the Philippines", sector="member_government")
    ngo = Organisation(name="Migrant Care Network", sector="civil_society")
    labour = Tag(name="labour-migration")
    db.session.add_all([th, ph, ngo, labour])
    db.session.flush()
    people = [
        Contact(
            name="Somchai P.",
            email="somchai@example.go.th",
            organisation_id=th.id,
            focal_point=True,
            timezone="Asia/Bangkok",
            tags=[labour],
        ),
        Contact(name="Niran K.", email="niran@example.go.th", organisation_id=th.id, focal_point=False),
        Contact(
            name="Maria Santos",
            email="maria@example.gov.ph",
            organisation_id=ph.id,
            focal_point=True,
            timezone="Asia/Manila",
            position="Director",
        ),
        Contact(name="Dewi L.", email="dewi@example.org", organisation_id=ngo.id, tags=[labour]),
    ]
    db.session.add_all(people)
    db.session.commit()
    return {"th": th, "ph": ph, "ngo": ngo}
