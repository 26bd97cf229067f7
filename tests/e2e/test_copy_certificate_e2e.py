"""In Chromium (issue 15): an organiser copies last year's held webinar as a new draft for a new
date; the demo participant, who attended it, downloads their certificate of attendance and the
verification address on it opens the check page."""

from __future__ import annotations

import re
import subprocess

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from webinar_mgr.cli import run_seed
from webinar_mgr.events.models import AgendaItem, Event
from webinar_mgr.extensions import db

pytestmark = pytest.mark.e2e


def _sign_in(browser, live_server, email: str):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.goto(f"{live_server}/login")
    page.fill("#email", email)
    page.fill("#password", "demo-password")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login" not in url)
    return context, page


def test_copy_an_event_and_download_a_certificate(app, live_server, browser, tmp_path):
    run_seed(lambda *args, **kwargs: None)
    held = db.session.scalar(sa.select(Event).where(Event.status == "held", Event.title.like("%technology%")))

    context, page = _sign_in(browser, live_server, "organiser@example.org")
    page.goto(f"{live_server}/events/{held.id}")
    page.get_by_role("link", name="Copy as a new event").click()
    page.fill("#title", "Regional Webinar: Technology and trafficking in persons, a year on")
    page.fill("#starts_local", "2027-08-24T14:00")
    page.get_by_role("button", name="Copy as a new draft").click()
    expect(page.get_by_text("The copy is a draft")).to_be_visible()
    db.session.expire_all()
    copy = db.session.scalar(sa.select(Event).where(Event.title.like("%a year on")))
    assert copy.status == "draft" and copy.online_url is None
    source_items = db.session.scalar(sa.select(sa.func.count()).where(AgendaItem.event_id == held.id))
    copy_items = db.session.scalar(sa.select(sa.func.count()).where(AgendaItem.event_id == copy.id))
    assert copy_items == source_items > 0
    context.close()

    context, page = _sign_in(browser, live_server, "participant@example.org")
    page.goto(f"{live_server}/events/{held.id}")
    link = page.get_by_role("link", name="Download my certificate of attendance (PDF)")
    expect(link).to_be_visible()
    # The PDF opens in the browser (inline): fetch it with the signed-in context's cookies.
    resp = context.request.get(live_server + link.get_attribute("href"))
    assert resp.ok and resp.headers["content-type"] == "application/pdf"
    path = tmp_path / "certificate.pdf"
    path.write_bytes(resp.body())
    text = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True).stdout
    assert "Certificate of attendance" in text and "Pat Participant" in text
    url = re.search(r"(https?://\S+/certificates/\S+)", text.replace("\n", "")).group(1)
    page.goto(url)
    expect(page.get_by_text("This certificate is genuine")).to_be_visible()
    context.close()
