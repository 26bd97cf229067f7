"""Messages to an event's people, organisers' mail texts and the invitee reminder (issue 15).

Organiser text is never template code: it is plain text with a few placeholders in braces
(``{name}``, ``{event}``, ``{when}``, ``{where}``, ``{link}``), substituted by :func:`fill`. An
unknown placeholder is refused with its name when the text is saved or sent; anything else in
braces (``{{ 7*7 }}``, ``{% if %}``) is only text and reaches the recipient as written. The HTML
part is made from the filled text by ``mail.html_from_text``, which escapes every character.

Every mail keeps what its recipient needs whatever the organiser wrote: the time in their zone,
their personal links, the calendar entry (an attachment the sender adds) and the footer with the
privacy notice (templates/messages/essentials.txt after the organiser's words).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa
from flask import render_template
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from webinar_mgr import clock, jobs, links
from webinar_mgr.audit import services as audit
from webinar_mgr.directory.models import SECTORS, Contact, Organisation
from webinar_mgr.errors import ValidationFailed
from webinar_mgr.events import times
from webinar_mgr.events.models import STATUS_SCHEDULED, Event
from webinar_mgr.events.signals import event_copied
from webinar_mgr.extensions import db
from webinar_mgr.i18n import in_language
from webinar_mgr.invitations import services as invitations
from webinar_mgr.invitations.models import STATE_OPENED, STATE_SENT, Invitation
from webinar_mgr.mail import services as mail
from webinar_mgr.mail.signals import mail_wording
from webinar_mgr.persistence import transactional, unit_of_work
from webinar_mgr.registrations.manage_links import manage_url
from webinar_mgr.registrations.models import (
    ACTIVE,
    STATUS_CONFIRMED,
    STATUS_WAITLISTED,
    Registration,
)
from webinar_mgr.registrations.notifications import mail_languages
from webinar_mgr.text import multi_line, single_line

from .models import (
    KINDS,
    EventMessage,
    EventMessageRecipient,
    InvitationReminder,
    InviteeReminderSetting,
    MailText,
)

SUBJECT_MAX = 300
BODY_MAX = 20_000
REMINDER_DAYS_MAX = 60

# Placeholders ---------------------------------------------------------------------------------

PLACEHOLDERS = {
    "name": _l("the recipient's name"),
    "event": _l("the event's title (in the recipient's language where translated)"),
    "when": _l("the event's date and time in the recipient's zone, the zone named"),
    "where": _l("the venue (empty for an online event)"),
    "link": _l("the recipient's personal link (register, or manage their registration, or the survey)"),
}

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def unknown_placeholders(text: str) -> list[str]:
    """The names in braces that are not placeholders, in order of appearance, once each."""
    seen: list[str] = []
    for name in _PLACEHOLDER.findall(text or ""):
        if name not in PLACEHOLDERS and name not in seen:
            seen.append(name)
    return seen


def fill(text: str, values: dict[str, str]) -> str:
    """``text`` with each known placeholder replaced by its value (plain text; the HTML part
    escapes it). Nothing else is interpreted."""
    return _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0)) or ""), text or "")


def check_text(subject: str, body: str) -> tuple[str, str]:
    """The subject and body cleaned, or ValidationFailed naming every problem."""
    subject, body = single_line(subject), multi_line(body)
    errors: dict[str, list[str]] = {}
    if not subject:
        errors["subject"] = [_("Write a subject.")]
    elif len(subject) > SUBJECT_MAX:
        errors["subject"] = [_("The subject is too long (at most %(n)d characters).", n=SUBJECT_MAX)]
    if not body:
        errors["body"] = [_("Write the text of the mail.")]
    elif len(body) > BODY_MAX:
        errors["body"] = [_("The text is too long (at most %(n)d characters).", n=BODY_MAX)]
    for key, value in (("subject", subject), ("body", body)):
        unknown = unknown_placeholders(value)
        if unknown:
            errors.setdefault(key, []).append(
                _(
                    "There is no placeholder %(names)s. Use %(known)s.",
                    names=", ".join("{" + n + "}" for n in unknown),
                    known=", ".join("{" + n + "}" for n in PLACEHOLDERS),
                )
            )
    if errors:
        raise ValidationFailed(_("The text cannot be used as it is."), field_errors=errors)
    return subject, body


# Mail texts ----------------------------------------------------------------------------------

KIND_LABELS = {
    "invitation": _l("Invitation"),
    "invitation_reminder": _l("Reminder to invitees who have not answered"),
    "confirmation": _l("Registration confirmed"),
    "waiting_list": _l("On the waiting list"),
    "reminder": _l("Reminder before the event starts"),
    "follow_up": _l("Follow-up: the feedback survey after the event"),
}


def default_text(kind: str) -> tuple[str, str]:
    """The starting wording of a kind (what "reset to the default" returns to), in the current
    language. For every kind but the invitee reminder, the mail without an organiser text is the
    built-in template (templates/mail/), which says the same in more detail."""
    texts = {
        "invitation": (
            _("Invitation: {event}"),
            _("Dear {name},\n\nYou are invited to {event}, {when}.\n\nPlease register with your personal link below."),
        ),
        "invitation_reminder": (
            _("Reminder: your invitation to {event}"),
            _(
                "Dear {name},\n\nWe have not yet heard from you about {event} ({when}). Registration closes soon: "
                "please register, or decline, with your personal link below."
            ),
        ),
        "confirmation": (
            _("Registration confirmed: {event}"),
            _("Dear {name},\n\nYour registration for {event} is confirmed."),
        ),
        "waiting_list": (
            _("Waiting list: {event}"),
            _(
                "Dear {name},\n\n{event} is full, so you are on the waiting list. If a seat frees up, you get it in "
                "the order of registration and we will write to you."
            ),
        ),
        "reminder": (
            _("Starting soon: {event}"),
            _("Dear {name},\n\nA reminder: {event} starts soon ({when})."),
        ),
        "follow_up": (
            _("Your feedback on {event}"),
            _("Hello {name},\n\nThank you for taking part in {event}. Would you tell us what you thought of it?"),
        ),
    }
    return texts[kind]


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValidationFailed(_("There is no such kind of mail."))


def mail_texts_of(event_id: int) -> dict[str, MailText]:
    rows = db.session.scalars(sa.select(MailText).where(MailText.event_id == event_id))
    return {row.kind: row for row in rows}


def mail_text(event_id: int, kind: str) -> MailText | None:
    return db.session.scalar(sa.select(MailText).where(MailText.event_id == event_id, MailText.kind == kind))


@transactional
def save_mail_text(event: Event, kind: str, subject: str, body: str, *, actor) -> MailText:
    _check_kind(kind)
    subject, body = check_text(subject, body)
    row = mail_text(event.id, kind)
    if row is None:
        row = MailText(event_id=event.id, kind=kind, subject=subject, body=body)
        db.session.add(row)
    row.subject, row.body, row.updated_by_id = subject, body, getattr(actor, "id", None)
    db.session.flush()
    audit.record(actor, "mail_text.save", event, summary=kind)
    return row


@transactional
def reset_mail_text(event: Event, kind: str, *, actor) -> bool:
    """Back to the default wording: the event's own text of that kind goes. False if there was none."""
    _check_kind(kind)
    row = mail_text(event.id, kind)
    if row is None:
        return False
    db.session.delete(row)
    audit.record(actor, "mail_text.reset", event, summary=kind)
    return True


