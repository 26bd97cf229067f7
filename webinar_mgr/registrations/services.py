"""Registration rules: audience, window, capacity and waiting list, approval, cancellation,
the organisers' lists and exports, and the reader's own registrations.

Mails are in ``notifications.py``, manage links in ``manage_links.py``, personal calendar feeds in
``feeds.py``. Capacity is enforced under a lock on the event: ``SELECT ... FOR UPDATE`` on
PostgreSQL, an immediate (write-locked) transaction on SQLite. Registrations of one event are
therefore serialised, and counting the confirmed seats then inserting is never a race.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask import has_request_context
from flask_babel import gettext as _
from sqlalchemy import orm
from sqlalchemy.exc import IntegrityError

from webinar_mgr import clock, exports, text, tokens
from webinar_mgr.audit import services as audit
from webinar_mgr.directory import services as directory
from webinar_mgr.directory.models import SECTORS, Organisation
from webinar_mgr.errors import Conflict, NotAllowed, NotFound, ValidationFailed
from webinar_mgr.events.models import (
    AUDIENCE_INVITATION,
    AUDIENCE_MEMBERS,
    STATUS_SCHEDULED,
    STATUS_TBC,
    Event,
)
from webinar_mgr.events.models import (
    STATUS_CANCELLED as EVENT_CANCELLED,
)
from webinar_mgr.events.models import (
    STATUS_DRAFT as EVENT_DRAFT,
)
from webinar_mgr.events.services import get_event, require_visible
from webinar_mgr.events.signals import join_link_access, validate_event_change
from webinar_mgr.extensions import db
from webinar_mgr.i18n import format_in_zone, interface_language, is_valid_timezone
from webinar_mgr.invitations import services as invitations
from webinar_mgr.invitations.models import (
    STATE_CANCELLED,
    STATE_REGISTERED,
    STATE_REVOKED,
    STATE_WAITING,
    Invitation,
)
from webinar_mgr.mail.models import OutboxMessage
from webinar_mgr.persistence import transactional, unit_of_work

from . import feeds, notifications, questions
from .manage_links import manage_link_valid
from .models import (
    ACTIVE,
    STATUS_CANCELLED,
    STATUS_CONFIRMED,
    STATUS_PENDING,
    STATUS_REJECTED,
    STATUS_WAITLISTED,
    STATUSES,
    Registration,
    with_its_event_only,
)
from .signals import registration_changed

# Input ---------------------------------------------------------------------------------------


@dataclass
class RegistrantData:
    """What a registrant gives. The organisation is either a known one (``organisation_id``) or a
    new one (``organisation_name`` with its ``sector``, ``country_code`` and, for a government
    agency, ``member_government_id``); ``_validate`` resolves it to an Organisation through the
    directory, so the registration always carries the organisation, its sector and its member
    government (docs/architecture.md, "People and their organisations")."""

    name: str
    email: str
    organisation_id: int | None = None
    organisation_name: str | None = None
    sector: str | None = None
    member_government_id: int | None = None
    country_code: str | None = None
    position: str | None = None
    timezone: str = "UTC"
    accessibility_needs: str | None = None
    consent: bool = False
    organisation: Organisation | None = None  # set by _validate
    # The submitted form (a Mapping with getlist) when it carried the event's own questions
    # (questions.py); None: the caller asks none (the API, imports).
    answers_form: object = None


def _validate(data: RegistrantData, *, actor=None) -> RegistrantData:
    """Clean and check the input and resolve the organisation (creating a new one for review when
    the person typed one the directory does not know); every field error at once. Runs inside
    the caller's unit of work, so a refused registration adds no organisation."""
    errors: dict[str, list[str]] = {}
    data.name = text.single_line(data.name)
    if not data.name:
        errors.setdefault("name", []).append(_("Please give your name."))
    elif len(data.name) > 200:
        errors.setdefault("name", []).append(_("The name is too long (200 characters at most)."))
    try:
        data.email = validate_email((data.email or "").strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        errors.setdefault("email", []).append(_("This is not a valid email address."))
    if not is_valid_timezone(data.timezone):
        errors.setdefault("timezone", []).append(_("Unknown time zone: choose one from the list."))
    if not data.consent:
        errors.setdefault("consent", []).append(
            _("Please agree to the use of your data for this event, or we cannot register you.")
        )
    for attr, limit in (("position", 200), ("accessibility_needs", 2000)):
        clean = text.multi_line if attr == "accessibility_needs" else text.single_line
        value = clean(getattr(data, attr)) or None
        if value and len(value) > limit:
            errors.setdefault(attr, []).append(_("Too long (%(n)d characters at most).", n=limit))
        setattr(data, attr, value)
    choice = directory.OrganisationChoice(
        organisation_id=data.organisation_id or None,
        name=data.organisation_name,
        sector=data.sector or None,
        country_code=data.country_code or None,
        member_government_id=data.member_government_id or None,
    )
    try:
        data.organisation = directory.resolve_organisation(choice, added_via="registration", actor=actor)
    except ValidationFailed as exc:
        for key, messages in exc.field_errors.items():
            errors.setdefault(key, []).extend(messages)
    else:
        if data.organisation is None:
            msg = _("Give your organisation: pick it from the list, or type its name and choose its sector.")
            errors.setdefault("organisation_id", []).append(msg)
    if errors:
        raise ValidationFailed(_("Please correct the marked fields."), field_errors=errors)
    return data


def organisation_fields(org: Organisation | None) -> dict:
    """The organisation, sector and member government a registration records for a person."""
    member = directory.member_government_of(org)
    return {
        "organisation_id": org.id if org else None,
        "organisation_name": None,
        "sector": org.sector if org else None,
        "member_government_id": member.id if member else None,
    }


def data_from_user(user) -> RegistrantData:
    return RegistrantData(
        name=user.name,
        email=user.email,
        organisation_id=user.organisation_id,
        position=user.position,
        timezone=user.timezone or "UTC",
        consent=True,
    )


def data_from_invitation(inv: Invitation) -> RegistrantData:
    c = inv.contact
    return RegistrantData(
        name=c.name,
        email=c.email,
        organisation_id=c.organisation_id,
        position=c.position,
        timezone=c.timezone or "UTC",
    )


# Loading -------------------------------------------------------------------------------------


# What registering reads of an event: its own columns (and its kind, joined). Its agenda, convenors
# and translations load only if a page shows them (the form re-rendered after an error does).
def _event_alone() -> tuple:
    return (orm.lazyload(Event.agenda_items), orm.lazyload(Event.convenors), orm.lazyload(Event.translations))


def event_to_register_for(event_id: int, user, *, with_translations: bool = False) -> Event:
    """The event behind the registration form, if ``user`` may see it (events' visibility rule),
    without the relations the form does not show (issue 19: one statement, not four); its
    translations in the same statement when the page shows its title (``with_translations``)."""
    options = _event_alone()
    if with_translations:
        options = (*options[:-1], orm.joinedload(Event.translations))
    event = db.session.get(Event, event_id, options=options) if isinstance(event_id, int) else None
    if event is None:
        return get_event(event_id)  # its NotFound
    return require_visible(event, user)


@contextmanager
def _kept_after_commit() -> Iterator[None]:
    """Around the unit of work of a change whose page reads the result right away (after
    registering: the status, id and nonce): in a request, the objects keep their values after the
    commit instead of being read again from the database (issue 19: no reloads after commit). The
    request's session ends with the request, so nothing stale outlives it; elsewhere (the worker,
    the CLI, tests calling services) the commit expires them as usual."""
    if not has_request_context():
        yield
        return
    session = db.session()
    kept = session.expire_on_commit
    session.expire_on_commit = False
    try:
        yield
    finally:
        session.expire_on_commit = kept


# Locking -------------------------------------------------------------------------------------


def lock_event(event_id: int) -> Event:
    """Serialise writers on this event for the rest of the transaction and return it with fresh
    values: ``SELECT ... FOR UPDATE`` of the event row on PostgreSQL, ``BEGIN IMMEDIATE`` (the
    database's write lock) on SQLite. An event not loaded yet is read without its relations (the
    lock's own statement reads its columns)."""
    event = db.session.get(Event, event_id, options=_event_alone()) if isinstance(event_id, int) else None
    if event is None:
        event = get_event(event_id)  # its NotFound
    columns = [attr.key for attr in sa.inspect(Event).column_attrs]
    bind = db.session.get_bind()
    if bind.dialect.name == "sqlite":
        conn = db.session.connection()
        if not conn.connection.dbapi_connection.in_transaction:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        db.session.refresh(event, attribute_names=columns)
    else:
        db.session.refresh(event, attribute_names=columns, with_for_update=True)
    return event


# Window and audience -------------------------------------------------------------------------


def window_problem(event: Event) -> str | None:
    """Why registration is not possible now, or None."""
    if event.status == EVENT_CANCELLED:
        return _("This event has been cancelled.")
    if event.status not in (STATUS_SCHEDULED, STATUS_TBC):
        return _("Registration is not open for this event.")
    now = clock.now()
    if event.registration_opens_at and now < event.registration_opens_at:
        return _("Registration opens on %(when)s.", when=format_in_zone(event.registration_opens_at, event.timezone))
    end = event.registration_deadline
    if end and now >= end:
        return _("Registration for this event has closed.")
    return None


def check_audience(event: Event, *, user=None, invitation: Invitation | None = None) -> None:
    if invitation is not None:
        if invitation.event_id != event.id:
            raise NotAllowed(_("This invitation is for another event."))
        if invitation.state == STATE_REVOKED:
            raise NotAllowed(_("This invitation has been withdrawn."))
    if event.audience == AUDIENCE_INVITATION:
        if invitation is None:
            raise NotAllowed(_("This event is by invitation only. Please use the personal link in your invitation."))
    elif event.audience == AUDIENCE_MEMBERS:
        member_user = bool(
            user and user.is_authenticated and user.organisation and user.organisation.is_member_government
        )
        member_inv = invitation is not None and invitation.category in ("member", "speaker")
        if not (member_user or member_inv):
            raise NotAllowed(
                _(
                    "This event is for members only: sign in with a member government account, "
                    "or use your personal invitation link."
                )
            )


def can_register_problem(event: Event, *, user=None, invitation: Invitation | None = None) -> str | None:
    problem = window_problem(event)
    if problem:
        return problem
    try:
        check_audience(event, user=user, invitation=invitation)
    except NotAllowed as exc:
        return exc.message
    if _full_without_waiting_list(event):
        return full_message()
    return None


def full_message() -> str:
    return _("This event is full and keeps no waiting list: registration is closed.")


def _full_without_waiting_list(event: Event) -> bool:
    return (
        not event.waiting_list
        and not event.requires_approval
        and event.capacity is not None
        and _confirmed_count(event.id) >= event.capacity
    )


@dataclass(frozen=True)
class Outlook:
    """What someone about to register can expect (shown above the form; the count is checked
    again under the lock when they submit)."""

    seats_left: int | None  # None: no limit
    waiting_list: bool  # full, and they will join the waiting list
    approval: bool  # an organiser approves each registration


def outlook(event: Event) -> Outlook:
    left = seats_left(event)
    return Outlook(
        seats_left=left,
        waiting_list=bool(left == 0 and event.waiting_list and not event.requires_approval),
        approval=event.requires_approval,
    )


def waiting_position(reg: Registration) -> int | None:
    """1 for the first in line; None when the registration is not on the waiting list."""
    if reg.status != STATUS_WAITLISTED:
        return None
    ahead = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Registration)
        .where(
            Registration.event_id == reg.event_id,
            Registration.status == STATUS_WAITLISTED,
            sa.or_(
                Registration.created_at < reg.created_at,
                sa.and_(Registration.created_at == reg.created_at, Registration.id < reg.id),
            ),
        )
    )
    return (ahead or 0) + 1


