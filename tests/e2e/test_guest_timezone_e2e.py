"""A guest's first page is written in the server's default zone; the browser then tells its own
zone and the page is shown again in it, once. The registration form then proposes that zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from webinar_mgr.events.models import Event, EventKind
from webinar_mgr.extensions import db

pytestmark = pytest.mark.e2e


def test_guest_sees_times_in_the_browsers_zone_from_the_first_page(app, live_server, browser):
    kind = EventKind(code="webinar", label="Regional webinar")
    db.session.add(kind)
    db.session.flush()
    start = datetime(2030, 3, 5, 7, 0, tzinfo=UTC)  # 14:00 in Bangkok, 19:00 in Suva (UTC+12)
    event = Event(
        title="Open session on online scams",
        kind_id=kind.id,
        status="scheduled",
        timezone="Asia/Bangkok",
        starts_at=start,
        ends_at=start.replace(hour=9),
        audience="open",
    )
    db.session.add(event)
    db.session.commit()

    context = browser.new_context(timezone_id="Pacific/Fiji")
    page = context.new_page()
    loads = []
    page.on("load", lambda p: loads.append(p.url))
    page.goto(f"{live_server}/events/{event.id}/register", wait_until="commit")
    # (a selector wait: wait_for_function would poll with eval, which the page's CSP forbids)
    page.locator('html[data-zone="Pacific/Fiji"]').wait_for(state="attached")
    page.wait_for_load_state("load")
    assert page.locator("#timezone").input_value() == "Pacific/Fiji"  # proposed for the guest's emails
    assert "19:00" in page.locator("dl.meta").inner_text()
    assert "Times are shown in Pacific/Fiji" in page.locator("footer").inner_text()

    # The next pages come in the guest's zone straight away: no second rendering.
    before = len(loads)
    page.goto(f"{live_server}/events/{event.id}")
    assert page.locator("html").get_attribute("data-zone") == "Pacific/Fiji"
    assert "19:00" in page.locator("dl.meta").inner_text()
    assert len(loads) == before + 1
    context.close()
