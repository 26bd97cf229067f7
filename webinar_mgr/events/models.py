from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import NamedTuple

import sqlalchemy as sa
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webinar_mgr import clock
from webinar_mgr.extensions import db
from webinar_mgr.i18n import format_list

STATUS_DRAFT = "draft"
STATUS_TBC = "tbc"
STATUS_SCHEDULED = "scheduled"
STATUS_HELD = "held"
STATUS_CANCELLED = "cancelled"
STATUSES = {
    STATUS_DRAFT: _l("Draft"),
    STATUS_TBC: _l("Date to be confirmed"),
    STATUS_SCHEDULED: _l("Scheduled"),
    STATUS_HELD: _l("Held"),
    STATUS_CANCELLED: _l("Cancelled"),
}
AUDIENCE_INVITATION = "invitation"
AUDIENCE_MEMBERS = "members"
AUDIENCE_OPEN = "open"
AUDIENCES = {
    AUDIENCE_INVITATION: _l("Invitation only"),
    AUDIENCE_MEMBERS: _l("Members only"),
    AUDIENCE_OPEN: _l("Open to anyone with the link"),
}
ITEM_KINDS = {
    "opening": _l("Opening remarks"),
    "presentation": _l("Presentation"),
    "panel": _l("Panel"),
    "qa": _l("Q&A"),
    "break": _l("Break"),
    "closing": _l("Closing"),
}

ROLE_SPEAKER = "speaker"
ROLE_MODERATOR = "moderator"
SPEAKER_ROLES = {ROLE_SPEAKER: _l("Speaker"), ROLE_MODERATOR: _l("Moderator")}

