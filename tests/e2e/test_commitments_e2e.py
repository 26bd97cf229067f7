"""A signed-in participant registers, pledges a commitment straight after, and months later
reports delivery with a link from "My commitments". Real browser, real server thread."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from webinar_mgr import clock
from webinar_mgr.commitments.models import Commitment
from webinar_mgr.events.models import Event, EventKind
from webinar_mgr.extensions import db


@pytest.mark.e2e
def test_participant_pledges_after_registering_and_reports_delivery(app, live_server, page, make_user):
    start_now = clock.now().replace(microsecond=0)
    clock.freeze(start_now)
    kind = EventKind(code="webinar", label="Regional webinar")
    db.session.add(kind)
    db.session.flush()
    start = start_now + timedelta(days=7)
    event = Event(
        title="Regional Webinar: Safe migration online",
        kind_id=kind.id,
        status="scheduled",
        timezone="Asia/Bangkok",
        starts_at=start,
        ends_at=start + timedelta(hours=2),
        audience="open",
        capacity=50,
        online_url="https://meet.example.org/j/7",
    )
    db.session.add(event)
    db.session.commit()
    user = make_user("participant", email="nita@example.org", name="Nita Sari", timezone="Asia/Jakarta")

    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill("nita@example.org")
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_server}/events/{event.id}")
    page.locator("main").get_by_role("link", name="Register").click()
    # her profile names no organisation: the form asks for it (issue 11), she types a new one
    page.get_by_text("My organisation is not in the list").click()
    page.get_by_label("Its name").fill("Universitas Indonesia")
    page.get_by_label("Its sector").select_option("civil_society")
    page.get_by_label("I would like to pledge a voluntary commitment").check()
    page.get_by_role("button", name="Register").click()
    page.wait_for_url(re.compile(r".*/commitments/pledge/.*"))

    page.get_by_label("Campaign").check()
    page.get_by_label("Facebook").check()
    page.get_by_label("Instagram").check()
    page.get_by_label("Language(s)").fill("Bahasa Indonesia, English")
    page.get_by_label("Audience").fill("Students")
    page.get_by_label("What will you do?").fill("An Instagram and Facebook campaign for students on safe migration")
    page.get_by_role("button", name="Pledge", exact=True).click()
    page.wait_for_url(re.compile(r".*/commitments/u/.*"))
    assert "Thank you: your commitment is recorded" in page.locator("main").inner_text()

    # Three months later, from "My commitments".
    clock.freeze(start_now + timedelta(days=90))
    # sessions end after hours, not months (issue 12): she signs in again
    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill("nita@example.org")
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_server}/events/{event.id}")
    page.get_by_role("link", name="My commitments").click()
    page.get_by_role("link", name=re.compile("An Instagram and Facebook campaign")).click()
    page.get_by_label("Delivered: report the links").check()
    page.get_by_label("Links to the post or campaign").fill("javascript:alert(1)")
    page.get_by_role("button", name="Save the update").click()
    assert "Only web links (http:// or https://) are accepted." in page.locator("main").inner_text()

    page.get_by_label("Delivered: report the links").check()
    page.get_by_label("Links to the post or campaign").fill("https://www.instagram.com/p/wg-safe-migration")
    page.get_by_label("Views").fill("2500")
    page.get_by_label("Note", exact=True).fill("Ran for a week with the student union")
    page.get_by_role("button", name="Save the update").click()
    main = page.locator("main").inner_text()
    assert "the commitment is updated (Delivered)" in main
    assert page.get_by_role("link", name="https://www.instagram.com/p/wg-safe-migration").is_visible()

    db.session.expire_all()
    c = db.session.scalar(sa.select(Commitment))
    assert c.status == "delivered" and c.contact.email == "nita@example.org"
    assert c.platforms == ["facebook", "instagram"] and c.languages == ["Bahasa Indonesia", "English"]
    assert [e.url for e in c.evidence] == ["https://www.instagram.com/p/wg-safe-migration"]
    assert c.evidence[0].views == 2500 and c.delivered_at == start_now + timedelta(days=90)
    assert user.id is not None
