"""The purge: what is past its retention period is anonymised (guests' registrations and attendance,
accessibility needs) or removed (uploaded reports never confirmed, old audit entries, delivered
mails' texts). Every count of the co-chairs' review stays exactly as it was: rows that are counted
keep their event, organisation, sector, member government, status and attendance.

Each event is purged in its own unit of work under the event's lock (the one an attendance import
takes), so a purge and an import never interleave; an event with an uploaded attendance report
waiting for confirmation (an import in progress) is skipped with a message, and purged by a later
run. ``flask worker`` runs the purge once a day (the job ``privacy-purge``); ``flask privacy purge
[--dry-run]`` runs it at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from webinar_mgr import clock, jobs
from webinar_mgr.attendance.models import AttendanceRecord, AttendanceStagedPerson
from webinar_mgr.attendance.uploads import UPLOAD_KIND as ATTENDANCE_UPLOAD
from webinar_mgr.audit import services as audit
from webinar_mgr.audit.models import AuditEntry
from webinar_mgr.auth.models import User
from webinar_mgr.core.models import PendingUpload, Setting
from webinar_mgr.directory.models import SECTOR_MEMBER, Contact
from webinar_mgr.events.models import Event
from webinar_mgr.extensions import db
from webinar_mgr.mail.models import STATUS_FAILED, STATUS_SENT, OutboxMessage
from webinar_mgr.persistence import unit_of_work
from webinar_mgr.registrations.models import Registration
from webinar_mgr.registrations.services import lock_event

from .models import KIND_ACCESSIBILITY, KIND_AUDIT, KIND_MAIL, KIND_REGISTRATIONS, KIND_UPLOADS
from .people import ERASED_NAME, anonymise_attendance, anonymise_contact, anonymise_registration
from .services import retention_days

log = logging.getLogger(__name__)
LAST_PURGE_KEY = "privacy.last_purge"
PURGE_EVERY = timedelta(days=1)
REMOVED_MAIL_TEXT = "[removed after the retention period]"


@dataclass
class PurgeResult:
    dry_run: bool
    counts: dict[str, int] = field(
        default_factory=lambda: {
            "registrations": 0,
            "attendance": 0,
            "contacts": 0,
            "accessibility": 0,
            "uploads": 0,
            "audit": 0,
            "mail": 0,
        }
    )
    skipped: list[str] = field(default_factory=list)  # why an event was left for a later run
    skipped_events: list[int] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _event_end():
    return sa.func.coalesce(Event.ends_at, Event.starts_at)


def _import_in_progress(event_id: int) -> PendingUpload | None:
    uploads = db.session.scalars(
        sa.select(PendingUpload)
        .options(sa.orm.defer(PendingUpload.content))
        .where(PendingUpload.kind == ATTENDANCE_UPLOAD)
    )
    for u in uploads:
        if (u.meta or {}).get("event_id") == event_id:
            return u
    return None


def _is_guest():
    """Guests: people who came for an organisation that is not a member government (private
    sector, civil society, international organisations...). Member governments' officials are the
    group's own record and are kept."""
    return sa.or_(Registration.sector.is_(None), Registration.sector != SECTOR_MEMBER)


def _events_with_work(now: datetime, days: dict[str, int]) -> list[int]:
    """Events with something past its period: accessibility needs, or guests' registrations and
    unlinked attendance rows not yet anonymised. (The others are not even locked.)"""
    end = _event_end()
    needs = sa.exists().where(Registration.event_id == Event.id, Registration.accessibility_needs.is_not(None))
    guests = sa.exists().where(Registration.event_id == Event.id, _is_guest(), Registration.name != ERASED_NAME)
    loose = sa.exists().where(
        AttendanceRecord.event_id == Event.id,
        AttendanceRecord.registration_id.is_(None),
        AttendanceRecord.name != ERASED_NAME,
    )
    stmt = (
        sa.select(Event.id)
        .where(
            end.is_not(None),
            sa.or_(
                sa.and_(end < now - timedelta(days=days[KIND_ACCESSIBILITY]), needs),
                sa.and_(end < now - timedelta(days=days[KIND_REGISTRATIONS]), sa.or_(guests, loose)),
            ),
        )
        .order_by(Event.id)
    )
    return list(db.session.scalars(stmt))


def _purge_event(event_id: int, now: datetime, days: dict[str, int], result: PurgeResult) -> None:
    """One event, one unit of work, under its lock."""
    event = db.session.get(Event, event_id)
    end = event.ends_at or event.starts_at
    waiting = _import_in_progress(event_id)
    if waiting is not None:
        result.skipped_events.append(event_id)
        result.skipped.append(
            f"event {event_id} ({event.title}): an attendance import is in progress (report "
            f"{waiting.filename!r} uploaded {waiting.created_at:%Y-%m-%d %H:%M} UTC, waiting for confirmation); "
            "nothing was changed for this event: run the purge again once it is confirmed or discarded."
        )
        return
    changed = 0
    with unit_of_work():
        if not result.dry_run:
            lock_event(event_id)
            if _import_in_progress(event_id) is not None:  # uploaded while we waited for the lock
                result.skipped_events.append(event_id)
                result.skipped.append(f"event {event_id}: an attendance import started; skipped.")
                return
        if end < now - timedelta(days=days[KIND_ACCESSIBILITY]):
            regs = db.session.scalars(
                sa.select(Registration).where(
                    Registration.event_id == event_id, Registration.accessibility_needs.is_not(None)
                )
            ).all()
            result.counts["accessibility"] += len(regs)
            changed += len(regs)
            if not result.dry_run:
                for r in regs:
                    r.accessibility_needs = None
        if end < now - timedelta(days=days[KIND_REGISTRATIONS]):
            regs = db.session.scalars(
                sa.select(Registration).where(
                    Registration.event_id == event_id, _is_guest(), Registration.name != ERASED_NAME
                )
            ).all()
            reg_ids = [r.id for r in regs]
            records = db.session.scalars(
                sa.select(AttendanceRecord).where(
                    AttendanceRecord.event_id == event_id,
                    AttendanceRecord.name != ERASED_NAME,
                    sa.or_(
                        AttendanceRecord.registration_id.in_(reg_ids or [-1]),
                        AttendanceRecord.registration_id.is_(None),
                    ),
                )
            ).all()
            result.counts["registrations"] += len(regs)
            result.counts["attendance"] += len(records)
            changed += len(regs) + len(records)
            if not result.dry_run:
                for r in regs:
                    anonymise_registration(r)
                for a in records:
                    anonymise_attendance(a)
        if not result.dry_run and changed:
            audit.record(None, "privacy.purge", event, summary=f"{changed} rows past their retention period")


