"""Rendered activity reports, kept so that the same report is not rendered twice."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from webinar_mgr import clock
from webinar_mgr.extensions import db


class RenderedReport(db.Model):
    """A rendered PDF keyed by the SHA-256 of its HTML (which holds the data, the charts, the
    date of issue and the language): equal HTML, equal PDF."""

    __tablename__ = "rendered_reports"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(32))
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    content: Mapped[bytes] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=clock.now, index=True)

    __table_args__ = (sa.UniqueConstraint("kind", "content_hash"),)


class StatementVersion(db.Model):
    """A saved version of the co-chairs' statement for a period: the text of every section as the
    co-chairs left it, and the text generated from the data when they saved (so the page can say
    which sections' figures have changed since)."""

    __tablename__ = "statement_versions"
    id: Mapped[int] = mapped_column(primary_key=True)
    period_start: Mapped[date] = mapped_column(sa.Date)
    period_end: Mapped[date] = mapped_column(sa.Date)
    number: Mapped[int] = mapped_column()
    sections: Mapped[dict] = mapped_column(sa.JSON)
    generated: Mapped[dict] = mapped_column(sa.JSON)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_by_name: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    __table_args__ = (
        sa.CheckConstraint("period_end >= period_start", name="period_ordered"),
        sa.CheckConstraint("number > 0", name="number_positive"),
        sa.UniqueConstraint("period_start", "period_end", "number"),
    )


REPORT_JOB_STATUSES = ("queued", "running", "done", "failed")


class ReportJob(db.Model):
    """A report built by the worker (issue 19): a long period's activity report takes seconds to
    tens of seconds, so the page queues it, shows its progress and offers the file when done.
    ``parameters`` hold what the build needs (the period, "stopped coming", the language and zone
    of the person who asked); the finished file is kept in ``content`` until ``expires_at``."""

    __tablename__ = "report_jobs"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(32))
    parameters: Mapped[dict] = mapped_column(sa.JSON)
    requested_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    status: Mapped[str] = mapped_column(sa.String(16), default="queued", index=True)
    progress: Mapped[int] = mapped_column(default=0)
    message: Mapped[str] = mapped_column(sa.String(500), default="")
    filename: Mapped[str] = mapped_column(sa.String(200), default="")
    content: Mapped[bytes | None] = mapped_column(sa.LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    expires_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status_known"),
        sa.CheckConstraint("progress >= 0 AND progress <= 100", name="progress_range"),
    )


# The review's figures kept per event (issue 19) ----------------------------------------------------
#
# The period review's counts per event, sector and member government (registered, confirmed,
# invited and registered, attended) are read from ``review_kept_figures`` instead of joining every
# registration of the period with its attendance. Each event has a *version*: the database itself
# raises it, and deletes the event's kept figures, whenever a row of ``registrations`` or
# ``attendance_records`` of the event is inserted, deleted or updated in a column the review
# counts, by any path (a service, a bulk statement, a foreign key's cascade or SET NULL, an
# erasure, a merge of organisations), and when the event is deleted (triggers of migration 0024,
# on PostgreSQL and SQLite). The review reads an event's figures only at its current version; it
# counts the events without them afresh and keeps the result (``queries.period_registrations``).


class ReviewEventVersion(db.Model):
    """The version of an event's registrations and attendance, raised by the database's triggers
    (no row: version 0). No foreign key: a trigger raises it while the event's rows are deleted
    by the event's own deletion."""

    __tablename__ = "review_event_versions"
    event_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(default=0)


class ReviewKeptFigure(db.Model):
    """One group of an event's registrations counted at ``version``: its sector ('unknown' for
    none) and member government (0 for none), the registrations active, confirmed, active and
    invited, and attended (at least one attendance record of the event marked attended). Every
    event counted has one more row, with the sector '' and zeros: the mark that its figures at
    that version are kept (an event without registrations has only that one). No foreign key (its
    checks took 30-38 ms for the bench's 4,600 rows): the event's deletion deletes them (trigger)."""

    __tablename__ = "review_kept_figures"
    event_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    sector: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    member_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    registered: Mapped[int] = mapped_column()
    confirmed: Mapped[int] = mapped_column()
    invited_registered: Mapped[int] = mapped_column()
    attended: Mapped[int] = mapped_column()
