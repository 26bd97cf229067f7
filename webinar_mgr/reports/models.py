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