# Registering ---------------------------------------------------------------------------------


def _confirmed_count(event_id: int) -> int:
    return (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Registration)
            .where(Registration.event_id == event_id, Registration.status == STATUS_CONFIRMED)
        )
        or 0
    )


def seats_left(event: Event) -> int | None:
    if event.capacity is None:
        return None
    return max(event.capacity - _confirmed_count(event.id), 0)


def register(event_id: int, data: RegistrantData, *, user=None, invitation_token: str | None = None) -> Registration:
    """Register someone: one unit of work (the registration, the contact, the invitation's state
    and the confirmation mail land together); a duplicate that slips past the checks is refused by
    the database's unique (event, email) constraint and reported the same way."""
    invitation = invitations.invitation_from_token(invitation_token) if invitation_token else None
    if user is not None and not getattr(user, "is_authenticated", False):
        user = None
    if invitation is not None:
        # The invitation is personal: the address is the invited one, and the organisation the
        # directory knows for them stands unless they gave another.
        data.email = invitation.contact.email
        if not (data.organisation_id or data.organisation_name):
            data.organisation_id = invitation.contact.organisation_id
    try:
        with _kept_after_commit(), unit_of_work():
            given, answer_errors = _check_answers(event_id, data)
            try:
                data = _validate(data, actor=user)
            except ValidationFailed as exc:
                exc.field_errors.update(answer_errors)
                raise
            if answer_errors:
                raise ValidationFailed(_("Please correct the marked fields."), field_errors=answer_errors)
            reg = _register(event_id, data, user=user, invitation=invitation)
            if data.answers_form is not None:
                questions.save_registration_answers(reg, given)
    except IntegrityError:
        raise Conflict(_duplicate_message(data.email)) from None
    return reg


