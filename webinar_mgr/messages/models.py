"""Messages sent to an event's people, their recipients, organisers' mail texts, the invitee
reminder's setting and the record of who was reminded (migration 0018)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webinar_mgr import clock
from webinar_mgr.extensions import db

#: The mails whose wording an organiser may adapt per event.
KINDS = ("invitation", "invitation_reminder", "confirmation", "waiting_list", "reminder", "follow_up")


class EventMessage(db.Model):
    """A message an organiser wrote to some of an event's people (kept in the event's history)."""

    __tablename__ = "event_messages"
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"), index=True)
    subject: Mapped[str] = mapped_column(sa.String(300))
    body: Mapped[str] = mapped_column(sa.Text)
    # The audience as chosen: {"audience": "confirmed", "member_government_id": 3, "sector": "..."}.
    filter: Mapped[dict] = mapped_column(sa.JSON)
    recipient_count: Mapped[int] = mapped_column(default=0)
    sent_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    sent_at: Mapped[datetime] = mapped_column(default=clock.now)
    recipients: Mapped[list[EventMessageRecipient]] = relationship(
        back_populates="message", cascade="all, delete-orphan", order_by="EventMessageRecipient.id"
    )


class EventMessageRecipient(db.Model):
    """One recipient of a message and the outbox row that carries it."""

    __tablename__ = "event_message_recipients"
    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(sa.ForeignKey("event_messages.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(sa.String(254))
    name: Mapped[str] = mapped_column(sa.String(200))
    registration_id: Mapped[int | None] = mapped_column(sa.ForeignKey("registrations.id", ondelete="SET NULL"))
    invitation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("invitations.id", ondelete="SET NULL"))
    outbox_message_id: Mapped[int | None] = mapped_column(sa.ForeignKey("mail_outbox.id", ondelete="SET NULL"))
    message: Mapped[EventMessage] = relationship(back_populates="recipients")


class MailText(db.Model):
    """An organiser's wording of one kind of mail for one event (every language)."""

    __tablename__ = "mail_texts"
    __table_args__ = (
        sa.UniqueConstraint("event_id", "kind"),
        sa.CheckConstraint(
            "kind IN (" + ", ".join(f"'{k}'" for k in KINDS) + ")",
            name="mail_text_kind",
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(24))
    subject: Mapped[str] = mapped_column(sa.String(300))
    body: Mapped[str] = mapped_column(sa.Text)
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


class InviteeReminderSetting(db.Model):
    """The automatic reminder to invitees who have not answered: ``days_before`` registration
    closes, or NULL (off, the default)."""

    __tablename__ = "invitee_reminder_settings"
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    days_before: Mapped[int | None]


class InvitationReminder(db.Model):
    """When an invitee was reminded (once per invitation)."""

    __tablename__ = "invitation_reminders"
    invitation_id: Mapped[int] = mapped_column(sa.ForeignKey("invitations.id", ondelete="CASCADE"), primary_key=True)
    reminded_at: Mapped[datetime] = mapped_column(default=clock.now)
    outbox_message_id: Mapped[int | None] = mapped_column(sa.ForeignKey("mail_outbox.id", ondelete="SET NULL"))
