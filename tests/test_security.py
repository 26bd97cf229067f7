"""Security baseline: CSRF on forms, escaped output, the audit log page, session cookies."""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from werkzeug.routing import IntegerConverter

from webinar_mgr import create_app
from webinar_mgr.audit import services as audit
from webinar_mgr.auth import services as auth
from webinar_mgr.auth.models import User
from webinar_mgr.extensions import db

PW = "correct-horse-battery"
XSS = "<script>alert(1)</script>"


def test_real_config_has_csrf_on():
    from config import Config, DevelopmentConfig, ProductionConfig

    assert Config.WTF_CSRF_ENABLED and DevelopmentConfig.WTF_CSRF_ENABLED and ProductionConfig.WTF_CSRF_ENABLED


def _csrf_app(migrated):
    return create_app("testing", SQLALCHEMY_DATABASE_URI=migrated, WTF_CSRF_ENABLED=True)


def _token(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def test_post_without_csrf_token_is_refused_and_changes_nothing(migrated, app, make_user):
    user = make_user("participant", name="Before")
    client = _csrf_app(migrated).test_client()
    # sign-in itself needs the token
    resp = client.post("/login", data={"email": user.email, "password": PW})
    assert resp.status_code == 400
    assert "Form expired" in resp.get_data(as_text=True)
    token = _token(client.get("/login").get_data(as_text=True))
    assert client.post("/login", data={"email": user.email, "password": PW, "csrf_token": token}).status_code == 302

    data = {"name": "After", "organisation_id": "0", "position": "", "timezone": "UTC", "language": "en"}
    assert client.post("/profile", data=data).status_code == 400
    db.session.expire_all()
    assert db.session.get(User, user.id).name == "Before"
    # a plain form (sign out) and a prefixed one (password) are protected too
    assert client.post("/logout").status_code == 400
    assert (
        client.post(
            "/profile/password",
            data={"pw-current_password": PW, "pw-password": "another-long-secret", "pw-confirm": "another-long-secret"},
        ).status_code
        == 400
    )
    db.session.expire_all()
    assert auth.authenticate(user.email, PW) is not None
    assert client.get("/profile").status_code == 200

    token = _token(client.get("/profile").get_data(as_text=True))
    assert client.post("/profile", data={**data, "csrf_token": token}).status_code == 302
    db.session.expire_all()
    assert db.session.get(User, user.id).name == "After"


def test_every_form_on_the_main_pages_carries_a_csrf_token(migrated, app, make_user):
    admin = make_user("admin")
    client = _csrf_app(migrated).test_client()
    token = _token(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"email": admin.email, "password": PW, "csrf_token": token})
    for url in ("/profile", "/admin/users/new", f"/admin/users/{admin.id}", "/password/forgot"):
        html = client.get(url).get_data(as_text=True)
        forms = re.findall(r"<form[^>]*method=\"post\"[^>]*>(.*?)</form>", html, re.S | re.I)
        assert forms, url
        for body in forms:
            assert re.search(r'name="([\w]+-)?csrf_token"', body), url


def test_user_names_are_escaped(client, make_user, login):
    admin = make_user("admin", name="Ada Admin")
    evil = make_user("participant", name=XSS, email="evil@example.org")
    login(admin)
    for url in ("/admin/users", f"/admin/users/{evil.id}"):
        html = client.get(url).get_data(as_text=True)
        assert XSS not in html, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, url


def test_contact_name_is_escaped_in_the_audit_log(client, make_user, login):
    admin = make_user("admin")
    audit.record(
        admin, "contact.update", object_type="Contact", object_id=1, summary=XSS, changes={"name": ["Ana", XSS]}
    )
    db.session.commit()
    login(admin)
    html = client.get("/audit/").get_data(as_text=True)
    assert XSS not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 2


def test_own_name_is_escaped_in_the_header(client, make_user, login):
    user = make_user("participant", name=XSS)
    login(user)
    html = client.get("/profile").get_data(as_text=True)
    assert XSS not in html and "&lt;script&gt;" in html


