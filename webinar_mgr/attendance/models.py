from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webinar_mgr import clock
from webinar_mgr.extensions import db

# How a row came to belong to a registration (or not).
MATCH_EMAIL = "email"
MATCH_NAME = "name"
MATCH_LINKED = "linked"  # linked by hand by an organiser
MATCH_WALK_IN = "walk_in"  # added as a new registration
MATCH_IGNORED = "ignored"
MATCH_NONE = "unmatched"
SOURCE_IMPORT = "import"
SOURCE_CHECKIN = "checkin"


class AttendanceImport(db.Model):
    """One imported platform report for an event; importing again replaces it."""

    __tablename__ = "attendance_imports"
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"), index=True)
    format: Mapped[str] = mapped_column(sa.String(16))
    filename: Mapped[str] = mapped_column(sa.String(255))
    rows_read: Mapped[int] = mapped_column(default=0)
    people: Mapped[int] = mapped_column(default=0)
    matched: Mapped[int] = mapped_column(default=0)
    unmatched: Mapped[int] = mapped_column(default=0)
    attended: Mapped[int] = mapped_column(default=0)
    meta: Mapped[dict | None] = mapped_column(sa.JSON)
    imported_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    imported_at: Mapped[datetime] = mapped_column(default=clock.now)

    records: Mapped[list[AttendanceRecord]] = relationship(back_populates="import_", cascade="all, delete-orphan")


class AttendanceRecord(db.Model):
    """One person's presence at an event: merged platform sessions, or an in-person check-in."""

    __tablename__ = "attendance_records"
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"), index=True)
    import_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("attendance_imports.id", ondelete="CASCADE"), index=True
    )
    registration_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("registrations.id", ondelete="SET NULL"), index=True
    )
    source: Mapped[str] = mapped_column(sa.String(16), default=SOURCE_IMPORT)
    name: Mapped[str] = mapped_column(sa.String(300))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    minutes: Mapped[int] = mapped_column(default=0)
    first_join: Mapped[datetime | None]
    last_leave: Mapped[datetime | None]
    sessions: Mapped[list | None] = mapped_column(sa.JSON)
    match: Mapped[str] = mapped_column(sa.String(16), default=MATCH_NONE)
    attended: Mapped[bool] = mapped_column(default=False, index=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    import_: Mapped[AttendanceImport | None] = relationship(back_populates="records")
    registration = relationship("Registration", lazy="joined")

    __table_args__ = (
        sa.CheckConstraint("minutes >= 0", name="minutes_not_negative"),
        sa.Index("ix_attendance_records_event_registration", "event_id", "registration_id"),
    )
