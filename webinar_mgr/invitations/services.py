"""Invitation lists, personal links, sending in batches, and the invitee's answers.

Sending marks invitations with ``send_requested_at`` in one UPDATE (fast for thousands); the
worker job ``invitations`` renders and queues the personal mails in batches. The page shows
progress from the counts by state.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass, field

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask_babel import get_locale
from flask_babel import gettext as _
from markupsafe import escape

from webinar_mgr import clock, jobs, links, tokens
from webinar_mgr.audit import services as audit
from webinar_mgr.directory import services as directory
from webinar_mgr.directory.models import SECTORS, Contact, Organisation, Tag, contact_tags
from webinar_mgr.errors import Conflict, NotFound, ValidationFailed
from webinar_mgr.events import times
from webinar_mgr.events.models import Event
from webinar_mgr.events.services import get_event, require_visible
from webinar_mgr.extensions import db
from webinar_mgr.i18n import in_language, in_recipient_language
from webinar_mgr.mail import services as mail
from webinar_mgr.mail.models import OutboxMessage
from webinar_mgr.persistence import get_or_404, transactional, unit_of_work

from .models import (
    CATEGORIES,
    NOT_TO_SEND,
    STATE_CANCELLED,
    STATE_DECLINED,
    STATE_DRAFT,
    STATE_OPENED,
    STATE_REGISTERED,
    STATE_REVOKED,
    STATE_SENT,
    STATE_WAITING,
    Invitation,
)

log = logging.getLogger(__name__)

SALT = "invitation"
SEND_BATCH = 500
# Shown states (stored state + outbox delivery state).
SHOWN_STATES = (
    "not_sent",
    "queued",
    "sent",
    "failed",
    "opened",
    "registered",
    "waiting",
    "cancelled",
    "declined",
    "revoked",
)
# Stored states shown as they are (the rest come from the outbox delivery).
ANSWER_STATES = (STATE_OPENED, STATE_REGISTERED, STATE_WAITING, STATE_CANCELLED, STATE_DECLINED, STATE_REVOKED)


def shown_state_labels() -> dict[str, str]:
    return {
        "not_sent": _("Not sent"),
        "queued": _("Queued"),
        "sent": _("Sent"),
        "failed": _("Failed"),
        "opened": _("Link opened"),
        "registered": _("Registered"),
        "waiting": _("Waiting list"),
        "cancelled": _("Registration cancelled"),
        "declined": _("Declined"),
        "revoked": _("Revoked"),
    }


def shown_state(inv: Invitation) -> str:
    if inv.state in ANSWER_STATES:
        return inv.state
    if inv.send_requested_at is not None:
        return "queued"
    if inv.state == STATE_SENT:
        msg = inv.outbox_message
        if msg is None:
            return "sent"
        return {"sent": "sent", "failed": "failed"}.get(msg.status, "queued")
    return "not_sent"


def _shown_state_sql():
    return sa.case(
        (Invitation.state.in_(ANSWER_STATES), Invitation.state),
        (Invitation.send_requested_at.is_not(None), "queued"),
        (sa.and_(Invitation.state == STATE_SENT, OutboxMessage.status == "failed"), "failed"),
        (sa.and_(Invitation.state == STATE_SENT, OutboxMessage.status.in_(("queued", "sending"))), "queued"),
        (Invitation.state == STATE_SENT, "sent"),
        else_="not_sent",
    )


def state_counts(event_id: int) -> dict[str, int]:
    col = _shown_state_sql().label("shown")
    rows = db.session.execute(
        sa.select(col, sa.func.count())
        .select_from(Invitation)
        .outerjoin(OutboxMessage, OutboxMessage.id == Invitation.outbox_message_id)
        .where(Invitation.event_id == event_id)
        .group_by(col)
    ).all()
    counts = {s: 0 for s in SHOWN_STATES}
    counts.update(dict(rows))
    counts["total"] = sum(counts[s] for s in SHOWN_STATES)
    return counts


def invitation_query(event_id: int, *, state: str | None = None, category: str | None = None, q: str | None = None):
    stmt = (
        sa.select(Invitation)
        .join(Contact, Contact.id == Invitation.contact_id)
        .outerjoin(OutboxMessage, OutboxMessage.id == Invitation.outbox_message_id)
        .where(Invitation.event_id == event_id)
    )
    if state in SHOWN_STATES:
        stmt = stmt.where(_shown_state_sql() == state)
    if category in CATEGORIES:
        stmt = stmt.where(Invitation.category == category)
    if q:
        like = f"%{q.strip().lower()}%"
        stmt = stmt.where(sa.or_(sa.func.lower(Contact.name).like(like), Contact.email.like(like)))
    return stmt.order_by(Contact.name, Invitation.id)


def _check_category(category: str) -> None:
    if category not in CATEGORIES:
        raise ValidationFailed(_("Choose a category."), field_errors={"category": [_("Choose a category.")]})


# Building the list ---------------------------------------------------------------------------


@dataclass
class DirectoryFilter:
    member_government_id: int | None = None
    sector: str | None = None
    tag: str | None = None
    focal_points_only: bool = False


def directory_candidates(f: DirectoryFilter):
    stmt = sa.select(Contact.id).outerjoin(Organisation, Organisation.id == Contact.organisation_id)
    if f.member_government_id:
        # the government's own people and those of its agencies
        stmt = stmt.where(Organisation.counted_member_government_id == f.member_government_id)
    if f.sector:
        if f.sector not in SECTORS:
            raise ValidationFailed(_("Unknown sector."))
        stmt = stmt.where(Organisation.sector == f.sector)
    if f.tag:
        stmt = (
            stmt.join(contact_tags, contact_tags.c.contact_id == Contact.id)
            .join(Tag, Tag.id == contact_tags.c.tag_id)
            .where(Tag.name == f.tag)
        )
    if f.focal_points_only:
        stmt = stmt.where(Contact.focal_point.is_(True))
    return stmt


def _add_contacts(event: Event, contact_ids: list[int], category: str, actor) -> int:
    existing = set(db.session.scalars(sa.select(Invitation.contact_id).where(Invitation.event_id == event.id)))
    new = [cid for cid in dict.fromkeys(contact_ids) if cid not in existing]
    now = clock.now()
    if new:
        db.session.execute(
            sa.insert(Invitation),
            [
                {
                    "event_id": event.id,
                    "contact_id": cid,
                    "category": category,
                    "state": STATE_DRAFT,
                    "nonce": tokens.new_nonce(),
                    "send_count": 0,
                    "created_by_id": getattr(actor, "id", None),
                    "created_at": now,
                }
                for cid in new
            ],
        )
    return len(new)


@transactional
def add_contacts(event_id: int, contact_ids: list[int], category: str, *, actor) -> int:
    """Invite these directory contacts (bulk insert; people already invited are skipped)."""
    _check_category(category)
    event = get_event(event_id)
    n = _add_contacts(event, contact_ids, category, actor)
    audit.record(actor, "invitation.add", event, summary=_("%(n)d invitations added", n=n))
    return n


def _check_filter(f: DirectoryFilter) -> None:
    if not (f.member_government_id or f.sector or f.tag or f.focal_points_only):
        raise ValidationFailed(_("Choose at least one filter (member government, sector, tag or focal points)."))


@dataclass
class DirectoryPreview:
    """Who a directory filter would add, before anyone is added: each matching contact, and which
    of them are already on the list (skipped)."""

    filter: DirectoryFilter
    category: str
    contacts: list[Contact]
    invited: set[int]

    @property
    def to_add(self) -> list[Contact]:
        return [c for c in self.contacts if c.id not in self.invited]


def preview_from_directory(event_id: int, f: DirectoryFilter, category: str) -> DirectoryPreview:
    _check_category(category)
    _check_filter(f)
    event = get_event(event_id)
    ids = directory_candidates(f).subquery()
    contacts = list(
        db.session.scalars(
            sa.select(Contact).where(Contact.id.in_(sa.select(ids.c.id))).order_by(Contact.name, Contact.email)
        ).unique()
    )
    invited = set(
        db.session.scalars(
            sa.select(Invitation.contact_id).where(
                Invitation.event_id == event.id, Invitation.contact_id.in_([c.id for c in contacts] or [0])
            )
        )
    )
    return DirectoryPreview(filter=f, category=category, contacts=contacts, invited=invited)


@transactional
def add_from_directory(
    event_id: int, f: DirectoryFilter, category: str, *, actor, contact_ids: list[int] | None = None
) -> int:
    """Invite the directory contacts matching the filter (only ``contact_ids`` of them when the
    organiser unticked some in the preview); people already invited are skipped."""
    _check_category(category)
    event = get_event(event_id)
    _check_filter(f)
    ids = list(db.session.scalars(directory_candidates(f)))
    if contact_ids is not None:
        chosen = set(contact_ids)
        if not chosen:
            raise ValidationFailed(_("Nobody is ticked: tick the people to add."))
        ids = [i for i in ids if i in chosen]  # ticked, and still matching the filter
    n = _add_contacts(event, ids, category, actor)
    audit.record(
        actor,
        "invitation.add",
        event,
        summary=_("%(n)d invitations added from the directory", n=n),
        changes={"filter": [None, {k: v for k, v in f.__dict__.items() if v}], "category": [None, category]},
    )
    return n


@dataclass
class GuestRow:
    line: int
    name: str
    email: str
    organisation: str | None = None


@dataclass
class GuestReport:
    rows: list[GuestRow] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


_ANGLE = re.compile(r"^\s*(?P<name>.*?)\s*<\s*(?P<email>[^<>\s]+)\s*>\s*$")


def _valid_email(value: str) -> str | None:

    try:
        return validate_email(value.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


def parse_pasted(text: str) -> GuestReport:
    """One guest per line: ``Name <email>``, ``email``, or ``name, email[, organisation]``.
    (Pasted text with a header line is a CSV table: see :func:`looks_like_csv_table`.)"""
    report = GuestReport()
    lines = (text or "").splitlines()
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        m = _ANGLE.match(line)
        if m:
            name, email, org = m.group("name").strip(" \"'"), m.group("email"), None
        elif "," in line or ";" in line or "\t" in line:
            parts = [p.strip().strip('"') for p in re.split(r"[,;\t]", line)]
            emails = [p for p in parts if "@" in p]
            if not emails:
                report.errors.append(_("Line %(n)d: no email address.", n=number))
                continue
            email = emails[0]
            others = [p for p in parts if p != email and p]
            # Everything after the name is the organisation ("Ministry of Labour, Cambodia").
            name, org = (others[0] if others else ""), (", ".join(others[1:]) or None)
        else:
            name, email, org = "", line, None
        report.rows.append(GuestRow(line=number, name=name, email=email, organisation=org))
    return _check_rows(report.rows, report)


def looks_like_csv_table(text: str) -> bool:
    """Pasted text whose first line names columns (no address in it) is read as a CSV file."""
    first = next((line for line in (text or "").splitlines() if line.strip()), "")
    return "@" not in first and any(sep in first for sep in (",", ";", "\t"))


def _check_rows(rows: list[GuestRow], report: GuestReport) -> GuestReport:
    seen: set[str] = set()
    good = []
    for row in rows:
        email = _valid_email(row.email or "")
        if email is None:
            report.errors.append(
                _('Line %(n)d: "%(email)s" is not a valid email address.', n=row.line, email=row.email)
            )
            continue
        if email in seen:
            report.errors.append(_("Line %(n)d: %(email)s appears twice.", n=row.line, email=email))
            continue
        if len(row.name or "") > 200:
            report.errors.append(_("Line %(n)d: the name is too long.", n=row.line))
            continue
        row.organisation = " ".join((row.organisation or "").split()) or None
        if row.organisation and len(row.organisation) > directory.NAME_MAX:
            report.errors.append(
                _(
                    "Line %(n)d: the organisation's name has %(chars)d characters; at most %(max)d.",
                    n=row.line,
                    chars=len(row.organisation),
                    max=directory.NAME_MAX,
                )
            )
            continue
        seen.add(email)
        row.email = email
        row.name = (row.name or "").strip() or email.split("@")[0]
        good.append(row)
    report.rows = good
    return report


def _guest_organisation(row: GuestRow, known: dict[str, Organisation | None], actor) -> Organisation | None:
    """The organisation a pasted line names: the directory's, or a new one for review (its
    sector guessed from the name), once per name."""
    if not row.organisation:
        return None
    key = directory.name_key(row.organisation)
    if key not in known:
        try:
            known[key] = directory.resolve_organisation(
                directory.OrganisationChoice(name=row.organisation), added_via="invitation", actor=actor, infer=True
            )
        except ValidationFailed as exc:
            line = _("Line %(n)d: %(why)s", n=row.line, why=exc.message)
            raise ValidationFailed(
                _("Nothing was added; please correct these lines: %(errors)s", errors=line)
            ) from None
    return known[key]


@transactional
def add_guests(event_id: int, report: GuestReport, category: str, *, actor) -> int:
    """All or nothing: any bad line refuses the whole list with a line-by-line report. A line's
    organisation is the directory's, or a new one added for review (``added_via`` invitation)."""
    _check_category(category)
    event = get_event(event_id)
    if not report.errors:
        report = _check_rows(report.rows, GuestReport())
    if report.errors:
        raise ValidationFailed(
            _("Nothing was added; please correct these lines: %(errors)s", errors=" ".join(report.errors[:50]))
        )
    if not report.rows:
        raise ValidationFailed(_("No guests found: give one per line, e.g. Ana Cruz <ana@example.org>."))
    organisations: dict[str, Organisation | None] = {}
    ids = []
    for row in report.rows:
        org = _guest_organisation(row, organisations, actor)
        contact = directory.get_or_create_contact(row.email, row.name, organisation=org, actor=actor)
        ids.append(contact.id)
    n = _add_contacts(event, ids, category, actor)
    audit.record(
        actor,
        "invitation.add",
        event,
        summary=_("%(n)d guests invited", n=n),
        changes={"category": [None, category], "guests": [None, len(report.rows)]},
    )
    return n


