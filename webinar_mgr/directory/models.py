from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webinar_mgr import clock
from webinar_mgr.extensions import db

SECTOR_MEMBER = "member_government"
SECTOR_OBSERVER = "observer"
SECTOR_PRIVATE = "private_sector"
SECTOR_CIVIL = "civil_society"
SECTOR_IO = "international_organisation"
SECTOR_SUPPORT = "support_office"
SECTORS = {
    SECTOR_MEMBER: _l("Member government"),
    SECTOR_OBSERVER: _l("Observer"),
    SECTOR_PRIVATE: _l("Private sector"),
    SECTOR_CIVIL: _l("Civil society"),
    SECTOR_IO: _l("International organisation"),
    SECTOR_SUPPORT: _l("Support office"),
}
_sector_list = ", ".join(f"'{s}'" for s in SECTORS)

contact_tags = sa.Table(
    "contact_tags",
    db.metadata,
    sa.Column("contact_id", sa.ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("tag_id", sa.ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
)


class Organisation(db.Model):
    """A member government, observer, company, NGO, international organisation or support office."""

    __tablename__ = "organisations"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    short_name: Mapped[str | None] = mapped_column(sa.String(64))
    sector: Mapped[str] = mapped_column(sa.String(32), index=True)
    country_code: Mapped[str | None] = mapped_column(sa.String(8))
    # Member of the Working Group itself (a subset of the process's members).
    working_group_member: Mapped[bool] = mapped_column(default=False)
    website: Mapped[str | None] = mapped_column(sa.String(500))
    notes: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    contacts: Mapped[list[Contact]] = relationship(back_populates="organisation")

    __table_args__ = (sa.CheckConstraint(f"sector IN ({_sector_list})", name="sector_known"),)

    @property
    def sector_label(self) -> str:
        return str(SECTORS.get(self.sector, self.sector))

    @property
    def is_member_government(self) -> bool:
        return self.sector == SECTOR_MEMBER

    def __repr__(self) -> str:
        return f"<Organisation {self.name}>"


class Tag(db.Model):
    __tablename__ = "tags"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(64), unique=True)


class Contact(db.Model):
    """A person in the directory: member focal point, guest, speaker..."""

    __tablename__ = "contacts"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), index=True)
    # Stored lower-case; unique so that a person is one contact.
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    organisation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="SET NULL"), index=True
    )
    position: Mapped[str | None] = mapped_column(sa.String(200))
    focal_point: Mapped[bool] = mapped_column(default=False)
    phone: Mapped[str | None] = mapped_column(sa.String(64))
    timezone: Mapped[str | None] = mapped_column(sa.String(64))
    notes: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    organisation: Mapped[Organisation | None] = relationship(back_populates="contacts", lazy="joined")
    tags: Mapped[list[Tag]] = relationship(secondary=contact_tags, lazy="selectin", order_by=Tag.name)

    @property
    def tag_names(self) -> list[str]:
        return [t.name for t in self.tags]

    @property
    def sector(self) -> str | None:
        return self.organisation.sector if self.organisation else None

    def __repr__(self) -> str:
        return f"<Contact {self.email}>"
