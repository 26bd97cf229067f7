"""The privacy module's tables: the notice's versions, consent records and retention periods."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from webinar_mgr import clock
from webinar_mgr.extensions import db

PURPOSE_REGISTER = "register"  # to register and be kept in the working group's directory
PURPOSE_PUBLIC = "public"  # to appear on public pages (public commitments, published lists)
PURPOSES = (PURPOSE_REGISTER, PURPOSE_PUBLIC)

# Kinds of data with a retention period (days), each with its default.
KIND_REGISTRATIONS = "registrations"  # guests' registrations and attendance records
KIND_ACCESSIBILITY = "accessibility"  # accessibility needs given at registration
KIND_UPLOADS = "uploads"  # raw uploaded attendance reports waiting for confirmation
KIND_AUDIT = "audit"  # audit entries
KIND_MAIL = "mail"  # mail bodies in the outbox, after delivery (or final failure)
KINDS = (KIND_REGISTRATIONS, KIND_ACCESSIBILITY, KIND_UPLOADS, KIND_AUDIT, KIND_MAIL)
DEFAULT_DAYS = {
    KIND_REGISTRATIONS: 3 * 365,
    KIND_ACCESSIBILITY: 30,
    KIND_UPLOADS: 7,
    KIND_AUDIT: 2 * 365,
    KIND_MAIL: 30,
}
MIN_DAYS = 1
MAX_DAYS = 10 * 365
_kind_list = ", ".join(f"'{k}'" for k in KINDS)


class PrivacyNotice(db.Model):
    """A version of the privacy notice written by an administrator (version 0 is the notice built
    into the application, used until an administrator writes one). Never changed once saved: an
    edit is a new version, so a consent record names exactly the text the person saw."""

    __tablename__ = "privacy_notices"
    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(unique=True)
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    __table_args__ = (sa.CheckConstraint("version >= 1", name="version_positive"),)


class ConsentRecord(db.Model):
    """What a person agreed to (or withdrew), when, and under which version of the notice. Rows are
    only added: the latest row per (contact, purpose) is the person's current answer."""

    __tablename__ = "consent_records"
    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(sa.ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    registration_id: Mapped[int | None] = mapped_column(sa.ForeignKey("registrations.id", ondelete="SET NULL"))
    purpose: Mapped[str] = mapped_column(sa.String(16))
    granted: Mapped[bool]
    notice_version: Mapped[int]
    source: Mapped[str] = mapped_column(sa.String(32))
    at: Mapped[datetime] = mapped_column(default=clock.now)

    __table_args__ = (
        sa.CheckConstraint("purpose IN ('register', 'public')", name="purpose_known"),
        sa.CheckConstraint("notice_version >= 0", name="notice_version_not_negative"),
        sa.Index("ix_consent_records_contact_purpose", "contact_id", "purpose", "at"),
    )


class RetentionPeriod(db.Model):
    """How long one kind of data is kept, in days (a missing row: the default)."""

    __tablename__ = "retention_periods"
    kind: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    days: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    __table_args__ = (
        sa.CheckConstraint(f"kind IN ({_kind_list})", name="kind_known"),
        sa.CheckConstraint(f"days BETWEEN {MIN_DAYS} AND {MAX_DAYS}", name="days_in_range"),
    )
