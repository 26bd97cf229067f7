"""Reading the attendance reports that Zoom and Microsoft Teams export.

The format is detected from the file's structure and column headings (not from its file name
or translated titles): Zoom webinar attendee report, Zoom meeting participants report, Teams
attendance report (UTF-16, tab-separated, numbered sections) and the older Teams single table
(Full Name / User Action / Timestamp).

Forgiving about layout (BOM, preamble lines, blank lines, trailing commas, extra columns,
header spelling), strict about meaning: a row whose join time cannot be read, or that leaves
before it joins, is reported with its line number and nothing is imported.

Everything here is pure (no database): :func:`parse_report` turns bytes into sessions,
:func:`merge_people` turns sessions into one entry per person with the minutes present.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from webinar_mgr import csvio
from webinar_mgr.errors import ValidationFailed

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 200_000
# A report whose times are further than this from the event is for another meeting.
EVENT_TOLERANCE = timedelta(days=1)

FORMAT_LABELS = {
    "zoom_webinar": _l("Zoom webinar attendee report"),
    "zoom_meeting": _l("Zoom meeting participants report"),
    "teams": _l("Microsoft Teams attendance report"),
    "teams_legacy": _l("Microsoft Teams attendance list (older single-table format)"),
}
DATE_ORDER_LABELS = {
    "month_first": _l("month before day (e.g. 08/24/2022)"),
    "day_first": _l("day before month (e.g. 24/08/2022)"),
}
ORGANISER_ROLES = {
    "host",
    "co-host",
    "panelist",
    "organizer",
    "organiser",
    "co-organizer",
    "presenter",
    "organisateur",
    "présentateur",
    "organizador",
    "presentador",
    "organisator",
    "moderator",
    "penyelenggara",
    "penyaji",
}

# Column headings (normalised: lower case, single spaces) and the field each one means.
_COLUMNS = {
    "name": {
        "name",
        "name (original name)",
        "user name",
        "user name (original name)",
        "full name",
        "participant",
        "participant name",
        "display name",
        "nom",
        "nombre",
        "nome",
        "teilnehmer",
        "nom complet",
        "nombre completo",
    },
    "email": {
        "email",
        "user email",
        "e-mail",
        "email address",
        "courriel",
        "adresse e-mail",
        "correo electrónico",
        "e-mail-adresse",
    },
    "reg_email": {"registration email"},
    "upn": {"participant id (upn)"},
    "join": {
        "join time",
        "first join",
        "join",
        "joined",
        "heure d'arrivée",
        "première arrivée",
        "hora de unión",
        "primera unión",
        "beitrittszeit",
        "erster beitritt",
    },
    "leave": {
        "leave time",
        "last leave",
        "leave",
        "left",
        "heure de départ",
        "dernier départ",
        "hora de salida",
        "última salida",
        "verlassenszeit",
        "letztes verlassen",
    },
    "duration": {
        "time in session (minutes)",
        "duration (minutes)",
        "duration",
        "in-meeting duration",
        "durée",
        "durée de la réunion",
        "duración",
        "dauer",
        "attendance duration",
    },
    "role": {"role", "rôle", "rol", "rolle"},
    # Zoom writes the country each participant joined from; Teams has no such column today, but a
    # tenant's export or a translated heading is taken when present.
    "country": {"country/region name", "country/region", "country", "pays", "pays/région", "país", "land"},
    "attended": {"attended"},
    "action": {"user action"},
    "timestamp": {"timestamp"},
}
_HEADING_TO_FIELD = {h: f for f, names in _COLUMNS.items() for h in names}
_NO_VALUE = {"", "--", "-", "n/a"}

_SECTION_RE = re.compile(r"^\s*(\d{1,2})\s*[.)]\s*\S")
_NUMERIC_DATE_RE = re.compile(
    r"^(\d{1,4})[/.\-](\d{1,2})[/.\-](\d{1,4}),?\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp]\.?[Mm]\.?)?$"
)
_MONTHS = {
    m: i
    for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)
}
_NAMED_DATE_RE = re.compile(
    r"^([A-Za-z]{3})[a-z]*\.?\s+(\d{1,2}),?\s+(\d{4}),?\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?$"
)
_NAMED_DATE_DAY_FIRST_RE = re.compile(
    r"^(\d{1,2})\s+([A-Za-z]{3})[a-z]*\.?,?\s+(\d{4}),?\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?$"
)
# Dates with the month's name, and the groups of the month and the day in each.
_NAMED_DATES = ((_NAMED_DATE_RE, 1, 2), (_NAMED_DATE_DAY_FIRST_RE, 2, 1))
_DURATION_RE = re.compile(r"^(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?\s*(?:(\d+)\s*s)?$", re.I)
_CLOCK_DURATION_RE = re.compile(r"^(\d+):(\d{2})(?::(\d{2}))?$")
_PARENS_RE = re.compile(r"\s*[(\[（][^()\[\]（）]*[)\]）]")
_SPACES_RE = re.compile(r"\s+")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class AttendanceFileError(ValidationFailed):
    """The report cannot be imported; ``problems`` lists (line, message) for row-level errors."""

    def __init__(self, message: str, problems: list[tuple[int, str]] | None = None):
        super().__init__(message)
        self.problems = problems or []


@dataclass
class SessionRow:
    line: int
    name: str
    email: str | None
    join: datetime | None  # aware UTC
    leave: datetime | None
    duration: float | None  # minutes as written in the report
    role: str = "attendee"
    country: str | None = None  # as the platform writes it (Zoom's Country/Region Name)


@dataclass
class ParsedReport:
    format: str
    sessions: list[SessionRow]
    rows_read: int
    date_order: str | None = None
    timezone: str = "UTC"
    meta: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def format_label(self) -> str:
        return str(FORMAT_LABELS[self.format])

    @property
    def date_order_label(self) -> str | None:
        return str(DATE_ORDER_LABELS[self.date_order]) if self.date_order else None


@dataclass
class Person:
    key: str
    name: str
    email: str | None
    minutes: int
    first_join: datetime | None
    last_leave: datetime | None
    sessions: list[tuple[datetime | None, datetime | None, str, int]]  # join, leave, role, line
    roles: set[str]
    lines: list[int]
    rows: list[SessionRow] = field(default_factory=list)  # the sessions as read, in time order
    country: str | None = None  # the last country the platform gave for this person

    @property
    def is_organiser_role(self) -> bool:
        return bool(self.roles & ORGANISER_ROLES)


# Names -----------------------------------------------------------------------------------------


def _strip_marks(text: str) -> str:
    """Remove accents from Latin/Greek/Cyrillic letters only (Thai or Devanagari vowel signs
    are letters of their own and stay)."""
    out: list[str] = []
    prev_base = ""
    for ch in unicodedata.normalize("NFKD", text):
        if unicodedata.combining(ch):
            if prev_base and ord(prev_base) < 0x0590:
                continue
            out.append(ch)
            continue
        prev_base = ch
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out))


def normalise_name(name: str) -> str:
    """For matching: parenthesised suffixes removed, accents removed, case folded, spaces collapsed."""
    text = _PARENS_RE.sub(" ", name or "")
    text = _strip_marks(text).replace("đ", "d").replace("Đ", "D").casefold()
    return _SPACES_RE.sub(" ", text).strip()


def person_key(name: str, email: str | None) -> str:
    if email:
        return "email:" + email.strip().lower()
    return "name:" + normalise_name(name)


# Dates and durations --------------------------------------------------------------------------


def _hour(hour: int, ampm: str | None) -> int | None:
    if ampm:
        ampm = ampm.replace(".", "").lower()
        if not 1 <= hour <= 12:
            return None
        if ampm == "am":
            return 0 if hour == 12 else hour
        return 12 if hour == 12 else hour + 12
    return hour if 0 <= hour <= 23 else None


def _make(year: int, month: int, day: int, hour: int | None, minute: int, second: int) -> datetime | None:
    if hour is None:
        return None
    if year < 100:
        year += 2000
    try:
        return datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None


def parse_datetime(text: str, order: str = "month_first") -> datetime | None:
    """A report date as written (no zone) -> naive datetime, or None if it cannot be read.

    ``order`` decides slashed numeric dates: "month_first" (8/24/22) or "day_first" (24/8/22).
    ISO dates with an offset come back aware.
    """
    text = (text or "").strip()
    if not text:
        return None
    m = _NUMERIC_DATE_RE.match(text)
    if m:
        return _numeric_date(m, order)
    for pattern, month_group, day_group in _NAMED_DATES:
        m = pattern.match(text)
        if m and m.group(month_group).lower() in _MONTHS:
            return _named_date(m, month_group, day_group)
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _numeric_date(m: re.Match, order: str) -> datetime | None:
    """A date written in numbers: year first (2022/08/24), else month or day first as ``order`` says."""
    a, b, c = m.group(1), m.group(2), m.group(3)
    hour = _hour(int(m.group(4)), m.group(7))
    minute, second = int(m.group(5)), int(m.group(6) or 0)
    if len(a) == 4:  # 2022/08/24 or 2022-08-24 13:00
        return _make(int(a), int(b), int(c), hour, minute, second)
    if order == "day_first":
        return _make(int(c), int(b), int(a), hour, minute, second)
    return _make(int(c), int(a), int(b), hour, minute, second)


def _named_date(m: re.Match, month_group: int, day_group: int) -> datetime | None:
    """A date with the month's name (Aug 24, 2022 or 24 Aug 2022); the year and time groups are
    in the same places in both patterns."""
    return _make(
        int(m.group(3)),
        _MONTHS[m.group(month_group).lower()],
        int(m.group(day_group)),
        _hour(int(m.group(4)), m.group(7)),
        int(m.group(5)),
        int(m.group(6) or 0),
    )


def is_order_ambiguous(text: str) -> bool:
    m = _NUMERIC_DATE_RE.match((text or "").strip())
    return bool(m) and len(m.group(1)) != 4


def parse_duration(text: str) -> float | None:
    """'1h 2m 3s', '45m 10s', '45m', '126' (minutes), '1:02:03' -> minutes."""
    text = (text or "").strip()
    if text.lower() in _NO_VALUE:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    m = _CLOCK_DURATION_RE.match(text)
    if m:
        return int(m.group(1)) * 60 + int(m.group(2)) + int(m.group(3) or 0) / 60
    m = _DURATION_RE.match(text)
    if m and any(m.groups()):
        h, mi, s = (int(g or 0) for g in m.groups())
        return h * 60 + mi + s / 60
    return None


# Reading the file into rows ---------------------------------------------------------------------


def _norm_heading(text: str) -> str:
    return _SPACES_RE.sub(" ", (text or "").replace("\ufeff", "").strip().lower())


def _rows(text: str) -> tuple[list[tuple[int, list[str]]], str]:
    """All lines as (line number, cells without trailing empties); blank lines give []."""
    sample = [ln for ln in text[:20000].splitlines() if ln.strip()][:40]
    counts = {d: sum(ln.count(d) for ln in sample) for d in ("\t", ",", ";")}
    delimiter = max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, list[str]]] = []
    try:
        start = 1
        for cells in reader:
            cells = [c.replace("\ufeff", "").strip() for c in cells]
            while cells and cells[-1] == "":
                cells.pop()
            rows.append((start, cells))
            start = reader.line_num + 1
            if len(rows) > MAX_ROWS:
                raise AttendanceFileError(_("Too many rows: the limit is %(n)d.", n=MAX_ROWS))
    except csv.Error as exc:
        raise AttendanceFileError(
            _("The file is not valid CSV near line %(line)d: %(error)s", line=reader.line_num, error=str(exc))
        ) from None
    return rows, delimiter


@dataclass
class _Table:
    title: str
    section: int | None
    header_line: int
    columns: dict[str, int]  # field -> column index
    headings: list[str]
    rows: list[tuple[int, list[str]]]
    summary: bool = False


def _columns(cells: list[str]) -> dict[str, int]:
    cols: dict[str, int] = {}
    for i, c in enumerate(cells):
        f = _HEADING_TO_FIELD.get(_norm_heading(c))
        if f and f not in cols:
            cols[f] = i
    return cols


def _is_people_header(cols: dict[str, int]) -> bool:
    if {"name", "action", "timestamp"} <= cols.keys():
        return True
    return "name" in cols and ("join" in cols or "leave" in cols or "duration" in cols)


def _looks_like_date(text: str) -> bool:
    return parse_datetime(text) is not None or parse_datetime(text, "day_first") is not None


def _read_sections(rows: list[tuple[int, list[str]]]) -> tuple[list[_Table], dict[str, str], list[tuple[int, str]]]:
    """Read the sections: the tables of people (header + rows), the key/value summary lines, and
    the titles (a line of one cell; it ends the table before it and may number a section)."""
    tables: list[_Table] = []
    summary: dict[str, str] = {}
    titles: list[tuple[int, str]] = []
    title, section = "", None
    current: _Table | None = None
    pending_header: list[str] | None = None  # a summary header (Zoom) awaiting its row
    for i, (line, cells) in enumerate(rows):
        if not cells:
            continue  # blank lines inside a table are tolerated; titles and headers end tables
        if len(cells) == 1:
            title, current = cells[0], None
            titles.append((line, title))
            section = _section_number(title, section)
            continue
        following = rows[i + 1][1] if i + 1 < len(rows) else None
        header = _table_header(line, cells, title, section, current, following)
        if header is not None:
            current = header
            tables.append(current)
        elif current is not None:
            current.rows.append((line, cells))
        else:
            pending_header = _summary_line(summary, cells, pending_header)
    return tables, summary, titles


def _section_number(title: str, section: int | None) -> int | None:
    """The number of a numbered section's title ("2. Participants"); other titles keep the section."""
    m = _SECTION_RE.match(title)
    return int(m.group(1)) if m else section