def copy_mail_texts(source_event: Event, target_event: Event, *, actor) -> int:
    """Copy every mail text of ``source_event`` to ``target_event`` (replacing the target's of the
    same kinds) and the invitee reminder's setting, in the caller's unit of work (copy an event).
    Returns the number of texts copied."""
    existing = mail_texts_of(target_event.id)
    n = 0
    for kind, row in mail_texts_of(source_event.id).items():
        target = existing.get(kind) or MailText(event_id=target_event.id, kind=kind)
        target.subject, target.body, target.updated_by_id = row.subject, row.body, getattr(actor, "id", None)
        db.session.add(target)
        n += 1
    days = reminder_days(source_event.id)
    if days is not None:
        setting = db.session.get(InviteeReminderSetting, target_event.id) or InviteeReminderSetting(
            event_id=target_event.id
        )
        setting.days_before = days
        db.session.add(setting)
    db.session.flush()
    return n


@event_copied.connect
def _on_event_copied(source, *, target, actor, **_kwargs) -> None:
    copy_mail_texts(source, target, actor=actor)


# Rendering a mail with the event's own wording -------------------------------------------------


def _values(ctx: dict) -> dict[str, str]:
    event = ctx.get("event")
    name = ctx.get("name") or getattr(ctx.get("reg"), "name", None) or getattr(ctx.get("contact"), "name", "")
    return {
        "name": name or "",
        "event": event.shown().title if event is not None else ctx.get("title", ""),
        "when": ctx.get("when") or "",
        "where": (event.venue or "") if event is not None else "",
        "link": ctx.get("link") or ctx.get("manage_url") or ctx.get("url") or "",
    }


