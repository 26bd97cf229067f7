"""Personal access tokens: creating (shown once), checking, listing and revoking them.

A token is ``wmt_`` followed by 43 URL-safe characters (256 random bits); only its SHA-256 is
stored. Its scopes say which resources it may read or write; each resource also asks its
owner's roles (``SCOPES``), now, at every request, so a token never gives more than its owner's
role allows (an organiser who loses the role loses the token's organiser resources with it).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from webinar_mgr import clock
from webinar_mgr.audit import services as audit
from webinar_mgr.auth.models import User
from webinar_mgr.errors import NotFound, ValidationFailed
from webinar_mgr.extensions import db
from webinar_mgr.persistence import transactional, unit_of_work
from webinar_mgr.security import ORGANISERS, REVIEWERS, has_role

from .models import ApiToken

TOKEN_PREFIX = "wmt_"
MAX_DAYS = 366
DEFAULT_DAYS = 90

# scope -> (what it allows, the roles its owner needs; None: any signed-in user)
SCOPES: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "events:read": (_l("Read events, drafts included for organisers"), None),
    "events:write": (_l("Create and change events and their agendas"), ORGANISERS),
    "registrations:read": (_l("Read the registrations of events"), ORGANISERS),
    "registrations:write": (_l("Register directory contacts and guests for events"), ORGANISERS),
    "invitations:read": (_l("Read the invitations of events"), ORGANISERS),
    "invitations:write": (_l("Invite directory contacts to events"), ORGANISERS),
    "attendance:read": (_l("Read the attendance of events"), ORGANISERS),
    "attendance:write": (_l("Upload Zoom and Teams attendance reports and check people in"), ORGANISERS),
    "commitments:read": (_l("Read the commitments tracker"), REVIEWERS),
    "directory:read": (_l("Read the directory's organisations"), REVIEWERS),
    "contacts:read": (_l("Read the directory's contacts (names and addresses)"), ORGANISERS),
    "review:read": (_l("Read the co-chairs' review figures"), REVIEWERS),
}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def scopes_for(user) -> list[str]:
    """The scopes ``user``'s roles allow."""
    return [s for s, (_label, roles) in SCOPES.items() if roles is None or has_role(user, *roles)]


def scope_allowed(user, scope: str) -> bool:
    roles = SCOPES[scope][1]
    return roles is None or has_role(user, *roles)


@dataclass
class NewToken:
    token: ApiToken
    secret: str  # shown once, never stored


@transactional
def create_token(user, name: str, scopes: list[str], days: int | None = DEFAULT_DAYS, *, actor) -> NewToken:
    """A new token for ``user`` with ``scopes`` (each one its roles allow), valid ``days`` days."""
    errors: dict[str, list[str]] = {}
    name = " ".join((name or "").split())
    if not name:
        errors["name"] = [_("Give the token a name, e.g. the script that uses it.")]
    elif len(name) > 100:
        errors["name"] = [_("At most 100 characters.")]
    scopes = list(dict.fromkeys(scopes or []))
    unknown = [s for s in scopes if s not in SCOPES]
    if not scopes:
        errors["scopes"] = [_("Choose at least one scope.")]
    elif unknown:
        errors["scopes"] = [_("Unknown scope: %(scope)s.", scope=", ".join(unknown))]
    else:
        beyond = [s for s in scopes if not scope_allowed(user, s)]
        if beyond:
            errors["scopes"] = [_("Your role does not allow: %(scopes)s.", scopes=", ".join(beyond))]
    if days is None or not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_DAYS:
        errors["days"] = [_("A token lasts from 1 to %(n)d days.", n=MAX_DAYS)]
    if errors:
        first = next(iter(errors.values()))[0]
        raise ValidationFailed(first, field_errors=errors)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = clock.now()
    token = ApiToken(
        user_id=user.id,
        name=name,
        prefix=secret[:10],
        token_hash=hash_token(secret),
        scopes=scopes,
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    db.session.add(token)
    db.session.flush()
    audit.record(
        actor,
        "api.token.create",
        token,
        summary=f"{user.email}: {name} ({', '.join(scopes)}), {days} days",
        changes={"scopes": [None, scopes], "expires_at": [None, token.expires_at]},
    )
    return NewToken(token, secret)


def tokens_of(user) -> list[ApiToken]:
    return list(
        db.session.scalars(
            sa.select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at.desc(), ApiToken.id)
        )
    )


@transactional
def revoke_token(token_id: int, *, actor) -> ApiToken:
    """Revoke one of the actor's own tokens (another's is not found)."""
    token = db.session.get(ApiToken, token_id) if isinstance(token_id, int) else None
    if token is None or token.user_id != getattr(actor, "id", None):
        raise NotFound(_("There is no such token."))
    if token.revoked_at is None:
        token.revoked_at = clock.now()
        audit.record(actor, "api.token.revoke", token, summary=f"{actor.email}: {token.name}")
    return token


def authenticate(secret: str) -> ApiToken | None:
    """The usable token with this secret (not revoked, not expired, its owner active), with its
    last use recorded (at most once a minute, so reads stay cheap), or None."""
    if not secret or not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    token = db.session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == hash_token(secret)))
    now = clock.now()
    if token is None or not token.is_usable(now) or not token.user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        with unit_of_work():  # bookkeeping, its own unit, before the request's work begins
            db.session.execute(sa.update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now))
        token.last_used_at = now
    return token


def user_by_email(email: str) -> User:
    user = db.session.scalar(sa.select(User).where(sa.func.lower(User.email) == (email or "").strip().lower()))
    if user is None:
        raise NotFound(_("There is no user with this address."))
    return user


def expires_in_days(token: ApiToken, now: datetime | None = None) -> int:
    return max(0, ((token.expires_at - (now or clock.now())).days))