# Guest lists from a CSV file: the directory's contacts import (same columns, same row-by-row
# report), previewed before anything is saved; new people become contacts, known ones are reused.

GUEST_UPLOAD_KIND = "invitation_guests"


@dataclass
class GuestUploadPreview:
    upload: object
    contacts: directory.ContactImportPreview
    invited: set[str]  # emails already on this event's list (skipped on confirmation)
    category: str

    @property
    def to_invite(self) -> int:
        return sum(1 for r in self.contacts.rows if not r.errors and r.email not in self.invited)


def stage_guest_upload(event_id: int, filename: str, data: bytes, category: str, *, encoding: str | None = None, actor):
    """Check the file and keep it for the preview. Returns (upload or None, contacts preview)."""
    _check_category(category)
    event = get_event(event_id)
    return directory.stage_contacts_upload(
        filename,
        data,
        actor=actor,
        kind=GUEST_UPLOAD_KIND,
        allow_existing=True,
        encoding=encoding,
        meta={"event_id": event.id, "category": category},
    )


def choose_guest_upload_encoding(event_id: int, upload_id: str, encoding: str, *, actor):
    guest_upload_preview(event_id, upload_id, actor=actor)  # this event's upload, and the actor's
    return directory.choose_upload_encoding(upload_id, encoding, kind=GUEST_UPLOAD_KIND, actor=actor)


