"""Signed-in sessions end on the server (OWASP ASVS 5.0, 7.3.1, 7.3.2, 7.4.1, 7.4.3).

Sign-out, a password change and "Sign out everywhere" end sessions on the server, so that a copy
of an old session cookie or remember cookie (a stolen one) stops working; the remember cookie lasts
30 days at most, checked by the server; the idle and absolute timeouts are tested by moving the
clock (``clock.freeze`` / ``clock.advance``), never by sleeping.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest
import sqlalchemy as sa

from webinar_mgr import clock, create_app
from webinar_mgr.audit.models import AuditEntry
from webinar_mgr.auth.models import User
from webinar_mgr.extensions import db

PW = "correct-horse-battery"
START = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
SESSION = "session"
REMEMBER = "remember_token"


@pytest.fixture(autouse=True)
def frozen(app):
    clock.freeze(START)
    yield
    clock.unfreeze()


def _sign_in(client, user, *, remember: bool = False):
    data = {"email": user.email, "password": PW}
    if remember:
        data["remember"] = "y"
    resp = client.post("/login", data=data)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    return resp


def _signed_in(client) -> bool:
    """True when the client's cookies still open a page for signed-in users."""
    resp = client.get("/profile")
    if resp.status_code == 200:
        return True
    assert resp.status_code == 302 and "/login" in resp.headers["Location"], resp.status_code
    return False


def _copy(app, client, *names):
    """A second browser holding copies of ``client``'s cookies (what a thief would hold)."""
    thief = app.test_client()
    for name in names:
        cookie = client.get_cookie(name)
        assert cookie is not None, name
        thief.set_cookie(name, cookie.value)
    return thief


def _later(**delta):
    clock.advance(timedelta(**delta))


# Sign-out ends the session on the server (7.4.1) ------------------------------------------------


def test_a_copied_session_cookie_stops_working_after_sign_out(app, client, make_user):
    user = make_user("participant")
    _sign_in(client, user)
    thief = _copy(app, client, SESSION)
    assert _signed_in(thief)
    assert client.post("/logout").status_code == 302
    assert not _signed_in(client)
    assert not _signed_in(thief)


def test_a_copied_remember_cookie_stops_working_after_sign_out(app, client, make_user):
    user = make_user("participant")
    _sign_in(client, user, remember=True)
    thief = _copy(app, client, REMEMBER)  # the remember cookie alone opens a new session
    assert _signed_in(thief)
    resp = client.post("/logout")
    cleared = [c for c in resp.headers.getlist("Set-Cookie") if c.startswith(f"{REMEMBER}=")]
    assert cleared and "Expires=Thu, 01 Jan 1970" in cleared[0]  # the browser forgets it too
    assert not _signed_in(_copy(app, thief, REMEMBER))
    assert not _signed_in(thief)


def test_sign_out_ends_the_accounts_other_sessions_too(app, make_user):
    """Sessions are counted per account (``User.session_version``), not kept one by one: signing
    out on one device signs the account out on every device (documented in docs/accounts.md)."""
    user = make_user("participant")
    laptop, phone = app.test_client(), app.test_client()
    _sign_in(laptop, user)
    _sign_in(phone, user, remember=True)
    laptop.post("/logout")
    assert not _signed_in(phone)


def test_sessions_from_before_the_timeouts_are_refused(app, client, make_user):
    """A session cookie of the earlier form ``"<id>.<version>"`` carries no start time: refused."""
    user = make_user("participant")
    with client.session_transaction() as sess:
        sess["_user_id"] = f"{user.id}.{user.session_version}"
        sess["_fresh"] = True
    assert not _signed_in(client)


# Password change and "Sign out everywhere" (7.4.3) ---------------------------------------------


def test_password_change_ends_other_sessions_and_their_remember_cookies(app, make_user):
    user = make_user("participant")
    other = app.test_client()
    _sign_in(other, user, remember=True)
    stolen = _copy(app, other, REMEMBER)
    mine = app.test_client()
    _sign_in(mine, user, remember=True)
    _later(hours=1)
    resp = mine.post(
        "/profile/password",
        data={"pw-current_password": PW, "pw-password": "another-long-secret", "pw-confirm": "another-long-secret"},
    )
    assert resp.status_code == 302
    assert _signed_in(mine)  # this session continues...
    assert not _signed_in(other) and not _signed_in(stolen)  # ...the others end
    # ...and keeps its clocks: the absolute limit still counts from the sign-in, not the change
    for _hour in range(10):
        _later(hours=1)
        assert _signed_in(mine)
    _later(minutes=59)
    assert _signed_in(mine)  # 11 h 59 min after signing in
    _later(minutes=2)
    mine.delete_cookie(REMEMBER)  # (else "Keep me signed in" starts a new session)
    assert not _signed_in(mine)


def test_sign_out_everywhere_ends_every_session(app, client, make_user):
    user = make_user("participant")
    _sign_in(client, user)
    phone = app.test_client()
    _sign_in(phone, user, remember=True)
    stolen = _copy(app, phone, REMEMBER)
    page = client.get("/profile").get_data(as_text=True)
    assert 'action="/profile/sessions/end"' in page and "Sign out everywhere" in page

    resp = client.post("/profile/sessions/end", data={"end-current_password": "not-my-password"})
    assert resp.status_code == 422 and "The current password is not right." in resp.get_data(as_text=True)
    assert _signed_in(client) and _signed_in(phone) and _signed_in(_copy(app, stolen, REMEMBER))

    resp = client.post("/profile/sessions/end", data={"end-current_password": PW})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/login")
    assert "You are signed out on every device." in client.get("/login").get_data(as_text=True)
    assert not _signed_in(client)
    assert not _signed_in(phone)
    assert not _signed_in(stolen)
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "user.sessions_ended"))
    assert entry is not None and entry.actor_id == user.id
    _sign_in(client, user)  # signing in again works
    assert _signed_in(client)


