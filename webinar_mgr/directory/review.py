"""New organisations to review, merging, and the check that every person can be counted.

Organisations that people added (registration, invitation, import, walk-in) wait here with
``needs_review`` until an organiser fixes their sector, country and member government and marks
them reviewed, or merges them into the organisation they really are. The directory's own gaps
(contacts without an organisation, agencies without their member government) are answered here
to ``signals.person_gaps``; other modules add theirs.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

import sqlalchemy as sa
from blinker import ANY
from flask_babel import gettext as _
from sqlalchemy import orm
from sqlalchemy.exc import IntegrityError

from webinar_mgr import clock
from webinar_mgr.audit import services as audit
from webinar_mgr.audit.models import AuditEntry
from webinar_mgr.errors import Conflict, ValidationFailed
from webinar_mgr.extensions import db
from webinar_mgr.persistence import get_or_404, unit_of_work

from .models import SECTOR_MEMBER, SECTORS, Contact, Organisation
from .organisations import country_code_for, find_organisation
from .signals import Gap, collect_gaps, gap_url, person_gaps

# The list ------------------------------------------------------------------------------------------


@dataclass
class ReviewRow:
    organisation: Organisation
    contacts: int
    added_by: str | None  # who was signed in when it was added (None: the person themselves, e.g. registering)
    suggestion: str = ""  # the known organisation it most looks like (to merge into), or ""


def review_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).where(Organisation.needs_review.is_(True))) or 0


def organisations_to_review(*, page: int = 1, per_page: int = 25):
    """A page of the organisations waiting for review, oldest first; ``page.rows`` adds their
    contact counts, who added them and a merge suggestion (three extra queries)."""
    stmt = (
        sa.select(Organisation)
        .where(Organisation.needs_review.is_(True))
        .order_by(Organisation.created_at, Organisation.id)
    )
    result = db.paginate(stmt, page=max(page, 1), per_page=per_page, error_out=False)
    ids = [o.id for o in result.items]
    counts: dict[int, int] = {}
    added_by: dict[str, str | None] = {}
    known: list[tuple[str, str | None]] = []
    if ids:
        counts = dict(
            db.session.execute(
                sa.select(Contact.organisation_id, sa.func.count(Contact.id))
                .where(Contact.organisation_id.in_(ids))
                .group_by(Contact.organisation_id)
            ).all()
        )
        for object_id, email in db.session.execute(
            sa.select(AuditEntry.object_id, AuditEntry.actor_email)
            .where(
                AuditEntry.action == "organisation.add",
                AuditEntry.object_type == "Organisation",
                AuditEntry.object_id.in_([str(i) for i in ids]),
            )
            .order_by(AuditEntry.id)
        ):
            added_by.setdefault(object_id, email)
        known = list(
            db.session.execute(
                sa.select(Organisation.name, Organisation.short_name).where(Organisation.needs_review.is_(False))
            ).tuples()
        )
    result.rows = [
        ReviewRow(o, counts.get(o.id, 0), added_by.get(str(o.id)), merge_suggestion(o.name, known))
        for o in result.items
    ]
    return result


def known_names() -> list[str]:
    """The names of the organisations not waiting for review (to merge into), by name."""
    stmt = sa.select(Organisation.name).where(Organisation.needs_review.is_(False)).order_by(Organisation.name)
    return list(db.session.scalars(stmt))


def _words(name: str | None) -> set[str]:
    return {w for w in "".join(c if c.isalnum() else " " for c in (name or "").casefold()).split() if len(w) > 1}


def merge_suggestion(name: str, known: list[tuple[str, str | None]]) -> str:
    """The known organisation (name, short name) this name most looks like, or "" when none is
    close: its short name among the words, most words in common, or nearly the same spelling."""
    words = _words(name)
    folded = " ".join(sorted(words))
    best, score = "", 0.0
    for other, short in known:
        if short and short.casefold() in words:
            s = 0.9
        else:
            theirs = _words(other)
            s = max(
                len(words & theirs) / max(len(words | theirs), 1),
                difflib.SequenceMatcher(None, folded, " ".join(sorted(theirs))).ratio(),
            )
        if s > score:
            best, score = other, s
    return best if score >= 0.75 else ""


# Reviewing ----------------------------------------------------------------------------------------


@dataclass
class ReviewData:
    sector: str
    country_code: str | None = None
    member_government_id: int | None = None
    reviewed: bool = True  # False: save the fixes, keep it on the list


def _snapshot(o: Organisation) -> dict:
    member = db.session.get(Organisation, o.member_government_id) if o.member_government_id else None
    return {
        "sector": o.sector,
        "country_code": o.country_code,
        "member_government": member.name if member is not None else None,
        "needs_review": o.needs_review,
    }


def _check_review(org: Organisation, data: ReviewData) -> tuple[str, str | None, Organisation | None]:
    errors: dict[str, list[str]] = {}
    sector = (data.sector or "").strip()
    if sector not in SECTORS:
        errors.setdefault("sector", []).append(_("Unknown sector: %(sector)s.", sector=sector[:60] or "—"))
    code = None
    try:
        code = country_code_for(data.country_code)
    except ValueError:
        errors.setdefault("country_code", []).append(_("Unknown country: use the two-letter ISO code, e.g. TH."))
    member = None
    if data.member_government_id:
        member = db.session.get(Organisation, data.member_government_id)
        if member is None or not member.is_member_government or member.id == org.id:
            errors.setdefault("member_government_id", []).append(_("This is not one of the member governments."))
        elif sector != SECTOR_MEMBER:
            errors.setdefault("member_government_id", []).append(
                _("Only a government agency (sector: member government) belongs to a member government.")
            )
    if data.reviewed and sector == SECTOR_MEMBER and member is None and org.added_via is not None:
        errors.setdefault("member_government_id", []).append(
            _("Choose the member government this agency belongs to (or merge it into the member government).")
        )
    if errors:
        first = next(iter(errors.values()))[0]
        raise ValidationFailed(_("Please correct %(name)s: %(first)s", name=org.name, first=first), field_errors=errors)
    return sector, code, member


def review_organisation(organisation_id: int, data: ReviewData, *, actor) -> Organisation:
    """Fix an added organisation's sector, country and member government; with ``reviewed`` it
    leaves the list. Audited."""
    with unit_of_work():
        org = get_or_404(Organisation, organisation_id, _("There is no such organisation."))
        before = _snapshot(org)
        sector, code, member = _check_review(org, data)
        org.sector = sector
        org.country_code = code or (member.country_code if member is not None else None)
        org.member_government_id = member.id if member is not None else None
        if data.reviewed:
            org.needs_review = False
            org.reviewed_at = clock.now()
        changes = audit.diff(before, _snapshot(org))
        action = "organisation.review" if data.reviewed else "organisation.update"
        if changes or data.reviewed:
            audit.record(actor, action, org, summary=org.name, changes=changes or None)
    return org


# Merging ------------------------------------------------------------------------------------------


def _references() -> list[sa.Column]:
    """Every column of every loaded table that points at an organisation (contacts, users,
    registrations, commitments, events' organisers...). Read from the models' metadata, so a
    merge moves what modules above the directory hold without the directory importing them."""
    columns = []
    for table in db.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table.name == Organisation.__tablename__ and fk.column.name == "id":
                columns.append(fk.parent)
    return columns


def _unique_sets(column: sa.Column) -> list[list[sa.Column]]:
    """The primary key and unique constraints that include this column."""
    table = column.table
    sets = [list(table.primary_key.columns)] if column.primary_key else []
    for constraint in table.constraints:
        if isinstance(constraint, sa.UniqueConstraint) and column.name in constraint.columns:
            sets.append(list(constraint.columns))
    return sets


def _move(column: sa.Column, source_id: int, target_id: int) -> int:
    """Point this column's rows from the source to the target; a row that would then repeat one
    the target already has (an event's organiser twice) is dropped. Returns the rows moved."""
    table = column.table
    for unique in _unique_sets(column):
        others = [c for c in unique if c is not column]
        twin = table.alias("twin")
        db.session.execute(
            sa.delete(table).where(
                column == source_id,
                sa.exists().where(twin.c[column.name] == target_id, *[twin.c[c.name] == c for c in others]),
            )
        )
    result = db.session.execute(
        sa.update(table).where(column == source_id).values({column.name: target_id}),
        execution_options={"synchronize_session": False},
    )
    return result.rowcount or 0


def _find_target(target: int | str | None, source: Organisation) -> Organisation:
    org = None
    if isinstance(target, int) and not isinstance(target, bool):
        org = db.session.get(Organisation, target)
    elif isinstance(target, str) and target.strip():
        org = find_organisation(target)
    if org is None:
        msg = _("Choose an organisation of the directory to merge into (type its name or short name).")
        raise ValidationFailed(msg, field_errors={"target": [msg]})
    if org.id == source.id:
        msg = _("An organisation cannot be merged into itself.")
        raise ValidationFailed(msg, field_errors={"target": [msg]})
    if org.member_government_id == source.id:
        msg = _("%(target)s belongs to %(source)s: merge the other way round.", target=org.name, source=source.name)
        raise Conflict(msg, field_errors={"target": [msg]})
    return org


def merge_organisation(organisation_id: int, target: int | str | None, *, actor) -> Organisation:
    """Merge an organisation into another (by id, or a name or short name): its contacts and
    every other reference move to the target, and it is deleted. Audited on the target."""
    try:
        with unit_of_work():
            source = get_or_404(Organisation, organisation_id, _("There is no such organisation."))
            into = _find_target(target, source)
            agencies = db.session.scalar(
                sa.select(sa.func.count()).where(Organisation.member_government_id == source.id)
            )
            if (agencies or source.is_member_government) and not into.is_member_government:
                # People counted under a member government stay counted under one.
                msg = _(
                    "%(source)s is a member government or has agencies (%(n)d): merge it into a member government.",
                    source=source.name,
                    n=agencies,
                )
                raise Conflict(msg, field_errors={"target": [msg]})
            name, source_id = source.name, source.id
            moved = {f"{c.table.name}.{c.name}": _move(c, source_id, into.id) for c in _references()}
            db.session.execute(sa.delete(Organisation).where(Organisation.id == source_id))
            db.session.expire_all()
            audit.record(
                actor,
                "organisation.merge",
                into,
                summary=_("%(source)s merged into %(target)s", source=name, target=into.name),
                changes={
                    "merged": [name, None],
                    "merged_id": [source_id, None],
                    "moved": [None, {k: v for k, v in moved.items() if v}],
                },
            )
    except IntegrityError:
        raise Conflict(_("The organisation changed while it was being merged; nothing was changed.")) from None
    return into


# The check ----------------------------------------------------------------------------------------


@person_gaps.connect_via(ANY, weak=False)
def _directory_gaps(_sender, **_kw) -> list[Gap]:
    """Contacts without an organisation; government agencies without their member government."""
    gaps = [
        Gap(
            kind="contact",
            id=cid,
            label=f"{name} <{email}>",
            problem=_("no organisation"),
            url=gap_url("directory.contact_edit", contact_id=cid),
        )
        for cid, name, email in db.session.execute(
            sa.select(Contact.id, Contact.name, Contact.email)
            .where(Contact.organisation_id.is_(None))
            .order_by(Contact.id)
        )
    ]
    parent = orm.aliased(Organisation)
    agencies = (
        sa.select(Organisation.id, Organisation.name, Organisation.needs_review)
        .outerjoin(parent, parent.id == Organisation.member_government_id)
        .where(
            Organisation.sector == SECTOR_MEMBER,
            sa.not_(Organisation.is_member_government),
            sa.or_(parent.id.is_(None), sa.not_(parent.is_member_government)),
        )
        .order_by(Organisation.id)
    )
    for oid, name, waiting in db.session.execute(agencies):
        url = gap_url("directory.review", _anchor=f"org-{oid}") if waiting else None
        gaps.append(
            Gap(
                kind="organisation",
                id=oid,
                label=name,
                problem=_("government agency without its member government"),
                url=url or gap_url("directory.organisation_edit", organisation_id=oid),
            )
        )
    return gaps


@dataclass
class CheckReport:
    gaps: list[Gap] = field(default_factory=list)
    to_review: list[Organisation] = field(default_factory=list)

    @property
    def nothing_to_fix(self) -> bool:
        return not self.gaps and not self.to_review

    def as_dict(self) -> dict:
        return {
            "gaps": [g.as_dict() for g in self.gaps],
            "to_review": [
                {
                    "id": o.id,
                    "name": o.name,
                    "sector": o.sector,
                    "country_code": o.country_code,
                    "member_government_id": o.member_government_id,
                    "added_via": o.added_via,
                    "url": gap_url("directory.review", _anchor=f"org-{o.id}"),
                }
                for o in self.to_review
            ],
        }


def check() -> CheckReport:
    """Every gap every module reports, and the organisations waiting for review."""
    to_review = list(
        db.session.scalars(
            sa.select(Organisation)
            .where(Organisation.needs_review.is_(True))
            .order_by(Organisation.created_at, Organisation.id)
        )
    )
    return CheckReport(gaps=collect_gaps(), to_review=to_review)