@dataclass
class GuestsTaken:
    """What became of the guests an organiser gave: added at once, or staged for a preview."""

    added: int = 0
    upload_id: str | None = None


def take_guests(
    event_id: int,
    *,
    pasted: str,
    filename: str | None,
    data: bytes | None,
    category: str,
    encoding: str | None = None,
    actor,
) -> GuestsTaken:
    """Pasted lines are added at once (all or nothing); a CSV file, or pasted text with a header
    line, goes through the directory's import preview first (nothing is added until confirmed)."""
    pasted = pasted or ""
    if filename or looks_like_csv_table(pasted):
        if not filename:
            filename, data = "pasted.csv", pasted.encode("utf-8")
        staged, preview = stage_guest_upload(
            event_id, filename, data or b"", category, encoding=encoding if data is not None else None, actor=actor
        )
        if staged is None:
            raise ValidationFailed(" ".join(preview.file_errors))
        return GuestsTaken(upload_id=staged.id)
    if not pasted.strip():
        raise ValidationFailed(_("Paste guests, one per line, or choose a CSV file."))
    return GuestsTaken(added=add_guests(event_id, parse_pasted(pasted), category, actor=actor))


def _invited_emails(event_id: int, emails: list[str]) -> set[str]:
    found: set[str] = set()
    unique = sorted({e for e in emails if e})
    for i in range(0, len(unique), 500):
        found.update(
            db.session.scalars(
                sa.select(Contact.email)
                .join(Invitation, Invitation.contact_id == Contact.id)
                .where(Invitation.event_id == event_id, Contact.email.in_(unique[i : i + 500]))
            )
        )
    return found


