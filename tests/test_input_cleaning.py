"""Issue 12, finding 6: control characters typed or pasted into titles and names are cleaned on
the way in, so a carriage return in an event title no longer makes every mail of the event fail."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.factories import NOW, event_input, make_event, make_event_row, registrant_data
from webinar_mgr import clock, text
from webinar_mgr.events import agenda, services
from webinar_mgr.events.times import utc_to_local
from webinar_mgr.extensions import db
from webinar_mgr.mail import services as mail
from webinar_mgr.registrations import services as registrations


@pytest.mark.parametrize(
    ("raw", "line"),
    [
        ("Webinar\ron technology", "Webinar on technology"),
        ("  Webinar\r\n on\ttechnology\x00 ", "Webinar on technology"),
        ("Trafficking\u2028in persons\x85", "Trafficking in persons"),
        ("สัมมนา\x1b[31m", "สัมมนา [31m"),
        (None, ""),
    ],
)
def test_single_line(raw, line):
    assert text.single_line(raw) == line
    assert not text.has_controls(text.single_line(raw))


def test_multi_line_keeps_line_breaks_only():
    assert text.multi_line("First line\r\nSecond\rThird\x00\x07 end\n") == "First line\nSecond\nThird end"


def test_event_title_with_a_carriage_return_is_stored_clean_and_its_mails_go_out(app, organiser, mailbox):
    event = make_event(
        organiser,
        title="Regional webinar\r\nBcc: everyone@example.org",
        summary="Line one\r\nLine two\x00",
        objectives=["Understand\rthe risks", "  "],
    )
    assert event.title == "Regional webinar Bcc: everyone@example.org"
    assert event.summary == "Line one\nLine two" and event.objectives == ["Understand the risks"]
    local = utc_to_local(event.starts_at, event.timezone)
    item = agenda.add_item(
        event,
        agenda.AgendaInput(title="Opening\rremarks", starts_local=local, duration_minutes=10, description="A\r\nB"),
        actor=organiser,
    )
    assert item.title == "Opening remarks" and item.description == "A\nB"
    services.change_status(event, "scheduled", actor=organiser)
    clock.freeze(NOW)
    try:
        reg = registrations.register(event.id, registrant_data("Ana\rCruz\x00", "ana.cruz@example.org"))
    finally:
        clock.unfreeze()
    assert reg.name == "Ana Cruz"
    assert mail.deliver_due()["sent"] == 1  # the confirmation, written by the worker with the title then
    # a new time (so registrants are told) and a title with a carriage return
    later = {"starts_local": datetime(2027, 3, 10, 15, 0), "ends_local": datetime(2027, 3, 10, 17, 0)}
    services.update_event(event, event_input(title="New\rtitle", **later), actor=organiser)
    assert mail.deliver_due()["sent"] >= 1
    subjects = [str(m["Subject"]) for m in mailbox.to("ana.cruz@example.org")]
    assert "Registration confirmed: Regional webinar Bcc: everyone@example.org" in subjects
    assert "Updated: New title" in subjects
    assert all("\r" not in s and "\n" not in s for s in subjects)


def test_a_row_made_elsewhere_with_a_control_character_still_mails(app, mailbox):
    """Data written before this change (or by another path) does not stop the outbox either."""
    event = make_event_row(title="Old\rtitle")
    db.session.commit()
    clock.freeze(NOW)
    try:
        registrations.register(event.id, registrant_data("Ben Ho", "ben@example.org"))
    finally:
        clock.unfreeze()
    assert mail.deliver_due()["sent"] == 1
    assert mailbox.to("ben@example.org")
