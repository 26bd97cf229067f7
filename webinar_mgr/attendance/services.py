"""Attendance: importing platform reports (preview, confirm), resolving unmatched rows,
the attendance threshold, and in-person check-in. Services own the transactions (one unit of
work each, see persistence) and take the person acting as the keyword ``actor``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _

from webinar_mgr import clock, exports
from webinar_mgr.audit import services as audit
from webinar_mgr.core.models import PendingUpload
from webinar_mgr.directory import services as directory
from webinar_mgr.errors import Conflict, DomainError, NotFound, ValidationFailed
from webinar_mgr.events.models import STATUS_CANCELLED, Event
from webinar_mgr.extensions import db
from webinar_mgr.i18n import is_valid_timezone
from webinar_mgr.persistence import get_or_404, transactional, unit_of_work
from webinar_mgr.registrations.models import STATUS_CONFIRMED, Registration

from . import parsers
from .models import (
    MATCH_EMAIL,
    MATCH_IGNORED,
    MATCH_LINKED,
    MATCH_NAME,
    MATCH_NONE,
    MATCH_WALK_IN,
    SOURCE_CHECKIN,
    SOURCE_IMPORT,
    AttendanceImport,
    AttendanceRecord,
)
from .signals import attendance_imported

UPLOAD_KIND = "attendance"
MATCHED = (MATCH_EMAIL, MATCH_NAME, MATCH_LINKED, MATCH_WALK_IN)


class UploadTooLarge(DomainError):
    status_code = 413


# Looking things up -----------------------------------------------------------------------------


def _require_dated(event: Event) -> None:
    if event.starts_at is None:
        raise ValidationFailed(_("The event has no date yet: set its date before importing attendance."))
    if event.status == STATUS_CANCELLED:
        raise ValidationFailed(_("The event was cancelled: there is no attendance to import."))


def current_import(event: Event) -> AttendanceImport | None:
    return db.session.scalar(
        sa.select(AttendanceImport)
        .where(AttendanceImport.event_id == event.id)
        .order_by(AttendanceImport.imported_at.desc(), AttendanceImport.id.desc())
        .limit(1)
    )


def get_record(event: Event, record_id: int) -> AttendanceRecord:
    """The attendance row ``record_id`` of ``event`` (a row of another event is not found)."""
    message = _("There is no such attendance row for this event.")
    record = get_or_404(AttendanceRecord, record_id, message)
    if record.event_id != event.id:
        raise NotFound(message)
    return record


def get_registration(event: Event, registration_id: int) -> Registration:
    """The registration ``registration_id`` for ``event`` (one for another event is not found)."""
    message = _("There is no such registration for this event.")
    reg = get_or_404(Registration, registration_id, message)
    if reg.event_id != event.id:
        raise NotFound(message)
    return reg


def get_pending(event: Event, upload_id: str, *, actor) -> PendingUpload:
    """The actor's upload for this event that waits for confirmation (uploads have text ids)."""
    upload = db.session.get(PendingUpload, upload_id)
    if (
        upload is None
        or upload.kind != UPLOAD_KIND
        or (upload.meta or {}).get("event_id") != event.id
        or upload.owner_id != getattr(actor, "id", None)
    ):
        raise NotFound(_("This upload is no longer waiting for confirmation: upload the file again."))
    return upload


# Parsing, matching -------------------------------------------------------------------------------


@dataclass
class MatchedPerson:
    person: parsers.Person
    registration: Registration | None
    match: str


