"""The mails of registration: where someone stands (confirmed, waiting list, approval,
cancellation), event updates and cancellations with their calendar entries, and reminders.

Each is queued into the outbox inside the caller's unit of work, so the change and its mail land
together or not at all. The mail that tells someone where they stand is written by the worker
(mail.deferred): the request stores what happened (the registration, its status then, why) and
``_render_status_mail`` writes the words and the calendar entry just before delivery.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from types import SimpleNamespace

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from webinar_mgr import clock, jobs, links
from webinar_mgr.events import ics, times
from webinar_mgr.events.models import STATUS_SCHEDULED, Event
from webinar_mgr.events.models import STATUSES as EVENT_STATUSES
from webinar_mgr.events.signals import event_changed
from webinar_mgr.extensions import db
from webinar_mgr.i18n import in_language, in_recipient_language
from webinar_mgr.mail import deferred
from webinar_mgr.mail import services as mail
from webinar_mgr.mail.models import OutboxMessage
from webinar_mgr.persistence import transactional

from .feeds import feed_url
from .manage_links import manage_link_valid, manage_url, pledge_url
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


STATUS_MAIL = "registration_status"


def status_mail(reg: Registration, why: str, *, had_seat: bool = False) -> None:
    """Queue the mail that tells someone where they stand: why = registered / promoted / approved /
    moved / moved-off / rejected / cancelled. ``had_seat``: they lose a confirmed seat, so their
    calendar entry is withdrawn (METHOD:CANCEL). The worker writes it (``_render_status_mail``)
    from the registration as it stands now, with the status and the manage link's nonce of this
    moment, so that the mail says what happened even if the registration changes again before it
    leaves; the subject stored now is provisional (the outbox page shows it until then)."""
    deferred.queue_later(
        STATUS_MAIL,
        {"registration_id": reg.id, "status": reg.status, "why": why, "had_seat": had_seat, "nonce": reg.nonce},
        to=reg.email,
        to_name=reg.name,
        subject=_status_subject(reg.status, why, reg.event.title),
        category="registration",
    )


def _status_subject(status: str, why: str, title: str) -> str:
    if status == STATUS_CONFIRMED:
        if why == "registered":
            return _("Registration confirmed: %(title)s", title=title)
        return _("You have a seat: %(title)s", title=title)
    if status == STATUS_WAITLISTED:
        return _("Waiting list: %(title)s", title=title)
    if status == STATUS_PENDING:
        return _("Registration received, awaiting approval: %(title)s", title=title)
    if status == STATUS_REJECTED:
        return _("Registration not approved: %(title)s", title=title)
    return _("Registration cancelled: %(title)s", title=title)


class _AsQueued:
    """A registration as it stood when its mail was queued: the status and nonce of then, the rest
    (name, event, contact) as it is now."""

    def __init__(self, reg: Registration, **then):
        self._reg = reg
        self.__dict__.update(then)

    def __getattr__(self, name: str):
        return getattr(self._reg, name)


@deferred.renderer(STATUS_MAIL)
def _render_status_mail(data: dict) -> dict:
    reg = db.session.get(Registration, data["registration_id"])
    if reg is None:
        raise LookupError("the registration no longer exists")
    then = _AsQueued(reg, status=data["status"], nonce=data["nonce"])
    return _status_mail_content(then, data["why"], had_seat=bool(data.get("had_seat")))


@in_recipient_language(mail_languages)
def _status_mail_content(reg, why: str, *, had_seat: bool = False) -> dict:
    """Subject, bodies and calendar entry of the status mail, in the recipient's language, exactly
    as ``mail.queue`` writes a templated mail (``mail.compose``: its HTML twin made here, in that
    language too, not after the renderer returns)."""
    ctx = mail_context(reg)
    ctx["why"] = why
    attachments: list[dict] = []
    if reg.status == STATUS_CONFIRMED:
        attachments = ics_attachment(reg, "REQUEST")
    if had_seat and reg.status != STATUS_CONFIRMED:
        attachments = ics_attachment(reg, "CANCEL")
    title = reg.event.shown().title  # their language's title where organisers translated it
    subject = _status_subject(reg.status, why, title)
    subject, body_text, body_html = mail.compose(subject, template="mail/registration_status", context=ctx)
    return {"subject": subject, "body_text": body_text, "body_html": body_html, "attachments": attachments}


# Event changes -------------------------------------------------------------------------------

NOTIFY_CHANGES = {"time", "place", "link", "status"}


EVENT_UPDATE_MAIL = "event_update"
# What an update mail needs of the event as it was (events.services.snapshot), kept as JSON
_BEFORE_FIELDS = ("starts_at", "ends_at", "timezone", "tentative_month", "venue", "status")


def notify_event_change(
    event: Event, *, changes=frozenset(), cancelled: bool = False, before: dict | None = None
) -> int:
    """Queue an update (new .ics, same UID, higher SEQUENCE) or a cancellation notice to every
    active registrant, in the caller's transaction. Returns the number of mails queued.
    ``before``: the event's values before the change (events.services.snapshot), so that the
    update says what changed from what to what. The worker writes each mail
    (``_render_event_update``), in its reader's language and zone, just before sending it: the
    organiser's save no longer waits for a mail per registrant (issue 19: 990 registrants took
    10-15 s in the request)."""
    changes = sorted(set(changes) & NOTIFY_CHANGES)
    if not cancelled and not changes:
        return 0
    regs = db.session.execute(
        sa.select(Registration.id, Registration.email, Registration.name).where(
            Registration.event_id == event.id, Registration.status.in_(ACTIVE)
        )
    ).all()
    data = {"changes": changes, "cancelled": cancelled, "before": _json_before(before or {})}
    subject = _("Cancelled: %(title)s", title=event.title) if cancelled else _("Updated: %(title)s", title=event.title)
    for reg_id, email, name in regs:
        deferred.queue_later(
            EVENT_UPDATE_MAIL,
            {**data, "registration_id": reg_id},
            to=email,
            to_name=name,
            subject=subject,  # provisional: the outbox page shows it until the worker writes the mail
            category="event-update",
        )
    return len(regs)


def _json_before(before: dict) -> dict:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in before.items() if k in _BEFORE_FIELDS}


def _before_from_json(data: dict) -> dict:
    before = dict(data)
    for k in ("starts_at", "ends_at"):
        if before.get(k):
            before[k] = datetime.fromisoformat(before[k])
    if before.get("tentative_month"):
        before["tentative_month"] = date.fromisoformat(before["tentative_month"])
    return before


@deferred.renderer(EVENT_UPDATE_MAIL)
def _render_event_update(data: dict) -> dict:
    reg = db.session.get(Registration, data["registration_id"])
    if reg is None:
        raise LookupError("the registration no longer exists")
    return _event_update_content(reg, data["changes"], bool(data["cancelled"]), _before_from_json(data["before"]))


@in_recipient_language(mail_languages)
def _event_update_content(reg: Registration, changes: list[str], cancelled: bool, before: dict) -> dict:
    event = reg.event
    ctx = mail_context(reg)
    ctx.update(changes=changes, cancelled=cancelled)
    ctx["change_lines"] = describe_changes(event, before, changes, reg)
    if cancelled:
        subject = _("Cancelled: %(title)s", title=event.shown().title)
        attachments = ics_attachment(reg, "CANCEL") if reg.status == STATUS_CONFIRMED else []
    else:
        subject = _("Updated: %(title)s", title=event.shown().title)
        attachments = ics_attachment(reg, "REQUEST") if reg.status == STATUS_CONFIRMED else []
    subject, body_text, body_html = mail.compose(subject, template="mail/event_update", context=ctx)
    return {"subject": subject, "body_text": body_text, "body_html": body_html, "attachments": attachments}


@event_changed.connect
def _on_event_changed(sender, **kwargs) -> None:
    notify_event_change(
        sender,
        changes=kwargs.get("changes") or set(),
        cancelled=bool(kwargs.get("cancelled")),
        before=kwargs.get("before"),
    )


def describe_changes(event: Event, before: dict, changes, reg: Registration) -> list[str]:
    """One sentence per change, old and new values side by side, times in the reader's zone
    (named): "The time has changed from Tue 1 Dec 2026, 14:00-15:30 Asia/Manila (PST) to ...".
    Without the old values (``before`` empty) each says only what changed."""
    changes = set(changes)
    lines = []
    if "time" in changes:
        old_when = times.when_text(SimpleNamespace(**{k: before.get(k) for k in _TIME_FIELDS}), reg.timezone)
        new_when = times.when_text(event, reg.timezone)
        if before and old_when != new_when:
            lines.append(_("The time has changed from %(old)s to %(new)s.", old=old_when, new=new_when))
        else:
            lines.append(_("The time has changed: %(new)s.", new=new_when))
    if "place" in changes:
        old, new = before.get("venue"), event.venue
        if old and new:
            lines.append(_("The place has changed from %(old)s to %(new)s.", old=old, new=new))
        elif new:
            lines.append(_("The event now has a place: %(new)s.", new=new))
        elif old:
            lines.append(_("The event no longer takes place at %(old)s.", old=old))
        else:
            lines.append(_("The place has changed."))
    if "link" in changes:
        if reg.status == STATUS_CONFIRMED and event.online_url:
            lines.append(_("The join link has changed: please use the new one below."))
        elif event.online_url:
            lines.append(_("The join link has changed; you will receive it when you have a seat."))
        else:
            lines.append(_("The event no longer has a join link."))
    if "status" in changes:
        old, new = before.get("status"), event.status
        if old and old != new:
            lines.append(
                _(
                    "The event's status has changed from %(old)s to %(new)s.",
                    old=EVENT_STATUSES.get(old, old),
                    new=EVENT_STATUSES.get(new, new),
                )
            )
        else:
            lines.append(_("The event's status is now %(new)s.", new=EVENT_STATUSES.get(new, new)))
    return lines


_TIME_FIELDS = ("starts_at", "ends_at", "timezone", "tentative_month")


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
                    _("Starting in %(n)d hours: %(title)s", n=offset, title=event.shown().title)
                    if offset > 1
                    else _("Starting in 1 hour: %(title)s", title=event.shown().title)
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


LOST_LINKS_CATEGORY = "registration-links"


LOST_LINKS_MAIL = "lost_links"


def lost_links_mail(regs: list[Registration]) -> None:
    """Queue one mail with the manage link of each of these registrations (all of one address),
    asked for again by their owner. The worker writes it (``_render_lost_links``): the request
    that asks stays as short for a registered address as for an unknown one (issue 19; the answer
    must not tell who is registered, by its words or by its time)."""
    deferred.queue_later(
        LOST_LINKS_MAIL,
        {"registration_ids": [r.id for r in regs], "email": regs[0].email},
        to=regs[0].email,
        to_name=regs[0].name,
        subject=_("Your registration links"),
        category=LOST_LINKS_CATEGORY,
    )


@deferred.renderer(LOST_LINKS_MAIL)
def _render_lost_links(data: dict) -> dict:
    found = {
        r.id: r
        for r in db.session.scalars(
            sa.select(Registration).where(
                Registration.id.in_(data["registration_ids"]), Registration.email == data["email"]
            )
        )
    }
    # in the order the request chose; a link that stopped working meanwhile is not sent
    regs = [found[i] for i in data["registration_ids"] if i in found and manage_link_valid(found[i])]
    if not regs:
        raise LookupError("the registrations no longer exist")
    return _lost_links_content(regs)


@in_recipient_language(lambda regs: (regs[0].language, regs[0].contact.language if regs[0].contact else None))
def _lost_links_content(regs: list[Registration]) -> dict:
    rows = [
        {
            "reg": r,
            "event": r.event,
            "when": times.when_text(r.event, r.timezone),
            "status_label": STATUSES.get(r.status, r.status),
            "manage_url": manage_url(r),
        }
        for r in regs
    ]
    subject, body_text, body_html = mail.compose(
        _("Your registration links"), template="mail/lost_links", context={"name": regs[0].name, "rows": rows}
    )
    return {"subject": subject, "body_text": body_text, "body_html": body_html}
