"""The interactive API reference works in Chromium under the app's strict CSP (no inline script,
no CDN): Swagger UI renders the served description and reports no CSP violation."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def test_reference_page_renders_under_csp(live_server, page):
    violations, errors = [], []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{live_server}/api/")
    page.wait_for_selector(".swagger-ui .opblock", timeout=20000)
    text = page.inner_text("#swagger-ui")
    assert "/api/v1/events" in text and "webinar_mgr API" in text
    page.locator(".opblock-summary", has_text="List events").first.click()
    page.wait_for_selector(".opblock-body", timeout=5000)  # the operation opens (script runs)
    assert violations == [] and errors == []