def _purge_guest_contacts(now: datetime, days: dict[str, int], result: PurgeResult) -> None:
    """Guests' contacts with no registration newer than the period, no account, not a focal point:
    anonymised (kept, so that invitations still count under their organisation)."""
    cutoff = now - timedelta(days=days[KIND_REGISTRATIONS])
    # Registrations the purge keeps named: recent or undated events, member governments' officials,
    # and events skipped this time (an import in progress).
    kept = (
        sa.select(Registration.contact_id)
        .join(Event, Event.id == Registration.event_id)
        .where(
            sa.or_(
                _event_end().is_(None),
                _event_end() >= cutoff,
                sa.not_(_is_guest()),
                Event.id.in_(result.skipped_events or [-1]),
            )
        )
    )
    has_registration = sa.select(Registration.contact_id)
    with_account = sa.select(sa.func.lower(User.email))
    stmt = sa.select(Contact).where(
        Contact.id.in_(has_registration),
        Contact.id.not_in(kept),
        Contact.focal_point.is_(False),
        Contact.email.not_in(with_account),
        Contact.name != ERASED_NAME,
        Contact.created_at < cutoff,
    )
    contacts = db.session.scalars(stmt).all()
    result.counts["contacts"] += len(contacts)
    if result.dry_run or not contacts:
        return
    with unit_of_work():
        for c in contacts:
            anonymise_contact(c)


def _purge_rest(now: datetime, days: dict[str, int], result: PurgeResult) -> None:
    uploads_cutoff = now - timedelta(days=days[KIND_UPLOADS])
    old_uploads = list(db.session.scalars(sa.select(PendingUpload.id).where(PendingUpload.created_at < uploads_cutoff)))
    audit_cutoff = now - timedelta(days=days[KIND_AUDIT])
    old_audit = sa.select(sa.func.count()).select_from(AuditEntry).where(AuditEntry.at < audit_cutoff)
    mail_cutoff = now - timedelta(days=days[KIND_MAIL])
    done_mail = sa.and_(
        sa.or_(
            sa.and_(OutboxMessage.status == STATUS_SENT, OutboxMessage.sent_at < mail_cutoff),
            sa.and_(OutboxMessage.status == STATUS_FAILED, OutboxMessage.last_attempt_at < mail_cutoff),
        ),
        OutboxMessage.body_text != REMOVED_MAIL_TEXT,
    )
    result.counts["uploads"] += len(old_uploads)
    result.counts["audit"] += db.session.scalar(old_audit) or 0
    result.counts["mail"] += (
        db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage).where(done_mail)) or 0
    )
    if result.dry_run:
        return
    with unit_of_work():
        if old_uploads:
            db.session.execute(
                sa.delete(AttendanceStagedPerson).where(AttendanceStagedPerson.upload_id.in_(old_uploads))
            )
            db.session.execute(sa.delete(PendingUpload).where(PendingUpload.id.in_(old_uploads)))
        db.session.execute(sa.delete(AuditEntry).where(AuditEntry.at < audit_cutoff))
        db.session.execute(
            sa.update(OutboxMessage)
            .where(done_mail)
            .values(body_text=REMOVED_MAIL_TEXT, body_html=None, attachments=None)
            .execution_options(synchronize_session=False)
        )


def purge(*, dry_run: bool = False, now: datetime | None = None) -> PurgeResult:
    """Purge what is past its period; with ``dry_run`` only count it."""
    now = now or clock.now()
    days = retention_days()
    result = PurgeResult(dry_run=dry_run)
    for event_id in _events_with_work(now, days):
        _purge_event(event_id, now, days, result)
    _purge_guest_contacts(now, days, result)
    _purge_rest(now, days, result)
    if not dry_run:
        with unit_of_work():
            audit.record(
                None,
                "privacy.purge",
                object_type="Retention",
                summary=", ".join(f"{k} {v}" for k, v in result.counts.items() if v) or "nothing past its period",
            )
    return result


@jobs.scheduled("privacy-purge")
def _daily_purge() -> int:
    """Once a day from the worker (the time of the last run is kept in the settings)."""
    now = clock.now()
    setting = db.session.get(Setting, LAST_PURGE_KEY)
    last = datetime.fromisoformat(setting.value) if setting and isinstance(setting.value, str) else None
    if last is not None and now - last < PURGE_EVERY:
        return 0
    result = purge(now=now)
    with unit_of_work():
        setting = db.session.get(Setting, LAST_PURGE_KEY)
        if setting is None:
            db.session.add(Setting(key=LAST_PURGE_KEY, value=now.isoformat()))
        else:
            setting.value = now.isoformat()
    for reason in result.skipped:
        log.warning("privacy purge: %s", reason)
    return result.total
