"""The co-chairs' statement (issue 17): sentences generated from the review's figures, membership
as on a past date, versions, downloads (PDF, DOCX) and bad input. Dataset: tests/review_dataset.py
(E1 15 Jan 2026: Thailand and the Philippines attended, one private-sector guest; E2 10 Mar: Thailand,
Viet Nam and Fiji; E3 20 May: Thailand and the Philippines)."""

from __future__ import annotations

import io
import subprocess
from datetime import date

import pytest
import sqlalchemy as sa
from docx import Document

from tests.review_dataset import build_dataset, utc
from webinar_mgr.attendance.models import AttendanceRecord
from webinar_mgr.directory.membership import end_membership, is_member_on, members_on, record_membership
from webinar_mgr.directory.models import Organisation, WorkingGroupMembership
from webinar_mgr.errors import ValidationFailed
from webinar_mgr.extensions import db
from webinar_mgr.registrations.models import Registration
from webinar_mgr.reports import services, statement
from webinar_mgr.reports.models import StatementVersion

PERIOD = {"from": "2026-01-01", "to": "2026-06-30"}
START, END = date(2026, 1, 1), date(2026, 6, 30)


@pytest.fixture
def data(app):
    d = build_dataset()
    d["orgs"]["fiji"].country_code = "FJ"
    db.session.commit()
    return d


@pytest.fixture
def cochair(data, make_user, login):
    user = make_user("cochair", name="Co-Chair Ana")
    login(user)
    return user


def events_text():
    return statement.generate(statement.statement_data(START, END))["events"]


# Sentences from the data ------------------------------------------------------------------------


def test_event_sentences_match_the_review(data):
    text = events_text()
    paras = text.split("\n\n")
    assert len(paras) == 3
    assert paras[0].startswith(
        "In January 2026, the Working Group held “Technology and trafficking” (Regional webinar)."
    )
    assert (
        "The event brought together 2 Working Group members and 1 representative of the private sector. "
        "In all, 3 people attended of 5 registered." in paras[0]
    )
    assert (
        "The event brought together 2 Working Group members and 1 other Bali Process member (from the Pacific: Fiji). "
        "In all, 3 people attended of 4 registered." in paras[1]
    )
    assert "2 Working Group members. In all, 2 people attended of 3 registered." in paras[2]
    # the same figures as the review for the period
    review = services.period_review(START, END)
    assert [f.attended for f in review.event_funnels] == [3, 3, 2]
    assert [f.registered for f in review.event_funnels] == [5, 4, 3]


def test_sentences_change_when_attendance_changes(data):
    before = events_text().split("\n\n")[0]
    io_reg = db.session.scalar(
        sa.select(Registration).where(Registration.event_id == data["e1"].id, Registration.email == "io1@example.org")
    )
    record = db.session.scalar(sa.select(AttendanceRecord).where(AttendanceRecord.registration_id == io_reg.id))
    record.attended = True  # the IOM participant now counts as present
    db.session.commit()
    after = events_text().split("\n\n")[0]
    assert after != before
    assert (
        "2 Working Group members, 1 representative of the private sector, and 1 representative of an "
        "international organisation (IOM). In all, 4 people attended of 5 registered." in after
    )