@dataclass
class Preview:
    report: parsers.ParsedReport
    people: list[MatchedPerson]
    threshold: int
    warnings: list[str] = field(default_factory=list)

    @property
    def matched_by_email(self) -> int:
        return sum(1 for p in self.people if p.match == MATCH_EMAIL)

    @property
    def matched_by_name(self) -> int:
        return sum(1 for p in self.people if p.match == MATCH_NAME)

    @property
    def matched(self) -> int:
        return self.matched_by_email + self.matched_by_name

    @property
    def unmatched(self) -> list[MatchedPerson]:
        return [p for p in self.people if p.match == MATCH_NONE]

    @property
    def attended(self) -> int:
        return sum(1 for p in self.people if p.person.minutes >= self.threshold)

    @property
    def organisers_present(self) -> int:
        return sum(1 for p in self.people if p.person.is_organiser_role)

    def summary(self) -> dict:
        return {
            "format": self.report.format,
            "rows_read": self.report.rows_read,
            "people": len(self.people),
            "matched": self.matched,
            "matched_by_email": self.matched_by_email,
            "matched_by_name": self.matched_by_name,
            "unmatched": len(self.unmatched),
            "attended": self.attended,
            "hosts_and_panelists": self.organisers_present,
            "date_order": self.report.date_order,
            "timezone": self.report.timezone,
        }


def match_people(event: Event, people: list[parsers.Person]) -> list[MatchedPerson]:
    """Email (case-insensitive) first, then normalised name when exactly one registration has it."""
    regs = db.session.scalars(sa.select(Registration).where(Registration.event_id == event.id)).all()
    by_email = {r.email.strip().lower(): r for r in regs}
    by_name: dict[str, list[Registration]] = {}
    for r in regs:
        by_name.setdefault(parsers.normalise_name(r.name), []).append(r)
    taken: set[int] = set()
    out: list[MatchedPerson | None] = [None] * len(people)
    for i, p in enumerate(people):
        reg = by_email.get(p.email) if p.email else None
        if reg is not None:
            out[i] = MatchedPerson(p, reg, MATCH_EMAIL)
            taken.add(reg.id)
    for i, p in enumerate(people):
        if out[i] is not None:
            continue
        candidates = [r for r in by_name.get(parsers.normalise_name(p.name), []) if r.id not in taken]
        if len(candidates) == 1:
            out[i] = MatchedPerson(p, candidates[0], MATCH_NAME)
            taken.add(candidates[0].id)
        else:
            out[i] = MatchedPerson(p, None, MATCH_NONE)
    return [m for m in out if m is not None]


def _check_size(data: bytes) -> None:
    if len(data) > parsers.MAX_BYTES:
        raise UploadTooLarge(
            _(
                "The file is too large (%(size)s MB; the limit is %(limit)s MB).",
                size=round(len(data) / 1_048_576, 1),
                limit=parsers.MAX_BYTES // 1_048_576,
            )
        )


def analyse(event: Event, data: bytes, tz: str | None = None, threshold: int | None = None) -> Preview:
    """Parse, merge and match without saving anything."""
    _require_dated(event)
    _check_size(data)
    tz = tz or event.timezone
    if not is_valid_timezone(tz):
        raise ValidationFailed(_("Unknown time zone: %(tz)s.", tz=tz))
    report = parsers.parse_report(
        data, tz=tz, event_start=event.starts_at, event_end=event.ends_at, event_tz=event.timezone
    )
    people = parsers.merge_people(report.sessions)
    matched = match_people(event, people)
    preview = Preview(
        report=report,
        people=matched,
        threshold=event.attendance_threshold_minutes if threshold is None else threshold,
        warnings=list(report.warnings),
    )
    if preview.organisers_present:
        preview.warnings.append(
            _("Hosts, panelists and presenters are counted as attending (%(n)d).", n=preview.organisers_present)
        )
    if any(p.person.email is None for p in matched):
        preview.warnings.append(
            _(
                "%(n)d person(s) joined without an email (phone callers or guests): they can only be matched by name.",
                n=sum(1 for p in matched if p.person.email is None),
            )
        )
    return preview


