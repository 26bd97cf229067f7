from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from webinar_mgr import clock
from webinar_mgr.extensions import db

STATUS_QUEUED = "queued"
STATUS_SENDING = "sending"
STATUS_SENT = "sent"
STATUS_FAILED = "failed"
STATUSES = (STATUS_QUEUED, STATUS_SENDING, STATUS_SENT, STATUS_FAILED)


class OutboxMessage(db.Model):
    """A mail waiting to go, written in the same transaction as the change that causes it.

    ``dedupe_key`` (unique) makes "exactly once" mails such as reminders safe to queue twice.
    ``attachments`` is a list of {"filename", "mimetype", "content"} with text content
    (calendar entries) or base64 content (``"base64": true``).

    A worker claims a message by setting ``status`` to 'sending', ``claim_token`` to its round's
    random token and ``claimed_at`` to now (refreshed while it works: a heartbeat); every later
    change it makes is conditional on the token, so a message taken over by another worker after
    the claim expired is never sent nor recorded by the first one. ``last_attempt_at`` is when the
    last delivery attempt ended (sent, refused or failed).

    A row written by :func:`webinar_mgr.mail.deferred.queue_later` carries what the mail is about
    instead of its words: ``render_kind`` (which renderer) and ``render_data`` (ids and the facts at
    the time, as JSON). The worker renders subject, bodies and attachments just before delivery and
    then clears ``render_data``: a row still waiting to be rendered has ``render_data`` set and an
    empty ``body_text``, and its ``subject`` is a provisional one for the outbox page.
    """

    __tablename__ = "mail_outbox"
    id: Mapped[int] = mapped_column(primary_key=True)
    to_addr: Mapped[str] = mapped_column(sa.String(254), index=True)
    to_name: Mapped[str | None] = mapped_column(sa.String(200))
    subject: Mapped[str] = mapped_column(sa.String(500))
    body_text: Mapped[str] = mapped_column(sa.Text)
    body_html: Mapped[str | None] = mapped_column(sa.Text)
    attachments: Mapped[list | None] = mapped_column(sa.JSON)
    headers: Mapped[dict | None] = mapped_column(sa.JSON)
    category: Mapped[str] = mapped_column(sa.String(32), default="general", index=True)
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(200), unique=True)
    status: Mapped[str] = mapped_column(sa.String(16), default=STATUS_QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    next_attempt_at: Mapped[datetime] = mapped_column(default=clock.now)
    claimed_at: Mapped[datetime | None]
    claim_token: Mapped[str | None] = mapped_column(sa.String(32), index=True)
    last_attempt_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    render_kind: Mapped[str | None] = mapped_column(sa.String(40))
    render_data: Mapped[dict | None] = mapped_column(sa.JSON(none_as_null=True))  # cleared: SQL NULL

    __table_args__ = (
        sa.CheckConstraint("status IN ('queued', 'sending', 'sent', 'failed')", name="status_known"),
        sa.Index("ix_mail_outbox_due", "status", "next_attempt_at", "id"),  # the claim's order (0025)
    )
