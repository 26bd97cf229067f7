"""``flask api token create --user EMAIL --scopes events:read,registrations:read [--days N]``."""

from __future__ import annotations

import click
from flask import Flask

from webinar_mgr.errors import DomainError

from . import services, webhooks


def register(app: Flask) -> None:
    group = click.Group("api", help="The JSON API: personal access tokens, webhooks.")
    tokens = click.Group("token", help="Personal access tokens.")

    @tokens.command("create")
    @click.option("--user", "email", required=True, help="The owner's email address.")
    @click.option("--scopes", required=True, help="Comma-separated, e.g. events:read,registrations:read")
    @click.option("--days", type=int, default=services.DEFAULT_DAYS, show_default=True, help="Valid for N days.")
    @click.option("--name", default="command line", show_default=True, help="What the token is for.")
    def create(email: str, scopes: str, days: int, name: str) -> None:
        """Create a token and print it (once: only its hash is kept). Audited, with no actor."""
        try:
            user = services.user_by_email(email)
            new = services.create_token(
                user, name, [s.strip() for s in scopes.split(",") if s.strip()], days, actor=None
            )
        except DomainError as exc:
            detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.field_errors.items()) or exc.message
            raise click.ClickException(detail) from None
        click.echo(new.secret)
        click.echo(
            f"# {new.token.name}: {', '.join(new.token.scopes)}; expires {new.token.expires_at:%Y-%m-%d %H:%M} UTC",
            err=True,
        )

    @group.command("deliver-webhooks")
    def deliver() -> None:
        """Deliver the due webhooks once (the worker does this every round)."""
        counts = webhooks.deliver_due()
        click.echo(" ".join(f"{k}={v}" for k, v in counts.items()))

    group.add_command(tokens)
    app.cli.add_command(group)
