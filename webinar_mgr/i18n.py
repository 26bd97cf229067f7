"""Languages and time zones: who reads the page, in which language and which zone."""

from __future__ import annotations

import functools
import logging
import os
import re
import tempfile
from contextlib import contextmanager
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote
from zoneinfo import ZoneInfo, available_timezones

from babel.core import get_global
from babel.dates import format_skeleton, get_datetime_format, get_timezone_location
from babel.lists import format_list as babel_format_list
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal as babel_format_decimal
from flask import current_app, has_app_context, has_request_context, request
from flask_babel import force_locale, get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user

log = logging.getLogger(__name__)

TZ_COOKIE = "tz"


@lru_cache(maxsize=1)
def all_timezones() -> list[str]:
    return sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/", "US/"))) + [
        "UTC"
    ]


def is_valid_timezone(name: str | None) -> bool:
    if not name:
        return False
    return name in _tz_set()


@lru_cache(maxsize=1)
def _tz_set() -> frozenset[str]:
    return frozenset(available_timezones())


# Time zones people can use --------------------------------------------------------------------

#: The member governments' zones (UTC+3 to UTC+13, west to east): the picker shows them first.
MEMBER_ZONES = (
    "Europe/Istanbul", "Asia/Amman", "Asia/Damascus", "Asia/Baghdad", "Asia/Riyadh", "Asia/Kuwait", "Asia/Qatar",
    "Asia/Bahrain", "Asia/Tehran", "Asia/Dubai", "Asia/Kabul", "Asia/Karachi", "Indian/Maldives", "Asia/Kolkata",
    "Asia/Colombo", "Asia/Kathmandu", "Asia/Dhaka", "Asia/Thimphu", "Asia/Yangon", "Asia/Bangkok", "Asia/Jakarta",
    "Asia/Phnom_Penh", "Asia/Vientiane", "Asia/Ho_Chi_Minh", "Asia/Kuala_Lumpur", "Asia/Singapore", "Asia/Brunei",
    "Asia/Makassar", "Asia/Manila", "Asia/Shanghai", "Asia/Hong_Kong", "Asia/Macau", "Asia/Ulaanbaatar",
    "Australia/Perth", "Asia/Jayapura", "Asia/Dili", "Asia/Tokyo", "Asia/Seoul", "Asia/Pyongyang", "Pacific/Palau",
    "Australia/Darwin", "Australia/Adelaide", "Australia/Brisbane", "Australia/Sydney", "Pacific/Port_Moresby",
    "Pacific/Guadalcanal", "Pacific/Efate", "Pacific/Noumea", "Pacific/Auckland", "Pacific/Fiji", "Pacific/Tarawa",
    "Pacific/Nauru", "Pacific/Majuro", "Pacific/Funafuti", "Pacific/Tongatapu", "Pacific/Apia",
)  # fmt: skip

#: The picker's groups after the members' (the area of an IANA name), each named in the reader's language.
ZONE_AREAS = {
    "Asia": _l("Asia"),
    "Australia": _l("Australia"),
    "Pacific": _l("Pacific"),
    "Indian": _l("Indian Ocean"),
    "Europe": _l("Europe"),
    "Africa": _l("Africa"),
    "America": _l("Americas"),
    "Atlantic": _l("Atlantic"),
    "Antarctica": _l("Antarctica"),
}


def canonical_zone(name: str | None) -> str | None:
    """The current name of a zone: "Asia/Rangoon" -> "Asia/Yangon", "Asia/Saigon" ->
    "Asia/Ho_Chi_Minh" (CLDR's aliases, as Babel ships them); other names as they are."""
    if not name:
        return name
    return _zone_aliases().get(name, name)


@lru_cache(maxsize=1)
def _zone_aliases() -> dict[str, str]:
    aliases = dict(get_global("zone_aliases"))
    return {old: new for old, new in aliases.items() if is_valid_timezone(new)}