def guest_upload_preview(event_id: int, upload_id: str, *, actor) -> GuestUploadPreview:
    upload = directory.get_pending_upload(upload_id, actor=actor, kind=GUEST_UPLOAD_KIND)
    if (upload.meta or {}).get("event_id") != event_id:
        raise NotFound(_("This upload is no longer waiting for confirmation: upload the file again."))
    contacts = directory.preview_upload(upload, allow_existing=True)
    return GuestUploadPreview(
        upload=upload,
        contacts=contacts,
        category=upload.meta.get("category"),
        invited=_invited_emails(event_id, [r.email for r in contacts.rows]),
    )


@transactional
def confirm_guest_upload(event_id: int, upload_id: str, *, actor) -> int:
    """Add every row of the staged file as a contact (or reuse it) and invite it: all or nothing."""
    preview = guest_upload_preview(event_id, upload_id, actor=actor)
    _check_category(preview.category)
    event = get_event(event_id)
    contacts = directory.import_contacts(preview.contacts, actor=actor, allow_existing=True)
    n = _add_contacts(event, [c.id for c in contacts], preview.category, actor)
    audit.record(
        actor,
        "invitation.add",
        event,
        summary=_("%(n)d guests invited", n=n),
        changes={
            "category": [None, preview.category],
            "guests": [None, len(contacts)],
            "file": [None, preview.upload.filename],
        },
    )
    db.session.delete(preview.upload)
    return n


