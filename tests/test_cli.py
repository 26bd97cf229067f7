"""flask seed-demo: development only, idempotent, prints the demo accounts."""

from __future__ import annotations

import sqlalchemy as sa

from webinar_mgr import create_app
from webinar_mgr.auth import services as auth
from webinar_mgr.auth.models import User
from webinar_mgr.directory.models import Contact, Organisation
from webinar_mgr.extensions import db


def _counts():
    db.session.expire_all()
    return tuple(db.session.scalar(sa.select(sa.func.count()).select_from(m)) for m in (User, Organisation, Contact))


def test_seed_demo_is_refused_outside_development(app):
    result = app.test_cli_runner().invoke(args=["seed-demo"])  # the testing config
    assert result.exit_code != 0
    assert "refused outside development" in result.output
    assert _counts() == (0, 0, 0)


def test_seed_demo_is_refused_in_production(migrated, app):
    from config import ProductionConfig

    class Prod(ProductionConfig):
        SECRET_KEY = "a-real-secret-for-this-test-only"
        SQLALCHEMY_DATABASE_URI = migrated
        BASE_URL = "https://events.example.org"

    prod = create_app(Prod)
    with prod.app_context():  # the CLI runs in the current app context
        result = prod.test_cli_runner().invoke(args=["seed-demo"])
        assert result.exit_code != 0 and "refused outside development" in result.output
        assert _counts() == (0, 0, 0)


def test_seed_demo_is_idempotent_and_prints_the_accounts(migrated, app, smtp_server):
    dev = create_app(
        "development",
        SQLALCHEMY_DATABASE_URI=migrated,
        PASSWORD_HASH_FAST=True,
        MAIL_BACKEND="smtp",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp_server["port"],
    )
    runner = dev.test_cli_runner()
    ctx = dev.app_context()  # the CLI runs in the current app context
    ctx.push()
    try:
        _seed_twice(runner)
    finally:
        db.session.remove()
        ctx.pop()


def _seed_twice(runner):
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    for email in ("admin@example.org", "organiser@example.org", "cochair@example.org", "participant@example.org"):
        assert email in first.output
    assert "demo-password" in first.output
    after_first = _counts()
    users, orgs, contacts = after_first
    assert users >= 4 and orgs >= 45 and contacts >= 50  # the directory seed: member list and contacts

    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0, second.output
    assert _counts() == after_first
    assert auth.authenticate("organiser@example.org", "demo-password").has_role("organiser")