def _check_answers(event_id: int, data: RegistrantData) -> tuple[list, dict]:
    """The event's own questions answered on the form (questions.py), every field error at once."""
    if data.answers_form is None:
        return [], {}
    return questions.check_answers(questions.questions_of(event_id), data.answers_form)


def _register(event_id: int, data: RegistrantData, *, user, invitation: Invitation | None) -> Registration:
    # Outside the lock: everything that does not depend on the seat count (so that the
    # serialised part stays short). The checks are repeated under the lock.
    event = get_event(event_id)
    problem = window_problem(event)
    if problem:
        raise ValidationFailed(problem)
    check_audience(event, user=user, invitation=invitation)
    # A duplicate is refused under the lock below (and by the unique constraint): the unit of work
    # then rolls back the contact written here.
    contact = directory.get_or_create_contact(
        data.email,
        data.name,
        organisation=data.organisation,
        position=data.position,
        timezone=data.timezone,
        actor=user,
    )
    feeds.ensure_feed(data.email)
    # Under the lock: recheck, count the seats, insert.
    event = lock_event(event_id)
    problem = window_problem(event)
    if problem:
        raise ValidationFailed(problem)
    needs_count = not event.requires_approval and event.capacity is not None
    row = _facts_under_lock(event.id, data.email, contact.id, count=needs_count, invitation=invitation is None)
    if row.status in ACTIVE:
        raise Conflict(_duplicate_message(data.email))
    if invitation is None and row.invitation_id is not None:
        invitation = db.session.get(Invitation, row.invitation_id)
    existing = db.session.get(Registration, row.id, populate_existing=True) if row.id is not None else None
    now = clock.now()
    reg = existing or Registration(event_id=event.id, email=data.email)
    if existing is not None:
        # A registration made again (perhaps by someone else before) gets new links: the old ones,
        # issued to whoever registered that address before, open nothing any more.
        reg.nonce = tokens.new_nonce()
    reg.contact_id = contact.id
    reg.user_id = user.id if user is not None else reg.user_id
    reg.invitation_id = invitation.id if invitation is not None else None
    _apply_details(reg, data)
    reg.language = interface_language()  # their mails' language (issue 13)
    reg.consent_at = now
    reg.created_at = now  # a returning registrant joins the end of the queue
    reg.cancelled_at = None
    if event.requires_approval:
        reg.status = STATUS_PENDING
    elif event.capacity is None or row.confirmed < event.capacity:
        reg.status = STATUS_CONFIRMED
        reg.confirmed_at = now
    elif event.waiting_list:
        reg.status = STATUS_WAITLISTED
    else:
        raise Conflict(full_message())
    if existing is None:
        db.session.add(reg)
    db.session.flush()
    if invitation is not None:
        invitation.responded_at = now
        invitation.send_requested_at = None
    _status_changed(reg, "registered")
    return reg