def _table_header(
    line: int,
    cells: list[str],
    title: str,
    section: int | None,
    current: _Table | None,
    following: list[str] | None,
) -> _Table | None:
    """The table of people whose header row this is, or None.

    A header row has the headings of a people table. In a numbered section without a table yet, a
    row followed by a name and two dates is a header in a language we do not know: its columns
    are taken by position (name, join, leave, and duration when there is a fourth)."""
    # Data rows carry times (digits); only rows without digits can be headings (fast path).
    if current is None or not any(ch.isdigit() for c in cells for ch in c):
        cols = _columns(cells)
        if _is_people_header(cols):
            return _Table(title=title, section=section, header_line=line, columns=cols, headings=cells, rows=[])
    if current is not None or section is None or len(cells) < 3 or following is None:
        return None
    if not (len(following) >= 3 and _looks_like_date(following[1])):
        return None
    if not (_looks_like_date(following[2]) or following[2] == ""):
        return None
    positional = {"name": 0, "join": 1, "leave": 2}
    if len(cells) >= 4:
        positional["duration"] = 3
    return _Table(title=title, section=section, header_line=line, columns=positional, headings=cells, rows=[])


def _summary_line(summary: dict[str, str], cells: list[str], pending_header: list[str] | None) -> list[str] | None:
    """Summary material outside the tables: "Key<TAB>value" lines (Teams) or a heading row then a
    value row (Zoom). Returns the heading row still waiting for its values."""
    if len(cells) == 2 and not _columns(cells):
        summary.setdefault(_norm_heading(cells[0]).rstrip(":"), cells[1])
        return pending_header
    if pending_header is not None and len(cells) >= 2:
        for h, v in zip(pending_header, cells, strict=False):
            summary.setdefault(_norm_heading(h), v)
        return None
    return cells


