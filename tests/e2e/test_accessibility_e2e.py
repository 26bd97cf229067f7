"""Every main page, as each role sees it with the demo data, passes axe-core's checks (WCAG 2.x
A/AA rules plus best practices: labels, contrast, landmarks, headings, table headers, ARIA) in
Chromium, at 1280 and at 390 px (a phone), where nothing may stick out to the right either.
axe-core is vendored in tests/e2e/vendor/ (MPL-2.0)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from webinar_mgr.cli import run_seed
from webinar_mgr.events.models import Event
from webinar_mgr.extensions import db

pytestmark = pytest.mark.e2e
AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()


def _pages() -> dict[str, list[str]]:
    held = db.session.scalar(sa.select(Event.id).where(Event.status == "held").order_by(Event.starts_at.desc()))
    upcoming = db.session.scalar(sa.select(Event.id).where(Event.status == "scheduled").order_by(Event.starts_at))
    return {
        "anonymous": [
            "/",
            "/events",
            f"/events/{upcoming}",
            f"/events/{upcoming}/register",
            "/login",
            "/commitments/public",
        ],
        "participant": [
            f"/events/{upcoming}",
            f"/events/{upcoming}/commitments/new",
            "/registrations/mine",
            "/commitments/mine",
            "/profile",
        ],
        "organiser": [
            f"/events/{upcoming}",
            f"/events/{upcoming}/edit",
            "/events/new",
            f"/events/{upcoming}/registrations",
            f"/events/{upcoming}/invitations",
            f"/events/{held}/attendance",
            f"/events/{upcoming}/attendance/checkin",
            "/commitments",
            "/directory/",
            "/directory/organisations",
            "/directory/import",
            "/audit/",
            "/admin/outbox/",
        ],
        "cochair": ["/review", f"/review/events/{held}"],
        "admin": ["/admin/users", "/events/settings"],
    }


def _violations(page) -> list[str]:
    page.add_script_tag(content=AXE)
    found = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => `${v.impact} ${v.id}: ${v.help} `
            + `(${v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', ')})`);
    }""")
    return found


# Nothing sticks out to the right at a phone's width: the page does not scroll sideways and no
# element is wider than the window, except inside a scroll region the keyboard can reach
# (tabindex=0) or inside something visually hidden (clipped, like a card table's header row).
OVERFLOW = """() => {
    const vw = window.innerWidth, out = [];
    const hidden = el => { for (let q = el; q; q = q.parentElement) { const c = getComputedStyle(q).clip;
        if (c && c !== 'auto') return true; } return false; };
    const scrolls = el => { for (let q = el.parentElement; q; q = q.parentElement) { const s = getComputedStyle(q);
        if ((s.overflowX === 'auto' || s.overflowX === 'scroll') && q.getAttribute('tabindex') === '0') return true; }
        return false; };
    for (const el of document.querySelectorAll('body *')) {
        const r = el.getBoundingClientRect();
        if (r.width && r.right > vw + 0.5 && !hidden(el) && !scrolls(el)) {
            out.push(`${el.tagName.toLowerCase()}.${el.className} ${Math.round(r.left)}-${Math.round(r.right)}`);
        }
    }
    return {scrollWidth: document.documentElement.scrollWidth, innerWidth: vw, wide: out.slice(0, 5)};
}"""


def _overflow(page) -> list[str]:
    found = page.evaluate(OVERFLOW)
    problems = list(found["wide"])
    if found["scrollWidth"] > found["innerWidth"]:
        problems.insert(0, f"page {found['scrollWidth']} px wide in a {found['innerWidth']} px window")
    return problems


@pytest.mark.parametrize("width", [1280, 390])
def test_main_pages_pass_axe_for_every_role(app, live_server, browser, width):
    run_seed(lambda *args, **kwargs: None)
    problems = {}
    for role, paths in _pages().items():
        context = browser.new_context(  # axe is injected inline
            bypass_csp=True, timezone_id="Asia/Bangkok", viewport={"width": width, "height": 900}
        )
        page = context.new_page()
        if role != "anonymous":
            page.goto(f"{live_server}/login")
            page.fill("#email", f"{role}@example.org")
            page.fill("#password", "demo-password")
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(lambda url: "/login" not in url)
        for path in paths:
            response = page.goto(f"{live_server}{path}")
            assert response.status == 200, (role, path, response.status)
            found = _violations(page)
            if width < 600:
                found += _overflow(page)
            if found:
                problems[f"{role} {path}"] = found
        context.close()
    assert not problems, problems
