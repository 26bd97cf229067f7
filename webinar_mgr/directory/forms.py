"""Directory forms. Rules (uniqueness, sectors, zones) are checked in services; the forms only
parse the request."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, EmailField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from webinar_mgr.i18n import all_timezones

from .models import SECTORS


def _zone_choices() -> list[tuple[str, str]]:
    return [("", _l("(not known)"))] + [(z, z.replace("_", " ")) for z in all_timezones()]


class ContactForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    organisation_id = SelectField(_l("Organisation"), coerce=int, validate_choice=False)
    position = StringField(_l("Position"), validators=[Optional(), Length(max=200)])
    focal_point = BooleanField(_l("Focal point of the organisation"))
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=64)])
    timezone = SelectField(_l("Time zone"), choices=_zone_choices, validate_choice=False)
    tags = StringField(_l("Tags"), validators=[Optional(), Length(max=1000)])
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=5000)])


class OrganisationForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    short_name = StringField(_l("Short name"), validators=[Optional(), Length(max=64)])
    sector = SelectField(_l("Sector"), choices=lambda: [(k, str(v)) for k, v in SECTORS.items()], validate_choice=False)
    country_code = StringField(_l("Country code (ISO)"), validators=[Optional(), Length(max=8)])
    working_group_member = BooleanField(_l("Member of the Working Group"))
    website = StringField(_l("Website"), validators=[Optional(), Length(max=500)])
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=5000)])


class ImportForm(FlaskForm):
    file = FileField(_l("Contacts file (CSV)"), validators=[FileRequired(_l("Choose a CSV file."))])


class ConfirmImportForm(FlaskForm):
    upload_id = HiddenField(validators=[DataRequired()])
