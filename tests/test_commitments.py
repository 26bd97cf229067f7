"""Commitments: services (pledge rules, transitions, evidence, links, object-level checks), the
reminders job, pages, exports and bad input. The whole life with real SMTP is in
test_commitments_lifecycle.py."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from tests import factories
from webinar_mgr import clock
from webinar_mgr.audit.models import AuditEntry
from webinar_mgr.commitments import queries, services
from webinar_mgr.commitments.models import Commitment, CommitmentEvidence, CommitmentUpdate, Platform
from webinar_mgr.directory import services as directory
from webinar_mgr.directory.models import Organisation
from webinar_mgr.errors import NotAllowed, NotFound, ValidationFailed
from webinar_mgr.events.models import Event
from webinar_mgr.extensions import db
from webinar_mgr.mail.models import OutboxMessage

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def event(app):
    clock.freeze(NOW)
    start = NOW - timedelta(days=2)
    return factories.make_event_row(
        title="Regional Webinar: Technology and trafficking",
        summary="",
        status="held",
        timezone="Asia/Bangkok",
        starts_at=start,
        ends_at=start + timedelta(hours=2),
        online_url=None,
        audience="open",
    )


def register(event, email, name="Ana Reyes", *, sector="member_government", **kw):
    """tests.factories.register with this module's defaults; the contact comes from the directory."""
    contact = directory.get_or_create_contact(email, name)
    return factories.register(event, email.lower(), name, sector=sector, contact=contact, **kw)


def data(**kw) -> services.PledgeData:
    base = dict(
        kind="social_media_post",
        platforms=["x", "facebook"],
        languages=["English", "Tagalog"],
        audience="Job seekers",
        description="A post on safe online recruitment",
        target_date=None,
        public=True,
    )
    base.update(kw)
    return services.PledgeData(**base)


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


# Pledging -------------------------------------------------------------------------------------


def test_pledge_copies_the_registration_and_defaults_the_target_date(event):
    gov = Organisation(name="Philippines", sector="member_government")
    db.session.add(gov)
    db.session.commit()
    reg = register(event, "ana@example.gov.ph", member=gov)
    c = services.pledge(reg, data())
    assert c.contact_id == reg.contact_id and c.member_government_id == gov.id
    assert c.organisation_id == gov.id and c.sector == "member_government" and c.event_id == event.id
    # The event's day in Bangkok is 2026-02-27; default and maximum are one year later.
    assert c.target_date == date(2027, 2, 27) == services.latest_target(event)
    assert c.status == "pledged" and len(c.nonce) >= 12
    assert [u.to_status for u in c.updates] == ["pledged"]
    assert c.languages == ["English", "Tagalog"] and c.platforms == ["x", "facebook"]
    # A confirmation with a one-click link is in the outbox.
    msg = db.session.scalar(sa.select(OutboxMessage))
    assert msg.to_addr == "ana@example.gov.ph" and "/commitments/u/" in msg.body_text


def test_max_days_is_configurable(app, event):
    app.config["COMMITMENT_MAX_DAYS"] = 30
    reg = register(event, "a@example.org")
    with pytest.raises(ValidationFailed) as err:
        services.pledge(reg, data(target_date=date(2026, 4, 1)))
    assert "target_date" in err.value.field_errors
    assert services.pledge(reg, data()).target_date == date(2026, 3, 29)


@pytest.mark.parametrize(
    "target,message",
    [
        (date(2026, 2, 28), "in the past"),
        (date(2027, 2, 28), "at most 365 days"),
    ],
)
def test_target_date_in_the_past_or_beyond_the_limit_is_refused(event, target, message):
    reg = register(event, "a@example.org")
    with pytest.raises(ValidationFailed) as err:
        services.pledge(reg, data(target_date=target))
    assert message in err.value.field_errors["target_date"][0]
    db.session.rollback()
    assert count(Commitment) == 0 and count(CommitmentUpdate) == 0 and count(OutboxMessage) == 0


