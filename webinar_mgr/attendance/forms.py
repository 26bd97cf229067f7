from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, EmailField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, Email, InputRequired, Length, NumberRange, Optional

from webinar_mgr.directory import services as directory
from webinar_mgr.directory.models import SECTORS
from webinar_mgr.forms_common import TimezoneField, int_or_none


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


def _organisation_choices() -> list[tuple[int | None, str]]:
    return [(None, _l("— a new organisation (type it below) —"))] + directory.organisation_choices()


def _sector_choices() -> list[tuple[str, str]]:
    return [("", _l("— choose —"))] + [(code, label) for code, label in SECTORS.items()]


def _country_choices() -> list[tuple[str, str]]:
    return [("", _l("— not known —"))] + directory.country_choices()


def _member_choices() -> list[tuple[int | None, str]]:
    return [(None, _l("— none —"))] + directory.member_government_choices()


class WalkInForm(FlaskForm):
    """A walk-in: who they are and their organisation (a known one, or a new one with its sector,
    country and - for a government agency - member government). The choices are checked by the
    directory's service, which names what is wrong."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    email = EmailField(_l("Email"), validators=[DataRequired(), Email(), Length(max=254)])
    organisation_id = SelectField(
        _l("Organisation"), choices=_organisation_choices, coerce=int_or_none, validate_choice=False
    )
    # Lengths are checked by the directory (with a message naming the limit); this only caps the request.
    organisation_name = StringField(_l("New organisation's name"), validators=[Optional(), Length(max=5000)])
    sector = SelectField(_l("Sector"), choices=_sector_choices, validate_choice=False)
    country_code = SelectField(_l("Country"), choices=_country_choices, validate_choice=False)
    member_government_id = SelectField(
        _l("Member government (for a government agency)"),
        choices=_member_choices,
        coerce=int_or_none,
        validate_choice=False,
    )
    confirm_contact = BooleanField(_l("Yes, this is the same person: add the row as them"))


class ReplaceForm(FlaskForm):
    """Replacing the earlier imports is a separate, explicit choice: it must be confirmed."""

    confirm_replace = BooleanField(
        _l("Yes, replace: the earlier imports' sessions stop counting (people linked by hand and check-ins stay)"),
        validators=[DataRequired(message=_l("Tick the box to confirm that the earlier imports are replaced."))],
    )


class PlainForm(FlaskForm):
    """Buttons that only need the CSRF token (confirm, ignore, check in, undo)."""


class SearchForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(_l("Search by name, email or organisation"), validators=[Optional(), Length(max=100)])