def _detect(tables: list[_Table], summary: dict[str, str], delimiter: str, titles) -> str | None:
    headings = {_norm_heading(h) for t in tables for h in t.headings}
    if any({"action", "timestamp"} <= t.columns.keys() for t in tables):
        return "teams_legacy"
    if not tables:
        return None
    numbered = any(_SECTION_RE.match(t) for _, t in titles)
    if headings & {"user name (original name)", "user name", "attended", "time in session (minutes)"} or (
        "webinar id" in summary
    ):
        return "zoom_webinar"
    if headings & {"user email", "name (original name)", "duration (minutes)"} or "meeting id" in summary:
        return "zoom_meeting"
    if delimiter == "\t" or numbered or headings & {"first join", "last leave", "in-meeting duration", "role"}:
        return "teams"
    return None


_ROLE_FROM_TITLE = (("panelist", "panelist"), ("host", "host"))


def _cell(cells: list[str], idx: int | None) -> str:
    if idx is None or idx >= len(cells):
        return ""
    return cells[idx]


class _RowProblem(Exception):
    """A row that cannot be imported; the argument is the message shown beside its line number."""


@dataclass(frozen=True)
class _EventTimes:
    """The event a report should belong to (each part may be unknown)."""

    start: datetime | None
    end: datetime | None
    tz: str | None