def zone_city(zone: str, locale: str | None = None) -> str:
    """The zone's city in the reader's language ("Bangkok", "กรุงเทพ", "曼谷")."""
    try:
        return get_timezone_location(zone, locale=locale or str(get_locale() or "en"), return_city=True)
    except Exception:  # a zone CLDR does not name: its IANA city
        return zone.rsplit("/", 1)[-1].replace("_", " ")


def utc_offset_label(zone: str, at: datetime | None = None) -> str:
    """ "UTC+07:00", "UTC+05:45", "UTC−03:00" (a minus sign), "UTC±00:00" at ``at`` (now)."""
    offset = (at or datetime.now(ZoneInfo("UTC"))).astimezone(ZoneInfo(zone)).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "+" if minutes > 0 else ("−" if minutes < 0 else "±")
    hours, mins = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{mins:02d}"


def _offset_minutes(zone: str, at: datetime) -> int:
    offset = at.astimezone(ZoneInfo(zone)).utcoffset()
    return int(offset.total_seconds() // 60) if offset is not None else 0


def timezone_choices(locale: str | None = None) -> dict[str, list[tuple[str, str]]]:
    """The picker's options grouped (``<optgroup>``): the member governments' zones first, then
    each area, each sorted by UTC offset, labelled "UTC+07:00 · Bangkok (Asia/Bangkok)" with the
    city in the reader's language; legacy names (Asia/Rangoon) are not listed (their current
    name is)."""
    locale = locale or str(get_locale() or default_language())
    return _timezone_choices(locale, datetime.now(ZoneInfo("UTC")).date().isoformat())


@lru_cache(maxsize=32)
def _timezone_choices(locale: str, day: str) -> dict[str, list[tuple[str, str]]]:
    at = datetime.fromisoformat(day + "T12:00:00+00:00")
    aliases = _zone_aliases()

    def option(zone: str) -> tuple[str, str]:
        return zone, f"{utc_offset_label(zone, at)} · {zone_city(zone, locale)} ({zone})"

    def ordered(zones) -> list[tuple[str, str]]:
        return [option(z) for z in sorted(zones, key=lambda z: (_offset_minutes(z, at), zone_city(z, locale)))]

    with force_locale(locale):
        members_label = str(_l("Member governments' zones"))
        groups: dict[str, list[tuple[str, str]]] = {
            members_label: ordered(z for z in MEMBER_ZONES if is_valid_timezone(z))
        }
        listed = set(MEMBER_ZONES)
        by_area: dict[str, list[str]] = {}
        for zone in all_timezones():
            area = zone.split("/", 1)[0]
            if zone in listed or zone in aliases or area not in ZONE_AREAS:
                continue
            by_area.setdefault(area, []).append(zone)
        for area, label in ZONE_AREAS.items():
            if by_area.get(area):
                groups[str(label)] = ordered(by_area[area])
        groups["UTC"] = [("UTC", "UTC±00:00 · UTC")]
    return groups


def reader_timezone() -> str:
    """The reader's IANA zone: profile, else the browser's (cookie set by static/js/app.js),
    else the configured default."""
    if has_request_context():
        if current_user and current_user.is_authenticated and is_valid_timezone(current_user.timezone):
            return current_user.timezone
        # static/js/app.js writes the zone with encodeURIComponent ("Asia%2FBangkok").
        cookie = unquote(request.cookies.get(TZ_COOKIE) or "")
        if is_valid_timezone(cookie):
            return cookie  # type: ignore[return-value]
    return current_app.config.get("DEFAULT_TIMEZONE", "UTC")


# Language tags a browser or a CSV file may send for an offered language under another spelling.
# Chinese: "zh", "zh-CN", "zh-SG" and "zh-Hans-*" read Simplified characters; "zh-TW", "zh-HK" and
# "zh-Hant" read Traditional, which is not offered (they fall through to the next choice).
_SIMPLIFIED_REGIONS = {"cn", "sg", "my"}
_LEGACY_TAGS = {"in": "id"}  # Java and old browsers still send "in" for Indonesian


def offered_languages() -> dict[str, str]:
    """The offered languages, code -> the language's own name (config LANGUAGES)."""
    if has_app_context():
        return current_app.config.get("LANGUAGES") or {"en": "English"}
    return {"en": "English"}


def warm_up() -> None:
    """Load Babel's data of every offered language and the set of time zones now, once per process
    (production's start, beside the PDF warm-up): otherwise the first mail or page of each language
    in a process reads Babel's pickles (0.1-0.2 s; the first job of 1,000 invitations paid it)."""
    moment = datetime(2026, 1, 1, 12, 0)
    for code in offered_languages():
        format_skeleton(_DATE_SKELETON, moment, tzinfo=ZoneInfo("UTC"), locale=code)
        get_datetime_format("medium", locale=code)
    _tz_set()


def default_language() -> str:
    if has_app_context():
        return current_app.config.get("BABEL_DEFAULT_LOCALE", "en")
    return "en"


def normalise_language(code: str | None) -> str | None:
    """The offered language a tag names ("th-TH" -> "th", "zh-CN" -> "zh_Hans", "zh_Hans" ->
    "zh_Hans"), or None for anything else (unknown, not offered, malformed)."""
    if not code or not isinstance(code, str) or len(code) > 35:
        return None
    parts = [p for p in code.strip().replace("_", "-").lower().split("-") if p]
    if not parts or not all(p.isalnum() and p.isascii() for p in parts):
        return None
    offered = {k.replace("_", "-").lower(): k for k in offered_languages()}
    tag = "-".join(parts)
    if tag in offered:
        return offered[tag]
    primary = _LEGACY_TAGS.get(parts[0], parts[0])
    if primary == "zh":
        rest = parts[1:]
        simplified = not rest or "hans" in rest or (len(rest) == 1 and rest[0] in _SIMPLIFIED_REGIONS)
        return offered.get("zh-hans") if simplified else None
    return offered.get(primary)


def browser_language() -> str | None:
    """The first offered language of the request's Accept-Language, in the browser's order."""
    if not has_request_context():
        return None
    for tag, quality in request.accept_languages:
        if quality <= 0:
            continue
        found = normalise_language(tag)
        if found:
            return found
    return None


def chosen_language() -> str | None:
    """The language picked with the footer's switcher (its cookie), when it is offered."""
    if not has_request_context():
        return None
    return normalise_language(request.cookies.get(current_app.config.get("LANGUAGE_COOKIE", "lang")))


def select_locale() -> str:
    """Signed-in users: their profile's language; guests: the switcher's cookie, then the
    browser's Accept-Language; else English. Unknown codes anywhere are skipped."""
    if has_request_context() and current_user and current_user.is_authenticated:
        mine = normalise_language(current_user.language)
        if mine:
            return mine
    return chosen_language() or browser_language() or default_language()


def interface_language() -> str | None:
    """The language the person reading chose (profile, switcher, browser), or None when the page is
    in the default only because nothing was chosen: stored with a registration for its mails."""
    if has_request_context() and current_user and current_user.is_authenticated:
        mine = normalise_language(current_user.language)
        if mine:
            return mine
    return chosen_language() or browser_language()


def html_lang() -> str:
    """The page's language as a BCP 47 tag for ``<html lang>``: "th", "zh-Hans"."""
    return str(get_locale() or default_language()).replace("_", "-")


def recipient_language(*choices: str | None) -> str:
    """The first offered language among ``choices`` (a contact's, a registration's, a user's
    language, in that order of preference), else the default: the language of a mail."""
    for choice in choices:
        found = normalise_language(choice)
        if found:
            return found
    return default_language()


@contextmanager
def in_language(*choices: str | None):
    """Render a mail (or anything else) in the recipient's language::

    with in_language(contact.language):
        mail.queue(...)
    """
    with force_locale(recipient_language(*choices)):
        yield


def in_recipient_language(choose):
    """Decorator: run a function that renders and queues one mail in its recipient's language;
    ``choose`` gets the function's arguments and returns the candidate languages, best first::

        @in_recipient_language(lambda inv, *args: (inv.contact.language,))
        def _queue_invitation(inv, labels): ...
    """

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with in_language(*choose(*args, **kwargs)):
                return fn(*args, **kwargs)

        return wrapper

    return decorate


# Compiled catalogues -----------------------------------------------------------------------------

# A %-placeholder: "%(name)s", "%(count)d", "%s", "%.1f" (and "%%", which is a literal percent sign).
_PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[#0 +-]?\d*(?:\.\d+)?[sdifrxXeEgGc%]")


def placeholders(text: str) -> list[str]:
    """The placeholders of a message, sorted: ["%(name)s", "%(title)s"]; "%%" is not one."""
    found = [m.group(0) for m in _PLACEHOLDER.finditer(text or "") if m.group(0) != "%%"]
    return sorted(found)


def placeholder_problem(message) -> str | None:
    """Why a translated catalogue entry would break at run time (its placeholders differ from the
    source's), or None. ``message`` is a babel.messages.catalog.Message."""
    if isinstance(message.id, (list, tuple)):
        sources = [set(placeholders(m)) for m in message.id]
        allowed = set().union(*sources)
        for form in message.string or ():
            if form and not set(placeholders(form)) <= allowed:
                return f"placeholders {sorted(set(placeholders(form)) - allowed)} are not in the source"
        return None
    if message.string and placeholders(message.string) != placeholders(message.id):
        return f"placeholders {placeholders(message.string)} differ from the source's {placeholders(message.id)}"
    if message.string and "%(" in message.id:
        try:  # a stray "%" ("100% ...") breaks the formatting as surely as a wrong name
            message.string % _AnyValue()
        except (ValueError, TypeError, KeyError) as exc:
            return f"cannot be formatted ({exc}); write a literal percent sign as %%"
    return None


class _AnyValue(dict):
    """A mapping with a number for every name: formats any named placeholder."""

    def __missing__(self, key):
        return 0


def compile_catalogues(directory: str | Path, *, force: bool = False) -> list[str]:
    """Compile every ``<lang>/LC_MESSAGES/messages.po`` under ``directory`` to its ``.mo`` when the
    ``.mo`` is missing or older than the ``.po`` (a fresh clone, a translator's new round).

    Fuzzy entries are left out, and so is every entry whose placeholders differ from the source's:
    English is shown for those instead of a page that fails. Returns a line per entry left out
    for a broken placeholder (also logged). The .mo files are not in git (.gitignore).
    """
    problems: list[str] = []
    for po in sorted(Path(directory).glob("*/LC_MESSAGES/messages.po")):
        mo = po.with_suffix(".mo")
        if not force and mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        lang = po.parent.parent.name
        try:
            with po.open("rb") as f:
                catalog = read_po(f, locale=lang)
        except Exception as exc:  # a catalogue being written or broken: English, and say why
            problems.append(f"{po}: cannot be read ({exc})")
            log.warning("translations: %s cannot be read (%s); English is shown", po, exc)
            continue
        for message in list(catalog):
            if not message.id:
                continue
            why = placeholder_problem(message)
            if why:
                msgid = message.id[0] if isinstance(message.id, (list, tuple)) else message.id
                problems.append(f"{lang}: {msgid!r}: {why}")
                log.warning("translations: %s: %r left out: %s", lang, msgid, why)
                catalog.delete(message.id, context=message.context)
        fd, tmp = tempfile.mkstemp(dir=po.parent, suffix=".mo.tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                write_mo(f, catalog, use_fuzzy=False)
            os.replace(tmp, mo)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return problems


# Dates and times: ONE format everywhere ----------------------------------------------------------

#: The kinds of the one format: a moment with its zone ("Wed, 23 Dec 2026, 14:00 (UTC+07)"), a
#: day ("Wed, 23 Dec 2026"), a clock time ("14:00", beside a moment that names the zone).
DATETIME, DATE, TIME = "datetime", "date", "time"
_DATE_SKELETON = "yMMMEd"
_TIME_SKELETON = "Hm"


def _kind_of(fmt: str | None) -> str:
    """Old callers pass Babel patterns ("EEEE d MMMM y, HH:mm", "HH:mm", "d MMM yyyy") or named
    formats ("short", "medium"): each is read as one of the three kinds of the one format."""
    if not fmt or fmt in (DATETIME, "short", "medium", "long", "full"):
        return DATETIME
    if fmt in (DATE, TIME):
        return fmt
    has_date = any(c in fmt for c in "yMdE")
    has_time = any(c in fmt for c in "Hhm")
    if has_date and not has_time:
        return DATE
    if has_time and not has_date:
        return TIME
    return DATETIME


def format_in_zone(value: datetime | None, tz: str | None = None, fmt: str | None = DATETIME) -> str:
    """A moment in zone ``tz`` (default: the reader's) in the one format of the app, in the
    reader's language: "Wed, Dec 23, 2026, 14:00 (UTC+07)", "23 ธ.ค. 2026 14:00 (UTC+07)".

    Every moment names its zone; a day alone (``"date"``) or a clock time alone (``"time"``) are
    for places where the zone is already named beside them. Years are Gregorian in every locale
    (Babel's Thai uses the Gregorian calendar), so a Thai reader sees the same year as the rest.
    """
    if value is None:
        return ""
    zone_name = tz if tz and is_valid_timezone(tz) else reader_timezone()
    zone = ZoneInfo(zone_name)
    locale = str(get_locale() or default_language())
    kind = _kind_of(fmt)
    clock_time = format_skeleton(_TIME_SKELETON, value, tzinfo=zone, locale=locale)
    if kind == TIME:
        return clock_time
    day = format_skeleton(_DATE_SKELETON, value, tzinfo=zone, locale=locale)
    if kind == DATE:
        return day
    moment = get_datetime_format("medium", locale=locale).replace("{1}", day).replace("{0}", clock_time)
    return f"{moment} ({zone_abbrev(value, zone_name)})"


def format_range(start: datetime | None, end: datetime | None, tz: str | None = None) -> str:
    """ "Wed, Dec 23, 2026, 14:00–15:30 (UTC+07)": a span in the one format, its zone named once."""
    if start is None:
        return ""
    if end is None:
        return format_in_zone(start, tz)
    zone_name = tz if tz and is_valid_timezone(tz) else reader_timezone()
    zone = ZoneInfo(zone_name)
    if start.astimezone(zone).date() != end.astimezone(zone).date():
        return f"{format_in_zone(start, zone_name)} – {format_in_zone(end, zone_name)}"
    locale = str(get_locale() or default_language())
    day = format_skeleton(_DATE_SKELETON, start, tzinfo=zone, locale=locale)
    span = (
        format_skeleton(_TIME_SKELETON, start, tzinfo=zone, locale=locale)
        + "–"
        + format_skeleton(_TIME_SKELETON, end, tzinfo=zone, locale=locale)
    )
    moment = get_datetime_format("medium", locale=locale).replace("{1}", day).replace("{0}", span)
    return f"{moment} ({zone_abbrev(start, zone_name)})"


def format_month(value: date | None) -> str:
    """A tentative month, "December 2026" / "ธันวาคม 2026", in the reader's language."""
    if value is None:
        return ""
    return format_skeleton("yMMMM", datetime(value.year, value.month, 1), locale=str(get_locale() or "en"))


def format_number(value) -> str:
    return babel_format_decimal(value, locale=str(get_locale() or default_language()))


def format_list(items) -> str:
    """ "a, b and c" / "a、b和c" in the reader's language."""
    items = [str(i) for i in items if i is not None and str(i) != ""]
    if not items:
        return ""
    return babel_format_list(items, locale=str(get_locale() or default_language()))


def zone_abbrev(value: datetime, tz: str) -> str:
    """The zone's offset from UTC at that moment, e.g. 'UTC+07', 'UTC+05:30', 'UTC-10'.

    Offsets rather than tzdata's letters: "PST" is Manila to some readers and California to
    others, and a region spanning twenty zones reads offsets the same way everywhere.
    """
    offset = value.astimezone(ZoneInfo(tz)).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    if minutes == 0:
        return "UTC"
    sign = "+" if minutes > 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}" + (f":{mins:02d}" if mins else "")
