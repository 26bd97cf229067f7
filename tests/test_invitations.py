"""Invitations: building the list, sending through the outbox in batches, the personal link
(open, register pre-filled, decline), revoke/resend/expiry, and bad uploads. Real SMTP."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.factories import NOW, make_event_row
from tests.support import invitation_directory
from webinar_mgr import clock, jobs
from webinar_mgr.audit.models import AuditEntry
from webinar_mgr.directory import services as directory_services
from webinar_mgr.directory.models import Contact, Organisation
from webinar_mgr.errors import ValidationFailed
from webinar_mgr.extensions import db
from webinar_mgr.invitations import services
from webinar_mgr.invitations.models import Invitation
from webinar_mgr.mail import services as mail
from webinar_mgr.registrations.models import Registration


@pytest.fixture(autouse=True)
def frozen(app):
    clock.freeze(NOW)
    yield
    clock.unfreeze()


@pytest.fixture
def directory(app):
    return invitation_directory()


def _organiser(make_user, login):
    user = make_user("organiser")
    login(user)
    return user


def _emails(event_id):
    return sorted(
        db.session.scalars(
            sa.select(Contact.email)
            .join(Invitation, Invitation.contact_id == Contact.id)
            .where(Invitation.event_id == event_id)
        )
    )


def test_build_list_from_directory_filters_one_per_person(app, client, make_user, login, directory):
    _organiser(make_user, login)
    event = make_event_row(audience="invitation")
    resp = client.post(
        f"/events/{event.id}/invitations/directory",
        data={"dir-sector": "member_government", "dir-focal_points_only": "y", "dir-category": "member"},
    )
    assert resp.status_code == 302
    assert _emails(event.id) == ["maria@example.gov.ph", "somchai@example.go.th"]
    client.post(
        f"/events/{event.id}/invitations/directory",
        data={"dir-member_government_id": str(directory["th"].id), "dir-category": "member"},
    )
    client.post(
        f"/events/{event.id}/invitations/directory",
        data={"dir-tag": "labour-migration", "dir-category": "civil_society"},
    )
    assert _emails(event.id) == [
        "dewi@example.org",
        "maria@example.gov.ph",
        "niran@example.go.th",
        "somchai@example.go.th",
    ]
    cats = dict(db.session.execute(sa.select(Contact.email, Invitation.category).join(Invitation)).all())
    assert cats["somchai@example.go.th"] == "member" and cats["dewi@example.org"] == "civil_society"
    # no filter at all is refused
    resp = client.post(f"/events/{event.id}/invitations/directory", data={"dir-category": "member"})
    assert resp.status_code == 422
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(AuditEntry).where(AuditEntry.action == "invitation.add")
        )
        == 3
    )


def test_pasted_guests_become_contacts_all_or_nothing(app, client, make_user, login, directory):
    _organiser(make_user, login)
    event = make_event_row(audience="invitation")
    resp = client.post(
        f"/events/{event.id}/invitations/guests",
        data={
            "guests-pasted": "Lina Ho <lina@example.com>\nnot-an-email\nBad Two <two@@x>",
            "guests-category": "private_sector",
        },
    )
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert "Line 2" in page and "Line 3" in page
    assert (
        _emails(event.id) == []
        and db.session.scalar(sa.select(Contact).where(Contact.email == "lina@example.com")) is None
    )
    resp = client.post(
        f"/events/{event.id}/invitations/guests",
        data={
            "guests-pasted": "Lina Ho <Lina@Example.com>\nraj@example.in\n"
            "Kim Soo, kim@example.kr, Migrant Care Network\n"
            "Maria Santos <maria@example.gov.ph>",
            "guests-category": "private_sector",
        },
    )
    assert resp.status_code == 302
    assert _emails(event.id) == ["kim@example.kr", "lina@example.com", "maria@example.gov.ph", "raj@example.in"]
    kim = db.session.scalar(sa.select(Contact).where(Contact.email == "kim@example.kr"))
    assert kim.name == "Kim Soo" and kim.organisation_id == directory["ngo"].id


def test_pasted_guest_organisation_is_kept_new_ones_for_review(app, make_user, directory):
    """Issue 11: the organisation on a pasted line was dropped when the directory did not know it."""
    organiser = make_user("organiser")
    event = make_event_row(audience="invitation")
    pasted = (
        "ស្រី ពៅ, Srey.Pov@Example-CSO.org, Khmer Women Network\n"
        "Dara Chan, dara@example-cso.org, khmer  women network\n"  # the same one, spelt loosely
        "Anan W., anan@example.go.th, Kingdom of Thailand\n"
        "Mali S., mali@example.go.th, Ministry of Labour, Thailand\n"
    )
    n = services.add_guests(event.id, services.parse_pasted(pasted), "observer", actor=organiser)
    assert n == 4
    pov = db.session.scalar(sa.select(Contact).where(Contact.email == "srey.pov@example-cso.org"))
    assert pov.name == "ស្រី ពៅ"
    network = pov.organisation
    assert (network.name, network.sector, network.needs_review, network.added_via) == (
        "Khmer Women Network",
        "civil_society",
        True,
        "invitation",
    )
    dara = db.session.scalar(sa.select(Contact).where(Contact.email == "dara@example-cso.org"))
    assert dara.organisation_id == network.id
    anan = db.session.scalar(sa.select(Contact).where(Contact.email == "anan@example.go.th"))
    assert anan.organisation_id == directory["th"].id  # a known one is not added again
    labour = db.session.scalar(sa.select(Contact).where(Contact.email == "mali@example.go.th")).organisation
    assert (labour.name, labour.sector, labour.needs_review) == (
        "Ministry of Labour, Thailand",
        "member_government",
        True,
    )
    added = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "organisation.add").order_by(AuditEntry.id)
    ).all()
    assert [(e.summary, e.actor_email) for e in added] == [
        ("Khmer Women Network added by invitation, to review", organiser.email),
        ("Ministry of Labour, Thailand added by invitation, to review", organiser.email),
    ]


def test_pasted_guest_with_an_impossible_organisation_adds_nothing(app, make_user, directory):
    organiser = make_user("organiser")
    event = make_event_row(audience="invitation")
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Organisation))
    pasted = "Lina Ho, lina@example.com, Good NGO\nKim Soo, kim@example.kr, " + "x" * 2000
    report = services.parse_pasted(pasted)
    assert report.errors == ["Line 2: the organisation's name has 2000 characters; at most 200."]
    with pytest.raises(ValidationFailed) as exc:
        services.add_guests(event.id, report, "observer", actor=organiser)
    assert "Line 2" in exc.value.message
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Organisation)) == before
    assert db.session.scalar(sa.select(Contact).where(Contact.email == "lina@example.com")) is None
    assert _emails(event.id) == []


def test_guest_csv_adds_unknown_organisations_for_review(app, client, make_user, login, directory):
    _organiser(make_user, login)
    event = make_event_row(audience="invitation")
    body = (
        b"name,email,organisation,sector\n"
        b"Lina Ho,lina@example.com,Mekong Data Co. Ltd,\n"
        b"Kim Soo,kim@example.kr,Seoul Shelter Alliance,civil society\n"
        b"Niran K.,niran@example.go.th,Kingdom of Thailand,private_sector\n"
    )
    resp = _upload_guests(client, event, body)
    page = client.get(resp.location).get_data(as_text=True)
    assert "new organisation: Mekong Data Co. Ltd" in page and "private sector, to review" in page
    assert "new organisation: Seoul Shelter Alliance" in page and "civil society, to review" in page
    assert client.post(resp.location + "/confirm").status_code == 302
    assert _invitation_count() == 3
    added = {
        o.name: (o.sector, o.added_via, o.needs_review)
        for o in db.session.scalars(sa.select(Organisation).where(Organisation.added_via.is_not(None)))
    }
    assert added == {
        "Mekong Data Co. Ltd": ("private_sector", "import", True),
        "Seoul Shelter Alliance": ("civil_society", "import", True),
    }
    kim = db.session.scalar(sa.select(Contact).where(Contact.email == "kim@example.kr"))
    assert kim.organisation.name == "Seoul Shelter Alliance"


def test_guest_csv_bad_sector_is_a_row_problem(app, client, make_user, login, directory):
    _organiser(make_user, login)
    event = make_event_row(audience="invitation")
    resp = _upload_guests(client, event, b"name,email,organisation,sector\nLina Ho,lina@example.com,New NGO,pirates\n")
    page = client.get(resp.location).get_data(as_text=True)
    assert "Unknown sector: pirates" in page and "/confirm" not in page


def _upload_guests(client, event, body: bytes, category: str = "observer"):
    from io import BytesIO

    return client.post(
        f"/events/{event.id}/invitations/guests",
        data={"guests-upload": (BytesIO(body), "guests.csv"), "guests-category": category},
        content_type="multipart/form-data",
    )


def _invitation_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Invitation))


def test_csv_upload_is_previewed_like_the_contacts_import(app, client, make_user, login, directory):
    _organiser(make_user, login)
    event = make_event_row(audience="invitation")
    # A known contact (reused, not duplicated), a new guest of a known organisation, a new guest.
    known = db.session.scalar(sa.select(Contact).where(Contact.email == "maria@example.gov.ph"))
    body = (
        "name,email,organisation,position,timezone\n"
        f"Someone Else,{known.email.upper()},,,\n"
        "Lina Ho,lina@example.com,Migrant Care Network,Director,Asia/Singapore\n"
        "Raj Patel,raj@example.in,,,\n"
    ).encode()
    resp = _upload_guests(client, event, body)
    assert resp.status_code == 302 and "/invitations/guests/" in resp.location
    assert _invitation_count() == 0  # the preview saves nothing
    page = client.get(resp.location).get_data(as_text=True)
    assert "The file is fine: 3 people will be invited." in page
    assert "(already in the directory)" in page and "Lina Ho" in page
    contacts_before = db.session.scalar(sa.select(sa.func.count()).select_from(Contact))
    confirm = resp.location + "/confirm"
    done = client.post(confirm)
    assert done.status_code == 302
    assert _emails(event.id) == sorted([known.email, "lina@example.com", "raj@example.in"])
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Contact)) == contacts_before + 2
    lina = db.session.scalar(sa.select(Contact).where(Contact.email == "lina@example.com"))
    assert (lina.organisation_id, lina.position, lina.timezone) == (directory["ngo"].id, "Director", "Asia/Singapore")
    assert db.session.get(Contact, known.id).name == known.name  # an existing contact keeps its data
    inv = db.session.scalar(sa.select(Invitation).where(Invitation.contact_id == lina.id))
    assert inv.category == "observer"
    # The staged file is used once: confirming again is a clear 404.
    again = client.post(confirm)
    assert again.status_code == 404 and "upload the file again" in again.get_data(as_text=True)
    # Uploading people already on the list says so and adds nobody twice.
    resp = _upload_guests(client, event, body)
    page = client.get(resp.location).get_data(as_text=True)
    assert "already invited: skipped" in page
    assert re.search(r"<strong>0</strong>\s*will be invited", page)  # the card counts only new invitations
    assert client.post(resp.location + "/confirm").status_code == 302
    assert _invitation_count() == 3


def test_csv_upload_row_problems_are_named_and_nothing_is_saved(app, client, make_user, login, directory):
    _organiser(make_user, login)
    event = make_event_row(audience="invitation")
    body = (
        b"name,email,organisation,timezone\n"
        b"Lina Ho,lina@example.com,,Asia/Singapore\n"
        b"A,a@example.com,,Asia/Nowhere\n"
        b"B,not-an-address,,\n"
        b"C,c@example.com," + b"Nowhere Institute " * 120 + b",\n"
        b"D,LINA@example.com,,\n"
        b"E,e@example.com,Nowhere Institute,\n"
    )
    resp = _upload_guests(client, event, body)
    assert resp.status_code == 302
    page = client.get(resp.location).get_data(as_text=True)
    assert "4 rows have problems" in page
    # Issue 11: an organisation the directory does not know is no row problem any more (it was:
    # "Unknown organisation"); it will be added for review. A name of 2,000 characters still is.
    assert "new organisation: Nowhere Institute" in page and "civil society, to review" in page
    for expect in (
        "Unknown time zone: Asia/Nowhere",
        "Bad email",
        "The organisation&#39;s name has 2159 characters; at most 200.",
        "Duplicate: the same email as line 2",
    ):
        assert expect in page, expect
    assert "/confirm" not in page  # no button while rows are wrong
    contacts_before = db.session.scalar(sa.select(sa.func.count()).select_from(Contact))
    organisations_before = db.session.scalar(sa.select(sa.func.count()).select_from(Organisation))
    forced = client.post(resp.location + "/confirm")
    assert forced.status_code == 422 and "Nothing was imported" in forced.get_data(as_text=True)
    assert _invitation_count() == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Contact)) == contacts_before
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Organisation)) == organisations_before


def test_csv_upload_bad_files_and_other_people(app, client, make_user, login):
    _organiser(make_user, login)
    event = make_event_row(audience="invitation")
    too_big = b"name,email\n" + b"x,y@example.com\n" * (11 * 1024 * 1024 // 16)
    binary = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 10
    no_email_column = b"name,organisation\nA,B\n"
    for body, expect in ((too_big, "too large"), (binary, "binary"), (no_email_column, "email")):
        resp = _upload_guests(client, event, body)
        assert resp.status_code in (413, 422), resp.status_code
        assert expect in resp.get_data(as_text=True).lower()
    assert _invitation_count() == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Contact)) == 0
    # A staged file belongs to its uploader and its event.
    resp = _upload_guests(client, event, b"name,email\nLina Ho,lina@example.com\n")
    other_event = make_event_row(audience="invitation")
    wrong_event = resp.location.replace(f"/events/{event.id}/", f"/events/{other_event.id}/")
    assert client.get(wrong_event).status_code == 404
    client.post("/logout")
    login(make_user("organiser"))
    assert client.post(resp.location + "/confirm").status_code == 403
    assert _invitation_count() == 0


def test_pasted_csv_with_header_goes_through_the_preview(app, client, make_user, login):
    _organiser(make_user, login)
    event = make_event_row(audience="invitation")
    resp = client.post(
        f"/events/{event.id}/invitations/guests",
        data={"guests-pasted": "name,email\nLina Ho,lina@example.com\n", "guests-category": "speaker"},
    )
    assert resp.status_code == 302 and "/invitations/guests/" in resp.location
    assert client.post(resp.location + "/confirm").status_code == 302
    assert _emails(event.id) == ["lina@example.com"]


def test_send_returns_at_once_worker_queues_in_batches(app, client, make_user, login, mailbox, directory):
    _organiser(make_user, login)
    event = make_event_row(audience="invitation")
    client.post(
        f"/events/{event.id}/invitations/directory", data={"dir-sector": "member_government", "dir-category": "member"}
    )
    t0 = time.perf_counter()
    resp = client.post(f"/events/{event.id}/invitations/send", data={"rest": "1"})
    assert resp.status_code == 302
    assert services.state_counts(event.id)["queued"] == 3
    page = client.get(f"/events/{event.id}/invitations").get_data(as_text=True)
    assert "<progress" in page and 'http-equiv="refresh"' in page
    assert services.send_requested(batch=2) == 3 and time.perf_counter() - t0 < 30
    counts = services.state_counts(event.id)
    assert counts["queued"] == 3 and counts["sent"] == 0  # in the outbox, not delivered yet
    mail.deliver_due()
    counts = services.state_counts(event.id)
    assert counts["sent"] == 3 and counts["queued"] == 0
    msg = mailbox.to("maria@example.gov.ph")[0]
    body = msg.get_body(("plain",)).get_content()
    assert "Asia/Manila" in body and "Asia/Bangkok" in body
    assert re.search(r"http://localhost/i/\S+", body)
    # send to the rest: nobody left; jobs run by the worker do nothing more
    assert jobs.run_scheduled()["invitations"] == 0


def _invite_one(event, email="maria@example.gov.ph", category="member"):
    contact = db.session.scalar(sa.select(Contact).where(Contact.email == email))
    inv = Invitation(event_id=event.id, contact_id=contact.id, category=category)
    db.session.add(inv)
    db.session.commit()
    services.request_send(event.id, actor=None, ids=[inv.id])
    services.send_requested()
    mail.deliver_due()
    return inv


def _link(mailbox, email):
    body = mailbox.to(email)[-1].get_body(("plain",)).get_content()
    return re.findall(r"http://localhost(/i/\S+)", body)


def test_link_opens_prefilled_form_and_registers(app, client, mailbox, directory):
    event = make_event_row(audience="invitation", capacity=10)
    inv = _invite_one(event)
    link, decline_link = _link(mailbox, "maria@example.gov.ph")
    assert decline_link == link + "/decline"
    page = client.get(link).get_data(as_text=True)
    assert 'value="Maria Santos"' in page and 'value="Director"' in page and "maria@example.gov.ph" in page
    db.session.expire_all()
    assert services.shown_state(db.session.get(Invitation, inv.id)) == "sent"  # a GET changes nothing
    assert client.post(link + "/opened").status_code == 204  # the page's beacon (static/js/app.js)
    db.session.expire_all()
    assert services.shown_state(db.session.get(Invitation, inv.id)) == "opened"
    # the email cannot be swapped for another one: the invitation is personal
    resp = client.post(
        link,
        data={
            "name": "Maria Santos",
            "email": "someone.else@example.org",
            "timezone": "Asia/Manila",
            "consent": "y",
        },
    )
    assert resp.status_code == 302
    reg = db.session.scalar(sa.select(Registration))
    assert reg.email == "maria@example.gov.ph" and reg.invitation_id == inv.id and reg.status == "confirmed"
    db.session.expire_all()
    assert db.session.get(Invitation, inv.id).state == "registered"
    # the open registration page refuses people without an invitation
    resp = client.post(
        f"/events/{event.id}/register", data={"name": "X", "email": "x@example.org", "timezone": "UTC", "consent": "y"}
    )
    assert resp.status_code == 403


def test_decline_in_one_click_and_confirm_page(app, client, mailbox, directory):
    event = make_event_row(audience="invitation")
    inv = _invite_one(event)
    link, decline_link = _link(mailbox, "maria@example.gov.ph")
    page = client.get(decline_link)
    assert page.status_code == 200 and "Yes, decline" in page.get_data(as_text=True)
    resp = client.post(decline_link)
    assert resp.status_code == 200 and "declined" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Invitation, inv.id).state == "declined"
    assert services.state_counts(event.id)["declined"] == 1


def test_revoke_kills_the_link_resend_and_expiry(app, client, make_user, login, mailbox, directory):
    event = make_event_row(audience="invitation", registration_closes_at=NOW + timedelta(days=5))
    inv = _invite_one(event)
    link = _link(mailbox, "maria@example.gov.ph")[0]
    _organiser(make_user, login)
    resp = client.post(f"/invitations/{inv.id}/resend")
    assert resp.status_code == 302
    assert services.send_requested() == 1
    mail.deliver_due()
    assert len(mailbox.to("maria@example.gov.ph")) == 2
    db.session.expire_all()
    assert db.session.get(Invitation, inv.id).send_count == 2
    client.post(f"/invitations/{inv.id}/revoke")
    resp = client.get(link)
    assert resp.status_code == 422 and "withdrawn" in resp.get_data(as_text=True)
    assert client.post(f"/invitations/{inv.id}/resend").status_code == 409
    # a second invitation expires when registration closes
    other = _invite_one(event, email="somchai@example.go.th")
    link2 = _link(mailbox, "somchai@example.go.th")[0]
    assert client.get(link2).status_code == 200
    clock.advance(timedelta(days=5, minutes=1))
    resp = client.get(link2)
    assert resp.status_code == 422 and "expired" in resp.get_data(as_text=True)
    resp = client.get(link2[:-4] + "abcd")
    assert resp.status_code == 422
    assert db.session.get(Invitation, other.id) is not None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Registration)) == 0


def test_state_failed_comes_from_the_outbox(app, smtp_server, mailbox, directory):
    event = make_event_row(audience="invitation")
    app.config["MAIL_MAX_ATTEMPTS"] = 1
    smtp_server["handler"].refuse = True
    contact = db.session.scalar(sa.select(Contact).where(Contact.email == "dewi@example.org"))
    inv = Invitation(event_id=event.id, contact_id=contact.id, category="civil_society")
    db.session.add(inv)
    db.session.commit()
    services.request_send(event.id, actor=None, rest=True)
    services.send_requested()
    mail.deliver_due()
    assert services.state_counts(event.id)["failed"] == 1
    with pytest.raises(ValidationFailed):
        services.request_send(event.id, actor=None)


def test_inviting_a_member_government_reaches_its_agencies_people_too(app, directory):
    """The member government filter invites the government's own contacts and the people of its
    agencies (issue 11), and offers only the member governments themselves."""
    th = directory["th"]
    police = Organisation(name="Royal Thai Police", sector="member_government", member_government_id=th.id)
    db.session.add(police)
    db.session.flush()
    officer = Contact(name="Pol. Col. Anan", email="anan@police.example.th", organisation_id=police.id)
    db.session.add(officer)
    db.session.commit()
    ids = set(db.session.scalars(services.directory_candidates(services.DirectoryFilter(member_government_id=th.id))))
    emails = {db.session.get(Contact, i).email for i in ids}
    assert emails == {"somchai@example.go.th", "niran@example.go.th", "anan@police.example.th"}
    offered = dict(directory_services.member_government_choices())
    assert th.id in offered and police.id not in offered