@transactional
def stage_upload(
    event: Event, filename: str, data: bytes, tz: str | None = None, *, actor
) -> tuple[PendingUpload, Preview]:
    """Check the file (nothing is saved if it is bad) and keep it for the preview, in place of the
    actor's earlier upload for this event."""
    preview = analyse(event, data, tz)
    old = db.session.scalars(
        sa.select(PendingUpload).where(
            PendingUpload.kind == UPLOAD_KIND, PendingUpload.owner_id == getattr(actor, "id", None)
        )
    ).all()
    for o in old:
        if (o.meta or {}).get("event_id") == event.id:
            db.session.delete(o)
    upload = PendingUpload(
        kind=UPLOAD_KIND,
        owner_id=getattr(actor, "id", None),
        filename=(filename or "report.csv")[:255],
        content=data,
        meta={"event_id": event.id, "tz": preview.report.timezone},
    )
    db.session.add(upload)
    return upload, preview


def preview_pending(event: Event, upload_id: str, *, actor) -> tuple[PendingUpload, Preview]:
    """The actor's pending upload and its preview (read again from the kept file)."""
    upload = get_pending(event, upload_id, actor=actor)
    return upload, analyse(event, upload.content, (upload.meta or {}).get("tz"))


def _save(event: Event, preview: Preview, filename: str, *, actor) -> AttendanceImport:
    """Replace the event's earlier import by this one, inside the caller's unit of work."""
    old_imports = db.session.scalars(sa.select(AttendanceImport).where(AttendanceImport.event_id == event.id)).all()
    replaced = len(old_imports)
    for old in old_imports:
        db.session.execute(sa.delete(AttendanceRecord).where(AttendanceRecord.import_id == old.id))
        db.session.delete(old)
    db.session.flush()
    s = preview.summary()
    imp = AttendanceImport(
        event_id=event.id,
        format=preview.report.format,
        filename=(filename or "")[:255],
        rows_read=s["rows_read"],
        people=s["people"],
        matched=s["matched"],
        unmatched=s["unmatched"],
        attended=s["attended"],
        imported_by_id=getattr(actor, "id", None),
        imported_at=clock.now(),
        meta={
            "timezone": preview.report.timezone,
            "date_order": preview.report.date_order,
            "topic": preview.report.meta.get("topic"),
            "report_start": preview.report.meta.get("start"),
            "matched_by_email": s["matched_by_email"],
            "matched_by_name": s["matched_by_name"],
            "hosts_and_panelists": s["hosts_and_panelists"],
            "warnings": [str(w) for w in preview.warnings],
        },
    )
    db.session.add(imp)
    db.session.flush()
    rows = _record_rows(imp, preview)
    if rows:
        db.session.execute(sa.insert(AttendanceRecord), rows)
    attendance_imported.send(imp)
    audit.record(
        actor,
        "attendance.import",
        event,
        summary=_(
            "%(file)s: %(people)d people, %(matched)d matched, %(unmatched)d unmatched, "
            "%(attended)d attended%(replaced)s",
            file=filename,
            people=s["people"],
            matched=s["matched"],
            unmatched=s["unmatched"],
            attended=s["attended"],
            replaced=_(" (replaces the earlier import)") if replaced else "",
        ),
        changes={k: [None, v] for k, v in s.items()},
    )
    return imp


def _record_rows(imp: AttendanceImport, preview: Preview) -> list[dict]:
    """One attendance row per person of the preview, ready for one bulk insert."""
    now = clock.now()
    return [
        {
            "event_id": imp.event_id,
            "import_id": imp.id,
            "registration_id": mp.registration.id if mp.registration else None,
            "source": SOURCE_IMPORT,
            "name": mp.person.name[:300],
            "email": mp.person.email,
            "minutes": mp.person.minutes,
            "first_join": mp.person.first_join,
            "last_leave": mp.person.last_leave,
            "sessions": [
                {
                    "join": j.isoformat() if j else None,
                    "leave": lv.isoformat() if lv else None,
                    "role": role,
                    "line": line,
                }
                for j, lv, role, line in mp.person.sessions
            ],
            "match": mp.match,
            "attended": mp.person.minutes >= preview.threshold,
            "created_at": now,
        }
        for mp in preview.people
    ]