@dataclass(frozen=True)
class _Times:
    """How the report's times are read: in the zone ``tz``, with one day/month order for the whole
    file; ``ambiguous`` when some date could be read either way (the order used is then shown)."""

    tz: str
    zone: ZoneInfo
    order: str | None
    ambiguous: bool

    def to_utc(self, text: str) -> datetime | None:
        value = parse_datetime(text, self.order or "month_first")
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=self.zone)
        return value.astimezone(UTC)


@dataclass(frozen=True)
class _Header:
    """What reading a table's rows needs: its columns, the role its title gives everyone in it, the
    format, how times are read, and the meeting host's email (Zoom meetings)."""

    columns: dict[str, int]
    role: str
    fmt: str
    times: _Times
    host_email: str


@dataclass
class _People:
    """The participant rows read: how many, the sessions, and the warnings to show."""

    rows_read: int
    sessions: list[SessionRow]
    warnings: list[str]


def parse_report(
    data: bytes,
    *,
    tz: str,
    event_start: datetime | None = None,
    event_end: datetime | None = None,
    event_tz: str | None = None,
    max_bytes: int = MAX_BYTES,
) -> ParsedReport:
    """Read an attendance report. Raises :class:`AttendanceFileError` (or csvio.CsvProblem) with a
    message naming the problem; on success every session has aware UTC times.

    The steps: read the text and its rows, read the sections, detect the platform and format, take
    the tables of people, decide how to read the times, read each participant row, build the result.
    """
    rows, delimiter = _rows(_read_text(data, max_bytes))
    tables, summary, titles = _read_sections(rows)
    fmt = _detect_format(tables, summary, delimiter, titles)
    zone = ZoneInfo(tz)
    people_tables = _people_tables(fmt, tables, rows, titles)
    times = _decide_times(fmt, people_tables, summary, tz, zone, event_start)
    people = _read_people(fmt, people_tables, summary, times)
    return _build_result(fmt, people, summary, times, _EventTimes(event_start, event_end, event_tz))


