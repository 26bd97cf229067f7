"""The event page leads organisers to every page about that event; others do not see those links."""

from tests.factories import make_event
from webinar_mgr.events import services


def test_organiser_sees_event_pages_participant_does_not(app, client, make_user, login):
    organiser = make_user("organiser")
    event = make_event(organiser, title="Links webinar")
    services.change_status(event, "scheduled", actor=organiser)
    login(organiser)
    html = client.get(f"/events/{event.id}").get_data(as_text=True)
    for path in ("invitations", "registrations", "attendance", "attendance/checkin", "commitments/on-behalf"):
        assert f'href="/events/{event.id}/{path}"' in html, path
    assert f'href="/review/events/{event.id}"' in html

    other = app.test_client()
    participant = make_user("participant")
    other.post("/login", data={"email": participant.email, "password": "correct-horse-battery"})
    resp = other.get(f"/events/{event.id}")
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert "Links webinar" in page
    assert f"/events/{event.id}/invitations" not in page
    assert f"/events/{event.id}/attendance" not in page
