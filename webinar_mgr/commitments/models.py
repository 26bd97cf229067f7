from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webinar_mgr import clock, tokens
from webinar_mgr.extensions import db

KINDS = {
    "social_media_post": _l("Social media post"),
    "campaign": _l("Campaign"),
    "other": _l("Other"),
}
STATUS_PLEDGED = "pledged"
STATUS_IN_PROGRESS = "in_progress"
STATUS_DELIVERED = "delivered"
STATUS_WITHDRAWN = "withdrawn"
STATUSES = {
    STATUS_PLEDGED: _l("Pledged"),
    STATUS_IN_PROGRESS: _l("In progress"),
    STATUS_DELIVERED: _l("Delivered"),
    STATUS_WITHDRAWN: _l("Withdrawn"),
}


OPEN_STATUSES = (STATUS_PLEDGED, STATUS_IN_PROGRESS)


class Platform(db.Model):
    """X, Facebook, LinkedIn... (admin-extendable)."""

    __tablename__ = "platforms"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    label: Mapped[str] = mapped_column(sa.String(100))
    active: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)


class Commitment(db.Model):
    __tablename__ = "commitments"
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"), index=True)
    registration_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("registrations.id", ondelete="SET NULL"), index=True
    )
    contact_id: Mapped[int] = mapped_column(sa.ForeignKey("contacts.id", ondelete="RESTRICT"), index=True)
    organisation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="SET NULL"), index=True
    )
    member_government_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="SET NULL"), index=True
    )
    sector: Mapped[str | None] = mapped_column(sa.String(32), index=True)
    kind: Mapped[str] = mapped_column(sa.String(32))
    platforms: Mapped[list] = mapped_column(sa.JSON, default=list)
    languages: Mapped[list] = mapped_column(sa.JSON, default=list)
    audience: Mapped[str | None] = mapped_column(sa.String(300))
    description: Mapped[str] = mapped_column(sa.Text)
    target_date: Mapped[date] = mapped_column(index=True)
    public: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(sa.String(16), default=STATUS_PLEDGED, index=True)
    # Part of signed one-click update links; changing it kills old links.
    nonce: Mapped[str] = mapped_column(sa.String(32), default=tokens.new_nonce)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)
    delivered_at: Mapped[datetime | None]

    event = relationship("Event", lazy="joined")
    contact = relationship("Contact", lazy="joined")
    organisation = relationship("Organisation", foreign_keys=[organisation_id], lazy="joined")
    member_government = relationship("Organisation", foreign_keys=[member_government_id], lazy="joined")
    updates: Mapped[list[CommitmentUpdate]] = relationship(
        back_populates="commitment", order_by="CommitmentUpdate.at", cascade="all, delete-orphan"
    )
    evidence: Mapped[list[CommitmentEvidence]] = relationship(
        back_populates="commitment", order_by="CommitmentEvidence.id", cascade="all, delete-orphan"
    )

    __table_args__ = (
        sa.CheckConstraint("status IN ('pledged', 'in_progress', 'delivered', 'withdrawn')", name="status_known"),
        sa.CheckConstraint("kind IN ('social_media_post', 'campaign', 'other')", name="kind_known"),
    )

    @property
    def status_label(self) -> str:
        return str(STATUSES.get(self.status, self.status))

    @property
    def kind_label(self) -> str:
        return str(KINDS.get(self.kind, self.kind))

    def is_overdue(self, today: date | None = None) -> bool:
        today = today or clock.now().date()
        return self.status in OPEN_STATUSES and self.target_date < today


class CommitmentUpdate(db.Model):
    """A dated change of state (or a note) in a commitment's life."""

    __tablename__ = "commitment_updates"
    id: Mapped[int] = mapped_column(primary_key=True)
    commitment_id: Mapped[int] = mapped_column(sa.ForeignKey("commitments.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=clock.now)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    actor_label: Mapped[str | None] = mapped_column(sa.String(200))
    from_status: Mapped[str | None] = mapped_column(sa.String(16))
    to_status: Mapped[str] = mapped_column(sa.String(16))
    note: Mapped[str | None] = mapped_column(sa.Text)

    commitment: Mapped[Commitment] = relationship(back_populates="updates")


class CommitmentEvidence(db.Model):
    """A link to a delivered post or campaign, with optional reach figures."""

    __tablename__ = "commitment_evidence"
    id: Mapped[int] = mapped_column(primary_key=True)
    commitment_id: Mapped[int] = mapped_column(sa.ForeignKey("commitments.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(sa.String(2000))
    published_on: Mapped[date | None]
    views: Mapped[int | None]
    impressions: Mapped[int | None]
    shares: Mapped[int | None]
    note: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    commitment: Mapped[Commitment] = relationship(back_populates="evidence")

    __table_args__ = (
        sa.CheckConstraint("views IS NULL OR views >= 0", name="views_not_negative"),
        sa.CheckConstraint("impressions IS NULL OR impressions >= 0", name="impressions_not_negative"),
        sa.CheckConstraint("shares IS NULL OR shares >= 0", name="shares_not_negative"),
    )