def render_wording(subject: str, body: str, ctx: dict) -> tuple[str, str]:
    """The mail's subject and text body from an organiser's wording and the mail's context: the
    filled text, then what the recipient needs (templates/messages/essentials.txt)."""
    values = _values(ctx)
    text = fill(body, values).strip("\n") + "\n\n" + render_template("messages/essentials.txt", **ctx)
    return single_line(fill(subject, values)), text


def kind_of(template: str, ctx: dict) -> str | None:
    """Which organiser text a built-in mail takes, if any."""
    if template == "mail/invitation":
        return "invitation"
    if template == "mail/registration_status":
        reg = ctx.get("reg")
        if reg is not None and reg.status == STATUS_CONFIRMED:
            return "confirmation"
        if reg is not None and reg.status == STATUS_WAITLISTED:
            return "waiting_list"
        return None
    if template == "mail/reminder":
        return "reminder"
    if template == "mail/feedback_request":
        return "follow_up"
    return None


@mail_wording.connect
def _event_wording(template, *, context, **_kwargs) -> tuple[str, str] | None:
    kind = kind_of(template, context)
    event = context.get("event")
    if kind is None or event is None:
        return None
    row = mail_text(event.id, kind)
    if row is None:
        return None
    return render_wording(row.subject, row.body, dict(context, calendar=kind == "confirmation"))


# Previews ------------------------------------------------------------------------------------


@dataclass
class Preview:
    subject: str
    body_text: str
    body_html: str
    recipient_name: str
    language: str


def _personal_link(name: str) -> str:
    return _("(the personal link of %(name)s)", name=name)


def _invitation_context(inv: Invitation, *, token: str | None) -> dict:
    event = inv.event
    if token is None:
        link = decline_url = _personal_link(inv.contact.name)
    else:
        link = links.abs_url("invitations.open_link", token=token)
        decline_url = links.abs_url("invitations.decline", token=token)
    return {
        "inv": inv,
        "event": event,
        "contact": inv.contact,
        "name": inv.contact.name,
        "when": times.when_text(event, inv.contact.timezone or event.timezone),
        "link": link,
        "decline_url": decline_url,
        "agenda_url": links.abs_url("events.agenda_pdf", event_id=event.id),
    }


def _registration_context(reg: Registration, *, preview: bool) -> dict:
    """A registrant's mail context for a message or a preview: their time, the join link when
    confirmed, their manage link (a placeholder in a preview)."""
    event = reg.event
    return {
        "reg": reg,
        "event": event,
        "name": reg.name,
        "when": times.when_text(event, reg.timezone),
        "manage_url": _personal_link(reg.name) if preview else manage_url(reg),
        "agenda_url": links.abs_url("events.agenda_pdf", event_id=event.id),
        "join_url": event.online_url if reg.status == STATUS_CONFIRMED else None,
    }


def _rendered(subject: str, body: str, ctx: dict, name: str) -> Preview:
    subject, text = render_wording(subject, body, ctx)
    return Preview(subject, text, mail.html_from_text(text, subject), name, str(get_locale()))


