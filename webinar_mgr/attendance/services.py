"""Attendance: importing platform reports (preview, confirm; merged with the earlier imports or,
when asked, replacing them; each import listed and undoable), resolving unmatched rows, the
attendance threshold, and in-person check-in. Services own the transactions (one unit of work
each, see persistence) and take the person acting as the keyword ``actor``.

How an import combines with what is there is decided in ``merging`` (pure); this module loads the
event's rows and sessions for it, shows the plan's effect (preview) or writes the plan (confirm)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import lazyload, load_only

from webinar_mgr import clock, exports
from webinar_mgr.audit import services as audit
from webinar_mgr.directory import services as directory
from webinar_mgr.directory.models import SECTOR_MEMBER
from webinar_mgr.directory.signals import Gap, gap_url
from webinar_mgr.errors import Conflict, DomainError, NotFound, ValidationFailed
from webinar_mgr.events.models import STATUS_CANCELLED, Event
from webinar_mgr.extensions import db
from webinar_mgr.i18n import is_valid_timezone
from webinar_mgr.persistence import get_or_404, transactional, unit_of_work
from webinar_mgr.registrations.models import STATUS_CONFIRMED, Registration
from webinar_mgr.registrations.services import lock_event

from . import merging, parsers, staging
from .models import (
    MANUAL_MATCHES,
    MATCH_EMAIL,
    MATCH_IGNORED,
    MATCH_LINKED,
    MATCH_NAME,
    MATCH_NONE,
    MATCH_WALK_IN,
    MODE_MERGE,
    MODE_REPLACE,
    SOURCE_CHECKIN,
    SOURCE_IMPORT,
    AttendanceImport,
    AttendanceRecord,
    AttendanceSession,
)
from .signals import attendance_imported

MATCHED = (MATCH_EMAIL, MATCH_NAME, MATCH_LINKED, MATCH_WALK_IN)
MODES = (MODE_MERGE, MODE_REPLACE)
_CHUNK = 500  # ids per IN (...) list


class UploadTooLarge(DomainError):
    status_code = 413


class AlreadyImported(Conflict):
    """Merging this report would change nothing: the same file, or only sessions already there.
    ``previous`` is the earlier import of the same file (None when only the sessions are known)."""

    def __init__(self, message: str, previous: AttendanceImport | None = None):
        super().__init__(message)
        self.previous = previous


# Looking things up -----------------------------------------------------------------------------


def _require_dated(event: Event) -> None:
    if event.starts_at is None:
        raise ValidationFailed(_("The event has no date yet: set its date before importing attendance."))
    if event.status == STATUS_CANCELLED:
        raise ValidationFailed(_("The event was cancelled: there is no attendance to import."))


def imports(event: Event) -> list[AttendanceImport]:
    """The event's imports, newest first (undone ones included: they stay listed)."""
    return list(
        db.session.scalars(
            sa.select(AttendanceImport)
            .where(AttendanceImport.event_id == event.id)
            .order_by(AttendanceImport.imported_at.desc(), AttendanceImport.id.desc())
        ).unique()
    )


def current_import(event: Event) -> AttendanceImport | None:
    """The event's latest import that is not undone."""
    return db.session.scalar(
        sa.select(AttendanceImport)
        .where(AttendanceImport.event_id == event.id, AttendanceImport.undone_at.is_(None))
        .order_by(AttendanceImport.imported_at.desc(), AttendanceImport.id.desc())
        .limit(1)
    )


def get_import(event: Event, import_id: int) -> AttendanceImport:
    message = _("There is no such import for this event.")
    imp = get_or_404(AttendanceImport, import_id, message)
    if imp.event_id != event.id:
        raise NotFound(message)
    return imp


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


# Parsing, matching -------------------------------------------------------------------------------


@dataclass
class MatchedPerson:
    person: parsers.Person
    registration: Registration | None
    match: str


@dataclass
class Preview:
    """A report read and matched, nothing written: the report's own counts (``summary``), and,
    through :func:`plan`, what merging or replacing would change for the event."""

    report: parsers.ParsedReport
    people: list[MatchedPerson]
    threshold: int
    warnings: list[str] = field(default_factory=list)
    content_hash: str | None = None

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
    """Email (case-insensitive) first, then normalised name when exactly one registration has it.
    (The registrations are loaded without their relations: a big event has thousands.)"""
    regs = db.session.scalars(
        sa.select(Registration)
        .options(
            load_only(Registration.id, Registration.event_id, Registration.email, Registration.name), lazyload("*")
        )
        .where(Registration.event_id == event.id)
    ).all()
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


