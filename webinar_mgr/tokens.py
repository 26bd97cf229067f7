"""Signed, salted, expiring personal links: the one token module (invitations, manage my
registration, commitment updates, password reset).

A token carries a small payload (ids and a nonce or fingerprint stored on the object), signed with
SECRET_KEY and a salt per purpose, so a link made for one purpose never opens another. Changing
the stored nonce revokes every earlier link. The expiry is written into the payload and checked
against ``clock.now()`` (tests move time, no sleeps); ``max_age`` is checked too when given.
Expired and tampered tokens raise :class:`webinar_mgr.errors.ValidationFailed` with a clear message.

Every refused link is a security event (``link.expired``, ``link.invalid``, ``link.replaced``,
with the salt as its purpose and never the token): :func:`load` logs the first two, and
:func:`require_current` checks the stored nonce (or fingerprint) and logs the third.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from datetime import datetime

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from webinar_mgr import clock
from webinar_mgr.errors import ValidationFailed
from webinar_mgr.security import security_event


def new_nonce() -> str:
    """A fresh nonce for an object's personal links: 128 bits from the OS's CSPRNG (22 characters).
    Storing a new one revokes every link made with the old one."""
    return secrets.token_urlsafe(16)


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def make(salt: str, payload: dict, *, expires_at: datetime | None = None) -> str:
    data = dict(payload)
    if expires_at is not None:
        data["exp"] = int(expires_at.timestamp())
    return _serializer(salt).dumps(data)


def load(
    salt: str,
    token: str,
    *,
    max_age: int | None = None,
    expired: str | None = None,
    invalid: str | None = None,
) -> dict:
    """The payload, or ValidationFailed with ``expired`` / ``invalid`` (or the plain defaults)."""
    expired = expired or _("This link has expired.")
    invalid = invalid or _("This link is not valid: it may have been mistyped or changed.")
    try:
        data = _serializer(salt).loads(token, max_age=max_age)
    except SignatureExpired:
        security_event("link.expired", level=logging.INFO, purpose=salt)
        raise ValidationFailed(expired) from None
    except BadSignature:
        security_event("link.invalid", purpose=salt)
        raise ValidationFailed(invalid) from None
    exp = data.get("exp") if isinstance(data, dict) else None
    if not isinstance(data, dict) or (exp is not None and not isinstance(exp, int)):
        security_event("link.invalid", purpose=salt)
        raise ValidationFailed(invalid)
    if exp is not None and clock.now().timestamp() > exp:
        security_event("link.expired", level=logging.INFO, purpose=salt)
        raise ValidationFailed(expired)
    return data


def require_current(salt: str, data: dict, key: str, current: str | None, *, message: str | None = None) -> None:
    """Refuse a link whose ``data[key]`` is no longer the object's nonce (or fingerprint): a newer
    link replaced it, or it was withdrawn or already used (``current`` None: nothing may match).
    Logged as ``link.replaced``."""
    given = data.get(key)
    if current is None or not isinstance(given, str) or not hmac.compare_digest(given.encode(), current.encode()):
        security_event("link.replaced", purpose=salt)
        raise ValidationFailed(
            message or _("This link has been replaced by a newer one. Please use the link in your latest email.")
        )