# Sending -------------------------------------------------------------------------------------


@transactional
def request_send(event_id: int, *, actor, ids: list[int] | None = None, rest: bool = False) -> int:
    """Mark invitations to be sent by the worker (returns at once). ``rest``: every invitation
    never sent; ``ids``: those (sent again if they were sent before, unless answered/revoked)."""
    event = get_event(event_id)
    now = clock.now()
    stmt = sa.update(Invitation).where(Invitation.event_id == event.id, Invitation.send_requested_at.is_(None))
    if rest:
        stmt = stmt.where(Invitation.state == STATE_DRAFT)
    elif ids:
        stmt = stmt.where(Invitation.id.in_(ids), Invitation.state.in_((STATE_DRAFT, STATE_SENT, STATE_OPENED)))
    else:
        raise ValidationFailed(_("Choose the invitations to send."))
    n = db.session.execute(
        stmt.values(send_requested_at=now), execution_options={"synchronize_session": False}
    ).rowcount
    audit.record(actor, "invitation.send", event, summary=_("%(n)d invitations to send", n=n))
    return n


def get_invitation(invitation_id: int) -> Invitation:
    return get_or_404(Invitation, invitation_id, _("There is no such invitation."))


@transactional
def resend(invitation_id: int, *, actor) -> Invitation:
    inv = get_invitation(invitation_id)
    if inv.state in NOT_TO_SEND:
        raise Conflict(
            _("This invitation is %(state)s; it cannot be sent again.", state=shown_state_labels()[inv.state].lower())
        )
    inv.send_requested_at = clock.now()
    audit.record(actor, "invitation.resend", inv, summary=inv.contact.email)
    return inv


@transactional
def revoke(invitation_id: int, *, actor) -> Invitation:
    """The personal link stops working at once (new nonce); a registration already made stays."""
    inv = get_invitation(invitation_id)
    if inv.state == STATE_REVOKED:
        raise Conflict(_("This invitation is already revoked."))
    before = inv.state
    inv.state = STATE_REVOKED
    inv.nonce = tokens.new_nonce()
    inv.send_requested_at = None
    audit.record(actor, "invitation.revoke", inv, summary=inv.contact.email, changes={"state": [before, STATE_REVOKED]})
    return inv


def make_token(inv: Invitation) -> str:
    """The personal link's token; it expires when registration closes."""
    return tokens.make(SALT, {"i": inv.id, "n": inv.nonce}, expires_at=inv.event.registration_deadline)


def _invitation_mail(inv: Invitation, labels: dict, *, token: str | None) -> tuple[str, dict]:
    """The invitation's subject and template context; ``token=None`` for a preview (the personal
    links are shown as placeholders: an organiser's preview must not hand out someone's link)."""
    event = inv.event
    tz = inv.contact.timezone or event.timezone
    key = (tz, str(get_locale()))  # the time's text depends on the zone and the mail's language
    if key not in labels:
        labels[key] = times.when_text(event, tz)
    if token is None:
        link = decline_url = _("(the personal link of %(name)s)", name=inv.contact.name)
    else:
        link = links.abs_url("invitations.open_link", token=token)
        decline_url = links.abs_url("invitations.decline", token=token)
    ctx = {
        "inv": inv,
        "event": event,
        "contact": inv.contact,
        "when": labels[key],
        "link": link,
        "decline_url": decline_url,
        "agenda_url": links.abs_url("events.agenda_pdf", event_id=event.id),
    }
    return _("Invitation: %(title)s", title=event.shown().title), ctx  # the title in their language


@in_recipient_language(lambda inv, *_args: (inv.contact.language,))
def _invitation_content(inv: Invitation, labels: dict, token: str) -> tuple[str, str, str]:
    """(subject, text, HTML) of one invitee's mail, as the outbox stores it."""
    subject, ctx = _invitation_mail(inv, labels, token=token)
    return mail.compose(subject, template="mail/invitation", context=ctx)


def _queue_invitation(inv: Invitation, labels: dict) -> OutboxMessage:
    subject, text, html = _invitation_content(inv, labels, make_token(inv))
    return mail.queue(
        inv.contact.email, subject, body_text=text, body_html=html, to_name=inv.contact.name, category="invitation"
    )


