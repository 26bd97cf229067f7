"""Browser journeys of the foundation: sign in and open the Directory; the phone menu by keyboard."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

PW = "correct-horse-battery"


def _sign_in(page, live_server, email):
    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PW)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login" not in url)


def test_organiser_signs_in_and_opens_the_directory(live_server, page, make_user):
    make_user("organiser", email="olivia@example.org", name="Olivia Organiser")
    page.set_viewport_size({"width": 1280, "height": 800})
    _sign_in(page, live_server, "olivia@example.org")
    assert page.get_by_text("Welcome, Olivia Organiser.").is_visible()

    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Directory").click()
    page.wait_for_url("**/directory/**")
    assert page.get_by_role("heading", level=1).inner_text() == "Directory"
    assert page.locator("main table").first.is_visible()
    assert page.get_by_role("link", name="Directory").get_attribute("aria-current") == "page"


def test_phone_menu_opens_and_closes_with_the_keyboard(live_server, page, make_user):
    make_user("organiser", email="phone@example.org", name="Pia Phone")
    page.set_viewport_size({"width": 390, "height": 844})
    _sign_in(page, live_server, "phone@example.org")

    toggle = page.get_by_role("button", name="Menu")
    nav = page.locator("#site-nav")
    assert toggle.is_visible() and not nav.is_visible()
    assert toggle.get_attribute("aria-expanded") == "false"

    # Tab from the top: skip link, site name, then the menu button
    page.locator("body").focus()
    for _ in range(3):
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.classList.contains('nav-toggle')")
    page.keyboard.press("Enter")
    assert nav.is_visible()
    assert toggle.get_attribute("aria-expanded") == "true"
    assert page.evaluate("document.activeElement.closest('#site-nav') !== null")  # focus moved into the menu

    page.keyboard.press("Escape")
    assert not nav.is_visible()
    assert toggle.get_attribute("aria-expanded") == "false"
    assert page.evaluate("document.activeElement.classList.contains('nav-toggle')")

    page.keyboard.press("Space")
    assert nav.is_visible()
    page.get_by_role("link", name="Pia Phone").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/profile")
    assert page.get_by_role("heading", name="Your profile").is_visible()