def test_membership_as_on_a_past_date(data, make_user):
    admin = make_user("admin")
    viet = data["orgs"]["viet"]
    # Viet Nam's membership recorded with dates: it joined on 1 April 2026 (after E2).
    db.session.execute(sa.delete(WorkingGroupMembership).where(WorkingGroupMembership.organisation_id == viet.id))
    db.session.commit()
    db.session.refresh(viet)
    record_membership(viet, joined_on=date(2026, 4, 1), left_on=None, actor=admin)
    assert viet.working_group_member is True  # a member today (30 June)
    assert not is_member_on(viet, date(2026, 3, 10)) and is_member_on(viet, date(2026, 4, 1))
    assert viet.id not in members_on(date(2026, 3, 10)) and viet.id in members_on(date(2026, 6, 1))
    paras = events_text().split("\n\n")
    # E2 (10 March): Thailand was a member, Viet Nam not yet, Fiji never.
    assert "1 Working Group member and 2 other Bali Process members" in paras[1]
    assert "Viet Nam" in paras[1]
    # the event review counts the members of that day too
    review = services.event_review(data["e2"].id)
    assert review.wg_total == 2 and review.wg_present == 1
    # Thailand leaves on 1 June: still counted for E3 (20 May), and the grid's star follows the period's end
    thai = data["orgs"]["thai"]
    end_membership(thai, thai.memberships[0].id, left_on=date(2026, 6, 1), actor=admin)
    assert thai.working_group_member is False
    assert "2 Working Group members" in events_text().split("\n\n")[2]
    grid = {m.id: m.working_group_member for m in services.period_review(START, END).members}
    assert grid[thai.id] is False and grid[viet.id] is True
    grid_may = {m.id: m.working_group_member for m in services.period_review(START, date(2026, 5, 31)).members}
    assert grid_may[thai.id] is True


def test_the_flag_becomes_dated_memberships(app):
    org = Organisation(name="Tonga", sector="member_government", working_group_member=True)
    db.session.add(org)
    db.session.commit()
    assert [(m.joined_on, m.left_on) for m in org.memberships] == [(None, None)]
    from webinar_mgr import clock

    clock.freeze(utc(2026, 7, 1))
    org.working_group_member = False
    db.session.commit()
    assert [(m.joined_on, m.left_on) for m in org.memberships] == [(None, date(2026, 7, 1))]
    clock.freeze(utc(2026, 9, 1))
    org.working_group_member = True
    db.session.commit()
    assert [(m.joined_on, m.left_on) for m in org.memberships] == [(None, date(2026, 7, 1)), (date(2026, 9, 1), None)]
    assert not is_member_on(org, date(2026, 8, 1)) and is_member_on(org, date(2026, 6, 1))


def test_membership_bad_input(data, make_user):
    admin = make_user("admin")
    thai = data["orgs"]["thai"]
    with pytest.raises(ValidationFailed):  # overlaps the open membership
        record_membership(thai, joined_on=date(2020, 1, 1), left_on=date(2021, 1, 1), actor=admin)
    with pytest.raises(ValidationFailed):
        record_membership(data["orgs"]["priv"], joined_on=date(2020, 1, 1), left_on=None, actor=admin)
    with pytest.raises(ValidationFailed):
        record_membership(data["orgs"]["fiji"], joined_on=date(2022, 1, 1), left_on=date(2021, 1, 1), actor=admin)
    assert db.session.scalar(sa.select(sa.func.count(WorkingGroupMembership.id))) == 3


def test_other_sections(data):
    texts = statement.generate(statement.statement_data(START, END))
    assert texts["commitments"].startswith(
        "Participants pledged 5 voluntary commitments at 2 events held in this period. "
        "2 delivered, 1 in progress, 1 not yet started and 1 withdrawn."
    )
    assert "Commitments delivered include:" in texts["commitments"]
    assert "• Open session on online scams" not in texts["upcoming"]
    assert "“Open session on online scams”" in texts["upcoming"]
    assert "“Annual meeting 2026” (October 2026, dates to be confirmed)" in texts["upcoming"]
    assert texts["implementation"].startswith(
        "Between January 1, 2026 and June 30, 2026, the Working Group held 3 events."
    )


def test_a_period_with_no_events_says_so_and_names_the_nearest(data):
    d = statement.statement_data(date(2025, 6, 1), date(2025, 12, 31))
    text = statement.generate(d)["events"]
    assert "No event was held between June 1, 2025 and December 31, 2025." in text
    assert "“Annual meeting 2025”, held on March 1, 2025" in text
    assert "“Technology and trafficking”, on January 15, 2026" in text


# Pages, versions, downloads -------------------------------------------------------------------