@transactional
def confirm(event: Event, upload_id: str, *, actor) -> AttendanceImport:
    """All or nothing: the new import replaces the earlier one in the same transaction."""
    upload, preview = preview_pending(event, upload_id, actor=actor)
    imp = _save(event, preview, upload.filename, actor=actor)
    db.session.delete(upload)
    return imp


def import_file(
    event: Event, filename: str, data: bytes, tz: str | None = None, dry_run: bool = False, *, actor=None
) -> tuple[Preview, AttendanceImport | None]:
    """One step (command line, demo data; ``actor`` None there): parse, match and, unless
    ``dry_run``, save."""
    preview = analyse(event, data, tz)
    if dry_run:
        return preview, None
    with unit_of_work():
        imp = _save(event, preview, filename, actor=actor)
    return preview, imp


# After the import ------------------------------------------------------------------------------


def _refresh_counts(event: Event) -> None:
    imp = current_import(event)
    if imp is None:
        return
    rows = db.session.execute(
        sa.select(AttendanceRecord.match, AttendanceRecord.attended, sa.func.count())
        .where(AttendanceRecord.import_id == imp.id)
        .group_by(AttendanceRecord.match, AttendanceRecord.attended)
    ).all()
    imp.matched = sum(n for m, _a, n in rows if m in MATCHED)
    imp.unmatched = sum(n for m, _a, n in rows if m == MATCH_NONE)
    imp.attended = sum(n for m, a, n in rows if a and m != MATCH_IGNORED)


@transactional
def set_threshold(event: Event, minutes: int, *, actor) -> int:
    """Change the event's threshold and recompute every imported row; returns how many attended."""
    if minutes is None or minutes < 0 or minutes > 24 * 60:
        raise ValidationFailed(
            _("The threshold must be between 0 and 1440 minutes."), field_errors={"minutes": [_("Between 0 and 1440.")]}
        )
    before = event.attendance_threshold_minutes
    event.attendance_threshold_minutes = minutes
    base = sa.update(AttendanceRecord).where(
        AttendanceRecord.event_id == event.id, AttendanceRecord.source == SOURCE_IMPORT
    )
    db.session.execute(
        base.where(AttendanceRecord.match != MATCH_IGNORED).values(attended=AttendanceRecord.minutes >= minutes),
        execution_options={"synchronize_session": False},
    )
    db.session.execute(
        base.where(AttendanceRecord.match == MATCH_IGNORED).values(attended=False),
        execution_options={"synchronize_session": False},
    )
    _refresh_counts(event)
    audit.record(
        actor,
        "attendance.threshold",
        event,
        summary=_("Attendance threshold %(a)d -> %(b)d minutes", a=before, b=minutes),
        changes=audit.diff({"attendance_threshold_minutes": before}, {"attendance_threshold_minutes": minutes}),
    )
    imp = current_import(event)  # its counts were just recomputed from the rows
    return imp.attended if imp else 0


def _unresolved(event: Event, record_id: int) -> AttendanceRecord:
    record = get_record(event, record_id)
    if record.source != SOURCE_IMPORT:
        raise NotFound(_("There is no such attendance row for this event."))
    if record.match not in (MATCH_NONE, MATCH_IGNORED):
        raise Conflict(_("This row is already matched to a registration."))
    return record


@transactional
def link_record(event: Event, record_id: int, registration_id: int, *, actor) -> AttendanceRecord:
    record = _unresolved(event, record_id)
    reg = get_registration(event, registration_id)
    before = {"registration_id": record.registration_id, "match": record.match}
    record.registration_id = reg.id
    record.match = MATCH_LINKED
    record.attended = record.minutes >= event.attendance_threshold_minutes
    _refresh_counts(event)
    audit.record(
        actor,
        "attendance.link",
        record,
        summary=_("%(row)s linked to the registration of %(reg)s", row=record.name, reg=f"{reg.name} <{reg.email}>"),
        changes=audit.diff(before, {"registration_id": reg.id, "match": record.match}),
    )
    return record