# Rendering a batch: once per event, language, zone and category, the personal parts (the name and
# the two personal links) as placeholders, then filled in for each invitee: the text as it is, the
# HTML escaped (the links made links, as html_from_text makes them). The first invitee of each group
# is also rendered on their own and must come out the same, or the group is rendered one by one;
# so is an invitee whose name could read differently in place (a line break, an address in it...).

_NAME, _LINK, _DECLINE = "\ue000name\ue001", "\ue000link\ue001", "\ue000decline\ue001"
_LINKS = (_LINK, _DECLINE)
_WORD = re.compile(r"[^\s<>\"]+")
_URL_TAIL = set(".,;:)")
_MARK = re.compile("\ue000(?:name|link|decline)\ue001")


class _Named:
    """A contact whose name is the placeholder (the rest is the real contact's)."""

    def __init__(self, contact: Contact):
        self._contact = contact

    def __getattr__(self, attr):
        return _NAME if attr == "name" else getattr(self._contact, attr)


def _fillable(text: str) -> bool:
    """Each placeholder stands where its value reads the same filled in afterwards: nothing
    web-address-like before it in its word, and a personal link last in its word (but for closing
    punctuation, which html_from_text leaves out of a link)."""
    for word in _WORD.findall(text):
        if "\ue000" not in word and "\ue001" not in word:
            continue
        if any(c in _MARK.sub("", word) for c in "\ue000\ue001"):
            return False
        for mark in _MARK.finditer(word):
            if "://" in word[: mark.start()]:
                return False
            if mark.group(0) != _NAME and not set(word[mark.end() :]) <= _URL_TAIL:
                return False
    return True


def _plain_name(name: str | None) -> bool:
    """A name that reads the same filled into a rendered mail as rendered with it: one line, no
    control characters or double spaces (the subject's cleaning), composed (NFC), no address."""
    return bool(
        name
        and name == mail.clean_header_text(name)
        and name == unicodedata.normalize("NFC", name)
        and not unicodedata.combining(name[0])
        and "://" not in name
        and "\ue000" not in name
        and "\ue001" not in name
    )


def _anchor(url: str) -> str:
    url = escape(url)  # as Markup('<a href="%s">%s</a>') % (url, url) in html_from_text
    return f'<a href="{url}">{url}</a>'


def _fill(template: tuple[str, str, str], name: str, link: str, decline: str) -> tuple[str, str, str]:
    subject, text, html = template
    for mark, value in ((_NAME, name), (_LINK, link), (_DECLINE, decline)):
        subject, text = subject.replace(mark, value), text.replace(mark, value)
    html = html.replace(_NAME, str(escape(name))).replace(_LINK, _anchor(link)).replace(_DECLINE, _anchor(decline))
    return subject, text, html


@dataclass
class _Invitee:
    """One invitation of a batch, as read for sending (no ORM objects)."""

    id: int
    event_id: int
    nonce: str
    category: str
    name: str
    email: str
    language: str | None
    timezone: str | None
    token: str = ""


def _batch_contents(invitees: list[_Invitee], templates: dict | None = None) -> list[tuple[str, str, str]]:
    """Each invitee's (subject, text, HTML), in order, identical to rendering them one by one.
    ``templates``: the groups' templates checked in an earlier batch of the same job (kept there
    by this call), used again while their event is unchanged (its ``updated_at``): a job's later
    batches neither render a group's mail again nor check it against its first invitee's."""
    templates = {} if templates is None else templates
    events = {
        e.id: e
        for e in db.session.scalars(
            sa.select(Event)
            .where(Event.id.in_({i.event_id for i in invitees}))
            .execution_options(populate_existing=True)  # as it is now: the templates' key
        )
    }
    for inv in invitees:
        inv.token = tokens.make(
            SALT, {"i": inv.id, "n": inv.nonce}, expires_at=events[inv.event_id].registration_deadline
        )
    groups: dict[tuple, list[int]] = {}
    for n, inv in enumerate(invitees):
        tz = inv.timezone or events[inv.event_id].timezone
        groups.setdefault((inv.event_id, inv.language, tz, inv.category), []).append(n)
    out: list[tuple[str, str, str] | None] = [None] * len(invitees)
    labels: dict = {}
    personal_links = _link_maker()

    def one(n: int) -> tuple[str, str, str]:
        inv = db.session.get(Invitation, invitees[n].id)
        return _invitation_content(inv, labels, invitees[n].token)

    for group, members in groups.items():
        event_id, language = group[0], group[1]
        plain = [n for n in members if _plain_name(invitees[n].name)]
        checked = templates.get((*group, events[event_id].updated_at))
        if plain and checked is not None:
            for n in plain:
                out[n] = _fill(checked, invitees[n].name, *personal_links(invitees[n].token))
        elif plain:
            first = plain[0]
            out[first] = one(first)
            template = _group_template(db.session.get(Invitation, invitees[first].id), labels, language)
            if template is not None:
                for n in plain[1:]:
                    inv = invitees[n]
                    out[n] = _fill(template, inv.name, *personal_links(inv.token))
                if _fill(template, invitees[first].name, *personal_links(invitees[first].token)) != out[first]:
                    log.warning("invitations of event %s: the batch rendering differs; rendered one by one", event_id)
                    for n in plain[1:]:
                        out[n] = None
                else:
                    templates[(*group, events[event_id].updated_at)] = template
        for n in members:
            if out[n] is None:
                out[n] = one(n)
    return out