def test_pledge_needs_platforms_description_and_known_kind(event):
    reg = register(event, "a@example.org")
    with pytest.raises(ValidationFailed) as err:
        services.pledge(reg, data(platforms=[], description=" ", kind="poster"))
    assert set(err.value.field_errors) == {"platforms", "description", "kind"}
    with pytest.raises(ValidationFailed):
        services.pledge(reg, data(platforms=["myspace"]))
    db.session.rollback()
    assert count(Commitment) == 0


def test_cancelled_registration_cannot_pledge(event):
    reg = register(event, "a@example.org", status="cancelled")
    with pytest.raises(NotAllowed):
        services.pledge(reg, data())


def test_event_page_pledge_needs_an_active_registration(client, event, make_user, login):
    user = make_user("participant", email="pat@example.org")
    login(user)
    resp = client.get(f"/events/{event.id}/commitments/new")
    assert resp.status_code == 403 and "registered for this event" in resp.get_data(as_text=True)
    register(event, "pat@example.org", "Pat", user=user)
    assert client.get(f"/events/{event.id}/commitments/new").status_code == 200
    resp = client.post(
        f"/events/{event.id}/commitments/new",
        data={
            "kind": "campaign",
            "platforms": ["linkedin", "website"],
            "languages": "English, Thai",
            "audience": "Recruiters",
            "description": "A LinkedIn campaign for recruiters",
            "target_date": "2026-12-01",
        },
    )
    assert resp.status_code == 302
    c = db.session.scalar(sa.select(Commitment))
    assert c.kind == "campaign" and c.languages == ["English", "Thai"] and c.target_date == date(2026, 12, 1)
    assert client.get("/commitments/mine").get_data(as_text=True).count("A LinkedIn campaign") == 1


def test_bad_pledge_form_rerenders_with_errors_and_saves_nothing(client, event, make_user, login):
    user = make_user("participant", email="pat@example.org")
    register(event, "pat@example.org", "Pat", user=user)
    login(user)
    resp = client.post(
        f"/events/{event.id}/commitments/new",
        data={"kind": "social_media_post", "platforms": ["x"], "description": "Post", "target_date": "2020-01-01"},
    )
    assert resp.status_code == 422 and "The target date is in the past." in resp.get_data(as_text=True)
    resp = client.post(
        f"/events/{event.id}/commitments/new",
        data={"kind": "social_media_post", "platforms": ["x"], "description": "Post", "target_date": "not a date"},
    )
    assert resp.status_code == 400
    assert count(Commitment) == 0


def test_pledge_by_registration_link(client, event):
    from webinar_mgr.registrations import manage_links

    reg = register(event, "guest@example.org", "Guest")
    token = manage_links.make_manage_token(reg)
    assert client.get(f"/commitments/pledge/{token}").status_code == 200
    resp = client.post(
        f"/commitments/pledge/{token}",
        data={"kind": "other", "platforms": ["whatsapp"], "description": "Share the hotline in our WhatsApp groups"},
    )
    assert resp.status_code == 302 and "/commitments/u/" in resp.headers["Location"]
    assert client.get(resp.headers["Location"]).status_code == 200
    resp = client.get(f"/commitments/pledge/{token[:-3]}xyz")
    assert resp.status_code == 422 and "not valid" in resp.get_data(as_text=True)