def read_report(event: Event, data: bytes, tz: str | None = None) -> tuple[parsers.ParsedReport, list[parsers.Person]]:
    """Parse and merge the report's sessions into people (no database): the slow part, done once."""
    _require_dated(event)
    _check_size(data)
    tz = tz or event.timezone
    if not is_valid_timezone(tz):
        raise ValidationFailed(_("Unknown time zone: %(tz)s.", tz=tz))
    report = parsers.parse_report(
        data, tz=tz, event_start=event.starts_at, event_end=event.ends_at, event_tz=event.timezone
    )
    return report, parsers.merge_people(report.sessions)


def matched_preview(
    event: Event,
    report: parsers.ParsedReport,
    people: list[parsers.Person],
    threshold: int | None = None,
    content_hash: str | None = None,
) -> Preview:
    """Match the people to the event's registrations and gather the warnings."""
    matched = match_people(event, people)
    preview = Preview(
        report=report,
        people=matched,
        threshold=event.attendance_threshold_minutes if threshold is None else threshold,
        warnings=list(report.warnings),
        content_hash=content_hash,
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


def analyse(event: Event, data: bytes, tz: str | None = None, threshold: int | None = None) -> Preview:
    """Parse, merge and match without saving anything."""
    report, people = read_report(event, data, tz)
    return matched_preview(event, report, people, threshold, staging.content_hash(data))


# What an import would change -----------------------------------------------------------------------


def _record_states(event: Event, *, restorable_by: int | None = None):
    """The event's rows with their active sessions, as ``merging`` sees them; with
    ``restorable_by``, also the sessions that import removed (by row), which an undo gives back."""
    rows = db.session.execute(
        sa.select(
            AttendanceRecord.id,
            AttendanceRecord.source,
            AttendanceRecord.person_key,
            AttendanceRecord.name,
            AttendanceRecord.email,
            AttendanceRecord.registration_id,
            AttendanceRecord.match,
            AttendanceRecord.minutes,
            AttendanceRecord.attended,
            AttendanceRecord.first_join,
            AttendanceRecord.last_leave,
            AttendanceRecord.country,
        )
        .where(AttendanceRecord.event_id == event.id)
        .order_by(AttendanceRecord.id)
    ).all()
    states = {
        r.id: merging.RecordState(
            id=r.id,
            source=r.source,
            person_key=r.person_key,
            name=r.name,
            email=r.email,
            registration_id=r.registration_id,
            match=r.match,
            minutes=r.minutes,
            attended=r.attended,
            first_join=r.first_join,
            last_leave=r.last_leave,
            country=r.country,
        )
        for r in rows
    }
    restorable: dict[int, list[merging.SessionState]] = {}
    removed = AttendanceSession.removed_by_id.is_(None)
    if restorable_by is not None:
        removed = sa.or_(removed, AttendanceSession.removed_by_id == restorable_by)
    sessions = db.session.execute(
        sa.select(
            AttendanceSession.id,
            AttendanceSession.record_id,
            AttendanceSession.import_id,
            AttendanceSession.join_at,
            AttendanceSession.leave_at,
            AttendanceSession.duration,
            AttendanceSession.country,
            AttendanceSession.role,
            AttendanceSession.line,
            AttendanceSession.removed_by_id,
        )
        .join(AttendanceImport, AttendanceImport.id == AttendanceSession.import_id)
        .where(AttendanceImport.event_id == event.id, AttendanceImport.undone_at.is_(None), removed)
    ).all()
    for s in sessions:
        state = merging.SessionState(
            join=s.join_at,
            leave=s.leave_at,
            duration=s.duration,
            import_id=s.import_id,
            country=s.country,
            id=s.id,
            role=s.role,
            line=s.line,
        )
        if s.removed_by_id is None:
            states[s.record_id].sessions.append(state)
        else:
            restorable.setdefault(s.record_id, []).append(state)
    return list(states.values()), restorable


def stored_key(key: str) -> str:
    """A person's key as the row keeps it (at most 320 characters: a longer one is cut and given
    a hash of the whole, so that two keys never become one)."""
    if len(key) <= 320:
        return key
    return f"{key[:255]}#{hashlib.sha256(key.encode()).hexdigest()}"


def _incoming(preview: Preview) -> list[merging.Incoming]:
    return [
        merging.Incoming(
            key=stored_key(mp.person.key),
            name=mp.person.name,
            email=mp.person.email,
            registration_id=mp.registration.id if mp.registration else None,
            match=mp.match,
            sessions=mp.person.rows,
            minutes=mp.person.minutes,
            first_join=mp.person.first_join,
            last_leave=mp.person.last_leave,
            country=mp.person.country,
        )
        for mp in preview.people
    ]


def plan(event: Event, preview: Preview, mode: str = MODE_MERGE, *, records=None) -> merging.Plan:
    """What confirming ``preview`` in ``mode`` would do, computed from the event's rows now
    (``records``: the event's rows as :func:`record_states` gave them, to plan twice on one read)."""
    if mode not in MODES:
        raise ValidationFailed(_("Choose to merge the report or to replace the earlier imports."))
    if records is None:
        records = record_states(event)
    return merging.plan_import(records, _incoming(preview), mode=mode, threshold=event.attendance_threshold_minutes)


def record_states(event: Event) -> list[merging.RecordState]:
    """The event's rows with their active sessions (plans do not change them)."""
    return _record_states(event)[0]


def same_file_import(event: Event, content_hash: str | None) -> AttendanceImport | None:
    """The event's import of the same file that still counts, if any."""
    if not content_hash:
        return None
    return db.session.scalar(
        sa.select(AttendanceImport)
        .where(
            AttendanceImport.event_id == event.id,
            AttendanceImport.content_hash == content_hash,
            AttendanceImport.undone_at.is_(None),
        )
        .order_by(AttendanceImport.id.desc())
        .limit(1)
    )


def refusal(event: Event, preview: Preview, result: merging.Plan, mode: str) -> AlreadyImported | None:
    """Why merging this report would change nothing - every session already there, nobody new -
    (None when the merge changes something, or when replacing: replacing with the same report is a
    choice)."""
    if mode != MODE_MERGE:
        return None
    return refusal_of(event, result.effect, preview.content_hash)


def refusal_of(event: Event, effect: merging.Effect, content_hash: str | None) -> AlreadyImported | None:
    """:func:`refusal` from a merge's effect, naming the earlier import of the same file if any."""
    if not effect.changes_nothing:
        return None
    previous = same_file_import(event, content_hash)
    if previous is not None:
        return AlreadyImported(
            _(
                "This file was already imported on %(when)s (%(file)s): importing it again changes nothing, "
                "so nothing was saved.",
                when=previous.imported_at.strftime("%Y-%m-%d %H:%M UTC"),
                file=previous.filename,
            ),
            previous,
        )
    return AlreadyImported(
        _(
            "Every session in this report is already imported (same people, same times): importing it "
            "changes nothing, so nothing was saved."
        )
    )


# Saving ------------------------------------------------------------------------------------------


def import_file(
    event: Event,
    filename: str,
    data: bytes,
    tz: str | None = None,
    dry_run: bool = False,
    *,
    mode: str = MODE_MERGE,
    actor=None,
) -> tuple[Preview, AttendanceImport | None, merging.Effect]:
    """One step (command line, demo data; ``actor`` None there): parse, match and, unless
    ``dry_run``, save. Returns the preview, the import (None for a dry run) and its effect.
    Merging a report that changes nothing raises :class:`AlreadyImported` (nothing saved)."""
    preview = analyse(event, data, tz)
    if dry_run:
        return preview, None, plan(event, preview, mode).effect
    with unit_of_work():
        lock_event(event.id)
        imp = save_import(event, preview, filename, mode, actor=actor)
    return preview, imp, merging.Effect.from_dict(imp.effect)


def save_import(event: Event, preview: Preview, filename: str, mode: str, *, actor) -> AttendanceImport:
    """Write the import and its plan inside the caller's unit of work (the event is locked)."""
    result = plan(event, preview, mode)
    problem = refusal(event, preview, result, mode)
    if problem is not None:
        raise problem
    s = preview.summary()
    effect = result.effect
    removed = set(result.removed_sessions)
    replaced = sorted({st.import_id for r in result.before.values() for st in r.sessions if st.id in removed})
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
        content_hash=preview.content_hash,
        mode=mode,
        effect=effect.as_dict(),
        meta={
            "timezone": preview.report.timezone,
            "date_order": preview.report.date_order,
            "topic": preview.report.meta.get("topic"),
            "report_start": preview.report.meta.get("start"),
            "matched_by_email": s["matched_by_email"],
            "matched_by_name": s["matched_by_name"],
            "hosts_and_panelists": s["hosts_and_panelists"],
            "warnings": [str(w) for w in preview.warnings],
            "replaced_imports": replaced,
        },
    )
    db.session.add(imp)
    db.session.flush()
    _write_plan(event, result, imp.id)
    attendance_imported.send(imp)
    audit.record(
        actor,
        "attendance.import" if mode == MODE_MERGE else "attendance.replace",
        imp,
        summary=_(
            "%(file)s (%(mode)s): %(people)d people, %(matched)d matched, %(unmatched)d unmatched, "
            "%(attended)d attended; %(effect)s",
            file=filename,
            mode=mode_label(mode),
            people=s["people"],
            matched=s["matched"],
            unmatched=s["unmatched"],
            attended=s["attended"],
            effect=effect.line(),
        ),
        changes={
            "event_id": [None, event.id],
            **{k: [None, v] for k, v in s.items()},
            "effect": [None, effect.as_dict()],
        },
    )
    return imp