def test_audit_log_shows_changes_readably(client, make_user, login):
    admin = make_user("admin")
    other = make_user("participant", email="who@example.org")
    auth.admin_update_user(
        other, name="Renamed", email=other.email, roles=["organiser", "participant"], active=False, actor=admin
    )
    login(admin)
    html = client.get("/audit/?action=user.update").get_data(as_text=True)
    assert "user.update" in html and admin.email in html
    assert "<del>Test User 2</del> → <ins>Renamed</ins>" in html
    assert "<del>participant</del> → <ins>organiser, participant</ins>" in html
    assert "<del>yes</del> → <ins>no</ins>" in html
    assert "user.create" not in client.get("/audit/?action=user.update").get_data(as_text=True)
    assert "who@example.org" in client.get("/audit/?type=User").get_data(as_text=True)
    assert "user.update" in client.get(f"/audit/?who={admin.email[:6].upper()}").get_data(as_text=True)
    assert "user.update" not in client.get("/audit/?who=nobody").get_data(as_text=True)


def test_audit_log_is_for_organisers_and_admins(client, make_user, login):
    login(make_user("cochair"))
    assert client.get("/audit/").status_code == 403


def test_session_cookie_is_httponly_and_samesite(client, make_user):
    user = make_user("participant")
    resp = client.post("/login", data={"email": user.email, "password": PW})
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_production_session_cookie_is_secure(migrated, app, make_user):
    from config import ProductionConfig

    class Prod(ProductionConfig):
        SECRET_KEY = "a-real-secret-for-this-test-only"
        SQLALCHEMY_DATABASE_URI = migrated
        WTF_CSRF_ENABLED = False
        BASE_URL = "https://events.example.org"

    user = make_user("participant")
    prod = create_app(Prod, PASSWORD_HASH_FAST=True)
    resp = prod.test_client().post("/login", data={"email": user.email, "password": PW}, base_url="https://localhost")
    assert resp.status_code == 302
    assert "Secure" in resp.headers["Set-Cookie"]


def test_development_has_no_hsts(migrated):
    dev = create_app("development", SQLALCHEMY_DATABASE_URI=migrated)
    resp = dev.test_client().get("/login")
    assert "Strict-Transport-Security" not in resp.headers
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_no_safe_filter_on_user_data_in_my_templates():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "templates"
    for folder in ("auth", "audit", "core", "errors", "mail_admin"):
        for path in (root / folder).glob("*.html"):
            assert "|safe" not in path.read_text().replace(" ", ""), path


def test_every_post_endpoint_refuses_a_missing_csrf_token(migrated, app, make_user):
    """Walk the URL map: no endpoint of any module accepts a POST without the token. The JSON
    API's endpoints (``@access.bearer``) take no cookie at all: signed in by cookie only, they
    answer 401, so there is nothing for a forged form to ride on."""
    from webinar_mgr.security import policy_of

    admin = make_user("admin")
    csrf_app = _csrf_app(migrated)
    client = csrf_app.test_client()
    token = _token(client.get("/login").get_data(as_text=True))
    assert client.post("/login", data={"email": admin.email, "password": PW, "csrf_token": token}).status_code == 302
    checked, accepted = 0, []
    for rule in csrf_app.url_map.iter_rules():
        if "POST" not in rule.methods:
            continue
        url = rule.build(
            {arg: 999999 if isinstance(rule._converters[arg], IntegerConverter) else "x" for arg in rule.arguments},
            append_unknown=False,
        )[1]
        resp = client.post(url, data={"x": "1"}, headers={"Accept": "text/html"})
        checked += 1
        if getattr(policy_of(csrf_app.view_functions[rule.endpoint]), "kind", None) == "bearer":
            if resp.status_code != 401:
                accepted.append(f"{rule.rule}: {resp.status_code} with a session cookie and no token")
        elif resp.status_code != 400 or "Form expired" not in resp.get_data(as_text=True):
            accepted.append(f"{rule.rule}: {resp.status_code}")
    assert checked >= 10
    assert accepted == []