# What a signed token is made of: nothing a URL escapes (nor a last character html_from_text
# would leave out of the link: a token never ends with one, but then it goes the long way).
_TOKEN = re.compile(r"[A-Za-z0-9_.-]+")
_TOKEN_MARK = "TOKENxMARKx7Q"


def _link_maker():
    """``links(token)``: the invitation's two personal links, as links.abs_url makes them, built
    once with a mark where the token goes and filled in."""
    made = [links.abs_url(e, token=_TOKEN_MARK) for e in ("invitations.open_link", "invitations.decline")]
    usable = all(url and url.count(_TOKEN_MARK) == 1 for url in made)

    def make(token: str) -> tuple[str, str]:
        if not (usable and _TOKEN.fullmatch(token) and token[-1] not in _URL_TAIL):
            return links.abs_url("invitations.open_link", token=token), links.abs_url(
                "invitations.decline", token=token
            )
        return made[0].replace(_TOKEN_MARK, token), made[1].replace(_TOKEN_MARK, token)

    return make


def _group_template(inv: Invitation, labels: dict, language: str | None) -> tuple[str, str, str] | None:
    """The group's mail with placeholders for the personal parts, or None where they could not
    be filled in afterwards."""
    with in_language(language):
        subject, ctx = _invitation_mail(inv, labels, token="x")
        ctx.update(contact=_Named(inv.contact), link=_LINK, decline_url=_DECLINE)
        template = mail.compose(subject, template="mail/invitation", context=ctx)
    subject, text, _html = template
    if any(mark in subject for mark in _LINKS) or not (_fillable(subject) and _fillable(text)):
        return None
    return template


@dataclass
class SendPreview:
    """Before "send to the rest": who gets an invitation, and the mail as the first of them reads it."""

    recipients: list[Invitation]
    subject: str = ""
    body: str = ""
    language: str = ""


@in_recipient_language(lambda inv: (inv.contact.language,))
def _rendered_preview(inv: Invitation) -> tuple[str, str, str]:
    subject, ctx = _invitation_mail(inv, {}, token=None)
    subject, body, _html = mail.render("mail/invitation", subject, ctx)  # the event's own wording too
    return subject, body, str(get_locale())


def preview_send_rest(event_id: int) -> SendPreview:
    event = get_event(event_id)
    recipients = list(
        db.session.scalars(
            sa.select(Invitation)
            .join(Contact, Contact.id == Invitation.contact_id)
            .where(
                Invitation.event_id == event.id,
                Invitation.state == STATE_DRAFT,
                Invitation.send_requested_at.is_(None),
            )
            .order_by(Contact.name, Contact.email)
        ).unique()
    )
    preview = SendPreview(recipients=recipients)
    if recipients:
        preview.subject, preview.body, preview.language = _rendered_preview(recipients[0])
    return preview