def _facts_under_lock(event_id: int, email: str, contact_id: int, *, count: bool, invitation: bool):
    """One statement under the lock: this address's registration for the event (id, status), the
    confirmed seats (when ``count``) and the person's open invitation to it (when ``invitation``:
    none came with the request). Columns are None where there is nothing (or nothing asked)."""
    mine = sa.select(Registration.id, Registration.status).where(
        Registration.event_id == event_id, Registration.email == email
    )
    confirmed = (
        sa.select(sa.func.count())
        .select_from(Registration)
        .where(Registration.event_id == event_id, Registration.status == STATUS_CONFIRMED)
        .scalar_subquery()
        if count
        else sa.null()
    )
    invited = (
        sa.select(Invitation.id)
        .where(Invitation.event_id == event_id, Invitation.contact_id == contact_id, Invitation.state != STATE_REVOKED)
        .limit(1)
        .scalar_subquery()
        if invitation
        else sa.null()
    )
    mine_id = mine.with_only_columns(Registration.id).scalar_subquery()
    mine_status = mine.with_only_columns(Registration.status).scalar_subquery()
    return db.session.execute(
        sa.select(
            mine_id.label("id"),
            mine_status.label("status"),
            confirmed.label("confirmed"),
            invited.label("invitation_id"),
        )
    ).one()