def _read_text(data: bytes, max_bytes: int) -> str:
    """The report's text (csvio decodes it); a zipped (Excel) file or binary data is refused."""
    if data[:4] == b"PK\x03\x04":
        raise AttendanceFileError(
            _(
                "This is an Excel or other zipped file, not a CSV report. In Zoom or Teams "
                "download the report as CSV and upload that file."
            )
        )
    text, _encoding = csvio.decode(data, max_bytes=max_bytes)
    if "\x00" in text:
        raise AttendanceFileError(_("This is not a text (CSV) file: it contains binary data."))
    return text


def _detect_format(tables: list[_Table], summary: dict[str, str], delimiter: str, titles) -> str:
    """The platform and format of the report (see :func:`_detect`); anything else is refused."""
    fmt = _detect(tables, summary, delimiter, titles)
    if fmt is None:
        raise AttendanceFileError(
            _(
                "This is not a Zoom or Teams attendance report. Expected a Zoom webinar attendee report, "
                "a Zoom meeting participants report (columns such as Name (Original Name), User Email, "
                "Join Time, Leave Time) or a Microsoft Teams attendance report (sections Summary, "
                "Participants, In-Meeting Activities)."
            )
        )
    return fmt


def _people_tables(fmt: str, tables: list[_Table], rows, titles) -> list[_Table]:
    """The tables that hold the people (those with rows); a file that looks truncated is refused."""
    if fmt == "teams":
        chosen = _teams_tables(tables)
    elif fmt == "teams_legacy":
        chosen = [t for t in tables if {"action", "timestamp"} <= t.columns.keys()]
    else:
        chosen = tables
    _check_complete(fmt, tables, chosen, rows, titles)
    return [t for t in chosen if t.rows]


def _check_complete(fmt: str, tables: list[_Table], chosen: list[_Table], rows, titles) -> None:
    """Refuse a cut-off file: a table of people with headings but no rows at the end of the file
    (or no rows in any of them), or a numbered Teams section after the last table."""
    last_line = max((line for line, cells in rows if cells), default=0)
    for t in chosen:
        if not t.rows and (t.header_line == last_line or all(not pt.rows for pt in chosen)):
            raise AttendanceFileError(
                _(
                    "The table starting on line %(line)d has column headings but no rows: the file looks "
                    "truncated. Export the report again.",
                    line=t.header_line,
                )
            )
    section_lines = [line for line, title in titles if _SECTION_RE.match(title)]
    if fmt != "teams" or not section_lines:
        return
    last_section_line = max(section_lines)
    if all(t.header_line < last_section_line for t in tables):
        raise AttendanceFileError(
            _(
                "The section starting on line %(line)d is cut off (it has no table): the file looks "
                "truncated. Export the report again.",
                line=last_section_line,
            )
        )


def _start_text(summary: dict[str, str]) -> str:
    """The meeting's start as the report's summary writes it ("" when it has none)."""
    return summary.get("actual start time") or summary.get("start time") or ""


def _decide_times(
    fmt: str, tables: list[_Table], summary: dict[str, str], tz: str, zone: ZoneInfo, event_start: datetime | None
) -> _Times:
    """Collect every date of the file (and the summary's start) to decide the day/month order once."""
    date_fields = ("timestamp",) if fmt == "teams_legacy" else ("join", "leave")
    date_texts = [_cell(c, t.columns.get(f)) for t in tables for _, c in t.rows for f in date_fields]
    start_text = _start_text(summary)
    written = [d for d in date_texts if d.lower() not in _NO_VALUE] + ([start_text] if start_text else [])
    return _Times(
        tz=tz,
        zone=zone,
        order=_decide_order(written, zone, event_start),
        ambiguous=any(is_order_ambiguous(d) for d in date_texts[:50]),
    )


def _read_people(fmt: str, tables: list[_Table], summary: dict[str, str], times: _Times) -> _People:
    """Every participant row as a session. The rows that cannot be read are refused together, each
    with its line number, and then nothing is imported; so is a report that lists nobody."""
    problems: list[tuple[int, str]] = []
    warnings: list[str] = []
    if fmt == "teams_legacy":
        rows_read, sessions = _legacy_sessions(tables, times.to_utc, problems, warnings)
    else:
        rows_read, sessions = _participant_sessions(fmt, tables, summary, times, problems)
    if fmt == "teams" and any(s.join is None and s.duration is None for s in sessions):
        warnings.append(
            _(
                "Some rows have no times or durations (the tenant shows only who attended): "
                "they count as present with 0 minutes."
            )
        )
    if problems:
        raise AttendanceFileError(
            _(
                "%(n)d row(s) cannot be imported; nothing was saved. Correct the file or export it again.",
                n=len(problems),
            ),
            problems,
        )
    if not sessions:
        raise AttendanceFileError(_("The report lists nobody who attended."))
    return _People(rows_read=rows_read, sessions=sessions, warnings=warnings)


