"""Issue 11: one guest followed from the invitation box to the co-chairs' figures, and at each
step counted under the right member government and sector.

Srey Pov is pasted into the invitation box with an organisation the directory does not know; Aung
Aung of Myanmar is pasted without one and picks "Myanmar" on the registration form. Both register
through their personal links, two attendance reports of the same webinar are imported (merged, and
the first again changes nothing), and then the registrations export, the co-chairs' grid and
sectors, the review's exports and the activity report PDF all count them right."""

from __future__ import annotations

import csv
import io
import re
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests.factories import make_event_row
from webinar_mgr import clock
from webinar_mgr.attendance import services as attendance
from webinar_mgr.directory import seed as directory_seed
from webinar_mgr.directory.models import Contact, Organisation
from webinar_mgr.events.models import STATUS_HELD
from webinar_mgr.extensions import db
from webinar_mgr.invitations import services as invitations
from webinar_mgr.invitations.models import Invitation
from webinar_mgr.mail import services as mail
from webinar_mgr.persistence import unit_of_work
from webinar_mgr.registrations.models import Registration
from webinar_mgr.reports import services as reports

START = datetime(2027, 3, 10, 3, 0, tzinfo=UTC)  # 10:00 in Bangkok
SREY = "srey.pov@example-cso.org"
AUNG = "aung.aung@mofa.example.mm"