def preview_mail_text(event: Event, kind: str, subject: str, body: str, recipient: str | None) -> Preview:
    """The mail of ``kind`` with this wording as ``recipient`` ("r<id>" a registration, "i<id>" an
    invitation of the event; None: the first one there is) would read it, in their language and
    zone, their personal links shown as placeholders. Raises ValidationFailed like saving does."""
    _check_kind(kind)
    subject, body = check_text(subject, body)
    person = _person(event, recipient, invitee=kind in ("invitation", "invitation_reminder"))
    if person is None:
        with in_language(None):
            ctx = {"event": event, "name": _("Ana Cruz"), "when": times.when_text(event, event.timezone)}
            return _rendered(subject, body, ctx, ctx["name"])
    if isinstance(person, Invitation):
        with in_language(person.contact.language):
            return _rendered(subject, body, _invitation_context(person, token=None), person.contact.name)
    with in_language(*mail_languages(person)):
        return _rendered(subject, body, _registration_context(person, preview=True), person.name)


def _person(event: Event, recipient: str | None, *, invitee: bool) -> Registration | Invitation | None:
    if recipient and recipient[:1] in ("r", "i") and recipient[1:].isdigit():
        model = Registration if recipient[0] == "r" else Invitation
        row = db.session.get(model, int(recipient[1:]))
        if row is not None and row.event_id == event.id:
            return row
    if invitee:
        return db.session.scalar(
            sa.select(Invitation).where(Invitation.event_id == event.id).order_by(Invitation.id).limit(1)
        )
    return db.session.scalar(
        sa.select(Registration).where(Registration.event_id == event.id).order_by(Registration.id).limit(1)
    )


def people_choices(event: Event) -> list[tuple[str, str]]:
    """Whom a preview may be shown as: the event's registrants and invitees (at most 200 each)."""
    regs = db.session.scalars(
        sa.select(Registration).where(Registration.event_id == event.id).order_by(Registration.name).limit(200)
    )
    invs = db.session.execute(
        sa.select(Invitation.id, Contact.name, Contact.email)
        .join(Contact, Contact.id == Invitation.contact_id)
        .where(Invitation.event_id == event.id)
        .order_by(Contact.name)
        .limit(200)
    )
    return [(f"r{r.id}", _("%(name)s (registered)", name=r.name)) for r in regs] + [
        (f"i{i.id}", _("%(name)s (invited)", name=i.name)) for i in invs
    ]


# Messages ------------------------------------------------------------------------------------

AUDIENCES = {
    "registrants": _l("Everyone registered (confirmed, waiting list, awaiting approval)"),
    "confirmed": _l("Confirmed registrants"),
    "waiting": _l("Registrants on the waiting list"),
    "not_answered": _l("Invitees who have not answered"),
}


@dataclass(frozen=True)
class Audience:
    audience: str = "registrants"
    member_government_id: int | None = None
    sector: str | None = None

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "")}


def check_audience(a: Audience) -> None:
    errors = {}
    if a.audience not in AUDIENCES:
        errors["audience"] = [_("Choose who receives the message.")]
    if a.sector and a.sector not in SECTORS:
        errors["sector"] = [_("Not a valid choice.")]
    if a.member_government_id is not None and db.session.get(Organisation, a.member_government_id) is None:
        errors["member_government_id"] = [_("Not a valid choice.")]
    if errors:
        raise ValidationFailed(_("Choose the recipients again."), field_errors=errors)