def _duplicate_message(email: str) -> str:
    return _(
        "%(email)s is already registered for this event (addresses are compared without regard to "
        'capital letters). Use the "manage my registration" link in your confirmation email to change '
        "or cancel it.",
        email=email,
    )


# The invitation follows the registration ---------------------------------------------------

INVITATION_STATE = {
    STATUS_PENDING: STATE_REGISTERED,
    STATUS_CONFIRMED: STATE_REGISTERED,
    STATUS_WAITLISTED: STATE_WAITING,
    STATUS_CANCELLED: STATE_CANCELLED,
    STATUS_REJECTED: STATE_CANCELLED,
}


def _status_changed(reg: Registration, why: str, *, had_seat: bool = False) -> None:
    """Every change of a registration's status passes here: the invitation it came from takes the
    matching state (so the invitation list and its progress agree with the registrations list),
    and the person is told by mail."""
    inv = reg.invitation
    if inv is not None and inv.state != STATE_REVOKED:
        inv.state = INVITATION_STATE[reg.status]
    notifications.status_mail(reg, why, had_seat=had_seat)
    registration_changed.send(reg, why=why)


# Changing a registration ---------------------------------------------------------------------


def _fill_seats(event: Event) -> list[Registration]:
    """Promote wait-listed people in order while seats are free (the event must be locked): one
    count of the free seats, one query for the first that many in line."""
    if event.requires_approval and event.capacity is None:
        return []
    waiting = (
        sa.select(Registration)
        .options(orm.lazyload("*"))  # their event is the locked one; nothing else is read
        .where(Registration.event_id == event.id, Registration.status == STATUS_WAITLISTED)
        .order_by(Registration.created_at, Registration.id)
    )
    if event.capacity is not None:
        free = event.capacity - _confirmed_count(event.id)
        if free <= 0:
            return []
        waiting = waiting.limit(free)
    promoted = list(db.session.scalars(waiting))
    now = clock.now()
    for reg in promoted:
        reg.status = STATUS_CONFIRMED
        reg.confirmed_at = now
    db.session.flush()
    for reg in promoted:
        _status_changed(reg, "promoted")
    return promoted


def _registration_alone(reg_id: int) -> Registration:
    """The registration by id with its event's own columns (one statement; anything else is read
    when used), or NotFound."""
    reg = db.session.get(Registration, reg_id, options=with_its_event_only()) if isinstance(reg_id, int) else None
    if reg is None:
        raise NotFound(_("There is no such registration."))
    return reg


def _locked_registration(reg_id: int) -> Registration:
    """The registration, its event locked, its own columns read again under the lock."""
    reg = _registration_alone(reg_id)
    lock_event(reg.event_id)  # its event, read with it, is the one refreshed under the lock
    db.session.refresh(reg, attribute_names=[attr.key for attr in sa.inspect(Registration).column_attrs])
    return reg