def test_organiser_pledges_on_behalf_with_audit(client, event, make_user, login):
    org = make_user("organiser")
    reg = register(event, "speaker@example.org", "Said Aloud")
    login(org)
    page = client.get(f"/events/{event.id}/commitments/on-behalf").get_data(as_text=True)
    assert "Said Aloud &lt;speaker@example.org&gt;" in page
    resp = client.post(
        f"/events/{event.id}/commitments/on-behalf",
        data={
            "registration_id": str(reg.id),
            "kind": "social_media_post",
            "platforms": ["x"],
            "description": "Said during the webinar: a post on X",
        },
    )
    assert resp.status_code == 302
    c = db.session.scalar(sa.select(Commitment))
    assert c.contact.email == "speaker@example.org" and c.created_by_id == org.id
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "commitment.create"))
    assert entry.actor_id == org.id and entry.object_id == str(c.id)
    # A registrant of another event is refused.
    other = Event(
        title="Other",
        kind_id=event.kind_id,
        status="held",
        timezone="UTC",
        starts_at=event.starts_at,
        ends_at=event.ends_at,
        audience="open",
    )
    db.session.add(other)
    db.session.commit()
    stranger = register(other, "x@example.org", "Stranger")
    resp = client.post(
        f"/events/{event.id}/commitments/on-behalf",
        data={"registration_id": str(stranger.id), "kind": "other", "platforms": ["x"], "description": "no"},
    )
    assert resp.status_code == 422 and count(Commitment) == 1


def test_cochair_cannot_pledge_on_behalf(client, event, make_user, login):
    login(make_user("cochair"))
    assert client.get(f"/events/{event.id}/commitments/on-behalf").status_code == 403


# Following up ---------------------------------------------------------------------------------


def test_states_and_evidence(event):
    reg = register(event, "a@example.org")
    c = services.pledge(reg, data())
    services.update(c, "progress", note="Drafting")
    assert c.status == "in_progress"
    with pytest.raises(ValidationFailed):
        services.update(c, "progress")
    services.update(
        c,
        "deliver",
        evidence=services.EvidenceData(
            urls=["https://x.com/wg/status/1", "http://example.org/post"],
            published_on=date(2026, 2, 28),
            views=100,
            impressions=300,
            shares=0,
            note="Both posts",
        ),
    )
    assert c.status == "delivered" and c.delivered_at == NOW and len(c.evidence) == 2
    assert [u.to_status for u in c.updates] == ["pledged", "in_progress", "delivered"]
    assert c.updates[-1].note == "Both posts"
    with pytest.raises(ValidationFailed):
        services.update(c, "withdraw")
    services.update(c, "deliver", evidence=services.EvidenceData(urls=["https://example.org/third"]))
    assert len(c.evidence) == 3 and c.status == "delivered"


def test_withdraw_only_from_open_states(event):
    c = services.pledge(register(event, "a@example.org"), data())
    services.update(c, "withdraw", note="No budget")
    assert c.status == "withdrawn"
    for action in ("progress", "deliver", "withdraw"):
        with pytest.raises(ValidationFailed):
            services.update(c, action)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "ftp://example.org/x",
        "example.org/post",
        "https://",
        "http:///path",
        "https://exa mple.org",
        "https://example.org:99999/",
        "//example.org/x",
        "https://.example.org",
    ],
)
def test_bad_links_are_refused_and_nothing_is_saved(event, url):
    c = services.pledge(register(event, "a@example.org"), data())
    with pytest.raises(ValidationFailed) as err:
        services.update(c, "deliver", evidence=services.EvidenceData(urls=["https://ok.example.org/1", url]))
    assert err.value.field_errors["links"]
    db.session.rollback()
    db.session.expire_all()
    assert c.status == "pledged" and count(CommitmentEvidence) == 0 and len(c.updates) == 1


def test_negative_reach_and_no_link_are_refused(event):
    c = services.pledge(register(event, "a@example.org"), data())
    with pytest.raises(ValidationFailed) as err:
        services.update(c, "deliver", evidence=services.EvidenceData(urls=[], views=-1))
    assert set(err.value.field_errors) == {"links", "views"}


