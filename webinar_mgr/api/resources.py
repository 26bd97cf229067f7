"""/api/v1: the JSON resources. Each view reads its input (the schemas), asks who is calling
(``http.reader`` / ``http.require(scope)``) and calls the same service as the page does; the
services hold every rule, write the audit entries and raise the domain errors that
``http.handle_domain_error`` answers as problem+json.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app, request, url_for
from flask_babel import gettext as _
from flask_smorest import Blueprint
from werkzeug.exceptions import HTTPException

from webinar_mgr.attendance import services as attendance
from webinar_mgr.commitments import queries as commitment_queries
from webinar_mgr.commitments import services as commitments
from webinar_mgr.directory import services as directory
from webinar_mgr.directory.models import SECTORS, Contact
from webinar_mgr.errors import DomainError, ValidationFailed
from webinar_mgr.events import agenda as agenda_services
from webinar_mgr.events import services as events
from webinar_mgr.events import settings as event_settings
from webinar_mgr.events.times import utc_to_local
from webinar_mgr.extensions import csrf, db, limiter
from webinar_mgr.invitations import services as invitations
from webinar_mgr.invitations.models import CATEGORIES, STATE_REVOKED, Invitation
from webinar_mgr.registrations import questions as reg_questions
from webinar_mgr.registrations import services as registrations
from webinar_mgr.reports import services as reports
from webinar_mgr.security import access

from . import http
from . import schemas as s

blp = Blueprint(
    "api_v1",
    __name__,
    url_prefix="/api/v1",
    description="Events, registrations, attendance and the directory of the working group.",
)
csrf.exempt(blp)  # no cookie authenticates the API (http.authenticate_request): no CSRF surface
limiter.limit(lambda: _rate_limit(), key_func=http.rate_limit_key)(blp)
blp.before_request(http.authenticate_request)
blp.register_error_handler(DomainError, http.handle_domain_error)
blp.register_error_handler(HTTPException, http.handle_http_error)
for _code in (400, 401, 403, 404, 405, 413, 429, 500):  # the app's own pages for these codes answer HTML
    blp.register_error_handler(_code, http.handle_http_error)
blp.after_request(http.conditional)


def _rate_limit() -> str:
    return current_app.config.get("API_RATE_LIMIT", "300 per minute")


BEARER = [{"bearerAuth": []}]
OPTIONAL_BEARER = [{}, {"bearerAuth": []}]


def problems(*codes: int):
    """Document the problem+json answers a view may give."""

    def decorator(fn):
        # 400 and 405 too, from the router before any view: a path with control characters is a
        # bad request, and for a path id the route refuses (0, -1) Werkzeug may answer "method not
        # allowed" when another method's rule has the same shape; both are problem+json.
        for code in dict.fromkeys((*codes, 400, 405)):
            fn = blp.alt_response(code, schema=s.ProblemSchema, content_type=http.PROBLEM_JSON)(fn)
        return fn

    return decorator


# Events -----------------------------------------------------------------------------------------


def _zone(zone: str) -> ZoneInfo:
    return ZoneInfo(zone)


def event_dict(event, user, *, detail: bool = False) -> dict:
    zone = _zone(event.timezone)
    data = {
        "id": event.id,
        "uid": event.uid,
        "title": event.title,
        "summary": event.summary or "",
        "objectives": list(event.objectives or []),
        "kind": {"code": event.kind.code, "label": event.kind.label},
        "status": event.status,
        "audience": event.audience,
        "timezone": event.timezone,
        "starts_at": event.starts_at,
        "ends_at": event.ends_at,
        "starts_local": event.starts_at.astimezone(zone) if event.starts_at else None,
        "ends_local": event.ends_at.astimezone(zone) if event.ends_at else None,
        "tentative_month": event.tentative_month,
        "venue": event.venue,
        "online_url": event.online_url if events.can_see_link(event, user) else None,
        "capacity": event.capacity,
        "waiting_list": event.waiting_list,
        "registration_opens_at": event.registration_opens_at,
        "registration_closes_at": event.registration_closes_at,
        "convenors": [{"id": o.id, "name": o.name, "sector": o.sector} for o in event.convenors],
        "priority_tags": list(event.priority_tags or []),
        "url": url_for("events.detail", event_id=event.id, _external=True),
        "updated_at": event.updated_at,
    }
    if detail:
        data["agenda"] = [
            {
                "id": item.id,
                "position": item.position,
                "title": item.title,
                "kind": item.kind,
                "description": item.description,
                "starts_at": item.starts_at,
                "starts_local": item.starts_at.astimezone(zone),
                "ends_at": item.ends_at,
                "duration_minutes": item.duration_minutes,
                "speakers": [
                    {"name": sp.name, "title": sp.title, "organisation": sp.organisation_display or None}
                    for sp in item.speakers
                ],
            }
            for item in event.agenda_items
        ]
    return data


def _events_reader():
    """Public resource: anonymous readers see published events; a token with events:read whose
    owner runs events sees drafts too."""
    user = http.reader()
    if user is not None:
        http.require("events:read")
    return user


@blp.route("/events")
@blp.doc(security=OPTIONAL_BEARER, summary="List events (public; drafts for organisers' tokens)")
@blp.arguments(s.EventListArgs, location="query")
@blp.response(200, s.EventPageSchema)
@problems(400, 401, 403, 422)
@access.bearer
def list_events(args):
    user = _events_reader()
    win = http.window(args)
    filters = events.EventFilters(kind=args["kind"], year=args["year"], when=args["when"], status=args["status"])
    result = events.list_events(filters, user=user, page=win.offset // win.limit + 1, per_page=win.limit)
    items = [event_dict(e, user) for e in result.items]
    body, headers = http.page(items, win, args, result.has_next)
    return body, 200, headers


@blp.route("/events/<int(min=1):event_id>")
@blp.doc(security=OPTIONAL_BEARER, summary="One event with its agenda, convenors and speakers")
@blp.response(200, s.EventDetailSchema)
@problems(401, 403, 404)
@access.bearer
def get_event(event_id):
    user = _events_reader()
    event = events.get_visible_event(event_id, user)
    return event_dict(event, user, detail=True)


def _kind_id(code: str | None, field: str = "kind") -> int | None:
    if code is None:
        return None
    kind = event_settings.kind_by_code(code)
    if kind is None:
        raise ValidationFailed(_("Unknown kind of event."), field_errors={field: [_("Unknown kind of event.")]})
    return kind.id


def _input_from_event(event) -> events.EventInput:
    return events.EventInput(
        title=event.title,
        kind_id=event.kind_id,
        timezone=event.timezone,
        summary=event.summary or "",
        objectives=list(event.objectives or []),
        date_tbc=event.starts_at is None,
        tentative_month=event.tentative_month,
        starts_local=utc_to_local(event.starts_at, event.timezone),
        ends_local=utc_to_local(event.ends_at, event.timezone),
        online_url=event.online_url,
        venue=event.venue,
        convenor_ids=[o.id for o in event.convenors],
        convenor_note=event.convenor_note,
        priority_tags=list(event.priority_tags or []),
        capacity=event.capacity,
        registration_opens_local=utc_to_local(event.registration_opens_at, event.timezone),
        registration_closes_local=utc_to_local(event.registration_closes_at, event.timezone),
        audience=event.audience,
        requires_approval=event.requires_approval,
        waiting_list=event.waiting_list,
        pdf_zones=list(event.pdf_zones or []),
        pdf_speaker_details=event.pdf_speaker_details,
    )


_INPUT_FIELDS = (
    "title",
    "timezone",
    "summary",
    "objectives",
    "date_tbc",
    "tentative_month",
    "starts_local",
    "ends_local",
    "online_url",
    "venue",
    "convenor_ids",
    "capacity",
    "registration_opens_local",
    "registration_closes_local",
    "audience",
    "requires_approval",
    "waiting_list",
)


def _apply(data: events.EventInput, body: dict) -> events.EventInput:
    for name in _INPUT_FIELDS:
        if name in body:
            setattr(data, name, body[name])
    if "kind" in body:
        data.kind_id = _kind_id(body["kind"])
    if body.get("tentative_month") and "date_tbc" not in body and "starts_local" not in body:
        data.date_tbc = True
    return data


@blp.route("/events", methods=["POST"])
@blp.doc(security=BEARER, summary="Create an event (a draft); scope events:write")
@blp.arguments(s.EventInSchema)
@blp.response(201, s.EventDetailSchema)
@problems(400, 401, 403, 413, 422)
@access.bearer
@http.needs("api_v1", "events:write")
def create_event(body):
    user = http.require("events:write")
    data = events.EventInput(title="", kind_id=0, timezone="")
    event = events.create_event(_apply(data, body), actor=user)
    return event_dict(event, user, detail=True), 201, {"Location": url_for(".get_event", event_id=event.id)}


@blp.route("/events/<int(min=1):event_id>", methods=["PATCH"])
@blp.doc(security=BEARER, summary="Change an event (the fields given) or its status; scope events:write")
@blp.arguments(s.EventPatchSchema, required=False)
@blp.response(200, s.EventDetailSchema)
@problems(400, 401, 403, 404, 409, 413, 422)
@access.bearer
@http.needs("api_v1", "events:write")
def update_event(body, event_id):
    user = http.require("events:write")
    event = events.get_event(event_id)
    status = body.pop("status", None)
    if body:
        events.update_event(event, _apply(_input_from_event(event), body), actor=user)
    if status:
        events.change_status(event, status, actor=user)
    return event_dict(event, user, detail=True)


@blp.route("/events/<int(min=1):event_id>/agenda", methods=["POST"])
@blp.doc(security=BEARER, summary="Add an agenda item; scope events:write")
@blp.arguments(s.AgendaInSchema)
@blp.response(201, s.EventDetailSchema)
@problems(400, 401, 403, 404, 413, 422)
@access.bearer
@http.needs("api_v1", "events:write")
def add_agenda_item(body, event_id):
    user = http.require("events:write")
    event = events.get_event(event_id)
    agenda_services.add_item(
        event,
        agenda_services.AgendaInput(
            title=body["title"],
            starts_local=body["starts_local"],
            duration_minutes=body["duration_minutes"],
            kind=body.get("kind") or "presentation",
            description=body.get("description"),
        ),
        actor=user,
    )
    return event_dict(event, user, detail=True), 201


# Registrations ----------------------------------------------------------------------------------


def registration_dict(r, answers: list | None = None) -> dict:
    """``answers``: the registration's RegistrationAnswer rows when read for a page at once."""
    org = r.organisation
    if answers is None:
        answers = reg_questions.answers_by_registration([r.id]).get(r.id, [])
    return {
        "id": r.id,
        "name": r.name,
        "email": r.email,
        "status": r.status,
        "organisation": {"id": org.id, "name": org.name, "sector": org.sector} if org is not None else None,
        "sector": r.sector,
        "member_government_id": r.member_government_id,
        "position": r.position,
        "timezone": r.timezone,
        "created_at": r.created_at,
        "confirmed_at": r.confirmed_at,
        "cancelled_at": r.cancelled_at,
        "accessibility_needs": r.accessibility_needs,
        "answers": [
            {"question_id": a.question_id, "label": a.label, "value": a.value, "values": a.values} for a in answers
        ],
    }


@blp.route("/events/<int(min=1):event_id>/registrations")
@blp.doc(security=BEARER, summary="The registrations of an event; scope registrations:read (organisers)")
@blp.arguments(s.RegistrationListArgs, location="query")
@blp.response(200, s.RegistrationPageSchema)
@problems(400, 401, 403, 404, 422)
@access.bearer
@http.needs("api_v1", "registrations:read")
def list_registrations(args, event_id):
    http.require("registrations:read")
    event = events.get_event(event_id)
    win = http.window(args)
    stmt = registrations.registrant_query(event.id, status=args["status"], q=args["q"])
    rows, more = http.fetch_window(db.session, stmt, win)
    answers = reg_questions.answers_by_registration([r.id for r in rows])
    body, headers = http.page([registration_dict(r, answers.get(r.id, [])) for r in rows], win, args, more)
    return body, 200, headers


# Attendance -------------------------------------------------------------------------------------


def import_dict(imp, *, dry_run: bool = False, preview=None, effect=None) -> dict:
    if imp is None:
        summary = preview.summary()
        return {
            "id": None,
            "format": preview.report.format,
            "filename": None,
            "mode": request.args.get("mode", "merge"),
            "people": summary["people"],
            "matched": summary["matched"],
            "unmatched": summary["unmatched"],
            "attended": summary["attended"],
            "imported_at": None,
            "effect": effect.as_dict() if effect is not None else {},
            "dry_run": dry_run,
        }
    return {
        "id": imp.id,
        "format": imp.format,
        "filename": imp.filename,
        "mode": imp.mode,
        "people": imp.people,
        "matched": imp.matched,
        "unmatched": imp.unmatched,
        "attended": imp.attended,
        "imported_at": imp.imported_at,
        "effect": imp.effect or {},
        "dry_run": False,
    }


@blp.route("/events/<int(min=1):event_id>/attendance")
@blp.doc(security=BEARER, summary="The attendance of an event: counts and imports; scope attendance:read")
@blp.response(200, s.AttendanceSchema)
@problems(401, 403, 404)
@access.bearer
@http.needs("api_v1", "attendance:read")
def get_attendance(event_id):
    http.require("attendance:read")
    event = events.get_event(event_id)
    counts = attendance.event_counts(event)
    return {
        "event_id": event.id,
        "counts": counts.__dict__,
        "imports": [import_dict(i) for i in attendance.imports(event)],
    }


@blp.route("/events/<int(min=1):event_id>/attendance/imports", methods=["POST"])
@blp.doc(
    security=BEARER,
    summary="Upload a Zoom or Teams report (multipart field `file`); merged with the earlier imports or "
    "replacing them, as on the page; scope attendance:write",
)
@blp.arguments(s.AttendanceUploadArgs, location="query")
@blp.arguments(s.AttendanceFileSchema, location="files")
@blp.response(201, s.AttendanceImportSchema)
@problems(400, 401, 403, 404, 409, 413, 422)
@access.bearer
@http.needs("api_v1", "attendance:write")
def upload_attendance(args, files, event_id):
    user = http.require("attendance:write")
    event = events.get_event(event_id)
    upload = files["file"]
    data = upload.read()
    preview, imp, effect = attendance.import_file(
        event,
        upload.filename or "report.csv",
        data,
        args["timezone"],
        dry_run=args["dry_run"],
        mode=args["mode"],
        actor=user,
    )
    if imp is None:
        return import_dict(None, dry_run=True, preview=preview, effect=effect), 200
    return import_dict(imp), 201


# Directory --------------------------------------------------------------------------------------


@blp.route("/organisations")
@blp.doc(security=BEARER, summary="Organisations with sector and member government; scope directory:read")
@blp.arguments(s.OrganisationListArgs, location="query")
@blp.response(200, s.OrganisationPageSchema)
@problems(400, 401, 403, 422)
@access.bearer
@http.needs("api_v1", "directory:read")
def list_organisations(args):
    http.require("directory:read")
    win = http.window(args)
    result = directory.search_organisations(
        q=args["q"] or "", sector=args["sector"], page=win.offset // win.limit + 1, per_page=win.limit
    )
    items = []
    for o in result.items:
        mg = o.member_government
        items.append(
            {
                "id": o.id,
                "name": o.name,
                "sector": o.sector,
                "country_code": o.country_code,
                "member_government": {"id": mg.id, "name": mg.name, "sector": mg.sector} if mg else None,
                "needs_review": bool(o.needs_review),
            }
        )
    body, headers = http.page(items, win, args, result.has_next)
    return body, 200, headers


def _org_ref(org) -> dict | None:
    return {"id": org.id, "name": org.name, "sector": org.sector} if org is not None else None


# Invitations ------------------------------------------------------------------------------------


def invitation_dict(inv) -> dict:
    c = inv.contact
    return {
        "id": inv.id,
        "contact": {"id": c.id, "name": c.name, "email": c.email, "organisation": _org_ref(c.organisation)},
        "category": inv.category,
        "state": invitations.shown_state(inv),
        "sent_at": inv.sent_at,
        "send_count": inv.send_count,
        "responded_at": inv.responded_at,
    }


@blp.route("/events/<int(min=1):event_id>/invitations")
@blp.doc(security=BEARER, summary="The invitation list of an event, in the page's states; scope invitations:read")
@blp.arguments(s.InvitationListArgs, location="query")
@blp.response(200, s.InvitationPageSchema)
@problems(400, 401, 403, 404, 422)
@access.bearer
@http.needs("api_v1", "invitations:read")
def list_invitations(args, event_id):
    http.require("invitations:read")
    event = events.get_event(event_id)
    win = http.window(args)
    stmt = invitations.invitation_query(event.id, state=args["state"], category=args["category"], q=args["q"])
    rows, more = http.fetch_window(db.session, stmt, win)
    body, headers = http.page([invitation_dict(i) for i in rows], win, args, more)
    return body, 200, headers


@blp.route("/events/<int(min=1):event_id>/invitations", methods=["POST"])
@blp.doc(
    security=BEARER,
    summary="Invite directory contacts (people already invited are skipped); with send, the new invitations go "
    "out through the outbox; scope invitations:write",
)
@blp.arguments(s.InviteInSchema)
@blp.response(201, s.InviteResultSchema)
@problems(400, 401, 403, 404, 413, 422)
@access.bearer
@http.needs("api_v1", "invitations:write")
def invite(body, event_id):
    user = http.require("invitations:write")
    event = events.get_event(event_id)
    if body["category"] not in CATEGORIES:
        raise ValidationFailed(
            _("Unknown category."), field_errors={"category": [_("One of: %(list)s.", list=", ".join(CATEGORIES))]}
        )
    ids = list(dict.fromkeys(body["contact_ids"]))
    known = set(db.session.scalars(sa.select(Contact.id).where(Contact.id.in_(ids))))
    missing = [i for i in ids if i not in known]
    if missing:
        raise ValidationFailed(
            _("Some contacts do not exist."),
            field_errors={"contact_ids": [_("No contact with id %(ids)s.", ids=", ".join(map(str, missing[:20])))]},
        )
    added = invitations.add_contacts(event.id, ids, body["category"], actor=user)
    sending = 0
    if body["send"] and added:
        new_ids = list(
            db.session.scalars(
                sa.select(Invitation.id).where(
                    Invitation.event_id == event.id,
                    Invitation.contact_id.in_(ids),
                    Invitation.sent_at.is_(None),
                    Invitation.state != STATE_REVOKED,
                )
            )
        )
        sending = invitations.request_send(event.id, actor=user, ids=new_ids) if new_ids else 0
    return {"added": added, "sending": sending}, 201


# Registering a contact --------------------------------------------------------------------------


@blp.route("/events/<int(min=1):event_id>/registrations", methods=["POST"])
@blp.doc(
    security=BEARER,
    summary="Register someone (a directory contact by id, or a name and email): the same rules as the "
    "registration form (capacity, waiting list, audience: an invited contact registers through the "
    "invitation); the person gets the same mails; scope registrations:write",
)
@blp.arguments(s.RegisterInSchema)
@blp.response(201, s.RegistrationSchema)
@problems(400, 401, 403, 404, 409, 413, 422)
@access.bearer
@http.needs("api_v1", "registrations:write")
def register(body, event_id):
    http.require("registrations:write")
    event = events.get_event(event_id)
    contact = None
    if body.get("contact_id"):
        contact = db.session.get(Contact, body["contact_id"])
        if contact is None:
            raise ValidationFailed(
                _("There is no such contact."), field_errors={"contact_id": [_("There is no such contact.")]}
            )
    elif not (body.get("name") and body.get("email")):
        raise ValidationFailed(
            _("Give a contact_id, or a name and an email."),
            field_errors={"contact_id": [_("Give a contact_id, or a name and an email.")]},
        )
    data = registrations.RegistrantData(
        name=body.get("name") or (contact.name if contact else ""),
        email=body.get("email") or (contact.email if contact else ""),
        organisation_id=body.get("organisation_id") or (contact.organisation_id if contact else None),
        organisation_name=body.get("organisation_name"),
        sector=body.get("sector"),
        country_code=body.get("country_code"),
        member_government_id=body.get("member_government_id"),
        position=body.get("position") or (contact.position if contact else None),
        timezone=body.get("timezone") or (contact.timezone if contact and contact.timezone else "UTC"),
        accessibility_needs=body.get("accessibility_needs"),
        consent=bool(body["consent"]),
    )
    token = None
    if contact is not None:
        inv = db.session.scalar(
            sa.select(Invitation).where(
                Invitation.event_id == event.id,
                Invitation.contact_id == contact.id,
                Invitation.state != STATE_REVOKED,
            )
        )
        token = invitations.make_token(inv) if inv is not None else None
    reg = registrations.register(event.id, data, user=None, invitation_token=token)
    return registration_dict(reg), 201


# Check-in ---------------------------------------------------------------------------------------


@blp.route("/events/<int(min=1):event_id>/attendance/checkins", methods=["POST"])
@blp.doc(
    security=BEARER,
    summary="Check a confirmed registrant in at the door (a second check-in keeps the first); scope attendance:write",
)
@blp.arguments(s.CheckinInSchema)
@blp.response(201, s.CheckinSchema)
@problems(400, 401, 403, 404, 409, 413, 422)
@access.bearer
@http.needs("api_v1", "attendance:write")
def checkin(body, event_id):
    user = http.require("attendance:write")
    event = events.get_event(event_id)
    record = attendance.checkin(event, body["registration_id"], actor=user)
    return {"registration_id": record.registration_id, "checked_in_at": record.created_at}, 201


# Commitments ------------------------------------------------------------------------------------


def commitment_dict(row, evidence, *, tracker: bool) -> dict:
    c = row.commitment
    return {
        "id": c.id,
        "event": {"id": c.event.id, "title": c.event.title},
        "kind": c.kind,
        "description": c.description,
        "platforms": list(c.platforms or []),
        "languages": list(c.languages or []),
        "status": c.status,
        "target_date": c.target_date,
        "delivered_at": c.delivered_at,
        "overdue": bool(row.overdue),
        "organisation": _org_ref(c.organisation),
        "member_government": _org_ref(c.member_government),
        "sector": c.sector,
        "pledged_by": c.contact.name if tracker and c.contact is not None else None,
        "evidence": [e.url for e in evidence if getattr(e, "url", None)],
    }


@blp.route("/commitments")
@blp.doc(
    security=OPTIONAL_BEARER,
    summary="Voluntary commitments: without a token, the delivered ones their authors made public; with a "
    "commitments:read token, the tracker with its filters",
)
@blp.arguments(s.CommitmentListArgs, location="query")
@blp.response(200, s.CommitmentPageSchema)
@problems(400, 401, 403, 422)
@access.bearer
def list_commitments(args):
    win = http.window(args)
    page_no = win.offset // win.limit + 1
    if http.reader() is None:
        if any(args[k] for k in ("event", "member", "sector", "status", "overdue")):
            raise ValidationFailed(
                _("Filters need a token with the scope commitments:read."),
                field_errors={"_schema": [_("Filters need a token with the scope commitments:read.")]},
            )
        page, evidence = commitment_queries.public_page(page=page_no, per_page=win.limit)
        items = [commitment_dict(r, evidence.get(r.commitment.id, []), tracker=False) for r in page.items]
    else:
        http.require("commitments:read")
        if args["sector"] and args["sector"] not in SECTORS:
            raise ValidationFailed(_("Unknown sector."), field_errors={"sector": [_("Unknown sector.")]})
        filters = commitment_queries.Filters(
            event_id=args["event"],
            member_government_id=args["member"],
            sector=args["sector"],
            status=args["status"],
            overdue=args["overdue"],
        )
        page = commitment_queries.tracker(filters, commitments.today(), page=page_no, per_page=win.limit)
        items = [commitment_dict(r, r.commitment.evidence, tracker=True) for r in page.items]
    more = page.has_next and page.page == page_no  # a page past the end comes back as the last one
    if page.page != page_no:
        items = []
    body, headers = http.page(items, win, args, more)
    return body, 200, headers