def _post(client, data, **extra):
    page = client.get("/review/statement", query_string=PERIOD)
    assert page.status_code == 200
    form = {"base_version": extra.pop("base_version", "")}  # CSRF is off in the testing config
    form.update({k: v for k, v in statement.load_statement(START, END).texts.items()})
    form.update(data)
    return client.post("/review/statement?from=2026-01-01&to=2026-06-30", data=form, **extra)


def test_save_versions_and_script_stays_text(client, cochair, data, tmp_path):
    page = client.get("/review/statement", query_string=PERIOD)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "2 Working Group members and 1 representative of the private sector" in html
    evil = "Dear colleagues <script>alert('x')</script> <b>bold</b>"
    resp = _post(client, {"recommendations": evil, "action": "save"})
    assert resp.status_code == 302
    v1 = db.session.scalar(sa.select(StatementVersion))
    assert v1.number == 1 and v1.created_by_name == "Co-Chair Ana" and v1.sections["recommendations"] == evil
    html = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "<script>alert" not in html and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "Version 1, saved by Co-Chair Ana" in html
    # a second save without the base version (someone else's page) is refused, nothing saved
    stale = _post(client, {"recommendations": "other", "action": "save"})
    assert stale.status_code == 409
    assert db.session.scalar(sa.select(sa.func.count(StatementVersion.id))) == 1
    ok = _post(client, {"recommendations": evil + " v2", "action": "save", "base_version": str(v1.id)})
    assert ok.status_code == 302
    assert [v.number for v in statement.versions_for(START, END)] == [2, 1]
    # the PDF and the DOCX carry the text as typed
    pdf = client.get("/review/statement.pdf", query_string=PERIOD)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    path = tmp_path / "test.pdf"
    with open(path, "wb") as fh:
        fh.write(pdf.data)
    text = subprocess.run(["pdftotext", "-layout", path, "-"], capture_output=True, text=True, check=True).stdout
    assert "<script>alert('x')</script> <b>bold</b> v2" in text
    assert "3 people attended of 5 registered" in " ".join(text.split())
    fonts = subprocess.run(["pdffonts", path], capture_output=True, text=True, check=True).stdout
    assert "Noto" in fonts
    docx = client.get("/review/statement.docx", query_string=PERIOD)
    assert docx.status_code == 200
    doc = Document(io.BytesIO(docx.data))
    body = "\n".join(p.text for p in doc.paragraphs)
    assert "<script>alert('x')</script> <b>bold</b> v2" in body
    assert "2 Working Group members and 1 representative of the private sector" in body


def test_refresh_one_section_from_the_data(client, cochair, data):
    resp = _post(client, {"events": "my own words", "commitments": "mine too", "action": "refresh:events"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "3 people attended of 5 registered" in html and "mine too" in html and "my own words" not in html
    assert db.session.scalar(sa.select(sa.func.count(StatementVersion.id))) == 0


def test_stale_sections_are_flagged(client, cochair, data):
    assert _post(client, {"action": "save"}).status_code == 302
    html = client.get("/review/statement", query_string=PERIOD).get_data(as_text=True)
    assert 'id="stale-events"' not in html
    reg = db.session.scalar(
        sa.select(Registration).where(Registration.event_id == data["e3"].id, Registration.email == "viet1@example.org")
    )
    db.session.add(
        AttendanceRecord(
            event_id=data["e3"].id, registration_id=reg.id, name="v", minutes=50, attended=True, match="email"
        )
    )
    db.session.commit()
    html = client.get("/review/statement", query_string=PERIOD).get_data(as_text=True)
    assert 'id="stale-events"' in html and 'id="stale-outputs"' not in html


def test_bad_input(client, cochair, data, make_user):
    # a version of another period
    assert _post(client, {"action": "save"}).status_code == 302
    v1 = db.session.scalar(sa.select(StatementVersion))
    other = client.get("/review/statement", query_string={"from": "2026-01-01", "to": "2026-03-31", "version": v1.id})
    assert other.status_code == 400
    assert "is a version of the statement for 2026-01-01 to 2026-06-30" in other.get_data(as_text=True)
    assert client.get("/review/statement", query_string={**PERIOD, "version": "99999"}).status_code == 404
    assert client.get("/review/statement", query_string={**PERIOD, "version": "abc"}).status_code == 404
    assert client.get("/review/statement", query_string={"from": "2026-02-30"}).status_code == 400
    assert (
        client.get("/review/statement.pdf", query_string={"from": "2026-07-01", "to": "2026-01-01"}).status_code == 400
    )
    assert client.get("/review/statement.docx", query_string={**PERIOD, "version": "99999"}).status_code == 404
    # too long a section: 400/422, nothing saved
    resp = _post(client, {"events": "x" * 20_001, "action": "save", "base_version": str(v1.id)})
    assert resp.status_code == 422 and "too long" in resp.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(StatementVersion.id))) == 1


