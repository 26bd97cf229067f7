"""The mails of registration: where someone stands (confirmed, waiting list, approval,
cancellation), event updates and cancellations with their calendar entries, and reminders.

Each is queued into the outbox inside the caller's unit of work, so the change and its mail land
together or not at all.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from webinar_mgr import clock, jobs, links
from webinar_mgr.events import ics, times
from webinar_mgr.events.models import STATUS_SCHEDULED, Event
from webinar_mgr.events.signals import event_changed
from webinar_mgr.extensions import db
from webinar_mgr.i18n import in_language, in_recipient_language
from webinar_mgr.mail import services as mail
from webinar_mgr.mail.models import OutboxMessage
from webinar_mgr.persistence import transactional

from .feeds import feed_url
from .manage_links import manage_url, pledge_url
from .models import (
    ACTIVE,
    STATUS_CONFIRMED,
    STATUS_PENDING,
    STATUS_REJECTED,
    STATUS_WAITLISTED,
    STATUSES,
    Registration,
)


def ics_attachment(reg: Registration, method: str) -> list[dict]:
    if not (reg.event.starts_at and reg.event.ends_at):
        return []
    content = ics.event_ics(
        reg.event,
        method=method,
        attendee_email=reg.email,
        attendee_name=reg.name,
    )
    name = "cancel.ics" if method == "CANCEL" else "invite.ics"
    return [{"filename": name, "mimetype": "text/calendar", "content": content.decode("utf-8"), "method": method}]


def mail_context(reg: Registration) -> dict:
    event = reg.event
    return {
        "reg": reg,
        "event": event,
        "when": times.when_text(event, reg.timezone),
        "manage_url": manage_url(reg),
        "pledge_url": pledge_url(reg),
        "event_url": links.abs_url("events.detail", event_id=event.id),
        "agenda_url": links.abs_url("events.agenda_pdf", event_id=event.id),
        "join_url": event.online_url if reg.status == STATUS_CONFIRMED else None,
        "feed_url": feed_url(reg.email) if reg.status == STATUS_CONFIRMED else None,
        "status_label": STATUSES.get(reg.status, reg.status),
    }


def mail_languages(reg: Registration, *_args, **_kwargs) -> tuple[str | None, ...]:
    """The languages a registrant's mails may be in, best first: the interface's when they
    registered, then their directory contact's (issue 13)."""
    return (reg.language, reg.contact.language if reg.contact else None)


@in_recipient_language(mail_languages)
def status_mail(reg: Registration, why: str, *, had_seat: bool = False) -> None:
    """The mail that tells someone where they stand: why = registered / promoted / approved /
    moved / moved-off / rejected / cancelled. ``had_seat``: they lose a confirmed seat, so their
    calendar entry is withdrawn (METHOD:CANCEL)."""
    ctx = mail_context(reg)
    ctx["why"] = why
    attachments: list[dict] = []
    title = reg.event.title
    if reg.status == STATUS_CONFIRMED:
        subject = (
            _("Registration confirmed: %(title)s", title=title)
            if why == "registered"
            else _("You have a seat: %(title)s", title=title)
        )
        attachments = ics_attachment(reg, "REQUEST")
    elif reg.status == STATUS_WAITLISTED:
        subject = _("Waiting list: %(title)s", title=title)
    elif reg.status == STATUS_PENDING:
        subject = _("Registration received, awaiting approval: %(title)s", title=title)
    elif reg.status == STATUS_REJECTED:
        subject = _("Registration not approved: %(title)s", title=title)
    else:
        subject = _("Registration cancelled: %(title)s", title=title)
    if had_seat and reg.status != STATUS_CONFIRMED:
        attachments = ics_attachment(reg, "CANCEL")
    mail.queue(
        reg.email,
        subject,
        template="mail/registration_status",
        context=ctx,
        to_name=reg.name,
        attachments=attachments,
        category="registration",
    )


# Event changes -------------------------------------------------------------------------------