def mode_label(mode: str) -> str:
    return _("merged") if mode == MODE_MERGE else _("replacing the earlier imports")


def _write_plan(event: Event, result: merging.Plan, import_id: int) -> None:
    """Write a plan: the new rows, the changed rows, the incoming sessions (of ``import_id``), the
    sessions a replace removes and those an undo restores."""
    ids = _insert_rows(event, result, import_id)
    _update_rows(result)
    sessions = [
        {
            "record_id": ids.get(key, key),
            "import_id": import_id,
            "join_at": st.join,
            "leave_at": st.leave,
            "duration": st.duration,
            "role": (st.role or "attendee")[:32],
            "line": st.line,
            "country": st.country,
        }
        for key, added in result.add.items()
        for st in added
    ]
    for i in range(0, len(sessions), 10 * _CHUNK):
        db.session.execute(AttendanceSession.__table__.insert(), sessions[i : i + 10 * _CHUNK])
    for chunk in _chunks(result.removed_sessions):
        db.session.execute(
            sa.update(AttendanceSession).where(AttendanceSession.id.in_(chunk)).values(removed_by_id=import_id),
            execution_options={"synchronize_session": False},
        )
    for chunk in _chunks(result.restored_sessions):
        db.session.execute(
            sa.update(AttendanceSession).where(AttendanceSession.id.in_(chunk)).values(removed_by_id=None),
            execution_options={"synchronize_session": False},
        )
    db.session.expire_all()