def _participant_sessions(
    fmt: str, tables: list[_Table], summary: dict[str, str], times: _Times, problems: list[tuple[int, str]]
) -> tuple[int, list[SessionRow]]:
    """The sessions of the Zoom and Teams tables, one per row; the rows that cannot be read go to
    ``problems``. Returns how many rows were read, and the sessions."""
    host_email = (summary.get("user email") or "").strip().lower() if fmt == "zoom_meeting" else ""
    rows_read = 0
    sessions: list[SessionRow] = []
    for t in tables:
        header = _read_header(t, fmt, times, host_email)
        rows_read += len(t.rows)
        for line, cells in t.rows:
            try:
                session = _read_participant(line, cells, header)
            except _RowProblem as exc:
                problems.append((line, exc.args[0]))
                continue
            if session is not None:
                sessions.append(session)
    return rows_read, sessions


def _read_header(t: _Table, fmt: str, times: _Times, host_email: str) -> _Header:
    """What the rows of table ``t`` need from its header: the columns (read from its header row), and
    the role its title gives everyone in it (Zoom's host and panelist tables)."""
    role = "attendee"
    low_title = t.title.lower()
    for word, title_role in _ROLE_FROM_TITLE:
        if word in low_title:
            role = title_role
    return _Header(columns=t.columns, role=role, fmt=fmt, times=times, host_email=host_email)


def _read_participant(line: int, cells: list[str], header: _Header) -> SessionRow | None:
    """One participant row as a session, or None for a registrant who did not come (Attended: No).
    Raises :class:`_RowProblem` for a row without name and email, or with a time or duration that
    cannot be read."""
    c = header.columns
    if _cell(cells, c.get("attended")).strip().lower() == "no":
        return None  # a registrant who did not come
    name = _cell(cells, c.get("name"))
    email = _row_email(cells, c)
    if not name and not email:
        raise _RowProblem(_("no name and no email."))
    join, leave = _row_times(cells, header)
    duration = _row_duration(cells, c)
    role = _cell(cells, c.get("role")).strip().lower() or header.role
    if header.host_email and email == header.host_email:
        role = "host"
    country = _cell(cells, c.get("country")).strip()
    return SessionRow(
        line=line,
        name=name or email or "",
        email=email,
        join=join,
        leave=leave,
        duration=duration,
        role=role,
        country=country[:100] if country.lower() not in _NO_VALUE else None,
    )


def _row_email(cells: list[str], c: dict[str, int]) -> str | None:
    """The row's email, lower-cased: the email column, else the registration email, else a Teams
    UPN that is an address; in a table without an email column, any cell that looks like one."""
    upn = _cell(cells, c.get("upn"))
    email = _cell(cells, c.get("email")) or _cell(cells, c.get("reg_email")) or (upn if "@" in upn else "")
    if not email and "email" not in c and "reg_email" not in c:
        email = next((x for x in cells if _EMAIL_RE.match(x)), "")
    email = email.strip().lower()
    return email if "@" in email else None


def _row_times(cells: list[str], header: _Header) -> tuple[datetime | None, datetime | None]:
    """The row's join and leave times in UTC. A time that cannot be read, a missing join time (Teams
    may leave both empty) and a leave before the join are problems."""
    c = header.columns
    join_text, leave_text = _cell(cells, c.get("join")), _cell(cells, c.get("leave"))
    join = leave = None
    if join_text.lower() not in _NO_VALUE:
        join = header.times.to_utc(join_text)
        if join is None:
            raise _RowProblem(_("the join time %(value)r cannot be read.", value=join_text))
    elif "join" in c and (header.fmt != "teams" or leave_text.lower() not in _NO_VALUE):
        raise _RowProblem(_("the join time is missing."))
    if leave_text.lower() not in _NO_VALUE:
        leave = header.times.to_utc(leave_text)
        if leave is None:
            raise _RowProblem(_("the leave time %(value)r cannot be read.", value=leave_text))
    if join and leave and leave < join:
        raise _RowProblem(_("leaves (%(leave)s) before joining (%(join)s).", leave=leave_text, join=join_text))
    return join, leave


