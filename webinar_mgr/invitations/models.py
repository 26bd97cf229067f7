from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webinar_mgr import clock, tokens
from webinar_mgr.extensions import db

CATEGORIES = {
    "member": _l("Member"),
    "observer": _l("Observer"),
    "private_sector": _l("Private sector"),
    "civil_society": _l("Civil society"),
    "international_organisation": _l("International organisation"),
    "speaker": _l("Speaker"),
}
# Stored states; "queued / sent / failed" come from the outbox message, the rest are set here.
STATE_DRAFT = "draft"  # on the list, not sent yet
STATE_SENT = "sent"  # handed to the outbox (delivery state from the outbox row)
STATE_OPENED = "opened"  # the personal link was opened
# The invitee's answer; once they registered, the registrations module keeps these in step with
# the registration (registered = confirmed or awaiting approval, waiting = on the waiting list,
# cancelled = registration cancelled or not approved).
STATE_REGISTERED = "registered"
STATE_WAITING = "waiting"
STATE_CANCELLED = "cancelled"
STATE_DECLINED = "declined"
STATE_REVOKED = "revoked"  # withdrawn by an organiser: the link no longer works
STATES = (
    STATE_DRAFT,
    STATE_SENT,
    STATE_OPENED,
    STATE_REGISTERED,
    STATE_WAITING,
    STATE_CANCELLED,
    STATE_DECLINED,
    STATE_REVOKED,
)
# States in which the invitation is not sent (again): the person answered, or it was withdrawn.
NOT_TO_SEND = (STATE_REGISTERED, STATE_WAITING, STATE_DECLINED, STATE_REVOKED)
# States that mean the invitation reached the person (for the co-chairs' funnel).
DELIVERED = (STATE_SENT, STATE_OPENED, STATE_REGISTERED, STATE_WAITING, STATE_CANCELLED, STATE_DECLINED)
_state_list = ", ".join(f"'{s}'" for s in STATES)


class Invitation(db.Model):
    __tablename__ = "invitations"
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int] = mapped_column(sa.ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    category: Mapped[str] = mapped_column(sa.String(32))
    state: Mapped[str] = mapped_column(sa.String(16), default=STATE_DRAFT, index=True)
    # Part of the signed link: changing it (revoke, resend with a new link) kills old links.
    nonce: Mapped[str] = mapped_column(sa.String(32), default=tokens.new_nonce)
    outbox_message_id: Mapped[int | None] = mapped_column(sa.ForeignKey("mail_outbox.id", ondelete="SET NULL"))
    send_count: Mapped[int] = mapped_column(default=0)
    # Set when an organiser asks to (re)send; the "invitations" worker job renders and queues the
    # mail in batches and clears it, so sending thousands returns at once.
    send_requested_at: Mapped[datetime | None] = mapped_column(index=True)
    sent_at: Mapped[datetime | None]
    opened_at: Mapped[datetime | None]
    responded_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    event = relationship("Event", lazy="joined")
    contact = relationship("Contact", lazy="joined")
    outbox_message = relationship("OutboxMessage", lazy="joined")

    __table_args__ = (
        sa.UniqueConstraint("event_id", "contact_id"),
        sa.CheckConstraint(f"state IN ({_state_list})", name="state_known"),
    )

    @property
    def category_label(self) -> str:
        return str(CATEGORIES.get(self.category, self.category))
