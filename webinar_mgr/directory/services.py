"""The directory: member governments, organisations and contacts.

Rules live here (views only parse requests): email syntax and case-insensitive uniqueness, unique
organisation names, known sectors, valid time zones, tags as comma-separated names, an audit
entry with a diff for every change, and the two-step CSV import of contacts (preview with a
row-by-row report, then all-or-nothing). :func:`preview_contacts_csv` and
:func:`import_contacts` are also used by the invitations module for guests pasted as CSV.

The organisation a person gives (registration, invitation, import, walk-in) is resolved by
:func:`resolve_organisation` (organisations.py, re-exported here with :class:`OrganisationChoice`,
:func:`infer_sector`, :func:`member_government_of`, :func:`country_choices` and
:func:`member_government_for_country`): a name the directory does not know becomes a new
organisation for the secretariat to review (review.py), never a refused row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask import current_app, has_app_context
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from webinar_mgr import csvio
from webinar_mgr.audit import services as audit
from webinar_mgr.core.models import PendingUpload
from webinar_mgr.errors import Conflict, NotAllowed, NotFound, ValidationFailed
from webinar_mgr.extensions import db
from webinar_mgr.i18n import is_valid_timezone, normalise_language, offered_languages
from webinar_mgr.persistence import transactional, unit_of_work

from .models import SECTOR_MEMBER, SECTORS, Contact, Organisation, Tag
from .organisations import NAME_MAX, name_key, sector_from_text
from .organisations import OrganisationChoice as OrganisationChoice
from .organisations import country_choices as country_choices
from .organisations import country_code_for as country_code_for
from .organisations import find_organisation as find_organisation
from .organisations import infer_sector as infer_sector
from .organisations import member_government_choices as member_government_choices
from .organisations import member_government_for_country as member_government_for_country
from .organisations import member_government_of as member_government_of
from .organisations import resolve_organisation as resolve_organisation

UPLOAD_KIND = "contacts"
DEFAULT_CSV_MAX_BYTES = 5 * 1024 * 1024


def organisation_choices(sector: str | None = None) -> list[tuple[int, str]]:
    stmt = sa.select(Organisation.id, Organisation.name, Organisation.sector).order_by(Organisation.name)
    if sector:
        stmt = stmt.where(Organisation.sector == sector)
    return [
        (oid, name if sector else f"{name} ({SECTORS.get(sec, sec)})") for oid, name, sec in db.session.execute(stmt)
    ]


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def find_contact_by_email(email: str):
    return db.session.scalar(sa.select(Contact).where(Contact.email == normalise_email(email)))


def get_or_create_contact(
    email: str,
    name: str,
    *,
    organisation_id: int | None = None,
    organisation: Organisation | None = None,
    position: str | None = None,
    timezone: str | None = None,
    actor=None,
):
    """The directory contact with this email, created when new (guests become contacts).

    An existing contact keeps its data; missing organisation/position/zone are filled in. Pass
    the person's ``organisation`` as resolved by :func:`resolve_organisation` (or, as before, a
    known ``organisation_id``). Adds to the session without committing (the caller owns the
    transaction).
    """
    if organisation is not None:
        if organisation.id is None:
            db.session.flush()
        organisation_id = organisation.id
    contact = find_contact_by_email(email)
    if contact is None:
        contact = Contact(
            email=normalise_email(email),
            name=name.strip(),
            organisation_id=organisation_id,
            position=position,
            timezone=timezone,
        )
        db.session.add(contact)
        db.session.flush()
        audit.record(actor, "contact.create", contact, summary=contact.email)
        return contact
    if contact.organisation_id is None and organisation_id:
        contact.organisation_id = organisation_id
    if not contact.position and position:
        contact.position = position
    if not contact.timezone and timezone:
        contact.timezone = timezone
    return contact


# Small helpers -----------------------------------------------------------------------------------


def check_email(raw: str | None) -> str:
    """The normalised (lower-case) address, or ValidationFailed naming what is wrong."""
    text = (raw or "").strip()
    if not text:
        raise ValidationFailed(_("An email address is required."), field_errors={"email": [_("Required.")]})
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        msg = _("“%(email)s” is not a valid email address: %(why)s", email=text, why=str(exc))
        raise ValidationFailed(msg, field_errors={"email": [msg]}) from None
    return normalise_email(result.normalized)


def parse_tags(text: str | list[str] | None) -> list[str]:
    """'a, b;c' -> ['a', 'b', 'c'] (lower case, blanks dropped, duplicates removed, order kept)."""
    if text is None:
        return []
    parts = text if isinstance(text, list) else re.split(r"[,;]", text)
    out: list[str] = []
    for p in parts:
        name = " ".join(str(p).split()).lower()
        if name and name not in out:
            out.append(name)
    return out


def _tag_rows(names: list[str], cache: dict[str, Tag] | None = None) -> list[Tag]:
    """Tag rows for these names, created as needed (added to the session)."""
    if cache is None:
        cache = {}
    missing = [n for n in names if n not in cache]
    if missing:
        with db.session.no_autoflush:
            for tag in db.session.scalars(sa.select(Tag).where(Tag.name.in_(missing))):
                cache[tag.name] = tag
    out = []
    for n in names:
        tag = cache.get(n)
        if tag is None:
            tag = Tag(name=n)
            db.session.add(tag)
            cache[n] = tag
        out.append(tag)
    return out


def tag_names() -> list[str]:
    return list(db.session.scalars(sa.select(Tag.name).order_by(Tag.name)))


def _text(value) -> str:
    """A string without NUL characters (PostgreSQL refuses them; they are never meant)."""
    return str(value or "").replace("\x00", "")


def _clean(data):
    """A copy of a form dataclass with every string freed of NUL characters."""
    return replace(
        data, **{f.name: _text(getattr(data, f.name)) for f in fields(data) if isinstance(getattr(data, f.name), str)}
    )


def _blank(value: str | None) -> str | None:
    value = _text(value).strip()
    return value or None


def _too_long(errors: dict, name: str, value: str | None, limit: int) -> None:
    if value and len(value) > limit:
        errors.setdefault(name, []).append(_("At most %(n)d characters.", n=limit))


def _fail(errors: dict[str, list[str]]) -> None:
    if errors:
        first = next(iter(errors.values()))[0]
        raise ValidationFailed(_("Please correct the marked fields: %(first)s", first=first), field_errors=errors)


def _race_email() -> str:
    return _("Another contact with this email was saved at the same moment; nothing was changed.")


def _race_org() -> str:
    return _("An organisation with this name was saved at the same moment; nothing was changed.")


# Contacts ----------------------------------------------------------------------------------------


@dataclass
class ContactData:
    name: str
    email: str
    organisation_id: int | None = None
    position: str | None = None
    focal_point: bool = False
    phone: str | None = None
    timezone: str | None = None
    tags: str | list[str] | None = None
    notes: str | None = None
    language: str | None = None  # the language of their mails (issue 13)


def _contact_snapshot(c: Contact) -> dict:
    return {
        "name": c.name,
        "email": c.email,
        "organisation": c.organisation.name if c.organisation else None,
        "position": c.position,
        "focal_point": c.focal_point,
        "phone": c.phone,
        "timezone": c.timezone,
        "language": c.language,
        "tags": ", ".join(sorted(c.tag_names)),
        "notes": c.notes,
    }


def _validate_contact(
    data: ContactData, *, current: Contact | None = None
) -> tuple[dict, Organisation | None, list[str]]:
    data = _clean(data)
    errors: dict[str, list[str]] = {}
    name = " ".join((data.name or "").split())
    if not name:
        errors.setdefault("name", []).append(_("A name is required."))
    _too_long(errors, "name", name, 200)
    email = None
    try:
        email = check_email(data.email)
    except ValidationFailed as exc:
        errors.setdefault("email", []).extend(exc.field_errors.get("email", [exc.message]))
    org = None
    if data.organisation_id:
        org = db.session.get(Organisation, data.organisation_id)
        if org is None:
            errors.setdefault("organisation_id", []).append(_("Unknown organisation."))
    position, phone, tz, notes = _blank(data.position), _blank(data.phone), _blank(data.timezone), _blank(data.notes)
    _too_long(errors, "position", position, 200)
    _too_long(errors, "phone", phone, 64)
    if tz and not is_valid_timezone(tz):
        errors.setdefault("timezone", []).append(_("Unknown time zone: %(tz)s.", tz=tz))
    language, language_error = contact_language(data.language)
    if language_error:
        errors.setdefault("language", []).append(language_error)
    tags = parse_tags(data.tags)
    for t in tags:
        if len(t) > 64:
            errors.setdefault("tags", []).append(_("A tag has at most 64 characters: %(tag)s", tag=t[:70]))
    _fail(errors)
    other = find_contact_by_email(email)
    if other is not None and (current is None or other.id != current.id):
        msg = _("Another contact already has the email %(email)s (%(name)s).", email=email, name=other.name)
        raise Conflict(msg, field_errors={"email": [msg]})
    values = {
        "name": name,
        "email": email,
        "position": position,
        "focal_point": bool(data.focal_point),
        "phone": phone,
        "timezone": tz,
        "language": language,
        "notes": notes,
    }
    return values, org, tags


def contact_language(text: str | None) -> tuple[str | None, str | None]:
    """A contact's language as given in the form or a CSV file ("th", "th-TH", "zh-CN", "vi"):
    (the offered code or None when blank, an error message when it is not a language offered)."""
    text = _blank(text)
    if not text:
        return None, None
    code = normalise_language(text)
    if code is None:
        return None, _(
            "“%(language)s” is not a language offered; use one of: %(codes)s.",
            language=text[:40],
            codes=", ".join(offered_languages()),
        )
    return code, None


def _email_race() -> Conflict:
    """A uniqueness race on the email lost to another request (nothing was saved)."""
    return Conflict(_race_email(), field_errors={"email": [_race_email()]})


def create_contact(data: ContactData, *, actor) -> Contact:
    try:
        with unit_of_work():
            values, org, tags = _validate_contact(data)
            contact = Contact(organisation_id=org.id if org else None, **values)
            db.session.add(contact)
            contact.organisation = org
            contact.tags = _tag_rows(tags)
            db.session.flush()
            audit.record(
                actor,
                "contact.create",
                contact,
                summary=f"{contact.name} <{contact.email}>",
                changes=audit.diff({}, _contact_snapshot(contact)),
            )
    except IntegrityError:
        raise _email_race() from None
    return contact


def update_contact(contact: Contact, data: ContactData, *, actor) -> Contact:
    try:
        with unit_of_work():
            before = _contact_snapshot(contact)
            values, org, tags = _validate_contact(data, current=contact)
            for k, v in values.items():
                setattr(contact, k, v)
            contact.organisation = org
            contact.organisation_id = org.id if org else None
            contact.tags = _tag_rows(tags)
            changes = audit.diff(before, _contact_snapshot(contact))
            if changes:
                audit.record(
                    actor, "contact.update", contact, summary=f"{contact.name} <{contact.email}>", changes=changes
                )
    except IntegrityError:
        raise _email_race() from None
    return contact


@dataclass
class ContactFilters:
    q: str = ""
    organisation_id: int | None = None
    sector: str | None = None
    member_government_id: int | None = None
    tag: str | None = None
    focal_only: bool = False

    def as_args(self) -> dict:
        args = {
            "q": self.q or None,
            "organisation": self.organisation_id,
            "sector": self.sector,
            "member": self.member_government_id,
            "tag": self.tag,
            "focal": 1 if self.focal_only else None,
        }
        return {k: v for k, v in args.items() if v}


def contacts_query(filters: ContactFilters):
    stmt = sa.select(Contact).outerjoin(Organisation, Contact.organisation_id == Organisation.id)
    q = " ".join(_text(filters.q).split())
    if q:
        like = f"%{q.lower()}%"
        stmt = stmt.where(
            sa.or_(
                sa.func.lower(Contact.name).like(like),
                Contact.email.like(like),
                sa.func.lower(Contact.position).like(like),
            )
        )
    if filters.organisation_id:
        stmt = stmt.where(Contact.organisation_id == filters.organisation_id)
    if filters.sector:
        stmt = stmt.where(Organisation.sector == _text(filters.sector))
    if filters.member_government_id:  # its own people and its agencies' people
        stmt = stmt.where(Organisation.counted_member_government_id == filters.member_government_id)
    if filters.tag:
        stmt = stmt.where(Contact.tags.any(Tag.name == _text(filters.tag).strip().lower()))
    if filters.focal_only:
        stmt = stmt.where(Contact.focal_point.is_(True))
    return stmt.order_by(sa.func.lower(Contact.name), Contact.id)


def search_contacts(filters: ContactFilters, *, page: int = 1, per_page: int = 50):
    return db.paginate(contacts_query(filters), page=max(page, 1), per_page=per_page, error_out=False)


# Organisations -----------------------------------------------------------------------------------


@dataclass
class OrganisationData:
    name: str
    sector: str
    short_name: str | None = None
    country_code: str | None = None
    working_group_member: bool = False
    website: str | None = None
    notes: str | None = None
    member_government_id: int | None = None


def _org_snapshot(o: Organisation) -> dict:
    member = db.session.get(Organisation, o.member_government_id) if o.member_government_id else None
    return {
        "name": o.name,
        "short_name": o.short_name,
        "sector": o.sector,
        "country_code": o.country_code,
        "member_government": member.name if member is not None else None,
        "working_group_member": o.working_group_member,
        "website": o.website,
        "notes": o.notes,
    }


def _validate_org(data: OrganisationData, *, current: Organisation | None = None) -> dict:
    data = _clean(data)
    errors: dict[str, list[str]] = {}
    name = " ".join((data.name or "").split())
    if not name:
        errors.setdefault("name", []).append(_("A name is required."))
    _too_long(errors, "name", name, 200)
    short = _blank(data.short_name)
    _too_long(errors, "short_name", short, 64)
    if data.sector not in SECTORS:
        errors.setdefault("sector", []).append(_("Unknown sector: %(sector)s.", sector=data.sector or "—"))
    code = None
    try:
        code = country_code_for(data.country_code)
    except ValueError:
        errors.setdefault("country_code", []).append(_("Unknown country: use the two-letter ISO code, e.g. TH."))
    member_id = data.member_government_id or None
    if member_id:
        member = db.session.get(Organisation, member_id) if isinstance(member_id, int) else None
        if member is None or not member.is_member_government or (current is not None and member.id == current.id):
            errors.setdefault("member_government_id", []).append(_("This is not one of the member governments."))
        elif data.sector != SECTOR_MEMBER:
            errors.setdefault("member_government_id", []).append(
                _("Only a government agency (sector: member government) belongs to a member government.")
            )
    website = _blank(data.website)
    if website and not re.match(r"https?://[^\s/]+\.[^\s]+$", website):
        errors.setdefault("website", []).append(_("Give the full address, starting with https://"))
    _too_long(errors, "website", website, 500)
    _fail(errors)
    stmt = sa.select(Organisation).where(sa.func.lower(Organisation.name) == name.lower())
    if current is not None:
        stmt = stmt.where(Organisation.id != current.id)
    if db.session.scalar(stmt) is not None:
        msg = _("An organisation named %(name)s already exists.", name=name)
        raise Conflict(msg, field_errors={"name": [msg]})
    return {
        "name": name,
        "short_name": short,
        "sector": data.sector,
        "country_code": code,
        "member_government_id": member_id,
        "working_group_member": bool(data.working_group_member),
        "website": website,
        "notes": _blank(data.notes),
    }


def _org_race() -> Conflict:
    """A uniqueness race on the name lost to another request (nothing was saved)."""
    return Conflict(_race_org(), field_errors={"name": [_race_org()]})


def create_organisation(data: OrganisationData, *, actor) -> Organisation:
    try:
        with unit_of_work():
            org = Organisation(**_validate_org(data))
            db.session.add(org)
            db.session.flush()
            audit.record(
                actor, "organisation.create", org, summary=org.name, changes=audit.diff({}, _org_snapshot(org))
            )
    except IntegrityError:
        raise _org_race() from None
    return org


def update_organisation(org: Organisation, data: OrganisationData, *, actor) -> Organisation:
    try:
        with unit_of_work():
            before = _org_snapshot(org)
            for k, v in _validate_org(data, current=org).items():
                setattr(org, k, v)
            changes = audit.diff(before, _org_snapshot(org))
            if changes:
                audit.record(actor, "organisation.update", org, summary=org.name, changes=changes)
    except IntegrityError:
        raise _org_race() from None
    return org


@dataclass
class OrganisationRow:
    organisation: Organisation
    contacts: int
    focal_points: int


def search_organisations(
    *, q: str = "", sector: str | None = None, working_group: bool = False, page: int = 1, per_page: int = 60
):
    """A page of organisations; ``page.rows`` pairs each with its contact counts (one extra query)."""
    stmt = sa.select(Organisation)
    q = " ".join(_text(q).split())
    if q:
        like = f"%{q.lower()}%"
        stmt = stmt.where(
            sa.or_(
                sa.func.lower(Organisation.name).like(like),
                sa.func.lower(Organisation.short_name).like(like),
                sa.func.lower(Organisation.country_code) == q.lower(),
            )
        )
    if sector:
        stmt = stmt.where(Organisation.sector == sector)
    if working_group:
        stmt = stmt.where(Organisation.working_group_member.is_(True))
    stmt = stmt.order_by(sa.func.lower(Organisation.name), Organisation.id)
    result = db.paginate(stmt, page=max(page, 1), per_page=per_page, error_out=False)
    ids = [o.id for o in result.items]
    counts: dict[int, tuple[int, int]] = {}
    if ids:
        focal = sa.func.sum(sa.case((Contact.focal_point.is_(True), 1), else_=0))
        for oid, n, f in db.session.execute(
            sa.select(Contact.organisation_id, sa.func.count(Contact.id), focal)
            .where(Contact.organisation_id.in_(ids))
            .group_by(Contact.organisation_id)
        ):
            counts[oid] = (n, int(f or 0))
    result.rows = [OrganisationRow(o, *counts.get(o.id, (0, 0))) for o in result.items]
    return result


def organisation_contacts(org: Organisation) -> list[Contact]:
    return list(
        db.session.scalars(
            sa.select(Contact)
            .where(Contact.organisation_id == org.id)
            .order_by(Contact.focal_point.desc(), sa.func.lower(Contact.name))
        ).unique()
    )


# CSV import --------------------------------------------------------------------------------------

CSV_COLUMNS = ("name", "email", "organisation", "position", "focal_point", "tags", "phone", "timezone", "language")
# Read when present, not in the template: the sector of an organisation the directory does not know
# (otherwise guessed from its name).
CSV_OPTIONAL = ("sector",)
CSV_REQUIRED = ("name", "email")
CSV_ALIASES = {
    "full_name": "name",
    "contact_name": "name",
    "display_name": "name",
    "person": "name",
    "nom": "name",
    "e_mail": "email",
    "email_address": "email",
    "e_mail_address": "email",
    "mail": "email",
    "organization": "organisation",
    "org": "organisation",
    "organisation_name": "organisation",
    "organization_name": "organisation",
    "agency": "organisation",
    "company": "organisation",
    "ministry": "organisation",
    "institution": "organisation",
    "title": "position",
    "job_title": "position",
    "role": "position",
    "job": "position",
    "focal": "focal_point",
    "focal_point?": "focal_point",
    "is_focal_point": "focal_point",
    "focalpoint": "focal_point",
    "tag": "tags",
    "labels": "tags",
    "label": "tags",
    "telephone": "phone",
    "phone_number": "phone",
    "mobile": "phone",
    "tel": "phone",
    "time_zone": "timezone",
    "tz": "timezone",
    "zone": "timezone",
    "lang": "language",
    "preferred_language": "language",
    "mail_language": "language",
    "locale": "language",
    "organisation_sector": "sector",
    "organization_sector": "sector",
    "org_sector": "sector",
    "organisation_type": "sector",
    "organization_type": "sector",
}
TRUE_WORDS = {"yes", "y", "true", "1", "x", "oui", "ja"}
FALSE_WORDS = {"no", "n", "false", "0", ""}
CSV_EXAMPLE = (
    "Kittisak Charoen",
    "kittisak.charoen@example.go.th",
    "Thailand",
    "Senior Officer, Anti-Trafficking Division",
    "yes",
    "focal-point; technology",
    "+66 2 000 0000",
    "Asia/Bangkok",
    "th",
)


def csv_template() -> bytes:
    """A header and one example row (UTF-8 with BOM so that Excel opens it right)."""
    return csvio.to_csv(CSV_COLUMNS, [CSV_EXAMPLE])


@dataclass
class ContactImportRow:
    line: int
    name: str
    email: str
    organisation: Organisation | None
    organisation_text: str
    position: str | None
    focal_point: bool
    tags: list[str]
    phone: str | None
    timezone: str | None
    language: str | None = None
    errors: list[str] = field(default_factory=list)
    existing: Contact | None = None
    # An organisation the directory does not know: created for review when the file is imported.
    new_organisation: OrganisationChoice | None = None
    sector_guessed: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def new_organisation_sector_label(self) -> str:
        return str(SECTORS.get(self.new_organisation.sector, "")) if self.new_organisation else ""


@dataclass
class ContactImportPreview:
    rows: list[ContactImportRow] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)
    encoding: str | None = None
    delimiter: str | None = None
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def error_count(self) -> int:
        return sum(1 for r in self.rows if r.errors)

    @property
    def encoding_label(self) -> str:
        return csvio.encoding_name(self.encoding) if self.encoding else ""

    @property
    def count(self) -> int:
        """Rows that will be added (or reused) when confirmed."""
        return sum(1 for r in self.rows if not r.errors)

    @property
    def ok(self) -> bool:
        return not self.file_errors and bool(self.rows) and not self.error_count


def _max_bytes() -> int:
    if has_app_context():
        return int(current_app.config.get("CSV_MAX_BYTES") or DEFAULT_CSV_MAX_BYTES)
    return DEFAULT_CSV_MAX_BYTES


def _organisation_index() -> dict[str, Organisation]:
    """Every organisation by :func:`name_key` of its name and short name (full names win)."""
    index: dict[str, Organisation] = {}
    orgs = list(db.session.scalars(sa.select(Organisation).order_by(Organisation.id)))
    for org in orgs:
        if org.short_name:
            index.setdefault(name_key(org.short_name), org)
    for org in orgs:
        index[name_key(org.name)] = org
    return index


def _existing_contacts(emails: list[str]) -> dict[str, Contact]:
    out: dict[str, Contact] = {}
    unique = sorted(set(e for e in emails if e))
    for i in range(0, len(unique), 500):
        for c in db.session.scalars(sa.select(Contact).where(Contact.email.in_(unique[i : i + 500]))).unique():
            out[c.email] = c
    return out


def preview_contacts_csv(
    data: bytes, *, allow_existing: bool = False, max_bytes: int | None = None, encoding: str | None = None
) -> ContactImportPreview:
    """Read a contacts CSV and report, row by row, what an import would do. Saves nothing.

    File-level problems (size, binary, encoding, empty, missing columns) go to ``file_errors``;
    row problems to each row's ``errors``. With ``allow_existing`` an email already in the
    directory is not an error: the row's ``existing`` contact is reused. ``encoding``: the one the
    organiser chose (else detected, see :func:`webinar_mgr.csvio.decode`).
    """
    preview = ContactImportPreview()
    try:
        table = csvio.read_table(
            data,
            required=CSV_REQUIRED,
            aliases=CSV_ALIASES,
            max_bytes=max_bytes if max_bytes is not None else _max_bytes(),
            encoding=encoding,
        )
    except csvio.CsvProblem as exc:
        preview.file_errors.append(exc.message)
        return preview
    preview.encoding, preview.delimiter = table.encoding, table.delimiter
    preview.ignored_columns = [h for h in table.header if h and h not in CSV_COLUMNS + CSV_OPTIONAL]
    if not table.rows:
        preview.file_errors.append(_("The file has a header but no contacts below it."))
        return preview
    orgs = _organisation_index()
    emails: list[str] = []
    for raw in table.rows:
        try:
            emails.append(check_email(_text(raw.get("email"))))
        except ValidationFailed:
            emails.append("")
    existing = _existing_contacts(emails)
    seen: dict[str, int] = {}
    for raw, line, email in zip(table.rows, table.line_numbers, emails, strict=True):
        raw = {k: _text(v) for k, v in raw.items()}
        errors: list[str] = []
        name = " ".join((raw.get("name") or "").split())
        if not name:
            errors.append(_("Missing name."))
        elif len(name) > 200:
            errors.append(_("The name is longer than 200 characters."))
        raw_email = (raw.get("email") or "").strip()
        if not raw_email:
            errors.append(_("Missing email."))
        elif not email:
            try:
                check_email(raw_email)
            except ValidationFailed as exc:
                errors.append(_("Bad email: %(why)s", why=exc.message))
        org_text = " ".join((raw.get("organisation") or "").split())
        org = orgs.get(name_key(org_text)) if org_text else None
        new_org, guessed = _new_organisation(org_text, raw.get("sector"), errors) if org is None else (None, False)
        focal_text = (raw.get("focal_point") or "").strip().lower()
        focal = focal_text in TRUE_WORDS
        if focal_text not in TRUE_WORDS and focal_text not in FALSE_WORDS:
            errors.append(_("focal_point must be yes or no, not “%(value)s”.", value=raw.get("focal_point")))
        tags = parse_tags(raw.get("tags"))
        if any(len(t) > 64 for t in tags):
            errors.append(_("A tag is longer than 64 characters."))
        position, phone, tz = _blank(raw.get("position")), _blank(raw.get("phone")), _blank(raw.get("timezone"))
        if position and len(position) > 200:
            errors.append(_("The position is longer than 200 characters."))
        if phone and len(phone) > 64:
            errors.append(_("The phone number is longer than 64 characters."))
        if tz and not is_valid_timezone(tz):
            errors.append(_("Unknown time zone: %(tz)s (use an IANA name such as Asia/Bangkok).", tz=tz))
        language, language_error = contact_language(raw.get("language"))
        if language_error:
            errors.append(language_error)
        found = existing.get(email) if email else None
        if email:
            if email in seen:
                errors.append(_("Duplicate: the same email as line %(line)d.", line=seen[email]))
            else:
                seen[email] = line
            if found is not None and not allow_existing:
                errors.append(
                    _("Already in the directory: %(email)s belongs to %(name)s.", email=email, name=found.name)
                )
        preview.rows.append(
            ContactImportRow(
                line=line,
                name=name,
                email=email or raw_email,
                organisation=org,
                organisation_text=org_text,
                position=position,
                focal_point=focal,
                tags=tags,
                phone=phone,
                timezone=tz,
                language=language,
                errors=errors,
                existing=found,
                new_organisation=new_org,
                sector_guessed=guessed,
            )
        )
    return preview


def _new_organisation(name: str, sector_text: str | None, errors: list[str]) -> tuple[OrganisationChoice | None, bool]:
    """What a row's unknown organisation will be created as (the sector given, or guessed from the
    name); a name too long or a sector that does not exist is the row's error."""
    if not name:
        if sector_text and sector_text.strip():
            errors.append(_("A sector is given but no organisation."))
        return None, False
    if len(name) > NAME_MAX:
        errors.append(_("The organisation's name has %(n)d characters; at most %(max)d.", n=len(name), max=NAME_MAX))
        return None, False
    try:
        sector = sector_from_text(sector_text)
    except ValueError:
        errors.append(
            _(
                "Unknown sector: %(sector)s (use one of: %(known)s).",
                sector=" ".join(str(sector_text).split())[:60],
                known=", ".join(SECTORS),
            )
        )
        return None, False
    if sector is None:
        return OrganisationChoice(name=name, sector=infer_sector(name)), True
    return OrganisationChoice(name=name, sector=sector), False