def test_guessing_another_persons_commitment_is_not_found(client, event, make_user, login):
    mine_user = make_user("participant", email="me@example.org")
    other = services.pledge(register(event, "other@example.org", "Other"), data(description="Theirs"))
    mine = services.pledge(register(event, "me@example.org", "Me"), data(description="Mine"))
    with pytest.raises(NotFound):
        services.get_for_user(other.id, mine_user)
    login(mine_user)
    assert client.get(f"/commitments/{mine.id}").status_code == 200
    resp = client.get(f"/commitments/{other.id}")
    assert resp.status_code == 404 and "Theirs" not in resp.get_data(as_text=True)
    resp = client.post(f"/commitments/{other.id}/update", data={"action": "withdraw"})
    assert resp.status_code == 404
    db.session.expire_all()
    assert db.session.get(Commitment, other.id).status == "pledged"
    assert "Theirs" not in client.get("/commitments/mine").get_data(as_text=True)


def test_cochair_sees_but_cannot_change(client, event, make_user, login):
    c = services.pledge(register(event, "a@example.org"), data())
    login(make_user("cochair"))
    page = client.get(f"/commitments/{c.id}").get_data(as_text=True)
    assert "A post on safe online recruitment" in page and "Save the update" not in page
    assert client.post(f"/commitments/{c.id}/update", data={"action": "withdraw"}).status_code == 403


def test_organiser_update_is_audited(client, event, make_user, login):
    c = services.pledge(register(event, "a@example.org"), data())
    login(make_user("organiser"))
    resp = client.post(f"/commitments/{c.id}/update", data={"action": "progress", "note": "Told us by phone"})
    assert resp.status_code == 302
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.object_type == "Commitment"))
    assert (entry.action, entry.object_id) == ("commitment.progress", str(c.id))
    assert entry.changes["status"] == ["pledged", "in_progress"]


def test_update_form_javascript_link_is_refused_with_a_message(client, event):
    c = services.pledge(register(event, "a@example.org"), data())
    token = services.make_update_token(c)
    resp = client.post(
        f"/commitments/u/{token}", data={"action": "deliver", "links": "javascript:alert(document.cookie)"}
    )
    assert resp.status_code == 422 and "Only web links (http:// or https://)" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Commitment, c.id).status == "pledged" and count(CommitmentEvidence) == 0


def test_expired_and_replaced_update_links(client, event):
    c = services.pledge(register(event, "a@example.org"), data())
    token = services.make_update_token(c)
    clock.advance(timedelta(days=61))
    resp = client.post(f"/commitments/u/{token}", data={"action": "withdraw"})
    assert resp.status_code == 422 and "This link has expired." in resp.get_data(as_text=True)
    clock.freeze(NOW)
    c.nonce = "rotated-nonce"
    db.session.commit()
    resp = client.get(f"/commitments/u/{token}")
    assert resp.status_code == 422 and "replaced" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Commitment, c.id).status == "pledged" and len(c.updates) == 1


# Reminders ------------------------------------------------------------------------------------


def test_reminder_skips_a_missed_earlier_offset_and_overdue_is_once(event):
    c = services.pledge(register(event, "a@example.org"), data(target_date=date(2026, 6, 1)))
    clock.freeze(datetime(2026, 5, 28, tzinfo=UTC))  # worker was down at 30 days
    assert services.send_reminders() == 1
    keys = set(db.session.scalars(sa.select(OutboxMessage.dedupe_key)))
    assert f"commitment-reminder:{c.id}:7" in keys and f"commitment-reminder:{c.id}:30" not in keys
    assert services.send_reminders() == 0
    clock.freeze(datetime(2026, 6, 2, tzinfo=UTC))
    assert services.send_reminders() == 1 and services.send_reminders() == 0
    services.update(c, "deliver", evidence=services.EvidenceData(urls=["https://example.org/p"]))
    assert services.send_reminders() == 0


def test_no_reminders_for_closed_commitments(event):
    c = services.pledge(register(event, "a@example.org"), data(target_date=date(2026, 3, 20)))
    services.update(c, "withdraw")
    clock.freeze(datetime(2026, 3, 15, tzinfo=UTC))
    assert services.send_reminders() == 0
    clock.freeze(datetime(2026, 4, 15, tzinfo=UTC))
    assert services.send_reminders() == 0