NOTIFY_CHANGES = {"time", "place", "link", "status"}


def notify_event_change(event: Event, *, changes=frozenset(), cancelled: bool = False) -> int:
    """Queue an update (new .ics, same UID, higher SEQUENCE) or a cancellation notice to every
    active registrant, in the caller's transaction. Returns the number of mails queued."""
    if not cancelled and not (set(changes) & NOTIFY_CHANGES):
        return 0
    regs = (
        db.session.scalars(
            sa.select(Registration).where(Registration.event_id == event.id, Registration.status.in_(ACTIVE))
        )
        .unique()
        .all()
    )
    n = 0
    for reg in regs:
        with in_language(*mail_languages(reg)):
            ctx = mail_context(reg)
            ctx.update(changes=sorted(set(changes) & NOTIFY_CHANGES), cancelled=cancelled)
            if cancelled:
                subject = _("Cancelled: %(title)s", title=event.title)
                attachments = ics_attachment(reg, "CANCEL") if reg.status == STATUS_CONFIRMED else []
            else:
                subject = _("Updated: %(title)s", title=event.title)
                attachments = ics_attachment(reg, "REQUEST") if reg.status == STATUS_CONFIRMED else []
            mail.queue(
                reg.email,
                subject,
                template="mail/event_update",
                context=ctx,
                to_name=reg.name,
                attachments=attachments,
                category="event-update",
            )
        n += 1
    return n


@event_changed.connect
def _on_event_changed(sender, **kwargs) -> None:
    notify_event_change(sender, changes=kwargs.get("changes") or set(), cancelled=bool(kwargs.get("cancelled")))


# Reminders -----------------------------------------------------------------------------------


def reminder_offsets() -> list[int]:
    raw = str(current_app.config.get("REMINDER_OFFSETS_HOURS", "24,1"))
    out = []
    for part in raw.split(","):
        part = part.strip()
        if part.isdigit() and int(part) > 0:
            out.append(int(part))
    return sorted(set(out), reverse=True)


@transactional
def send_reminders() -> int:
    """Queue due reminders. For each confirmed registration of an event that has not started,
    the smallest offset whose time has come is queued once (outbox dedupe key); an earlier,
    larger reminder missed while the worker was down is skipped rather than sent late."""
    offsets = reminder_offsets()
    if not offsets:
        return 0
    now = clock.now()
    horizon = now + timedelta(hours=max(offsets))
    events = (
        db.session.scalars(
            sa.select(Event).where(Event.status == STATUS_SCHEDULED, Event.starts_at > now, Event.starts_at <= horizon)
        )
        .unique()
        .all()
    )
    queued = 0
    for event in events:
        due = [o for o in offsets if event.starts_at - timedelta(hours=o) <= now]
        if not due:
            continue
        offset = min(due)
        key = sa.literal("reminder:") + sa.cast(Registration.id, sa.String) + sa.literal(f":{offset}")
        regs = (
            db.session.scalars(
                sa.select(Registration).where(
                    Registration.event_id == event.id,
                    Registration.status == STATUS_CONFIRMED,
                    ~sa.exists().where(OutboxMessage.dedupe_key == key),
                )
            )
            .unique()
            .all()
        )
        for reg in regs:
            with in_language(*mail_languages(reg)):
                ctx = dict(mail_context(reg), hours=offset)
                subject = (
                    _("Starting in %(n)d hours: %(title)s", n=offset, title=event.title)
                    if offset > 1
                    else _("Starting in 1 hour: %(title)s", title=event.title)
                )
                message = mail.queue(
                    reg.email,
                    subject,
                    template="mail/reminder",
                    context=ctx,
                    to_name=reg.name,
                    category="reminder",
                    dedupe_key=f"reminder:{reg.id}:{offset}",
                )
            if message is not None:
                queued += 1
    return queued


@jobs.scheduled("reminders")
def _reminders_job() -> int:
    return send_reminders()
