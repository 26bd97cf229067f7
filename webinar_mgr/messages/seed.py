"""Demo messages (issue 15): on the held technology webinar, the practical note organisers sent to
its confirmed registrants the day before (in the message history, with its recipients; no mail is
queued again) and the event's own wording of the feedback follow-up."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from webinar_mgr.events.models import STATUS_HELD, Event
from webinar_mgr.extensions import db
from webinar_mgr.registrations.models import STATUS_CONFIRMED, Registration

from .models import EventMessage, EventMessageRecipient, MailText

NOTE_SUBJECT = "Tomorrow's webinar: practical information"
NOTE_BODY = (
    "Dear {name},\n\n"
    "Thank you for registering for {event} ({when}). Please join ten minutes early to test your audio; "
    "interpretation into Bahasa Indonesia and Thai is available in the Zoom interpretation menu.\n\n"
    "Your personal link: {link}"
)
FOLLOW_UP_SUBJECT = "Your views on {event}"
FOLLOW_UP_BODY = (
    "Dear {name},\n\n"
    "Thank you for taking part in {event}. The co-chairs will report on it to the Senior Officials' Meeting; "
    "five minutes of your time will help them say what worked and what the Working Group should do next.\n\n"
    "{link}"
)


def seed(echo) -> None:
    event = db.session.scalar(
        sa.select(Event).where(Event.status == STATUS_HELD, Event.title.ilike("%technology%")).order_by(Event.id)
    )
    if event is None or event.starts_at is None:
        return
    if db.session.scalar(sa.select(EventMessage.id).where(EventMessage.event_id == event.id).limit(1)):
        return
    regs = list(
        db.session.scalars(
            sa.select(Registration)
            .where(Registration.event_id == event.id, Registration.status == STATUS_CONFIRMED)
            .order_by(Registration.name)
        ).unique()
    )
    if not regs:
        return
    message = EventMessage(
        event_id=event.id,
        subject=NOTE_SUBJECT,
        body=NOTE_BODY,
        filter={"audience": "confirmed"},
        recipient_count=len(regs),
        sent_at=event.starts_at - timedelta(days=1),
    )
    message.recipients = [EventMessageRecipient(email=r.email, name=r.name, registration_id=r.id) for r in regs]
    db.session.add(message)
    if (
        db.session.scalar(sa.select(MailText.id).where(MailText.event_id == event.id, MailText.kind == "follow_up"))
        is None
    ):
        db.session.add(MailText(event_id=event.id, kind="follow_up", subject=FOLLOW_UP_SUBJECT, body=FOLLOW_UP_BODY))
    db.session.flush()
    echo(f"messages: a sent message and the follow-up's own wording on {event.title[:40]}…")
