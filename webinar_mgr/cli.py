"""Top-level flask commands: create-admin and seed-demo. Modules add their own (worker, ...)."""

from __future__ import annotations

import importlib

import click
from flask import Flask, current_app

from webinar_mgr.auth import services as auth
from webinar_mgr.errors import DomainError
from webinar_mgr.layers import MODULES
from webinar_mgr.persistence import unit_of_work


def register(app: Flask) -> None:
    @app.cli.command("create-admin")
    @click.option("--email", prompt=True)
    @click.option("--name", prompt=True, default="Administrator")
    @click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
    @click.option("--timezone", default="UTC", show_default=True)
    def create_admin(email: str, name: str, password: str, timezone: str) -> None:
        """Create the first administrator (or give an existing account the admin role)."""
        try:
            user, created = auth.create_or_promote_admin(email=email, name=name, password=password, timezone=timezone)
        except DomainError as exc:
            raise click.ClickException(exc.message) from None
        if created:
            click.echo(f"Administrator {user.email} created.")
        else:
            click.echo(f"{user.email} is now an administrator; password updated.")

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
    """Each module's ``seed.seed(echo)``, in the order of ``layers.MODULES`` (lower layers first),
    one unit of work per module."""
    for module in MODULES:
        try:
            seed_mod = importlib.import_module(f"webinar_mgr.{module}.seed")
        except ModuleNotFoundError as exc:
            if exc.name == f"webinar_mgr.{module}.seed":
                continue
            raise
        with unit_of_work():
            seed_mod.seed(echo)