def _keeps_values(fn):
    """A service whose page reads its result: see ``_kept_after_commit``."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with _kept_after_commit():
            return fn(*args, **kwargs)

    return wrapper


@_keeps_values
@transactional
def cancel(registration: Registration, *, actor=None) -> Registration:
    """Cancel (by the registrant through the manage link, or by an organiser: then audited)."""
    reg = _locked_registration(registration.id)
    if not reg.is_active:
        raise Conflict(_("This registration is already %(status)s.", status=reg.status_label.lower()))
    was_confirmed = reg.status == STATUS_CONFIRMED
    before = reg.status
    reg.status = STATUS_CANCELLED
    reg.cancelled_at = clock.now()
    # Links issued while it was active stop working; the cancellation mail carries a new one.
    reg.nonce = tokens.new_nonce()
    db.session.flush()
    _status_changed(reg, "cancelled", had_seat=was_confirmed)
    if actor is not None:
        audit.record(
            actor,
            "registration.cancel",
            reg,
            summary=f"{reg.email} · {reg.event.title}",
            changes={"status": [before, STATUS_CANCELLED]},
        )
    if was_confirmed:
        _fill_seats(reg.event)
    return reg


@transactional
def update_details(registration: Registration, data: RegistrantData, *, actor=None) -> Registration:
    """The registrant changes their details (the email stays: it identifies the registration)."""
    data.email = registration.email
    data.consent = True
    reg = registration
    if not reg.is_active:
        raise Conflict(_("This registration is cancelled; register again instead."))
    if not (data.organisation_id or data.organisation_name):  # a change of details never drops it
        data.organisation_id = reg.organisation_id
    data = _validate(data, actor=actor)
    _apply_details(reg, data)
    # the contact gets the organisation when the directory had none for them
    directory.get_or_create_contact(reg.email, reg.name, organisation=data.organisation, actor=actor)
    return reg


def _apply_details(reg: Registration, data: RegistrantData) -> None:
    """The person's details on the registration, with the organisation's sector and member
    government (so the lists, exports and the co-chairs' review count them)."""
    for attr in ("name", "position", "timezone", "accessibility_needs"):
        setattr(reg, attr, getattr(data, attr))
    for attr, value in organisation_fields(data.organisation).items():
        setattr(reg, attr, value)


ORGANISER_ACTIONS = ("approve", "reject", "confirm", "waitlist", "cancel")


@_keeps_values
@transactional
def organiser_action(reg_id: int, action: str, *, actor) -> Registration:
    """approve / reject a pending registration; confirm (move to the confirmed list) or waitlist
    (move to the waiting list); cancel. Audited; the person is told by mail."""
    if action not in ORGANISER_ACTIONS:
        raise ValidationFailed(_("Unknown action."))
    if action == "cancel":
        return cancel(_registration_alone(reg_id), actor=actor)
    reg = _locked_registration(reg_id)
    event = reg.event
    before = reg.status
    if action in ("approve", "confirm"):
        if action == "approve" and reg.status != STATUS_PENDING:
            raise Conflict(_("Only registrations awaiting approval can be approved."))
        if action == "confirm" and reg.status not in (STATUS_WAITLISTED, STATUS_PENDING):
            raise Conflict(_("Only wait-listed or pending registrations can be moved to the confirmed list."))
        if event.capacity is not None and _confirmed_count(event.id) >= event.capacity:
            if action == "confirm":
                raise Conflict(
                    _(
                        "The event is full (%(n)d seats): move someone to the waiting list first, "
                        "or raise the capacity.",
                        n=event.capacity,
                    )
                )
            reg.status = STATUS_WAITLISTED
        else:
            reg.status = STATUS_CONFIRMED
            reg.confirmed_at = clock.now()
        why = "approved" if action == "approve" else "promoted"
    elif action == "reject":
        if reg.status not in ACTIVE:
            raise Conflict(_("This registration is not active."))
        reg.status = STATUS_REJECTED
        why = "rejected"
    else:  # waitlist
        if reg.status not in (STATUS_CONFIRMED, STATUS_PENDING):
            raise Conflict(_("Only confirmed or pending registrations can be moved to the waiting list."))
        reg.status = STATUS_WAITLISTED
        why = "moved-off" if before == STATUS_CONFIRMED else "moved"
    db.session.flush()
    if before != reg.status:
        _status_changed(reg, why, had_seat=before == STATUS_CONFIRMED)
    audit.record(
        actor,
        f"registration.{action}",
        reg,
        summary=f"{reg.email} · {event.title}",
        changes={"status": [before, reg.status]},
    )
    if before == STATUS_CONFIRMED and action == "reject":
        _fill_seats(event)
    return reg


# Organisers' lists and exports ---------------------------------------------------------------


def registrant_query(
    event_id: int,
    *,
    status: str | None = None,
    sector: str | None = None,
    member_government_id: int | None = None,
    q: str | None = None,
):
    stmt = sa.select(Registration).where(Registration.event_id == event_id)
    if status in STATUSES:
        stmt = stmt.where(Registration.status == status)
    if sector in SECTORS:
        stmt = stmt.where(Registration.sector == sector)
    if member_government_id:
        stmt = stmt.where(Registration.member_government_id == member_government_id)
    if q:
        like = f"%{q.strip().lower()}%"
        stmt = stmt.outerjoin(Organisation, Organisation.id == Registration.organisation_id).where(
            sa.or_(
                sa.func.lower(Registration.name).like(like),
                Registration.email.like(like),
                sa.func.lower(Registration.organisation_name).like(like),
                sa.func.lower(Organisation.name).like(like),
            )
        )
    return stmt.order_by(
        sa.case({STATUS_CONFIRMED: 0, STATUS_PENDING: 1, STATUS_WAITLISTED: 2}, value=Registration.status, else_=3),
        Registration.created_at,
        Registration.id,
    )


def status_counts(event_id: int) -> dict[str, int]:
    rows = db.session.execute(
        sa.select(Registration.status, sa.func.count())
        .where(Registration.event_id == event_id)
        .group_by(Registration.status)
    ).all()
    counts = {s: 0 for s in STATUSES}
    counts.update(dict(rows))
    return counts


EXPORT_HEADER = (
    "name",
    "email",
    "organisation",
    "sector",
    "member_government",
    "position",
    "status",
    "time_zone",
    "accessibility_needs",
    "invited",
    "registered_at_utc",
    "confirmed_at_utc",
    "cancelled_at_utc",
)


def export_rows(event_id: int, **filters) -> list[list]:
    rows = []
    for r in db.session.scalars(registrant_query(event_id, **filters)).unique():
        org = r.organisation.name if r.organisation else (r.organisation_name or "")
        rows.append(
            [
                r.name,
                r.email,
                org,
                str(SECTORS.get(r.sector, r.sector or "")),
                r.member_government.name if r.member_government else "",
                r.position or "",
                r.status,
                r.timezone,
                r.accessibility_needs or "",
                "yes" if r.invitation_id else "no",
                _utc(r.created_at),
                _utc(r.confirmed_at),
                _utc(r.cancelled_at),
            ]
        )
    return rows


def _utc(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def export(event_id: int, fmt: str, *, actor, **filters) -> exports.ExportFile:
    """The registrants (with the list's filters) as CSV or XLSX, with a column per question of the
    event's own (questions.py); audited."""
    event = get_event(event_id)
    rows = export_rows(event.id, **filters)
    columns = questions.export_columns(event.id)
    if columns:
        ids = [r.id for r in db.session.scalars(registrant_query(event.id, **filters)).unique()]
        answers = questions.answers_by_registration(ids)
        rows = [
            row + questions.export_values(columns, answers.get(rid, [])) for row, rid in zip(rows, ids, strict=True)
        ]
    return exports.export(
        EXPORT_HEADER + tuple(label for _qid, label in columns),
        rows,
        fmt=fmt,
        name=f"registrations-{event.id}",
        sheet="Registrations",
        action="registration.export",
        actor=actor,
        obj=event,
    )


def _user_clause(user):
    return sa.or_(
        Registration.user_id == user.id,
        Registration.email == directory.normalise_email(getattr(user, "email", "") or ""),
    )


def registrations_of(event_id: int, user) -> list[Registration]:
    """The signed-in user's registrations for this event (by account or by address; at most one
    of each), newest first. Empty for anonymous readers."""
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    return list(
        db.session.scalars(
            sa.select(Registration)
            .where(Registration.event_id == event_id, _user_clause(user))
            .order_by(Registration.created_at.desc())
        ).unique()
    )


def registration_of(event_id: int, user) -> Registration | None:
    """The signed-in user's latest registration for this event, if any."""
    found = registrations_of(event_id, user)
    return found[0] if found else None


@dataclass
class MyRegistrations:
    upcoming: list[Registration]
    past: list[Registration]


def my_registrations(user) -> MyRegistrations:
    """The signed-in user's registrations (by account or by address): upcoming and date-TBC events
    soonest first, then past ones latest first (one query: the event is joined)."""
    regs = db.session.scalars(sa.select(Registration).where(_user_clause(user))).unique().all()
    now = clock.now()
    far = datetime.max.replace(tzinfo=UTC)
    upcoming = [r for r in regs if r.event.ends_at is None or r.event.ends_at >= now]
    past = [r for r in regs if r.event.ends_at is not None and r.event.ends_at < now]
    upcoming.sort(key=lambda r: r.event.starts_at or far)
    past.sort(key=lambda r: r.event.starts_at, reverse=True)
    return MyRegistrations(upcoming=upcoming, past=past)


# What registrations adds to the events module (connected to its signals) ----------------------


def active_count(event_id: int) -> int:
    """People holding a seat or awaiting approval."""
    return (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Registration)
            .where(Registration.event_id == event_id, Registration.status.in_((STATUS_PENDING, STATUS_CONFIRMED)))
        )
        or 0
    )


