from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from webinar_mgr import clock
from webinar_mgr.extensions import db


def new_uuid() -> str:
    return uuid.uuid4().hex


class PendingUpload(db.Model):
    """An uploaded file kept between a preview and its confirmation (imports are two-step)."""

    __tablename__ = "pending_uploads"
    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=new_uuid)
    kind: Mapped[str] = mapped_column(sa.String(32))
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(sa.String(255))
    content: Mapped[bytes] = mapped_column(sa.LargeBinary)
    meta: Mapped[dict | None] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class Setting(db.Model):
    """Admin-editable settings (e.g. the region's main time zones)."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    value: Mapped[dict | list | str | None] = mapped_column(sa.JSON)
