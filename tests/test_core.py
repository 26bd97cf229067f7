from datetime import UTC

import pytest
import sqlalchemy as sa
from flask import current_app

from config import DEFAULT_SECRET_KEY
from webinar_mgr import create_app
from webinar_mgr.extensions import db


def test_healthz_ok(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok", "database": "ok"}


def test_healthz_reports_database_down(tmp_path):
    # A PostgreSQL URL where nothing listens.
    app = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI="postgresql+psycopg://postgres@127.0.0.1:9/none",
        SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"connect_timeout": 2}},
    )
    resp = app.test_client().get("/healthz")
    assert resp.status_code == 503
    assert resp.get_json()["database"] != "ok"


def test_production_refuses_default_secret_key():
    from config import ProductionConfig

    class Prod(ProductionConfig):
        SECRET_KEY = DEFAULT_SECRET_KEY

    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(Prod)


def test_production_sets_secure_cookies_and_headers(migrated):
    from config import ProductionConfig

    class Prod(ProductionConfig):
        SECRET_KEY = "a-real-secret-for-this-test-only"
        SQLALCHEMY_DATABASE_URI = migrated
        BASE_URL = "https://events.example.org"

    app = create_app(Prod)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True
    resp = app.test_client().get("/login")
    assert resp.status_code == 200
    assert "max-age" in resp.headers["Strict-Transport-Security"]
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_times_are_stored_in_utc(app):
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from webinar_mgr.audit.models import AuditEntry

    bangkok = datetime(2022, 8, 24, 13, 0, tzinfo=ZoneInfo("Asia/Bangkok"))
    entry = AuditEntry(action="t", object_type="x", at=bangkok)
    db.session.add(entry)
    db.session.commit()
    db.session.expire_all()
    stored = db.session.get(AuditEntry, entry.id).at
    assert stored.tzinfo is not None
    assert stored.utcoffset() == timedelta(0)
    assert stored == datetime(2022, 8, 24, 6, 0, tzinfo=UTC)


def test_naive_datetimes_are_refused(app):
    from datetime import datetime

    from webinar_mgr.audit.models import AuditEntry

    db.session.add(AuditEntry(action="t", object_type="x", at=datetime(2022, 1, 1)))
    with pytest.raises(sa.exc.StatementError, match="naive"):
        db.session.commit()
    db.session.rollback()


def test_unknown_page_is_a_friendly_404(client):
    resp = client.get("/no/such/page")
    assert resp.status_code == 404
    assert "There is no page at this address" in resp.get_data(as_text=True)


def test_pages_have_accessible_basics(client):
    html = client.get("/login").get_data(as_text=True)
    assert '<html class="no-js" lang="en" data-zone="Asia/Bangkok" data-zone-follow>' in html
    assert 'name="viewport"' in html
    assert 'class="skip-link"' in html
    # every input of the form has a label
    assert '<label for="email">' in html and '<label for="password">' in html


