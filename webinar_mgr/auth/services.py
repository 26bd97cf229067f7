"""Accounts: creation, sign-in, passwords and their reset, roles, profiles."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, render_template
from flask_babel import gettext as _
from jinja2 import TemplateNotFound

from webinar_mgr import clock, tokens
from webinar_mgr.audit import services as audit
from webinar_mgr.errors import Conflict, NotAllowed, ValidationFailed
from webinar_mgr.extensions import db
from webinar_mgr.i18n import in_language, is_valid_timezone
from webinar_mgr.links import abs_url
from webinar_mgr.mail import services as mail
from webinar_mgr.persistence import transactional, unit_of_work
from webinar_mgr.security import ADMIN, ORGANISER, PARTICIPANT

from .models import ROLES, Role, User

_hasher = PasswordHasher()
_fast_hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def _current_hasher() -> PasswordHasher:
    """Tests use cheap parameters; verification reads the parameters from the hash itself."""
    return _fast_hasher if current_app.config.get("PASSWORD_HASH_FAST") else _hasher


MIN_PASSWORD_LENGTH = 10
RESET_SALT = "password-reset"


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def hash_password(password: str) -> str:
    return _current_hasher().hash(password)


def check_password_strength(password: str) -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            _("Use at least %(n)d characters for the password.", n=MIN_PASSWORD_LENGTH),
            field_errors={"password": [_("Too short.")]},
        )


def get_by_email(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))


def ensure_roles() -> dict[str, Role]:
    existing = {r.name: r for r in db.session.scalars(sa.select(Role))}
    for name in ROLES:
        if name not in existing:
            existing[name] = Role(name=name)
            db.session.add(existing[name])
    return existing


@transactional
def create_user(
    *,
    email: str,
    name: str,
    password: str | None,
    roles: list[str] | tuple[str, ...] = (PARTICIPANT,),
    timezone: str = "UTC",
    language: str = "en",
    organisation_id: int | None = None,
    position: str | None = None,
    actor=None,
) -> User:
    email = normalise_email(email)
    if not email or "@" not in email:
        raise ValidationFailed(_("Enter a valid email address."), field_errors={"email": [_("Invalid email.")]})
    if get_by_email(email):
        raise Conflict(_("An account with this email already exists."), field_errors={"email": [_("Already in use.")]})
    if not is_valid_timezone(timezone):
        raise ValidationFailed(
            _("Unknown time zone: %(tz)s", tz=timezone), field_errors={"timezone": [_("Unknown time zone.")]}
        )
    if password is not None:
        check_password_strength(password)
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValidationFailed(_("Unknown role: %(role)s", role=", ".join(sorted(unknown))))
    all_roles = ensure_roles()
    user = User(
        email=email,
        name=name.strip(),
        password_hash=hash_password(password) if password else None,
        timezone=timezone,
        language=language,
        organisation_id=organisation_id,
        position=position,
        roles=[all_roles[r] for r in roles],
    )
    db.session.add(user)
    db.session.flush()
    audit.record(actor, "user.create", user, summary=f"{email} ({', '.join(sorted(roles))})")
    return user


def user_for_session(user_id: int, session_version: int) -> User | None:
    """The user of a session signed in with ``session_version``; None once the account signed out,
    changed its password or was deactivated since (so those sessions end)."""
    user = db.session.get(User, user_id)
    if user is None or not user.is_active or user.session_version != session_version:
        return None
    return user


@transactional
def end_sessions(user: User, *, actor) -> None:
    """End every session and remember cookie of ``user`` on the server (a new session version).

    Signing out calls it: sessions are counted per account, not kept one by one, so that a copy
    of the signed-out session's cookie stops working."""
    user.session_version = (user.session_version or 1) + 1


@transactional
def end_all_sessions(user: User, password: str, *, actor) -> None:
    """ "Sign out everywhere" (the profile page): the password again (a borrowed or stolen session
    cannot do it), then every session ends; written to the audit log."""
    _check_current_password(user, password)
    end_sessions(user, actor=actor)
    audit.record(actor, "user.sessions_ended", user, summary=user.email)


