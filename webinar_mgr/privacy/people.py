"""A person's rights: find everything held about an email address, export it, erase it.

Erasure anonymises in place: the contact, registrations, attendance records and commitments stay
(with their organisation, sector, member government, status and attendance) so that every count
of the co-chairs' review is unchanged; the name, the address and the free text that could tell who
the person was are replaced. Their mails leave the outbox, their calendar feed and personal links
stop working, and a last pass over every text column of every table (found in the models'
metadata, so tables added later are covered too) replaces any remaining copy of the address or the
name. The erasure is audited with counts and a keyed hash of the address (to say "already erased"
when asked twice), never the address or the name.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from webinar_mgr import clock, tokens
from webinar_mgr.attendance.models import AttendanceRecord, AttendanceStagedPerson
from webinar_mgr.audit import services as audit
from webinar_mgr.audit.models import AuditEntry
from webinar_mgr.auth.models import User
from webinar_mgr.commitments.models import Commitment
from webinar_mgr.core.models import PendingUpload
from webinar_mgr.directory.models import Contact
from webinar_mgr.directory.services import normalise_email
from webinar_mgr.errors import Conflict, NotAllowed, NotFound, ValidationFailed
from webinar_mgr.events.models import Event, RenderedPdf, Speaker
from webinar_mgr.extensions import db
from webinar_mgr.invitations.models import Invitation
from webinar_mgr.mail.models import OutboxMessage
from webinar_mgr.persistence import unit_of_work
from webinar_mgr.registrations.models import CalendarFeed, Registration
from webinar_mgr.security import ADMINS, email_hash, has_role

from .models import ConsentRecord

ERASED_NAME = "Erased person"
ERASED_TEXT = "[erased]"
ERASED_DOMAIN = "erased.invalid"
ERASE_ACTION = "privacy.erased"
# Never exported: secrets (hashes, link nonces, feed tokens, claims).
SECRET_COLUMNS = {"password_hash", "nonce", "token", "token_hash", "claim_token", "secret", "session_version"}
# A name shorter than this is not searched for in free text (it would match other words).
MIN_NAME_TO_SCRUB = 5
# What each count of :meth:`Person.counts` is, for the pages.
COUNT_LABELS = {
    "contact": _l("Directory entry"),
    "user": _l("Account"),
    "registrations": _l("Registrations"),
    "invitations": _l("Invitations"),
    "attendance": _l("Attendance records"),
    "commitments": _l("Commitments"),
    "consents": _l("Consent records"),
    "mails": _l("Mails in the outbox"),
    "feeds": _l("Calendar feeds"),
    "speakers": _l("Speaker roles"),
    "audit": _l("Audit entries as the one acting"),
    "api_tokens": _l("API tokens"),
}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _table(name: str) -> sa.Table | None:
    """A table of a module this one may not import (api above it, reports beside it), found in the
    models' metadata as the directory's merge finds the rows to move."""
    return db.metadata.tables.get(name)


def _clean_email(email: str) -> str:
    value = normalise_email(email)
    if not value or not _EMAIL.match(value) or len(value) > 254:
        raise ValidationFailed(
            _("Give a valid email address."), field_errors={"email": [_("Give a valid email address.")]}
        )
    return value


@dataclass
class Person:
    email: str
    contact: Contact | None = None
    user: User | None = None
    registrations: list[Registration] = field(default_factory=list)
    invitations: list[Invitation] = field(default_factory=list)
    attendance: list[AttendanceRecord] = field(default_factory=list)
    commitments: list[Commitment] = field(default_factory=list)
    consents: list[ConsentRecord] = field(default_factory=list)
    mails: list[OutboxMessage] = field(default_factory=list)
    feeds: list[CalendarFeed] = field(default_factory=list)
    speakers: list[Speaker] = field(default_factory=list)
    audit_entries: list[AuditEntry] = field(default_factory=list)
    api_tokens: list[dict] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        found = {r.name for r in self.registrations} | {a.name for a in self.attendance}
        if self.contact is not None:
            found.add(self.contact.name)
        if self.user is not None:
            found.add(self.user.name)
        found.update(s.name for s in self.speakers)
        return sorted(n for n in found if n and n != ERASED_NAME)

    @property
    def empty(self) -> bool:
        return not (self.contact or self.user or self.registrations or self.attendance or self.mails or self.feeds)

    def counts(self) -> dict[str, int]:
        return {
            "contact": int(self.contact is not None),
            "user": int(self.user is not None),
            "registrations": len(self.registrations),
            "invitations": len(self.invitations),
            "attendance": len(self.attendance),
            "commitments": len(self.commitments),
            "consents": len(self.consents),
            "mails": len(self.mails),
            "feeds": len(self.feeds),
            "speakers": len(self.speakers),
            "audit": len(self.audit_entries),
            "api_tokens": len(self.api_tokens),
        }


def find_person(email: str) -> Person:
    """Everything held about the address (an empty Person when nothing is)."""
    email = _clean_email(email)
    p = Person(email=email)
    p.contact = db.session.scalar(sa.select(Contact).where(Contact.email == email))
    p.user = db.session.scalar(sa.select(User).where(sa.func.lower(User.email) == email))
    contact_id = p.contact.id if p.contact else -1
    p.registrations = list(
        db.session.scalars(
            sa.select(Registration)
            .where(sa.or_(Registration.email == email, Registration.contact_id == contact_id))
            .order_by(Registration.created_at, Registration.id)
        )
    )
    reg_ids = [r.id for r in p.registrations] or [-1]
    p.invitations = list(db.session.scalars(sa.select(Invitation).where(Invitation.contact_id == contact_id)))
    p.attendance = list(
        db.session.scalars(
            sa.select(AttendanceRecord)
            .where(
                sa.or_(sa.func.lower(AttendanceRecord.email) == email, AttendanceRecord.registration_id.in_(reg_ids))
            )
            .order_by(AttendanceRecord.id)
        )
    )
    p.commitments = list(
        db.session.scalars(
            sa.select(Commitment)
            .where(sa.or_(Commitment.contact_id == contact_id, Commitment.registration_id.in_(reg_ids)))
            .order_by(Commitment.id)
        )
    )
    p.consents = list(
        db.session.scalars(
            sa.select(ConsentRecord).where(ConsentRecord.contact_id == contact_id).order_by(ConsentRecord.at)
        )
    )
    p.mails = list(
        db.session.scalars(
            sa.select(OutboxMessage).where(sa.func.lower(OutboxMessage.to_addr) == email).order_by(OutboxMessage.id)
        )
    )
    p.feeds = list(db.session.scalars(sa.select(CalendarFeed).where(CalendarFeed.email == email)))
    p.speakers = list(db.session.scalars(sa.select(Speaker).where(Speaker.contact_id == contact_id)))
    user_id = p.user.id if p.user else -1
    p.audit_entries = list(
        db.session.scalars(
            sa.select(AuditEntry)
            .where(sa.or_(AuditEntry.actor_id == user_id, sa.func.lower(AuditEntry.actor_email) == email))
            .order_by(AuditEntry.at)
        )
    )
    tokens_table = _table("api_tokens")
    if tokens_table is not None:
        p.api_tokens = [
            dict(row._mapping)
            for row in db.session.execute(sa.select(tokens_table).where(tokens_table.c.user_id == user_id))
        ]
    return p


def erased_on(email: str) -> datetime | None:
    """When the address was erased (from the erasure's audit entry, which holds only its hash)."""
    digest = email_hash(_clean_email(email))
    return db.session.scalar(
        sa.select(AuditEntry.at)
        .where(AuditEntry.action == ERASE_ACTION, AuditEntry.object_id == digest)
        .order_by(AuditEntry.at.desc())
        .limit(1)
    )


def require_person(email: str) -> Person:
    """The person, or NotFound with a message that says whether they were erased already."""
    person = find_person(email)
    if not person.empty:
        return person
    when = erased_on(person.email)
    if when is not None:
        raise Conflict(
            _(
                "%(email)s was already erased on %(date)s: nothing is held about this address any more.",
                email=person.email,
                date=when.strftime("%Y-%m-%d %H:%M UTC"),
            )
        )
    raise NotFound(_("Nothing is held about %(email)s: no contact, account, registration or mail.", email=person.email))


# Export ----------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return value


def _row(obj, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    mapper = sa.inspect(type(obj))
    return {
        attr.key: _plain(getattr(obj, attr.key))
        for attr in mapper.column_attrs
        if attr.key not in SECRET_COLUMNS and attr.key not in skip
    }


def _org(obj) -> str | None:
    org = getattr(obj, "organisation", None)
    return org.name if org is not None else getattr(obj, "organisation_name", None)


def export_data(person: Person) -> dict[str, Any]:
    """Everything held about the person, as plain JSON-ready data."""
    events: dict[int, Event] = {}
    for obj in person.registrations + person.attendance + person.commitments + person.invitations:
        if obj.event_id not in events:
            events[obj.event_id] = db.session.get(Event, obj.event_id)

    def event_title(event_id: int) -> str | None:
        e = events.get(event_id)
        return e.title if e else None

    data: dict[str, Any] = {
        "email": person.email,
        "exported_at": clock.now().isoformat(),
        "contact": (
            {**_row(person.contact), "organisation": _org(person.contact), "tags": person.contact.tag_names}
            if person.contact
            else None
        ),
        "account": (
            {**_row(person.user), "roles": sorted(person.user.role_names), "organisation": _org(person.user)}
            if person.user
            else None
        ),
        "registrations": [
            {**_row(r), "event": event_title(r.event_id), "organisation": _org(r)} for r in person.registrations
        ],
        "invitations": [
            {**_row(i, skip=("created_by_id",)), "event": event_title(i.event_id)} for i in person.invitations
        ],
        "attendance": [
            {
                **_row(a),
                "event": event_title(a.event_id),
                "sessions": [_row(s, skip=("removed_by_id",)) for s in a.sessions],
            }
            for a in person.attendance
        ],
        "commitments": [
            {
                **_row(c, skip=("created_by_id",)),
                "event": event_title(c.event_id),
                "organisation": _org(c),
                # Who changed a commitment's state is the organiser's data, not the person's.
                "updates": [_row(u, skip=("actor_id", "actor_label")) for u in c.updates],
                "evidence": [_row(e) for e in c.evidence],
            }
            for c in person.commitments
        ],
        "consents": [_row(c) for c in person.consents],
        "mails": [_row(m) for m in person.mails],
        "calendar_feeds": [_row(f) for f in person.feeds],
        "speaker_roles": [_row(s) for s in person.speakers],
        "audit_entries_as_actor": [_row(a) for a in person.audit_entries],
        "api_tokens": [
            {k: _plain(v) for k, v in t.items() if k not in SECRET_COLUMNS and k != "prefix"} for t in person.api_tokens
        ],
    }
    return data


def export_json(person: Person) -> bytes:
    return json.dumps(export_data(person), ensure_ascii=False, indent=2, sort_keys=False).encode("utf-8")


def record_export(person: Person, *, actor, by_link: bool = False) -> None:
    """Audited without the address: its keyed hash and the counts."""
    with unit_of_work():
        audit.record(
            actor,
            "privacy.export_by_link" if by_link else "privacy.export",
            object_type="Person",
            object_id=email_hash(person.email),
            summary=", ".join(f"{k} {v}" for k, v in person.counts().items() if v),
        )


# Erase -----------------------------------------------------------------------------------------


@dataclass
class ErasureResult:
    email: str
    counts: dict[str, int]
    scrubbed_cells: int


def _erased_email(prefix: str, ident: int) -> str:
    return f"erased-{prefix}{ident}@{ERASED_DOMAIN}"


def _pending_uploads_listing(person: Person) -> list[PendingUpload]:
    """Uploaded attendance reports waiting for confirmation that list the person."""
    needles = [person.email] + [n.lower() for n in person.names]
    found = []
    for upload in db.session.scalars(sa.select(PendingUpload)):
        content = (upload.content or b"").decode("utf-8", "ignore").lower()
        if any(n and n in content for n in needles):
            found.append(upload)
            continue
        staged = db.session.scalars(
            sa.select(AttendanceStagedPerson.data).where(AttendanceStagedPerson.upload_id == upload.id)
        )
        text = json.dumps(list(staged), ensure_ascii=False).lower()
        if any(n and n in text for n in needles):
            found.append(upload)
    return found


def erase(email: str, *, actor) -> ErasureResult:
    """Anonymise the person in place (see the module's docstring), as one unit of work."""
    if actor is not None and not has_role(actor, *ADMINS):
        raise NotAllowed(_("Only an administrator may erase a person's data."))
    with unit_of_work():
        person = require_person(email)
        if actor is not None and person.user is not None and person.user.id == getattr(actor, "id", None):
            raise NotAllowed(_("You cannot erase your own account; ask another administrator."))
        waiting = _pending_uploads_listing(person)
        if waiting:
            raise Conflict(
                _(
                    "An uploaded attendance report waiting for confirmation lists this person (%(files)s): confirm "
                    "or discard it first, then erase. Nothing was changed.",
                    files=", ".join(sorted({u.filename for u in waiting})),
                )
            )
        names = person.names
        counts = person.counts()
        _anonymise(person)
        db.session.flush()
        scrubbed = scrub_everywhere([person.email], names)
        audit.record(
            actor,
            ERASE_ACTION,
            object_type="Person",
            object_id=email_hash(person.email),
            summary=", ".join(f"{k} {v}" for k, v in counts.items() if v),
        )
    return ErasureResult(email=person.email, counts=counts, scrubbed_cells=scrubbed)


def anonymise_contact(c: Contact) -> None:
    """In place: the organisation stays (invitations count under it), who the person was goes."""
    c.name = ERASED_NAME
    c.email = _erased_email("c", c.id)
    c.position = None
    c.phone = None
    c.notes = None
    c.timezone = None
    c.focal_point = False
    c.tags = []


def anonymise_registration(r: Registration) -> None:
    """In place: event, organisation, sector, member government, status and invitation stay."""
    r.name = ERASED_NAME
    r.email = _erased_email("r", r.id)
    r.position = None
    r.accessibility_needs = None
    r.user_id = None
    r.nonce = tokens.new_nonce()  # manage links stop working


def anonymise_attendance(a: AttendanceRecord) -> None:
    """In place: the event, the registration it counts for, minutes and attendance stay."""
    a.name = ERASED_NAME
    a.email = None
    a.person_key = f"erased:{a.id}"


def _anonymise(person: Person) -> None:
    if person.contact is not None:
        anonymise_contact(person.contact)
    if person.user is not None:
        u = person.user
        u.name = ERASED_NAME
        u.email = _erased_email("u", u.id)
        u.position = None
        u.password_hash = None
        u.active = False
        u.session_version = (u.session_version or 0) + 1  # every session ends
        u.roles = []
    for r in person.registrations:
        anonymise_registration(r)
    for i in person.invitations:
        i.nonce = tokens.new_nonce()
        i.outbox_message_id = None
    for a in person.attendance:
        anonymise_attendance(a)
    for c in person.commitments:
        c.nonce = tokens.new_nonce()
    for s in person.speakers:
        s.name = ERASED_NAME
        s.title = None
        db.session.execute(sa.delete(RenderedPdf).where(RenderedPdf.event_id == s.agenda_item.event_id))
    mail_ids = [m.id for m in person.mails]
    if mail_ids:
        db.session.execute(
            sa.update(Invitation).where(Invitation.outbox_message_id.in_(mail_ids)).values(outbox_message_id=None)
        )
        db.session.execute(sa.delete(OutboxMessage).where(OutboxMessage.id.in_(mail_ids)))
    for f in person.feeds:
        db.session.delete(f)
    tokens_table = _table("api_tokens")
    if tokens_table is not None and person.api_tokens:
        db.session.execute(sa.delete(tokens_table).where(tokens_table.c.id.in_([t["id"] for t in person.api_tokens])))
    for a in person.audit_entries:
        a.actor_email = None
    # Cached report PDFs may name people: they are rendered again when next asked for. (Webhook
    # bodies, like every text column, are cleaned by scrub_everywhere.)
    reports_cache = _table("rendered_reports")
    if reports_cache is not None:
        db.session.execute(sa.delete(reports_cache))


def _text_columns(table: sa.Table) -> list[sa.Column]:
    return [c for c in table.columns if isinstance(c.type, sa.String | sa.Text | sa.JSON) and not c.primary_key]


def _replace(value: Any, patterns: list[re.Pattern]) -> Any:
    if isinstance(value, str):
        for p in patterns:
            value = p.sub(ERASED_TEXT, value)
        return value
    if isinstance(value, list):
        return [_replace(v, patterns) for v in value]
    if isinstance(value, dict):
        return {k: _replace(v, patterns) for k, v in value.items()}
    return value


def _patterns(emails: list[str], names: list[str]) -> list[re.Pattern]:
    out = [re.compile(re.escape(e), re.IGNORECASE) for e in emails if e]
    out += [
        re.compile(rf"(?<!\w){re.escape(n)}(?!\w)", re.IGNORECASE)
        for n in sorted(set(names), key=len, reverse=True)
        if len(n.strip()) >= MIN_NAME_TO_SCRUB
    ]
    return out


def scrub_everywhere(emails: list[str], names: list[str]) -> int:
    """Replace every copy of the addresses and names in every text (and JSON) column of every
    table; returns the number of cells changed."""
    patterns = _patterns(emails, names)
    plain = [e.lower() for e in emails if e] + [n.lower() for n in names if len(n.strip()) >= MIN_NAME_TO_SCRUB]
    # JSON columns hold non-ASCII text as \u escapes: look for that spelling too.
    needles = sorted(set(plain) | {json.dumps(n)[1:-1] for n in plain})
    if not needles:
        return 0
    changed = 0
    for table in db.metadata.sorted_tables:
        pk = list(table.primary_key.columns)
        if not pk:
            continue
        for col in _text_columns(table):
            as_text = sa.func.lower(sa.cast(col, sa.Text))
            rows = db.session.execute(
                sa.select(*pk, col).where(sa.or_(*(as_text.contains(n, autoescape=True) for n in needles)))
            ).all()
            for row in rows:
                value = row[-1]
                new = _replace(value, patterns)
                if new == value:
                    continue
                db.session.execute(
                    sa.update(table).where(*(c == row[i] for i, c in enumerate(pk))).values({col.name: new})
                )
                changed += 1
    return changed