def _insert_rows(event: Event, result: merging.Plan, import_id: int) -> dict[int, int]:
    """Insert the plan's new rows; returns their ids by the plan's provisional keys."""
    keys = [k for k in result.after if k in result.created]
    if not keys:
        return {}
    now = clock.now()
    rows = [
        {
            "event_id": event.id,
            "import_id": import_id,
            "registration_id": r.registration_id,
            "source": SOURCE_IMPORT,
            "person_key": r.person_key,
            "name": r.name[:300],
            "email": r.email,
            "country": r.country,
            "minutes": r.minutes,
            "first_join": r.first_join,
            "last_leave": r.last_leave,
            "match": r.match,
            "attended": r.attended,
            "session_count": r.session_count,
            "created_at": now,
        }
        for r in (result.after[k] for k in keys)
    ]
    # Plain inserts (one statement per batch), then the ids by the person's key, unique per event:
    # RETURNING over tens of thousands of rows is split by the driver into many small statements.
    table = AttendanceRecord.__table__
    for i in range(0, len(rows), 10 * _CHUNK):
        db.session.execute(table.insert(), rows[i : i + 10 * _CHUNK])
    ids: dict[str, int] = {}
    wanted = [row["person_key"] for row in rows]
    for chunk in _chunks(wanted):
        ids.update(
            db.session.execute(
                sa.select(table.c.person_key, table.c.id).where(
                    table.c.event_id == event.id, table.c.person_key.in_(chunk)
                )
            ).all()
        )
    return {key: ids[row["person_key"]] for key, row in zip(keys, rows, strict=True)}


