"""Rendered activity reports, kept so that the same report is not rendered twice."""

from __future__ import annotations

from datetime import datetime

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