def send_requested(limit: int | None = None, batch: int = SEND_BATCH) -> int:
    """The worker's job: render and queue the mails of invitations marked to send, a batch per
    transaction: each mail rendered once per event, language, zone and category for the whole job
    (while the event is unchanged) and filled in for each invitee (:func:`_batch_contents`), the
    outbox rows inserted together
    (``mail.queue_many``) and the invitations marked in one statement. Returns how many were queued."""
    done = 0
    inv_t = Invitation.__table__
    mark = (
        sa.update(inv_t)
        .where(inv_t.c.id == sa.bindparam("b_id"))
        .values(
            outbox_message_id=sa.bindparam("b_message"),
            send_count=inv_t.c.send_count + 1,
            sent_at=sa.bindparam("b_now", type_=inv_t.c.sent_at.type),
            state=sa.case((inv_t.c.state == STATE_DRAFT, STATE_SENT), else_=inv_t.c.state),
            send_requested_at=None,
        )
    )
    templates: dict = {}  # the groups' checked templates, for the job's later batches
    while limit is None or done < limit:
        size = batch if limit is None else min(batch, limit - done)
        invitees = [
            _Invitee(*row)
            for row in db.session.execute(
                sa.select(
                    Invitation.id,
                    Invitation.event_id,
                    Invitation.nonce,
                    Invitation.category,
                    Contact.name,
                    Contact.email,
                    Contact.language,
                    Contact.timezone,
                )
                .join(Contact, Contact.id == Invitation.contact_id)
                .where(
                    Invitation.send_requested_at.is_not(None),
                    Invitation.state.not_in(NOT_TO_SEND),
                )
                .order_by(Invitation.send_requested_at, Invitation.id)
                .limit(size)
            )
        ]
        if not invitees:
            break
        with unit_of_work():  # a batch per transaction: the mails of a batch land with its marks
            contents = _batch_contents(invitees, templates)
            ids = mail.queue_many(
                [
                    {
                        "to": inv.email,
                        "to_name": inv.name,
                        "subject": subject,
                        "body_text": text,
                        "body_html": html,
                        "category": "invitation",
                    }
                    for inv, (subject, text, html) in zip(invitees, contents, strict=True)
                ]
            )
            _mark_sent(mark, [inv.id for inv in invitees], ids, clock.now())
        for inv in invitees:  # loaded ones read the new state
            loaded = db.session.identity_map.get(sa.inspect(Invitation).identity_key_from_primary_key((inv.id,)))
            if loaded is not None:
                db.session.expire(loaded)
        done += len(invitees)
    return done


def _mark_sent(mark, invitation_ids: list[int], message_ids: list[int | None], now) -> None:
    """Mark the batch's invitations sent with their outbox messages: on PostgreSQL one UPDATE
    joined to the two lists (unnest), elsewhere ``mark`` once per invitation (executemany)."""
    if db.engine.dialect.name != "postgresql":
        db.session.execute(
            mark,
            [{"b_id": i, "b_message": m, "b_now": now} for i, m in zip(invitation_ids, message_ids, strict=True)],
        )
        return
    table = Invitation.__table__
    rows = [{"id": i, "outbox_message_id": m} for i, m in zip(invitation_ids, message_ids, strict=True)]
    call, params, binds = mail.unnest_arrays(table, rows, ["id", "outbox_message_id"])
    sql = (
        f"UPDATE {table.name} SET outbox_message_id = v.m, send_count = {table.name}.send_count + 1, "
        f"sent_at = :now, state = CASE WHEN {table.name}.state = :draft THEN :sent ELSE {table.name}.state END, "
        f"send_requested_at = NULL FROM {call} AS v(i, m) WHERE {table.name}.id = v.i"
    )
    stmt = sa.text(sql).bindparams(*binds, sa.bindparam("now", type_=table.c.sent_at.type))
    db.session.execute(stmt, {**params, "now": now, "draft": STATE_DRAFT, "sent": STATE_SENT})


@jobs.scheduled("invitations")
def _send_job() -> int:
    return send_requested(limit=2000)


# The invitee ---------------------------------------------------------------------------------


def invitation_from_token(token: str) -> Invitation:
    data = tokens.load(SALT, token)
    inv = get_or_404(Invitation, data.get("i"), _("This invitation no longer exists."))
    require_visible(inv.event)
    tokens.require_current(
        SALT, data, "n", inv.nonce, message=_("This invitation has been withdrawn or replaced by a newer one.")
    )
    if inv.state == STATE_REVOKED:
        raise ValidationFailed(_("This invitation has been withdrawn."))
    return inv


@transactional
def open_link(token: str) -> Invitation:
    inv = invitation_from_token(token)
    if inv.state in (STATE_DRAFT, STATE_SENT):
        inv.state = STATE_OPENED
        inv.opened_at = clock.now()
    return inv


@transactional
def decline(token: str) -> Invitation:
    inv = invitation_from_token(token)
    if inv.state in (STATE_REGISTERED, STATE_WAITING):
        raise Conflict(
            _(
                'You are registered for this event; use the "manage my registration" link in your '
                "confirmation email to cancel."
            )
        )
    if inv.state != STATE_DECLINED:
        inv.state = STATE_DECLINED
        inv.responded_at = clock.now()
        inv.send_requested_at = None
    return inv


def tag_choices() -> list[str]:
    return list(db.session.scalars(sa.select(Tag.name).order_by(Tag.name)))