def _update_rows(result: merging.Plan) -> None:
    """Write the changed rows' computed values (and a registration found for a row without one)."""
    rows = []
    for key in result.touched:
        if key in result.created:
            continue
        r = result.after[key]
        rows.append(
            {
                "id": key,
                "registration_id": r.registration_id,
                "match": r.match,
                "email": r.email,
                "country": r.country,
                "minutes": r.minutes,
                "first_join": r.first_join,
                "last_leave": r.last_leave,
                "attended": r.attended,
                "session_count": r.session_count,
            }
        )
    if rows:  # one executemany (the ORM's bulk update runs a statement per row on SQLite)
        table = AttendanceRecord.__table__
        columns = [c for c in rows[0] if c != "id"]
        stmt = (
            table.update()
            .where(table.c.id == sa.bindparam("row_id"))
            .values({c: sa.bindparam(f"new_{c}") for c in columns})
        )
        db.session.execute(stmt, [{"row_id": row["id"], **{f"new_{c}": row[c] for c in columns}} for row in rows])


def _chunks(ids: list[int]):
    for i in range(0, len(ids), _CHUNK):
        yield ids[i : i + _CHUNK]


@transactional
def undo_import(event: Event, import_id: int, *, actor) -> tuple[AttendanceImport, merging.Effect]:
    """Undo an import: its sessions stop counting, the sessions it removed (as a replace) count
    again, and the minutes and attended of the people it touched are recomputed. Audited; the
    import stays listed, marked undone."""
    lock_event(event.id)
    imp = get_import(event, import_id)
    if imp.undone_at is not None:
        raise Conflict(_("This import was already undone."))
    records, restorable = _record_states(event, restorable_by=imp.id)
    result = merging.plan_undo(records, imp.id, restorable, threshold=event.attendance_threshold_minutes)
    _write_plan(event, result, imp.id)
    imp = get_import(event, import_id)
    imp.undone_at = clock.now()
    imp.undone_by_id = getattr(actor, "id", None)
    imp.meta = {**(imp.meta or {}), "undo_effect": result.effect.as_dict()}
    audit.record(
        actor,
        "attendance.undo",
        imp,
        summary=_("Import of %(file)s undone: %(effect)s", file=imp.filename, effect=result.effect.line()),
        changes={"undone_at": [None, imp.undone_at], "effect": [None, result.effect.as_dict()]},
    )
    return imp, result.effect


# Counting ----------------------------------------------------------------------------------------


def _shown():
    """Rows listed and counted (see merging's rules)."""
    return sa.or_(
        AttendanceRecord.source == SOURCE_CHECKIN,
        AttendanceRecord.session_count > 0,
        AttendanceRecord.match.in_(MANUAL_MATCHES),
    )


def attended_clause():
    """Records that say the person attended: shown, not ignored, at or over the threshold (or a
    check-in). One rule for the counts, certificates and feedback surveys."""
    return sa.and_(_shown(), AttendanceRecord.match != MATCH_IGNORED, AttendanceRecord.attended.is_(True))


@dataclass
class Counts:
    """The event's attendance now, across its imports and check-ins."""

    people: int  # people of the reports (rows shown, not ignored)
    matched: int
    unmatched: int
    ignored: int
    attended: int  # people counted as attended (registrations once, and unlinked report rows)
    attended_registrations: int  # the co-chairs' number: registrations with an attended row
    checked_in: int


def event_counts(event: Event) -> Counts:
    rows = db.session.execute(
        sa.select(
            AttendanceRecord.id,
            AttendanceRecord.source,
            AttendanceRecord.match,
            AttendanceRecord.registration_id,
            AttendanceRecord.attended,
        ).where(AttendanceRecord.event_id == event.id, _shown())
    ).all()
    states = [
        merging.RecordState(
            id=r.id,
            source=r.source,
            person_key=None,
            name="",
            email=None,
            registration_id=r.registration_id,
            match=r.match,
            attended=r.attended,
            pending=1,  # shown (the query took only those): its sessions are not needed to count
        )
        for r in rows
    ]
    reports = [s for s in states if s.source == SOURCE_IMPORT]
    people = [s for s in reports if s.match != MATCH_IGNORED]
    return Counts(
        people=len(people),
        matched=sum(1 for s in people if s.match in MATCHED),
        unmatched=sum(1 for s in people if s.match == MATCH_NONE),
        ignored=len(reports) - len(people),
        attended=merging.attended_people(states),
        attended_registrations=merging.attended_registrations(states),
        checked_in=sum(1 for s in states if s.source == SOURCE_CHECKIN),
    )


