"""The attendance report parsers, on the shared samples and on the variants in
tests/fixtures/attendance/. Expected minutes are computed by hand from the files' join and
leave times (overlaps counted once, rounded to the nearest minute), not from the platforms'
own rounded duration columns."""

from __future__ import annotations

import codecs
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from webinar_mgr.attendance import parsers as P
from webinar_mgr.csvio import CsvProblem

FIXTURES = Path(__file__).parent / "fixtures" / "attendance"
SAMPLES = FIXTURES / "samples"  # the project's shared samples (../shared/samples/attendance), copied in


def at(y, mo, d, h, mi, tz, s=0):
    return datetime(y, mo, d, h, mi, s, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def people_of(report):
    return {p.name: p for p in P.merge_people(report.sessions)}


@pytest.fixture(autouse=True)
def _ctx(app):
    with app.test_request_context():
        yield


def parse(path, tz, start, **kw):
    return P.parse_report(Path(path).read_bytes(), tz=tz, event_start=start, **kw)


# The shared samples ---------------------------------------------------------------------------


def test_zoom_webinar_sample():
    r = parse(SAMPLES / "zoom-webinar-attendee-report.csv", "Asia/Bangkok", at(2022, 8, 24, 13, 0, "Asia/Bangkok"))
    assert r.format == "zoom_webinar"
    assert r.rows_read == 8  # host, panelist, 5 attendee rows (one "No"), 1 other attended
    people = people_of(r)
    # Maria Santos registered but did not attend (Attended = No, "--" times): not a person present.
    assert set(people) == {
        "Support Office Host",
        "Dana Speaker (Platform Co.)",
        "Siosaia Tupou",
        "Nguyễn Thị Lan",
        "สมชาย ใจดี",
        "+61 2 5550 1234",
    }
    # Siosaia: 13:01:10-13:40:00 (38m50s) + 13:42:30-15:00:00 (77m30s) = 116m20s.
    assert people["Siosaia Tupou"].minutes == 116
    assert len(people["Siosaia Tupou"].sessions) == 2
    assert people["Siosaia Tupou"].first_join == at(2022, 8, 24, 13, 1, "Asia/Bangkok", 10)
    assert people["Siosaia Tupou"].last_leave == at(2022, 8, 24, 15, 0, "Asia/Bangkok")
    assert people["Support Office Host"].minutes == 126  # 12:58:24-15:04:10 = 125m46s
    assert people["Support Office Host"].roles == {"host"}
    assert people["Dana Speaker (Platform Co.)"].minutes == 72  # 12:59:02-14:10:44 = 71m42s
    assert people["Dana Speaker (Platform Co.)"].is_organiser_role
    assert people["Nguyễn Thị Lan"].minutes == 110
    assert people["สมชาย ใจดี"].minutes == 6
    assert people["สมชาย ใจดี"].email == "somchai@gov.example"
    phone = people["+61 2 5550 1234"]
    assert phone.email is None and phone.minutes == 50 and phone.key == "name:+61 2 5550 1234"
    assert r.meta["topic"].startswith("Regional webinar")
    assert r.date_order == "month_first"


def test_zoom_meeting_sample_merges_email_case():
    r = parse(
        SAMPLES / "zoom-meeting-participants.csv", "Asia/Kuala_Lumpur", at(2023, 3, 14, 9, 0, "Asia/Kuala_Lumpur")
    )
    assert r.format == "zoom_meeting"
    assert r.rows_read == 4
    people = people_of(r)
    assert set(people) == {"Support Office Host", "Aisyah Rahman (Ministry of Home Affairs)", "Tevita"}
    aisyah = people["Aisyah Rahman (Ministry of Home Affairs)"]
    # aisyah@ and AISYAH@ are one person: 09:03-10:15 (72) + 10:20-11:00 (40).
    assert aisyah.email == "aisyah@gov.example"
    assert aisyah.minutes == 112 and len(aisyah.sessions) == 2
    assert people["Tevita"].email is None and people["Tevita"].minutes == 30
    # The meeting-data block names the host's email: the host is marked as such.
    assert people["Support Office Host"].roles == {"host"}
    assert people["Support Office Host"].minutes == 123  # 09:00:05-11:02:40 = 122m35s
    assert r.meta["start"] == at(2023, 3, 14, 9, 0, "Asia/Kuala_Lumpur", 5).isoformat()


def test_teams_sample_utf16_sections():
    data = (SAMPLES / "teams-attendance-report.csv").read_bytes()
    assert data.startswith(codecs.BOM_UTF16_LE)
    r = P.parse_report(data, tz="Asia/Seoul", event_start=at(2023, 5, 9, 14, 0, "Asia/Seoul"))
    assert r.format == "teams"
    assert r.rows_read == 4  # the In-Meeting Activities rows
    people = people_of(r)
    # Kim Min-jun: 14:05-14:50 (45) and 15:00-15:20 (20), not the participants table's single span.
    kim = people["Kim Min-jun"]
    assert kim.minutes == 65 and len(kim.sessions) == 2
    assert kim.roles == {"presenter"} and kim.is_organiser_role
    assert people["Chair Person"].minutes == 91  # 14:00:12-15:31:40 = 91m28s
    assert people["Chair Person"].first_join == at(2023, 5, 9, 14, 0, "Asia/Seoul", 12)
    guest = people["Guest Reporter (External)"]
    assert guest.email is None and guest.minutes == 30  # 29m30s rounds to 30
    assert guest.key == "name:guest reporter"
    assert r.date_order == "month_first"  # 5/9/23 is 9 May: the event is on 9 May


def test_teams_sample_day_first_when_the_event_says_so():
    r = parse(SAMPLES / "teams-attendance-report.csv", "Asia/Seoul", at(2023, 9, 5, 14, 0, "Asia/Seoul"))
    assert r.date_order == "day_first"
    assert people_of(r)["Chair Person"].first_join == at(2023, 9, 5, 14, 0, "Asia/Seoul", 12)


def test_the_chosen_zone_decides_utc_times():
    start = at(2022, 8, 24, 13, 0, "Asia/Bangkok")
    bkk = parse(SAMPLES / "zoom-webinar-attendee-report.csv", "Asia/Bangkok", start)
    syd = parse(SAMPLES / "zoom-webinar-attendee-report.csv", "Australia/Sydney", start)
    a, b = people_of(bkk)["Siosaia Tupou"], people_of(syd)["Siosaia Tupou"]
    assert a.first_join - b.first_join == (
        at(2022, 8, 24, 0, 0, "Asia/Bangkok") - at(2022, 8, 24, 0, 0, "Australia/Sydney")
    )
    assert a.minutes == b.minutes


# Variants --------------------------------------------------------------------------------------


def test_zoom_webinar_older_headers_named_dates_overlap_and_custom_columns():
    r = parse(FIXTURES / "zoom-webinar-older-headers.csv", "Asia/Manila", at(2022, 11, 3, 14, 0, "Asia/Manila"))
    assert r.format == "zoom_webinar" and r.rows_read == 5
    people = people_of(r)
    assert set(people) == {"Support Office Host", "José Ramírez", "Ana Lima"}
    # 14:00-14:30 and 14:20-15:00 overlap: 60 minutes, not 70. Emails differ only in case.
    assert people["José Ramírez"].minutes == 60
    assert people["José Ramírez"].email == "jose.ramirez@gov.example"
    assert people["Ana Lima"].email is None and people["Ana Lima"].minutes == 7
    assert r.date_order is None  # "Nov 3, 2022" is not ambiguous


def test_zoom_webinar_newer_headers_phone_source_and_formula_kept_as_text():
    r = parse(FIXTURES / "zoom-webinar-newer-headers.csv", "Asia/Bangkok", at(2023, 3, 15, 13, 0, "Asia/Bangkok"))
    people = people_of(r)
    assert set(people) == {"Host", "=cmd|' /C calc'!A0", "Mele Kaufusi"}
    assert people["=cmd|' /C calc'!A0"].minutes == 45
    assert people["Mele Kaufusi"].minutes == 15


def test_zoom_meeting_without_meeting_data_day_first_blank_line_and_no_emails():
    r = parse(FIXTURES / "zoom-meeting-no-meeting-data.csv", "Asia/Jakarta", at(2022, 11, 5, 9, 0, "Asia/Jakarta"))
    assert r.format == "zoom_meeting" and r.rows_read == 5
    assert r.date_order == "day_first"  # 05/11/2022 is 5 November: the event's day
    people = people_of(r)
    # 09:00-09:40, 09:30-10:10, 10:10-10:30: one stretch 09:00-10:30.
    assert people["Ahmad Fauzi"].minutes == 90 and len(people["Ahmad Fauzi"].sessions) == 3
    assert people["+63 917 555 0199"].email is None
    assert people["Rahel (Ministry of Justice)"].key == "name:rahel"
    # The same file for an event on 11 May reads month-first.
    r2 = parse(FIXTURES / "zoom-meeting-no-meeting-data.csv", "Asia/Jakarta", at(2022, 5, 11, 9, 0, "Asia/Jakarta"))
    assert r2.date_order == "month_first"
    assert people_of(r2)["Ahmad Fauzi"].first_join == at(2022, 5, 11, 9, 0, "Asia/Jakarta")


def test_teams_translated_titles_and_headers_day_first():
    r = parse(
        FIXTURES / "teams-translated-dayfirst.csv", "Asia/Ho_Chi_Minh", at(2022, 11, 3, 9, 30, "Asia/Ho_Chi_Minh")
    )
    assert r.format == "teams" and r.date_order == "day_first"
    people = people_of(r)
    assert people["Lê Văn Hùng"].minutes == 90  # 09:30:17-11:00:00 = 89m43s
    assert people["Lê Văn Hùng"].is_organiser_role  # "Organisateur"
    assert people["Priya Sharma (Unverified)"].minutes == 50  # 30 + 20
    assert people["Priya Sharma (Unverified)"].key == "name:priya sharma"


def test_teams_headers_in_an_unknown_language_recognised_by_structure():
    r = parse(FIXTURES / "teams-unknown-language.csv", "Asia/Jakarta", at(2022, 11, 15, 9, 30, "Asia/Jakarta"))
    assert r.format == "teams" and r.date_order == "day_first"
    people = people_of(r)
    assert {n: p.minutes for n, p in people.items()} == {"Siti Aminah": 60, "Budi Santoso": 15}
    assert people["Budi Santoso"].email == "budi@gov.example"


def test_legacy_teams_joined_left_table():
    r = parse(FIXTURES / "teams-legacy.csv", "Asia/Seoul", at(2023, 5, 9, 14, 0, "Asia/Seoul"))
    assert r.format == "teams_legacy" and r.rows_read == 8
    people = people_of(r)
    assert {n: p.minutes for n, p in people.items()} == {
        "Chair Person": 91,
        "Kim Min-jun": 65,
        "Guest Reporter (External)": 30,
    }
    assert len(people["Kim Min-jun"].sessions) == 2


def test_preamble_trailing_commas_and_header_capitalisation():
    text = (
        "Some export tool v2\nGenerated for the support office\n\n"
        "NAME (ORIGINAL NAME),user email,JOIN TIME,leave time,Duration (minutes),Guest,,,\n"
        "Tevita,,2023-03-14 09:30:00,2023-03-14 10:00:00,30,Yes,,,\n"
    )
    r = P.parse_report(text.encode(), tz="Pacific/Tongatapu", event_start=at(2023, 3, 14, 9, 0, "Pacific/Tongatapu"))
    assert r.format == "zoom_meeting"
    assert people_of(r)["Tevita"].minutes == 30


# Dates, durations, names ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,order,expected",
    [
        ("08/24/2022 12:58:24 PM", "month_first", datetime(2022, 8, 24, 12, 58, 24)),
        ("08/24/2022 12:10:00 AM", "month_first", datetime(2022, 8, 24, 0, 10)),
        ("Aug 24, 2022 12:58:24", "month_first", datetime(2022, 8, 24, 12, 58, 24)),
        ("8/24/22, 1:00:12 PM", "month_first", datetime(2022, 8, 24, 13, 0, 12)),
        ("15/11/22, 09:30:17", "day_first", datetime(2022, 11, 15, 9, 30, 17)),
        ("2022-08-24 12:58:24", "month_first", datetime(2022, 8, 24, 12, 58, 24)),
        ("2022-08-24T12:58:24", "day_first", datetime(2022, 8, 24, 12, 58, 24)),
        ("24 Aug 2022 12:58", "month_first", datetime(2022, 8, 24, 12, 58)),
    ],
)
def test_parse_datetime(text, order, expected):
    assert P.parse_datetime(text, order) == expected


