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

import functools
import hmac
import logging
import secrets
from datetime import datetime

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode, want_bytes
from itsdangerous.signer import HMACAlgorithm

from webinar_mgr import clock
from webinar_mgr.errors import ValidationFailed
from webinar_mgr.security import security_event


def new_nonce() -> str:
    """A fresh nonce for an object's personal links: 128 bits from the OS's CSPRNG (22 characters).
    Storing a new one revokes every link made with the old one."""
    return secrets.token_urlsafe(16)


class _Signer(TimestampSigner):
    """itsdangerous' signer with its key derived once (the same digest of the salt and the secret
    on every call), not once per signature, and its HMAC-SHA1 computed in one call of the
    standard library's C function: the same signature."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._keys: dict = {}
        sha1 = isinstance(self.algorithm, HMACAlgorithm) and self.algorithm.digest_method().name == "sha1"
        self._digest = "sha1" if sha1 else None

    def get_signature(self, value) -> bytes:
        if self._digest is None:
            return super().get_signature(value)
        return base64_encode(hmac.digest(self.derive_key(), want_bytes(value), self._digest))

    def derive_key(self, secret_key=None) -> bytes:
        key = self._keys.get(secret_key)
        if key is None:
            key = self._keys[secret_key] = super().derive_key(secret_key)
        return key


class _Serializer(URLSafeTimedSerializer):
    """URLSafeTimedSerializer whose signer for its own salt is made once: the same tokens, byte
    for byte, made and checked the same way (issue 19: a signer per token was most of the time of
    signing 5,000 invitation links)."""

    default_signer = _Signer

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._own = super().make_signer(self.salt)

    def make_signer(self, salt=None):
        if salt is None or salt == self.salt:
            return self._own
        return super().make_signer(salt)


@functools.lru_cache(maxsize=64)
def _serializer_for(secret_key, salt: str) -> URLSafeTimedSerializer:
    return _Serializer(secret_key, salt=salt)


def _serializer(salt: str) -> URLSafeTimedSerializer:
    """The serializer of one purpose, made once per secret and salt."""
    return _serializer_for(current_app.config["SECRET_KEY"], salt)


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