def test_sign_out_everywhere_needs_a_signed_in_user_and_the_password(client, make_user):
    resp = client.post("/profile/sessions/end", data={"end-current_password": PW})
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    _sign_in(client, make_user("participant"))
    assert client.post("/profile/sessions/end").status_code == 400  # no password: nothing ends
    assert _signed_in(client)


# Idle and absolute timeouts (7.3.1, 7.3.2) -------------------------------------------------------


def test_idle_timeout_ends_a_session_after_two_quiet_hours(app, client, make_user):
    assert app.config["SESSION_IDLE_MINUTES"] == 120
    user = make_user("participant")
    _sign_in(client, user)
    _later(minutes=119)
    assert _signed_in(client)  # each request restarts the idle clock
    _later(minutes=119)
    assert _signed_in(client)
    thief = _copy(app, client, SESSION)
    _later(minutes=121)
    assert not _signed_in(client)
    assert not _signed_in(thief)  # a copy carries the same signed times


def test_idle_timeout_is_configurable(app, client, make_user):
    app.config["SESSION_IDLE_MINUTES"] = 15
    user = make_user("participant")
    _sign_in(client, user)
    _later(minutes=14)
    assert _signed_in(client)
    _later(minutes=16)
    assert not _signed_in(client)


def test_absolute_timeout_ends_an_active_session_after_twelve_hours(app, client, make_user):
    assert app.config["SESSION_MAX_HOURS"] == 12
    user = make_user("participant")
    _sign_in(client, user)
    for _hour in range(11):
        _later(hours=1)
        assert _signed_in(client)
    _later(minutes=59)
    assert _signed_in(client)  # 11 h 59 min after signing in
    _later(minutes=2)
    assert not _signed_in(client)  # busy all day, still signed out at 12 h


def test_absolute_timeout_is_configurable(app, client, make_user):
    app.config["SESSION_MAX_HOURS"] = 1
    user = make_user("participant")
    _sign_in(client, user)
    _later(minutes=50)
    assert _signed_in(client)
    _later(minutes=11)
    assert not _signed_in(client)


# The remember cookie: 30 days at most, checked by the server ----------------------------------


def test_remember_cookie_expires_within_thirty_days(app, client, make_user):
    assert app.config["REMEMBER_DAYS"] == 30
    assert "For 30 days at most" in client.get("/login").get_data(as_text=True)  # the tick box says so
    user = make_user("participant")
    resp = _sign_in(client, user, remember=True)
    cookie = [c for c in resp.headers.getlist("Set-Cookie") if c.startswith(f"{REMEMBER}=")][0]
    expires = parsedate_to_datetime(cookie.split("Expires=")[1].split(";")[0])
    # flask-login dates the cookie by the real clock, not the test's frozen one
    assert expires <= datetime.now(UTC) + timedelta(days=30, minutes=1)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_remember_cookie_keeps_a_device_signed_in_past_the_session_timeouts(app, client, make_user):
    user = make_user("participant")
    remembered, plain = app.test_client(), app.test_client()
    _sign_in(remembered, user, remember=True)
    _sign_in(plain, user)
    _later(hours=3)  # past the idle timeout
    assert not _signed_in(plain)
    assert _signed_in(remembered)
    _later(hours=13)  # past the absolute timeout of a session
    assert _signed_in(remembered)


def test_remember_cookie_is_refused_by_the_server_after_thirty_days(app, client, make_user):
    """The browser is told to drop the cookie after 30 days; a copy kept longer (or a browser that
    ignores the date) is refused by the server, which reads the sign-in time inside the cookie."""
    user = make_user("participant")
    _sign_in(client, user, remember=True)
    stolen = _copy(app, client, REMEMBER)
    _later(days=29, hours=23)
    assert _signed_in(_copy(app, stolen, REMEMBER))
    assert _signed_in(client)  # still active on day 30
    _later(hours=2)
    assert not _signed_in(_copy(app, stolen, REMEMBER))
    assert not _signed_in(client)  # the session restored from it ends with it


def test_remember_days_are_configurable_and_capped_at_thirty(migrated, app, client, make_user):
    app.config["REMEMBER_DAYS"] = 7
    user = make_user("participant")
    _sign_in(client, user, remember=True)
    stolen = _copy(app, client, REMEMBER)
    _later(days=6)
    assert _signed_in(_copy(app, stolen, REMEMBER))
    _later(days=2)
    assert not _signed_in(_copy(app, stolen, REMEMBER))
    with pytest.raises(RuntimeError, match="REMEMBER_DAYS"):
        create_app("testing", SQLALCHEMY_DATABASE_URI=migrated, REMEMBER_DAYS=31)
    with pytest.raises(RuntimeError, match="SESSION_IDLE_MINUTES"):
        create_app("testing", SQLALCHEMY_DATABASE_URI=migrated, SESSION_IDLE_MINUTES=0)


def test_deactivation_ends_a_remembered_device(app, client, make_user):
    from webinar_mgr.auth import services as auth

    admin = make_user("admin")
    user = make_user("participant")
    _sign_in(client, user, remember=True)
    stolen = _copy(app, client, REMEMBER)
    auth.admin_update_user(user, name=user.name, email=user.email, roles=["participant"], active=False, actor=admin)
    assert not _signed_in(client) and not _signed_in(stolen)
    db.session.expire_all()
    assert db.session.get(User, user.id).active is False
