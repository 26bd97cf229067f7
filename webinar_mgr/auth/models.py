from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webinar_mgr import clock
from webinar_mgr.extensions import db
from webinar_mgr.security import ADMIN, COCHAIR, ORGANISER, PARTICIPANT

# The role names live in webinar_mgr.security (the kernel); here only their labels.
ROLES = {
    ADMIN: _l("Administrator"),
    ORGANISER: _l("Organiser"),
    COCHAIR: _l("Co-chair"),
    PARTICIPANT: _l("Participant"),
}

user_roles = sa.Table(
    "user_roles",
    db.metadata,
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("role_id", sa.ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
)


class Role(db.Model):
    __tablename__ = "roles"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(32), unique=True)

    @property
    def label(self) -> str:
        return str(ROLES.get(self.name, self.name))


class User(UserMixin, db.Model):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    organisation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="SET NULL"), index=True
    )
    position: Mapped[str | None] = mapped_column(sa.String(200))
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC")
    language: Mapped[str] = mapped_column(sa.String(16), default="en")
    active: Mapped[bool] = mapped_column(default=True)
    # Bumped on password change: old sessions and reset links stop working.
    session_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    last_login_at: Mapped[datetime | None]

    roles: Mapped[list[Role]] = relationship(secondary=user_roles, lazy="selectin")
    organisation = relationship("Organisation", lazy="joined")

    # flask-login
    def get_id(self) -> str:
        return f"{self.id}.{self.session_version}"

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return bool(self.active)

    @property
    def role_names(self) -> set[str]:
        return {r.name for r in self.roles}

    def has_role(self, *names: str) -> bool:
        """True when the user holds any of ``names``; admins hold every role."""
        mine = self.role_names
        return ADMIN in mine or bool(mine.intersection(names))

    def __repr__(self) -> str:
        return f"<User {self.email}>"
