"""Top-level flask commands: create-admin and seed-demo. Modules add their own (worker, ...)."""

from __future__ import annotations

import importlib

import click
from flask import Flask, current_app

from webinar_mgr.extensions import db

# Modules whose seed.py has ``seed(echo)``, in dependency order.
SEED_MODULES = ("auth", "directory", "events", "registrations", "commitments", "attendance")


def register(app: Flask) -> None:
    @app.cli.command("create-admin")
    @click.option("--email", prompt=True)
    @click.option("--name", prompt=True, default="Administrator")
    @click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
    @click.option("--timezone", default="UTC", show_default=True)
    def create_admin(email: str, name: str, password: str, timezone: str) -> None:
        """Create the first administrator (or give an existing account the admin role)."""
        from webinar_mgr.auth import services as auth
        from webinar_mgr.errors import DomainError

        existing = auth.get_by_email(email)
        try:
            if existing:
                roles = auth.ensure_roles()
                if "admin" not in existing.role_names:
                    existing.roles.append(roles["admin"])
                auth.set_password(existing, password)
                db.session.commit()
                click.echo(f"{existing.email} is now an administrator; password updated.")
                return
            user = auth.create_user(
                email=email, name=name, password=password, roles=["admin", "organiser"], timezone=timezone
            )
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            raise click.ClickException(exc.message) from None
        click.echo(f"Administrator {user.email} created.")

    @app.cli.command("seed-demo")
    @click.option("--quiet", is_flag=True)
    def seed_demo(quiet: bool) -> None:
        """Load the demo data (development only; running it again changes nothing)."""
        if current_app.config["ENV_NAME"] != "development":
            raise click.ClickException("seed-demo is refused outside development (WEBINAR_ENV=development).")
        echo = (lambda *a, **k: None) if quiet else click.echo
        run_seed(echo)
        echo("")
        echo("Demo accounts (password: demo-password):")
        for email, role in DEMO_ACCOUNTS:
            echo(f"  {email:28s} {role}")


DEMO_ACCOUNTS = (
    ("admin@example.org", "administrator"),
    ("organiser@example.org", "organiser"),
    ("cochair@example.org", "co-chair"),
    ("participant@example.org", "participant"),
)


def run_seed(echo=click.echo) -> None:
    for module in SEED_MODULES:
        try:
            seed_mod = importlib.import_module(f"webinar_mgr.{module}.seed")
        except ModuleNotFoundError as exc:
            if exc.name == f"webinar_mgr.{module}.seed":
                continue
            raise
        seed_mod.seed(echo)
        db.session.commit()