# After the import ------------------------------------------------------------------------------


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
    counting = sa.and_(AttendanceRecord.match != MATCH_IGNORED, AttendanceRecord.session_count > 0)
    db.session.execute(
        base.where(counting).values(attended=AttendanceRecord.minutes >= minutes),
        execution_options={"synchronize_session": False},
    )
    db.session.execute(
        base.where(sa.not_(counting)).values(attended=False),
        execution_options={"synchronize_session": False},
    )
    db.session.expire_all()
    audit.record(
        actor,
        "attendance.threshold",
        event,
        summary=_("Attendance threshold %(a)d -> %(b)d minutes", a=before, b=minutes),
        changes=audit.diff({"attendance_threshold_minutes": before}, {"attendance_threshold_minutes": minutes}),
    )
    return event_counts(event).attended


def _counts_as_attended(record: AttendanceRecord, event: Event) -> bool:
    return record.session_count > 0 and record.minutes >= event.attendance_threshold_minutes


def _unresolved(event: Event, record_id: int) -> AttendanceRecord:
    record = get_record(event, record_id)
    if record.source != SOURCE_IMPORT or record.session_count == 0:
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
    record.attended = _counts_as_attended(record, event)
    audit.record(
        actor,
        "attendance.link",
        record,
        summary=_("%(row)s linked to the registration of %(reg)s", row=record.name, reg=f"{reg.name} <{reg.email}>"),
        changes=audit.diff(before, {"registration_id": reg.id, "match": record.match}),
    )
    return record


class ContactNeedsConfirmation(Conflict):
    """The walk-in's address belongs to a directory contact: the organiser must say it is them."""

    def __init__(self, contact):
        message = contact_notice(contact)
        super().__init__(
            message,
            field_errors={"confirm_contact": [_("Tick the box if this is the same person, or change the address.")]},
        )
        self.contact = contact


def contact_notice(contact) -> str:
    """ "This address belongs to <name>, <organisation>" for a walk-in's address already in the directory."""
    if contact.organisation is not None:
        return _(
            "This address belongs to %(name)s, %(organisation)s.",
            name=contact.name,
            organisation=contact.organisation.name,
        )
    return _("This address belongs to %(name)s (no organisation yet).", name=contact.name)


def existing_contact(email: str | None):
    """The directory contact with this address, if any (for the walk-in form's notice)."""
    return directory.find_contact_by_email(email) if email and "@" in email else None


def country_suggestion(country: str | None) -> tuple[str | None, int | None]:
    """What the platform's country (Zoom's Country/Region Name) suggests for a walk-in's
    organisation: its ISO code and the member government of that country (None when unknown)."""
    if not country:
        return None, None
    try:
        code = directory.country_code_for(country)
    except ValueError:
        code = None
    member = directory.member_government_for_country(country)
    return code, member.id if member is not None else None


