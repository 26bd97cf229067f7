"""Organisers' pages: messages to an event's people with their preview and history, and the
invitee reminder (/events/<id>/messages); the event's mail texts (/events/<id>/mail-texts)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from webinar_mgr.directory.models import SECTORS
from webinar_mgr.errors import DomainError, ValidationFailed
from webinar_mgr.events.services import get_event
from webinar_mgr.events.signals import PageLink, event_page_links
from webinar_mgr.forms_common import int_or_none
from webinar_mgr.security import ORGANISERS, access

from . import services
from .models import KINDS

bp = Blueprint("messages", __name__)


def _audience() -> services.Audience:
    f = request.form
    raw = (f.get("member_government_id") or "").strip()
    mg = int_or_none(raw)  # a number a query can hold ("²" and 10**20 are none)
    if raw and (mg is None or mg < 1):
        raise ValidationFailed(
            _("Choose the recipients again."), field_errors={"member_government_id": [_("Not a valid choice.")]}
        )
    return services.Audience(
        audience=f.get("audience", "registrants"),
        member_government_id=mg,
        sector=f.get("sector") or None,
    )


def _page(event, *, errors=None, message=None, preview=None, status=200):
    return (
        render_template(
            "messages/messages.html",
            event=event,
            audiences=services.AUDIENCES,
            sectors=SECTORS,
            member_governments=services.member_government_choices(),
            placeholders=services.PLACEHOLDERS,
            history=services.messages_of(event.id),
            audience_text=services.audience_text,
            reminder_days=services.reminder_days(event.id),
            values=request.form if request.method == "POST" else {},
            errors=errors or {},
            message=message,
            preview=preview,
        ),
        status,
    )


@bp.get("/events/<int:event_id>/messages")
@access.roles(*ORGANISERS)
def manage(event_id: int):
    return _page(get_event(event_id))


@bp.post("/events/<int:event_id>/messages")
@access.roles(*ORGANISERS)
def compose(event_id: int):
    event = get_event(event_id)
    f = request.form
    try:
        audience = _audience()
        if f.get("action") == "send":
            sent = services.send_message(event, audience, f.get("subject", ""), f.get("body", ""), actor=current_user)
            flash(
                ngettext(
                    "The message is on its way to %(num)d person.",
                    "The message is on its way to %(num)d people.",
                    sent.recipient_count,
                ),
                "success",
            )
            return redirect(url_for("messages.manage", event_id=event.id) + "#history")
        preview = services.preview_message(event, audience, f.get("subject", ""), f.get("body", ""))
    except DomainError as exc:
        return _page(event, errors=exc.field_errors, message=exc.message, status=exc.status_code)
    return _page(event, preview=preview)


@bp.post("/events/<int:event_id>/messages/reminder")
@access.roles(*ORGANISERS)
def reminder(event_id: int):
    event = get_event(event_id)
    raw = request.form.get("days_before", "").strip()
    try:
        if request.form.get("enabled") != "y":
            days = None
        elif raw.isdigit():
            days = int(raw)
        else:
            raise ValidationFailed(
                _("Give the number of days before registration closes."),
                field_errors={"days_before": [_("A whole number of days.")]},
            )
        services.set_reminder(event, days, actor=current_user)
    except DomainError as exc:
        return _page(event, errors=exc.field_errors, message=exc.message, status=exc.status_code)
    if days is None:
        flash(_("Invitees who have not answered are not reminded."), "success")
    else:
        flash(
            _("Invitees who have not answered are reminded %(n)d days before registration closes.", n=days), "success"
        )
    return redirect(url_for("messages.manage", event_id=event.id) + "#reminder")


# Mail texts --------------------------------------------------------------------------------


def _texts_page(event, *, kind=None, errors=None, message=None, preview=None, status=200):
    own = services.mail_texts_of(event.id)
    forms = {}
    for k in KINDS:
        if k == kind and request.method == "POST":
            forms[k] = (request.form.get("subject", ""), request.form.get("body", ""))
        elif k in own:
            forms[k] = (own[k].subject, own[k].body)
        else:
            forms[k] = services.default_text(k)
    return (
        render_template(
            "messages/mail_texts.html",
            event=event,
            kinds=KINDS,
            labels=services.KIND_LABELS,
            own=own,
            forms=forms,
            placeholders=services.PLACEHOLDERS,
            people=services.people_choices(event),
            chosen=request.form.get("recipient") if request.method == "POST" else None,
            kind=kind,
            errors=errors or {},
            message=message,
            preview=preview,
        ),
        status,
    )


@bp.get("/events/<int:event_id>/mail-texts")
@access.roles(*ORGANISERS)
def mail_texts(event_id: int):
    return _texts_page(get_event(event_id))


@bp.post("/events/<int:event_id>/mail-texts/<kind>")
@access.roles(*ORGANISERS)
def mail_text(event_id: int, kind: str):
    event = get_event(event_id)
    if kind not in KINDS:
        return _texts_page(event, message=_("There is no such kind of mail."), status=404)
    f = request.form
    action = f.get("action", "save")
    try:
        if action == "reset":
            services.reset_mail_text(event, kind, actor=current_user)
            flash(_("The default wording is back for “%(kind)s”.", kind=services.KIND_LABELS[kind]), "success")
        elif action == "preview":
            preview = services.preview_mail_text(
                event, kind, f.get("subject", ""), f.get("body", ""), f.get("recipient") or None
            )
            return _texts_page(event, kind=kind, preview=preview)
        else:
            services.save_mail_text(event, kind, f.get("subject", ""), f.get("body", ""), actor=current_user)
            flash(_("The wording of “%(kind)s” is saved.", kind=services.KIND_LABELS[kind]), "success")
    except DomainError as exc:
        return _texts_page(event, kind=kind, errors=exc.field_errors, message=exc.message, status=exc.status_code)
    return redirect(url_for("messages.mail_texts", event_id=event.id) + f"#{kind}")


@event_page_links.connect
def _event_page_links(event, **_kwargs) -> list[PageLink]:
    return [
        PageLink(_("Messages"), url_for("messages.manage", event_id=event.id), order=45),
        PageLink(_("Mail texts"), url_for("messages.mail_texts", event_id=event.id), order=46),
    ]
