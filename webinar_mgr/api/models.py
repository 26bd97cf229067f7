"""The API's tables: personal access tokens, webhook endpoints and their delivery queue."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webinar_mgr import clock
from webinar_mgr.extensions import db

DELIVERY_QUEUED = "queued"
DELIVERY_SENDING = "sending"
DELIVERY_DELIVERED = "delivered"
DELIVERY_FAILED = "failed"
DELIVERY_STATUSES = (DELIVERY_QUEUED, DELIVERY_SENDING, DELIVERY_DELIVERED, DELIVERY_FAILED)


class ApiToken(db.Model):
    """A personal access token. Only the SHA-256 of the token is stored (the token itself carries
    256 random bits, so a plain hash cannot be reversed by guessing); ``prefix`` is its first
    characters, shown in the list so that its owner can tell tokens apart."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    prefix: Mapped[str] = mapped_column(sa.String(16))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    scopes: Mapped[list] = mapped_column(sa.JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    expires_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user = relationship("User", lazy="joined")

    def is_usable(self, now: datetime) -> bool:
        return self.revoked_at is None and self.expires_at > now


class WebhookEndpoint(db.Model):
    """A URL that receives the chosen kinds of event (``event_types``), signed with ``secret``."""

    __tablename__ = "webhook_endpoints"
    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(sa.String(1000))
    description: Mapped[str | None] = mapped_column(sa.String(200))
    secret: Mapped[str] = mapped_column(sa.String(100))
    event_types: Mapped[list] = mapped_column(sa.JSON, default=list)
    active: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class WebhookDelivery(db.Model):
    """One event for one endpoint, written in the transaction of the change (like the outbox).

    ``message_id`` is the event's id, the same on every attempt (receivers drop repeats by it);
    the unique (endpoint, message) pair means one event is queued once per endpoint. ``body`` is
    fixed when queued, so every attempt sends (and signs) the same bytes. A worker claims a row by
    setting ``status`` 'sending' and its ``claim_token`` in one conditional UPDATE."""

    __tablename__ = "webhook_deliveries"
    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[str] = mapped_column(sa.String(36))
    event_type: Mapped[str] = mapped_column(sa.String(64))
    body: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(16), default=DELIVERY_QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=clock.now)
    claim_token: Mapped[str | None] = mapped_column(sa.String(32), index=True)
    claimed_at: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    delivered_at: Mapped[datetime | None]

    endpoint: Mapped[WebhookEndpoint] = relationship(lazy="joined")

    __table_args__ = (
        sa.CheckConstraint("status IN ('queued', 'sending', 'delivered', 'failed')", name="status_known"),
        sa.UniqueConstraint("endpoint_id", "message_id"),
        sa.Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )
