"""Voluntary commitments: pledging, following up, delivery evidence, one-click links, reminders
and the platform list.

Object-level rules live here: a participant reaches only the commitments of their own contact
(matched on email); organisers and co-chairs see all of them, only organisers change other
people's commitments, and every organiser change is audit-logged in the same transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from babel.lists import format_list
from flask import current_app
from flask_babel import format_date, get_locale, ngettext
from flask_babel import gettext as _

from webinar_mgr import clock, exports, jobs, tokens
from webinar_mgr.audit import services as audit
from webinar_mgr.directory.models import SECTOR_MEMBER
from webinar_mgr.directory.signals import Gap, gap_url, person_gaps
from webinar_mgr.errors import NotAllowed, NotFound, ValidationFailed
from webinar_mgr.events.models import Event
from webinar_mgr.extensions import db
from webinar_mgr.i18n import in_recipient_language
from webinar_mgr.links import abs_url
from webinar_mgr.mail import services as mail
from webinar_mgr.mail.models import OutboxMessage
from webinar_mgr.persistence import get_or_404, transactional, unit_of_work
from webinar_mgr.registrations.models import ACTIVE, Registration
from webinar_mgr.security import ORGANISERS, REVIEWERS, has_role

from . import queries
from .models import (
    KINDS,
    OPEN_STATUSES,
    STATUS_DELIVERED,
    STATUS_IN_PROGRESS,
    STATUS_PLEDGED,
    STATUS_WITHDRAWN,
    STATUSES,
    Commitment,
    CommitmentEvidence,
    CommitmentUpdate,
    Platform,
)
from .signals import commitment_delivered

UPDATE_SALT = "commitment-update"

DEFAULT_PLATFORMS = (
    ("x", "X"),
    ("facebook", "Facebook"),
    ("linkedin", "LinkedIn"),
    ("instagram", "Instagram"),
    ("tiktok", "TikTok"),
    ("youtube", "YouTube"),
    ("whatsapp", "WhatsApp"),
    ("website", "Organisation's website"),
    ("other", "Other"),
)

# Which state each action leads to, and from which states it is allowed.
ACTIONS = {
    "progress": (STATUS_IN_PROGRESS, (STATUS_PLEDGED,)),
    "deliver": (STATUS_DELIVERED, (STATUS_PLEDGED, STATUS_IN_PROGRESS, STATUS_DELIVERED)),
    "withdraw": (STATUS_WITHDRAWN, (STATUS_PLEDGED, STATUS_IN_PROGRESS)),
    "note": (None, (STATUS_PLEDGED, STATUS_IN_PROGRESS, STATUS_DELIVERED, STATUS_WITHDRAWN)),
}


# Settings ------------------------------------------------------------------------------------


def max_days() -> int:
    return int(current_app.config.get("COMMITMENT_MAX_DAYS", 365))


def reminder_days() -> list[int]:
    """Days before the target date when a reminder goes out (COMMITMENT_REMINDER_DAYS, "30,7")."""
    raw = str(current_app.config.get("COMMITMENT_REMINDER_DAYS", "30,7"))
    out = {int(p.strip()) for p in raw.split(",") if p.strip().isdigit() and int(p.strip()) > 0}
    return sorted(out)


def link_days() -> int:
    return int(current_app.config.get("COMMITMENT_LINK_DAYS", 60))


def today() -> date:
    return clock.now().date()


# Platforms -----------------------------------------------------------------------------------


def ensure_platforms() -> None:
    """Put the default platforms in an empty table (a fresh database or a new install); the
    first reader of the list does it, in its own unit of work."""
    if db.session.scalar(sa.select(sa.func.count()).select_from(Platform)):
        return
    with unit_of_work():
        for pos, (code, label) in enumerate(DEFAULT_PLATFORMS):
            db.session.add(Platform(code=code, label=label, active=True, position=pos * 10))


def platforms(*, active_only: bool = True) -> list[Platform]:
    ensure_platforms()
    stmt = sa.select(Platform).order_by(Platform.position, Platform.label)
    if active_only:
        stmt = stmt.where(Platform.active.is_(True))
    return list(db.session.scalars(stmt))


def platform_labels() -> dict[str, str]:
    return {p.code: p.label for p in db.session.scalars(sa.select(Platform))}


@transactional
def add_platform(label: str, *, actor) -> Platform:
    label = (label or "").strip()
    if not label or len(label) > 100:
        raise ValidationFailed(
            _("Give the platform a name of at most 100 characters."),
            field_errors={"label": [_("Give the platform a name of at most 100 characters.")]},
        )
    ensure_platforms()
    code = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")[:32] or "platform"
    existing = db.session.scalar(
        sa.select(Platform).where(sa.or_(Platform.code == code, sa.func.lower(Platform.label) == label.lower()))
    )
    if existing is not None:
        raise ValidationFailed(
            _("This platform is already in the list."),
            field_errors={"label": [_("This platform is already in the list.")]},
        )
    last = db.session.scalar(sa.select(sa.func.max(Platform.position))) or 0
    platform = Platform(code=code, label=label, active=True, position=last + 10)
    db.session.add(platform)
    db.session.flush()
    audit.record(actor, "platform.create", platform, summary=label)
    return platform


@transactional
def toggle_platform(platform_id: int, *, actor) -> Platform:
    platform = get_or_404(Platform, platform_id, _("There is no such platform."))
    platform.active = not platform.active
    audit.record(
        actor,
        "platform.update",
        platform,
        summary=platform.label,
        changes={"active": [not platform.active, platform.active]},
    )
    return platform


# Input ---------------------------------------------------------------------------------------


@dataclass
class PledgeData:
    kind: str = "social_media_post"
    platforms: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    audience: str | None = None
    description: str = ""
    target_date: date | None = None
    public: bool = False


@dataclass
class EvidenceData:
    urls: list[str] = field(default_factory=list)
    published_on: date | None = None
    views: int | None = None
    impressions: int | None = None
    shares: int | None = None
    note: str | None = None


def split_languages(text: str | None) -> list[str]:
    out: list[str] = []
    for part in re.split(r"[,;\n]", text or ""):
        part = " ".join(part.split())
        if part and part.lower() not in {p.lower() for p in out}:
            out.append(part)
    return out


def split_urls(text: str | None) -> list[str]:
    return [u for u in (line.strip() for line in re.split(r"[\s]+", text or "")) if u]


def check_url(url: str) -> str | None:
    """A problem with a link (only http/https with a host), or None."""
    if len(url) > 2000:
        return _("The link is longer than 2000 characters.")
    if any(ord(ch) < 33 for ch in url):
        return _("A link cannot contain spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError on a malformed port
    except ValueError:
        return _("This is not a valid link.")
    del port
    if parts.scheme.lower() not in ("http", "https"):
        return _("Only web links (http:// or https://) are accepted.")
    host = parts.hostname or ""
    if not host or not re.fullmatch(r"[A-Za-z0-9.\-\[\]:_]+", host) or host.startswith(".") or ".." in host:
        return _("This link has no valid web address (host).")
    return None


def event_day(event: Event) -> date:
    """The event's (last) day in its own zone; today for an event without a date."""
    at = event.ends_at or event.starts_at
    if at is None:
        return today()
    try:
        zone = ZoneInfo(event.timezone)
    except Exception:  # an unknown zone falls back to UTC
        zone = ZoneInfo("UTC")
    return at.astimezone(zone).date()


def latest_target(event: Event) -> date:
    """The latest (and default) target date: COMMITMENT_MAX_DAYS after the event."""
    return event_day(event) + timedelta(days=max_days())


def default_target(event: Event) -> date:
    return latest_target(event)


def check_pledge(event: Event, data: PledgeData) -> None:
    """The pledge's rules without saving anything: ValidationFailed with every field error at once
    (the pledge page shows them beside the form's own; see forms_common.handle_form's ``check``)."""
    _validate_pledge(data, event)


def _validate_pledge(data: PledgeData, event: Event) -> PledgeData:
    errors: dict[str, list[str]] = {}
    if data.kind not in KINDS:
        errors["kind"] = [_("Choose what kind of commitment this is.")]
    known = {p.code for p in platforms(active_only=False)}
    chosen = [p for p in dict.fromkeys(data.platforms or []) if p]
    if not chosen:
        errors["platforms"] = [_("Choose at least one platform.")]
    elif any(p not in known for p in chosen):
        errors["platforms"] = [_("Choose platforms from the list.")]
    data.platforms = chosen
    data.languages = split_languages(",".join(data.languages or []))
    if len(data.languages) > 10 or any(len(lang) > 40 for lang in data.languages):
        errors["languages"] = [_("List at most 10 languages, separated by commas.")]
    data.description = (data.description or "").strip()
    if not data.description:
        errors["description"] = [_("Describe what you will do.")]
    elif len(data.description) > 5000:
        errors["description"] = [_("Keep the description under 5000 characters.")]
    data.audience = (data.audience or "").strip() or None
    if data.audience and len(data.audience) > 300:
        errors["audience"] = [_("Keep the audience under 300 characters.")]
    latest = latest_target(event)
    if data.target_date is None:
        data.target_date = latest
    if data.target_date < today():
        errors["target_date"] = [_("The target date is in the past.")]
    elif data.target_date > latest:
        errors["target_date"] = [
            _(
                "The target date can be at most %(days)d days after the event (%(date)s).",
                days=max_days(),
                date=latest.isoformat(),
            )
        ]
    if errors:
        raise ValidationFailed(_("Please correct the marked fields."), field_errors=errors)
    return data


