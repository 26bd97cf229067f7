"""The Forward Work Plan and the group's outputs (issue 17).

A :class:`WorkPlan` (e.g. "Forward Work Plan 2021-23") has a period and at most one plan is the
current one. Its :class:`Priority` rows (numbered 1..n) hold :class:`ActionItem` rows (numbered
across the plan, 1..11 in the demo), each with lead members (organisations), a target, a status
and dated :class:`ProgressNote` rows. Events, outputs and commitments contribute to action items
through link tables. An :class:`Output` (a compendium, a research paper, a survey...) has
:class:`OutputVersion` rows, one per language, each a stored file or a link.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from babel import Locale, UnknownLocaleError
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webinar_mgr import clock
from webinar_mgr.extensions import db

STATUS_NOT_STARTED = "not_started"
STATUS_IN_PROGRESS = "in_progress"
STATUS_DELIVERED = "delivered"
STATUSES = {
    STATUS_NOT_STARTED: _l("Not started"),
    STATUS_IN_PROGRESS: _l("In progress"),
    STATUS_DELIVERED: _l("Delivered"),
}

OUTPUT_KINDS = {
    "compendium": _l("Compendium"),
    "research": _l("Research paper"),
    "survey": _l("Survey"),
    "slides": _l("Slides"),
    "outcome_statement": _l("Outcome statement"),
    "recording": _l("Recording"),
    "other": _l("Other"),
}

# Languages an output's versions may be in: the region's languages (BCP 47 codes Babel knows).
OUTPUT_LANGUAGES = (
    "en",
    "bn",
    "fa",
    "fil",
    "hi",
    "id",
    "km",
    "lo",
    "ms",
    "my",
    "ne",
    "si",
    "ta",
    "th",
    "ur",
    "vi",
    "zh_Hans",
    "zh_Hant",
    "ar",
    "fr",
    "ps",
    "dv",
    "tet",
)


# Languages Babel has no data for.
_UNKNOWN_TO_BABEL = {"tet": _l("Tetum")}


def language_label(code: str, in_language: str | None = None) -> str:
    """The language's name in the reader's language ("Thai"), its own name in brackets when it
    differs ("Thai (ไทย)"), or the code when Babel does not know it."""
    if code in _UNKNOWN_TO_BABEL:
        return str(_UNKNOWN_TO_BABEL[code])
    try:
        loc = Locale.parse(code)
    except (ValueError, UnknownLocaleError):
        return code
    reader = in_language or str(get_locale() or "en")
    try:
        name = loc.get_display_name(reader) or code
    except (ValueError, UnknownLocaleError):
        name = loc.get_display_name("en") or code
    own = loc.get_display_name() or ""
    return f"{name} ({own})" if own and own != name else name


action_item_leads = sa.Table(
    "action_item_leads",
    db.metadata,
    sa.Column("action_item_id", sa.ForeignKey("action_items.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("organisation_id", sa.ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True),
)
action_item_events = sa.Table(
    "action_item_events",
    db.metadata,
    sa.Column("action_item_id", sa.ForeignKey("action_items.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("event_id", sa.ForeignKey("events.id", ondelete="CASCADE"), primary_key=True, index=True),
    # The event's free-text priority tag this link replaced (migration 0015), so that nothing is lost.
    sa.Column("migrated_from_tag", sa.String(500), nullable=True),
)
action_item_outputs = sa.Table(
    "action_item_outputs",
    db.metadata,
    sa.Column("action_item_id", sa.ForeignKey("action_items.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("output_id", sa.ForeignKey("outputs.id", ondelete="CASCADE"), primary_key=True, index=True),
)
action_item_commitments = sa.Table(
    "action_item_commitments",
    db.metadata,
    sa.Column("action_item_id", sa.ForeignKey("action_items.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("commitment_id", sa.ForeignKey("commitments.id", ondelete="CASCADE"), primary_key=True, index=True),
)
output_events = sa.Table(
    "output_events",
    db.metadata,
    sa.Column("output_id", sa.ForeignKey("outputs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("event_id", sa.ForeignKey("events.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class WorkPlan(db.Model):
    __tablename__ = "work_plans"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    period_start: Mapped[date]
    period_end: Mapped[date]
    current: Mapped[bool] = mapped_column(default=False)
    summary: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    priorities: Mapped[list[Priority]] = relationship(
        back_populates="plan", order_by="Priority.number", cascade="all, delete-orphan"
    )

    __table_args__ = (sa.CheckConstraint("period_end >= period_start", name="period_ordered"),)

    def covers(self, day: date) -> bool:
        return self.period_start <= day <= self.period_end


class Priority(db.Model):
    __tablename__ = "work_plan_priorities"
    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(sa.ForeignKey("work_plans.id", ondelete="CASCADE"), index=True)
    number: Mapped[int]
    title: Mapped[str] = mapped_column(sa.String(300))
    description: Mapped[str] = mapped_column(sa.Text, default="")

    plan: Mapped[WorkPlan] = relationship(back_populates="priorities")
    action_items: Mapped[list[ActionItem]] = relationship(
        back_populates="priority", order_by="ActionItem.number", cascade="all, delete-orphan"
    )

    __table_args__ = (
        sa.UniqueConstraint("plan_id", "number"),
        sa.CheckConstraint("number > 0", name="number_positive"),
    )


class ActionItem(db.Model):
    __tablename__ = "action_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    priority_id: Mapped[int] = mapped_column(sa.ForeignKey("work_plan_priorities.id", ondelete="CASCADE"), index=True)
    # Numbered across the plan (1..11), as the plan itself numbers them.
    number: Mapped[int]
    text: Mapped[str] = mapped_column(sa.Text)
    target: Mapped[str] = mapped_column(sa.String(300), default="")
    status: Mapped[str] = mapped_column(sa.String(16), default=STATUS_NOT_STARTED)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    priority: Mapped[Priority] = relationship(back_populates="action_items")
    leads = relationship("Organisation", secondary=action_item_leads, order_by="Organisation.name")
    events = relationship("Event", secondary=action_item_events, order_by="Event.starts_at")
    outputs: Mapped[list[Output]] = relationship(
        secondary=action_item_outputs, back_populates="action_items", order_by="Output.published_on"
    )
    commitments = relationship("Commitment", secondary=action_item_commitments, order_by="Commitment.id")
    notes: Mapped[list[ProgressNote]] = relationship(
        back_populates="action_item", order_by="(ProgressNote.noted_on, ProgressNote.id)", cascade="all, delete-orphan"
    )

    __table_args__ = (
        sa.CheckConstraint("status IN ('not_started', 'in_progress', 'delivered')", name="status_known"),
        sa.CheckConstraint("number > 0", name="number_positive"),
    )

    @property
    def status_label(self) -> str:
        return str(STATUSES.get(self.status, self.status))


class ProgressNote(db.Model):
    """A dated line of progress on an action item, with its author."""

    __tablename__ = "action_item_notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    action_item_id: Mapped[int] = mapped_column(sa.ForeignKey("action_items.id", ondelete="CASCADE"), index=True)
    noted_on: Mapped[date]
    text: Mapped[str] = mapped_column(sa.Text)
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    # The author's name as it was (kept when the account goes), or "Migrated" for the old tags.
    author_label: Mapped[str] = mapped_column(sa.String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    action_item: Mapped[ActionItem] = relationship(back_populates="notes")


class Output(db.Model):
    """A document or resource the group produces, with one version per language."""

    __tablename__ = "outputs"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(300))
    kind: Mapped[str] = mapped_column(sa.String(32), default="other")
    description: Mapped[str] = mapped_column(sa.Text, default="")
    # Published outputs appear on the public page; a draft is seen by organisers only.
    published: Mapped[bool] = mapped_column(default=False)
    published_on: Mapped[date | None] = mapped_column(index=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    versions: Mapped[list[OutputVersion]] = relationship(
        back_populates="output", order_by="OutputVersion.language", cascade="all, delete-orphan"
    )
    events = relationship("Event", secondary=output_events, order_by="Event.starts_at")
    action_items: Mapped[list[ActionItem]] = relationship(secondary=action_item_outputs, back_populates="outputs")

    __table_args__ = (
        sa.CheckConstraint(
            "kind IN ('compendium', 'research', 'survey', 'slides', 'outcome_statement', 'recording', 'other')",
            name="kind_known",
        ),
        sa.CheckConstraint("published = false OR published_on IS NOT NULL", name="published_dated"),
    )

    @property
    def kind_label(self) -> str:
        return str(OUTPUT_KINDS.get(self.kind, self.kind))


class OutputVersion(db.Model):
    """One language of an output: a file stored under OUTPUTS_DIR, or a link."""

    __tablename__ = "output_versions"
    id: Mapped[int] = mapped_column(primary_key=True)
    output_id: Mapped[int] = mapped_column(sa.ForeignKey("outputs.id", ondelete="CASCADE"), index=True)
    language: Mapped[str] = mapped_column(sa.String(16))
    published_on: Mapped[date]
    url: Mapped[str | None] = mapped_column(sa.String(2000))
    # A stored file: its random name under OUTPUTS_DIR, the name it was uploaded with, its checked type.
    stored_name: Mapped[str | None] = mapped_column(sa.String(100), unique=True)
    filename: Mapped[str | None] = mapped_column(sa.String(255))
    content_type: Mapped[str | None] = mapped_column(sa.String(100))
    size: Mapped[int | None]
    sha256: Mapped[str | None] = mapped_column(sa.String(64))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    output: Mapped[Output] = relationship(back_populates="versions")

    __table_args__ = (
        sa.UniqueConstraint("output_id", "language"),
        sa.CheckConstraint("(url IS NULL) <> (stored_name IS NULL)", name="file_or_link"),
    )

    @property
    def is_file(self) -> bool:
        return self.stored_name is not None

    @property
    def language_label(self) -> str:
        return language_label(self.language)