def test_pybabel_extract_finds_strings_in_code_and_templates(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    out = tmp_path / "messages.pot"
    pybabel = Path(sys.executable).parent / "pybabel"
    subprocess.run(
        [str(pybabel), "extract", "-F", "babel.cfg", "-o", str(out), "."], cwd=root, check=True, capture_output=True
    )
    pot = out.read_text()
    assert 'msgid "Skip to main content"' in pot  # templates/base.html
    assert 'msgid "The email or password is not right."' in pot  # python gettext
    assert 'msgid "Keep me signed in on this device"' in pot  # lazy_gettext (_l) in forms
    assert 'msgid "Reset your password"' in pot


def test_translations_directory_is_wired(app):
    from pathlib import Path

    directory = Path(app.config["BABEL_TRANSLATION_DIRECTORIES"])
    assert directory.is_dir() and (directory / "messages.pot").is_file()


def test_behind_a_proxy_the_client_address_is_trusted_only_when_configured(migrated):
    from flask import request

    for hops, expected in ((0, "127.0.0.1"), (1, "203.0.113.7")):
        app = create_app("testing", SQLALCHEMY_DATABASE_URI=migrated, PROXY_HOPS=hops)
        seen = {}

        @app.after_request
        def grab(resp, seen=seen):
            seen["addr"] = request.remote_addr
            return resp

        app.test_client().get(
            "/healthz", headers={"X-Forwarded-For": "203.0.113.7"}, environ_base={"REMOTE_ADDR": "127.0.0.1"}
        )
        assert seen["addr"] == expected


def test_named_time_formats_never_put_the_month_as_a_number(app):
    """Issue 16: one format everywhere, the month by name and the reader's zone named; the old
    named formats and patterns are read as the one format's kinds (moment, day, clock time)."""
    from datetime import datetime

    from webinar_mgr.i18n import format_in_zone

    moment = datetime(2026, 11, 12, 7, 28, tzinfo=UTC)  # 12 November: 11/12 or 12/11?
    with app.test_request_context():
        assert format_in_zone(moment, "Asia/Bangkok", "short") == "Thu, Nov 12, 2026, 14:28 (UTC+07)"
        assert format_in_zone(moment, "Asia/Bangkok", "medium") == "Thu, Nov 12, 2026, 14:28 (UTC+07)"
        assert format_in_zone(moment, "Pacific/Apia", "long") == "Thu, Nov 12, 2026, 20:28 (UTC+13)"
        assert format_in_zone(moment, "Asia/Bangkok", "d MMM y") == "Thu, Nov 12, 2026"  # a day
        assert format_in_zone(moment, "Asia/Bangkok", "HH:mm") == "14:28"  # a clock time


def test_zone_labels_are_offsets_from_utc():
    from datetime import datetime

    from webinar_mgr.i18n import zone_abbrev

    winter = datetime(2026, 1, 5, tzinfo=UTC)
    july = datetime(2026, 7, 5, tzinfo=UTC)
    assert zone_abbrev(winter, "Asia/Manila") == "UTC+08"  # tzdata calls it "PST"
    assert zone_abbrev(winter, "Australia/Sydney") == "UTC+11" and zone_abbrev(july, "Australia/Sydney") == "UTC+10"
    assert zone_abbrev(winter, "Asia/Kathmandu") == "UTC+05:45"
    assert zone_abbrev(winter, "Pacific/Honolulu") == "UTC-10"
    assert zone_abbrev(winter, "Etc/UTC") == "UTC"


def test_production_warms_up_pdfs_at_start_and_a_failure_is_not_fatal(migrated, monkeypatch, caplog):
    """Issue 19: a production process loads WeasyPrint and its fonts when it starts (PDF_WARM_UP,
    on by default there), so its first PDF does not pay for them; a warm-up that fails is logged
    and the app still starts."""
    from config import ProductionConfig, TestingConfig
    from webinar_mgr import pdfs

    assert ProductionConfig.PDF_WARM_UP is True and not getattr(TestingConfig, "PDF_WARM_UP", False)
    calls = []

    class Prod(ProductionConfig):
        SECRET_KEY = "a-real-secret-for-this-test-only"
        SQLALCHEMY_DATABASE_URI = migrated
        BASE_URL = "https://events.example.org"

    from webinar_mgr import i18n

    monkeypatch.setattr(pdfs, "warm_up", lambda: calls.append(current_app.name))
    monkeypatch.setattr(i18n, "warm_up", lambda: calls.append("languages"))
    create_app(Prod)
    assert calls == ["languages", "webinar_mgr"]  # once each, inside the app context

    def broken():
        raise OSError("no fonts here")

    monkeypatch.setattr(pdfs, "warm_up", broken)
    monkeypatch.setattr(i18n, "warm_up", broken)
    app = create_app(Prod)
    assert app.test_client().get("/healthz").status_code == 200
    assert "PDF warm-up failed" in caplog.text and "language data warm-up failed" in caplog.text

    class NoWarmUp(Prod):
        PDF_WARM_UP = False

    calls.clear()
    monkeypatch.setattr(pdfs, "warm_up", lambda: calls.append(1))
    create_app(NoWarmUp)
    assert calls == []
