"""Browser journey: a co-chair opens the review, an event's review, and downloads the
activity report PDF. Charts must load as images under the page's strict CSP."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.review_dataset import build_dataset

pytestmark = pytest.mark.e2e


def test_cochair_reviews_and_downloads_the_activity_report(live_server, page, make_user, tmp_path):
    data = build_dataset()  # freezes the clock at 30 June 2026: the default period holds E1-E3
    make_user("cochair", email="cochair@example.org", timezone="Asia/Bangkok")
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)

    page.goto(f"{live_server}/login")
    page.fill("#email", "cochair@example.org")
    page.fill("#password", "correct-horse-battery")
    page.get_by_role("button", name="Sign in").click()

    page.get_by_role("link", name="Review", exact=True).click()
    assert page.get_by_role("heading", name="Co-chairs' review").is_visible()
    assert page.locator("#table-events").get_by_role("cell", name="Technology and trafficking").is_visible()
    page.wait_for_load_state("networkidle")
    charts = page.locator("figure.chart img")
    assert charts.count() == 4
    widths = charts.evaluate_all("imgs => imgs.map(i => i.complete && i.naturalWidth)")
    assert all(w and w > 100 for w in widths), widths

    page.get_by_role("link", name="Technology and trafficking").click()
    page.wait_for_url(f"**/review/events/{data['e1'].id}")
    assert page.get_by_role("heading", name="Technology and trafficking").is_visible()
    wg = page.locator("#table-working_group")
    assert wg.get_by_role("row", name="Viet Nam").get_by_text("Absent").is_visible()
    assert wg.get_by_role("row", name="Philippines").get_by_text("Present").is_visible()

    page.get_by_role("link", name="Co-chairs' review").click()
    with page.expect_download() as info:
        page.get_by_role("link", name="Download the activity report (PDF)").click()
    download = info.value
    assert download.suggested_filename == "activity-report-2025-07-01-2026-06-30.pdf"
    target = tmp_path / "report.pdf"
    download.save_as(target)
    assert Path(target).read_bytes()[:4] == b"%PDF"
    assert not [p for p in problems if "Content Security Policy" in p], problems
