"""Accounts: sign-in, rate limit, password reset by email, profile, sessions, admin user management."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from webinar_mgr import clock, create_app
from webinar_mgr.audit.models import AuditEntry
from webinar_mgr.auth import services as auth
from webinar_mgr.auth.models import User
from webinar_mgr.errors import NotAllowed, ValidationFailed
from webinar_mgr.extensions import db
from webinar_mgr.mail import services as mail
from webinar_mgr.mail.models import OutboxMessage

PW = "correct-horse-battery"


def _post_login(client, email, password, **extra):
    return client.post("/login", data={"email": email, "password": password, **extra})


def test_password_is_hashed_with_argon2(app, make_user):
    user = make_user("participant")
    assert user.password_hash.startswith("$argon2id$")
    assert PW not in user.password_hash


def test_login_and_logout(client, make_user):
    user = make_user("organiser", name="Olga Organiser")
    resp = _post_login(client, user.email.upper(), PW)
    assert resp.status_code == 302
    page = client.get("/profile")
    assert page.status_code == 200
    assert "Olga Organiser" in page.get_data(as_text=True)
    assert client.post("/logout").status_code == 302
    resp = client.get("/profile")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_wrong_password_and_unknown_email_look_the_same(client, make_user):
    user = make_user("participant")
    wrong = _post_login(client, user.email, "not-the-password")
    unknown = _post_login(client, "nobody@example.org", "not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    for resp in (wrong, unknown):
        assert "The email or password is not right." in resp.get_data(as_text=True)
    assert client.get("/profile").status_code == 302


def test_inactive_account_cannot_sign_in(client, make_user):
    user = make_user("participant")
    user.active = False
    db.session.commit()
    assert _post_login(client, user.email, PW).status_code == 401


def test_login_next_only_follows_local_paths(client, make_user):
    user = make_user("participant")
    resp = client.post("/login?next=https://evil.example/x", data={"email": user.email, "password": PW})
    assert resp.status_code == 302 and "evil" not in resp.headers["Location"]
    client.post("/logout")
    resp = client.post("/login?next=/profile", data={"email": user.email, "password": PW})
    assert resp.headers["Location"].endswith("/profile")


def test_login_is_rate_limited(migrated, smtp_server, app, make_user):
    limited = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=migrated,
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI="memory://",
        LOGIN_RATE_LIMIT="10 per minute",
    )
    client = limited.test_client()
    statuses = [_post_login(client, "someone@example.org", "wrong-password").status_code for _ in range(11)]
    assert statuses[:10] == [401] * 10
    assert statuses[10] == 429
    page = _post_login(client, "someone@example.org", "wrong-password")
    assert page.status_code == 429
    assert "Too many attempts" in page.get_data(as_text=True)
    # GET is not limited: the form still shows
    assert client.get("/login").status_code == 200


def _reset_link(mailbox, address):
    received = mailbox.to(address)
    assert len(received) == 1
    body = received[0].get_body(preferencelist=("plain",)).get_content()
    match = re.search(r"http://localhost(/password/reset/\S+)", body)
    assert match, body
    return match.group(1)


def test_password_reset_by_email_end_to_end(client, make_user, mailbox):
    user = make_user("participant", email="reset-me@example.org")
    resp = client.post("/password/forgot", data={"email": "Reset-Me@example.org"})
    assert resp.status_code == 302
    resp.close()  # the work runs once the answer is sent (a server closes every response)
    assert mail.deliver_due()["sent"] == 1
    link = _reset_link(mailbox, "reset-me@example.org")
    assert mailbox.to("reset-me@example.org")[0]["Subject"] == "Reset your password"

    assert client.get(link).status_code == 200
    resp = client.post(link, data={"password": "a-brand-new-secret", "confirm": "a-brand-new-secret"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/login")

    assert _post_login(client, user.email, PW).status_code == 401
    assert _post_login(client, user.email, "a-brand-new-secret").status_code == 302
    client.post("/logout")

    reused = client.post(link, data={"password": "yet-another-secret", "confirm": "yet-another-secret"})
    assert reused.status_code == 400
    assert "already been used" in reused.get_data(as_text=True)
    assert _post_login(client, user.email, "a-brand-new-secret").status_code == 302


def test_expired_reset_link_is_a_clear_400(app, client, make_user, mailbox):
    clock.freeze(clock.now())
    make_user("participant", email="late@example.org")
    client.post("/password/forgot", data={"email": "late@example.org"}).close()
    mail.deliver_due()
    link = _reset_link(mailbox, "late@example.org")
    clock.advance(timedelta(seconds=app.config["PASSWORD_RESET_MAX_AGE"] - 5))
    assert client.get(link).status_code == 200
    clock.advance(timedelta(seconds=10))
    resp = client.get(link)
    assert resp.status_code == 400
    assert "This reset link has expired" in resp.get_data(as_text=True)
    resp = client.post(link, data={"password": "a-brand-new-secret", "confirm": "a-brand-new-secret"})
    assert resp.status_code == 400
    assert _post_login(client, "late@example.org", PW).status_code == 302


def test_tampered_reset_link_is_refused(client, make_user):
    user = make_user("participant")
    token = auth.make_reset_token(user)
    resp = client.get(f"/password/reset/{token[:-3]}abc")
    assert resp.status_code == 400
    assert "not valid" in resp.get_data(as_text=True)


def test_forgot_password_does_not_reveal_accounts(client, make_user, mailbox):
    make_user("participant", email="known@example.org")
    known = client.post("/password/forgot", data={"email": "known@example.org"}, follow_redirects=True)
    unknown = client.post("/password/forgot", data={"email": "unknown@example.org"}, follow_redirects=True)
    assert known.status_code == unknown.status_code == 200
    text = "If an account exists for that address"
    assert text in known.get_data(as_text=True) and text in unknown.get_data(as_text=True)
    mail.deliver_due()
    assert len(mailbox.to("known@example.org")) == 1
    assert mailbox.to("unknown@example.org") == []


def test_password_change_ends_other_sessions(app, make_user, login):
    user = make_user("participant")
    other = app.test_client()
    assert _post_login(other, user.email, PW).status_code == 302
    assert other.get("/profile").status_code == 200

    mine = app.test_client()
    assert _post_login(mine, user.email, PW).status_code == 302
    resp = mine.post(
        "/profile/password",
        data={"pw-current_password": PW, "pw-password": "another-long-secret", "pw-confirm": "another-long-secret"},
    )
    assert resp.status_code == 302
    assert mine.get("/profile").status_code == 200  # this session continues
    resp = other.get("/profile")  # the other one is signed out
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_password_change_needs_the_current_password(client, make_user, login):
    user = make_user("participant")
    login(user)
    resp = client.post(
        "/profile/password",
        data={
            "pw-current_password": "wrong-one-here",
            "pw-password": "another-long-secret",
            "pw-confirm": "another-long-secret",
        },
        follow_redirects=True,
    )
    assert "The current password is not right." in resp.get_data(as_text=True)
    db.session.expire_all()
    assert auth.authenticate(user.email, PW) is not None


def test_short_password_is_refused_by_the_service(app, make_user):
    user = make_user("participant")
    with pytest.raises(ValidationFailed):
        auth.set_password(user, "short")


def test_profile_saves_zone_and_refuses_unknown_zone(client, make_user, login):
    user = make_user("participant", timezone="UTC")
    login(user)
    resp = client.post(
        "/profile",
        data={
            "name": "New Name",
            "organisation_id": "0",
            "position": "Analyst",
            "timezone": "Mars/Olympus_Mons",
            "language": "en",
        },
    )
    assert resp.status_code == 400
    assert "Unknown time zone." in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, user.id).name != "New Name"

    resp = client.post(
        "/profile",
        data={
            "name": "New Name",
            "organisation_id": "0",
            "position": "Analyst",
            "timezone": "Pacific/Fiji",
            "language": "en",
        },
    )
    assert resp.status_code == 302
    db.session.expire_all()
    saved = db.session.get(User, user.id)
    assert (saved.name, saved.timezone, saved.position) == ("New Name", "Pacific/Fiji", "Analyst")
    assert "Pacific/Fiji" in client.get("/profile").get_data(as_text=True)


def test_profile_sets_organisation(client, make_user, login):
    from webinar_mgr.directory.models import Organisation

    org = Organisation(name="Ministry of Testing", sector="member_government")
    db.session.add(org)
    db.session.commit()
    user = make_user("participant")
    login(user)
    resp = client.post(
        "/profile",
        data={"name": "N", "organisation_id": str(org.id), "position": "", "timezone": "UTC", "language": "en"},
    )
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, user.id).organisation_id == org.id


def test_admin_lists_searches_creates_and_edits_users(client, make_user, login):
    admin = make_user("admin", name="Ada Admin")
    make_user("participant", name="Paula Participant", email="paula@example.org")
    make_user("organiser", name="Omar Organiser", email="omar@example.org")
    login(admin)
    html = client.get("/admin/users?q=paula").get_data(as_text=True)
    assert "Paula Participant" in html and "Omar Organiser" not in html
    html = client.get("/admin/users?role=organiser").get_data(as_text=True)
    assert "Omar Organiser" in html and "Paula Participant" not in html

    resp = client.post(
        "/admin/users/new",
        data={
            "name": "Nina New",
            "email": "nina@example.org",
            "password": "a-first-password",
            "roles": ["cochair", "participant"],
            "active": "y",
            "timezone": "Asia/Manila",
        },
    )
    assert resp.status_code == 302
    nina = auth.get_by_email("nina@example.org")
    assert nina.role_names == {"cochair", "participant"} and nina.timezone == "Asia/Manila"

    resp = client.post(
        f"/admin/users/{nina.id}", data={"name": "Nina New", "email": "nina@example.org", "roles": ["organiser"]}
    )  # active unticked
    assert resp.status_code == 302
    db.session.expire_all()
    nina = db.session.get(User, nina.id)
    assert nina.role_names == {"organiser"} and nina.active is False

    entries = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.object_id == str(nina.id)).order_by(AuditEntry.id)
    ).all()
    assert [e.action for e in entries] == ["user.create", "user.update"]
    assert all(e.actor_id == admin.id for e in entries)
    assert entries[1].changes["active"] == [True, False]
    assert entries[1].changes["roles"] == [["cochair", "participant"], ["organiser"]]


def test_admin_create_user_with_taken_email_is_refused(client, make_user, login):
    admin = make_user("admin")
    make_user("participant", email="taken@example.org")
    login(admin)
    resp = client.post(
        "/admin/users/new",
        data={
            "name": "Dup",
            "email": "TAKEN@example.org",
            "password": "a-first-password",
            "roles": ["participant"],
            "active": "y",
            "timezone": "UTC",
        },
    )
    assert resp.status_code == 409
    assert "already exists" in resp.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 2


def test_admin_cannot_demote_or_deactivate_themselves(app, client, make_user, login):
    admin = make_user("admin", email="boss@example.org")
    with pytest.raises(NotAllowed):
        auth.admin_update_user(admin, name="Boss", email=admin.email, roles=["organiser"], active=True, actor=admin)
    db.session.rollback()
    login(admin)
    resp = client.post(
        f"/admin/users/{admin.id}", data={"name": "Boss", "email": admin.email, "roles": ["admin"]}
    )  # inactive
    assert resp.status_code == 403
    assert "cannot remove your own administrator role" in resp.get_data(as_text=True)
    db.session.expire_all()
    me = db.session.get(User, admin.id)
    assert me.active and "admin" in me.role_names


def test_deactivated_user_is_signed_out(app, client, make_user, login):
    admin = make_user("admin")
    user = make_user("participant")
    other = app.test_client()
    _post_login(other, user.email, PW)
    assert other.get("/profile").status_code == 200
    auth.admin_update_user(user, name=user.name, email=user.email, roles=["participant"], active=False, actor=admin)
    assert other.get("/profile").status_code == 302


def test_users_page_is_admin_only(client, make_user, login):
    login(make_user("organiser"))
    assert client.get("/admin/users").status_code == 403


def test_create_admin_command(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "create-admin",
            "--email",
            "First@Example.org",
            "--name",
            "First Admin",
            "--password",
            "a-long-admin-password",
            "--timezone",
            "Asia/Jakarta",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "Administrator first@example.org created." in result.output
    db.session.expire_all()
    user = auth.get_by_email("first@example.org")
    assert "admin" in user.role_names and user.timezone == "Asia/Jakarta"
    assert auth.authenticate("first@example.org", "a-long-admin-password") is not None

    # again: promotes and resets the password instead of failing
    result = runner.invoke(
        args=["create-admin", "--email", "first@example.org", "--name", "x", "--password", "a-second-admin-password"]
    )
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert auth.authenticate("first@example.org", "a-second-admin-password") is not None
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 1


def test_create_admin_refuses_a_short_password(app):
    result = app.test_cli_runner().invoke(
        args=["create-admin", "--email", "a@example.org", "--name", "A", "--password", "short"]
    )
    assert result.exit_code != 0
    assert "at least 10 characters" in result.output
    assert auth.get_by_email("a@example.org") is None


def test_reset_requests_are_rate_limited(migrated, smtp_server, app):
    limited = create_app(
        "testing", SQLALCHEMY_DATABASE_URI=migrated, RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="memory://"
    )
    client = limited.test_client()
    statuses = [client.post("/password/forgot", data={"email": "x@example.org"}).status_code for _ in range(6)]
    assert statuses == [302] * 5 + [429]


def test_forgot_password_does_the_same_work_for_known_and_unknown_addresses(app, make_user, monkeypatch):
    """The time of the answer must not tell whether an account exists: for a known, an unknown and
    an inactive address the service looks the address up, builds a signed link and renders the mail;
    only a real account's mail is queued. (No timings asserted: bench/bench_forgot_password.py measures them.)"""
    from webinar_mgr.mail import services as mail_services

    make_user("participant", email="known@example.org")
    make_user("participant", email="inactive@example.org").active = False
    db.session.commit()
    steps: list[str] = []

    def spy(module, name, label=None, *, raising=True):
        real = getattr(module, name, None)

        def wrapper(*args, **kwargs):
            steps.append(label or name)
            if label == "render":
                steps.append(args[0])
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, wrapper, raising=raising)

    spy(auth, "get_by_email")
    spy(auth, "make_reset_token")
    spy(auth, "render_template", "render", raising=False)
    spy(mail_services, "render_template", "render")
    queued: list[str] = []
    real_queue = mail_services.queue

    def queue(to, *args, **kwargs):
        queued.append(to)
        return real_queue(to, *args, **kwargs)

    monkeypatch.setattr(mail_services, "queue", queue)

    paths = {}
    for address in ("known@example.org", "unknown@example.org", "inactive@example.org"):
        steps.clear()
        auth.request_password_reset(address)
        paths[address] = list(steps)
    assert paths["known@example.org"] == paths["unknown@example.org"] == paths["inactive@example.org"]
    assert paths["known@example.org"][:4] == ["get_by_email", "make_reset_token", "render", "mail/password_reset.txt"]
    assert queued == ["known@example.org"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 1


def test_forgot_password_answers_before_doing_the_work(client, make_user, monkeypatch):
    """The work for an address (look-up, link, mail) runs only once the answer has been sent, so
    the answer's time is the same whether or not the account exists."""
    make_user("participant", email="known@example.org")
    done: list[str] = []
    real = auth.request_password_reset
    monkeypatch.setattr(auth, "request_password_reset", lambda email: done.append(email) or real(email))
    for address in ("known@example.org", "unknown@example.org"):
        resp = client.post("/password/forgot", data={"email": address})
        assert resp.status_code == 302 and resp.headers["Location"].endswith("/login")
        assert done == []  # answered, nothing done yet
        resp.close()  # what the server does after sending it
        assert done == [address]
        done.clear()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 1
