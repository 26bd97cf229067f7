from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy import event, orm
from sqlalchemy.ext.hybrid import hybrid_property
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

# How an organisation the directory did not know came in (None: curated by the secretariat).
ADDED_VIA = {
    "registration": _l("registration"),
    "invitation": _l("invitation"),
    "import": _l("import"),
    "walk_in": _l("walk-in"),
}
_added_via_list = ", ".join(f"'{s}'" for s in ADDED_VIA)

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
    # A government agency (sector member_government) names the member government it belongs to;
    # the member governments themselves (curated, no parent) and every other sector leave it empty.
    member_government_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="SET NULL"), index=True
    )
    # Added by a person (registration, invitation, import, walk-in) rather than by the secretariat:
    # kept, counted, and listed for review until someone looks at it.
    added_via: Mapped[str | None] = mapped_column(sa.String(16))
    needs_review: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    reviewed_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    contacts: Mapped[list[Contact]] = relationship(back_populates="organisation")
    # The Working Group membership over time (``working_group_member`` is "a member today", kept in
    # step by directory/membership.py; reports for a past period ask ``membership.members_on``).
    memberships: Mapped[list[WorkingGroupMembership]] = relationship(
        back_populates="organisation",
        cascade="all, delete-orphan",
        order_by=lambda: (WorkingGroupMembership.joined_on.asc().nulls_first(), WorkingGroupMembership.id),
        passive_deletes=True,
    )
    member_government: Mapped[Organisation | None] = relationship(remote_side=[id], foreign_keys=[member_government_id])

    __table_args__ = (
        sa.CheckConstraint(f"sector IN ({_sector_list})", name="sector_known"),
        sa.CheckConstraint(f"added_via IS NULL OR added_via IN ({_added_via_list})", name="added_via_known"),
        sa.CheckConstraint(
            f"member_government_id IS NULL OR (sector = '{SECTOR_MEMBER}' AND member_government_id <> id)",
            name="member_government_only_for_agencies",
        ),
    )

    @property
    def sector_label(self) -> str:
        return str(SECTORS.get(self.sector, self.sector))

    @property
    def added_via_label(self) -> str:
        return str(ADDED_VIA.get(self.added_via, self.added_via or ""))

    @hybrid_property
    def is_member_government(self) -> bool:
        """One of the member governments themselves: the curated organisations of the sector
        "member government" that belong to no other (an agency names its member government; an
        organisation a person added is never a member government by itself)."""
        return self.sector == SECTOR_MEMBER and self.member_government_id is None and self.added_via is None

    @is_member_government.inplace.expression
    @classmethod
    def _is_member_government_expression(cls):
        return sa.and_(cls.sector == SECTOR_MEMBER, cls.member_government_id.is_(None), cls.added_via.is_(None))

    @hybrid_property
    def counted_member_government_id(self) -> int | None:
        """The id of the member government a person of this organisation counts under (see
        ``services.member_government_of``); usable in queries as well."""
        if self.member_government_id is not None:
            return self.member_government_id
        return self.id if self.is_member_government else None

    @counted_member_government_id.inplace.expression
    @classmethod
    def _counted_member_government_id_expression(cls):
        return sa.case(
            (cls.member_government_id.is_not(None), cls.member_government_id),
            (cls.is_member_government, cls.id),
            else_=None,
        )

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
    # The language of the mails sent to this person (an offered code, config LANGUAGES); None: English.
    language: Mapped[str | None] = mapped_column(sa.String(16))
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


class WorkingGroupMembership(db.Model):
    """A member government's time in the Working Group itself: joined on ``joined_on`` (None: before
    the records began, e.g. the flag the directory kept before memberships had dates), left on
    ``left_on`` (None: still a member). A member government outside every membership on a day is,
    that day, one of the other Bali Process members. The day of leaving no longer counts."""

    __tablename__ = "working_group_memberships"
    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    joined_on: Mapped[date | None] = mapped_column(sa.Date)
    left_on: Mapped[date | None] = mapped_column(sa.Date)
    note: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    organisation: Mapped[Organisation] = relationship(back_populates="memberships")

    __table_args__ = (
        sa.CheckConstraint(
            "left_on IS NULL OR joined_on IS NULL OR left_on > joined_on", name="membership_dates_ordered"
        ),
    )

    def covers(self, day: date) -> bool:
        return (self.joined_on is None or self.joined_on <= day) and (self.left_on is None or day < self.left_on)


# Keeping the flag and the membership periods in step (directory/membership.py says why) ------------


@event.listens_for(orm.Session, "before_flush")
def _follow_the_flag(session, _context, _instances) -> None:
    """A flag set or cleared by any writer (the directory form, the CSV import, the API, the seed,
    a test) becomes a dated membership, so the history is never lost."""
    today = clock.now().date()
    for obj in list(session.new):
        if isinstance(obj, Organisation) and obj.working_group_member and not obj.memberships:
            # No date given: a member "since before the records" (the same as the migration's rows).
            obj.memberships.append(WorkingGroupMembership(joined_on=None))
    for obj in list(session.dirty):
        if not isinstance(obj, Organisation):
            continue
        history = sa.inspect(obj).attrs.working_group_member.history
        if not history.has_changes():
            continue
        current = [m for m in obj.memberships if m.covers(today)]
        if obj.working_group_member and not current:
            obj.memberships.append(WorkingGroupMembership(joined_on=today))
        elif not obj.working_group_member:
            for m in current:
                if m.joined_on == today:
                    obj.memberships.remove(m)  # joined and left the same day: never a member
                else:
                    m.left_on = today