# Links ---------------------------------------------------------------------------------------


def make_update_token(commitment: Commitment) -> str:
    return tokens.make(
        UPDATE_SALT, {"c": commitment.id, "n": commitment.nonce}, expires_at=clock.now() + timedelta(days=link_days())
    )


def update_url(commitment: Commitment) -> str | None:
    return abs_url("commitments.update_by_link", token=make_update_token(commitment))


def commitment_from_token(token: str) -> Commitment:
    """The commitment behind a one-click link. ValidationFailed: expired, tampered or replaced;
    NotFound: the commitment is gone."""
    data = tokens.load(UPDATE_SALT, token)
    commitment = get_or_404(Commitment, data.get("c"), _("This commitment no longer exists."))
    tokens.require_current(UPDATE_SALT, data, "n", commitment.nonce)
    return commitment


# Reading with object-level checks -------------------------------------------------------------


def _email(user) -> str:
    return (getattr(user, "email", "") or "").strip().lower()


def is_owner(commitment: Commitment, user) -> bool:
    """The signed-in user is the person who pledged (their email is the contact's)."""
    return bool(getattr(user, "is_authenticated", False) and commitment.contact.email == _email(user))


def can_edit(commitment: Commitment, user) -> bool:
    """The person who pledged and organisers change a commitment; co-chairs only read it."""
    return is_owner(commitment, user) or has_role(user, *ORGANISERS)


def get_for_user(commitment_id: int, user) -> Commitment:
    """A commitment the user may see; someone else's is reported as not found (no guessing)."""
    message = _("There is no commitment with this number.")
    commitment = get_or_404(Commitment, commitment_id, message)
    if not (has_role(user, *REVIEWERS) or is_owner(commitment, user)):
        raise NotFound(message)
    return commitment


def get_for_edit(commitment_id: int, user) -> Commitment:
    commitment = get_for_user(commitment_id, user)
    if not can_edit(commitment, user):
        raise NotAllowed(_("Only the person who pledged and organisers can update this commitment."))
    return commitment


def registration_for(event_id: int, user) -> Registration:
    """The user's active registration for the event, or NotAllowed with a clear message."""
    get_or_404(Event, event_id, _("There is no event with this number."))
    reg = db.session.scalars(
        sa.select(Registration)
        .where(
            Registration.event_id == event_id,
            Registration.status.in_(ACTIVE),
            sa.or_(Registration.user_id == user.id, Registration.email == _email(user)),
        )
        .order_by(Registration.id)
    ).first()
    if reg is None:
        raise NotAllowed(
            _(
                "Only people registered for this event can pledge a commitment for it. "
                "Register first, then come back to this page."
            )
        )
    return reg


def registrants(event_id: int) -> list[Registration]:
    return list(
        db.session.scalars(
            sa.select(Registration)
            .where(
                Registration.event_id == event_id,
                Registration.status.in_(ACTIVE),
            )
            .order_by(Registration.name)
        ).unique()
    )


def for_registration(registration: Registration) -> list[Commitment]:
    return list(
        db.session.scalars(
            sa.select(Commitment)
            .where(
                Commitment.event_id == registration.event_id,
                Commitment.contact_id == registration.contact_id,
            )
            .order_by(Commitment.created_at)
        ).unique()
    )


# Pledging -------------------------------------------------------------------------------------


def _label(user, fallback: str) -> str:
    if user is not None and getattr(user, "is_authenticated", False):
        return f"{user.name} <{user.email}>"
    return fallback


def check_can_pledge(registration: Registration) -> None:
    if registration.status not in ACTIVE:
        raise NotAllowed(
            _(
                "This registration is %(status)s: a commitment needs an active registration.",
                status=registration.status_label.lower(),
            )
        )


@transactional
def pledge(registration: Registration, data: PledgeData, *, on_behalf: bool = False, actor=None) -> Commitment:
    """Record a pledge for the registrant (by themselves, or by an organiser on their behalf)."""
    check_can_pledge(registration)
    event = registration.event
    data = _validate_pledge(data, event)
    now = clock.now()
    commitment = Commitment(
        event_id=event.id,
        registration_id=registration.id,
        contact_id=registration.contact_id,
        organisation_id=registration.organisation_id,
        member_government_id=registration.member_government_id,
        sector=registration.sector,
        kind=data.kind,
        platforms=data.platforms,
        languages=data.languages,
        audience=data.audience,
        description=data.description,
        target_date=data.target_date,
        public=bool(data.public),
        status=STATUS_PLEDGED,
        created_by_id=getattr(actor, "id", None) if actor is not None and actor.is_authenticated else None,
        created_at=now,
        updated_at=now,
    )
    db.session.add(commitment)
    db.session.flush()
    note = _("Recorded by an organiser on the participant's behalf.") if on_behalf else _("Pledged.")
    db.session.add(
        CommitmentUpdate(
            commitment_id=commitment.id,
            at=now,
            actor_id=commitment.created_by_id,
            actor_label=_label(actor, registration.name),
            from_status=None,
            to_status=STATUS_PLEDGED,
            note=note,
        )
    )
    if on_behalf:
        audit.record(
            actor,
            "commitment.create",
            commitment,
            summary=f"{registration.name} ({registration.email}): {data.description[:200]}",
            changes=audit.diff({}, _snapshot(commitment)),
        )
    _queue_mail(commitment, "pledged")
    return commitment


def pledge_for_user(event_id: int, data: PledgeData, *, actor) -> Commitment:
    """The signed-in ``actor`` pledges for an event they are registered for."""
    return pledge(registration_for(event_id, actor), data, actor=actor)


def pledge_on_behalf(event_id: int, registration_id: int | None, data: PledgeData, *, actor) -> Commitment:
    if not has_role(actor, *ORGANISERS):
        raise NotAllowed(_("Only organisers can record a pledge on someone's behalf."))
    reg = db.session.get(Registration, registration_id) if registration_id else None
    if reg is None or reg.event_id != event_id or reg.status not in ACTIVE:
        raise ValidationFailed(
            _("Choose a registrant of this event."),
            field_errors={"registration_id": [_("Choose a registrant of this event.")]},
        )
    return pledge(reg, data, on_behalf=True, actor=actor)


def _snapshot(c: Commitment) -> dict:
    return {
        "kind": c.kind,
        "platforms": list(c.platforms or []),
        "languages": list(c.languages or []),
        "audience": c.audience,
        "description": c.description,
        "target_date": c.target_date,
        "public": c.public,
        "status": c.status,
    }


# Following up ----------------------------------------------------------------------------------


def validate_evidence(data: EvidenceData) -> EvidenceData:
    errors: dict[str, list[str]] = {}
    urls = list(dict.fromkeys(data.urls or []))
    if not urls:
        errors["links"] = [_("Give at least one link to the post or campaign.")]
    else:
        problems = [f"{u[:80]}: {p}" for u in urls if (p := check_url(u))]
        if problems:
            errors["links"] = problems
        if len(urls) > 20:
            errors["links"] = [_("Give at most 20 links.")]
    data.urls = urls
    for name in ("views", "impressions", "shares"):
        value = getattr(data, name)
        if value is not None and (not isinstance(value, int) or value < 0 or value > 10**12):
            errors[name] = [_("Give a whole number of zero or more.")]
    if data.published_on is not None and data.published_on > today() + timedelta(days=1):
        errors["published_on"] = [_("The publication date is in the future.")]
    data.note = (data.note or "").strip() or None
    if errors:
        raise ValidationFailed(_("Please correct the marked fields."), field_errors=errors)
    return data


def allowed_actions(commitment: Commitment) -> list[str]:
    return [a for a, (_to, sources) in ACTIONS.items() if commitment.status in sources]


@transactional
def update(
    commitment: Commitment,
    action: str,
    *,
    note: str | None = None,
    evidence: EvidenceData | None = None,
    via_link: bool = False,
    actor=None,
) -> Commitment:
    """Move the commitment on (or add a note / more evidence); always a dated update."""
    if action not in ACTIONS:
        raise ValidationFailed(_("Choose what to do."))
    target, sources = ACTIONS[action]
    if commitment.status not in sources:
        raise ValidationFailed(
            _("A commitment that is %(status)s cannot be changed this way.", status=commitment.status_label.lower())
        )
    note = (note or "").strip() or None
    if note and len(note) > 5000:
        raise ValidationFailed(
            _("Keep the note under 5000 characters."),
            field_errors={"note": [_("Keep the note under 5000 characters.")]},
        )
    if action == "note" and not note:
        raise ValidationFailed(_("Write a note."), field_errors={"note": [_("Write a note.")]})
    if action == "deliver":
        evidence = validate_evidence(evidence or EvidenceData())
    now = clock.now()
    before = _snapshot(commitment)
    from_status = commitment.status
    to_status = target or commitment.status
    if action == "deliver":
        # Reach figures describe the whole report: they are kept with its first link only, so that
        # totals over the evidence rows do not count them once per link.
        for i, url in enumerate(evidence.urls):
            first = i == 0
            commitment.evidence.append(
                CommitmentEvidence(
                    url=url,
                    published_on=evidence.published_on,
                    views=evidence.views if first else None,
                    impressions=evidence.impressions if first else None,
                    shares=evidence.shares if first else None,
                    note=evidence.note if first else None,
                    created_at=now,
                )
            )
        if commitment.status != STATUS_DELIVERED:
            commitment.delivered_at = now
        note = note or evidence.note
    commitment.status = to_status
    commitment.updated_at = now
    by_user = actor is not None and getattr(actor, "is_authenticated", False)
    label = (
        _label(actor, commitment.contact.name)
        if by_user
        else _("%(name)s (by email link)", name=commitment.contact.name)
    )
    commitment.updates.append(
        CommitmentUpdate(
            at=now,
            actor_id=actor.id if by_user else None,
            actor_label=label,
            from_status=from_status,
            to_status=to_status,
            note=note,
        )
    )
    if action == "deliver":
        commitment_delivered.send(commitment)
    if by_user and not via_link and not is_owner(commitment, actor):
        audit.record(
            actor,
            f"commitment.{action}",
            commitment,
            summary=f"{commitment.contact.email}: {STATUSES[from_status]} -> {STATUSES[to_status]}",
            changes=audit.diff(before, _snapshot(commitment)),
        )
    return commitment


@transactional
def set_public(commitment: Commitment, public: bool, *, actor=None) -> Commitment:
    if commitment.public == bool(public):
        return commitment
    before = _snapshot(commitment)
    commitment.public = bool(public)
    commitment.updated_at = clock.now()
    if actor is not None and getattr(actor, "is_authenticated", False) and not is_owner(commitment, actor):
        audit.record(
            actor,
            "commitment.public",
            commitment,
            summary=commitment.contact.email,
            changes=audit.diff(before, _snapshot(commitment)),
        )
    return commitment


# Exports --------------------------------------------------------------------------------------


def export(filters: queries.Filters, fmt: str, *, actor) -> exports.ExportFile:
    """The tracker's commitments (with the filters) as ``commitments.csv`` / ``.xlsx``, audited."""
    rows = queries.export_rows(filters, today(), platform_labels())
    return exports.export(
        queries.EXPORT_HEADER,
        rows,
        fmt=fmt,
        name="commitments",
        action="commitment.export",
        actor=actor,
        object_type="Commitment",
        sheet="Commitments",
    )


# Mail and reminders ---------------------------------------------------------------------------

SUBJECTS = {
    "pledged": lambda c, d: _("Your commitment for %(title)s is recorded", title=c.event.shown().title),
    "reminder": lambda c, d: ngettext(
        "%(num)d day to go: your commitment for %(title)s",
        "%(num)d days to go: your commitment for %(title)s",
        d,
        title=c.event.shown().title,
    ),
    "overdue": lambda c, d: _("Your commitment for %(title)s is past its target date", title=c.event.shown().title),
}


@in_recipient_language(lambda commitment, *_args, **_kwargs: (commitment.contact.language,))
def _queue_mail(commitment: Commitment, what: str, days: int | None = None, *, offset: int | None = None):
    """``days``: the days left before the target date where the reader is (what the mail says);
    ``offset``: the reminder (30, 7...) it is, which makes it once only (the dedupe key)."""
    key = f"commitment-{what}:{commitment.id}" + (f":{offset}" if offset is not None else "")
    ctx = {
        "commitment": commitment,
        "event": commitment.event,
        "name": commitment.contact.name,
        "days": days,
        "what": what,
        "update_url": update_url(commitment),
        "platforms": ", ".join(platform_labels().get(p, p) for p in commitment.platforms or []),
        "link_days": link_days(),
        "target_date": format_date(commitment.target_date, "long"),
        "reminder_dates": format_list(
            [format_date(d, "long") for d in reminder_dates(commitment)], locale=str(get_locale() or "en")
        ),
    }
    return mail.queue(
        commitment.contact.email,
        SUBJECTS[what](commitment, days),
        template=f"mail/commitment_{'reminder' if what != 'pledged' else 'pledged'}",
        context=ctx,
        to_name=commitment.contact.name,
        category="commitment",
        dedupe_key=key,
    )


def _not_sent(key_expr):
    return ~sa.exists().where(OutboxMessage.dedupe_key == key_expr)


def _due(key_expr, batch: int, *where) -> list[Commitment]:
    """Open commitments matching ``where`` whose notice ``key_expr`` was not queued yet."""
    return (
        db.session.scalars(
            sa.select(Commitment)
            .where(Commitment.status.in_(OPEN_STATUSES), *where, _not_sent(key_expr))
            .order_by(Commitment.id)
            .limit(batch)
        )
        .unique()
        .all()
    )


