"""The privacy notice and its versions, consent records and the retention periods.

A person's export and erasure are in ``people.py``; the purge by retention period in
``retention.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from webinar_mgr import clock
from webinar_mgr.audit import services as audit
from webinar_mgr.commitments.models import Commitment
from webinar_mgr.errors import NotAllowed, ValidationFailed
from webinar_mgr.extensions import db
from webinar_mgr.persistence import transactional, unit_of_work
from webinar_mgr.registrations.models import Registration
from webinar_mgr.registrations.signals import registration_changed
from webinar_mgr.security import ADMINS, has_role
from webinar_mgr.text import multi_line

from .models import (
    DEFAULT_DAYS,
    KIND_ACCESSIBILITY,
    KIND_AUDIT,
    KIND_MAIL,
    KIND_REGISTRATIONS,
    KIND_UPLOADS,
    KINDS,
    MAX_DAYS,
    MIN_DAYS,
    PURPOSE_PUBLIC,
    PURPOSE_REGISTER,
    PURPOSES,
    ConsentRecord,
    PrivacyNotice,
    RetentionPeriod,
)

KIND_LABELS = {
    KIND_REGISTRATIONS: _l("Guests' registrations and attendance records (after the event)"),
    KIND_ACCESSIBILITY: _l("Accessibility needs (after the event)"),
    KIND_UPLOADS: _l("Uploaded attendance reports not yet imported (after upload)"),
    KIND_AUDIT: _l("Audit log entries"),
    KIND_MAIL: _l("Mail texts in the outbox (after delivery or final failure)"),
}
PURPOSE_LABELS = {
    PURPOSE_REGISTER: _l("To register and be kept in the working group's contact directory"),
    PURPOSE_PUBLIC: _l("To appear on public pages (public commitments, published participant lists)"),
}
MAX_NOTICE_CHARS = 20_000


# The notice ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    version: int  # 0: the notice built into the application
    body: str | None  # None: the built-in text (templates/privacy/_builtin_notice.html)
    created_at: datetime | None


def current_notice() -> Notice:
    row = db.session.scalar(sa.select(PrivacyNotice).order_by(PrivacyNotice.version.desc()).limit(1))
    if row is None:
        return Notice(version=0, body=None, created_at=None)
    return Notice(version=row.version, body=row.body, created_at=row.created_at)


def notice_versions() -> list[PrivacyNotice]:
    return list(db.session.scalars(sa.select(PrivacyNotice).order_by(PrivacyNotice.version.desc())))


def _require_admin(actor) -> None:
    if actor is not None and not has_role(actor, *ADMINS):
        raise NotAllowed(_("Only an administrator may do this."))


@transactional
def save_notice(body: str, *, actor) -> PrivacyNotice:
    """A new version of the notice (an unchanged text is refused: it would be the same version)."""
    _require_admin(actor)
    text = multi_line(body).strip()
    if not text:
        raise ValidationFailed(field_errors={"body": [_("Write the notice's text.")]})
    if len(text) > MAX_NOTICE_CHARS:
        raise ValidationFailed(
            field_errors={"body": [_("The notice is too long (at most %(count)d characters).", count=MAX_NOTICE_CHARS)]}
        )
    current = current_notice()
    if current.body is not None and current.body == text:
        raise ValidationFailed(
            field_errors={
                "body": [_("The text is the same as version %(version)d; nothing to save.", version=current.version)]
            }
        )
    row = PrivacyNotice(version=current.version + 1, body=text, created_by_id=getattr(actor, "id", None))
    db.session.add(row)
    db.session.flush()
    audit.record(actor, "privacy.notice", row, summary=f"version {row.version}")
    return row


# Consent ---------------------------------------------------------------------------------------


def _current_version_sql():
    return sa.select(sa.func.coalesce(sa.func.max(PrivacyNotice.version), 0)).scalar_subquery()


def record_consent(
    contact_id: int,
    purpose: str,
    granted: bool,
    *,
    source: str,
    registration_id: int | None = None,
    version_in_insert: bool = False,
) -> ConsentRecord:
    """Add a consent record under the current notice version (inside the caller's unit of work).
    ``version_in_insert``: the version is read by the INSERT itself, one statement fewer (issue 19:
    a registration); ``row.notice_version`` then holds SQL until the row is flushed."""
    if purpose not in PURPOSES:
        raise ValidationFailed(_("Unknown purpose of consent."))
    row = ConsentRecord(
        contact_id=contact_id,
        registration_id=registration_id,
        purpose=purpose,
        granted=bool(granted),
        notice_version=_current_version_sql() if version_in_insert else current_notice().version,
        source=source[:32],
        at=clock.now(),
    )
    db.session.add(row)
    return row


def current_consent(contact_id: int, purpose: str) -> ConsentRecord | None:
    return db.session.scalar(
        sa.select(ConsentRecord)
        .where(ConsentRecord.contact_id == contact_id, ConsentRecord.purpose == purpose)
        .order_by(ConsentRecord.at.desc(), ConsentRecord.id.desc())
        .limit(1)
    )


def consent_history(contact_id: int) -> list[ConsentRecord]:
    return list(
        db.session.scalars(
            sa.select(ConsentRecord)
            .where(ConsentRecord.contact_id == contact_id)
            .order_by(ConsentRecord.at.desc(), ConsentRecord.id.desc())
        )
    )


def may_publish(contact_id: int) -> bool:
    """True when the person's latest answer about public pages is yes."""
    row = current_consent(contact_id, PURPOSE_PUBLIC)
    return bool(row and row.granted)


@transactional
def set_public_consent(registration: Registration, granted: bool, *, source: str = "manage_link") -> ConsentRecord:
    """The person's answer about public pages. Withdrawing it takes their commitments off the
    public pages at once (each commitment's own "public" choice is kept off until they publish it
    again)."""
    row = record_consent(registration.contact_id, PURPOSE_PUBLIC, granted, source=source)
    if not granted:
        for c in db.session.scalars(
            sa.select(Commitment).where(Commitment.contact_id == registration.contact_id, Commitment.public.is_(True))
        ):
            c.public = False
    audit.record(
        None,
        "privacy.consent",
        object_type="Contact",
        object_id=registration.contact_id,
        summary=f"public pages: {'granted' if granted else 'withdrawn'} (notice version {row.notice_version})",
    )
    return row


@registration_changed.connect
def _consent_on_registration(reg: Registration, *, why: str, **_kwargs) -> None:
    """Registering is agreeing to the notice shown on the form: recorded with its version, in the
    registration's own unit of work."""
    if why != "registered" or reg.contact_id is None:
        return
    record_consent(
        reg.contact_id, PURPOSE_REGISTER, True, source="registration", registration_id=reg.id, version_in_insert=True
    )


# Retention -------------------------------------------------------------------------------------


def retention_days() -> dict[str, int]:
    """Days kept for each kind of data (the administrators' values, else the defaults)."""
    days = dict(DEFAULT_DAYS)
    for row in db.session.scalars(sa.select(RetentionPeriod)):
        if row.kind in days:
            days[row.kind] = row.days
    return days


def parse_days(kind: str, value) -> int:
    """A retention period in whole days, or ValidationFailed with a message naming the limits."""
    label = KIND_LABELS.get(kind, kind)
    text = str(value if value is not None else "").strip()
    try:
        days = int(text)
    except ValueError:
        raise ValidationFailed(
            field_errors={kind: [_("Give a whole number of days for “%(kind)s”.", kind=label)]}
        ) from None
    if days < MIN_DAYS:
        raise ValidationFailed(
            field_errors={
                kind: [
                    _(
                        "A retention period of %(days)d days would erase “%(kind)s” as soon as it is written: "
                        "give at least %(min)d day.",
                        days=days,
                        kind=label,
                        min=MIN_DAYS,
                    )
                ]
            }
        )
    if days > MAX_DAYS:
        raise ValidationFailed(
            field_errors={
                kind: [
                    _(
                        "%(days)d days (about %(years)d years) is longer than personal data may be kept here: "
                        "give at most %(max)d days (10 years) for “%(kind)s”.",
                        days=days,
                        years=days // 365,
                        max=MAX_DAYS,
                        kind=label,
                    )
                ]
            }
        )
    return days


def set_retention(values: dict[str, object], *, actor) -> dict[str, int]:
    """Save the periods given (kind -> days). Every value is checked before any is saved: one bad
    value saves none."""
    _require_admin(actor)
    unknown = sorted(set(values) - set(KINDS))
    if unknown:
        raise ValidationFailed(_("Unknown kind of data: %(kinds)s.", kinds=", ".join(unknown)))
    parsed: dict[str, int] = {}
    errors: dict[str, list[str]] = {}
    for kind, value in values.items():
        try:
            parsed[kind] = parse_days(kind, value)
        except ValidationFailed as exc:
            for k, v in exc.field_errors.items():
                errors.setdefault(k, []).extend(v)
    if errors:
        raise ValidationFailed(_("Nothing was saved: correct the periods marked below."), field_errors=errors)
    with unit_of_work():
        before = retention_days()
        for kind, days in parsed.items():
            row = db.session.get(RetentionPeriod, kind)
            if row is None:
                db.session.add(RetentionPeriod(kind=kind, days=days, updated_by_id=getattr(actor, "id", None)))
            elif row.days != days:
                row.days = days
                row.updated_by_id = getattr(actor, "id", None)
        after = {**before, **parsed}
        changes = audit.diff(before, after)
        if changes:
            audit.record(
                actor, "privacy.retention", object_type="RetentionPeriod", summary="retention periods", changes=changes
            )
    return after