def import_contacts(preview: ContactImportPreview, *, allow_existing: bool = False, actor) -> list[Contact]:
    """Create the previewed contacts in one unit of work (inside the caller's, when there is one).

    Nothing is added unless every row is fine. With ``allow_existing`` a row whose email is
    already in the directory returns that contact (its empty fields are filled in).
    """
    if not preview.ok:
        if preview.file_errors:
            raise ValidationFailed(preview.file_errors[0])
        if not preview.rows:
            raise ValidationFailed(_("The file has no contacts."))
        raise ValidationFailed(
            _(
                "Nothing was imported: %(n)d row(s) have problems. Correct the file and upload it again.",
                n=preview.error_count,
            )
        )
    try:
        with unit_of_work():
            out, created = _add_imported(preview, allow_existing=allow_existing, actor=actor)
            audit.record(
                actor,
                "contact.import",
                None,
                object_type="Contact",
                summary=_("%(n)d contacts imported", n=created),
                changes={"count": [0, created], "reused": [0, len(out) - created]},
            )
    except IntegrityError:
        # Another request added one of these emails (or tags) meanwhile: nothing is kept.
        raise Conflict(
            _(
                "Some of these contacts were added by someone else meanwhile; nothing was imported. "
                "Check the file again."
            )
        ) from None
    return out


