"""In Chromium, an organiser writes to the confirmed registrants of one member government: sees
who will receive it and the mail as the first of them reads it, sends, finds it in the history;
then adapts the confirmation mail's wording and previews it as a named registrant. At 1280 and
390 px, with axe (issue 15)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.factories import make_event_row, register
from webinar_mgr import clock
from webinar_mgr.directory.models import Organisation
from webinar_mgr.extensions import db
from webinar_mgr.mail.models import OutboxMessage

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
def test_organiser_sends_a_filtered_message_after_its_preview(app, live_server, browser, make_user, width):
    make_user("organiser", email="organiser@example.org", password="demo-password-1")
    soon = clock.now() + timedelta(days=10)  # the server runs on the real clock
    event = make_event_row(
        title="Regional webinar on safe migration", starts_at=soon, ends_at=soon + timedelta(hours=2)
    )
    thailand = Organisation(name="Thailand", sector="member_government")
    fiji = Organisation(name="Fiji", sector="member_government")
    db.session.add_all([thailand, fiji])
    db.session.commit()
    register(event, "somchai@example.org", "Somchai P.", member=thailand, sector="member_government")
    register(event, "mere@example.org", "Mere T.", member=fiji, sector="member_government")
    register(event, "niran@example.org", "Niran K.", member=thailand, status="waitlisted")
    context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
    page = context.new_page()
    page.goto(f"{live_server}/login")
    page.fill("#email", "organiser@example.org")
    page.fill("#password", "demo-password-1")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login" not in url)

    page.goto(f"{live_server}/events/{event.id}")
    page.get_by_role("link", name="Messages", exact=True).click()
    expect(page.get_by_role("heading", name="Write a message")).to_be_visible()
    _look(page, "messages", width)
    page.select_option("#audience", "confirmed")
    page.select_option("#member_government_id", label="Thailand")
    page.fill("#subject", "Before {event}")
    page.fill("#body", "Dear {name},\n\nPlease read the agenda before {when}. {{ 7*7 }}")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("heading", name="1 recipient")).to_be_visible()
    expect(page.locator("[data-recipients]")).to_contain_text("somchai@example.org")
    expect(page.locator("[data-recipients]")).not_to_contain_text("niran@example.org")
    expect(page.get_by_role("heading", name="The mail as Somchai P. will read it")).to_be_visible()
    expect(page.locator("[data-preview-body]")).to_contain_text("Dear Somchai P.,")
    expect(page.locator("[data-preview-body]")).to_contain_text("{{ 7*7 }}")
    expect(page.locator("[data-preview-subject]")).to_have_text("Before Regional webinar on safe migration")
    _look(page, "messages-preview", width)
    page.get_by_role("button", name="Send to 1 person").click()
    expect(page.get_by_text("The message is on its way to 1 person.")).to_be_visible()
    expect(page.locator("#history")).to_contain_text("Before {event}")
    expect(page.locator("#history")).to_contain_text("Confirmed registrants · Thailand")
    db.session.expire_all()
    sent = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.category == "event-message")).all()
    assert [m.to_addr for m in sent] == ["somchai@example.org"]
    _look(page, "messages-history", width)

    page.get_by_role("link", name="Adapt the wording of the automatic mails").click()
    page.fill("#confirmation-subject", "Welcome: {event}")
    page.fill("#confirmation-body", "Dear {name}, your seat is kept. {nmae}")
    page.locator("#confirmation").get_by_role("button", name="Save").click()
    expect(page.locator("#confirmation-body-error")).to_contain_text("There is no placeholder {nmae}")
    _look(page, "mail-texts-error", width)
    page.fill("#confirmation-body", "Dear {name}, your seat is kept.")
    page.select_option("#confirmation-recipient", label="Mere T. (registered)")
    page.locator("#confirmation").get_by_role("button", name="Preview").click()
    expect(page.locator("[data-preview-body]")).to_contain_text("Dear Mere T., your seat is kept.")
    _look(page, "mail-texts-preview", width)
    page.locator("#confirmation").get_by_role("button", name="Save").click()
    expect(page.locator("#confirmation-h")).to_contain_text("adapted")
    context.close()
