"""Pages reached by a personal link: they send no Referer (the token in their address must not
reach the sites they link to), their forms still work over HTTPS without one, and following an
invitation link (a GET, as mail scanners do) changes nothing: "opened" is recorded by a POST."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests import factories
from webinar_mgr import clock, create_app
from webinar_mgr.auth import services as auth
from webinar_mgr.commitments import services as commitments
from webinar_mgr.directory import services as directory
from webinar_mgr.extensions import db
from webinar_mgr.invitations import services as invitations
from webinar_mgr.invitations.models import Invitation
from webinar_mgr.registrations import feeds
from webinar_mgr.registrations.manage_links import make_manage_token
from webinar_mgr.security import TOKEN, policy_of

PERSONAL_PAGES = {
    "invitations.open_link",
    "invitations.opened",
    "invitations.decline",
    "registrations.manage",
    "registrations.cancel",
    "registrations.calendar_feed",
    "commitments.pledge_by_link",
    "commitments.update_by_link",
    "auth.reset_password",
    "privacy.my_data",  # issue 18: a guest's own data, from the manage page
    "privacy.my_data_export",
    "privacy.my_data_public",
    "questions.answer",  # issue 15: the feedback survey's personal link (token policy, like the others)
}


# Personal pages that only take a POST (the GET walk below leaves them out).
POST_ONLY = {"invitations.opened", "privacy.my_data_export", "privacy.my_data_public", "questions.answer"}


@pytest.fixture
def links(app, make_user):
    clock.freeze(factories.NOW)
    user = make_user("participant", email="ana@links.example")
    event = factories.make_event_row(title="Webinar with links")
    contact = directory.get_or_create_contact("ana@links.example", "Ana Cruz")
    reg = factories.register(event, "ana@links.example", "Ana Cruz", contact=contact, user=user)
    guest = directory.get_or_create_contact("guest@links.example", "Guest Person")
    inv = Invitation(event_id=event.id, contact_id=guest.id, category="member", state="sent")
    db.session.add(inv)
    db.session.commit()
    commitment = commitments.pledge(reg, commitments.PledgeData(platforms=["facebook"], description="A post"))
    manage = make_manage_token(reg)
    urls = {
        "invitations.open_link": f"/i/{invitations.make_token(inv)}",
        "invitations.decline": f"/i/{invitations.make_token(inv)}/decline",
        "registrations.manage": f"/registrations/manage/{manage}",
        "registrations.calendar_feed": f"/calendar/{feeds.feed_for(reg.email).token}.ics",
        "commitments.pledge_by_link": f"/commitments/pledge/{manage}",
        "commitments.update_by_link": f"/commitments/u/{commitments.make_update_token(commitment)}",
        "auth.reset_password": f"/password/reset/{auth.make_reset_token(user)}",
        "privacy.my_data": f"/privacy/my-data/{manage}",
        "registrations.cancel": f"/registrations/manage/{manage}/cancel",  # asks first (GET)
    }
    db.session.commit()
    return {"event": event, "reg": reg, "inv": inv, "urls": urls, "manage": manage}


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


# Referrer-Policy -------------------------------------------------------------------------------


def test_the_personal_pages_are_the_token_pages(app):
    token_pages = {
        r.endpoint for r in app.url_map.iter_rules() if policy_of(app.view_functions[r.endpoint]).kind == TOKEN
    }
    assert token_pages == PERSONAL_PAGES


@pytest.mark.parametrize(
    "endpoint",
    sorted(PERSONAL_PAGES - POST_ONLY),
)
def test_each_personal_page_sends_no_referrer(client, links, endpoint):
    resp = client.get(links["urls"][endpoint])
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    assert resp.headers["Referrer-Policy"] == "no-referrer"


def test_personal_pages_send_no_referrer_on_posts_redirects_and_errors(client, links):
    urls = links["urls"]
    # a form answered with errors, a redirect, the beacon, a broken link
    assert client.post(urls["invitations.open_link"], data={"name": ""}).headers["Referrer-Policy"] == "no-referrer"
    export = client.post(urls["privacy.my_data"] + "/export", data={"format": "json"})
    assert export.status_code == 200 and export.headers["Referrer-Policy"] == "no-referrer"
    public = client.post(urls["privacy.my_data"] + "/public", data={})
    assert public.status_code == 302 and public.headers["Referrer-Policy"] == "no-referrer"
    cancel = client.post(urls["registrations.manage"] + "/cancel")
    assert cancel.status_code == 302 and cancel.headers["Referrer-Policy"] == "no-referrer"
    beacon = client.post(urls["invitations.open_link"] + "/opened")
    assert beacon.status_code == 204 and beacon.headers["Referrer-Policy"] == "no-referrer"
    broken = client.get("/registrations/manage/not-a-real-token")
    assert broken.status_code >= 400 and broken.headers["Referrer-Policy"] == "no-referrer"


def test_other_pages_keep_the_default_policy(client, links):
    for url in ("/events", f"/events/{links['event'].id}", "/login"):
        assert client.get(url).headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


# CSRF on the personal pages over HTTPS, without a Referer --------------------------------------


@pytest.fixture
def https_app(migrated, app):
    """CSRF on, HTTPS: Flask-WTF's strict referrer check applies to every other form."""
    secure = create_app(
        "testing", SQLALCHEMY_DATABASE_URI=migrated, WTF_CSRF_ENABLED=True, BASE_URL="https://localhost"
    )
    return secure


