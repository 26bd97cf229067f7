"""Browser journey: an organiser creates an event with an agenda and downloads the PDF and .ics."""

from __future__ import annotations

import subprocess

import icalendar
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_organiser_creates_event_with_agenda_and_downloads(live_server, page, make_user, tmp_path):
    make_user("organiser", email="org@example.org", timezone="Asia/Bangkok")
    page.goto(f"{live_server}/login")
    page.fill("#email", "org@example.org")
    page.fill("#password", "correct-horse-battery")
    page.get_by_role("button", name="Sign in").click()

    page.goto(f"{live_server}/events")
    page.get_by_role("link", name="New event").click()
    page.fill("#title", "Regional webinar on online recruitment")
    page.select_option("#kind_id", label="Regional webinar")
    page.fill("#objectives", "Understand online recruitment\nAgree next steps")
    page.select_option("#timezone", "Asia/Jakarta")
    page.fill("#starts_local", "2027-03-10T13:00")
    page.fill("#ends_local", "2027-03-10T15:00")
    page.fill("#online_url", "https://meet.example.org/room-42")
    page.select_option("#pdf_zone_1", "Australia/Sydney")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**/events/*")
    expect(page.get_by_role("heading", name="Regional webinar on online recruitment")).to_be_visible()

    # a bad agenda item first: outside the event
    page.get_by_role("link", name="Add agenda item").click()
    page.fill("#title", "Too late")
    page.fill("#starts_local", "2027-03-10T14:50")
    page.fill("#duration_minutes", "30")
    page.get_by_role("button", name="Save item").click()
    expect(page.locator("#starts_local-error")).to_contain_text("The item must be within the event")
    page.fill("#title", "Opening remarks by the Co-Chairs")
    page.fill("#starts_local", "2027-03-10T13:00")
    page.fill("#duration_minutes", "15")
    page.get_by_role("button", name="Save item").click()
    page.wait_for_url("**/events/*#agenda")
    expect(page.get_by_role("cell", name="Opening remarks by the Co-Chairs").first).to_be_visible()

    page.get_by_role("button", name="Publish", exact=True).click()
    expect(page.get_by_text("The event is now “Scheduled”.")).to_be_visible()

    with page.expect_download() as dl:
        page.get_by_role("link", name="Agenda (PDF)").click()
    pdf_path = tmp_path / "agenda.pdf"
    dl.value.save_as(pdf_path)
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf_path), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Opening remarks by the Co-Chairs" in text
    assert "13:00–13:15" in text and "17:00–17:15" in text  # Jakarta and Sydney (UTC+11)
    assert "meet.example.org/room-42" in text  # the organiser's copy has the link

    with page.expect_download() as dl:
        page.get_by_role("link", name="Add to calendar (.ics)").click()
    ics_path = tmp_path / "event.ics"
    dl.value.save_as(ics_path)
    cal = icalendar.Calendar.from_ical(ics_path.read_bytes())
    (vevent,) = cal.walk("VEVENT")
    assert str(vevent["SUMMARY"]) == "Regional webinar on online recruitment"
    assert vevent["DTSTART"].params["TZID"] == "Asia/Jakarta"
    assert str(vevent["STATUS"]) == "CONFIRMED"
