"""Languages and time zones: who reads the page, in which language and which zone."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from urllib.parse import unquote
from zoneinfo import ZoneInfo, available_timezones

from babel.dates import format_datetime as _babel_format_datetime
from babel.dates import format_skeleton, get_datetime_format
from flask import current_app, has_request_context, request
from flask_babel import get_locale
from flask_login import current_user

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


def select_locale() -> str:
    languages = list(current_app.config.get("LANGUAGES", {"en": "English"}))
    if current_user and current_user.is_authenticated and current_user.language in languages:
        return current_user.language
    if has_request_context():
        return request.accept_languages.best_match(languages) or languages[0]
    return languages[0]


def format_in_zone(value: datetime | None, tz: str | None = None, fmt: str = "medium") -> str:
    """Format an aware UTC datetime in zone ``tz`` (default: the reader's).

    The named formats ("short", "medium", "long", "full") give the date with the month's name and
    a 24-hour time in the locale's order ("22 Nov 2026, 14:28" in en_GB, "Nov 22, 2026, 14:28" in
    en): a region that reads 11/12 both ways should never have to guess. Patterns go to Babel as
    they are.
    """
    if value is None:
        return ""
    zone = ZoneInfo(tz or reader_timezone())
    locale = str(get_locale() or "en")
    skeletons = {"short": "yMMMd", "medium": "yMMMd", "long": "yMMMMd", "full": "yMMMMEEEEd"}
    if fmt in skeletons:
        day = format_skeleton(skeletons[fmt], value, tzinfo=zone, locale=locale)
        clock_time = format_skeleton("Hm", value, tzinfo=zone, locale=locale)
        return get_datetime_format(fmt, locale=locale).replace("{1}", day).replace("{0}", clock_time)
    return _babel_format_datetime(value, format=fmt, tzinfo=zone, locale=locale)


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