def _row_organisation(row: ContactImportRow, new_orgs: dict[str, Organisation], actor) -> Organisation | None:
    """The row's organisation: the known one, or its new one (created once per name, for review)."""
    if row.organisation is not None or row.new_organisation is None:
        return row.organisation
    key = name_key(row.new_organisation.name)
    if key not in new_orgs:
        try:
            new_orgs[key] = resolve_organisation(row.new_organisation, added_via="import", actor=actor, infer=True)
        except ValidationFailed as exc:
            raise ValidationFailed(
                _("Line %(line)d: %(why)s", line=row.line, why=exc.message), field_errors=exc.field_errors
            ) from None
    return new_orgs[key]


def _add_imported(preview: ContactImportPreview, *, allow_existing: bool, actor) -> tuple[list[Contact], int]:
    """Add the previewed rows to the session (flushed); the contacts and how many are new."""
    cache: dict[str, Tag] = {}
    new_orgs: dict[str, Organisation] = {}
    # The organisations first (each new one is flushed), then the contacts in one flush.
    orgs = [
        None
        if row.existing is not None and row.existing.organisation_id is not None  # it keeps its own
        else _row_organisation(row, new_orgs, actor)
        for row in preview.rows
    ]
    out: list[Contact] = []
    created = 0
    for row, org in zip(preview.rows, orgs, strict=True):
        if row.existing is not None:
            if not allow_existing:
                raise ValidationFailed(
                    _("Line %(line)d: %(email)s is already in the directory.", line=row.line, email=row.email)
                )
            c = row.existing
            if c.organisation_id is None and org is not None:
                c.organisation_id = org.id
            c.position = c.position or row.position
            c.phone = c.phone or row.phone
            c.timezone = c.timezone or row.timezone
            c.language = c.language or row.language
            out.append(c)
            continue
        c = Contact(
            name=row.name,
            email=row.email,
            organisation_id=org.id if org else None,
            position=row.position,
            focal_point=row.focal_point,
            phone=row.phone,
            timezone=row.timezone,
            language=row.language,
        )
        c.tags = _tag_rows(row.tags, cache)
        db.session.add(c)
        out.append(c)
        created += 1
    db.session.flush()
    return out, created