@transactional
def add_walk_in(event: Event, record_id: int, *, email: str, name: str | None = None, actor) -> Registration:
    """A person who attended without registering: a contact and a confirmed registration
    (capacity does not apply: they were there)."""
    record = _unresolved(event, record_id)
    email = (email or record.email or "").strip().lower()
    name = (name or record.name or "").strip()
    if not email or "@" not in email or len(email) > 254:
        raise ValidationFailed(
            _("A walk-in needs an email address to become a contact."),
            field_errors={"email": [_("Enter an email address.")]},
        )
    if not name:
        raise ValidationFailed(_("Enter a name."), field_errors={"name": [_("Enter a name.")]})
    existing = db.session.scalar(
        sa.select(Registration).where(Registration.event_id == event.id, Registration.email == email)
    )
    if existing is not None:
        raise Conflict(
            _("%(email)s is already registered for this event: link the row to that registration instead.", email=email)
        )
    contact = directory.get_or_create_contact(email, name[:200], actor=actor)
    org = contact.organisation
    now = clock.now()
    reg = Registration(
        event_id=event.id,
        contact_id=contact.id,
        email=email,
        name=name[:200],
        organisation_id=contact.organisation_id,
        organisation_name=org.name if org else None,
        sector=org.sector if org else None,
        member_government_id=org.id if (org is not None and org.is_member_government) else None,
        position=contact.position,
        timezone=contact.timezone or event.timezone,
        status=STATUS_CONFIRMED,
        confirmed_at=now,
    )
    db.session.add(reg)
    db.session.flush()
    record.registration_id = reg.id
    record.match = MATCH_WALK_IN
    record.attended = record.minutes >= event.attendance_threshold_minutes
    _refresh_counts(event)
    audit.record(
        actor,
        "registration.walk_in",
        reg,
        summary=_("%(name)s <%(email)s> added as a walk-in from the attendance report", name=name, email=email),
    )
    audit.record(
        actor,
        "attendance.walk_in",
        record,
        summary=_("%(row)s added as a walk-in", row=record.name),
        changes={"registration_id": [None, reg.id], "match": [MATCH_NONE, MATCH_WALK_IN]},
    )
    return reg


@transactional
def ignore_record(event: Event, record_id: int, ignore: bool = True, *, actor) -> AttendanceRecord:
    """Ignore an unmatched row (it never counts as attended), or bring an ignored row back."""
    record = _unresolved(event, record_id)
    before = record.match
    record.match = MATCH_IGNORED if ignore else MATCH_NONE
    record.attended = False if ignore else record.minutes >= event.attendance_threshold_minutes
    _refresh_counts(event)
    audit.record(
        actor,
        "attendance.ignore" if ignore else "attendance.unignore",
        record,
        summary=record.name,
        changes={"match": [before, record.match]},
    )
    return record


# Check-in --------------------------------------------------------------------------------------


@transactional
def checkin(event: Event, registration_id: int, *, actor) -> AttendanceRecord:
    """Check a confirmed registrant in (checking in twice keeps the first check-in)."""
    reg = get_registration(event, registration_id)
    existing = db.session.scalar(
        sa.select(AttendanceRecord).where(
            AttendanceRecord.event_id == event.id,
            AttendanceRecord.registration_id == reg.id,
            AttendanceRecord.source == SOURCE_CHECKIN,
        )
    )
    if existing is not None:
        return existing
    now = clock.now()
    record = AttendanceRecord(
        event_id=event.id,
        registration_id=reg.id,
        source=SOURCE_CHECKIN,
        name=reg.name,
        email=reg.email,
        minutes=0,
        first_join=now,
        match=MATCH_LINKED,
        attended=True,
        created_at=now,
    )
    db.session.add(record)
    db.session.flush()
    audit.record(actor, "attendance.checkin", record, summary=f"{reg.name} <{reg.email}>")
    return record


