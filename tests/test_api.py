"""The JSON API: resources per role, token scopes, expiry and revocation, cookies refused,
pagination by cursor, ETags, problem+json, the command line and the tokens page."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.factories import NOW, make_event, make_event_row, register
from tests.support import auth, problem, token_for
from webinar_mgr import clock
from webinar_mgr.api import services as api_services
from webinar_mgr.api.models import ApiToken
from webinar_mgr.audit.models import AuditEntry
from webinar_mgr.auth.models import Role
from webinar_mgr.errors import ValidationFailed
from webinar_mgr.events import settings as event_settings
from webinar_mgr.events.models import Event
from webinar_mgr.extensions import db

SAMPLES = Path(__file__).parent / "fixtures" / "attendance" / "samples"


@pytest.fixture(autouse=True)
def kinds(app):
    event_settings.kinds()  # the default kinds, before any event row adds one of its own


@pytest.fixture
def published(app):
    clock.freeze(NOW)
    return [
        make_event_row(
            title=f"Webinar {i}", starts_at=NOW + timedelta(days=10 + i), ends_at=NOW + timedelta(days=10 + i, hours=2)
        )
        for i in range(5)
    ]


# Events -------------------------------------------------------------------------------------------


def test_events_are_public_with_times_in_utc_and_the_events_zone(client, published):
    resp = client.get("/api/v1/events")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    items = resp.get_json()["items"]
    assert [e["title"] for e in items] == [f"Webinar {i}" for i in range(5)]
    first = items[0]
    assert first["starts_at"].endswith("+00:00")
    assert first["starts_local"].endswith("+07:00") and first["timezone"] == "Asia/Bangkok"
    assert first["online_url"] is None  # the link is for organisers and confirmed registrants


def test_drafts_only_for_organisers_tokens(client, published, organiser, make_user):
    make_event(organiser, title="A draft")

    def titles(resp):
        return {e["title"] for e in resp.get_json()["items"]}

    assert "A draft" not in titles(client.get("/api/v1/events?when=all"))
    participant = make_user("participant")
    assert "A draft" not in titles(
        client.get("/api/v1/events?when=all", headers=auth(token_for(participant, "events:read")))
    )
    resp = client.get("/api/v1/events?when=all", headers=auth(token_for(organiser, "events:read")))
    assert "A draft" in titles(resp)
    draft_id = db.session.scalar(sa.select(Event.id).where(Event.title == "A draft"))
    problem(client.get(f"/api/v1/events/{draft_id}"), 404)


def test_filter_by_status_and_detail_with_agenda(client, organiser):
    clock.freeze(NOW)
    event = make_event(organiser, title="With agenda")
    from tests.factories import add_item

    add_item(organiser, event, 14, 0, 30, title="Opening")
    token = token_for(organiser, "events:read")
    resp = client.get("/api/v1/events?status=draft&when=all", headers=auth(token))
    assert [e["title"] for e in resp.get_json()["items"]] == ["With agenda"]
    detail = client.get(f"/api/v1/events/{event.id}", headers=auth(token)).get_json()
    assert detail["agenda"][0]["title"] == "Opening"
    assert detail["agenda"][0]["starts_local"].endswith("+07:00")
    assert detail["online_url"] == "https://meet.example.org/secret-room"


def test_cursor_pagination_with_link_headers(client, published):
    seen, url = [], "/api/v1/events?limit=2"
    pages = 0
    while url:
        resp = client.get(url)
        body = resp.get_json()
        seen += [e["id"] for e in body["items"]]
        pages += 1
        url = body["next"]
        if url:
            assert resp.headers["Link"] == f'<{url}>; rel="next"'
            url = url.replace("http://localhost", "")
        else:
            assert "Link" not in resp.headers
    assert pages == 3 and seen == [e.id for e in published]


def test_a_cursor_from_another_query_or_forged_is_refused(client, published):
    nxt = client.get("/api/v1/events?limit=2").get_json()["next"]
    cursor = re.search(r"cursor=([^&]+)", nxt).group(1)
    body = problem(client.get(f"/api/v1/events?limit=2&when=past&cursor={cursor}"), 400)
    assert "cursor" in body["errors"]
    problem(client.get("/api/v1/events?cursor=forged"), 400)


def test_etag_gives_304(client, published):
    resp = client.get("/api/v1/events")
    etag = resp.headers["ETag"]
    again = client.get("/api/v1/events", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    db.session.get(Event, published[0].id).title = "Renamed"
    db.session.commit()
    assert client.get("/api/v1/events", headers={"If-None-Match": etag}).status_code == 200
    detail = client.get(f"/api/v1/events/{published[0].id}")
    assert (
        client.get(f"/api/v1/events/{published[0].id}", headers={"If-None-Match": detail.headers["ETag"]}).status_code
        == 304
    )


def test_create_and_update_an_event_through_the_services(client, organiser):
    clock.freeze(NOW)
    token = token_for(organiser, "events:read", "events:write")
    body = {
        "title": "From the API",
        "kind": "regional_webinar",
        "timezone": "Asia/Manila",
        "starts_local": "2027-05-01T10:00:00",
        "ends_local": "2027-05-01T12:00:00",
        "audience": "open",
    }
    resp = client.post("/api/v1/events", json=body, headers=auth(token))
    assert resp.status_code == 201, resp.get_json()
    created = resp.get_json()
    assert created["status"] == "draft" and created["starts_at"] == "2027-05-01T02:00:00+00:00"
    assert resp.headers["Location"].endswith(f"/api/v1/events/{created['id']}")
    resp = client.patch(
        f"/api/v1/events/{created['id']}", json={"venue": "Manila", "status": "scheduled"}, headers=auth(token)
    )
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["venue"] == "Manila" and resp.get_json()["status"] == "scheduled"
    actions = set(db.session.scalars(sa.select(AuditEntry.action)))
    assert {"event.create", "event.update", "event.status"} <= actions
    agenda = client.post(
        f"/api/v1/events/{created['id']}/agenda",
        headers=auth(token),
        json={"title": "Welcome", "starts_local": "2027-05-01T10:00:00", "duration_minutes": 15},
    )
    assert agenda.status_code == 201 and agenda.get_json()["agenda"][0]["title"] == "Welcome"


def test_domain_errors_are_problems_with_field_errors_and_nothing_saved(client, organiser):
    token = token_for(organiser, "events:write")
    before = db.session.scalar(sa.select(sa.func.count(Event.id)))
    body = problem(
        client.post(
            "/api/v1/events",
            headers=auth(token),
            json={
                "title": "x",
                "kind": "regional_webinar",
                "timezone": "Mars/Olympus",
                "starts_local": "2027-05-01T10:00:00",
                "ends_local": "2027-05-01T09:00:00",
            },
        ),
        422,
    )
    assert "timezone" in body["errors"]
    body = problem(
        client.post("/api/v1/events", headers=auth(token), json={"title": "x", "kind": "nope", "timezone": "UTC"}), 422
    )
    assert "kind" in body["errors"]
    assert db.session.scalar(sa.select(sa.func.count(Event.id))) == before


@pytest.mark.parametrize(
    "payload, status, field",
    [
        ('{"title": ', 400, None),  # malformed JSON
        ('{"title": 5, "kind": "regional_webinar", "timezone": "UTC"}', 422, "title"),  # wrong type
        ('{"title": "x", "kind": "regional_webinar", "timezone": "UTC", "colour": "red"}', 422, "colour"),
        ("[1, 2]", 422, None),
    ],
)
def test_bad_input_is_a_problem(client, organiser, payload, status, field):
    token = token_for(organiser, "events:write")
    resp = client.post("/api/v1/events", data=payload, content_type="application/json", headers=auth(token))
    body = problem(resp, status)
    if field:
        assert field in body["errors"]


def test_oversized_body_is_413(app, client, organiser):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    token = token_for(organiser, "events:write")
    big = json.dumps({"title": "x" * 5000, "kind": "regional_webinar", "timezone": "UTC"})
    problem(client.post("/api/v1/events", data=big, content_type="application/json", headers=auth(token)), 413)


# Tokens: scopes, roles, expiry, revocation, cookies -----------------------------------------------


def test_a_read_token_cannot_write(client, organiser):
    token = token_for(organiser, "events:read")
    body = problem(
        client.post(
            "/api/v1/events", json={"title": "x", "kind": "regional_webinar", "timezone": "UTC"}, headers=auth(token)
        ),
        403,
    )
    assert "events:write" in body["detail"]


def test_a_participants_token_cannot_read_registrations(client, published, make_user):
    participant = make_user("participant")
    with pytest.raises(ValidationFailed) as exc:
        token_for(participant, "registrations:read")
    assert "scopes" in exc.value.field_errors
    token = token_for(participant, "events:read")
    problem(client.get(f"/api/v1/events/{published[0].id}/registrations", headers=auth(token)), 403)


def test_a_token_never_gives_more_than_its_owners_role_now(client, published, make_user):
    user = make_user("organiser")
    token = token_for(user, "registrations:read")
    url = f"/api/v1/events/{published[0].id}/registrations"
    assert client.get(url, headers=auth(token)).status_code == 200
    user.roles = [db.session.scalar(sa.select(Role).where(Role.name == "participant"))]
    db.session.commit()
    problem(client.get(url, headers=auth(token)), 403)


def test_expired_and_revoked_tokens_are_refused(client, organiser, published):
    clock.freeze(NOW)
    token = token_for(organiser, "events:read", days=1)
    assert client.get("/api/v1/events", headers=auth(token)).status_code == 200
    row = db.session.scalar(sa.select(ApiToken))
    assert row.last_used_at is not None and row.token_hash != token and token not in row.prefix + "x"
    clock.advance(timedelta(days=1, seconds=1))
    problem(client.get("/api/v1/events", headers=auth(token)), 401)
    token2 = token_for(organiser, "events:read")
    row2 = db.session.scalar(sa.select(ApiToken).where(ApiToken.id != row.id))
    api_services.revoke_token(row2.id, actor=organiser)
    body = problem(client.get("/api/v1/events", headers=auth(token2)), 401)
    assert "revoked" in body["detail"]
    problem(client.get("/api/v1/events", headers={"Authorization": "Basic abc"}), 401)
    problem(client.get("/api/v1/events", headers=auth("wmt_" + "x" * 43)), 401)


def test_session_cookies_do_not_authenticate_the_api(client, login, organiser, published):
    login(organiser)
    problem(client.get(f"/api/v1/events/{published[0].id}/registrations"), 401)
    # a cross-site form post with the cookie: refused, nothing written, no CSRF token asked for
    body = problem(
        client.post("/api/v1/events", json={"title": "x", "kind": "regional_webinar", "timezone": "UTC"}), 401
    )
    assert "cookie" in body["detail"]
    # public reads still answer (as to anyone), without drafts
    assert client.get("/api/v1/events").status_code == 200


def test_tokens_are_stored_hashed_with_256_random_bits(organiser):
    new = api_services.create_token(organiser, "script", ["events:read"], 10, actor=organiser)
    assert new.secret.startswith("wmt_") and len(new.secret) >= 4 + 43
    row = db.session.get(ApiToken, new.token.id)
    assert row.token_hash == api_services.hash_token(new.secret) and new.secret not in (row.token_hash, row.prefix)
    assert db.session.scalar(sa.select(AuditEntry.action).where(AuditEntry.action == "api.token.create"))


def test_cli_creates_a_token(app, organiser):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "api",
            "token",
            "create",
            "--user",
            organiser.email,
            "--scopes",
            "events:read,registrations:read",
            "--days",
            "7",
        ]
    )
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip().splitlines()[0]
    assert api_services.authenticate(secret).scopes == ["events:read", "registrations:read"]
    bad = runner.invoke(args=["api", "token", "create", "--user", organiser.email, "--scopes", "nope"])
    assert bad.exit_code != 0 and "Unknown scope" in bad.output
    bad = runner.invoke(args=["api", "token", "create", "--user", "nobody@x.org", "--scopes", "events:read"])
    assert bad.exit_code != 0


def test_tokens_page_shows_a_token_once_and_revokes_it(app, client, login, organiser):
    app.config["WTF_CSRF_ENABLED"] = False
    login(organiser)
    resp = client.post("/api/tokens", data={"name": "website", "scopes": ["events:read"], "days": "30"})
    assert resp.status_code == 200
    secret = re.search(r'id="new-token">(wmt_[^<]+)<', resp.get_data(as_text=True)).group(1)
    assert api_services.authenticate(secret) is not None
    page = client.get("/api/tokens").get_data(as_text=True)
    assert secret not in page and "website" in page
    row_id = db.session.scalar(sa.select(ApiToken.id))
    db.session.commit()  # end the test's read (SQLite: the request writes)
    assert client.post(f"/api/tokens/{row_id}/revoke").status_code == 302
    db.session.expire_all()
    assert api_services.authenticate(secret) is None
    bad = client.post("/api/tokens", data={"name": "", "scopes": [], "days": "900"})
    assert bad.status_code in (400, 422)
    assert "profile" in client.get("/profile").get_data(as_text=True).lower()
    assert "/api/tokens" in client.get("/profile").get_data(as_text=True)


# Registrations, attendance, directory -------------------------------------------------------------


def test_registrations_of_an_event_for_organisers_paged(client, organiser, published):
    event = published[0]
    for i in range(7):
        register(event, f"person{i}@example.org")
    token = token_for(organiser, "registrations:read")
    resp = client.get(f"/api/v1/events/{event.id}/registrations?limit=5", headers=auth(token))
    body = resp.get_json()
    assert len(body["items"]) == 5 and body["next"]
    rest = client.get(body["next"].replace("http://localhost", ""), headers=auth(token)).get_json()
    assert len(rest["items"]) == 2 and rest["next"] is None
    emails = {r["email"] for r in body["items"] + rest["items"]}
    assert len(emails) == 7
    problem(client.get("/api/v1/events/999999/registrations", headers=auth(token)), 404)
    problem(client.get(f"/api/v1/events/{event.id}/registrations"), 401)


def test_upload_a_zoom_report_with_the_pages_rules(client, organiser, app):
    event = make_event_row(
        title="Zoom sample",
        starts_at=datetime(2022, 8, 24, 6, 0, tzinfo=UTC),
        ends_at=datetime(2022, 8, 24, 8, 0, tzinfo=UTC),
        status="held",
    )
    token = token_for(organiser, "attendance:write", "attendance:read")
    data = (SAMPLES / "zoom-webinar-attendee-report.csv").read_bytes()
    url = f"/api/v1/events/{event.id}/attendance/imports"
    dry = client.post(
        url + "?dry_run=true",
        headers=auth(token),
        data={"file": (__import__("io").BytesIO(data), "report.csv")},
        content_type="multipart/form-data",
    )
    assert dry.status_code == 200, dry.get_json()
    assert dry.get_json()["dry_run"] is True
    resp = client.post(
        url,
        headers=auth(token),
        data={"file": (__import__("io").BytesIO(data), "report.csv")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["people"] > 0
    again = client.post(
        url,
        headers=auth(token),
        data={"file": (__import__("io").BytesIO(data), "report.csv")},
        content_type="multipart/form-data",
    )
    problem(again, 409)  # the same file again changes nothing: refused as on the page
    summary = client.get(f"/api/v1/events/{event.id}/attendance", headers=auth(token)).get_json()
    assert len(summary["imports"]) == 1 and summary["counts"]["people"] > 0
    assert db.session.scalar(sa.select(AuditEntry.id).where(AuditEntry.action == "attendance.import"))
    bad = client.post(
        url,
        headers=auth(token),
        data={"file": (__import__("io").BytesIO(b"\x00\x01garbage"), "x.csv")},
        content_type="multipart/form-data",
    )
    assert 400 <= bad.status_code < 500 and bad.mimetype == "application/problem+json"
    problem(client.post(url, headers=auth(token), data={}, content_type="multipart/form-data"), 422)
    read_only = token_for(organiser, "attendance:read")
    problem(
        client.post(
            url,
            headers=auth(read_only),
            data={"file": (__import__("io").BytesIO(data), "r.csv")},
            content_type="multipart/form-data",
        ),
        403,
    )


def test_organisations_for_reviewers(client, make_user):
    from webinar_mgr.directory.models import Organisation

    db.session.add(Organisation(name="Ministry of Labour", sector="civil_society"))
    db.session.commit()
    cochair = make_user("cochair")
    resp = client.get("/api/v1/organisations", headers=auth(token_for(cochair, "directory:read")))
    assert resp.status_code == 200
    assert [o["name"] for o in resp.get_json()["items"]] == ["Ministry of Labour"]
    problem(client.get("/api/v1/organisations"), 401)


# The description and the reference page ----------------------------------------------------------


def test_openapi_31_description_is_served_and_public(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"] == "3.1.0"
    assert "/api/v1/events" in spec["paths"] and "bearerAuth" in spec["components"]["securitySchemes"]
    assert "application/problem+json" in json.dumps(spec["paths"]["/api/v1/events"]["get"]["responses"])
    page = client.get("/api/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    # served by the app (under a content-hashed name, cached for a year), no inline script
    assert re.search(r'src="/static/vendor/swagger-ui/swagger-ui-bundle(\.[0-9a-f]{12})?\.js"', html)
    assert "<script>" not in html
    assert client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200