def stage_contacts_upload(
    filename: str,
    data: bytes,
    *,
    kind: str = UPLOAD_KIND,
    meta: dict | None = None,
    allow_existing: bool = False,
    encoding: str | None = None,
    actor,
) -> tuple[PendingUpload | None, ContactImportPreview]:
    """Preview an uploaded file and keep it for confirmation (not kept when unreadable).

    ``kind`` and ``meta`` let other modules (the invitations' guest lists) stage a contacts file
    of their own; a person's earlier pending upload of the same kind is replaced. ``encoding``
    (chosen by the organiser) is kept with the file and used again on confirmation.
    """
    preview = preview_contacts_csv(data, allow_existing=allow_existing, encoding=encoding)
    if preview.file_errors:
        return None, preview
    owner_id = getattr(actor, "id", None)
    with unit_of_work():
        for old in db.session.scalars(
            sa.select(PendingUpload).where(PendingUpload.kind == kind, PendingUpload.owner_id == owner_id)
        ):
            db.session.delete(old)
        upload = PendingUpload(
            kind=kind,
            owner_id=owner_id,
            filename=(filename or "contacts.csv")[:255],
            content=data,
            meta={"rows": len(preview.rows), "encoding": encoding or None, **(meta or {})},
        )
        db.session.add(upload)
    return upload, preview


