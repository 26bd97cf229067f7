"""A guest opens the invitation link from a captured email, registers, then cancels through
the "manage my registration" link of the confirmation email. Real SMTP, real browser."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from webinar_mgr import clock
from webinar_mgr.directory.models import Contact
from webinar_mgr.events.models import Event, EventKind
from webinar_mgr.extensions import db
from webinar_mgr.invitations import services as invitations
from webinar_mgr.invitations.models import Invitation
from webinar_mgr.mail import services as mail
from webinar_mgr.registrations.models import Registration


def _link(msg, pattern: str) -> str:
    body = msg.get_body(("plain",)).get_content()
    return re.search(pattern, body).group(0)


@pytest.mark.e2e
def test_guest_registers_from_invitation_email_and_cancels(app, live_server, mailbox, page):
    kind = EventKind(code="webinar", label="Regional webinar")
    db.session.add(kind)
    db.session.flush()
    start = clock.now().replace(microsecond=0) + timedelta(days=14)
    event = Event(
        title="Regional Webinar: Victim identification at borders",
        kind_id=kind.id,
        status="scheduled",
        timezone="Asia/Bangkok",
        starts_at=start,
        ends_at=start + timedelta(hours=2),
        audience="invitation",
        capacity=30,
        online_url="https://meet.example.org/j/42",
    )
    contact = Contact(name="Lina Ho", email="lina.ho@example.com", timezone="Asia/Singapore")
    db.session.add_all([event, contact])
    db.session.flush()
    inv = Invitation(event_id=event.id, contact_id=contact.id, category="civil_society")
    db.session.add(inv)
    db.session.commit()
    invitations.request_send(event.id, actor=None, rest=True)
    invitations.send_requested()
    assert mail.deliver_due()["sent"] == 1

    link = _link(mailbox.to("lina.ho@example.com")[0], r"http://127\.0\.0\.1:\d+/i/\S+")
    page.goto(link)
    assert page.get_by_label("Full name").input_value() == "Lina Ho"
    assert page.locator("#email").input_value() == "lina.ho@example.com"
    # the directory knows no organisation for her: she gives it (issue 11)
    page.get_by_text("My organisation is not in the list").click()
    page.get_by_label("Its name").fill("Migrant Care Network")
    page.get_by_label("Its sector").select_option("civil_society")
    page.get_by_label("Its country").select_option("SG")
    page.get_by_label("Position").fill("Case manager")
    page.get_by_label("Accessibility needs").fill("Live captions, please")
    page.get_by_label("I agree that my details").check()
    page.get_by_role("button", name="Register").click()
    page.wait_for_url(re.compile(r".*/registrations/manage/.*"))
    assert "Confirmed" in page.locator("main").inner_text()

    mail.deliver_due()
    confirmation = [m for m in mailbox.to("lina.ho@example.com") if "confirmed" in m["Subject"].lower()][0]
    manage = _link(confirmation, r"http://127\.0\.0\.1:\d+/registrations/manage/\S+")
    page.goto(manage)
    page.get_by_role("link", name="Cancel my registration").click()  # asks first (issue 16)
    page.wait_for_url(re.compile(r".*/registrations/manage/.*/cancel$"))
    expect(page.get_by_role("heading", name="Cancel my registration?")).to_be_visible()
    page.get_by_role("button", name="Yes, cancel my registration").click()
    page.wait_for_url(re.compile(r".*/registrations/manage/[^/]*$"))
    assert "Cancelled" in page.locator("main").inner_text()

    db.session.expire_all()
    reg = db.session.scalar(sa.select(Registration).where(Registration.email == "lina.ho@example.com"))
    assert reg.status == "cancelled" and reg.accessibility_needs == "Live captions, please"
    # she is counted under the organisation she gave, with its sector
    assert reg.organisation.name == "Migrant Care Network" and reg.sector == "civil_society"
    assert reg.contact.organisation_id == reg.organisation_id
    # the invitation follows the registration (issue 11: it used to stay "registered")
    assert db.session.get(Invitation, inv.id).state == "cancelled"
    mail.deliver_due()
    cancel_mail = [m for m in mailbox.to("lina.ho@example.com") if "cancelled" in m["Subject"].lower()][0]
    ics = [p for p in cancel_mail.walk() if p.get_content_type() == "text/calendar"][0]
    assert "METHOD:CANCEL" in ics.get_content()