# Production start-up checks (issue 12) ----------------------------------------------------------


def _prod(migrated, key: str):
    from config import ProductionConfig

    class Prod(ProductionConfig):
        SECRET_KEY = key
        SQLALCHEMY_DATABASE_URI = migrated
        BASE_URL = "https://events.example.org"

    return Prod


@pytest.mark.parametrize("key", ["secret", "x" * 31, "é" * 15])
def test_production_refuses_a_secret_key_shorter_than_32_bytes(migrated, key):
    with pytest.raises(RuntimeError, match="at least 32 bytes") as exc:
        create_app(_prod(migrated, key))
    assert f"({len(key.encode())} bytes)" in str(exc.value)  # says how long it is, never the key
    assert repr(key) not in str(exc.value) and f"={key}" not in str(exc.value)
    assert "secrets.token_urlsafe" in str(exc.value)  # and how to make one


def test_production_starts_with_a_32_byte_secret_key(migrated):
    assert create_app(_prod(migrated, "k" * 32)).config["ENV_NAME"] == "production"


# Size messages: the real size or the limit, never a made-up size --------------------------------


def test_csv_too_large_names_the_limit_not_the_truncated_size():
    from webinar_mgr import csvio

    limit = 5 * 1024 * 1024
    # callers read limit + 1 bytes of a 19 MB upload: the size of what was read means nothing
    with pytest.raises(csvio.CsvProblem) as exc:
        csvio.decode(b"a" * (limit + 1), max_bytes=limit)
    assert exc.value.message == "The file is too large: the limit is 5.0 MB."


def test_request_too_large_reports_its_size_and_the_limit(migrated, app):
    big = create_app("testing", SQLALCHEMY_DATABASE_URI=migrated, MAX_CONTENT_LENGTH=1024 * 1024)
    resp = big.test_client().post(
        "/login", data={"email": "a@example.org", "password": "x" * (19 * 1024 * 1024)}, headers={"Accept": "text/html"}
    )
    assert resp.status_code == 413
    text = resp.get_data(as_text=True)
    assert "The upload (19.0 MB) is larger than the limit of 1.0 MB." in text


# Security events: one structured line each on the logger webinar_mgr.security -------------------


def _events(caplog) -> list[dict]:
    """The security events logged, each one line of JSON with its time in UTC (left out here)."""
    lines = [r.getMessage() for r in caplog.records if r.name == "webinar_mgr.security"]
    assert all("\n" not in line and "\r" not in line for line in lines)
    events = [json.loads(line) for line in lines]
    for event in events:
        assert datetime.fromisoformat(event.pop("at")).utcoffset() == timedelta(0)
    return events


@pytest.fixture
def seclog(caplog):
    caplog.set_level(logging.INFO, logger="webinar_mgr.security")
    return caplog


def _all_text(caplog) -> str:
    return "\n".join(r.getMessage() for r in caplog.records)


def test_failed_sign_ins_are_logged_with_a_hashed_email_and_no_password(client, make_user, seclog):
    from webinar_mgr.security import email_hash

    user = make_user("participant", email="victim@example.org")
    client.post("/login", data={"email": user.email, "password": "Wrong-Password-123"})
    client.post("/login", data={"email": "nobody@example.org", "password": "Wrong-Password-456"})
    events = [e for e in _events(seclog) if e["event"] == "auth.login_failed"]
    assert len(events) == 2
    assert events[0]["email_hash"] == email_hash("victim@example.org") == email_hash(" Victim@Example.org ")
    assert events[0]["ip"] == "127.0.0.1" and events[0]["endpoint"] == "auth.login" and events[0]["status"] == 401
    text = _all_text(seclog)
    assert "Wrong-Password" not in text and "victim@example.org" not in text and "nobody" not in text
    assert client.post("/login", data={"email": user.email, "password": PW, "remember": "y"}).status_code == 302
    client.post("/logout")
    events = _events(seclog)
    assert [e["event"] for e in events].count("auth.login_failed") == 2  # success is not a failure
    assert [(e["event"], e["user_id"]) for e in events if e["event"] in ("auth.login", "auth.logout")] == [
        ("auth.login", user.id),
        ("auth.logout", user.id),
    ]
    assert next(e for e in events if e["event"] == "auth.login")["remember"] is True