def authenticate(email: str, password: str) -> User | None:
    """The user when email and password match an active account, else None.

    The hash is verified even for unknown emails, so timing does not reveal which exist.
    """
    user = get_by_email(email)
    stored = user.password_hash if user and user.password_hash else None
    try:
        _hasher.verify(stored or _dummy_hash(), password or "")
        ok = stored is not None
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or not user.is_active:
        return None
    with unit_of_work():
        if _current_hasher().check_needs_rehash(stored):
            user.password_hash = hash_password(password)
        user.last_login_at = clock.now()
    return user


_DUMMY: list[str] = []


def _dummy_hash() -> str:
    if not _DUMMY:
        _DUMMY.append(hash_password("not-a-real-password"))
    return _DUMMY[0]


@transactional
def set_password(user: User, password: str, *, actor=None) -> None:
    check_password_strength(password)
    user.password_hash = hash_password(password)
    user.session_version = (user.session_version or 1) + 1  # signs out other sessions
    audit.record(actor or user, "user.password", user, summary=user.email)


def _check_current_password(user: User, current: str) -> None:
    try:
        _hasher.verify(user.password_hash or _dummy_hash(), current or "")
    except (VerificationError, InvalidHashError):
        raise ValidationFailed(
            _("The current password is not right."), field_errors={"current_password": [_("Not right.")]}
        ) from None


@transactional
def change_password(user: User, current: str, new: str, *, actor=None) -> None:
    _check_current_password(user, current)
    set_password(user, new, actor=actor)


# Password reset ----------------------------------------------------------------------------


def _fingerprint(user: User) -> str:
    """Changes when the password (or the session version) changes, so a link works once: 128 bits
    of a SHA-256 over the argon2 hash, whose salt is 16 random bytes."""
    return hashlib.sha256(f"{user.password_hash}:{user.session_version}".encode()).hexdigest()[:32]


def make_reset_token(user: User) -> str:
    """A signed link payload with its expiry time (from ``clock``, so tests can move time) and 128
    random bits (``r``), so that every link is unique and unguessable even for an account
    without a password yet."""
    expires = clock.now() + timedelta(seconds=current_app.config["PASSWORD_RESET_MAX_AGE"])
    payload = {"u": user.id, "f": _fingerprint(user), "r": secrets.token_urlsafe(16)}
    return tokens.make(RESET_SALT, payload, expires_at=expires)


def _render_reset_mail(user: User, token: str) -> tuple[str, str | None]:
    """The reset mail's text and HTML bodies (the HTML part is optional), as ``mail.queue``
    renders them."""
    max_age = current_app.config["PASSWORD_RESET_MAX_AGE"]
    context = {
        "user": user,
        "link": abs_url("auth.reset_password", token=token),
        "minutes": max_age // 60,
        "subject": _("Reset your password"),
    }
    text = render_template("mail/password_reset.txt", **context)
    try:
        html = render_template("mail/password_reset.html", **context)
    except TemplateNotFound:  # the text in the mails' shared HTML layout, rendered here for any address
        html = mail.html_from_text(text, context["subject"])
    return text, html


@transactional
def request_password_reset(email: str) -> None:
    """Queue a reset mail when an active account has this address; say nothing either way.

    The time of the answer must not tell either: for any address the account is looked up, a
    link is signed and the mail is rendered (for a stand-in account when there is none); only
    queueing the mail, one row in the outbox, is left for a real account."""
    user = get_by_email(email)
    real = user is not None and user.is_active
    target = user if real else _stand_in(email)
    token = make_reset_token(target)
    with in_language(target.language):  # the account's language (issue 13)
        body_text, body_html = _render_reset_mail(target, token)
        subject = _("Reset your password")
    if not real:
        return
    mail.queue(
        user.email,
        subject,
        body_text=body_text,
        body_html=body_html,
        to_name=user.name,
        category="account",
    )


def _stand_in(email: str) -> User:
    """An account that is never saved, for the work done for an unknown address."""
    return User(
        id=0, email=normalise_email(email), name=normalise_email(email), password_hash=_dummy_hash(), session_version=1
    )