@pytest.mark.parametrize("text", ["15/11/22, 09:30:17", "yesterday", "13/13/2022 10:00", "08/24/2022 13:00 PM"])
def test_parse_datetime_refuses_impossible_month_first(text):
    assert P.parse_datetime(text, "month_first") is None


def test_iso_with_offset_is_kept_aware():
    assert P.parse_datetime("2022-08-24T12:58:24+07:00") == at(2022, 8, 24, 12, 58, "Asia/Bangkok", 24)


@pytest.mark.parametrize(
    "text,minutes",
    [
        ("1h 2m 3s", 62.05),
        ("45m 10s", 45 + 10 / 60),
        ("45m", 45),
        ("126", 126),
        ("1h", 60),
        ("1:02:03", 62.05),
        ("--", None),
        ("", None),
        ("soon", None),
    ],
)
def test_parse_duration(text, minutes):
    got = P.parse_duration(text)
    assert (got is None and minutes is None) or abs(got - minutes) < 1e-9


@pytest.mark.parametrize(
    "name,expected",
    [
        ("Nguyễn Thị Lan", "nguyen thi lan"),
        ("  José   RAMÍREZ ", "jose ramirez"),
        ("Guest Reporter (External)", "guest reporter"),
        ("Priya Sharma (Unverified)", "priya sharma"),
        ("Aisyah Rahman (Ministry of Home Affairs)", "aisyah rahman"),
        ("Đặng Văn Minh", "dang van minh"),
        ("สมชาย ใจดี", "สมชาย ใจดี"),  # Thai vowel signs are letters: kept
        ("김민준", "김민준"),
    ],
)
def test_normalise_name(name, expected):
    assert P.normalise_name(name) == expected


