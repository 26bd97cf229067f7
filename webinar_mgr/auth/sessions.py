"""Signed-in sessions: started at sign-in, checked on every request, ended on the server.

The session cookie is Flask's signed cookie, kept by the browser; what lets the server end a
session, including a copy of the cookie held by someone else, is the account's
``User.session_version``. Each session and remember cookie carries the version it was signed in
with; signing out, changing the password, "Sign out everywhere" and deactivation bump it, so
every earlier cookie of the account stops working (sessions are counted per account: there is no
table of sessions, so signing out on one device signs the account out on all of them).

flask-login's user id for a session is ``"<user id>.<session_version>.<signed in at>.<remember>"``
(the time as a Unix timestamp, remember 1 or 0); the remember cookie carries the same string. The
session also holds when it started and when it was last used. The server, with ``clock.now()``:

* ends a session idle for longer than ``SESSION_IDLE_MINUTES`` (default 120);
* ends a session ``SESSION_MAX_HOURS`` (default 12) after it started, however busy;
* accepts a remember cookie ("Keep me signed in") for ``REMEMBER_DAYS`` (default 30, at most 30)
  after the sign-in, and then starts a new session from it; a session started from a remember
  cookie also ends when the cookie's 30 days are over.

A refused session is forgotten (and a refused remember cookie deleted), so the visitor is
anonymous and asked to sign in again. This module is the views' side of sessions (it reads and
writes Flask's ``session``); the rules on the account are in ``services.py``.
"""

from __future__ import annotations

import logging

from flask import current_app, session
from flask_login import login_user, logout_user

from webinar_mgr import clock
from webinar_mgr.security import security_event

from . import services
from .models import User

STARTED = "_auth_started"  # when this session started (the absolute timeout counts from here)
SEEN = "_auth_seen"  # the last request (the idle timeout counts from here)
SEEN_STEP = 60  # seconds: the last-seen time is rewritten at most once a minute


def _now() -> int:
    return int(clock.now().timestamp())


def _session_id(user: User, signed_in: int, remember: bool) -> str:
    return f"{user.id}.{user.session_version}.{signed_in}.{1 if remember else 0}"


def _parse(value: str) -> tuple[int, int, int, bool] | None:
    parts = (value or "").split(".")
    if len(parts) != 4 or not all(p.isdigit() for p in parts) or parts[3] not in ("0", "1"):
        return None  # includes the "<id>.<version>" form of sessions older than the timeouts
    return int(parts[0]), int(parts[1]), int(parts[2]), parts[3] == "1"


def start(user: User, *, remember: bool = False) -> None:
    """Sign ``user`` in on this browser: a new session (and a remember cookie if asked)."""
    now = _now()
    login_user(user, remember=remember)
    session["_user_id"] = _session_id(user, now, remember)
    session[STARTED] = now
    session[SEEN] = now


def renew(user: User) -> None:
    """Keep this browser signed in after the account's version changed (the password was
    changed here): the same session, with the same sign-in time, start time and remember choice,
    so the timeouts still count from the sign-in."""
    parsed = _parse(session.get("_user_id", ""))
    now = _now()
    signed_in, remember = (parsed[2], parsed[3]) if parsed else (now, False)
    started = session.get(STARTED, now)
    login_user(user, remember=remember)
    session["_user_id"] = _session_id(user, signed_in, remember)
    session[STARTED] = started
    session[SEEN] = now


def end() -> None:
    """Forget the session in this browser (the account's version is bumped by the caller)."""
    logout_user()
    _forget()


def _forget() -> None:
    for key in ("_user_id", "_fresh", "_id", STARTED, SEEN):
        session.pop(key, None)


def load(value: str) -> User | None:
    """flask-login's user loader: the user of this session or remember cookie, or None.

    flask-login first calls it with the session's id; when that gives None and the browser holds
    a remember cookie, it puts the cookie's id in the session and calls it again. A session of ours
    always has its times, so an id without them in the session came from the remember cookie.
    """
    parsed = _parse(value)
    if parsed is None:
        _forget()
        return None
    user_id, version, signed_in, remember = parsed
    cfg = current_app.config
    now = _now()
    remember_ends = signed_in + cfg["REMEMBER_DAYS"] * 86400
    started, seen = session.get(STARTED), session.get(SEEN)
    from_cookie = not isinstance(started, int) or not isinstance(seen, int)

    if from_cookie and not remember:
        _forget()
        return None
    if remember and now > remember_ends:
        return _refuse("session.expired", "remember_days", user_id, from_cookie)
    if not from_cookie:
        if now - seen > cfg["SESSION_IDLE_MINUTES"] * 60:
            return _refuse("session.expired", "idle", user_id, from_cookie)
        if now - started > cfg["SESSION_MAX_HOURS"] * 3600:
            return _refuse("session.expired", "absolute", user_id, from_cookie)

    user = services.user_for_session(user_id, version)
    if user is None:  # signed out, password changed, deactivated or deleted since
        return _refuse("session.ended", "version", user_id, from_cookie)
    if from_cookie:
        session[STARTED] = now
        session[SEEN] = now
        security_event("session.restored", level=logging.INFO, user_id=user_id)
    elif now - seen >= SEEN_STEP:
        session[SEEN] = now
    return user


def _refuse(event: str, reason: str, user_id: int, from_cookie: bool) -> None:
    security_event(event, level=logging.INFO, reason=reason, user_id=user_id, remember_cookie=from_cookie or None)
    _forget()
    if from_cookie:
        session["_remember"] = "clear"  # flask-login deletes the cookie in the response
    return None