# Tracker, exports, public page, platforms ------------------------------------------------------


def _tracker_data(event):
    gov = Organisation(name="Thailand", sector="member_government")
    db.session.add(gov)
    db.session.commit()
    a = services.pledge(register(event, "a@example.org", "A", member=gov), data(target_date=date(2026, 3, 10)))
    b = services.pledge(
        register(event, "b@example.org", "B", sector="civil_society"),
        data(description='=HYPERLINK("http://evil")', target_date=date(2026, 9, 1)),
    )
    c = services.pledge(register(event, "c@example.org", "C", sector="civil_society"), data())
    services.update(b, "deliver", evidence=services.EvidenceData(urls=["https://example.org/b"], views=50))
    services.update(c, "withdraw")
    return gov, a, b, c


def test_tracker_filters_totals_and_delivery_rate(event):
    gov, a, b, c = _tracker_data(event)
    clock.freeze(datetime(2026, 3, 12, tzinfo=UTC))
    today = services.today()
    t = queries.totals(queries.Filters(), today)
    assert (t.total, t.delivered, t.withdrawn, t.overdue) == (3, 1, 1, 1)
    assert t.delivery_rate == pytest.approx(0.5)
    assert [r.commitment.id for r in queries.tracker(queries.Filters(overdue=True), today).items] == [a.id]
    assert [r.commitment.id for r in queries.tracker(queries.Filters(member_government_id=gov.id), today).items] == [
        a.id
    ]
    assert {r.commitment.id for r in queries.tracker(queries.Filters(sector="civil_society"), today).items} == {
        b.id,
        c.id,
    }
    assert queries.tracker(queries.Filters(status="withdrawn"), today).total == 1
    assert queries.totals(queries.Filters(status="withdrawn"), today).delivery_rate is None
    page = queries.tracker(queries.Filters(), today, page=2, per_page=2)
    assert page.page == 2 and len(page.items) == 1 and page.pages == 2


def test_tracker_page_and_exports_are_neutralised(client, event, make_user, login):
    _gov, a, b, _c = _tracker_data(event)
    clock.freeze(datetime(2026, 3, 12, tzinfo=UTC))
    login(make_user("cochair"))
    page = client.get("/commitments").get_data(as_text=True)
    assert "3 commitments match." in page and "50%" in page
    page = client.get("/commitments?overdue=1").get_data(as_text=True)
    assert "1 commitment matches." in page and "0%" in page
    resp = client.get("/commitments.csv?status=delivered")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(resp.get_data().decode("utf-8-sig"))))
    assert rows[0][0] == "id" and len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["description"].startswith("'=HYPERLINK") and row["evidence links"] == "https://example.org/b"
    assert row["views"] == "50" and row["email"] == "b@example.org"
    resp = client.get(f"/commitments.xlsx?event={event.id}")
    ws = load_workbook(io.BytesIO(resp.get_data())).active
    descriptions = [r[12] for r in ws.iter_rows(min_row=2, values_only=True)]
    assert len(descriptions) == 3 and '\'=HYPERLINK("http://evil")' in descriptions
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(AuditEntry).where(AuditEntry.action == "commitment.export")
        )
        == 2
    )


def test_participant_cannot_open_the_tracker_or_exports(client, make_user, login):
    login(make_user("participant"))
    assert client.get("/commitments").status_code == 403
    assert client.get("/commitments.csv").status_code == 403