def test_refused_access_is_logged(client, make_user, login, seclog):
    client.get("/admin/users")  # anonymous: sent to sign in
    participant = make_user("participant")
    login(participant)
    client.get("/admin/users")  # signed in without the role: 403
    client.get("/admin/users", headers={"Accept": "application/json"})
    events = [e for e in _events(seclog) if e["event"] == "access.denied"]
    assert [(e["status"], e.get("user_id")) for e in events] == [
        (401, None),
        (403, participant.id),
        (403, participant.id),
    ]
    assert all(e["endpoint"] == "auth.users" for e in events)


def test_a_refusal_by_a_service_is_logged(client, make_user, login, seclog):
    admin = make_user("admin")
    login(admin)
    resp = client.post(f"/admin/users/{admin.id}", data={"name": "A", "email": admin.email, "roles": ["organiser"]})
    assert resp.status_code == 403
    events = [e for e in _events(seclog) if e["event"] == "access.denied"]
    assert events == [
        {
            "event": "access.denied",
            "status": 403,
            "ip": "127.0.0.1",
            "method": "POST",
            "endpoint": "auth.edit_user",
            "user_id": admin.id,
        }
    ]


def test_security_events_are_one_line_of_json_whatever_the_values(app, seclog):
    from webinar_mgr.security import security_event

    with app.test_request_context("/x", method="POST", environ_base={"REMOTE_ADDR": "10.0.0.7"}):
        security_event("test.event", reason='a\nfake {"event": "auth.ok"}\r\n', user_id=7, nothing=None)
    assert _events(seclog) == [
        {
            "event": "test.event",
            "reason": 'a\nfake {"event": "auth.ok"}\r\n',
            "user_id": 7,
            "ip": "10.0.0.7",
            "method": "POST",
            "endpoint": None,
        }
    ]


def test_personal_link_misuse_is_logged_without_the_token(app, client, make_user, seclog):
    from webinar_mgr import clock

    user = make_user("participant")
    clock.freeze(clock.now())
    token = auth.make_reset_token(user)
    client.get(f"/password/reset/{token[:-3]}abc")  # tampered
    client.post(f"/password/reset/{token}", data={"password": "a-brand-new-secret", "confirm": "a-brand-new-secret"})
    client.get(f"/password/reset/{token}")  # used: replaced by the new password
    db.session.expire_all()
    late = auth.make_reset_token(db.session.get(User, user.id))
    clock.advance(timedelta(hours=2))
    client.get(f"/password/reset/{late}")  # expired
    events = [e for e in _events(seclog) if e["event"].startswith("link.")]
    assert [(e["event"], e["purpose"]) for e in events] == [
        ("link.invalid", "password-reset"),
        ("link.replaced", "password-reset"),
        ("link.expired", "password-reset"),
    ]
    text = _all_text(seclog)
    assert token not in text and token[:20] not in text and late[:20] not in text
    assert all(e["endpoint"] == "auth.reset_password" and "path" not in e for e in events)


def test_rate_limit_hits_are_logged(migrated, smtp_server, app, seclog):
    limited = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=migrated,
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI="memory://",
        LOGIN_RATE_LIMIT="2 per minute",
    )
    client = limited.test_client()
    statuses = [client.post("/login", data={"email": "a@example.org", "password": "p"}).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]
    events = [e for e in _events(seclog) if e["event"] == "rate_limit.exceeded"]
    assert len(events) == 1
    assert (
        events[0]["endpoint"] == "auth.login" and events[0]["status"] == 429 and "2 per 1 minute" in events[0]["limit"]
    )