def get_pending_upload(upload_id: str, *, kind: str = UPLOAD_KIND, actor) -> PendingUpload:
    upload = db.session.get(PendingUpload, _text(upload_id)[:32])
    if upload is None or upload.kind != kind:
        raise NotFound(_("This upload is no longer waiting for confirmation: upload the file again."))
    if upload.owner_id != getattr(actor, "id", None):
        raise NotAllowed(_("Only the person who uploaded this file can confirm its import."))
    return upload


def upload_encoding(upload: PendingUpload) -> str | None:
    """The encoding the organiser chose for a staged file (None: detected)."""
    return (upload.meta or {}).get("encoding") or None


def preview_upload(upload: PendingUpload, *, allow_existing: bool = False) -> ContactImportPreview:
    """The staged file read again, in the encoding chosen for it."""
    return preview_contacts_csv(upload.content, allow_existing=allow_existing, encoding=upload_encoding(upload))


@transactional
def choose_upload_encoding(upload_id: str, encoding: str, *, kind: str = UPLOAD_KIND, actor) -> PendingUpload:
    """Read a staged file in another encoding from now on (the preview and the confirmation)."""
    upload = get_pending_upload(upload_id, kind=kind, actor=actor)
    if encoding and encoding not in dict(csvio.encoding_choices()):
        raise ValidationFailed(_("Unknown encoding: choose one from the list."))
    upload.meta = {**(upload.meta or {}), "encoding": encoding or None}
    return upload


def pending_preview(upload_id: str, *, actor) -> tuple[PendingUpload, ContactImportPreview]:
    upload = get_pending_upload(upload_id, actor=actor)
    return upload, preview_upload(upload)


@transactional
def confirm_contacts_upload(upload_id: str, *, actor) -> list[Contact]:
    """Re-read the stored file and import every row in one transaction, or nothing."""
    upload = get_pending_upload(upload_id, actor=actor)
    preview = preview_upload(upload)
    contacts = import_contacts(preview, actor=actor)
    db.session.delete(upload)
    return contacts