def test_public_page_lists_only_allowed_deliveries_without_emails(client, event):
    _gov, a, b, _c = _tracker_data(event)
    d = services.pledge(
        register(event, "d@example.org", "Hidden Person"), data(public=False, description="Private one")
    )
    services.update(d, "deliver", evidence=services.EvidenceData(urls=["https://example.org/d"]))
    page = client.get("/commitments/public").get_data(as_text=True)
    assert "https://example.org/b" in page and "https://example.org/d" not in page
    assert "@example.org" not in page.replace("https://example.org/b", "")
    assert "Hidden Person" not in page


def test_admin_adds_and_deactivates_platforms(client, make_user, login):
    admin = make_user("admin")
    login(admin)
    assert "Organisation&#39;s website" in client.get("/commitments/platforms").get_data(as_text=True)
    assert client.post("/commitments/platforms", data={"label": "Telegram"}).status_code == 302
    assert client.post("/commitments/platforms", data={"label": "telegram"}).status_code == 422
    tg = db.session.scalar(sa.select(Platform).where(Platform.label == "Telegram"))
    assert tg.active and "telegram" in [p.code for p in services.platforms()]
    client.post(f"/commitments/platforms/{tg.id}/toggle")
    db.session.expire_all()
    assert "telegram" not in [p.code for p in services.platforms()]
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(AuditEntry).where(AuditEntry.action.like("platform.%"))
        )
        == 2
    )


def test_organiser_is_not_platform_admin(client, make_user, login):
    login(make_user("organiser"))
    assert client.get("/commitments/platforms").status_code == 403


def test_seed_is_idempotent_and_covers_every_state(app):
    from webinar_mgr.cli import run_seed

    run_seed(lambda *a, **k: None)
    first = count(Commitment)
    run_seed(lambda *a, **k: None)
    assert count(Commitment) == first > 0
    states = set(db.session.scalars(sa.select(Commitment.status).distinct()))
    assert states == {"pledged", "in_progress", "delivered", "withdrawn"}
    assert queries.totals(queries.Filters(overdue=True), services.today()).total > 0
    assert count(CommitmentEvidence) > 0
    assert queries.mine("participant@example.org", services.today())


def test_tracker_pages_through_many_commitments(client, event, make_user, login):
    reg = register(event, "many@example.org", "Many")
    for i in range(55):
        db.session.add(
            Commitment(
                event_id=event.id,
                registration_id=reg.id,
                contact_id=reg.contact_id,
                kind="other",
                platforms=["x"],
                languages=[],
                description=f"Item {i:02d}",
                target_date=date(2026, 4, 1) + timedelta(days=i),
                status="pledged",
            )
        )
    db.session.commit()
    login(make_user("organiser"))
    first = client.get("/commitments").get_data(as_text=True)
    assert "Item 00" in first and "Item 50" not in first and "Page 1 of 2" in first and 'rel="next"' in first
    second = client.get("/commitments?page=2").get_data(as_text=True)
    assert "Item 50" in second and "Item 54" in second and 'rel="prev"' in second
    assert client.get("/commitments?page=99").status_code == 200


def test_pledge_link_of_a_cancelled_registration_is_refused(client, event):
    from webinar_mgr.registrations import manage_links

    reg = register(event, "gone@example.org", "Gone", status="cancelled")
    resp = client.get(f"/commitments/pledge/{manage_links.make_manage_token(reg)}")
    assert resp.status_code == 403 and "active registration" in resp.get_data(as_text=True)


def test_cli_remind_and_summary(app, event):
    c = services.pledge(register(event, "a@example.org"), data(target_date=date(2026, 3, 20)))
    runner = app.test_cli_runner()
    out = runner.invoke(args=["commitments", "remind"])
    assert out.exit_code == 0 and "1 commitment reminder(s) queued" in out.output
    assert (
        db.session.scalar(
            sa.select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.like("commitment-reminder:%"))
        )
        == f"commitment-reminder:{c.id}:30"
    )
    out = runner.invoke(args=["commitments", "summary", "--event", str(event.id)])
    assert "pledged           1" in out.output and "delivery rate (delivered / (all - withdrawn)): 0%" in out.output
