"""How pages travel and what they say when a form is wrong (webinar_mgr/pages.py, the error summary
in templates/macros/forms.html, the chart palette): compressed text responses, static files under
content-hashed names with a year's cache, "Error:" in the title, every error of the pledge form in
one pass with aria-invalid on the platforms group, error flashes announced, chart colours at
least 3:1 on white."""

from __future__ import annotations

import gzip
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests import factories
from webinar_mgr import clock
from webinar_mgr.directory import services as directory
from webinar_mgr.pages import IMMUTABLE, hashed_name
from webinar_mgr.reports import charts

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
STATIC = Path(__file__).resolve().parent.parent / "static"
HASHED_CSS = re.compile(r'href="(/static/css/app\.([0-9a-f]{12})\.css)"')


def _page_with_links(client) -> str:
    return client.get("/login").get_data(as_text=True)


# Static files -----------------------------------------------------------------------------------


def test_pages_link_static_files_by_content_hash_and_those_are_cached_for_a_year(client):
    html = _page_with_links(client)
    match = HASHED_CSS.search(html)
    assert match, "the stylesheet's address carries a content hash"
    url, digest = match.groups()
    assert hashed_name(str(STATIC), "css/app.css") == f"css/app.{digest}.css"
    assert re.search(r'src="/static/js/app\.[0-9a-f]{12}\.js"', html)
    resp = client.get(url)
    assert resp.status_code == 200
    assert resp.get_data() == (STATIC / "css" / "app.css").read_bytes()
    assert resp.headers["Cache-Control"] == IMMUTABLE
    assert resp.mimetype == "text/css"


def test_the_plain_static_address_still_works_with_a_short_cache(client, app):
    resp = client.get("/static/css/app.css")
    assert resp.status_code == 200
    assert resp.get_data() == (STATIC / "css" / "app.css").read_bytes()
    cache = resp.headers["Cache-Control"]
    assert "immutable" not in cache and f"max-age={app.config['STATIC_SHORT_MAX_AGE']}" in cache


def test_an_old_hash_gets_todays_file_without_the_long_cache(client):
    resp = client.get("/static/css/app.000000000000.css")
    assert resp.status_code == 200
    assert resp.get_data() == (STATIC / "css" / "app.css").read_bytes()
    assert "immutable" not in resp.headers["Cache-Control"]
    assert client.get("/static/css/nothing.0123456789ab.css").status_code == 404
    assert client.get("/static/../config.py").status_code == 404
    assert client.get("/static/" + "a" * 300 + ".0123456789ab.css").status_code == 404  # name too long
    assert client.get("/static/css/app.0123456789ab.css/x").status_code == 404


def test_a_changed_file_gets_a_new_name(app, tmp_path):
    (tmp_path / "a.css").write_text("body { color: red; }")
    first = hashed_name(str(tmp_path), "a.css")
    (tmp_path / "a.css").write_text("body { color: blue; }")
    second = hashed_name(str(tmp_path), "a.css")
    assert first != second and first.startswith("a.") and first.endswith(".css")
    assert hashed_name(str(tmp_path), "missing.css") == "missing.css"


# Compression -----------------------------------------------------------------------------------


