"""The API's request and response shapes (marshmallow); the OpenAPI description is built from them."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from .http import MAX_LIMIT


class Strict(ma.Schema):
    """Request bodies refuse unknown fields (422 with the field named)."""

    class Meta:
        unknown = ma.RAISE


class ProblemSchema(ma.Schema):
    type = fields.String()
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class PageArgs(ma.Schema):
    limit = fields.Integer(load_default=None, validate=validate.Range(1, MAX_LIMIT))
    cursor = fields.String(load_default=None, validate=validate.Length(max=500))


class EventListArgs(PageArgs):
    status = fields.String(
        load_default=None, validate=validate.OneOf(["draft", "tbc", "scheduled", "held", "cancelled"])
    )
    kind = fields.String(load_default=None, validate=validate.Length(max=32))
    year = fields.Integer(load_default=None, validate=validate.Range(1900, 2999))
    when = fields.String(load_default="upcoming", validate=validate.OneOf(["upcoming", "past", "all"]))


class KindSchema(ma.Schema):
    code = fields.String()
    label = fields.String()


class OrganisationRef(ma.Schema):
    id = fields.Integer()
    name = fields.String()
    sector = fields.String(allow_none=True)


class SpeakerSchema(ma.Schema):
    name = fields.String()
    title = fields.String(allow_none=True)
    organisation = fields.String(allow_none=True)


class AgendaItemSchema(ma.Schema):
    id = fields.Integer()
    position = fields.Integer()
    title = fields.String()
    kind = fields.String()
    description = fields.String(allow_none=True)
    starts_at = fields.AwareDateTime(metadata={"description": "UTC"})
    starts_local = fields.AwareDateTime(metadata={"description": "in the event's zone, with its offset"})
    ends_at = fields.AwareDateTime()
    duration_minutes = fields.Integer()
    speakers = fields.List(fields.Nested(SpeakerSchema))


class EventSchema(ma.Schema):
    id = fields.Integer()
    uid = fields.String()
    title = fields.String()
    summary = fields.String()
    objectives = fields.List(fields.String())
    kind = fields.Nested(KindSchema)
    status = fields.String()
    audience = fields.String()
    timezone = fields.String(metadata={"description": "the event's IANA zone"})
    starts_at = fields.AwareDateTime(allow_none=True, metadata={"description": "UTC"})
    ends_at = fields.AwareDateTime(allow_none=True, metadata={"description": "UTC"})
    starts_local = fields.AwareDateTime(allow_none=True, metadata={"description": "in the event's zone"})
    ends_local = fields.AwareDateTime(allow_none=True, metadata={"description": "in the event's zone"})
    tentative_month = fields.Date(allow_none=True, metadata={"description": "for a date to be confirmed"})
    venue = fields.String(allow_none=True)
    online_url = fields.String(allow_none=True, metadata={"description": "organisers and confirmed registrants"})
    capacity = fields.Integer(allow_none=True)
    waiting_list = fields.Boolean(metadata={"description": "when full: a waiting list, or no more registrations"})
    registration_opens_at = fields.AwareDateTime(allow_none=True)
    registration_closes_at = fields.AwareDateTime(allow_none=True)
    convenors = fields.List(fields.Nested(OrganisationRef))
    priority_tags = fields.List(fields.String())
    url = fields.String(metadata={"description": "the event's page"})
    updated_at = fields.AwareDateTime()


class EventDetailSchema(EventSchema):
    agenda = fields.List(fields.Nested(AgendaItemSchema))


class EventPageSchema(ma.Schema):
    items = fields.List(fields.Nested(EventSchema))
    next = fields.String(allow_none=True, metadata={"description": "the next page, also in the Link header"})


class EventInSchema(Strict):
    title = fields.String(required=True, validate=validate.Length(max=300))
    kind = fields.String(required=True, validate=validate.Length(max=32), metadata={"description": "kind code"})
    timezone = fields.String(required=True, validate=validate.Length(max=64))
    summary = fields.String(validate=validate.Length(max=20000))
    objectives = fields.List(fields.String(validate=validate.Length(max=500)), validate=validate.Length(max=20))
    date_tbc = fields.Boolean()
    tentative_month = fields.Date(allow_none=True)
    starts_local = fields.NaiveDateTime(allow_none=True, metadata={"description": "wall-clock time in `timezone`"})
    ends_local = fields.NaiveDateTime(allow_none=True)
    online_url = fields.String(allow_none=True, validate=validate.Length(max=1000))
    venue = fields.String(allow_none=True, validate=validate.Length(max=500))
    convenor_ids = fields.List(fields.Integer(validate=validate.Range(1, 2**31 - 1)), validate=validate.Length(max=50))
    capacity = fields.Integer(allow_none=True, validate=validate.Range(0, 2**31 - 1))
    registration_opens_local = fields.NaiveDateTime(allow_none=True)
    registration_closes_local = fields.NaiveDateTime(allow_none=True)
    audience = fields.String(validate=validate.OneOf(["invitation", "members", "open"]))
    requires_approval = fields.Boolean()
    waiting_list = fields.Boolean()


class EventPatchSchema(EventInSchema):
    title = fields.String(validate=validate.Length(max=300))
    kind = fields.String(validate=validate.Length(max=32))
    timezone = fields.String(validate=validate.Length(max=64))
    status = fields.String(validate=validate.OneOf(["tbc", "scheduled", "held", "cancelled"]))


class AgendaInSchema(Strict):
    title = fields.String(required=True, validate=validate.Length(max=300))
    starts_local = fields.NaiveDateTime(required=True, metadata={"description": "wall-clock time in the event's zone"})
    duration_minutes = fields.Integer(required=True, validate=validate.Range(1, 24 * 60))
    kind = fields.String(validate=validate.Length(max=16))
    description = fields.String(allow_none=True, validate=validate.Length(max=5000))


class RegistrationListArgs(PageArgs):
    status = fields.String(
        load_default=None,
        validate=validate.OneOf(["pending", "confirmed", "waitlisted", "cancelled", "rejected"]),
    )
    q = fields.String(load_default=None, validate=validate.Length(max=200))


class RegistrationAnswerSchema(ma.Schema):
    """An answer to one of the event's own questions, with the question's wording when answered;
    question_id is null when the question was removed since."""

    question_id = fields.Integer(allow_none=True)
    label = fields.String()
    value = fields.String()
    values = fields.List(fields.String(), allow_none=True)


class RegistrationSchema(ma.Schema):
    id = fields.Integer()
    name = fields.String()
    email = fields.String()
    status = fields.String()
    organisation = fields.Nested(OrganisationRef, allow_none=True)
    sector = fields.String(allow_none=True)
    member_government_id = fields.Integer(allow_none=True)
    position = fields.String(allow_none=True)
    timezone = fields.String()
    created_at = fields.AwareDateTime()
    confirmed_at = fields.AwareDateTime(allow_none=True)
    cancelled_at = fields.AwareDateTime(allow_none=True)
    accessibility_needs = fields.String(allow_none=True)
    answers = fields.List(fields.Nested(RegistrationAnswerSchema))


class RegistrationPageSchema(ma.Schema):
    items = fields.List(fields.Nested(RegistrationSchema))
    next = fields.String(allow_none=True)


class AttendanceCountsSchema(ma.Schema):
    people = fields.Integer()
    matched = fields.Integer()
    unmatched = fields.Integer()
    ignored = fields.Integer()
    attended = fields.Integer()
    attended_registrations = fields.Integer()
    checked_in = fields.Integer()


class AttendanceImportSchema(ma.Schema):
    id = fields.Integer(allow_none=True)
    format = fields.String(allow_none=True)
    filename = fields.String(allow_none=True)
    mode = fields.String()
    people = fields.Integer()
    matched = fields.Integer()
    unmatched = fields.Integer()
    attended = fields.Integer()
    imported_at = fields.AwareDateTime(allow_none=True)
    effect = fields.Dict()
    dry_run = fields.Boolean()


class AttendanceSchema(ma.Schema):
    event_id = fields.Integer()
    counts = fields.Nested(AttendanceCountsSchema)
    imports = fields.List(fields.Nested(AttendanceImportSchema))


class AttendanceUploadArgs(Strict):
    mode = fields.String(load_default="merge", validate=validate.OneOf(["merge", "replace"]))
    timezone = fields.String(load_default=None, validate=validate.Length(max=64))
    dry_run = fields.Boolean(load_default=False)


class AttendanceFileSchema(ma.Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


class OrganisationListArgs(PageArgs):
    sector = fields.String(load_default=None, validate=validate.Length(max=32))
    q = fields.String(load_default=None, validate=validate.Length(max=200))


class OrganisationSchema(ma.Schema):
    id = fields.Integer()
    name = fields.String()
    sector = fields.String(allow_none=True)
    country_code = fields.String(allow_none=True)
    member_government = fields.Nested(OrganisationRef, allow_none=True)
    needs_review = fields.Boolean()


class OrganisationPageSchema(ma.Schema):
    items = fields.List(fields.Nested(OrganisationSchema))
    next = fields.String(allow_none=True)


class CommitmentListArgs(PageArgs):
    event = fields.Integer(load_default=None, validate=validate.Range(1, 2**31 - 1))
    member = fields.Integer(
        load_default=None, validate=validate.Range(1, 2**31 - 1), metadata={"description": "member government id"}
    )
    sector = fields.String(load_default=None, validate=validate.Length(max=32))
    status = fields.String(
        load_default=None, validate=validate.OneOf(["pledged", "in_progress", "delivered", "withdrawn"])
    )
    overdue = fields.Boolean(load_default=False)


class CommitmentSchema(ma.Schema):
    id = fields.Integer()
    event = fields.Nested(lambda: EventRef())
    kind = fields.String()
    description = fields.String()
    platforms = fields.List(fields.String())
    languages = fields.List(fields.String())
    status = fields.String()
    target_date = fields.Date(allow_none=True)
    delivered_at = fields.AwareDateTime(allow_none=True)
    overdue = fields.Boolean()
    organisation = fields.Nested(OrganisationRef, allow_none=True)
    member_government = fields.Nested(OrganisationRef, allow_none=True)
    sector = fields.String(allow_none=True)
    pledged_by = fields.String(allow_none=True, metadata={"description": "tracker (commitments:read) only"})
    evidence = fields.List(fields.String(), metadata={"description": "links to what was delivered"})


class EventRef(ma.Schema):
    id = fields.Integer()
    title = fields.String()


class CommitmentPageSchema(ma.Schema):
    items = fields.List(fields.Nested(CommitmentSchema))
    next = fields.String(allow_none=True)


class ReviewArgs(Strict):
    date_from = fields.Date(required=True, data_key="from")
    date_to = fields.Date(required=True, data_key="to")


class FunnelSchema(ma.Schema):
    invited = fields.Integer()
    registered = fields.Integer()
    confirmed = fields.Integer()
    invited_registered = fields.Integer(metadata={"description": "invited people who registered"})
    attended = fields.Integer()


class ReviewEventSchema(FunnelSchema):
    id = fields.Integer()
    code = fields.String(metadata={"description": "E1, E2... as on the review page"})
    title = fields.String()
    date = fields.Date(allow_none=True, metadata={"description": "in the event's zone"})


class ReviewCellSchema(ma.Schema):
    event_id = fields.Integer()
    attended = fields.Integer()
    registered = fields.Integer()


class ReviewMemberSchema(ma.Schema):
    id = fields.Integer()
    name = fields.String()
    working_group_member = fields.Boolean()
    events_attended = fields.Integer()
    stopped_coming = fields.Boolean()
    events = fields.List(fields.Nested(ReviewCellSchema))


class ReviewSectorSchema(ma.Schema):
    sector = fields.String(metadata={"description": "sector code"})
    label = fields.String()
    attended = fields.Integer(metadata={"description": "people who attended, all events of the period"})


class ReviewSchema(ma.Schema):
    period_from = fields.Date()
    period_to = fields.Date()
    events = fields.List(fields.Nested(ReviewEventSchema))
    total = fields.Nested(FunnelSchema)
    by_member_government = fields.List(fields.Nested(ReviewMemberSchema))
    by_sector = fields.List(fields.Nested(ReviewSectorSchema))
    commitments = fields.Dict(keys=fields.String(), values=fields.Integer())


# Invitations, registering, check-in, contacts --------------------------------------------------


class InvitationListArgs(PageArgs):
    state = fields.String(
        load_default=None,
        validate=validate.OneOf(
            [
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
            ]
        ),
    )
    category = fields.String(load_default=None, validate=validate.Length(max=32))
    q = fields.String(load_default=None, validate=validate.Length(max=200))


class ContactRef(ma.Schema):
    id = fields.Integer()
    name = fields.String()
    email = fields.String()
    organisation = fields.Nested(OrganisationRef, allow_none=True)


class InvitationSchema(ma.Schema):
    id = fields.Integer()
    contact = fields.Nested(ContactRef)
    category = fields.String()
    state = fields.String(metadata={"description": "as the invitations page shows it"})
    sent_at = fields.AwareDateTime(allow_none=True)
    send_count = fields.Integer()
    responded_at = fields.AwareDateTime(allow_none=True)


class InvitationPageSchema(ma.Schema):
    items = fields.List(fields.Nested(InvitationSchema))
    next = fields.String(allow_none=True)


class InviteInSchema(Strict):
    contact_ids = fields.List(
        fields.Integer(validate=validate.Range(1, 2**31 - 1)), required=True, validate=validate.Length(1, 2000)
    )
    category = fields.String(required=True, validate=validate.Length(max=32))
    send = fields.Boolean(load_default=False, metadata={"description": "send the new invitations at once"})


class InviteResultSchema(ma.Schema):
    added = fields.Integer(metadata={"description": "new invitations (people already invited are skipped)"})
    sending = fields.Integer(metadata={"description": "invitations marked to be sent"})


class RegisterInSchema(Strict):
    contact_id = fields.Integer(
        validate=validate.Range(1, 2**31 - 1), metadata={"description": "a directory contact; or name and email"}
    )
    name = fields.String(validate=validate.Length(max=200))
    email = fields.String(validate=validate.Length(max=254))
    organisation_id = fields.Integer(allow_none=True, validate=validate.Range(1, 2**31 - 1))
    organisation_name = fields.String(allow_none=True, validate=validate.Length(max=200))
    sector = fields.String(allow_none=True, validate=validate.Length(max=32))
    country_code = fields.String(allow_none=True, validate=validate.Length(max=2))
    member_government_id = fields.Integer(allow_none=True, validate=validate.Range(1, 2**31 - 1))
    position = fields.String(allow_none=True, validate=validate.Length(max=200))
    timezone = fields.String(validate=validate.Length(max=64))
    accessibility_needs = fields.String(allow_none=True, validate=validate.Length(max=2000))
    consent = fields.Boolean(
        required=True, metadata={"description": "the person agreed to the use of their data for this event"}
    )


class CheckinInSchema(Strict):
    registration_id = fields.Integer(required=True, validate=validate.Range(1, 2**31 - 1))


class CheckinSchema(ma.Schema):
    registration_id = fields.Integer()
    checked_in_at = fields.AwareDateTime()


class ContactListArgs(PageArgs):
    q = fields.String(load_default=None, validate=validate.Length(max=200))
    organisation = fields.Integer(load_default=None, validate=validate.Range(1, 2**31 - 1))
    member = fields.Integer(load_default=None, validate=validate.Range(1, 2**31 - 1))
    sector = fields.String(load_default=None, validate=validate.Length(max=32))
    tag = fields.String(load_default=None, validate=validate.Length(max=64))
    focal_points = fields.Boolean(load_default=False)


class ContactSchema(ContactRef):
    position = fields.String(allow_none=True)
    focal_point = fields.Boolean()
    timezone = fields.String(allow_none=True)
    language = fields.String(allow_none=True)
    tags = fields.List(fields.String())


class ContactPageSchema(ma.Schema):
    items = fields.List(fields.Nested(ContactSchema))
    next = fields.String(allow_none=True)
