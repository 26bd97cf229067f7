"""Manage-my-registration links: signed, salted with their own purpose, carrying the
registration's nonce (a new nonce revokes every earlier link), valid until a year after the event
(long enough to pledge a commitment and report on it)."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import gettext as _

from webinar_mgr import clock, links, tokens
from webinar_mgr.events.services import require_visible
from webinar_mgr.persistence import get_or_404

from .models import Registration

MANAGE_SALT = "registration-manage"


def _link_expiry(reg: Registration) -> datetime | None:
    end = reg.event.ends_at or reg.event.starts_at
    # Long enough for pledging a commitment and changing details after the event.
    return end + timedelta(days=365) if end else None


def make_manage_token(registration: Registration) -> str:
    return tokens.make(
        MANAGE_SALT, {"r": registration.id, "n": registration.nonce}, expires_at=_link_expiry(registration)
    )


def registration_from_token(token: str) -> Registration:
    """The registration behind a manage link. ValidationFailed: expired, tampered or replaced;
    NotFound: the registration is gone."""
    data = tokens.load(MANAGE_SALT, token)
    reg = get_or_404(Registration, data.get("r"), _("This registration no longer exists."))
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