def _row_duration(cells: list[str], c: dict[str, int]) -> float | None:
    """The duration the row writes, in minutes (None when it writes none); unreadable is a problem."""
    dur_text = _cell(cells, c.get("duration"))
    duration = parse_duration(dur_text) if dur_text else None
    if dur_text and dur_text.lower() not in _NO_VALUE and duration is None:
        raise _RowProblem(_("the duration %(value)r cannot be read.", value=dur_text))
    return duration


def _build_result(
    fmt: str, people: _People, summary: dict[str, str], times: _Times, event: _EventTimes
) -> ParsedReport:
    """The parsed report, with the meeting's topic and start from its summary; a report of another
    meeting (its start or first join more than a day from the event) is refused."""
    start_text = _start_text(summary)
    start = times.to_utc(start_text) if start_text else None
    _check_same_meeting(people.sessions, start, times, event)
    return ParsedReport(
        format=fmt,
        sessions=people.sessions,
        rows_read=people.rows_read,
        date_order=times.order if times.ambiguous else None,
        timezone=times.tz,
        meta={
            "topic": summary.get("topic") or summary.get("meeting title") or "",
            "start": start.isoformat() if start else None,
        },
        warnings=people.warnings,
    )


def _check_same_meeting(sessions: list[SessionRow], start: datetime | None, times: _Times, event: _EventTimes) -> None:
    """Refuse the report when its start, or its first join, is further than EVENT_TOLERANCE from
    the event (nothing is checked when either is unknown)."""
    joins = [s.join for s in sessions if s.join] or ([start] if start else [])
    report_start = start or (min(joins) if joins else None)
    if event.start is None or report_start is None:
        return
    lo = event.start - EVENT_TOLERANCE
    hi = (event.end or event.start) + EVENT_TOLERANCE
    first = min(joins) if joins else report_start
    if lo <= report_start <= hi and lo <= first <= hi:
        return
    shown = report_start if not (lo <= report_start <= hi) else first
    ev_tz = event.tz or times.tz
    raise AttendanceFileError(
        _(
            "This report is for a meeting on %(report)s, but the event is on %(event)s: it looks like "
            "the report of another meeting.",
            report=f"{shown.astimezone(times.zone):%Y-%m-%d %H:%M} ({times.tz})",
            event=f"{event.start.astimezone(ZoneInfo(ev_tz)):%Y-%m-%d %H:%M} ({ev_tz})",
        )
    )


def _teams_tables(tables: list[_Table]) -> list[_Table]:
    """The activities table (one row per join/leave) if present, else the participants table."""
    activities = [t for t in tables if "join" in t.columns and not _is_participants(t)]
    participants = [t for t in tables if _is_participants(t)]
    positional = [t for t in tables if t.headings and not _columns(t.headings)]
    if activities:
        return activities[-1:]
    if len(positional) >= 2:
        return positional[-1:]
    if participants:
        return participants[:1]
    return tables[-1:]


def _is_participants(t: _Table) -> bool:
    heads = {_norm_heading(h) for h in t.headings}
    return bool(heads & {"first join", "last leave", "in-meeting duration"})


def _legacy_sessions(tables, to_utc, problems, warnings) -> tuple[int, list[SessionRow]]:
    """The older Teams list (one row per Joined/Left action, in any order): the actions in time
    order, paired into sessions. Returns how many rows were read, and the sessions."""
    actions: list[tuple[datetime, int, str, str, str | None]] = []
    rows_read = 0
    for t in tables:
        rows_read += len(t.rows)
        for line, cells in t.rows:
            try:
                actions.append(_legacy_action(line, cells, t.columns, to_utc))
            except _RowProblem as exc:
                problems.append((line, exc.args[0]))
    actions.sort(key=lambda e: (e[0], e[1]))
    return rows_read, _pair_actions(actions, problems, warnings)


def _legacy_action(
    line: int, cells: list[str], c: dict[str, int], to_utc
) -> tuple[datetime, int, str, str, str | None]:
    """One row of the older Teams list: (time, line, "joined" or "left", name, email)."""
    name = _cell(cells, c.get("name"))
    action = _cell(cells, c.get("action")).strip().lower()
    stamp_text = _cell(cells, c.get("timestamp"))
    email = _cell(cells, c.get("email")).strip().lower() or None
    stamp = to_utc(stamp_text)
    if not name:
        raise _RowProblem(_("no name."))
    if stamp is None:
        raise _RowProblem(_("the time %(value)r cannot be read.", value=stamp_text))
    if action not in ("joined", "left", "joined before"):
        raise _RowProblem(_("unknown action %(value)r (expected Joined or Left).", value=action))
    return stamp, line, "left" if action == "left" else "joined", name, email


