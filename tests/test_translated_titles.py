"""An event's translated title reaches the reader's own pages too (issue 13): the events list,
the registration form, the manage page and My registrations, in the reader's language where an
organiser translated it, in English otherwise."""

from __future__ import annotations

from tests.factories import NOW, make_event_row
from webinar_mgr import clock
from webinar_mgr.events.models import EventTranslation
from webinar_mgr.extensions import db

THAI_TITLE = "การสัมมนาออนไลน์ระดับภูมิภาคว่าด้วยการย้ายถิ่นที่ปลอดภัย"


def test_the_readers_pages_show_the_translated_title(app, client):
    clock.freeze(NOW)
    try:
        event = make_event_row(title="Regional webinar on safe migration", capacity=10)
        db.session.add(EventTranslation(event_id=event.id, language="th", title=THAI_TITLE, summary="", objectives=[]))
        db.session.commit()
        thai = {"Accept-Language": "th"}
        assert THAI_TITLE in client.get("/events?when=all", headers=thai).get_data(as_text=True)
        form = client.get(f"/events/{event.id}/register", headers=thai).get_data(as_text=True)
        assert THAI_TITLE in form and "Regional webinar on safe migration" not in form
        english = client.get(f"/events/{event.id}/register", headers={"Accept-Language": "en"}).get_data(as_text=True)
        assert "Regional webinar on safe migration" in english and THAI_TITLE not in english
    finally:
        clock.unfreeze()
