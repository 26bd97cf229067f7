"""Security baseline: CSRF on forms, escaped output, the audit log page, session cookies."""

from __future__ import annotations

import re

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
    """Walk the URL map: no endpoint of any module accepts a POST without the token."""
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
            {
                arg: 999999 if type(rule._converters[arg]).__name__ == "IntegerConverter" else "x"
                for arg in rule.arguments
            },
            append_unknown=False,
        )[1]
        resp = client.post(url, data={"x": "1"}, headers={"Accept": "text/html"})
        checked += 1
        if resp.status_code != 400 or "Form expired" not in resp.get_data(as_text=True):
            accepted.append(f"{rule.rule}: {resp.status_code}")
    assert checked >= 10
    assert accepted == []