def test_personal_page_forms_work_over_https_without_a_referer(https_app, links):
    client = https_app.test_client()
    base = "https://localhost"
    page = client.get(links["urls"]["registrations.manage"], base_url=base)
    assert page.status_code == 200 and page.headers["Referrer-Policy"] == "no-referrer"
    token = _csrf(page.get_data(as_text=True))
    data = {"csrf_token": token, "name": "Ana Maria Cruz", "timezone": "Asia/Manila", "sector": "civil_society"}
    data["organisation_name"] = "Migrant Care Network"
    # the browser sends no Referer (no-referrer) and Origin: null
    resp = client.post(links["urls"]["registrations.manage"], data=data, base_url=base, headers={"Origin": "null"})
    assert resp.status_code in (200, 302), resp.get_data(as_text=True)[:500]
    assert "Form expired" not in resp.get_data(as_text=True)
    # the beacon too
    beacon = client.post(links["urls"]["invitations.open_link"] + "/opened", data={"csrf_token": token}, base_url=base)
    assert beacon.status_code == 204
    # without the token: refused, as everywhere
    for url in (links["urls"]["registrations.manage"], links["urls"]["invitations.open_link"] + "/opened"):
        resp = client.post(url, data={"name": "Someone else"}, base_url=base)
        assert resp.status_code == 400 and "Form expired" in resp.get_data(as_text=True)
    bad = client.post(url, data={"csrf_token": "forged"}, base_url=base)
    assert bad.status_code == 400


def test_other_forms_over_https_still_need_the_referer(https_app, links):
    client = https_app.test_client()
    base = "https://localhost"
    token = _csrf(client.get("/login", base_url=base).get_data(as_text=True))
    data = {"email": "ana@links.example", "password": "correct-horse-battery", "csrf_token": token}
    assert client.post("/login", data=data, base_url=base).status_code == 400
    resp = client.post("/login", data=data, base_url=base, headers={"Referer": "https://localhost/login"})
    assert resp.status_code == 302


# A GET changes nothing; "opened" is a POST ------------------------------------------------------


def _invitation(inv_id: int) -> Invitation:
    db.session.expire_all()
    return db.session.get(Invitation, inv_id)


def test_following_the_invitation_link_changes_nothing(client, links):
    inv_id = links["inv"].id
    for _ in range(3):  # a scanner, a preview, the person
        resp = client.get(links["urls"]["invitations.open_link"])
        assert resp.status_code == 200
        assert client.get(links["urls"]["invitations.decline"]).status_code == 200
    inv = _invitation(inv_id)
    assert inv.state == "sent" and inv.opened_at is None


def test_the_invitation_page_carries_the_beacon_and_app_js_sends_it(client, links):
    html = client.get(links["urls"]["invitations.open_link"]).get_data(as_text=True)
    m = re.search(r'data-opened-beacon="([^"]+)" data-csrf="([^"]+)"', html)
    assert m and m.group(1) == links["urls"]["invitations.open_link"] + "/opened"
    script = client.get("/static/js/app.js").get_data(as_text=True)
    assert "data-opened-beacon" in script and 'method: "POST"' in script
    assert "<script>" not in html.replace('<script src="', "")  # no inline script (CSP 'self')


def test_the_beacon_records_opened_once(client, links):
    inv_id = links["inv"].id
    url = links["urls"]["invitations.open_link"] + "/opened"
    assert client.post(url).status_code == 204
    first = _invitation(inv_id)
    assert first.state == "opened" and first.opened_at is not None
    opened_at = first.opened_at
    clock.advance(timedelta(minutes=5))
    assert client.post(url).status_code == 204
    assert _invitation(inv_id).opened_at == opened_at
    assert client.get(url).status_code == 405


def test_posting_the_invitation_form_records_opened(client, links):
    inv_id = links["inv"].id
    resp = client.post(links["urls"]["invitations.open_link"], data={"name": ""})  # not valid: shown again
    assert resp.status_code == 400
    assert _invitation(inv_id).state == "opened"


def test_the_beacon_of_a_withdrawn_invitation_changes_nothing(client, links, organiser):
    inv_id = links["inv"].id
    url = links["urls"]["invitations.open_link"] + "/opened"
    invitations.revoke(inv_id, actor=organiser)
    assert client.post(url).status_code in (404, 422)
    assert _invitation(inv_id).state == "revoked"


def test_a_get_of_the_invitation_link_runs_no_write(client, links):
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert client.get(links["urls"]["invitations.open_link"]).status_code == 200
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    writes = [s for s in statements if s.lstrip().split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE")]
    assert writes == []
