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
# Decisions an organiser made about a row: such rows are never dropped by an import, a replace or
# an undo (a replace keeps their sessions; an undo leaves them with the sessions that remain).
MANUAL_MATCHES = (MATCH_LINKED, MATCH_WALK_IN)
# How an import was combined with what was there.
MODE_MERGE = "merge"
MODE_REPLACE = "replace"


class AttendanceImport(db.Model):
    """One imported platform report for an event. Its sessions are merged with the other imports'
    (``mode`` merge) or take their place (``mode`` replace: the other imports' sessions of people
    nobody linked by hand are marked removed by this import). An import can be undone: its
    sessions stop counting and the sessions it removed count again. The counts are the report's
    own at the time of the import; ``effect`` is what it changed for the event."""

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
    # SHA-256 of the file as uploaded: the same file imported again changes nothing.
    content_hash: Mapped[str | None] = mapped_column(sa.String(64))
    mode: Mapped[str] = mapped_column(sa.String(16), default=MODE_MERGE)
    # What the import changed for the event (attended before/after, new, removed, sessions...).
    effect: Mapped[dict | None] = mapped_column(sa.JSON)
    undone_at: Mapped[datetime | None]
    undone_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    records: Mapped[list[AttendanceRecord]] = relationship(back_populates="import_", cascade="all, delete-orphan")
    imported_by = relationship("User", foreign_keys=[imported_by_id], lazy="joined")

    __table_args__ = (
        sa.CheckConstraint(f"mode IN ('{MODE_MERGE}', '{MODE_REPLACE}')", name="mode_known"),
        sa.Index("ix_attendance_imports_event_content_hash", "event_id", "content_hash"),
    )

    @property
    def active(self) -> bool:
        return self.undone_at is None


class AttendanceRecord(db.Model):
    """One person's presence at an event: the merged sessions of every import that lists them
    (``person_key``: the email, else the normalised name), or an in-person check-in. ``minutes``,
    ``first_join``, ``last_leave``, ``attended`` and ``country`` are recomputed from the active
    sessions whenever an import adds or removes some; ``import_id`` is the import that first
    listed the person."""

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
    person_key: Mapped[str | None] = mapped_column(sa.String(320))
    name: Mapped[str] = mapped_column(sa.String(300))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    country: Mapped[str | None] = mapped_column(sa.String(100))
    minutes: Mapped[int] = mapped_column(default=0)
    first_join: Mapped[datetime | None]
    last_leave: Mapped[datetime | None]
    match: Mapped[str] = mapped_column(sa.String(16), default=MATCH_NONE)
    attended: Mapped[bool] = mapped_column(default=False, index=True)
    # Active sessions behind the row (0: every import that listed the person was undone or replaced;
    # such a row is kept, so that a decision about it survives, but not shown or counted).
    session_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    import_: Mapped[AttendanceImport | None] = relationship(back_populates="records")
    registration = relationship("Registration", lazy="joined")
    sessions: Mapped[list[AttendanceSession]] = relationship(
        back_populates="record",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by=lambda: (AttendanceSession.join_at, AttendanceSession.line, AttendanceSession.id),
    )

    __table_args__ = (
        sa.CheckConstraint("minutes >= 0", name="minutes_not_negative"),
        sa.CheckConstraint("session_count >= 0", name="session_count_not_negative"),
        sa.Index("ix_attendance_records_event_registration", "event_id", "registration_id"),
        sa.UniqueConstraint("event_id", "person_key"),
    )

    @property
    def shown(self) -> bool:
        """Listed and counted: a check-in, a row with sessions, or a row an organiser linked."""
        return self.source == SOURCE_CHECKIN or self.session_count > 0 or self.match in MANUAL_MATCHES


class AttendanceSession(db.Model):
    """One join-to-leave session of a person, as one import read it (its provenance). A session
    counts while its import is not undone and no later replace removed it (``removed_by_id``)."""

    __tablename__ = "attendance_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(sa.ForeignKey("attendance_records.id", ondelete="CASCADE"), index=True)
    import_id: Mapped[int] = mapped_column(sa.ForeignKey("attendance_imports.id", ondelete="CASCADE"), index=True)
    join_at: Mapped[datetime | None]
    leave_at: Mapped[datetime | None]
    # The duration the report wrote, in minutes; counts only for a session without both times.
    duration: Mapped[float | None] = mapped_column(sa.Float)
    role: Mapped[str] = mapped_column(sa.String(32), default="attendee")
    line: Mapped[int] = mapped_column(default=0)
    country: Mapped[str | None] = mapped_column(sa.String(100))
    removed_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("attendance_imports.id", ondelete="SET NULL"), index=True
    )

    record: Mapped[AttendanceRecord] = relationship(back_populates="sessions")

    __table_args__ = (
        sa.CheckConstraint("join_at IS NULL OR leave_at IS NULL OR leave_at >= join_at", name="leave_not_before_join"),
    )


class AttendanceStagedPerson(db.Model):
    """One person of a report waiting for confirmation (``core.PendingUpload``, kind attendance),
    as the parser read them at upload (JSON: name, email, minutes, sessions...): the report is
    parsed once, and the preview reads one page of these, the confirmation all of them."""

    __tablename__ = "attendance_staged_people"
    id: Mapped[int] = mapped_column(primary_key=True)
    upload_id: Mapped[str] = mapped_column(sa.ForeignKey("pending_uploads.id", ondelete="CASCADE"))
    position: Mapped[int]
    data: Mapped[list] = mapped_column(sa.JSON)

    __table_args__ = (sa.UniqueConstraint("upload_id", "position"),)


class Certificate(db.Model):
    """A certificate of attendance (issue 15): one per registration whose attendance is recorded,
    with a random code for its public verification page. ``send_requested_at``: an organiser asked
    to mail it; the worker renders the PDF and queues the mail (``sent_at``)."""

    __tablename__ = "certificates"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"), index=True)
    registration_id: Mapped[int] = mapped_column(
        sa.ForeignKey("registrations.id", ondelete="CASCADE"), unique=True, index=True
    )
    issued_at: Mapped[datetime] = mapped_column(default=clock.now)
    send_requested_at: Mapped[datetime | None] = mapped_column(index=True)
    sent_at: Mapped[datetime | None]
