"""Access policies: every view declares who may call it.

``@access.public``            anyone, signed in or not
``@access.token``             anyone holding a valid signed link (checked in the service)
``@access.authenticated``     any signed-in user
``@access.roles(ORGANISER)``  signed-in users holding one of the roles (admins hold all)
``@access.bearer``            the JSON API: a personal access token in the Authorization header
                              (never a session cookie), its scopes and its owner's roles checked
                              by ``webinar_mgr.api`` for each resource

Roles are named here, once: the four role names, and the groups of roles that the modules' rules
use (``ORGANISERS`` run events, ``REVIEWERS`` read the directory and the co-chairs' review).
``has_role(user, *roles)`` is the one check for a user who may be anonymous.

The policy is stored on the view function (``view.access_policy``); ``tests/test_access_policy.py``
walks the URL map and fails for any endpoint without one, then checks each policy is enforced.

Security events (failed sign-ins, refused access, misused personal links, rate limits, sessions
ended) go to the logger ``webinar_mgr.security`` through :func:`security_event`, one JSON object
per line, never with a password, a token or a URL path (personal links carry their token in it).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass

from flask import abort, current_app, g, has_request_context, request
from flask_login import current_user

from . import clock
from .extensions import limiter

# Roles (stored in the user_roles table; an administrator holds every role).
ADMIN = "admin"
ORGANISER = "organiser"
COCHAIR = "cochair"
PARTICIPANT = "participant"
ALL_ROLES = (ADMIN, ORGANISER, COCHAIR, PARTICIPANT)
# Who may do what, named once.
ORGANISERS = (ORGANISER,)  # create and run events, invite, register on behalf, import attendance
REVIEWERS = (ORGANISER, COCHAIR)  # read the directory, the tracker and the co-chairs' review
ADMINS = (ADMIN,)


def has_role(user, *roles: str) -> bool:
    """True for a signed-in, active user holding one of ``roles`` (anonymous readers: False)."""
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.has_role(*roles))


PUBLIC = "public"
TOKEN = "token"
AUTHENTICATED = "authenticated"
ROLES = "roles"
BEARER = "bearer"


@dataclass(frozen=True)
class Policy:
    kind: str
    roles: frozenset[str] = frozenset()

    def allows(self, user) -> bool:
        if self.kind in (PUBLIC, TOKEN, BEARER):
            return True
        if not user or not user.is_authenticated:
            return False
        if self.kind == AUTHENTICATED:
            return True
        return has_role(user, *self.roles)


def _wrap(policy: Policy):
    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if policy.kind in (AUTHENTICATED, ROLES):
                if not current_user.is_authenticated:
                    if request.accept_mimetypes.best == "application/json":
                        abort(401)  # logged with every 401/403 response (create_app)
                    security_event("access.denied", level=logging.INFO, status=401)
                    return current_app.login_manager.unauthorized()
                if not policy.allows(current_user):
                    abort(403)
            return view(*args, **kwargs)

        wrapped.access_policy = policy
        return wrapped

    return decorator


class _Access:
    public = staticmethod(_wrap(Policy(PUBLIC)))
    token = staticmethod(_wrap(Policy(TOKEN)))
    authenticated = staticmethod(_wrap(Policy(AUTHENTICATED)))
    bearer = staticmethod(_wrap(Policy(BEARER)))

    @staticmethod
    def roles(*names: str):
        if not names:
            raise ValueError("access.roles needs at least one role")
        return _wrap(Policy(ROLES, frozenset(names)))


access = _Access()


def policy_of(view) -> Policy | None:
    return getattr(view, "access_policy", None)


def public_form_limit():
    """Flask-Limiter decorator for the public forms' POSTs (registration, the invitation link, the
    manage page): one budget per client address, shared by all of them (PUBLIC_FORM_RATE_LIMIT)."""
    return limiter.shared_limit(
        lambda: current_app.config["PUBLIC_FORM_RATE_LIMIT"], scope="public-forms", methods=["POST"]
    )


# Security events --------------------------------------------------------------------------------

security_log = logging.getLogger("webinar_mgr.security")


def email_hash(email: str | None) -> str | None:
    """A keyed hash of an address for the security log (HMAC-SHA256 with SECRET_KEY, 16 hex
    digits): the same address gives the same value, so attempts on one account can be followed,
    while the log holds no address, and no password typed into the email field by mistake.
    Someone reading the log without SECRET_KEY cannot test guesses against it."""
    if email is None:
        return None
    secret = current_app.config["SECRET_KEY"]
    secret = secret.encode() if isinstance(secret, str) else bytes(secret)
    key = hashlib.sha256(b"security-log-email:" + secret).digest()
    return hmac.new(key, email.strip().lower().encode(), hashlib.sha256).hexdigest()[:16]


def _signed_in_user_id() -> int | None:
    # The user already loaded for this request, if any: asking current_user here could load it,
    # and this runs inside the session loader too.
    user = g.get("_login_user")
    if user is not None and getattr(user, "is_authenticated", False):
        return getattr(user, "id", None)
    return None


def security_event(event: str, *, level: int = logging.WARNING, **fields) -> None:
    """Write one security event as one line of JSON on the logger ``webinar_mgr.security``.

    ``event`` is a dotted name (``auth.login_failed``, ``access.denied``, ``link.invalid``,
    ``rate_limit.exceeded``, ``session.expired``...); ``at`` the time in UTC with its offset;
    ``fields`` are small values (ids, a status, a reason, an :func:`email_hash`); None values are
    left out. The request adds the client address, the method, the endpoint name (never the path
    or the query: personal links carry their token there) and the signed-in user's id. JSON
    escapes line breaks, so a value cannot forge a second line.
    """
    record: dict = {"event": event, "at": clock.now().isoformat(timespec="seconds")}
    record.update({k: v for k, v in fields.items() if v is not None})
    if has_request_context():
        record.setdefault("ip", request.remote_addr)
        record.setdefault("method", request.method)
        record.setdefault("endpoint", request.endpoint)
        user_id = _signed_in_user_id()
        if user_id is not None:
            record.setdefault("user_id", user_id)
        g.security_event_logged = True
    security_log.log(level, json.dumps(record, ensure_ascii=True, default=str), extra={"security_event": record})
