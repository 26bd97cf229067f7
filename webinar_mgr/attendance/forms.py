from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import EmailField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, Email, InputRequired, Length, NumberRange, Optional

from webinar_mgr.forms_common import TimezoneField


class ImportForm(FlaskForm):
    report = FileField(_l("Attendance report (CSV from Zoom or Teams)"), validators=[FileRequired()])
    timezone = TimezoneField(_l("Time zone of the times in the report"))


class ThresholdForm(FlaskForm):
    minutes = IntegerField(
        _l("Minutes present to count as attended"),
        validators=[InputRequired(message=_l("Enter a number of minutes.")), NumberRange(min=0, max=1440)],
    )


class LinkForm(FlaskForm):
    registration_id = SelectField(_l("Registration"), coerce=int, validators=[DataRequired()])


class WalkInForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    email = EmailField(_l("Email"), validators=[DataRequired(), Email(), Length(max=254)])


class PlainForm(FlaskForm):
    """Buttons that only need the CSRF token (confirm, ignore, check in, undo)."""


class SearchForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(_l("Search by name, email or organisation"), validators=[Optional(), Length(max=100)])
