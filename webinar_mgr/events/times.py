"""Local times in an event's zone, and the same moment across the region."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask_babel import gettext as _

from webinar_mgr.errors import ValidationFailed
from webinar_mgr.i18n import format_in_zone, format_month, format_range, is_valid_timezone

from .models import Event
from .settings import region_zones


def local_to_utc(local: datetime, zone: str, *, field: str = "starts_at") -> datetime:
    """Turn a wall-clock time in ``zone`` into UTC.

    A time skipped by a daylight-saving jump (a gap) does not exist: refused with a message.
    A time that happens twice (a fold) takes the first occurrence, the usual reading.
    """
    if not is_valid_timezone(zone):
        raise ValidationFailed(
            _("Unknown time zone “%(zone)s”.", zone=zone), field_errors={"timezone": [_("Unknown time zone.")]}
        )
    tz = ZoneInfo(zone)
    naive = local.replace(tzinfo=None, fold=0)
    aware = naive.replace(tzinfo=tz)
    roundtrip = aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    if roundtrip != naive:
        msg = _(
            "%(time)s does not exist in %(zone)s (the clocks jump forward then); pick another time.",
            time=naive.strftime("%Y-%m-%d %H:%M"),
            zone=zone,
        )
        raise ValidationFailed(msg, field_errors={field: [msg]})
    return aware.astimezone(UTC)


def utc_to_local(value: datetime | None, zone: str) -> datetime | None:
    if value is None:
        return None
    return value.astimezone(ZoneInfo(zone)).replace(tzinfo=None)


def zone_table(moment: datetime, zones: list[tuple[str, str]] | None = None) -> list[dict]:
    """The same moment in each of the region's zones."""
    rows = []
    for zone, label in zones or region_zones():
        local = moment.astimezone(ZoneInfo(zone))
        rows.append(
            {
                "zone": zone,
                "label": label,
                "local": local,
                "moment": moment,
                "day_shift": (local.date() - moment.astimezone(UTC).date()).days,
            }
        )
    return rows


def when_text(event: Event, tz: str) -> str:
    """'Tue, Dec 1, 2026, 14:00–15:30 (UTC+08) Asia/Manila · Dec 1, 2026, 13:00 (UTC+07) Asia/Bangkok
    (the event's time)': the one format of the app, in the language being rendered."""
    if not event.starts_at:
        if event.tentative_month:
            return _("Date to be confirmed (%(month)s)", month=format_month(event.tentative_month))
        return _("Date to be confirmed")
    tz = tz if is_valid_timezone(tz) else "UTC"
    mine = f"{format_range(event.starts_at, event.ends_at, tz)} {tz}"
    if tz != event.timezone:
        theirs = format_in_zone(event.starts_at, event.timezone)
        return _("%(mine)s · %(theirs)s %(zone)s (the event's time)", mine=mine, theirs=theirs, zone=event.timezone)
    return mine