def test_union_counts_overlaps_once():
    def t(h, m):
        return datetime(2023, 1, 1, h, m, tzinfo=UTC)

    assert P.union_seconds([(t(9, 0), t(10, 0)), (t(9, 30), t(10, 30)), (t(11, 0), t(11, 15))]) == 105 * 60
    assert P.union_seconds([(t(9, 0), t(12, 0)), (t(10, 0), t(11, 0))]) == 180 * 60
    assert P.union_seconds([(t(9, 0), t(9, 45)), (t(9, 45), t(10, 0))]) == 60 * 60
    assert P.union_seconds([]) == 0


# Bad input ------------------------------------------------------------------------------------

EVENT = at(2023, 3, 14, 9, 0, "Asia/Kuala_Lumpur")
MEETING_HEADER = "Name (Original Name),User Email,Join Time,Leave Time,Duration (Minutes),Guest\n"


def expect_error(data: bytes, match: str, start=EVENT, tz="Asia/Kuala_Lumpur"):
    with pytest.raises((P.AttendanceFileError, CsvProblem)) as info:
        P.parse_report(data, tz=tz, event_start=start)
    assert match in info.value.message, info.value.message
    return info.value


def test_a_file_in_none_of_the_formats():
    err = expect_error(b"email,name,organisation\na@b.example,A,B\n", "not a Zoom or Teams attendance report")
    assert "Join Time" in err.message and "In-Meeting Activities" in err.message


