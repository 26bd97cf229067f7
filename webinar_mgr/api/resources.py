"""/api/v1: the JSON resources. Each view reads its input (the schemas), asks who is calling
(``http.reader`` / ``http.require(scope)``) and calls the same service as the page does; the
services hold every rule, write the audit entries and raise the domain errors that
``http.handle_domain_error`` answers as problem+json.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import current_app, request, url_for
from flask_babel import gettext as _
from flask_smorest import Blueprint
from werkzeug.exceptions import HTTPException

from webinar_mgr.attendance import services as attendance
from webinar_mgr.directory import services as directory
from webinar_mgr.errors import DomainError, ValidationFailed
from webinar_mgr.events import agenda as agenda_services
from webinar_mgr.events import services as events
from webinar_mgr.events import settings as event_settings
from webinar_mgr.events.times import utc_to_local
from webinar_mgr.extensions import csrf, db, limiter
from webinar_mgr.registrations import services as registrations
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
        for code in codes:
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
        pdf_zones=list(event.pdf_zones or []),
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


def registration_dict(r) -> dict:
    org = r.organisation
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
    body, headers = http.page([registration_dict(r) for r in rows], win, args, more)
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