# Contacts ---------------------------------------------------------------------------------------


@blp.route("/contacts")
@blp.doc(security=BEARER, summary="Directory contacts with their organisations; scope contacts:read (organisers)")
@blp.arguments(s.ContactListArgs, location="query")
@blp.response(200, s.ContactPageSchema)
@problems(400, 401, 403, 422)
@access.bearer
@http.needs("api_v1", "contacts:read")
def list_contacts(args):
    http.require("contacts:read")
    win = http.window(args)
    filters = directory.ContactFilters(
        q=args["q"] or "",
        organisation_id=args["organisation"],
        sector=args["sector"],
        member_government_id=args["member"],
        tag=args["tag"],
        focal_only=args["focal_points"],
    )
    rows, more = http.fetch_window(db.session, directory.contacts_query(filters), win)
    items = [
        {
            "id": c.id,
            "name": c.name,
            "email": c.email,
            "organisation": _org_ref(c.organisation),
            "position": c.position,
            "focal_point": bool(c.focal_point),
            "timezone": c.timezone,
            "language": getattr(c, "language", None),
            "tags": [t.name for t in c.tags],
        }
        for c in rows
    ]
    body, headers = http.page(items, win, args, more)
    return body, 200, headers


# The co-chairs' review --------------------------------------------------------------------------


def _funnel(f) -> dict:
    return {
        "invited": f.invited,
        "registered": f.registered,
        "confirmed": f.confirmed,
        "invited_registered": f.invited_registered,
        "attended": f.attended,
    }


@blp.route("/review")
@blp.doc(
    security=BEARER,
    summary="The review's figures for a period (the same as the review page and its exports): events held, "
    "participation by member government and by sector, commitments; scope review:read",
)
@blp.arguments(s.ReviewArgs, location="query")
@blp.response(200, s.ReviewSchema)
@problems(400, 401, 403, 422)
@access.bearer
@http.needs("api_v1", "review:read")
def review(args):
    http.require("review:read")
    start, end, _shifted = reports.resolve_period(args["date_from"].isoformat(), args["date_to"].isoformat())
    data = reports.period_review(start, end)
    return {
        "period_from": data.start,
        "period_to": data.end,
        "events": [
            {
                "id": e.id,
                "code": reports.event_code(i),
                "title": e.title,
                "date": reports.event_local_date(e),
                **_funnel(f),
            }
            for i, (e, f) in enumerate(zip(data.events, data.event_funnels, strict=True))
        ],
        "total": _funnel(data.total),
        "by_member_government": [
            {
                "id": m.id,
                "name": m.name,
                "working_group_member": bool(m.working_group_member),
                "events_attended": m.events_attended,
                "stopped_coming": bool(m.stopped),
                "events": [
                    {"event_id": e.id, "attended": a, "registered": r}
                    for e, (a, r) in zip(data.events, m.cells, strict=True)
                ],
            }
            for m in data.members
        ],
        "by_sector": [
            {"sector": code, "label": reports.sector_label(code), "attended": n}
            for code, n in data.attended_by_sector.items()
        ],
        "commitments": {k: int(v) for k, v in data.commitment_totals.items()},
    }