def user_from_reset_token(token: str) -> User:
    invalid = _("This reset link is not valid. Ask for a new one.")
    data = tokens.load(RESET_SALT, token, expired=_("This reset link has expired. Ask for a new one."), invalid=invalid)
    if not isinstance(data.get("exp"), int):
        raise ValidationFailed(invalid)
    uid = data.get("u")
    user = db.session.get(User, uid) if isinstance(uid, int) else None
    current = _fingerprint(user) if user is not None and user.is_active else None
    tokens.require_current(
        RESET_SALT, data, "f", current, message=_("This reset link has already been used or is no longer valid.")
    )
    return user


@transactional
def reset_password(token: str, password: str) -> User:
    user = user_from_reset_token(token)
    set_password(user, password)
    return user


# Profiles and administration ---------------------------------------------------------------


@transactional
def update_profile(
    user: User, *, name: str, timezone: str, language: str, organisation_id: int | None, position: str | None
) -> User:
    if not is_valid_timezone(timezone):
        raise ValidationFailed(
            _("Unknown time zone: %(tz)s", tz=timezone), field_errors={"timezone": [_("Unknown time zone.")]}
        )
    _check_language(language)
    user.name = name.strip()
    user.timezone = timezone
    user.language = language
    user.organisation_id = organisation_id
    user.position = position
    return user


@transactional
def set_language(user: User, language: str) -> User:
    """The footer's switcher, signed in: the choice becomes the profile's language (which decides
    the pages and the mails)."""
    _check_language(language)
    user.language = language
    return user


def _check_language(language: str) -> None:
    offered = current_app.config["LANGUAGES"]
    if language not in offered:
        msg = _(
            "“%(code)s” is not one of the languages offered (%(offered)s). Choose one from the list.",
            code=(language or "")[:35],
            offered=", ".join(offered.values()),
        )
        raise ValidationFailed(msg, field_errors={"language": [msg]})


def list_users(q: str | None = None, role: str | None = None, page: int = 1):
    stmt = sa.select(User).order_by(User.name)
    if q:
        like = f"%{q.strip().lower()}%"
        stmt = stmt.where(sa.or_(sa.func.lower(User.name).like(like), User.email.like(like)))
    if role:
        stmt = stmt.where(User.roles.any(Role.name == role))
    return db.paginate(stmt, page=page, per_page=50, error_out=False)


@transactional
def admin_create_user(
    *, email: str, name: str, password: str, roles: list[str], timezone: str, active: bool, actor
) -> User:
    user = create_user(email=email, name=name, password=password, roles=roles, timezone=timezone, actor=actor)
    user.active = active
    return user


@transactional
def admin_update_user(user: User, *, name: str, email: str, roles: list[str], active: bool, actor) -> User:
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValidationFailed(_("Unknown role: %(role)s", role=", ".join(sorted(unknown))))
    email = normalise_email(email)
    other = get_by_email(email)
    if other is not None and other.id != user.id:
        raise Conflict(_("An account with this email already exists."), field_errors={"email": [_("Already in use.")]})
    if user.id == getattr(actor, "id", None) and (ADMIN not in roles or not active):
        raise NotAllowed(_("You cannot remove your own administrator role or deactivate yourself."))
    before = {"name": user.name, "email": user.email, "roles": sorted(user.role_names), "active": user.active}
    all_roles = ensure_roles()
    user.name = name.strip()
    user.email = email
    user.roles = [all_roles[r] for r in roles]
    if user.active and not active:
        user.session_version += 1
    user.active = active
    after = {"name": user.name, "email": user.email, "roles": sorted(roles), "active": active}
    audit.record(actor, "user.update", user, summary=user.email, changes=audit.diff(before, after))
    return user


@transactional
def create_or_promote_admin(*, email: str, name: str, password: str, timezone: str = "UTC") -> tuple[User, bool]:
    """The first administrator (``flask create-admin``): a new account holding the administrator
    and organiser roles, or an existing account given the administrator role and the password.
    Returns the user and whether it was created."""
    existing = get_by_email(email)
    if existing is None:
        return create_user(email=email, name=name, password=password, roles=[ADMIN, ORGANISER], timezone=timezone), True
    roles = ensure_roles()
    if ADMIN not in existing.role_names:
        existing.roles.append(roles[ADMIN])
    set_password(existing, password)
    return existing, False