event_convenors = sa.Table(
    "event_convenors",
    db.metadata,
    sa.Column("event_id", sa.ForeignKey("events.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("organisation_id", sa.ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True),
)


def _uid() -> str:
    return f"{uuid.uuid4()}@webinar-mgr"


# The kinds created on first use (events.settings.DEFAULT_KINDS): their English name and its translation.
DEFAULT_KIND_LABELS = {
    "regional_webinar": ("Regional webinar", _l("Regional webinar")),
    "annual_meeting": ("Annual meeting", _l("Annual meeting")),
    "virtual_seminar": ("Virtual seminar", _l("Virtual seminar")),
    "open_session": ("Open session", _l("Open session")),
}


class EventKind(db.Model):
    """Regional webinar, annual meeting, virtual seminar, open session... (admin-extendable)."""

    __tablename__ = "event_kinds"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    stored_label: Mapped[str] = mapped_column("label", sa.String(100))
    active: Mapped[bool] = mapped_column(default=True)

    @hybrid_property
    def label(self) -> str:
        """The kind's name: a default kind's in the reader's language while the administrators
        keep its English name; a kind they named or renamed as they wrote it."""
        default = DEFAULT_KIND_LABELS.get(self.code)
        if default is not None and self.stored_label == default[0]:
            return str(default[1])
        return self.stored_label

    @label.setter
    def label(self, value: str) -> None:
        self.stored_label = value

    @label.expression
    def label(cls):
        return cls.stored_label


class Event(db.Model):
    __tablename__ = "events"
    id: Mapped[int] = mapped_column(primary_key=True)
    # Stable calendar UID: never changes, so updates replace the entry in people's calendars.
    uid: Mapped[str] = mapped_column(sa.String(100), unique=True, default=_uid)
    title: Mapped[str] = mapped_column(sa.String(300))
    summary: Mapped[str] = mapped_column(sa.Text, default="")
    objectives: Mapped[list] = mapped_column(sa.JSON, default=list)
    kind_id: Mapped[int] = mapped_column(sa.ForeignKey("event_kinds.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(16), default=STATUS_DRAFT, index=True)
    # The event's own IANA zone; starts_at / ends_at are stored in UTC.
    timezone: Mapped[str] = mapped_column(sa.String(64))
    starts_at: Mapped[datetime | None] = mapped_column(index=True)
    ends_at: Mapped[datetime | None]
    # For "date to be confirmed": the first day of the tentative month.
    tentative_month: Mapped[date | None]
    online_url: Mapped[str | None] = mapped_column(sa.String(1000))
    venue: Mapped[str | None] = mapped_column(sa.String(500))
    convenor_note: Mapped[str | None] = mapped_column(sa.String(300))
    priority_tags: Mapped[list] = mapped_column(sa.JSON, default=list)
    capacity: Mapped[int | None]
    registration_opens_at: Mapped[datetime | None]
    registration_closes_at: Mapped[datetime | None]
    audience: Mapped[str] = mapped_column(sa.String(16), default=AUDIENCE_INVITATION)
    requires_approval: Mapped[bool] = mapped_column(default=False)
    # When the capacity is reached: a waiting list (promoted in order as seats free up), or no more
    # registrations.
    waiting_list: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    attendance_threshold_minutes: Mapped[int] = mapped_column(default=10)
    # Two more zones the organiser picks for the agenda PDF.
    pdf_zones: Mapped[list] = mapped_column(sa.JSON, default=list)
    # The agenda PDF prints speakers' organisations, biographies and photos too (issue 15).
    pdf_speaker_details: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # iCalendar SEQUENCE: grows with every change of time, place or status.
    sequence: Mapped[int] = mapped_column(default=0)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    kind: Mapped[EventKind] = relationship(lazy="joined")
    convenors = relationship("Organisation", secondary=event_convenors, lazy="selectin", order_by="Organisation.name")
    agenda_items: Mapped[list[AgendaItem]] = relationship(
        back_populates="event",
        order_by="AgendaItem.position",
        cascade="all, delete-orphan",
        lazy="selectin",
    )
    translations: Mapped[list[EventTranslation]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="EventTranslation.language"
    )

    __table_args__ = (
        sa.CheckConstraint("status IN ('draft', 'tbc', 'scheduled', 'held', 'cancelled')", name="status_known"),
        sa.CheckConstraint("audience IN ('invitation', 'members', 'open')", name="audience_known"),
        sa.CheckConstraint("ends_at IS NULL OR starts_at IS NULL OR ends_at > starts_at", name="ends_after_start"),
        sa.CheckConstraint("capacity IS NULL OR capacity >= 0", name="capacity_not_negative"),
    )

    @property
    def status_label(self) -> str:
        return str(STATUSES.get(self.status, self.status))

    @property
    def audience_label(self) -> str:
        return str(AUDIENCES.get(self.audience, self.audience))

    def convenors_text(self, *, short: bool = False) -> str:
        """Who convenes the event, as every page, PDF and certificate says it: the organiser's own
        wording when given ("Co-Chairs Australia and Indonesia"), else the convening organisations
        as a list in the reader's language (their short names where ``short``), never both."""
        if self.convenor_note:
            return self.convenor_note
        return format_list((o.short_name or o.name) if short else o.name for o in self.convenors)

    def translation_in(self, language: str | None) -> EventTranslation | None:
        for t in self.translations:
            if t.language == language:
                return t
        return None

    def shown(self, language: str | None = None) -> EventText:
        """The event's title, summary and objectives in ``language`` (default: the language being
        rendered) when an organiser translated them, else its own (English) text, saying so."""
        language = language or str(get_locale() or "en")
        t = self.translation_in(language)
        if t is not None and t.title:
            return EventText(t.title, t.summary or "", list(t.objectives or []), language, True, False)
        untranslated = not language.startswith("en")
        return EventText(self.title, self.summary or "", list(self.objectives or []), language, False, untranslated)

    @property
    def registration_deadline(self) -> datetime | None:
        """When registration closes (the organiser's date, else the end, else the start); personal
        invitation links expire then too."""
        return self.registration_closes_at or self.ends_at or self.starts_at

    def __repr__(self) -> str:
        return f"<Event {self.id} {self.title!r}>"


class EventText(NamedTuple):
    """What a reader sees of an event: ``translated`` in their language, or ``untranslated``
    (the English text where their language has none)."""

    title: str
    summary: str
    objectives: list
    language: str
    translated: bool
    untranslated: bool


class EventTranslation(db.Model):
    """An organiser's translation of an event's title, summary and objectives into one offered
    language (issue 13); readers of that language see it, others the event's own (English) text."""

    __tablename__ = "event_translations"
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"), index=True)
    language: Mapped[str] = mapped_column(sa.String(16))
    title: Mapped[str] = mapped_column(sa.String(300))
    summary: Mapped[str] = mapped_column(sa.Text, default="")
    objectives: Mapped[list] = mapped_column(sa.JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    __table_args__ = (sa.UniqueConstraint("event_id", "language"),)


class AgendaItemTranslation(db.Model):
    """An agenda item's title in one offered language."""

    __tablename__ = "agenda_item_translations"
    id: Mapped[int] = mapped_column(primary_key=True)
    agenda_item_id: Mapped[int] = mapped_column(sa.ForeignKey("agenda_items.id", ondelete="CASCADE"), index=True)
    language: Mapped[str] = mapped_column(sa.String(16))
    title: Mapped[str] = mapped_column(sa.String(300))

    __table_args__ = (sa.UniqueConstraint("agenda_item_id", "language"),)


class AgendaItem(db.Model):
    __tablename__ = "agenda_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    starts_at: Mapped[datetime]
    duration_minutes: Mapped[int]
    title: Mapped[str] = mapped_column(sa.String(300))
    description: Mapped[str | None] = mapped_column(sa.Text)
    kind: Mapped[str] = mapped_column(sa.String(16), default="presentation")

    event: Mapped[Event] = relationship(back_populates="agenda_items")
    speakers: Mapped[list[Speaker]] = relationship(
        back_populates="agenda_item",
        order_by="Speaker.position",
        cascade="all, delete-orphan",
        lazy="selectin",
    )
    translations: Mapped[list[AgendaItemTranslation]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    __table_args__ = (sa.CheckConstraint("duration_minutes > 0", name="duration_positive"),)

    def title_in(self, language: str | None) -> str:
        """The item's title in ``language`` when an organiser translated it, else its own."""
        for t in self.translations:
            if t.language == language and t.title:
                return t.title
        return self.title

    @property
    def kind_label(self) -> str:
        return str(ITEM_KINDS.get(self.kind, self.kind))

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.duration_minutes)


class Speaker(db.Model):
    __tablename__ = "speakers"
    id: Mapped[int] = mapped_column(primary_key=True)
    agenda_item_id: Mapped[int] = mapped_column(sa.ForeignKey("agenda_items.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    name: Mapped[str] = mapped_column(sa.String(200))
    title: Mapped[str | None] = mapped_column(sa.String(200))  # the speaker's position / job title
    organisation_name: Mapped[str | None] = mapped_column(sa.String(200))
    organisation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisations.id", ondelete="SET NULL"))
    contact_id: Mapped[int | None] = mapped_column(sa.ForeignKey("contacts.id", ondelete="SET NULL"))
    role: Mapped[str] = mapped_column(sa.String(16), default=ROLE_SPEAKER, server_default=ROLE_SPEAKER)
    bio: Mapped[str | None] = mapped_column(sa.Text)
    # The photo's random file name under SPEAKER_PHOTOS_DIR (a JPEG the app wrote itself), or None.
    photo: Mapped[str | None] = mapped_column(sa.String(64))

    agenda_item: Mapped[AgendaItem] = relationship(back_populates="speakers")
    organisation = relationship("Organisation", lazy="joined")
    contact = relationship("Contact", lazy="joined")

    @property
    def organisation_display(self) -> str:
        if self.organisation is not None:
            return self.organisation.name
        return self.organisation_name or ""

    @property
    def is_moderator(self) -> bool:
        return self.role == ROLE_MODERATOR

    @property
    def role_label(self) -> str:
        return str(SPEAKER_ROLES.get(self.role, self.role))


class RenderedPdf(db.Model):
    """Cache of rendered agenda PDFs, keyed by a hash of everything that goes into them."""

    __tablename__ = "rendered_pdfs"
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"), index=True)
    variant: Mapped[str] = mapped_column(sa.String(32))  # "public" or "registrant"
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    content: Mapped[bytes] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    __table_args__ = (sa.UniqueConstraint("event_id", "variant", "content_hash"),)


class CalendarEntry(db.Model):
    """An event's public VEVENT, serialised once per language and kept (issue 19): the
    subscribable feeds are the stored texts put together, so no worker rebuilds them. ``source_key``
    is a hash of everything the text shows (see ics.py); an entry whose key no longer matches the
    event is rebuilt and stored again when a feed reads it."""

    __tablename__ = "calendar_entries"
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    language: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    source_key: Mapped[str] = mapped_column(sa.String(64))
    vevent: Mapped[str] = mapped_column(sa.Text)
    built_at: Mapped[datetime] = mapped_column(default=clock.now)


class CalendarZone(db.Model):
    """A zone's VTIMEZONE as the feeds write it, kept (issue 19): building one takes tens of
    milliseconds, which a new worker process would otherwise pay for every zone of a feed.
    ``source_key`` names the icalendar and time zone data versions it was built with."""

    __tablename__ = "calendar_zones"
    tzid: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    source_key: Mapped[str] = mapped_column(sa.String(64))
    vtimezone: Mapped[str] = mapped_column(sa.Text)
    built_at: Mapped[datetime] = mapped_column(default=clock.now)
