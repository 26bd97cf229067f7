from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length, Optional

from webinar_mgr.directory.models import SECTORS
from webinar_mgr.forms_common import TimezoneField, int_or_none


class DetailsForm(FlaskForm):
    """What a guest gives (and what a registrant can change later)."""

    name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=200)])
    organisation_id = SelectField(
        _l("Organisation (if listed)"), coerce=int_or_none, validators=[Optional()], validate_choice=False
    )
    organisation_name = StringField(_l("Organisation (if not listed)"), validators=[Optional(), Length(max=200)])
    sector = SelectField(_l("Sector"), validators=[Optional()], validate_choice=False)
    member_government_id = SelectField(
        _l("Member government (if any)"), coerce=int_or_none, validators=[Optional()], validate_choice=False
    )
    position = StringField(_l("Position"), validators=[Optional(), Length(max=200)])
    timezone = TimezoneField()
    accessibility_needs = TextAreaField(
        _l("Accessibility needs (captions, interpretation, ...)"), validators=[Optional(), Length(max=2000)]
    )

    def set_choices(self, organisations, member_governments):
        self.organisation_id.choices = [("", _l("— not listed —"))] + list(organisations)
        self.member_government_id.choices = [("", _l("— none —"))] + list(member_governments)
        self.sector.choices = [("", _l("— choose —"))] + [(k, v) for k, v in SECTORS.items()]


class GuestRegistrationForm(DetailsForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Email(), Length(max=254)])
    consent = BooleanField(
        _l("I agree that my details are used to organise this event and kept in the working group's contact directory.")
    )
    pledge = BooleanField(_l("I would like to pledge a voluntary commitment"))


class OneStepForm(FlaskForm):
    """A signed-in user registers with their profile in one click."""

    accessibility_needs = TextAreaField(_l("Accessibility needs (optional)"), validators=[Optional(), Length(max=2000)])
    pledge = BooleanField(_l("I would like to pledge a voluntary commitment"))