def _zoom_report(rows: list[tuple[str, str, str, str, str]]) -> bytes:
    """A Zoom webinar attendee report: (name, email, join, leave, country), times HH:MM in Bangkok."""
    day = "03/10/2027"

    def stamp(hhmm: str) -> str:
        h, m = (int(x) for x in hhmm.split(":"))
        return f"{day} {h % 12 or 12:02d}:{m:02d}:00 {'AM' if h < 12 else 'PM'}"

    lines = [
        "Attendee Report,,,,,,,",
        "Topic,Webinar ID,Actual Start Time,Actual Duration (minutes),# Registrants,Unique Viewers,,",
        f"Regional webinar on safe migration,999 888 777,{stamp('10:00')},60,2,2,,",
        "Host Details,,,,,,,",
        "Attended,User Name (Original Name),Email,Join Time,Leave Time,Time in Session (minutes),Is Guest,"
        "Country/Region Name",
        f"Yes,Host,host@rso.example,{stamp('09:55')},{stamp('11:05')},70,No,Thailand",
        "Attendee Details,,,,,,,",
        "Attended,User Name (Original Name),Email,Join Time,Leave Time,Time in Session (minutes),Is Guest,"
        "Country/Region Name",
    ]
    for name, email, join, leave, country in rows:
        (jh, jm), (lh, lm) = ((int(x) for x in join.split(":")), (int(x) for x in leave.split(":")))
        minutes = (lh * 60 + lm) - (jh * 60 + jm)
        lines.append(f"Yes,{name},{email},{stamp(join)},{stamp(leave)},{minutes},Yes,{country}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def _link(mailbox, address: str) -> str:
    body = mailbox.to(address)[-1].get_body(("plain",)).get_content()
    return re.findall(r"http://localhost(/i/\S+)", body)[0]


def _csv_rows(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


@pytest.fixture
def members(app):
    with unit_of_work():
        directory_seed.seed(lambda *_a, **_k: None)  # the 45 member governments, with countries
    return {o.name: o for o in db.session.scalars(sa.select(Organisation))}


def test_a_guest_is_counted_under_their_organisation_from_invitation_to_the_report(
    app, client, make_user, login, mailbox, members
):
    clock.freeze(START - timedelta(days=20))
    try:
        event = make_event_row(
            title="Regional webinar on safe migration",
            audience="invitation",
            starts_at=START,
            ends_at=START + timedelta(hours=1),
            timezone="Asia/Bangkok",
            capacity=50,
        )
        db.session.commit()
        organiser = make_user("organiser")
        login(organiser)

        # 1. The organiser pastes two guests; the organisation typed for Srey is kept.
        resp = client.post(
            f"/events/{event.id}/invitations/guests",
            data={
                "guests-pasted": f"ស្រី ពៅ, {SREY.replace('srey.pov', 'Srey.Pov')}, Khmer Women Network\n"
                f"Aung Aung, {AUNG}",
                "guests-category": "civil_society",
            },
        )
        assert resp.status_code == 302
        srey = db.session.scalar(sa.select(Contact).where(Contact.email == SREY))
        assert srey.organisation.name == "Khmer Women Network"
        assert srey.organisation.sector == "civil_society" and srey.organisation.needs_review
        aung = db.session.scalar(sa.select(Contact).where(Contact.email == AUNG))
        assert aung.organisation is None  # pasted without one: the form will ask

        # 2. Invitations go out; both register through their personal links.
        assert client.post(f"/events/{event.id}/invitations/send", data={"rest": "1"}).status_code == 302
        invitations.send_requested()
        mail.deliver_due()
        client.post("/logout")
        resp = client.post(_link(mailbox, SREY), data={"name": "ស្រី ពៅ", "timezone": "Asia/Phnom_Penh", "consent": "y"})
        assert resp.status_code == 302
        # Aung first forgets the organisation: told so, nothing saved.
        aung_link = _link(mailbox, AUNG)
        resp = client.post(aung_link, data={"name": "Aung Aung", "timezone": "Asia/Yangon", "consent": "y"})
        assert resp.status_code == 422 and "Give your organisation" in resp.get_data(as_text=True)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Registration)) == 1
        myanmar = members["Myanmar"]
        resp = client.post(
            aung_link,
            data={
                "name": "Aung Aung",
                "timezone": "Asia/Yangon",
                "consent": "y",
                "organisation_id": str(myanmar.id),
            },
        )
        assert resp.status_code == 302

        regs = {r.email: r for r in db.session.scalars(sa.select(Registration))}
        assert regs[SREY].organisation.name == "Khmer Women Network" and regs[SREY].sector == "civil_society"
        assert regs[SREY].member_government_id is None
        assert regs[AUNG].sector == "member_government" and regs[AUNG].member_government_id == myanmar.id
        db.session.expire_all()
        assert db.session.scalar(sa.select(Contact.organisation_id).where(Contact.email == AUNG)) == myanmar.id
        assert {i.state for i in db.session.scalars(sa.select(Invitation))} == {"registered"}

        # The registrations export carries organisation, sector and member government.
        login(organiser)
        rows = {r["email"]: r for r in _csv_rows(client.get(f"/events/{event.id}/registrations.csv").data)}
        assert rows[AUNG]["member_government"] == "Myanmar" and rows[AUNG]["sector"] == "Member government"
        assert rows[SREY]["organisation"] == "Khmer Women Network" and rows[SREY]["sector"] == "Civil society"

        # 3. The webinar is held; two reports of it are imported and merged.
        clock.freeze(START + timedelta(hours=3))
        event.status = STATUS_HELD
        db.session.commit()
        first = _zoom_report([("ស្រី ពៅ", SREY, "10:00", "10:30", "Cambodia")])
        second = _zoom_report(
            [("ស្រី ពៅ", SREY, "10:40", "11:00", "Cambodia"), ("Aung Aung", AUNG, "10:02", "10:58", "Myanmar")]
        )
        attendance.import_file(event, "first.csv", first, tz="Asia/Bangkok", actor=organiser)
        after_first = attendance.event_counts(event)
        attendance.import_file(event, "second.csv", second, tz="Asia/Bangkok", actor=organiser)
        merged = attendance.event_counts(event)
        assert merged.attended_registrations == after_first.attended_registrations + 1 == 2
        with pytest.raises(attendance.AlreadyImported):  # the same report again changes nothing
            attendance.import_file(event, "first-again.csv", first, tz="Asia/Bangkok", actor=organiser)
        assert attendance.event_counts(event) == merged
        srey_record = [r for r in attendance.records(event) if r.email == SREY][0]
        assert srey_record.minutes == 50 and srey_record.attended  # 30 + 20 minutes, both reports

        # 4. The co-chairs' review counts each under the right member government and sector.
        period = (START.date() - timedelta(days=30), START.date() + timedelta(days=1))
        review = reports.period_review(*period)
        grid = {m.name: m for m in review.members}
        assert grid["Myanmar"].cells == [(1, 1)] and grid["Myanmar"].events_attended == 1
        assert grid["Cambodia"].cells == [(0, 0)]  # Srey is civil society, not counted as a government
        # the sectors table: one row per event, a column per sector (attended)
        sectors = dict(zip([str(c.label) for c in review.sectors.columns], review.sectors.rows[0], strict=True))
        assert sectors["Civil society"] == 1 and sectors["Member government"] == 1 and sectors["Total"] == 2
        assert review.uncounted_attended == 0

        # ... in its exports ...
        co_chair = make_user("cochair")
        client.post("/logout")
        login(co_chair)
        args = f"from={period[0].isoformat()}&to={period[1].isoformat()}"
        grid_rows = _csv_rows(client.get(f"/review/export/grid.csv?{args}").data)
        myanmar_row = [r for r in grid_rows if r["Member government"].startswith("Myanmar")][0]
        cambodia_row = [r for r in grid_rows if r["Member government"].startswith("Cambodia")][0]
        assert (myanmar_row["Events attended"], cambodia_row["Events attended"]) == ("1", "0")
        sector_rows = _csv_rows(client.get(f"/review/export/sectors.csv?{args}").data)
        assert [(r["Civil society"], r["Member government"]) for r in sector_rows] == [("1", "1")]

        # ... and in the activity report PDF.
        pdf = client.get(f"/review/activity-report.pdf?{args}")
        assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
        text = subprocess.run(["pdftotext", "-", "-"], input=pdf.data, capture_output=True, check=True).stdout
        text = text.decode("utf-8")
        assert "Myanmar" in text and "Civil society" in text
    finally:
        clock.unfreeze()