def test_participants_cannot_open_the_statement(client, data, make_user, login):
    login(make_user("participant"))
    assert client.get("/review/statement", query_string=PERIOD).status_code == 403
    assert client.get("/review/statement.docx", query_string=PERIOD).status_code == 403
    assert client.get("/review/membership", query_string=PERIOD).status_code == 403


# Comparison and membership review ----------------------------------------------------------------


def test_comparison_with_the_previous_period(client, cochair, data):
    review = services.period_review(date(2026, 1, 1), date(2026, 6, 30))
    comparison = services.compare_with_previous(review)
    assert (comparison.previous_start, comparison.previous_end) == (date(2025, 7, 4), date(2025, 12, 31))
    rows = {r[0]: r[1:] for r in comparison.table.rows}
    assert rows["Events held"] == [3, 0, "+3"]
    assert rows["Participants (attendances)"] == [8, 0, "+8"]
    wide = services.compare_with_previous(services.period_review(date(2025, 7, 1), date(2026, 6, 30)))
    rows = {r[0]: r[1:] for r in wide.table.rows}
    assert rows["Events held"] == [3, 1, "+2"]  # the 2025 annual meeting falls in the year before
    assert rows["Member governments that attended"] == [4, 1, "+3"]
    html = client.get("/review", query_string=PERIOD).get_data(as_text=True)
    assert "Compared with the previous period of the same length" in html


def test_membership_review(client, cochair, data):
    resp = client.get("/review/membership", query_string=PERIOD)
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    from webinar_mgr.reports.membership_review import membership_review

    rows = {r.name: r for r in membership_review(START, END).rows}
    phil = rows["Philippines"]
    assert (phil.invited, phil.attended, phil.missed) == (1, 2, 1)  # E2: registered, did not come
    assert phil.last_took_part == date(2026, 5, 20)
    viet = rows["Viet Nam"]
    assert (viet.invited, viet.attended, viet.missed) == (1, 1, 2)
    fiji = rows["Fiji"]
    assert not fiji.working_group and fiji.attended == 1 and fiji.last_took_part == date(2026, 3, 10)
    assert "Other Bali Process members (1)" in html and "Working Group members (3)" in html
    assert client.get("/review/membership", query_string={"from": "x"}).status_code == 400


@pytest.mark.parametrize(
    "start,end",
    [
        (date(2026, 1, 1), date(2026, 6, 30)),
        (date(2025, 1, 1), date(2026, 12, 31)),
        (date(2026, 3, 1), date(2026, 3, 31)),
    ],
)
def test_previous_period_figures_are_the_reviews(data, start, end):
    assert services.period_figures(start, end) == services.comparison_figures(services.period_review(start, end))