def test_a_missing_csrf_token_is_logged(migrated, app, seclog):
    _csrf_app(migrated).test_client().post("/login", data={"email": "a@example.org", "password": "p"})
    events = [e for e in _events(seclog) if e["event"] == "csrf.failed"]
    assert len(events) == 1 and events[0]["status"] == 400 and events[0]["endpoint"] == "auth.login"


# Personal links carry at least 128 random bits --------------------------------------------------


def _bits(urlsafe: str) -> int:
    assert re.fullmatch(r"[A-Za-z0-9_-]+", urlsafe), urlsafe
    return len(urlsafe) * 6


def test_reset_links_carry_128_random_bits_and_a_128_bit_fingerprint(app, make_user):
    from webinar_mgr import tokens

    user = make_user("participant")
    first = tokens.load(auth.RESET_SALT, auth.make_reset_token(user))
    second = tokens.load(auth.RESET_SALT, auth.make_reset_token(user))
    assert _bits(first["r"]) >= 128 and first["r"] != second["r"]  # secrets.token_urlsafe
    assert len(first["f"]) * 4 >= 128 and first["f"] == second["f"]  # the same password: the same print


def _column_default(model: str):
    import importlib

    module, name = model.rsplit(".", 1)
    column = getattr(importlib.import_module(module), name).__table__.c.nonce
    return lambda: column.default.arg(None)  # SQLAlchemy's wrapper of the default function


@pytest.mark.parametrize(
    "model",
    [
        "webinar_mgr.invitations.models.Invitation",
        "webinar_mgr.registrations.models.Registration",
        "webinar_mgr.commitments.models.Commitment",
    ],
)
def test_personal_link_nonces_carry_at_least_128_random_bits(model):
    from webinar_mgr import tokens

    for make in (_column_default(model), tokens.new_nonce):
        nonces = {make() for _ in range(50)}
        assert len(nonces) == 50
        assert min(_bits(n) for n in nonces) >= 128


# Mass assignment: extra form fields change nothing -------------------------------------------------

EXTRA = {
    "role": "admin",
    "roles": "admin",
    "is_admin": "1",
    "admin": "y",
    "status": "confirmed",
    "event_id": "1",
    "user_id": "1",
    "id": "424242",
    "active": "y",
    "session_version": "99",
    "password_hash": "x",
    "email": "taken-over@example.org",
    "nonce": "chosen-by-the-attacker",
}


def _snapshot(user: User) -> dict:
    db.session.expire_all()
    user = db.session.get(User, user.id)
    return {
        "email": user.email,
        "roles": sorted(user.role_names),
        "active": user.active,
        "session_version": user.session_version,
        "password_hash": user.password_hash,
        "id": user.id,
    }


def test_profile_ignores_extra_fields(client, make_user, login):
    user = make_user("participant")
    login(user)
    before = _snapshot(user)
    resp = client.post(
        "/profile",
        data={**EXTRA, "name": "New Name", "organisation_id": "0", "position": "", "timezone": "UTC", "language": "en"},
    )
    assert resp.status_code == 302
    assert _snapshot(user) == before
    assert db.session.get(User, user.id).name == "New Name"
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 1