def test_a_walk_in_is_counted_under_the_member_government_zoom_names(app, client, make_user, login, members):
    """Nguyen Van An joined without registering; Zoom says he joined from Viet Nam. The organiser
    adds him as a walk-in from the row: the form proposes Viet Nam, he is a ministry's official,
    and the co-chairs' grid counts Viet Nam as present."""
    clock.freeze(START + timedelta(hours=3))
    try:
        event = make_event_row(
            title="Regional webinar on safe migration",
            audience="open",
            starts_at=START,
            ends_at=START + timedelta(hours=1),
            timezone="Asia/Bangkok",
            status=STATUS_HELD,
        )
        db.session.commit()
        organiser = make_user("organiser")
        report = _zoom_report([("Nguyen Van An", "an.nguyen@molisa.example.vn", "10:05", "10:55", "Vietnam")])
        attendance.import_file(event, "zoom.csv", report, tz="Asia/Bangkok", actor=organiser)
        row = [r for r in attendance.records(event) if r.email == "an.nguyen@molisa.example.vn"][0]
        assert row.registration_id is None and row.country == "Vietnam"
        viet_nam = members["Viet Nam"]

        login(organiser)
        url = f"/events/{event.id}/attendance/rows/{row.id}/walk-in"
        page = client.get(url).get_data(as_text=True)
        assert f'<option selected value="{viet_nam.id}">Viet Nam</option>' in page  # proposed from Zoom
        resp = client.post(
            url,
            data={
                "name": "Nguyen Van An",
                "email": "an.nguyen@molisa.example.vn",
                "organisation_name": "Ministry of Labour, Invalids and Social Affairs",
                "sector": "member_government",
                "country_code": "VN",
                "member_government_id": str(viet_nam.id),
            },
        )
        assert resp.status_code == 302
        reg = db.session.scalar(sa.select(Registration).where(Registration.email == "an.nguyen@molisa.example.vn"))
        assert reg.sector == "member_government" and reg.member_government_id == viet_nam.id
        assert reg.organisation.name == "Ministry of Labour, Invalids and Social Affairs"
        assert reg.organisation.member_government_id == viet_nam.id and reg.organisation.needs_review

        review = reports.period_review(START.date() - timedelta(days=30), START.date() + timedelta(days=1))
        grid = {m.name: m for m in review.members}
        assert grid["Viet Nam"].events_attended == 1 and review.uncounted_attended == 0
    finally:
        clock.unfreeze()