def recipients(event: Event, a: Audience) -> list[Registration | Invitation]:
    """The registrations or invitations the audience covers, by name (one mail per address)."""
    check_audience(a)
    if a.audience == "not_answered":
        query = (
            sa.select(Invitation)
            .join(Contact, Contact.id == Invitation.contact_id)
            .outerjoin(Organisation, Organisation.id == Contact.organisation_id)
            .where(Invitation.event_id == event.id, Invitation.state.in_((STATE_SENT, STATE_OPENED)))
            .order_by(Contact.name, Invitation.id)
        )
        if a.sector:
            query = query.where(Organisation.sector == a.sector)
        if a.member_government_id is not None:
            query = query.where(Organisation.counted_member_government_id == a.member_government_id)
        rows = list(db.session.scalars(query).unique())
        key = lambda inv: inv.contact.email.lower()  # noqa: E731
    else:
        statuses = {"registrants": ACTIVE, "confirmed": (STATUS_CONFIRMED,), "waiting": (STATUS_WAITLISTED,)}
        query = (
            sa.select(Registration)
            .where(Registration.event_id == event.id, Registration.status.in_(statuses[a.audience]))
            .order_by(Registration.name, Registration.id)
        )
        if a.sector:
            query = query.where(Registration.sector == a.sector)
        if a.member_government_id is not None:
            query = query.where(Registration.member_government_id == a.member_government_id)
        rows = list(db.session.scalars(query).unique())
        key = lambda reg: reg.email.lower()  # noqa: E731
    seen: set[str] = set()
    out = []
    for row in rows:
        if key(row) not in seen:
            seen.add(key(row))
            out.append(row)
    return out


def member_government_choices() -> list[tuple[int, str]]:
    return list(
        db.session.execute(
            sa.select(Organisation.id, Organisation.name)
            .where(Organisation.is_member_government)
            .order_by(Organisation.name)
        ).tuples()
    )


@dataclass
class MessagePreview:
    recipients: list = field(default_factory=list)
    mail: Preview | None = None

    @property
    def rows(self) -> list[tuple[str, str, str]]:
        """Each recipient's name, address and organisation, for the list before sending."""
        out = []
        for p in self.recipients:
            if isinstance(p, Invitation):
                org = p.contact.organisation.name if p.contact.organisation else ""
                out.append((p.contact.name, p.contact.email, org))
            else:
                out.append((p.name, p.email, p.organisation_name or (p.organisation.name if p.organisation else "")))
        return out


def _check_recipients(people: list) -> None:
    if not people:
        raise ValidationFailed(
            _("No one matches these choices: the message would have no recipients."),
            field_errors={"audience": [_("No one matches these choices.")]},
        )


def preview_message(event: Event, a: Audience, subject: str, body: str) -> MessagePreview:
    """Who would receive the message, and the mail as the first of them would read it."""
    subject, body = check_text(subject, body)
    people = recipients(event, a)
    _check_recipients(people)
    first = people[0]
    if isinstance(first, Invitation):
        with in_language(first.contact.language):
            shown = _rendered(subject, body, _invitation_context(first, token=None), first.contact.name)
    else:
        with in_language(*mail_languages(first)):
            shown = _rendered(subject, body, _registration_context(first, preview=True), first.name)
    return MessagePreview(people, shown)


@transactional
def send_message(event: Event, a: Audience, subject: str, body: str, *, actor) -> EventMessage:
    """Queue the message to everyone the audience covers (one mail each, in their language and
    zone, with their personal link), kept in the event's history. Nothing is queued or kept when
    the text is refused or no one matches."""
    subject, body = check_text(subject, body)
    people = recipients(event, a)
    _check_recipients(people)
    message = EventMessage(
        event_id=event.id,
        subject=subject,
        body=body,
        filter=a.as_dict(),
        recipient_count=len(people),
        sent_by_id=getattr(actor, "id", None),
        sent_at=clock.now(),
    )
    db.session.add(message)
    queued_rows = []
    for person in people:
        if isinstance(person, Invitation):
            email, name = person.contact.email, person.contact.name
            with in_language(person.contact.language):
                ctx = _invitation_context(person, token=invitations.make_token(person))
                out_subject, text = render_wording(subject, body, ctx)
                queued = mail.queue(email, out_subject, body_text=text, to_name=name, category="event-message")
            row = EventMessageRecipient(email=email, name=name, invitation_id=person.id)
        else:
            email, name = person.email, person.name
            with in_language(*mail_languages(person)):
                out_subject, text = render_wording(subject, body, _registration_context(person, preview=False))
                queued = mail.queue(email, out_subject, body_text=text, to_name=name, category="event-message")
            row = EventMessageRecipient(email=email, name=name, registration_id=person.id)
        message.recipients.append(row)
        queued_rows.append((row, queued))
    db.session.flush()
    for row, queued in queued_rows:
        row.outbox_message_id = queued.id
    audit.record(actor, "event.message", event, summary=f"{subject} ({len(people)})")
    return message


