"""Access policies: every view declares who may call it.

``@access.public``            anyone, signed in or not
``@access.token``             anyone holding a valid signed link (checked in the service)
``@access.authenticated``     any signed-in user
``@access.roles("organiser")`` signed-in users holding one of the roles (admins hold all)

The policy is stored on the view function (``view.access_policy``); ``tests/test_access_policy.py``
walks the URL map and fails for any endpoint without one, then checks each policy is enforced.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

from flask import abort, current_app, request
from flask_login import current_user

PUBLIC = "public"
TOKEN = "token"
AUTHENTICATED = "authenticated"
ROLES = "roles"


@dataclass(frozen=True)
class Policy:
    kind: str
    roles: frozenset[str] = frozenset()

    def allows(self, user) -> bool:
        if self.kind in (PUBLIC, TOKEN):
            return True
        if not user or not user.is_authenticated:
            return False
        if self.kind == AUTHENTICATED:
            return True
        return user.has_role(*self.roles)


def _wrap(policy: Policy):
    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if policy.kind in (AUTHENTICATED, ROLES):
                if not current_user.is_authenticated:
                    if request.blueprint == "api" or request.accept_mimetypes.best == "application/json":
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

    @staticmethod
    def roles(*names: str):
        if not names:
            raise ValueError("access.roles needs at least one role")
        return _wrap(Policy(ROLES, frozenset(names)))


access = _Access()


def policy_of(view) -> Policy | None:
    return getattr(view, "access_policy", None)
