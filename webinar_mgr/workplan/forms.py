from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, DateField, IntegerField, SelectField, StringField, TextAreaField, URLField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from webinar_mgr.forms_common import CheckboxListField, int_or_none

from .models import OUTPUT_KINDS, STATUSES


def _checks(label):
    return CheckboxListField(
        label,
        coerce=int,
        validators=[Optional()],
        render_kw={"data-filterable": _l("Filter the list"), "class": "checks scroll-list"},
    )


class PlanForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    period_start = DateField(_l("Period starts"), validators=[Optional()])
    period_end = DateField(_l("Period ends"), validators=[Optional()])
    current = BooleanField(_l("This is the current plan (shown at /workplan)"))
    summary = TextAreaField(_l("Summary"), validators=[Optional(), Length(max=5000)])


class PriorityForm(FlaskForm):
    number = IntegerField(_l("Number"), validators=[DataRequired(), NumberRange(min=1, max=99)])
    title = StringField(_l("Priority issue"), validators=[DataRequired(), Length(max=300)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=5000)])


class ActionItemForm(FlaskForm):
    priority_id = SelectField(_l("Priority issue"), coerce=int_or_none, validators=[Optional()])
    number = IntegerField(_l("Number"), validators=[DataRequired(), NumberRange(min=1, max=999)])
    text = TextAreaField(_l("Action item"), validators=[DataRequired(), Length(max=2000)])
    target = StringField(_l("Target"), validators=[Optional(), Length(max=300)])
    status = SelectField(_l("Status"), choices=[(k, v) for k, v in STATUSES.items()])
    lead_ids = _checks(_l("Lead members"))
    event_ids = _checks(_l("Events that contribute"))
    output_ids = _checks(_l("Outputs that contribute"))
    commitment_ids = _checks(_l("Voluntary commitments that contribute"))


class StatusForm(FlaskForm):
    status = SelectField(_l("Status"), choices=[(k, v) for k, v in STATUSES.items()])
    note = TextAreaField(_l("Progress note (optional)"), validators=[Optional(), Length(max=5000)])


class NoteForm(FlaskForm):
    noted_on = DateField(_l("Date"), validators=[DataRequired()])
    text = TextAreaField(_l("Progress note"), validators=[DataRequired(), Length(max=5000)])


class OutputForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=300)])
    kind = SelectField(_l("Kind of output"), choices=[(k, v) for k, v in OUTPUT_KINDS.items()])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=5000)])
    published = BooleanField(_l("Published (shown on the public outputs page)"))
    published_on = DateField(_l("Published on"), validators=[Optional()])
    event_ids = _checks(_l("Events it was presented or launched at"))
    action_item_ids = _checks(_l("Action items it contributes to"))


class VersionForm(FlaskForm):
    language = SelectField(_l("Language"))
    published_on = DateField(_l("Date of this version"), validators=[DataRequired()])
    file = FileField(_l("File"))
    url = URLField(_l("Or a link"), validators=[Optional(), Length(max=2000)])