def test_html_css_and_javascript_are_gzipped_when_the_browser_accepts_it(client):
    plain = client.get("/login")
    packed = client.get("/login", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert "Content-Encoding" not in plain.headers and "Accept-Encoding" in plain.headers["Vary"]
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(packed.get_data()).decode().replace(_csrf(packed), "") == plain.get_data(
        as_text=True
    ).replace(_csrf(plain), "")
    assert len(packed.get_data()) < len(plain.get_data()) / 2
    for path in ("/static/css/app.css", "/static/js/app.js"):
        resp = client.get(path, headers={"Accept-Encoding": "gzip"})
        assert resp.headers["Content-Encoding"] == "gzip", path
        assert gzip.decompress(resp.get_data()) == (STATIC / path.removeprefix("/static/")).read_bytes()


def _csrf(resp) -> str:
    body = resp.get_data()
    if resp.headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    found = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', body.decode())
    return found.group(1) if found else ""


def test_a_compressed_static_file_still_answers_if_none_match_with_304(client):
    first = client.get("/static/css/app.css", headers={"Accept-Encoding": "gzip"})
    etag = first.headers["ETag"]
    assert etag.startswith('W/"')
    again = client.get("/static/css/app.css", headers={"Accept-Encoding": "gzip", "If-None-Match": etag})
    assert again.status_code == 304


def test_small_binary_and_head_responses_are_left_alone(client):
    tiny = client.get("/healthz", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in tiny.headers
    head = client.head("/login", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in head.headers


# Form errors ------------------------------------------------------------------------------------


@pytest.fixture
def pledge_page(app, client, make_user, login):
    clock.freeze(NOW)
    start = NOW - timedelta(days=2)
    event = factories.make_event_row(
        title="Regional Webinar: Technology & trafficking",
        status="held",
        starts_at=start,
        ends_at=start + timedelta(hours=2),
        online_url=None,
    )
    user = make_user("participant", email="pat@example.org")
    contact = directory.get_or_create_contact("pat@example.org", "Pat")
    factories.register(event, "pat@example.org", "Pat", sector="civil_society", contact=contact, user=user)
    login(user)
    return f"/events/{event.id}/commitments/new"


def test_an_empty_pledge_shows_every_error_at_once_with_error_in_the_title(client, pledge_page):
    html = client.get(pledge_page).get_data(as_text=True)
    assert "<title>Pledge a commitment" in html and "Error:" not in html
    resp = client.post(pledge_page, data={"kind": "social_media_post", "description": "", "target_date": "2020-01-01"})
    assert resp.status_code == 400
    html = resp.get_data(as_text=True)
    title = re.search(r"<title>(.*?)</title>", html, re.S).group(1)
    assert title.startswith("Error: Pledge a commitment: Regional Webinar: Technology &amp; trafficking")
    summary = re.search(r'<div class="flash flash-error error-summary"(.*?)</div>', html, re.S)
    assert summary and 'tabindex="-1"' in summary.group(1) and "data-error-summary" in summary.group(1)
    # the form's own error and the service's, in one pass
    for message, target in (
        ("Choose at least one platform.", "platforms-0"),
        ("This field is required.", "description"),
        ("The target date is in the past.", "target_date"),
    ):
        assert message in summary.group(1), message
        assert f'href="#{target}"' in summary.group(1), target
    boxes = re.findall(r'<input[^>]*name="platforms"[^>]*>', html)
    assert boxes and all('aria-invalid="true"' in b and 'aria-describedby="platforms-error"' in b for b in boxes)
    assert 'id="platforms-error"' in html
    description = re.search(r'<textarea[^>]*id="description"[^>]*>', html).group(0)
    assert 'aria-invalid="true"' in description and "description-error" in description


def test_a_form_without_errors_keeps_its_title(client):
    resp = client.post("/login", data={"email": "nobody@example.org", "password": "wrong"})
    html = resp.get_data(as_text=True)
    # a refused sign-in is a form error too
    assert re.search(r"<title>Error: ", html)
    assert "<title>Error:" not in client.get("/login").get_data(as_text=True)


def test_error_flashes_are_announced_and_others_are_polite(app, client):
    @app.route("/_flash_test")
    def flash_test():
        from flask import flash, render_template_string  # import here: a page for this test only

        flash("Saved.", "success")
        flash("Something failed.", "error")
        return render_template_string('{% extends "base.html" %}{% block content %}{% endblock %}')

    flash_test.access_policy = app.view_functions["static"].access_policy
    html = client.get("/_flash_test").get_data(as_text=True)
    alert = re.search(r'<div class="flashes" role="alert">(.*?)</div>', html, re.S)
    status = re.search(r'<div class="flashes" role="status">(.*?)</div>', html, re.S)
    assert alert and "Something failed." in alert.group(1) and "Saved." not in alert.group(1)
    assert status and "Saved." in status.group(1)


# Chart colours ----------------------------------------------------------------------------------


def test_contrast_ratio_matches_wcag_reference_values():
    assert charts.contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert charts.contrast_ratio("#ffffff", "#ffffff") == pytest.approx(1.0)
    assert charts.contrast_ratio("#767676") == pytest.approx(4.54, abs=0.01)  # the AA grey
    assert charts.contrast_ratio("#E69F00") == pytest.approx(2.25, abs=0.01)  # the old orange
    assert charts.contrast_ratio("#56B4E9") < 3 and charts.contrast_ratio("#F0E442") < 3


def test_every_chart_series_has_at_least_3_to_1_on_white():
    assert len(set(charts.COLOURS)) == len(charts.COLOURS) == 8
    low = {c: round(charts.contrast_ratio(c, charts.BACKGROUND), 2) for c in charts.COLOURS}
    assert all(ratio >= 3 for ratio in low.values()), low


def test_the_stacked_sector_chart_uses_the_palette_with_separators(client, make_user, login):
    from tests.review_dataset import build_dataset  # import here: the review's dataset, used by this test only

    build_dataset()
    login(make_user("cochair", email="cochair@example.org"))
    svg = client.get("/review/chart/sectors.svg", query_string={"start": "2025-07-01", "end": "2026-06-30"})
    assert svg.status_code == 200
    text = svg.get_data(as_text=True)
    used = {c.upper() for c in re.findall(r"\.color-\d+[^{]*\{[^}]*fill:\s*(#[0-9a-fA-F]{6})", text)}
    assert used and used <= {c.upper() for c in charts.COLOURS}, used
    assert all(charts.contrast_ratio(c) >= 3 for c in used)
    assert ".rect.reactive{stroke:#ffffff !important" in text.replace(" ", "").replace("!important", " !important")
