from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length, Optional

from webinar_mgr.directory.models import SECTORS
from webinar_mgr.forms_common import TimezoneField, int_or_none


class OrganisationForm(FlaskForm):
    """The organisation a person gives: a known one picked from the list, or a new one with its
    sector and country (templates/macros/organisation.html shows them together; the service
    resolves them with directory.resolve_organisation)."""

    organisation_id = SelectField(
        _l("Pick it from the list"), coerce=int_or_none, validators=[Optional()], validate_choice=False
    )
    organisation_name = StringField(_l("Its name"), validators=[Optional(), Length(max=200)])
    sector = SelectField(_l("Its sector"), validators=[Optional()], validate_choice=False)
    country_code = SelectField(_l("Its country"), validators=[Optional()], validate_choice=False)
    member_government_id = SelectField(
        _l("For a government agency: the member government"),
        coerce=int_or_none,
        validators=[Optional()],
        validate_choice=False,
    )

    def set_choices(self, organisation_groups, member_governments, countries):
        """``organisation_groups``: [(sector label, [(id, name)])] as directory.queries gives them."""
        self.organisation_groups = organisation_groups
        self.organisation_id.choices = [("", _l("— not in the list —"))] + [
            (oid, name) for _label, items in organisation_groups for oid, name in items
        ]
        self.member_government_id.choices = [("", _l("— none —"))] + list(member_governments)
        self.sector.choices = [("", _l("— choose —"))] + [(k, v) for k, v in SECTORS.items()]
        self.country_code.choices = [("", _l("— choose —"))] + list(countries)


class DetailsForm(OrganisationForm):
    """What a guest gives (and what a registrant can change later)."""

    name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=200)])
    position = StringField(_l("Position"), validators=[Optional(), Length(max=200)])
    timezone = TimezoneField()
    accessibility_needs = TextAreaField(
        _l("Accessibility needs (captions, interpretation, ...)"), validators=[Optional(), Length(max=2000)]
    )


class GuestRegistrationForm(DetailsForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Email(), Length(max=254)])
    consent = BooleanField(
        _l("I agree that my details are used to organise this event and kept in the working group's contact directory.")
    )
    pledge = BooleanField(_l("I would like to pledge a voluntary commitment"))


class OneStepForm(OrganisationForm):
    """A signed-in user registers with their profile in one click (the organisation fields are
    shown only when the profile names none)."""

    accessibility_needs = TextAreaField(_l("Accessibility needs (optional)"), validators=[Optional(), Length(max=2000)])
    pledge = BooleanField(_l("I would like to pledge a voluntary commitment"))


class LostLinkForm(FlaskForm):
    """ "I lost the mail with my link": the address to send the links to."""

    email = EmailField(
        _l("The email address you registered with"), validators=[DataRequired(), Email(), Length(max=254)]
    )