@validate_event_change.connect
def _capacity_not_below_registrations(event: Event, *, values: dict, **_kwargs) -> None:
    """An organiser cannot lower the capacity below the people already registered."""
    capacity = values.get("capacity")
    if capacity is None:
        return
    registered = active_count(event.id)
    if capacity < registered:
        msg = _("The capacity cannot be below the %(n)s people already registered.", n=registered)
        raise ValidationFailed(msg, field_errors={"capacity": [msg]})


def is_active_registrant(event_id: int, user) -> bool:
    """Signed in and holding an active registration (pending, confirmed or waiting list)."""
    return any(r.status in ACTIVE for r in registrations_of(event_id, user))


@join_link_access.connect
def _confirmed_registrants_may_join(event: Event, *, user, **_kwargs) -> bool:
    """The online link is for confirmed registrants (and organisers, whom events lets in)."""
    return any(r.status == STATUS_CONFIRMED for r in registrations_of(event.id, user))


# "I lost my link" ------------------------------------------------------------------------------

LOST_LINK_INTERVAL = timedelta(minutes=10)


@transactional
def send_lost_links(raw_email: str) -> None:
    """Mail the manage links of every registration of this address whose link still works (one
    mail, at most one every ten minutes per address). The caller answers the same whether or not
    the address is registered: nothing here tells an asker who is registered."""
    email = directory.check_email(raw_email)  # ValidationFailed for a malformed address
    regs = [
        r
        for r in db.session.scalars(
            sa.select(Registration)
            .options(orm.lazyload("*"), orm.joinedload(Registration.event).lazyload("*"))  # one statement
            .where(Registration.email == email)
            .order_by(Registration.created_at.desc())
        ).unique()
        if manage_link_valid(r) and r.event.status != EVENT_DRAFT
    ]
    # The same statements whether or not the address is registered (but for the outbox row of
    # a mail to send), and no mail written here: the answer takes as long for anyone.
    recent = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(OutboxMessage)
        .where(
            OutboxMessage.to_addr == email,
            OutboxMessage.category == notifications.LOST_LINKS_CATEGORY,
            OutboxMessage.created_at > clock.now() - LOST_LINK_INTERVAL,
        )
    )
    if recent or not regs:
        return
    far = datetime.max.replace(tzinfo=UTC)
    regs.sort(key=lambda r: (not r.is_active, r.event.starts_at or far))
    if db.session.get_bind().dialect.name == "postgresql":
        # Nor waits for the disk: a mail lost with a crash is asked for again, and the commit's
        # flush to disk would tell a registered address from an unknown one by the answer's time.
        db.session.execute(sa.text("SET LOCAL synchronous_commit TO OFF"))
    notifications.lost_links_mail(regs)
