"""Browser journey (issue 17): a co-chair opens the statement drafted for a period, edits a section,
saves a version, downloads the PDF and the DOCX; pdftotext and python-docx find the edited text and
the figures. Screenshots at 1280 and 390 px go to the test's temporary folder."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
from docx import Document

from tests.review_dataset import build_dataset

pytestmark = pytest.mark.e2e

EDIT = "The Co-Chairs thank Thailand for hosting. <script>alert(1)</script>"
AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()


def axe_violations(browser, live_server, url: str, width: int) -> list[str]:
    """axe-core on a page signed in as the co-chair, in a context that lets the inline script in."""
    context = browser.new_context(bypass_csp=True, timezone_id="Asia/Bangkok", viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(f"{live_server}/login")
    page.fill("#email", "cochair@example.org")
    page.fill("#password", "correct-horse-battery")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda u: "/login" not in u)
    page.goto(url)
    page.add_script_tag(content=AXE)
    found = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => `${v.impact} ${v.id}: ${v.help} `
            + `(${v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', ')})`);
    }""")
    wide = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
    context.close()
    return found + (["the page scrolls sideways"] if wide else [])


def test_cochair_edits_saves_and_downloads_the_statement(live_server, page, browser, make_user, tmp_path):
    build_dataset()  # clock frozen at 30 June 2026; E1-E3 held in the first half of 2026
    make_user("cochair", email="cochair@example.org", name="Co-Chair Ana", timezone="Asia/Bangkok")
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("dialog", lambda d: problems.append("dialog: " + d.message))

    page.goto(f"{live_server}/login")
    page.fill("#email", "cochair@example.org")
    page.fill("#password", "correct-horse-battery")
    page.get_by_role("button", name="Sign in").click()

    page.goto(f"{live_server}/review?from=2026-01-01&to=2026-06-30")
    page.get_by_role("link", name="Co-chairs' statement for this period").click()
    page.wait_for_url("**/review/statement?from=2026-01-01&to=2026-06-30")
    assert page.get_by_role("heading", name="Co-chairs' statement", exact=True).is_visible()
    events = page.get_by_label("Text of “Meetings and regional webinars held”")
    assert "2 Working Group members and 1 representative of the private sector" in events.input_value()

    recommendations = page.get_by_label("Text of “Recommendations for programs and activities”")
    recommendations.fill(EDIT)
    page.get_by_role("button", name="Save a new version").click()
    assert page.get_by_text("Version 1 of the statement saved.").is_visible()
    assert page.locator("#statement-version").get_by_text("Version 1, saved by Co-Chair Ana").is_visible()
    assert recommendations.input_value() == EDIT
    page.set_viewport_size({"width": 1280, "height": 900})
    page.screenshot(path=str(tmp_path / "statement-1280.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(tmp_path / "statement-390.png"), full_page=True)
    overflow = page.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1")
    assert not overflow, "the statement page scrolls sideways at 390 px"
    page.set_viewport_size({"width": 1280, "height": 900})

    with page.expect_download() as info:
        page.locator("#download-pdf").click()
    pdf = tmp_path / "statement.pdf"
    info.value.save_as(pdf)
    assert info.value.suggested_filename == "statement-2026-01-01-2026-06-30.pdf"
    text = " ".join(
        subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout.split()
    )
    assert EDIT in text
    assert "2 Working Group members and 1 representative of the private sector" in text
    assert "In all, 3 people attended of 5 registered." in text

    with page.expect_download() as info:
        page.locator("#download-docx").click()
    docx = tmp_path / "statement.docx"
    info.value.save_as(docx)
    doc = Document(io.BytesIO(Path(docx).read_bytes()))
    body = "\n".join(p.text for p in doc.paragraphs)
    assert EDIT in body
    assert "2 Working Group members and 1 other Bali Process member" in body
    assert not problems, problems

    # the statement (with a saved version) and the membership review pass axe at both widths
    for width in (1280, 390):
        for url in (
            "/review/statement?from=2026-01-01&to=2026-06-30",
            "/review/membership?from=2026-01-01&to=2026-06-30",
        ):
            assert not axe_violations(browser, live_server, live_server + url, width), (url, width)
    page.goto(f"{live_server}/review/membership?from=2026-01-01&to=2026-06-30")
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(tmp_path / "membership-390.png"), full_page=True)
