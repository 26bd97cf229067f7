"""Signed, salted, expiring personal links (invitations, manage-my-registration, commitment updates).

A token carries a small payload (ids and a nonce stored on the object); changing the nonce
revokes every earlier link. ``max_age`` is checked on load; expired and tampered tokens raise
:class:`webinar_mgr.errors.ValidationFailed` with a clear message.
"""
from __future__ import annotations

from datetime import datetime

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from webinar_mgr import clock
from webinar_mgr.errors import ValidationFailed


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def make(salt: str, payload: dict, *, expires_at: datetime | None = None) -> str:
    data = dict(payload)
    if expires_at is not None:
        data["exp"] = int(expires_at.timestamp())
    return _serializer(salt).dumps(data)


def load(salt: str, token: str, *, max_age: int | None = None) -> dict:
    """The payload, or ValidationFailed ('expired' / 'not valid')."""
    try:
        data = _serializer(salt).loads(token, max_age=max_age)
    except SignatureExpired:
        raise ValidationFailed(_("This link has expired.")) from None
    except BadSignature:
        raise ValidationFailed(_("This link is not valid: it may have been mistyped or changed.")) from None
    if not isinstance(data, dict):
        raise ValidationFailed(_("This link is not valid: it may have been mistyped or changed."))
    exp = data.get("exp")
    if exp is not None and clock.now().timestamp() > exp:
        raise ValidationFailed(_("This link has expired."))
    return data
