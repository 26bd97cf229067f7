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
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from flask import abort, current_app, request
from flask_login import current_user

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
                        abort(401)
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