def _pair_actions(actions, problems, warnings) -> list[SessionRow]:
    """Each Joined with the same person's next Left; a person still in at the end stays until the
    last action of the list (with a warning). Sessions come back in the order of their lines."""
    end = actions[-1][0] if actions else None
    open_: dict[str, tuple[datetime, int, str, str | None]] = {}
    sessions: list[SessionRow] = []
    for stamp, line, action, name, email in actions:
        key = person_key(name, email)
        if action == "joined":
            open_.setdefault(key, (stamp, line, name, email))  # joined again while still in: one presence
        elif key not in open_:
            problems.append((line, _("%(name)s leaves without having joined.", name=name)))
        else:
            j, jline, jname, jemail = open_.pop(key)
            sessions.append(SessionRow(line=jline, name=jname, email=jemail, join=j, leave=stamp, duration=None))
    for j, jline, jname, jemail in open_.values():
        sessions.append(SessionRow(line=jline, name=jname, email=jemail, join=j, leave=end, duration=None))
    if open_:
        warnings.append(_("%(n)d person(s) never left: counted until the last action in the list.", n=len(open_)))
    sessions.sort(key=lambda s: s.line)
    return sessions


def _decide_order(texts: list[str], zone: ZoneInfo, event_start: datetime | None) -> str | None:
    """Month-first or day-first for slashed numeric dates: the order in which every date is valid;
    if both are, the one that puts the report nearest the event."""
    triples = set()
    for t in texts:
        m = _NUMERIC_DATE_RE.match(t.strip())
        if m and len(m.group(1)) != 4:
            triples.add((int(m.group(1)), int(m.group(2)), int(m.group(3))))
    if not triples:
        return None
    candidates = []
    for order in ("month_first", "day_first"):
        ok = []
        for a, b, c in triples:
            month, day = (a, b) if order == "month_first" else (b, a)
            d = _make(c, month, day, 12, 0, 0)
            if d is not None:
                ok.append(d)
        candidates.append((len(ok), order, ok))
    best_count = max(c[0] for c in candidates)
    viable = [c for c in candidates if c[0] == best_count and best_count > 0]
    if not viable:
        return "month_first"
    if len(viable) == 1 or event_start is None:
        return viable[0][1]

    def distance(ok: list[datetime]) -> float:
        return min(abs((d.replace(tzinfo=zone).astimezone(UTC) - event_start).total_seconds()) for d in ok)

    return min(viable, key=lambda c: distance(c[2]))[1]


# Merging sessions into people -----------------------------------------------------------------


def union_seconds(intervals: list[tuple[datetime, datetime]]) -> float:
    """Length of the union of intervals (overlapping time counted once)."""
    total = 0.0
    cur_start = cur_end = None
    for start, end in sorted(intervals):
        if cur_end is None or start > cur_end:
            if cur_end is not None:
                total += (cur_end - cur_start).total_seconds()
            cur_start, cur_end = start, end
        elif end > cur_end:
            cur_end = end
    if cur_end is not None:
        total += (cur_end - cur_start).total_seconds()
    return total


def merge_people(sessions: list[SessionRow]) -> list[Person]:
    """One entry per person (email lower-cased, else normalised name), in the order each first
    appears; see :func:`_person` for the minutes."""
    groups: dict[str, list[SessionRow]] = {}
    for s in sessions:
        groups.setdefault(person_key(s.name, s.email), []).append(s)
    return [_person(key, rows) for key, rows in groups.items()]


def _person(key: str, rows: list[SessionRow]) -> Person:
    """One person from their sessions: minutes = union of the timed sessions; sessions without
    times add their written duration."""
    seconds = union_seconds([(s.join, s.leave) for s in rows if s.join and s.leave])
    for s in rows:
        if not (s.join and s.leave) and s.duration:
            seconds += s.duration * 60
    joins = [s.join for s in rows if s.join]
    leaves = [s.leave for s in rows if s.leave]
    ordered = sorted(rows, key=lambda s: (s.join is None, s.join or _EPOCH, s.line))
    return Person(
        key=key,
        name=rows[0].name,
        email=next((s.email for s in rows if s.email), None),
        minutes=int(seconds / 60 + 0.5),
        first_join=min(joins) if joins else None,
        last_leave=max(leaves) if leaves else None,
        sessions=sorted(
            ((s.join, s.leave, s.role, s.line) for s in rows),
            key=lambda x: (x[0] is None, x[0] or _EPOCH, x[3]),
        ),
        roles={s.role for s in rows},
        lines=[s.line for s in rows],
        rows=ordered,
        country=last_country(rows),
    )


def last_country(sessions) -> str | None:
    """The country of the latest session that has one (by join time; sessions without a join
    time count as earliest)."""
    dated = sorted(sessions, key=lambda s: (s.join is not None, s.join or _EPOCH, s.line), reverse=True)
    return next((s.country for s in dated if s.country), None)
