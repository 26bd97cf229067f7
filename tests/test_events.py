"""Events: services (rules, transactions, audit, signal) and pages."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests.factories import add_item, event_input, kind_id, make_event, register
from webinar_mgr import clock
from webinar_mgr.audit.models import AuditEntry
from webinar_mgr.errors import NotFound, ValidationFailed
from webinar_mgr.events import agenda, services, settings, times
from webinar_mgr.events.models import AgendaItem, Event
from webinar_mgr.events.signals import event_changed
from webinar_mgr.extensions import db


@pytest.fixture
def organiser(make_user):
    """conftest's organiser, in Bangkok's zone (the zone the events are made in)."""
    return make_user("organiser", email="org@example.org", timezone="Asia/Bangkok")


def _count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


# Creating, converting zones -------------------------------------------------------------------


def test_create_converts_local_time_to_utc_and_audits(app, organiser):
    event = make_event(organiser)
    assert event.status == "draft"
    assert event.starts_at == datetime(2027, 3, 10, 7, 0, tzinfo=UTC)  # Bangkok is UTC+7
    assert event.ends_at == datetime(2027, 3, 10, 9, 0, tzinfo=UTC)
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "event.create"))
    assert entry.actor_id == organiser.id and entry.object_id == str(event.id)
    assert entry.changes["title"] == [None, "Regional webinar on technology"]


def test_unknown_zone_is_refused_and_nothing_saved(app, organiser):
    with pytest.raises(ValidationFailed) as exc:
        make_event(organiser, timezone="Asia/Atlantis")
    assert "timezone" in exc.value.field_errors
    assert _count(Event) == 0 and _count_action("event.create") == 0


def test_end_before_start_is_refused(app, organiser):
    with pytest.raises(ValidationFailed) as exc:
        make_event(organiser, ends_local=datetime(2027, 3, 10, 13, 0))
    assert exc.value.field_errors["ends_local"] == ["The end must be after the start."]
    assert _count(Event) == 0


def test_dst_gap_is_refused_and_fold_takes_first_occurrence(app, organiser):
    # Sydney jumps from 02:00 to 03:00 on 3 October 2027: 02:30 does not exist.
    with pytest.raises(ValidationFailed) as exc:
        make_event(
            organiser,
            timezone="Australia/Sydney",
            starts_local=datetime(2027, 10, 3, 2, 30),
            ends_local=datetime(2027, 10, 3, 4, 0),
        )
    assert "does not exist" in exc.value.field_errors["starts_local"][0]
    # 02:30 on 4 April 2027 happens twice in Sydney: the first (daylight time, UTC+11) is taken.
    event = make_event(
        organiser,
        timezone="Australia/Sydney",
        starts_local=datetime(2027, 4, 4, 2, 30),
        ends_local=datetime(2027, 4, 4, 4, 0),
    )
    assert event.starts_at == datetime(2027, 4, 3, 15, 30, tzinfo=UTC)


def test_date_tbc_needs_a_tentative_month(app, organiser):
    with pytest.raises(ValidationFailed) as exc:
        make_event(organiser, date_tbc=True, starts_local=None, ends_local=None)
    assert "tentative_month" in exc.value.field_errors
    event = make_event(organiser, date_tbc=True, tentative_month=date(2027, 6, 15))
    assert event.starts_at is None and event.tentative_month == date(2027, 6, 1)


# Status rules ---------------------------------------------------------------------------------


def test_status_transitions(app, organiser):
    event = make_event(organiser)
    clock.freeze(datetime(2027, 3, 1, tzinfo=UTC))
    services.change_status(event, "scheduled", actor=organiser)
    with pytest.raises(ValidationFailed, match="only after it has ended"):
        services.change_status(event, "held", actor=organiser)
    clock.freeze(datetime(2027, 3, 11, tzinfo=UTC))
    services.change_status(event, "held", actor=organiser)
    assert event.status == "held"
    with pytest.raises(ValidationFailed, match="has been held"):
        services.change_status(event, "cancelled", actor=organiser)
    db.session.expire_all()
    assert db.session.get(Event, event.id).status == "held"


def test_cancel_from_draft_tbc_and_scheduled_but_not_back(app, organiser):
    for status_path in ([], ["tbc"], ["scheduled"]):
        event = make_event(organiser, title=f"Event {status_path}")
        for s in status_path:
            services.change_status(event, s, actor=organiser)
        services.change_status(event, "cancelled", actor=organiser)
        assert event.status == "cancelled"
        with pytest.raises(ValidationFailed, match="cancelled"):
            services.change_status(event, "scheduled", actor=organiser)


def test_scheduling_needs_dates(app, organiser):
    event = make_event(organiser, date_tbc=True, tentative_month=date(2027, 6, 1))
    services.change_status(event, "tbc", actor=organiser)
    with pytest.raises(ValidationFailed, match="start and end"):
        services.change_status(event, "scheduled", actor=organiser)
    assert db.session.get(Event, event.id).status == "tbc"


def test_draft_cannot_jump_to_held(app, organiser):
    event = make_event(organiser)
    with pytest.raises(ValidationFailed, match="cannot go from"):
        services.change_status(event, "held", actor=organiser)


# Changes: signal, sequence, audit diff --------------------------------------------------------


def test_significant_changes_bump_sequence_and_signal_inside_the_transaction(app, organiser):
    event = make_event(organiser)
    services.change_status(event, "scheduled", actor=organiser)
    seq = event.sequence
    received = []
    befores = []  # the values before each change, for the update mails' "from ... to ..."

    def receiver(sender, actor, changes, cancelled, before):
        # Receivers write into the same transaction as the change.
        received.append((sender.id, set(changes), cancelled, sender.sequence))
        befores.append(before)
        from webinar_mgr.audit import services as audit

        audit.record(actor, "test.receiver", sender, summary="seen")

    event_changed.connect(receiver)
    try:
        services.update_event(
            event,
            event_input(starts_local=datetime(2027, 3, 10, 15, 0), ends_local=datetime(2027, 3, 10, 17, 0)),
            actor=organiser,
        )
        services.update_event(
            event,
            event_input(
                starts_local=datetime(2027, 3, 10, 15, 0),
                ends_local=datetime(2027, 3, 10, 17, 0),
                title="A new title only",
            ),
            actor=organiser,
        )
        services.update_event(
            event,
            event_input(
                starts_local=datetime(2027, 3, 10, 15, 0),
                ends_local=datetime(2027, 3, 10, 17, 0),
                title="A new title only",
                venue="Bangkok",
                online_url="https://meet.example.org/other",
            ),
            actor=organiser,
        )
        services.change_status(event, "cancelled", actor=organiser)
    finally:
        event_changed.disconnect(receiver)
    assert [r[1] for r in received] == [{"time"}, {"place", "link"}, {"status"}]
    assert befores[0]["starts_at"].hour == 7 and befores[1]["venue"] != "Bangkok"  # 14:00 Bangkok before
    assert befores[2]["status"] == "scheduled"
    assert received[-1][2] is True
    db.session.expire_all()
    event = db.session.get(Event, event.id)
    assert event.sequence == seq + 3
    assert _count_action("test.receiver") == 3
    update = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "event.update").order_by(AuditEntry.id)
    ).first()
    assert update.changes["starts_at"] == ["2027-03-10T07:00:00+00:00", "2027-03-10T08:00:00+00:00"]


def _count_action(action: str) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(AuditEntry.action == action))


def test_capacity_below_registered_is_refused_and_nothing_changes(app, organiser):
    event = make_event(organiser, capacity=10)
    for n in range(3):
        register(event, f"p{n}@example.org", status="confirmed")
    register(event, "pending@example.org", status="pending")
    register(event, "gone@example.org", status="cancelled")
    with pytest.raises(ValidationFailed) as exc:
        services.update_event(event, event_input(capacity=3, title="Changed too"), actor=organiser)
    assert "4 people already registered" in exc.value.field_errors["capacity"][0]
    db.session.expire_all()
    event = db.session.get(Event, event.id)
    assert event.capacity == 10 and event.title == "Regional webinar on technology"
    services.update_event(event, event_input(capacity=4), actor=organiser)
    assert db.session.get(Event, event.id).capacity == 4


def test_capacity_refused_on_the_form_with_a_message(app, client, organiser, login):
    event = make_event(organiser, capacity=10)
    register(event, "a@example.org")
    register(event, "b@example.org")
    login(organiser)
    form = _form_data(event, capacity="1")
    resp = client.post(f"/events/{event.id}/edit", data=form)
    assert resp.status_code == 422
    assert "The capacity cannot be below the 2 people already registered." in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Event, event.id).capacity == 10


def _form_data(event, **overrides):
    data = {
        "title": event.title,
        "kind_id": str(event.kind_id),
        "summary": event.summary,
        "objectives": "\n".join(event.objectives),
        "timezone": event.timezone,
        "starts_local": "2027-03-10T14:00",
        "ends_local": "2027-03-10T16:00",
        "online_url": event.online_url or "",
        "audience": event.audience,
        "capacity": str(event.capacity or ""),
    }
    data.update(overrides)
    return data


# Agenda -------------------------------------------------------------------------------------


def test_agenda_item_outside_the_event_is_refused(app, organiser):
    event = make_event(organiser)  # 14:00-16:00 Bangkok
    with pytest.raises(ValidationFailed, match="within the event"):
        add_item(organiser, event, 13, 50, 20)
    with pytest.raises(ValidationFailed, match="within the event"):
        add_item(organiser, event, 15, 50, 20)
    assert _count(AgendaItem) == 0
    item = add_item(organiser, event, 15, 40, 20)
    assert item.starts_at == datetime(2027, 3, 10, 8, 40, tzinfo=UTC)


def test_overlapping_items_are_refused(app, organiser):
    event = make_event(organiser)
    first = add_item(organiser, event, 14, 0, 30, "Opening")
    with pytest.raises(ValidationFailed, match="overlaps “Opening”"):
        add_item(organiser, event, 14, 20, 20, "Talk")
    second = add_item(organiser, event, 14, 30, 20, "Talk")  # touching is fine
    with pytest.raises(ValidationFailed, match="overlaps"):
        agenda.update_item(
            event,
            second,
            agenda.AgendaInput(title="Talk", starts_local=datetime(2027, 3, 10, 14, 10), duration_minutes=20),
            actor=organiser,
        )
    db.session.expire_all()
    assert db.session.get(AgendaItem, second.id).starts_at == datetime(2027, 3, 10, 7, 30, tzinfo=UTC)
    assert _count(AgendaItem) == 2 and first.id != second.id


def test_reorder_and_delete(app, organiser):
    event = make_event(organiser)
    a = add_item(organiser, event, 14, 0, 10, "A")
    b = add_item(organiser, event, 14, 10, 10, "B")
    c = add_item(organiser, event, 14, 20, 10, "C")
    agenda.move_item(event, c, "up", actor=organiser)
    db.session.expire_all()
    event = db.session.get(Event, event.id)
    assert [i.title for i in event.agenda_items] == ["A", "C", "B"]
    agenda.move_item(event, db.session.get(AgendaItem, a.id), "up", actor=organiser)  # already first
    agenda.delete_item(event, db.session.get(AgendaItem, c.id), actor=organiser)
    db.session.expire_all()
    event = db.session.get(Event, event.id)
    assert [(i.title, i.position) for i in event.agenda_items] == [("A", 0), ("B", 1)]
    assert b.id in [i.id for i in event.agenda_items]
    assert _count_action("agenda.delete") == 1 and _count_action("agenda.reorder") == 1


def test_moving_the_event_moves_the_agenda_or_refuses(app, organiser):
    event = make_event(organiser)
    add_item(organiser, event, 15, 30, 30, "Closing")
    services.update_event(
        event,
        event_input(starts_local=datetime(2027, 3, 11, 9, 0), ends_local=datetime(2027, 3, 11, 11, 0)),
        actor=organiser,
    )
    item = db.session.scalar(sa.select(AgendaItem))
    assert times.utc_to_local(item.starts_at, "Asia/Bangkok") == datetime(2027, 3, 11, 10, 30)
    with pytest.raises(ValidationFailed, match="outside the new times"):
        services.update_event(
            event,
            event_input(starts_local=datetime(2027, 3, 11, 9, 0), ends_local=datetime(2027, 3, 11, 10, 0)),
            actor=organiser,
        )
    db.session.expire_all()
    assert db.session.get(Event, event.id).ends_at == datetime(2027, 3, 11, 4, 0, tzinfo=UTC)


def test_speakers_from_directory_or_typed(app, organiser):
    from webinar_mgr.directory.models import Contact, Organisation

    org = Organisation(name="Thailand", sector="member_government")
    db.session.add(org)
    db.session.flush()
    db.session.add(Contact(email="somchai@example.org", name="สมชาย ใจดี", organisation_id=org.id, position="Director"))
    db.session.commit()
    event = make_event(organiser)
    item = add_item(organiser, event, 14, 0, 10, "Opening")
    s = agenda.add_speaker(event, item, agenda.SpeakerInput(contact_email="Somchai@example.org"), actor=organiser)
    assert (s.name, s.title, s.organisation_display) == ("สมชาย ใจดี", "Director", "Thailand")
    with pytest.raises(ValidationFailed, match="No directory contact"):
        agenda.add_speaker(event, item, agenda.SpeakerInput(contact_email="nobody@example.org"), actor=organiser)
    typed = agenda.add_speaker(
        event, item, agenda.SpeakerInput(name="Li Ming", organisation_name="Example Ltd"), actor=organiser
    )
    assert typed.organisation_display == "Example Ltd"
    assert len(db.session.get(AgendaItem, item.id).speakers) == 2


# Pages -------------------------------------------------------------------------------------


def test_create_event_through_the_form(app, client, organiser, login):
    login(organiser)
    resp = client.post(
        "/events/new",
        data={
            "title": "Open session",
            "kind_id": str(kind_id("open_session")),
            "timezone": "Pacific/Fiji",
            "starts_local": "2027-05-05T09:00",
            "ends_local": "2027-05-05T10:30",
            "audience": "open",
            "objectives": "One\nTwo\n",
            "pdf_zone_1": "Asia/Bangkok",
            "pdf_zone_2": "Pacific/Apia",
        },
    )
    assert resp.status_code == 302
    event = db.session.scalar(sa.select(Event))
    assert event.starts_at == datetime(2027, 5, 4, 21, 0, tzinfo=UTC)
    assert event.objectives == ["One", "Two"] and event.pdf_zones == ["Asia/Bangkok", "Pacific/Apia"]


@pytest.mark.parametrize(
    "override,message",
    [
        ({"timezone": "Mars/Olympus"}, "Unknown time zone"),
        ({"ends_local": "2027-05-05T08:00"}, "The end must be after the start."),
    ],
)
def test_bad_event_form_shows_the_error_and_saves_nothing(app, client, organiser, login, override, message):
    login(organiser)
    data = {
        "title": "Open session",
        "kind_id": str(kind_id()),
        "timezone": "Pacific/Fiji",
        "starts_local": "2027-05-05T09:00",
        "ends_local": "2027-05-05T10:30",
        "audience": "open",
    }
    data.update(override)
    resp = client.post("/events/new", data=data)
    assert resp.status_code in (400, 422)
    assert message in resp.get_data(as_text=True)
    assert _count(Event) == 0


def test_agenda_item_form_errors(app, client, organiser, login):
    event = make_event(organiser)
    add_item(organiser, event, 14, 0, 30, "Opening")
    login(organiser)
    resp = client.post(
        f"/events/{event.id}/agenda/new",
        data={"title": "Late", "kind": "presentation", "starts_local": "2027-03-10T15:50", "duration_minutes": "30"},
    )
    assert resp.status_code == 422 and "must be within the event" in resp.get_data(as_text=True)
    resp = client.post(
        f"/events/{event.id}/agenda/new",
        data={"title": "Clash", "kind": "presentation", "starts_local": "2027-03-10T14:15", "duration_minutes": "30"},
    )
    assert resp.status_code == 422 and "overlaps" in resp.get_data(as_text=True)
    assert _count(AgendaItem) == 1


def test_status_change_through_the_page(app, client, organiser, login):
    event = make_event(organiser)
    login(organiser)
    resp = client.post(f"/events/{event.id}/status", data={"status": "held"})
    assert resp.status_code == 422 and "cannot go from" in resp.get_data(as_text=True)
    resp = client.post(f"/events/{event.id}/status", data={"status": "scheduled"})
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(Event, event.id).status == "scheduled"


def test_participants_cannot_change_events(app, client, organiser, make_user, login):
    event = make_event(organiser)
    services.change_status(event, "scheduled", actor=organiser)
    login(make_user("participant", email="p@example.org"))
    assert client.post(f"/events/{event.id}/status", data={"status": "cancelled"}).status_code == 403
    assert client.get(f"/events/{event.id}/edit").status_code == 403
    db.session.expire_all()
    assert db.session.get(Event, event.id).status == "scheduled"


def test_list_filters_and_drafts(app, client, organiser, login):
    clock.freeze(datetime(2027, 1, 1, tzinfo=UTC))
    past = make_event(
        organiser,
        title="Webinar on COVID recovery",
        summary="Borders reopen.",
        starts_local=datetime(2026, 9, 15, 13, 0),
        ends_local=datetime(2026, 9, 15, 15, 0),
    )
    future = make_event(organiser, title="Technology webinar")
    meeting = make_event(
        organiser,
        title="Annual meeting",
        kind_id=kind_id("annual_meeting"),
        date_tbc=True,
        tentative_month=date(2027, 9, 1),
    )
    draft = make_event(organiser, title="Secret draft")
    services.change_status(past, "scheduled", actor=organiser)
    services.change_status(future, "scheduled", actor=organiser)
    services.change_status(meeting, "tbc", actor=organiser)
    del draft
    page = client.get("/events").get_data(as_text=True)
    assert "Technology webinar" in page and "Annual meeting" in page
    assert "COVID" not in page and "Secret draft" not in page
    page = client.get("/events?when=past").get_data(as_text=True)
    assert "COVID" in page and "Technology webinar" not in page
    page = client.get("/events?when=all&kind=annual_meeting").get_data(as_text=True)
    assert "Annual meeting" in page and "Technology webinar" not in page
    page = client.get("/events?when=all&year=2026").get_data(as_text=True)
    assert "COVID" in page and "Technology webinar" not in page
    page = client.get("/events?when=all&theme=technology").get_data(as_text=True)
    assert "Technology webinar" in page and "COVID" not in page
    assert "webcal://localhost/calendar.ics" in page
    login(organiser)
    assert "Secret draft" in client.get("/events").get_data(as_text=True)


def test_draft_page_is_hidden_from_the_public(app, client, organiser, login):
    event = make_event(organiser)
    assert client.get(f"/events/{event.id}").status_code == 404
    login(organiser)
    assert client.get(f"/events/{event.id}").status_code == 200


def test_event_page_times_zones_and_link_visibility(app, client, organiser, make_user, login):
    event = make_event(organiser)
    services.change_status(event, "scheduled", actor=organiser)
    add_item(organiser, event, 14, 0, 15, "Opening remarks")
    # Anonymous reader in Sydney (browser zone cookie).
    client.set_cookie("tz", "Australia%2FSydney")  # as static/js/app.js writes it
    page = client.get(f"/events/{event.id}").get_data(as_text=True)
    assert "18:00–20:00" in page  # Sydney, daylight time in March: UTC+11
    assert "14:00–16:00" in page and "Asia/Bangkok" in page
    # the members from UTC+3 to UTC+13 (issue 13)
    for label in ("Ankara / Amman", "Tehran", "Kabul", "Karachi", "New Delhi", "Kathmandu", "Dhaka", "Yangon"):
        assert f'<span class="zone-city">{label}</span>' in page
    for label in ("Bangkok / Jakarta", "Manila / Beijing", "Tokyo / Dili", "Sydney", "Nouméa", "Suva", "Nuku’alofa"):
        assert f'<span class="zone-city">{label}</span>' in page
    assert "meet.example.org/secret-room" not in page
    assert "calendar.google.com" in page and "outlook.office.com" in page
    participant = make_user("participant", email="reg@example.org")
    login(participant)
    assert "secret-room" not in client.get(f"/events/{event.id}").get_data(as_text=True)
    register(event, "reg@example.org", status="pending")
    assert "secret-room" not in client.get(f"/events/{event.id}").get_data(as_text=True)
    from webinar_mgr.registrations.models import Registration

    db.session.execute(sa.update(Registration).values(status="confirmed"))
    db.session.commit()
    assert "secret-room" in client.get(f"/events/{event.id}").get_data(as_text=True)


def test_region_zones_setting(app, client, make_user, login, organiser):
    admin = make_user("admin", email="admin@example.org")
    login(admin)
    resp = client.post("/events/settings", data={"zones-zones": "Asia/Bangkok | Bangkok\nNowhere/Land"})
    assert resp.status_code == 422 and "unknown time zone “Nowhere/Land”" in resp.get_data(as_text=True)
    assert settings.region_zones()[11] == ("Australia/Sydney", "Sydney")
    resp = client.post("/events/settings", data={"zones-zones": "Asia/Yangon | Yangon\nAsia/Dhaka"})
    assert resp.status_code == 302
    assert settings.region_zones() == [("Asia/Yangon", "Yangon"), ("Asia/Dhaka", "Dhaka")]
    resp = client.post("/events/settings", data={"kind-label": "Expert roundtable"})
    assert resp.status_code == 302
    assert settings.kind_by_code("expert_roundtable").label == "Expert roundtable"


def test_get_event_not_found(app):
    with pytest.raises(NotFound):
        services.get_event(424242)


def test_seed_is_idempotent(app):
    from webinar_mgr.directory.models import Organisation
    from webinar_mgr.events import seed

    for name, sector in (
        ("Australia", "member_government"),
        ("Indonesia", "member_government"),
        ("Malaysia", "member_government"),
        ("Regional Support Office", "support_office"),
    ):
        db.session.add(Organisation(name=name, sector=sector))
    db.session.commit()
    clock.freeze(datetime(2027, 2, 1, tzinfo=UTC))
    seed.seed(lambda *a: None)
    seed.seed(lambda *a: None)
    seminar = db.session.scalar(sa.select(Event).where(Event.title == seed.SEMINAR))
    assert [o.name for o in seminar.convenors] == ["Malaysia", "Regional Support Office"]
    titles = list(db.session.scalars(sa.select(Event.title)))
    assert len(titles) == len(set(titles)) >= 4
    upcoming = db.session.scalar(sa.select(Event).where(Event.title == seed.UPCOMING))
    assert upcoming.audience == "open" and upcoming.capacity == 25
    assert upcoming.starts_at - clock.now() > timedelta(days=14)
    tech = db.session.scalar(sa.select(Event).where(Event.title == seed.WEBINAR_2022))
    assert tech.status == "held" and len(tech.objectives) == 3 and len(tech.agenda_items) >= 6


def test_drafts_are_hidden_everywhere_from_the_public(app, client, organiser):
    event = make_event(organiser)
    for url in (f"/events/{event.id}", f"/events/{event.id}/calendar.ics", f"/events/{event.id}/agenda.pdf"):
        assert client.get(url).status_code == 404, url
    assert b"Regional webinar on technology" not in client.get("/calendar.ics").data


def test_only_drafts_can_be_deleted(app, client, organiser, login):
    draft = make_event(organiser, title="Draft to delete")
    published = make_event(organiser, title="Published")
    services.change_status(published, "scheduled", actor=organiser)
    login(organiser)
    assert client.post(f"/events/{published.id}/delete").status_code == 422
    assert client.post(f"/events/{draft.id}/delete").status_code == 302
    db.session.expire_all()
    assert list(db.session.scalars(sa.select(Event.title))) == ["Published"]
    assert _count_action("event.delete") == 1
