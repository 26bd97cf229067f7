"""The work plan in a browser (issue 17): an organiser changes an action item's status with a note
and adds a dated progress note; a participant then reads /workplan on a phone (390 px) and sees
both; the public outputs page fits a phone too. axe-core finds no violation on these pages.

WORKPLAN_SCREENSHOTS=/some/dir keeps screenshots of the pages at 1280 and 390 px."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from webinar_mgr.cli import run_seed

pytestmark = pytest.mark.e2e
AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()
SHOTS = os.environ.get("WORKPLAN_SCREENSHOTS")


def _context(browser, live_server, role: str | None, width: int):
    context = browser.new_context(viewport={"width": width, "height": 900}, timezone_id="Asia/Bangkok", bypass_csp=True)
    page = context.new_page()
    if role:
        page.goto(f"{live_server}/login")
        page.fill("#email", f"{role}@example.org")
        page.fill("#password", "demo-password")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(lambda url: "/login" not in url)
    return context, page


def _axe(page) -> list[str]:
    page.add_script_tag(content=AXE)
    return page.evaluate("""async () => (await axe.run(document, {resultTypes: ['violations']})).violations
        .map(v => `${v.impact} ${v.id}: ${v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', ')}`)""")


def _fits(page) -> None:
    width, window = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= window, (page.url, width, window)


def _shot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def test_an_organiser_updates_an_action_item_and_a_participant_reads_it(app, live_server, browser):
    run_seed(lambda *args, **kwargs: None)

    context, page = _context(browser, live_server, "organiser", 1280)
    page.goto(f"{live_server}/workplan")
    item = page.locator("#item-11")
    assert "Not started" in item.locator("h3").inner_text()
    item.get_by_text("Update action item 11").click()
    item.get_by_label("Status of action item 11").select_option("in_progress")
    item.get_by_label("Progress note (optional)").fill("Co-Chairs circulated a proposal to review the membership.")
    item.get_by_role("button", name="Save status").click()
    page.wait_for_load_state()
    assert "Action item 11 is now “In progress”." in page.locator(".flash").first.inner_text()
    item = page.locator("#item-11")
    assert "In progress" in item.locator("h3").inner_text()

    item.get_by_text("Update action item 11").click()
    item.get_by_role("link", name="Add a dated progress note").click()
    page.get_by_label("Date").fill("2022-11-30")
    page.get_by_label("Progress note").fill("Members asked for the review's terms of reference by March.")
    page.get_by_role("button", name="Add the note").click()
    page.wait_for_url(lambda url: "/workplan/" in url and "/notes" not in url)
    assert "Members asked for the review's terms of reference" in page.locator("#item-11").inner_text()
    assert _axe(page) == []
    _shot(page, "workplan-organiser-1280")
    page.goto(f"{live_server}/events/new")
    assert page.get_by_label("Action item 8: Hold regional webinars", exact=False).count() == 1
    if SHOTS:
        page.locator("#action_item_ids-group").screenshot(path=str(Path(SHOTS) / "event-form-part-1280.png"))
    page.goto(f"{live_server}/outputs")
    page.get_by_role("link", name="Compendium of Good Practice", exact=False).first.click()
    assert page.get_by_role("button", name="Add the version").count() == 1
    assert _axe(page) == []
    _shot(page, "output-organiser-1280")
    context.close()

    context, page = _context(browser, live_server, "participant", 390)
    page.goto(f"{live_server}/workplan")
    text = page.locator("#item-11").inner_text()
    assert "In progress" in text
    assert "Co-Chairs circulated a proposal to review the membership." in text
    assert "Members asked for the review's terms of reference by March." in text
    assert page.get_by_role("button", name="Save status").count() == 0
    assert "Compendium of Good Practice" in page.locator("#item-5").inner_text()
    _fits(page)
    assert _axe(page) == []
    _shot(page, "workplan-participant-390")
    context.close()

    context, page = _context(browser, live_server, None, 390)
    page.goto(f"{live_server}/outputs")
    assert page.get_by_role("heading", name="Thai (ไทย)").count() == 1
    _fits(page)
    assert _axe(page) == []
    _shot(page, "outputs-guest-390")
    context.close()