def test_binary_and_spreadsheet_files():
    expect_error(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary")
    expect_error(b"PK\x03\x04\x14\x00\x06\x00" + bytes(200), "not a CSV report")
    expect_error(b"", "empty")


def test_header_without_rows_is_truncated():
    err = expect_error(MEETING_HEADER.encode(), "no rows")
    assert "line 1" in err.message


def test_a_section_cut_off_is_truncated():
    expect_error(
        (FIXTURES / "teams-truncated.csv").read_bytes(),
        "cut off",
        start=at(2023, 5, 9, 14, 0, "Asia/Seoul"),
        tz="Asia/Seoul",
    )


def test_a_report_for_another_meeting_names_both_dates():
    err = expect_error(
        (SAMPLES / "zoom-meeting-participants.csv").read_bytes(),
        "another meeting",
        start=at(2023, 3, 21, 9, 0, "Asia/Kuala_Lumpur"),
    )
    assert "2023-03-14" in err.message and "2023-03-21" in err.message


def test_unreadable_join_time_and_leave_before_join_are_reported_by_line():
    data = (
        MEETING_HEADER
        + "A,a@x.example,03/14/2023 09:00:00 AM,03/14/2023 10:00:00 AM,60,No\n"
        + "B,b@x.example,half past nine,03/14/2023 10:00:00 AM,30,No\n"
        + "C,c@x.example,03/14/2023 10:00:00 AM,03/14/2023 09:00:00 AM,60,No\n"
        + "D,d@x.example,,03/14/2023 09:00:00 AM,60,No\n"
    ).encode()
    err = expect_error(data, "3 row(s) cannot be imported")
    lines = dict(err.problems)
    assert set(lines) == {3, 4, 5}
    assert "half past nine" in lines[3]
    assert "before joining" in lines[4]
    assert "missing" in lines[5]


def test_too_large():
    big = MEETING_HEADER.encode() + b"x" * (P.MAX_BYTES + 1)
    expect_error(big, "too large")


def test_utf8_bom_and_crlf_are_fine():
    data = (
        codecs.BOM_UTF8
        + (MEETING_HEADER + "Tevita,,03/14/2023 09:30:00 AM,03/14/2023 10:00:00 AM,30,Yes\n")
        .replace("\n", "\r\n")
        .encode()
    )
    r = P.parse_report(data, tz="Asia/Kuala_Lumpur", event_start=EVENT)
    assert people_of(r)["Tevita"].minutes == 30


def test_teams_tenant_without_times_counts_presence_with_a_warning():
    lines = [
        "1. Summary",
        "Meeting title\tClosed session",
        "Start time\t5/9/23, 2:00:12 PM",
        "",
        "2. Participants",
        "Name\tFirst Join\tLast Leave\tIn-Meeting Duration\tEmail\tParticipant ID (UPN)\tRole",
        "Chair Person\t\t\t\tchair@gov.example\tchair@gov.example\tOrganizer",
        "Guest (External)\t\t\t\t\t\tAttendee",
    ]
    data = codecs.BOM_UTF16_LE + "\r\n".join(lines).encode("utf-16-le")
    r = P.parse_report(data, tz="Asia/Seoul", event_start=at(2023, 5, 9, 14, 0, "Asia/Seoul"))
    people = people_of(r)
    assert {n: p.minutes for n, p in people.items()} == {"Chair Person": 0, "Guest (External)": 0}
    assert any("no times" in w for w in r.warnings)


def test_a_row_cut_off_at_the_end_is_reported():
    text = (SAMPLES / "zoom-webinar-attendee-report.csv").read_text(encoding="utf-8-sig")
    cut = text[: text.index("Yes,Nguyễn Thị Lan") + len("Yes,Nguyễn Thị Lan,Lan,Ngu")]
    err = expect_error(
        cut.encode(), "cannot be imported", start=at(2022, 8, 24, 13, 0, "Asia/Bangkok"), tz="Asia/Bangkok"
    )
    assert [line for line, _m in err.problems] == [15]


def test_the_country_column_is_kept():
    """Zoom's Country/Region Name is kept per session and per person (the last one given); reports
    without the column (Zoom meetings, Teams) give None."""
    r = parse(SAMPLES / "zoom-webinar-attendee-report.csv", "Asia/Bangkok", at(2022, 8, 24, 13, 0, "Asia/Bangkok"))
    people = people_of(r)
    assert people["Siosaia Tupou"].country == "Tonga"
    assert [s.country for s in people["Siosaia Tupou"].rows] == ["Tonga", "Tonga"]
    assert people["Nguyễn Thị Lan"].country == "Viet Nam" and people["+61 2 5550 1234"].country == "Australia"
    older = parse(FIXTURES / "zoom-webinar-older-headers.csv", "Asia/Manila", at(2022, 11, 3, 14, 0, "Asia/Manila"))
    assert people_of(older)["Ana Lima"].country == "Timor-Leste"
    teams = parse(SAMPLES / "teams-attendance-report.csv", "Asia/Seoul", at(2023, 5, 9, 14, 0, "Asia/Seoul"))
    assert {p.country for p in people_of(teams).values()} == {None}