def reader_zone(commitment: Commitment) -> ZoneInfo:
    """Where the person who pledged reads their mail: their directory contact's zone, else the
    event's, else the app's default."""
    for name in (commitment.contact.timezone, commitment.event.timezone, current_app.config["DEFAULT_TIMEZONE"]):
        try:
            return ZoneInfo(name)
        except Exception:  # no zone or an unknown one: the next choice
            continue
    return ZoneInfo("UTC")


def reader_today(commitment: Commitment) -> date:
    return clock.now().astimezone(reader_zone(commitment)).date()


def days_left(commitment: Commitment) -> int:
    """Whole days from today (where the reader is) to the target date: 7 on the day a week before."""
    return (commitment.target_date - reader_today(commitment)).days


def reminder_dates(commitment: Commitment) -> list[date]:
    """The days (the reader's) when the reminders will come, earliest first, still to come."""
    today_there = reader_today(commitment)
    dates = [commitment.target_date - timedelta(days=o) for o in reversed(reminder_days())]
    return [d for d in dates if d > today_there]


def send_reminders(batch: int = 500) -> int:
    """Queue due reminders, each at most once per commitment (outbox dedupe keys).

    Before the target date: for each open commitment the smallest reminder offset whose day has
    come where the person reads their mail (a larger one missed while the worker was down is
    skipped, not sent late); the mail says how many days are really left there. After the target
    date (there): one overdue notice. One query per offset, whatever the number of commitments: the
    query's window is a day wider on each side (zones run from UTC-12 to UTC+14) and each
    commitment is then checked in its reader's zone.
    """
    now_day = today()
    queued = 0
    offsets = reminder_days()
    windows = []
    lower = 0
    for days in offsets:
        windows.append((days, lower))
        lower = days
    cid = sa.cast(Commitment.id, sa.String)
    # One unit of work per kind of notice: a batch is queued (and recorded as sent) together.
    for days, lower in windows:
        key = sa.literal("commitment-reminder:") + cid + sa.literal(f":{days}")
        after, until = now_day + timedelta(days=lower - 1), now_day + timedelta(days=days + 1)
        with unit_of_work():
            for c in _due(key, batch, Commitment.target_date > after, Commitment.target_date <= until):
                left = days_left(c)
                if lower < left <= days and _queue_mail(c, "reminder", left, offset=days) is not None:
                    queued += 1
    key = sa.literal("commitment-overdue:") + cid
    with unit_of_work():
        for c in _due(key, batch, Commitment.target_date <= now_day + timedelta(days=1)):
            if days_left(c) < 0 and _queue_mail(c, "overdue") is not None:
                queued += 1
    return queued


@jobs.scheduled("commitment-reminders")
def _reminders_job() -> int:
    return send_reminders()


@person_gaps.connect
def _commitment_gaps(_sender, **_kwargs) -> list[Gap]:
    """Commitments (not withdrawn) that the review would count under no organisation, sector or
    member government."""
    rows = db.session.scalars(
        sa.select(Commitment)
        .where(
            Commitment.status != STATUS_WITHDRAWN,
            sa.or_(
                Commitment.organisation_id.is_(None),
                Commitment.sector.is_(None),
                sa.and_(Commitment.sector == SECTOR_MEMBER, Commitment.member_government_id.is_(None)),
            ),
        )
        .order_by(Commitment.id)
        .limit(500)
    ).unique()
    return [
        Gap(
            kind="commitment",
            id=c.id,
            label=f"{c.contact.name} <{c.contact.email}> · {c.event.title}",
            problem=_("no organisation")
            if c.organisation_id is None
            else (_("no sector") if c.sector is None else _("no member government")),
            url=gap_url("commitments.detail", commitment_id=c.id),
        )
        for c in rows
    ]
