from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
    URLField,
)
from wtforms.fields import MonthField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from webinar_mgr.forms_common import CheckboxListField, TimezoneField
from webinar_mgr.i18n import timezone_choices

from .models import AUDIENCES, ITEM_KINDS, ROLE_SPEAKER, SPEAKER_ROLES

DT_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]


class EventForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=300)])
    kind_id = SelectField(
        _l("Kind of event"), coerce=int, validators=[DataRequired(_l("Choose the kind of event."))], default=0
    )
    summary = TextAreaField(_l("Theme and summary"), validators=[Optional(), Length(max=5000)])
    objectives = TextAreaField(_l("Objectives (one per line)"), validators=[Optional(), Length(max=5000)])
    timezone = TimezoneField(_l("The event's time zone"))
    starts_local = DateTimeLocalField(
        _l("Starts (in the event's time zone)"), format=DT_FORMATS, validators=[Optional()]
    )
    ends_local = DateTimeLocalField(_l("Ends (in the event's time zone)"), format=DT_FORMATS, validators=[Optional()])
    date_tbc = BooleanField(_l("Date to be confirmed"))
    tentative_month = MonthField(_l("Tentative month"), validators=[Optional()])
    online_url = URLField(_l("Online meeting link"), validators=[Optional(), Length(max=1000)])
    venue = StringField(_l("Venue (for in-person or hybrid events)"), validators=[Optional(), Length(max=500)])
    # Ticked, not Ctrl-clicked: a list of checkboxes with a filter box (static/js/app.js).
    convenor_ids = CheckboxListField(
        _l("Convenors"),
        coerce=int,
        validators=[Optional()],
        render_kw={"data-filterable": _l("Filter the list"), "class": "checks scroll-list"},
    )
    convenor_note = StringField(_l("Convenors as written on the agenda"), validators=[Optional(), Length(max=300)])
    capacity = IntegerField(_l("Capacity"), validators=[Optional(), NumberRange(min=0, max=100000)])
    registration_opens_local = DateTimeLocalField(_l("Registration opens"), format=DT_FORMATS, validators=[Optional()])
    registration_closes_local = DateTimeLocalField(
        _l("Registration closes"), format=DT_FORMATS, validators=[Optional()]
    )
    audience = SelectField(_l("Who may take part"), choices=[(k, v) for k, v in AUDIENCES.items()])
    requires_approval = BooleanField(_l("Registrations need an organiser's approval"))
    pdf_speaker_details = BooleanField(
        _l("Print the speakers' organisations, biographies and photos in the agenda PDF")
    )
    waiting_list = BooleanField(_l("When the event is full, keep a waiting list"), default=True)
    pdf_zone_1 = SelectField(
        _l("Second zone on the agenda PDF"),
        validators=[Optional()],
        validate_choice=False,
        render_kw={"data-filterable": _l("Search: a city or UTC+07")},
    )
    pdf_zone_2 = SelectField(
        _l("Third zone on the agenda PDF"),
        validators=[Optional()],
        validate_choice=False,
        render_kw={"data-filterable": _l("Search: a city or UTC+07")},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        zone_choices = {str(_l("(none)")): [("", str(_l("(none)")))], **timezone_choices()}
        self.pdf_zone_1.choices = zone_choices
        self.pdf_zone_2.choices = zone_choices


class AgendaItemForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=300)])
    kind = SelectField(_l("Kind"), choices=[(k, v) for k, v in ITEM_KINDS.items()])
    starts_local = DateTimeLocalField(
        _l("Starts (in the event's time zone)"), format=DT_FORMATS, validators=[DataRequired()]
    )
    duration_minutes = IntegerField(
        _l("Duration (minutes)"), validators=[DataRequired(), NumberRange(min=1, max=24 * 60)]
    )
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=5000)])


class SpeakerForm(FlaskForm):
    name = StringField(_l("Name"), validators=[Optional(), Length(max=200)])
    title = StringField(_l("Position"), validators=[Optional(), Length(max=200)])
    organisation_id = SelectField(_l("Organisation in the directory"), coerce=int, validators=[Optional()])
    organisation_name = StringField(_l("Or organisation as written"), validators=[Optional(), Length(max=200)])
    contact_email = StringField(_l("Directory contact (email)"), validators=[Optional(), Length(max=254)])
    role = SelectField(_l("Role"), choices=[(k, v) for k, v in SPEAKER_ROLES.items()], default=ROLE_SPEAKER)
    bio = TextAreaField(_l("Short biography"), validators=[Optional(), Length(max=2000)], render_kw={"rows": 4})
    photo = FileField(_l("Photo"))
    remove_photo = BooleanField(_l("Remove the photo"))


class StatusForm(FlaskForm):
    status = HiddenField(validators=[DataRequired()])


class KindForm(FlaskForm):
    label = StringField(_l("New kind of event"), validators=[DataRequired(), Length(max=100)])


class ZonesForm(FlaskForm):
    zones = TextAreaField(
        _l("The region's main time zones (one per line: zone | label)"),
        validators=[DataRequired(), Length(max=4000)],
        render_kw={"rows": 9},
    )


class EventTranslationForm(FlaskForm):
    """An organiser's translation of the event into one language (issue 13); the agenda items'
    titles come as fields named item-<id> beside it."""

    language = SelectField(_l("Language"), validate_choice=False)
    title = StringField(_l("Title in this language"), validators=[Optional(), Length(max=300)])
    summary = TextAreaField(_l("Theme and summary in this language"), validators=[Optional(), Length(max=5000)])
    objectives = TextAreaField(_l("Objectives in this language (one per line)"), validators=[Optional()])


class CopyEventForm(FlaskForm):
    """Copy an event: the copy's title and start (in the event's zone); empty start: date TBC."""

    title = StringField(_l("Title of the copy"), validators=[DataRequired(), Length(max=300)])
    starts_local = DateTimeLocalField(
        _l("The copy starts (in the event's time zone)"), format=DT_FORMATS, validators=[Optional()]
    )
