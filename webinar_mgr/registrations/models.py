from __future__ import annotations

import secrets
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy import orm
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webinar_mgr import clock, tokens
from webinar_mgr.extensions import db

STATUS_PENDING = "pending"  # waiting for an organiser's approval
STATUS_CONFIRMED = "confirmed"
STATUS_WAITLISTED = "waitlisted"
STATUS_REJECTED = "rejected"
STATUS_CANCELLED = "cancelled"
# Holding or waiting for a seat.
ACTIVE = (STATUS_PENDING, STATUS_CONFIRMED, STATUS_WAITLISTED)
STATUSES = {
    STATUS_PENDING: _l("Awaiting approval"),
    STATUS_CONFIRMED: _l("Confirmed"),
    STATUS_WAITLISTED: _l("Waiting list"),
    STATUS_REJECTED: _l("Not approved"),
    STATUS_CANCELLED: _l("Cancelled"),
}


class Registration(db.Model):
    """One person's registration for one event. Every registrant is also a directory contact."""

    __tablename__ = "registrations"
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int] = mapped_column(sa.ForeignKey("contacts.id", ondelete="RESTRICT"), index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    invitation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("invitations.id", ondelete="SET NULL"))
    # Lower-cased; unique per event (the database enforces one registration per email per event).
    email: Mapped[str] = mapped_column(sa.String(254))
    name: Mapped[str] = mapped_column(sa.String(200))
    organisation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="SET NULL"), index=True
    )
    organisation_name: Mapped[str | None] = mapped_column(sa.String(200))
    sector: Mapped[str | None] = mapped_column(sa.String(32), index=True)
    member_government_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="SET NULL"), index=True
    )
    position: Mapped[str | None] = mapped_column(sa.String(200))
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC")
    # The interface's language when they registered: their mails' language unless their contact
    # or profile names one (issue 13).
    language: Mapped[str | None] = mapped_column(sa.String(16))
    accessibility_needs: Mapped[str | None] = mapped_column(sa.Text)
    consent_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(sa.String(16), default=STATUS_CONFIRMED, index=True)
    # Part of the signed "manage my registration" link.
    nonce: Mapped[str] = mapped_column(sa.String(32), default=tokens.new_nonce)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)
    confirmed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]

    event = relationship("Event", lazy="joined")
    contact = relationship("Contact", lazy="joined")
    invitation = relationship("Invitation", lazy="select")
    organisation = relationship("Organisation", foreign_keys=[organisation_id], lazy="joined")
    member_government = relationship("Organisation", foreign_keys=[member_government_id], lazy="joined")

    __table_args__ = (
        sa.UniqueConstraint("event_id", "email"),
        sa.CheckConstraint(
            "status IN ('pending', 'confirmed', 'waitlisted', 'rejected', 'cancelled')", name="status_known"
        ),
        sa.Index("ix_registrations_event_status", "event_id", "status", "created_at"),
    )

    @property
    def status_label(self) -> str:
        return str(STATUSES.get(self.status, self.status))

    @property
    def is_active(self) -> bool:
        return self.status in (STATUS_PENDING, STATUS_CONFIRMED, STATUS_WAITLISTED)


def with_its_event_only() -> tuple:
    """Loader options: a registration with its event's own columns in one statement, nothing else
    (the other relations are read when used). For changes that show nothing (issue 19)."""
    return (orm.lazyload("*"), orm.joinedload(Registration.event).lazyload("*"))


class CalendarFeed(db.Model):
    """A participant's secret calendar feed (one per email)."""

    __tablename__ = "calendar_feeds"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    token: Mapped[str] = mapped_column(sa.String(64), unique=True, default=lambda: secrets.token_urlsafe(32))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