def messages_of(event_id: int) -> list[EventMessage]:
    return list(
        db.session.scalars(
            sa.select(EventMessage).where(EventMessage.event_id == event_id).order_by(EventMessage.sent_at.desc())
        )
    )


def audience_text(filter: dict) -> str:
    """The audience of a message in the history, in words."""
    parts = [str(AUDIENCES.get(filter.get("audience"), filter.get("audience", "")))]
    if filter.get("member_government_id"):
        org = db.session.get(Organisation, filter["member_government_id"])
        if org is not None:
            parts.append(org.name)
    if filter.get("sector"):
        parts.append(str(SECTORS.get(filter["sector"], filter["sector"])))
    return " · ".join(parts)


# The invitee reminder --------------------------------------------------------------------------


def reminder_days(event_id: int) -> int | None:
    setting = db.session.get(InviteeReminderSetting, event_id)
    return setting.days_before if setting else None


@transactional
def set_reminder(event: Event, days: int | None, *, actor) -> None:
    """Remind invitees who have not answered ``days`` before registration closes; None: off."""
    if days is not None and not (1 <= days <= REMINDER_DAYS_MAX):
        raise ValidationFailed(
            _("The number of days must be between 1 and %(n)d.", n=REMINDER_DAYS_MAX),
            field_errors={"days_before": [_("Between 1 and %(n)d days.", n=REMINDER_DAYS_MAX)]},
        )
    setting = db.session.get(InviteeReminderSetting, event.id) or InviteeReminderSetting(event_id=event.id)
    before = setting.days_before
    setting.days_before = days
    db.session.add(setting)
    audit.record(actor, "event.invitee_reminder", event, changes={"days_before": [before, days]})


def _queue_invitee_reminder(inv: Invitation, wording: tuple[str, str] | None) -> None:
    with in_language(inv.contact.language):
        subject, body = wording or default_text("invitation_reminder")
        ctx = _invitation_context(inv, token=invitations.make_token(inv))
        out_subject, text = render_wording(subject, body, ctx)
        queued = mail.queue(
            inv.contact.email,
            out_subject,
            body_text=text,
            to_name=inv.contact.name,
            category="invitee-reminder",
            dedupe_key=f"invitee-reminder:{inv.id}",
        )
    db.session.add(InvitationReminder(invitation_id=inv.id, outbox_message_id=queued.id if queued else None))


def send_invitee_reminders() -> int:
    """Queue the reminder to every invitee who has not answered (sent or opened, no registration,
    not declined) of each scheduled event whose reminder is on and due (registration closes within
    its days and has not closed). Each invitation is reminded once; one unit of work per event."""
    now = clock.now()
    settings = db.session.scalars(
        sa.select(InviteeReminderSetting).where(InviteeReminderSetting.days_before.is_not(None))
    ).all()
    queued = 0
    for setting in settings:
        with unit_of_work():
            event = db.session.get(Event, setting.event_id)
            deadline = event.registration_deadline if event else None
            if event is None or event.status != STATUS_SCHEDULED or deadline is None or deadline <= now:
                continue
            if deadline - timedelta(days=setting.days_before) > now:
                continue
            row = mail_text(event.id, "invitation_reminder")
            wording = (row.subject, row.body) if row else None
            due = db.session.scalars(
                sa.select(Invitation)
                .where(
                    Invitation.event_id == event.id,
                    Invitation.state.in_((STATE_SENT, STATE_OPENED)),
                    ~sa.exists().where(InvitationReminder.invitation_id == Invitation.id),
                )
                .order_by(Invitation.id)
            ).all()
            for inv in due:
                _queue_invitee_reminder(inv, wording)
                queued += 1
    return queued


@jobs.scheduled("invitee-reminders")
def _invitee_reminders_job() -> int:
    return send_invitee_reminders()