@transactional
def undo_checkin(event: Event, registration_id: int, *, actor) -> None:
    reg = get_registration(event, registration_id)
    record = db.session.scalar(
        sa.select(AttendanceRecord).where(
            AttendanceRecord.event_id == event.id,
            AttendanceRecord.registration_id == reg.id,
            AttendanceRecord.source == SOURCE_CHECKIN,
        )
    )
    if record is None:
        raise NotFound(_("%(name)s is not checked in.", name=reg.name))
    audit.record(actor, "attendance.checkin_undo", record, summary=f"{reg.name} <{reg.email}>")
    db.session.delete(record)


# Reading ---------------------------------------------------------------------------------------


@dataclass
class CheckinRow:
    registration: Registration
    checked_in_at: datetime | None


def checkin_list(event: Event, q: str = "") -> list[CheckinRow]:
    stmt = (
        sa.select(Registration, AttendanceRecord.created_at)
        .outerjoin(
            AttendanceRecord,
            sa.and_(AttendanceRecord.registration_id == Registration.id, AttendanceRecord.source == SOURCE_CHECKIN),
        )
        .where(Registration.event_id == event.id, Registration.status == STATUS_CONFIRMED)
        .order_by(Registration.name, Registration.id)
    )
    q = (q or "").strip()
    if q:
        like = f"%{q.lower()}%"
        stmt = stmt.where(
            sa.or_(
                sa.func.lower(Registration.name).like(like),
                sa.func.lower(Registration.email).like(like),
                sa.func.lower(sa.func.coalesce(Registration.organisation_name, "")).like(like),
            )
        )
    return [CheckinRow(reg, at) for reg, at in db.session.execute(stmt).unique().all()]


def records(event: Event) -> list[AttendanceRecord]:
    return list(
        db.session.scalars(
            sa.select(AttendanceRecord)
            .where(AttendanceRecord.event_id == event.id)
            .order_by(AttendanceRecord.source, AttendanceRecord.name, AttendanceRecord.id)
        ).unique()
    )


def link_choices(event: Event) -> list[tuple[int, str]]:
    """Registrations of the event not yet matched to an attendance row."""
    used = sa.select(AttendanceRecord.registration_id).where(
        AttendanceRecord.event_id == event.id,
        AttendanceRecord.registration_id.is_not(None),
        AttendanceRecord.source == SOURCE_IMPORT,
    )
    rows = db.session.execute(
        sa.select(Registration.id, Registration.name, Registration.email)
        .where(Registration.event_id == event.id, Registration.id.not_in(used))
        .order_by(Registration.name)
    ).all()
    return [(rid, f"{name} <{email}>") for rid, name, email in rows]


def export_records(event: Event, *, actor) -> exports.ExportFile:
    """The event's attendance rows as a CSV download (audited as an export)."""
    header, rows = _export_rows(event)
    return exports.export(
        header, rows, fmt="csv", name=f"attendance-event-{event.id}", action="attendance.export", actor=actor, obj=event
    )


def _export_rows(event: Event) -> tuple[list[str], list[list]]:
    header = [
        _("Name"),
        _("Email"),
        _("Source"),
        _("Minutes"),
        _("Attended"),
        _("Match"),
        _("Registration email"),
        _("First join (UTC)"),
        _("Last leave (UTC)"),
    ]
    out = []
    for r in records(event):
        out.append(
            [
                r.name,
                r.email or "",
                r.source,
                r.minutes,
                r.attended,
                r.match,
                r.registration.email if r.registration else "",
                r.first_join.strftime("%Y-%m-%d %H:%M:%S") if r.first_join else "",
                r.last_leave.strftime("%Y-%m-%d %H:%M:%S") if r.last_leave else "",
            ]
        )
    return header, out
