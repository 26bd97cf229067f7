"""In Chromium, an organiser builds an invitation list from the directory: sees who the filter
matches, unticks one person, adds the rest, opens "Send to the rest", reads the mail as the first
invitee will, and sends; then a guest asks for their registration link again. At 1280 and 390 px,
with axe (issue 16)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.factories import make_event_row
from tests.support import invitation_directory
from webinar_mgr import clock
from webinar_mgr.directory.models import Contact
from webinar_mgr.extensions import db
from webinar_mgr.invitations.models import Invitation

pytestmark = pytest.mark.e2e
AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()
SHOTS = os.environ.get("E2E_SCREENSHOTS")  # a folder to keep the screenshots in, to look at them


def _axe(page) -> list[str]:
    page.add_script_tag(content=AXE)
    return page.evaluate("""async () => (await axe.run(document, {resultTypes: ['violations']})).violations
        .map(v => `${v.impact} ${v.id}: ${v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', ')}`)""")


def _look(page, name: str, width: int) -> None:
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"), (name, width)
    assert _axe(page) == [], (name, width)
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/{name}-{width}.png", full_page=True)


@pytest.mark.parametrize("width", [1280, 390])
def test_organiser_previews_who_and_the_mail_before_anything_happens(app, live_server, browser, make_user, width):
    make_user("organiser", email="organiser@example.org", password="demo-password-1")
    people = invitation_directory()
    event = make_event_row(audience="invitation", title="Regional webinar on safe migration")
    context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
    page = context.new_page()
    page.goto(f"{live_server}/login")
    page.fill("#email", "organiser@example.org")
    page.fill("#password", "demo-password-1")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login" not in url)

    page.goto(f"{live_server}/events/{event.id}/invitations")
    page.select_option("#dir-sector", "member_government")
    page.get_by_role("button", name="See who will be added").click()
    expect(page.get_by_role("heading", name="Who will be added")).to_be_visible()
    expect(page.get_by_text("3 people in the directory match the filter.")).to_be_visible()
    _look(page, "directory-preview", width)
    page.get_by_role("checkbox", name="Add Niran K.").uncheck()
    page.get_by_role("button", name="Add the ticked people to the list").click()
    expect(page.get_by_text("2 people added to the list")).to_be_visible()
    db.session.expire_all()
    invited = set(db.session.scalars(sa.select(Contact.name).join(Invitation, Invitation.contact_id == Contact.id)))
    assert invited == {"Somchai P.", "Maria Santos"}
    assert people["th"].id  # the fixture's organisations exist

    page.get_by_role("link", name="Send to the rest (2 not sent yet)").click()
    expect(page.get_by_role("heading", name="The mail as Maria Santos will read it")).to_be_visible()
    expect(page.locator(".mail-preview")).to_contain_text("Dear Maria Santos,")
    _look(page, "send-preview", width)
    page.get_by_role("button", name="Send 2 invitations").click()
    expect(page.get_by_text("2 invitations are being sent")).to_be_visible()
    context.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_a_guest_asks_for_the_link_again(app, live_server, browser, width):
    soon = clock.now() + timedelta(days=10)  # the server runs on the real clock
    event = make_event_row(audience="open", capacity=3, starts_at=soon, ends_at=soon + timedelta(hours=2))
    context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
    page = context.new_page()
    page.goto(f"{live_server}/events/{event.id}/register")
    expect(page.get_by_text("3 seats left.")).to_be_visible()
    _look(page, "register", width)
    page.get_by_role("link", name="Already registered? Get the link to your registration again.").click()
    page.fill("#email", "someone@example.org")
    page.get_by_role("button", name="Send me my links").click()
    expect(page.get_by_text("If someone@example.org is registered for an event")).to_be_visible()
    _look(page, "lost-link", width)
    context.close()