@transactional
def add_walk_in(
    event: Event,
    record_id: int,
    *,
    email: str,
    name: str | None = None,
    organisation: directory.OrganisationChoice | None = None,
    confirm_contact: bool = False,
    actor,
) -> Registration:
    """A person who attended without registering: a contact with their organisation and a
    confirmed registration (capacity does not apply: they were there).

    The organisation is a known one or a new one (with its sector, country and, for a government
    agency, member government), resolved by the directory (a new one is marked for review). It
    may be left out only for a contact who already has one. An address that belongs to a contact
    is used only with ``confirm_contact`` (:class:`ContactNeedsConfirmation` otherwise). All or
    nothing: on any error nothing is saved."""
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
    known = existing_contact(email)
    if known is not None and not confirm_contact:
        raise ContactNeedsConfirmation(known)
    org = directory.resolve_organisation(
        organisation or directory.OrganisationChoice(), added_via="walk_in", actor=actor
    )
    if org is None and (known is None or known.organisation is None):
        message = _("Choose the walk-in's organisation, or type a new one with its sector.")
        raise ValidationFailed(message, field_errors={"organisation_id": [message]})
    contact = directory.get_or_create_contact(
        email, name[:200], organisation_id=org.id if org is not None else None, actor=actor
    )
    org = org or contact.organisation
    member = directory.member_government_of(org)
    now = clock.now()
    reg = Registration(
        event_id=event.id,
        contact_id=contact.id,
        email=email,
        name=name[:200],
        organisation_id=org.id,
        organisation_name=org.name,
        sector=org.sector,
        member_government_id=member.id if member is not None else None,
        position=contact.position,
        timezone=contact.timezone or event.timezone,
        status=STATUS_CONFIRMED,
        confirmed_at=now,
    )
    db.session.add(reg)
    db.session.flush()
    record.registration_id = reg.id
    record.match = MATCH_WALK_IN
    record.attended = _counts_as_attended(record, event)
    audit.record(
        actor,
        "registration.walk_in",
        reg,
        summary=_(
            "%(name)s <%(email)s> (%(organisation)s) added as a walk-in from the attendance report",
            name=name,
            email=email,
            organisation=org.name,
        ),
        changes={"contact_id": [None, contact.id], "existing_contact": [None, known is not None]},
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
    record.attended = False if ignore else _counts_as_attended(record, event)
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
    """The event's rows that are listed (rows left without sessions by an undo or a replace are
    kept, unless linked by hand, but not listed)."""
    return list(
        db.session.scalars(
            sa.select(AttendanceRecord)
            .where(AttendanceRecord.event_id == event.id, _shown())
            .order_by(AttendanceRecord.source, AttendanceRecord.name, AttendanceRecord.id)
        ).unique()
    )


def link_choices(event: Event) -> list[tuple[int, str]]:
    """Registrations of the event not yet matched to a listed attendance row."""
    used = sa.select(AttendanceRecord.registration_id).where(
        AttendanceRecord.event_id == event.id,
        AttendanceRecord.registration_id.is_not(None),
        AttendanceRecord.source == SOURCE_IMPORT,
        _shown(),
    )
    rows = db.session.execute(
        sa.select(Registration.id, Registration.name, Registration.email)
        .where(Registration.event_id == event.id, Registration.id.not_in(used))
        .order_by(Registration.name)
    ).all()
    return [(rid, f"{name} <{email}>") for rid, name, email in rows]


def people_gaps() -> list[Gap]:
    """Attendance rows that count as attended but whose person would be counted under no
    organisation, no sector or (a government agency) no member government: the row matches no
    registration yet, or its registration lacks them. Each with a link to the event's attendance
    page (``directory.signals.person_gaps`` asks for these)."""
    stmt = (
        sa.select(
            AttendanceRecord.id,
            AttendanceRecord.event_id,
            AttendanceRecord.name,
            AttendanceRecord.email,
            Event.title,
            Registration.id.label("registration_id"),
            Registration.organisation_id,
            Registration.sector,
            Registration.member_government_id,
        )
        .join(Event, Event.id == AttendanceRecord.event_id)
        .outerjoin(Registration, Registration.id == AttendanceRecord.registration_id)
        .where(
            AttendanceRecord.attended.is_(True),
            _shown(),
            sa.or_(
                Registration.id.is_(None),
                Registration.organisation_id.is_(None),
                Registration.sector.is_(None),
                sa.and_(Registration.sector == SECTOR_MEMBER, Registration.member_government_id.is_(None)),
            ),
        )
        .order_by(AttendanceRecord.event_id, AttendanceRecord.name, AttendanceRecord.id)
    )
    gaps = []
    for row in db.session.execute(stmt):
        if row.registration_id is None:
            problem, anchor = _("attended, but matches no registration: no organisation or sector"), f"row-{row.id}"
        elif row.organisation_id is None or row.sector is None:
            problem, anchor = _("attended, but the registration has no organisation or sector"), None
        else:
            problem, anchor = _("attended, from a government agency without its member government"), None
        who = f"{row.name} <{row.email}>" if row.email else row.name
        url = gap_url("attendance.index", event_id=row.event_id)
        if url and anchor:  # appended here: the absolute link builder (commands) takes no anchor
            url = f"{url}#{anchor}"
        gaps.append(Gap(kind="attendance", id=row.id, label=f"{who}, {row.title}", problem=problem, url=url))
    return gaps


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
        _("Country"),
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
                r.country or "",
                r.registration.email if r.registration else "",
                r.first_join.strftime("%Y-%m-%d %H:%M:%S") if r.first_join else "",
                r.last_leave.strftime("%Y-%m-%d %H:%M:%S") if r.last_leave else "",
            ]
        )
    return header, out
