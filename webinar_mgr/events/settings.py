"""The administrators' settings of the events module: kinds of event and the region's time zones."""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from webinar_mgr.audit import services as audit
from webinar_mgr.core.models import Setting
from webinar_mgr.errors import ValidationFailed
from webinar_mgr.extensions import db
from webinar_mgr.i18n import is_valid_timezone, zone_city
from webinar_mgr.persistence import get_or_404, transactional, unit_of_work

from .models import EventKind

DEFAULT_KINDS = (
    ("regional_webinar", "Regional webinar"),
    ("annual_meeting", "Annual meeting"),
    ("virtual_seminar", "Virtual seminar"),
    ("open_session", "Open session"),
)
REGION_ZONES_KEY = "region_zones"
# The regional clock's default zones: the members from UTC+3 to UTC+13 (issue 13), west to east.
# A label is a text to translate, a tuple of zones whose cities are joined, or None for the
# zone's own city, each in the reader's language (i18n.zone_city: Babel's CLDR names).
DEFAULT_REGION_ZONES = (
    ("Europe/Istanbul", _l("Ankara / Amman")),
    ("Asia/Tehran", None),
    ("Asia/Kabul", None),
    ("Asia/Karachi", None),
    ("Asia/Kolkata", _l("New Delhi")),
    ("Asia/Kathmandu", None),
    ("Asia/Dhaka", None),
    ("Asia/Yangon", None),
    ("Asia/Bangkok", ("Asia/Bangkok", "Asia/Jakarta")),
    ("Asia/Manila", _l("Manila / Beijing")),
    ("Asia/Tokyo", ("Asia/Tokyo", "Asia/Dili")),
    ("Australia/Sydney", None),
    ("Pacific/Noumea", None),
    ("Pacific/Fiji", _l("Suva")),
    ("Pacific/Tongatapu", _l("Nuku’alofa")),
)


def default_region_zones() -> list[tuple[str, str]]:
    """The defaults with their labels in the reader's language."""
    out = []
    for zone, label in DEFAULT_REGION_ZONES:
        if label is None:
            text = zone_city(zone)
        elif isinstance(label, tuple):
            text = " / ".join(zone_city(z) for z in label)
        else:
            text = str(label)
        out.append((zone, text))
    return out


def kinds(*, include_inactive: bool = False) -> list[EventKind]:
    """Event kinds; the defaults are created the first time the list is empty."""
    rows = list(db.session.scalars(sa.select(EventKind).order_by(EventKind.label)))
    if not rows:
        with unit_of_work():  # the defaults are written once, on first use
            for code, label in DEFAULT_KINDS:
                db.session.add(EventKind(code=code, label=label, active=True))
        rows = list(db.session.scalars(sa.select(EventKind).order_by(EventKind.label)))
    return rows if include_inactive else [k for k in rows if k.active]


def kind_by_code(code: str) -> EventKind | None:
    kinds(include_inactive=True)
    return db.session.scalar(sa.select(EventKind).where(EventKind.code == code))


@transactional
def add_kind(label: str, *, actor) -> EventKind:
    label = (label or "").strip()
    if not label or len(label) > 100:
        raise ValidationFailed(
            _("Give the kind a name of up to 100 characters."), field_errors={"label": [_("Required.")]}
        )
    code = "".join(c if c.isalnum() else "_" for c in label.lower()).strip("_")[:32] or "kind"
    existing = {k.code for k in kinds(include_inactive=True)}
    base, n = code, 2
    while code in existing:
        code = f"{base[:29]}_{n}"
        n += 1
    if any(k.label.lower() == label.lower() for k in kinds(include_inactive=True)):
        raise ValidationFailed(
            _("There is already a kind called “%(label)s”.", label=label),
            field_errors={"label": [_("Already exists.")]},
        )
    kind = EventKind(code=code, label=label, active=True)
    db.session.add(kind)
    db.session.flush()
    audit.record(actor, "event_kind.create", kind, summary=label)
    return kind


@transactional
def set_kind_active(kind_id: int, active: bool, *, actor) -> EventKind:
    kind = get_or_404(EventKind, kind_id, _("There is no such event kind."))
    if kind.active != active:
        audit.record(actor, "event_kind.update", kind, summary=kind.label, changes={"active": [kind.active, active]})
        kind.active = active
    return kind


def region_zones() -> list[tuple[str, str]]:
    """[(IANA zone, label)] of the region's main zones, as the admin set them."""
    setting = db.session.get(Setting, REGION_ZONES_KEY)
    if setting is None or not setting.value:
        return default_region_zones()
    out = []
    for item in setting.value:
        if isinstance(item, dict) and is_valid_timezone(item.get("zone")):
            out.append((item["zone"], item.get("label") or _zone_city(item["zone"])))
        elif isinstance(item, str) and is_valid_timezone(item):
            out.append((item, _zone_city(item)))
    return out or default_region_zones()


def _zone_city(zone: str) -> str:
    return zone_city(zone)


def parse_region_zones(text: str) -> list[tuple[str, str]]:
    """Lines of "Zone" or "Zone | Label"; raises ValidationFailed naming the bad lines."""
    zones, bad = [], []
    for n, line in enumerate((text or "").splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        zone, _sep, label = line.partition("|")
        zone, label = zone.strip(), label.strip()
        if not is_valid_timezone(zone):
            bad.append(_("line %(n)s: unknown time zone “%(zone)s”", n=n, zone=zone))
            continue
        zones.append((zone, label or _zone_city(zone)))
    if bad:
        raise ValidationFailed("; ".join(bad), field_errors={"zones": bad})
    if not zones:
        raise ValidationFailed(_("Give at least one time zone."), field_errors={"zones": [_("Required.")]})
    return zones


@transactional
def set_region_zones(text: str, *, actor) -> list[tuple[str, str]]:
    zones = parse_region_zones(text)
    before = region_zones()
    setting = db.session.get(Setting, REGION_ZONES_KEY)
    value = [{"zone": z, "label": label} for z, label in zones]
    if setting is None:
        setting = Setting(key=REGION_ZONES_KEY, value=value)
        db.session.add(setting)
    else:
        setting.value = value
    audit.record(
        actor,
        "settings.region_zones",
        object_type="Setting",
        object_id=REGION_ZONES_KEY,
        summary=_("Region time zones"),
        changes=audit.diff({"zones": [list(z) for z in before]}, {"zones": [list(z) for z in zones]}),
    )
    return zones
