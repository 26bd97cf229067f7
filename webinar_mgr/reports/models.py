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
