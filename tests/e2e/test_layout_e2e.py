"""At a phone's width (390 px) the pages people use on the move fit the screen: the event page
(When, Online, priorities), registration, My registrations, My commitments, the attendance page with
rows to resolve, the co-chairs' review and the outbox. Nothing makes the page scroll sideways, every
element ends inside the window unless it sits in a scroll region the keyboard can reach, and the
state, date and action of each row are on screen (issue 16)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from webinar_mgr.attendance.models import AttendanceRecord
from webinar_mgr.cli import run_seed
from webinar_mgr.events.models import Event
from webinar_mgr.extensions import db
from webinar_mgr.mail import services as mail
from webinar_mgr.persistence import unit_of_work

pytestmark = pytest.mark.e2e
WIDTH = 390
AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()

# Elements whose right edge passes the window, outside a focusable scroll region and outside
# anything visually hidden (a card table's header row is clipped to 1 px).
WIDE = """() => {
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
    return out;
}"""


def _setup() -> dict:
    run_seed(lambda *args, **kwargs: None)
    held = db.session.scalar(sa.select(Event).where(Event.status == "held").order_by(Event.starts_at.desc()))
    upcoming = db.session.scalar(sa.select(Event).where(Event.status == "scheduled").order_by(Event.starts_at))
    upcoming.priority_tags = [
        "Victim identification and protection",
        "Technology-facilitated trafficking in persons",
        "Criminal justice cooperation across borders",
    ]
    # Two people in a report that match no registration: the rows to resolve, with long names.
    for n in range(2):
        db.session.add(
            AttendanceRecord(
                event_id=held.id,
                name=f"Phone caller from the Ministry of Foreign Affairs and International Cooperation {n}",
                email=f"director.general.consular.affairs.{n}@ministry-of-foreign-affairs.example.gov.kh",
                country="Cambodia",
                minutes=35,
                session_count=1,
            )
        )
    db.session.commit()
    with unit_of_work():
        mail.queue(
            "very.long.address.of.a.national.focal.point@ministry-of-social-development.example.gov.pg",
            "Invitation: Regional Webinar: Supporting victims through the justice process",
            body_text="Hello",
            to_name="Somchai Wongsawat-Prasertsuk",
            category="invitation",
        )
    return {"held": held.id, "upcoming": upcoming.id}


def _signed_in(browser, live_server, role: str | None):
    context = browser.new_context(  # axe is injected inline
        viewport={"width": WIDTH, "height": 844}, timezone_id="Asia/Bangkok", bypass_csp=True
    )
    page = context.new_page()
    if role:
        page.goto(f"{live_server}/login")
        page.fill("#email", f"{role}@example.org")
        page.fill("#password", "demo-password")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(lambda url: "/login" not in url)
    return context, page


def _fits(page, path: str) -> None:
    size = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert size[0] <= size[1], (path, size)
    assert page.evaluate(WIDE) == [], path


def _axe(page) -> list[str]:
    page.add_script_tag(content=AXE)
    return page.evaluate("""async () => (await axe.run(document, {resultTypes: ['violations']})).violations
        .map(v => `${v.impact} ${v.id}: ${v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', ')}`)""")


def _on_screen(locator) -> bool:
    box = locator.bounding_box()
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= WIDTH + 0.5


def test_pages_fit_a_phone(app, live_server, browser):
    ids = _setup()
    up, held = ids["upcoming"], ids["held"]

    context, page = _signed_in(browser, live_server, None)
    for path in ("/events", f"/events/{up}", f"/events/{up}/register"):
        assert page.goto(f"{live_server}{path}").status == 200, path
        _fits(page, path)
    context.close()

    context, page = _signed_in(browser, live_server, "participant")
    page.goto(f"{live_server}/events/{up}")
    _fits(page, "event page")
    for term in ("When", "Online", "Other themes"):
        value = page.locator(f"dl.meta dt:text-is('{term}') + dd")
        assert _on_screen(value), term
    page.goto(f"{live_server}/registrations/mine")
    _fits(page, "my registrations")
    first = page.locator("table.stack tbody tr").first
    assert _on_screen(first.locator("td[data-label='Status'] .badge"))
    assert _on_screen(first.get_by_role("link", name="Manage my registration"))
    page.goto(f"{live_server}/commitments/mine")
    _fits(page, "my commitments")
    row = page.locator("table.stack tbody tr").first
    assert _on_screen(row.locator("td[data-label='State'] .badge"))
    assert _on_screen(row.locator("td[data-label='Target date']"))
    context.close()

    context, page = _signed_in(browser, live_server, "organiser")
    page.goto(f"{live_server}/events/{held}/attendance")
    _fits(page, "attendance")
    rows = page.locator("h2#unmatched + p + .table-wrap tbody tr")
    assert rows.count() == 2
    for n in range(2):
        assert _on_screen(rows.nth(n).get_by_role("button", name="Link"))
        assert _on_screen(rows.nth(n).get_by_role("button", name="Ignore"))
        assert _on_screen(rows.nth(n).get_by_role("link", name="Add as walk-in"))
    assert _axe(page) == []
    for path in ("/admin/outbox/", f"/events/{up}/registrations", f"/events/{up}/invitations", "/audit/"):
        page.goto(f"{live_server}{path}")
        _fits(page, path)
    context.close()

    context, page = _signed_in(browser, live_server, "cochair")
    for path in ("/review", f"/review/events/{held}"):
        page.goto(f"{live_server}{path}")
        _fits(page, path)
        regions = page.locator(".scroll-region")
        assert regions.count() >= 2
        for n in range(regions.count()):
            region = regions.nth(n)
            assert region.get_attribute("tabindex") == "0"
            assert region.get_attribute("role") == "region"
            assert region.get_attribute("aria-label").startswith("Table: ")
    # The member government x event grid keeps its columns and scrolls: the keyboard reaches it.
    page.goto(f"{live_server}/review")
    grid = page.locator(".scroll-region:has(table.grid)")
    grid.focus()
    assert page.evaluate("document.activeElement.classList.contains('scroll-region')")
    context.close()
