"""Manage-my-registration links: signed, salted with their own purpose, carrying the
registration's nonce (a new nonce revokes every earlier link), valid until a year after the event
(long enough to pledge a commitment and report on it)."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import gettext as _

from webinar_mgr import clock, links, tokens
from webinar_mgr.errors import NotFound
from webinar_mgr.events.services import require_visible
from webinar_mgr.extensions import db
from webinar_mgr.persistence import get_or_404

from .models import Registration, with_its_event_only

MANAGE_SALT = "registration-manage"


def _link_expiry(reg: Registration) -> datetime | None:
    end = reg.event.ends_at or reg.event.starts_at
    # Long enough for pledging a commitment and changing details after the event.
    return end + timedelta(days=365) if end else None


def make_manage_token(registration: Registration) -> str:
    return tokens.make(
        MANAGE_SALT, {"r": registration.id, "n": registration.nonce}, expires_at=_link_expiry(registration)
    )


def registration_from_token(token: str, *, alone: bool = False) -> Registration:
    """The registration behind a manage link. ValidationFailed: expired, tampered or replaced;
    NotFound: the registration is gone. ``alone``: only the registration and its event's own
    columns are read (one statement; a change such as cancelling reads nothing else), the rest
    when used."""
    data = tokens.load(MANAGE_SALT, token)
    gone = _("This registration no longer exists.")
    if alone:
        rid = data.get("r")
        reg = db.session.get(Registration, rid, options=with_its_event_only()) if isinstance(rid, int) else None
        if reg is None:
            raise NotFound(gone)
    else:
        reg = get_or_404(Registration, data.get("r"), gone)
    require_visible(reg.event)
    tokens.require_current(MANAGE_SALT, data, "n", reg.nonce)
    return reg


def manage_url(registration: Registration) -> str:
    return links.abs_url("registrations.manage", token=make_manage_token(registration)) or ""


def pledge_url(registration: Registration) -> str | None:
    return links.abs_url("commitments.pledge_by_link", token=make_manage_token(registration))


def manage_link_valid(reg: Registration) -> bool:
    """Manage links last a year after the event; older registrations are read-only."""
    expiry = _link_expiry(reg)
    return expiry is None or expiry > clock.now()