def test_user_administration_ignores_extra_fields(client, make_user, login):
    admin = make_user("admin")
    other = make_user("participant", email="other@example.org", timezone="Asia/Manila")
    login(admin)
    before = _snapshot(other)
    extra = {k: v for k, v in EXTRA.items() if k not in ("roles", "email", "active")}
    resp = client.post(
        f"/admin/users/{other.id}",
        data={
            **extra,
            "name": "Renamed",
            "email": other.email,
            "roles": ["participant"],
            "active": "y",
            "timezone": "UTC",
            "password": "an-attacker-password",
        },
    )
    assert resp.status_code == 302
    assert _snapshot(other) == before
    assert db.session.get(User, other.id).timezone == "Asia/Manila"
    assert auth.authenticate(other.email, PW) is not None

    resp = client.post(
        "/admin/users/new",
        data={
            **extra,
            "name": "Nina",
            "email": "nina@example.org",
            "password": "a-first-password",
            "roles": ["participant"],
            "active": "y",
            "timezone": "UTC",
        },
    )
    assert resp.status_code == 302
    nina = auth.get_by_email("nina@example.org")
    assert nina.role_names == {"participant"} and nina.session_version == 1 and nina.id != 424242
    assert nina.password_hash.startswith("$argon2id$")


def _registration_world():
    from tests.factories import NOW, make_event_row
    from webinar_mgr import clock
    from webinar_mgr.directory.models import Organisation

    clock.freeze(NOW)
    event = make_event_row(requires_approval=True, title="Needs approval")
    other = make_event_row(title="Another event")
    org = Organisation(name="Coalition against trafficking", sector="civil_society")
    db.session.add(org)
    db.session.commit()
    return event, other, org


def test_registration_ignores_extra_fields(client, make_user):
    from webinar_mgr.registrations.models import Registration

    admin = make_user("admin")
    event, other, org = _registration_world()
    resp = client.post(
        f"/events/{event.id}/register",
        data={
            **EXTRA,
            "organisation_id": str(org.id),
            "event_id": str(other.id),
            "user_id": str(admin.id),
            "invitation_id": "1",
            "name": "Ana",
            "email": "ana@example.org",
            "timezone": "Asia/Manila",
            "consent": "y",
        },
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    regs = db.session.scalars(sa.select(Registration)).all()
    assert len(regs) == 1
    reg = regs[0]
    assert (reg.event_id, reg.status, reg.user_id, reg.invitation_id) == (event.id, "pending", None, None)
    assert reg.email == "ana@example.org" and reg.nonce != EXTRA["nonce"]


def test_signed_in_registration_ignores_extra_fields(client, make_user, login):
    from webinar_mgr.registrations.models import Registration

    admin = make_user("admin", email="boss@example.org")
    member = make_user("participant", email="member@example.org")
    event, other, org = _registration_world()
    member.organisation_id = org.id
    db.session.commit()
    login(member)
    resp = client.post(
        f"/events/{event.id}/register",
        data={**EXTRA, "event_id": str(other.id), "user_id": str(admin.id), "accessibility_needs": "Captions"},
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    reg = db.session.scalars(sa.select(Registration)).one()
    assert (reg.event_id, reg.status, reg.user_id, reg.email) == (event.id, "pending", member.id, member.email)


def test_manage_page_ignores_extra_fields(client):
    from tests.factories import registrant_data
    from webinar_mgr.registrations import manage_links
    from webinar_mgr.registrations import services as registrations
    from webinar_mgr.registrations.models import Registration

    event, other, org = _registration_world()
    reg = registrations.register(event.id, registrant_data(organisation_id=org.id))
    token = manage_links.make_manage_token(reg)
    before = (reg.event_id, reg.status, reg.email, reg.user_id, reg.nonce, reg.contact_id)
    resp = client.post(
        f"/registrations/manage/{token}",
        data={
            **EXTRA,
            "event_id": str(other.id),
            "contact_id": "1",
            "name": "Ana M. Cruz",
            "timezone": "Asia/Tokyo",
            "organisation_id": str(org.id),
        },
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    db.session.expire_all()
    reg = db.session.get(Registration, reg.id)
    assert (reg.event_id, reg.status, reg.email, reg.user_id, reg.nonce, reg.contact_id) == before
    assert (reg.name, reg.timezone) == ("Ana M. Cruz", "Asia/Tokyo")