def test_demo_technology_webinar_sentence(migrated, app, smtp_server):
    """The demo's technology webinar: the sentence's counts by membership and sector are those of
    the registrations and attendance records themselves (counted here by hand, row by row)."""
    from webinar_mgr import clock, create_app
    from webinar_mgr.events.models import Event

    dev = create_app(
        "development",
        SQLALCHEMY_DATABASE_URI=migrated,
        PASSWORD_HASH_FAST=True,
        MAIL_BACKEND="smtp",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp_server["port"],
        BASE_URL="http://localhost",
    )
    ctx = dev.test_request_context()
    ctx.push()
    try:
        assert dev.test_cli_runner().invoke(args=["seed-demo", "--quiet"]).exit_code == 0
        webinar = db.session.scalar(
            sa.select(Event).where(Event.status == "held", Event.title.ilike("%technology%")).order_by(Event.id)
        )
        assert webinar is not None
        day = webinar.starts_at.date()
        # by hand: every registration of the webinar with an attendance record marked attended
        attended_ids = set(
            db.session.scalars(
                sa.select(AttendanceRecord.registration_id).where(
                    AttendanceRecord.event_id == webinar.id, AttendanceRecord.attended.is_(True)
                )
            )
        )
        regs = db.session.scalars(sa.select(Registration).where(Registration.event_id == webinar.id)).all()
        came = [r for r in regs if r.id in attended_ids]
        members = {r.member_government_id for r in came if r.member_government_id}
        wg = {m for m in members if m in members_on(day)}
        per_sector = {}
        for r in came:
            per_sector[r.sector] = per_sector.get(r.sector, 0) + 1
        assert len(wg) > 0 and per_sector.get("private_sector")
        clock.freeze(webinar.starts_at.replace(year=webinar.starts_at.year + 1))
        d = statement.statement_data(day, day)
        text = statement.generate(d)["events"]
        assert f"brought together {len(wg)} Working Group member" in text
        others = len(members - wg)
        if others:
            assert f"{others} other Bali Process member" in text
        n = per_sector["private_sector"]
        assert f"{n} representative{'s' if n > 1 else ''} of the private sector" in text
        if per_sector.get("civil_society"):
            n = per_sector["civil_society"]
            assert f"{n} representative{'s' if n > 1 else ''} of civil society" in text
        active = [r for r in regs if r.status in ("pending", "confirmed", "waitlisted")]
        assert f"attended of {len(active)} registered" in text
        assert f"In all, {len(came)} people attended" in text
        assert (
            "held “The role of technology in facilitating and combating trafficking in persons” (Regional webinar)"
            in text
        )
    finally:
        clock.unfreeze()
        db.session.remove()
        ctx.pop()


def test_organisers_record_membership_periods_on_the_organisation_page(client, data, make_user, login):
    login(make_user("organiser"))
    fiji = data["orgs"]["fiji"]
    page = client.get(f"/directory/organisations/{fiji.id}").get_data(as_text=True)
    assert "Never a member of the Working Group" in page
    bad = client.post(
        f"/directory/organisations/{fiji.id}/membership", data={"joined_on": "2026-05-01", "left_on": "2026-04-01"}
    )
    assert bad.status_code == 422 and "must come after the date of joining" in bad.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(WorkingGroupMembership.id))) == 3
    ok = client.post(f"/directory/organisations/{fiji.id}/membership", data={"joined_on": "2026-03-01"})
    assert ok.status_code == 302
    db.session.expire_all()
    assert fiji.working_group_member is True and is_member_on(fiji, date(2026, 3, 10))
    assert "From March 1, 2026 to today" in client.get(f"/directory/organisations/{fiji.id}").get_data(as_text=True)
    # E2 (10 March) now counts Fiji among the Working Group members
    assert "3 Working Group members. In all, 3 people attended of 4 registered." in events_text().split("\n\n")[1]


def test_pdf_with_the_activity_report_appended(client, cochair, data, tmp_path):
    plain = client.get("/review/statement.pdf", query_string=PERIOD)
    annexed = client.get("/review/statement.pdf", query_string={**PERIOD, "annex": "1"})
    assert annexed.status_code == 200
    pages = {}
    for name, resp in (("plain", plain), ("annexed", annexed)):
        path = tmp_path / f"{name}.pdf"
        path.write_bytes(resp.data)
        info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
        pages[name] = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
        text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
        assert "Meetings and regional webinars held" in text
        assert ("Stopped coming" in text) == (name == "annexed")  # the activity report's grid
    assert pages["annexed"] >= pages["plain"] + 3
