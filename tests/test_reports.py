"""The co-chairs' review: funnels, Working Group presence, the member grid, "stopped coming",
period validation, exports, charts and the rule that the number of queries does not grow with
the number of events.

The dataset is built by hand with the models (the other modules' services are not needed) and
every expected number below is counted by hand from it (see ``build_dataset`` in tests/review_dataset.py).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from tests.review_dataset import FORMULA_TITLE, NOW, THAI, build_dataset, utc
from webinar_mgr import clock
from webinar_mgr.attendance.models import AttendanceRecord
from webinar_mgr.commitments.models import Commitment
from webinar_mgr.directory.models import Contact, Organisation
from webinar_mgr.events.models import Event, EventKind
from webinar_mgr.extensions import db
from webinar_mgr.registrations.models import Registration
from webinar_mgr.reports import services
from webinar_mgr.reports.services import BadPeriod


@pytest.fixture
def data(app):
    return build_dataset()


def rows_by_first(table):
    return {str(r[0]): r for r in table.rows}


# Per event ------------------------------------------------------------------------------------


def test_event_funnel_counts_and_rates(data):
    review = services.event_review(data["e1"].id)
    f = review.funnel
    assert (f.invited, f.registered, f.confirmed, f.invited_registered, f.attended) == (6, 5, 3, 4, 3)
    assert f.registration_rate == pytest.approx(4 / 6)
    assert f.attendance_rate == pytest.approx(3 / 5)

    sectors = rows_by_first(review.by_sector)
    # sector: invited, registered, confirmed, attended, invited-who-registered rate, attendance rate
    assert sectors["Member government"][1:5] == [4, 3, 1, 2]
    assert sectors["Member government"][5] == pytest.approx(3 / 4)
    assert sectors["Private sector"][1:5] == [1, 1, 1, 1]
    assert sectors["Civil society"][1:5] == [1, 0, 0, 0]
    assert sectors["Civil society"][6] is None  # nobody registered: no rate
    assert sectors["International organisation"][1:5] == [0, 1, 1, 0]
    assert sectors["Total"][1:5] == [6, 5, 3, 3]


def test_event_by_member_and_working_group_presence(data):
    review = services.event_review(data["e1"].id)
    members = rows_by_first(review.by_member)
    assert members[THAI][1:5] == [2, 2, 1, 1]
    assert members["Philippines"][1:5] == [1, 0, 0, 1]
    assert members["Viet Nam"][1:5] == [1, 1, 0, 0]
    assert "Fiji" not in members  # revoked invitation, rejected registration

    wg = rows_by_first(review.working_group)
    assert set(wg) == {THAI, "Philippines", "Viet Nam"}  # Fiji is not a Working Group member
    assert wg[THAI][1] == "Present" and wg["Philippines"][1] == "Present"
    assert wg["Viet Nam"][1] == "Absent"
    assert (review.wg_present, review.wg_total) == (2, 3)
    # present members are listed first
    assert review.working_group.row_classes == ["present", "present", "absent"]


def test_event_commitments_by_state(data):
    review = services.event_review(data["e1"].id, today=NOW.date())
    rows = rows_by_first(review.commitments)
    # columns: pledged, in progress, delivered, withdrawn, total, overdue
    assert rows[THAI][1:] == [1, 0, 1, 0, 2, 1]
    assert rows["Others (not a member government)"][1:] == [0, 1, 0, 0, 1, 0]
    assert rows["Total"][1:] == [1, 1, 1, 0, 3, 1]


def test_unknown_event_is_not_found(app):
    from webinar_mgr.errors import NotFound

    with pytest.raises(NotFound):
        services.event_review(999)


# Across a period ------------------------------------------------------------------------------


def test_period_review_counts_only_held_events_in_the_period(data):
    review = services.period_review(date(2026, 1, 1), date(2026, 6, 30), now=NOW)
    assert [e.title for e in review.events] == ["Technology and trafficking", "COVID-19 recovery", FORMULA_TITLE]
    assert [(f.registered, f.attended) for f in review.event_funnels] == [(5, 3), (4, 3), (3, 2)]
    assert (review.total.registered, review.total.attended, review.total.invited) == (12, 8, 6)

    grid = {m.name: m for m in review.members}
    assert grid[THAI].cells == [(1, 2), (1, 1), (1, 1)]
    assert grid["Philippines"].cells == [(1, 0), (0, 1), (1, 1)]
    assert grid["Viet Nam"].cells == [(0, 1), (1, 1), (0, 1)]
    assert grid["Fiji"].cells == [(0, 0), (1, 1), (0, 0)]
    assert grid[THAI].events_attended == 3 and review.members_present == 4

    sectors = rows_by_first(review.sectors)
    header = review.sectors.header
    assert header[1:] == ["Member government", "Private sector", "International organisation", "Total"]
    assert sectors["E1"][1:] == [2, 1, 0, 3]
    assert sectors["E2"][1:] == [3, 0, 0, 3]
    assert sectors["E3"][1:] == [2, 0, 0, 2]

    ce = rows_by_first(review.commitments_events)
    assert ce["E1"][2:] == [1, 1, 1, 0, 3, 1, pytest.approx(1 / 3)]
    assert ce["E2"][2:] == [0, 0, 1, 1, 2, 0, 1.0]
    assert ce["E3"][2:] == [0, 0, 0, 0, 0, 0, None]
    cm = rows_by_first(review.commitments_members)
    assert cm[THAI][1:] == [1, 0, 1, 0, 2, 1, 0.5]
    assert cm["Fiji"][1:] == [0, 0, 1, 0, 1, 0, 1.0]


def test_sectors_per_quarter(data):
    review = services.period_review(date(2026, 1, 1), date(2026, 6, 30), group="quarter", now=NOW)
    rows = rows_by_first(review.sectors)
    assert list(rows) == ["2026 Q1", "2026 Q2"]
    assert rows["2026 Q1"][-1] == 6 and rows["2026 Q2"][-1] == 2


def test_stopped_coming_detection(data):
    last1 = services.period_review(date(2026, 1, 1), date(2026, 6, 30), last_n=1, now=NOW)
    assert sorted(m.name for m in last1.stopped) == ["Fiji", "Viet Nam"]
    assert "stopped" in last1.grid.row_classes

    last2 = services.period_review(date(2026, 1, 1), date(2026, 6, 30), last_n=2, now=NOW)
    assert last2.stopped == []  # Viet Nam and Fiji only came to E2, one of the last two

    # with no more events than N there is no "earlier" to compare with
    short = services.period_review(date(2026, 3, 1), date(2026, 6, 30), last_n=2, now=NOW)
    assert len(short.events) == 2 and short.stopped == []


def test_parse_period_defaults_and_errors():
    today = date(2026, 6, 30)
    assert services.parse_period(None, None, today) == (date(2025, 7, 1), today)
    assert services.parse_period("2026-01-01", "", today) == (date(2026, 1, 1), today)
    assert services.parse_period("2026-01-01", "2026-01-01", today) == (date(2026, 1, 1), date(2026, 1, 1))
    for bad in (
        ("2026-13-01", None),
        ("yesterday", None),
        (None, "2026-02-30"),
        ("2026-05-01", "2026-04-30"),
        ("1900-01-01", "2026-01-01"),
        ("9999-12-31", "9999-12-31"),
        ("0001-01-01", "0001-01-02"),
    ):
        with pytest.raises(BadPeriod):
            services.parse_period(*bad, today)
    with pytest.raises(BadPeriod, match="after it ends"):
        services.parse_period("2026-05-01", "2026-04-30", today)
    assert services.parse_last_n("3") == 3
    for bad in ("0", "13", "x"):
        with pytest.raises(BadPeriod):
            services.parse_last_n(bad)


# Pages, exports, charts -----------------------------------------------------------------------


@pytest.fixture
def cochair(data, make_user, login):
    user = make_user("cochair")
    login(user)
    return user


PERIOD = {"from": "2026-01-01", "to": "2026-06-30"}


def test_review_page_shows_the_period(client, cochair, data):
    resp = client.get("/review", query_string={**PERIOD, "last": "1"})
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "Technology and trafficking" in html and "Annual meeting 2025" not in html
    assert "Stopped coming:" in html and "Viet Nam" in html
    assert f"/review/events/{data['e1'].id}" in html
    assert "/review/chart/attendance.svg" in html and "activity-report.pdf" in html
    assert FORMULA_TITLE not in html and "=HYPERLINK(&#34;" in html  # titles are escaped


@pytest.mark.parametrize(
    "args, message",
    [
        ({"from": "2026-02-31"}, "not a valid"),
        ({"from": "not-a-date", "to": "2026-01-01"}, "not a valid"),
        ({"from": "2026-06-30", "to": "2026-01-01"}, "after it ends"),
        ({**PERIOD, "last": "99"}, "between 1 and"),
        ({"from": "9999-12-31", "to": "9999-12-31"}, "must be between"),
    ],
)
def test_bad_period_is_a_400_with_a_message(client, cochair, args, message):
    resp = client.get("/review", query_string=args)
    assert resp.status_code == 400
    assert message in resp.get_data(as_text=True)
    for url in ("/review/export/events.csv", "/review/chart/sectors.svg", "/review/activity-report.pdf"):
        resp = client.get(url, query_string=args)
        assert resp.status_code == 400, url
        assert message in resp.get_data(as_text=True)


def test_event_review_page(client, cochair, data):
    resp = client.get(f"/review/events/{data['e1'].id}")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "Working Group members present" in html and "Absent" in html
    assert client.get("/review/events/999999").status_code == 404


def test_participants_cannot_see_the_review(client, data, make_user, login):
    login(make_user("participant"))
    assert client.get("/review").status_code == 403
    assert client.get(f"/review/events/{data['e1'].id}").status_code == 403
    assert client.get("/review/activity-report.pdf").status_code == 403


def test_csv_export_parses_and_neutralises_formulas(client, cochair, data):
    resp = client.get("/review/export/events.csv", query_string=PERIOD)
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(resp.get_data().decode("utf-8-sig"))))
    assert rows[0][:3] == ["#", "Date", "Event"]
    titles = [r[2] for r in rows[1:]]
    assert "Technology and trafficking" in titles
    assert "'" + FORMULA_TITLE in titles and FORMULA_TITLE not in titles
    first = next(r for r in rows if r[2] == "Technology and trafficking")
    assert first[5:11] == ["6", "5", "3", "3", "66.7", "60.0"]

    grid = list(
        csv.reader(
            io.StringIO(client.get("/review/export/grid.csv", query_string=PERIOD).get_data().decode("utf-8-sig"))
        )
    )
    thai = next(r for r in grid if r[0].startswith(THAI))
    assert thai[1:5] == ["1 of 2", "1 of 1", "1 of 1", "3"]
    # The page's "E1" is explained beside the grid; the file names each event in full (issue 16).
    assert grid[0][1] == "E1 · 2026-01-15 · Technology and trafficking"
    assert grid[0][3].startswith("E3 · 2026-05-20 · ")
    resp = client.get("/review/export/sectors.csv", query_string=PERIOD)
    assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"  # one charset, not two
    sectors = list(csv.reader(io.StringIO(resp.get_data().decode("utf-8-sig"))))
    assert sectors[1][0] == "E1 · 2026-01-15 · Technology and trafficking"


def test_xlsx_export_opens_with_openpyxl(client, cochair, data):
    resp = client.get("/review/export/commitments_events.xlsx", query_string=PERIOD)
    assert resp.status_code == 200
    ws = load_workbook(io.BytesIO(resp.get_data())).active
    values = [[c.value for c in row] for row in ws.iter_rows()]
    assert values[0][:2] == ["#", "Event"]
    assert values[3][1] == "'" + FORMULA_TITLE  # text, not a formula
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)
    assert values[1][2:8] == [1, 1, 1, 0, 3, 1]

    resp = client.get(f"/review/events/{data['e1'].id}/export/working_group.xlsx")
    ws = load_workbook(io.BytesIO(resp.get_data())).active
    rows = {r[0]: r[1] for r in ws.iter_rows(min_row=2, values_only=True)}
    assert rows == {"Philippines": "Present", THAI: "Present", "Viet Nam": "Absent"}
    assert client.get("/review/export/nothing.csv", query_string=PERIOD).status_code == 404
    assert client.get("/review/export/events.pdf", query_string=PERIOD).status_code == 404


def test_charts_are_svg_without_scripts(client, cochair, data):
    for url in (
        "/review/chart/attendance.svg",
        "/review/chart/sectors.svg",
        "/review/chart/commitments.svg",
        "/review/chart/members.svg",
        f"/review/events/{data['e1'].id}/chart/funnel.svg",
        f"/review/events/{data['e1'].id}/chart/sectors.svg",
    ):
        resp = client.get(url, query_string=PERIOD)
        assert resp.status_code == 200, url
        assert resp.mimetype == "image/svg+xml"
        svg = resp.get_data(as_text=True)
        assert svg.startswith("<svg") and "<script" not in svg
        assert "<title>" in svg and "<desc>" in svg
        assert "script-src" not in resp.headers["Content-Security-Policy"]
    svg = client.get("/review/chart/members.svg", query_string=PERIOD).get_data(as_text=True)
    assert THAI in svg
    assert client.get("/review/chart/pie.svg", query_string=PERIOD).status_code == 404


# The number of queries does not grow with the number of events -------------------------------


def add_events(count, start):
    """More held events, each with a registration, an attendance and a commitment."""
    kind = db.session.scalar(sa.select(EventKind))
    org = db.session.scalar(sa.select(Organisation).where(Organisation.name == "Philippines"))
    contact = db.session.scalar(sa.select(Contact).where(Contact.email == "phil1@example.org"))
    for i in range(count):
        e = Event(
            title=f"Extra {i}",
            kind=kind,
            status="held",
            timezone="UTC",
            starts_at=start + timedelta(days=i),
            ends_at=start + timedelta(days=i, hours=1),
        )
        e.convenors.append(org)
        db.session.add(e)
        db.session.flush()
        r = Registration(
            event_id=e.id,
            contact_id=contact.id,
            email=contact.email,
            name=contact.name,
            sector="member_government",
            member_government_id=org.id,
            status="confirmed",
        )
        db.session.add(r)
        db.session.flush()
        db.session.add(AttendanceRecord(event_id=e.id, registration_id=r.id, name=r.name, minutes=30, attended=True))
        db.session.add(
            Commitment(
                event_id=e.id,
                contact_id=contact.id,
                member_government_id=org.id,
                kind="campaign",
                description="c",
                target_date=date(2026, 12, 1),
                nonce="n",
            )
        )
    db.session.commit()


def count_queries(client, urls):
    from tests.support import QueryCounter

    counts = {}
    for url in urls:
        with QueryCounter(db.engine) as counter:
            resp = client.get(url)
        assert resp.status_code == 200, url
        counts[url] = counter.count
    return counts


def test_query_count_does_not_grow_with_events(client, cochair, data):
    period = "from=2026-01-01&to=2026-06-30"
    urls = [
        f"/review?{period}",
        f"/review?{period}&group=quarter",
        f"/review/events/{data['e1'].id}",
        f"/review/export/grid.csv?{period}",
        f"/review/chart/members.svg?{period}",
        f"/review/activity-report.pdf?{period}",
    ]
    with_3 = count_queries(client, urls)
    add_events(9, utc(2026, 6, 1))
    db.session.expire_all()
    review = services.period_review(date(2026, 1, 1), date(2026, 6, 30), now=NOW)
    assert len(review.events) == 12
    with_12 = count_queries(client, urls)
    assert with_12 == with_3
    # (issue 17: the activity report's comparison with the previous period adds 3, membership dates 1;
    # issue 19: counting the held events to decide whether to build it in the background, 1)
    assert max(with_3.values()) < 25


def test_empty_period_points_to_the_span_when_events_were_held(client, cochair, data):
    clock.freeze(NOW)
    assert services.held_history() == (date(2025, 3, 1), date(2026, 5, 20))
    html = client.get("/review", query_string={"from": "2024-01-01", "to": "2024-12-31"}).get_data(as_text=True)
    assert 'id="no-events-hint"' in html
    assert 'href="/review?from=2025-03-01&amp;to=2026-05-20"' in html
    # following the hint shows the events
    html = client.get("/review", query_string={"from": "2025-03-01", "to": "2026-05-20"}).get_data(as_text=True)
    assert "Annual meeting 2025" in html and 'id="no-events-hint"' not in html
    # a period with events shows no hint
    html = client.get("/review", query_string={"from": "2026-01-01", "to": "2026-06-30"}).get_data(as_text=True)
    assert 'id="no-events-hint"' not in html


def test_no_hint_when_nothing_was_ever_held(app, client, make_user, login):
    login(make_user("cochair"))
    assert services.held_history() is None
    html = client.get("/review").get_data(as_text=True)
    assert 'id="no-events-hint"' not in html


def test_convenors_read_as_on_the_event_page(app):
    """One rule (Event.convenors_text) for the event page, the agenda PDF, the review, its
    exports, the activity report and the certificates: the organiser's wording when given, else
    the organisations as a list; never both one after the other (the review page and the report
    printed "Australia, Indonesia Co-Chairs Australia and Indonesia")."""
    thai = Organisation(name="Thailand", short_name="TH", sector="member_government")
    malaysia = Organisation(name="Malaysia", sector="member_government")
    e = Event(title="Seminar", kind=EventKind(code="x", label="X"), timezone="UTC", status="held")
    e.convenors.extend([thai, malaysia])
    with app.test_request_context():
        assert e.convenors_text() == "Thailand and Malaysia"
        assert e.convenors_text(short=True) == "TH and Malaysia"
        e.convenor_note = "Malaysia and the Regional Support Office"
        assert e.convenors_text() == e.convenors_text(short=True) == "Malaysia and the Regional Support Office"


def test_the_review_and_the_report_name_the_convenors_once(client, cochair, data):
    event = data["e1"]
    org = Organisation(name="Mekong Partners Alliance", sector="civil_society")
    db.session.add(org)
    event.convenors.append(org)
    event.convenor_note = "Tonga and the Regional Support Office"
    db.session.commit()
    page = client.get(f"/review/events/{event.id}").get_data(as_text=True)
    assert "Tonga and the Regional Support Office" in page
    assert "Mekong Partners Alliance" not in page
    from webinar_mgr.reports import pdf  # import here: WeasyPrint's module, only this test needs it

    html = pdf.activity_report_html(services.activity_report(date(2026, 1, 1), date(2026, 6, 30)))
    assert "Tonga and the Regional Support Office" in html
    assert "Mekong Partners Alliance" not in html


def test_default_period_moves_to_the_last_event_held_when_the_last_year_is_empty(client, cochair, data, login):
    clock.freeze(datetime(2029, 6, 30, 12, 0, tzinfo=UTC))  # three years after the last event
    login(cochair)  # sessions end after hours (issue 12): the co-chair signs in again, three years on
    # the last event "held" is the open session of 1 August 2026 (scheduled, and in the past by then)
    assert services.resolve_period(None, None) == (date(2025, 8, 2), date(2026, 8, 1), True)
    assert services.resolve_period("2029-01-01", None)[2] is False  # a period asked for is kept
    html = client.get("/review").get_data(as_text=True)
    assert 'id="shifted-hint"' in html and "August 1, 2026" in html
    assert "Technology and trafficking" in html and 'id="no-events-hint"' not in html
    # the charts, exports and the PDF link use the same period
    assert "activity-report.pdf?from=2025-08-02&amp;to=2026-08-01" in html
    grid = client.get("/review/export/events.csv").get_data(as_text=True)
    assert "Technology and trafficking" in grid
    # an explicit empty period still says so, and points to the whole span
    html = client.get("/review", query_string={"from": "2029-01-01", "to": "2029-06-30"}).get_data(as_text=True)
    assert 'id="shifted-hint"' not in html and 'id="no-events-hint"' in html


# The grid in parts (issue 19) -----------------------------------------------------------------


def test_a_long_grid_is_shown_in_parts_with_the_same_cells(client, cochair, data, monkeypatch):
    from webinar_mgr.reports import views

    add_events(30, utc(2025, 12, 10))  # 22 in December 2025, 8 in January 2026, plus the dataset's
    db.session.expire_all()
    review = services.period_review(date(2025, 12, 1), date(2026, 6, 30), now=NOW)
    parts = services.grid_parts(review)
    assert [p.key for p in parts] == ["2025", "2026"] and sum(p.events for p in parts) == len(review.events)
    # Every cell is in exactly one part, in the same order, with its event's code.
    for m_index, member in enumerate(review.members):
        cells = [c for p in parts for c in p.table.rows[m_index][1:-1]]
        assert cells == member.cells
    codes = [c.label for p in parts for c in p.table.columns[1:-1]]
    assert codes == [services.event_code(i) for i in range(len(review.events))]
    summary = services.grid_summary(review)
    assert [r[1] for r in summary.rows] == [m.events_attended for m in review.members]

    period = {"from": "2025-12-01", "to": "2026-06-30"}
    html = client.get("/review", query_string=period).get_data(as_text=True)
    assert html.count('<details class="grid-part"') == 2 and '<details class="grid-part" id="grid-2026" open>' in html
    assert 'id="table-grid-2025"' in html and '<th scope="row">' in html
    # Beyond the cells shown at once, one part is on the page and the others are links.
    monkeypatch.setattr(views, "GRID_CELLS_AT_ONCE", 10)
    html = client.get("/review", query_string={**period, "grid": "2025"}).get_data(as_text=True)
    assert html.count('<details class="grid-part"') == 1 and 'id="grid-2025" open' in html
    assert "grid=2026" in html and 'id="table-grid-2026"' not in html
