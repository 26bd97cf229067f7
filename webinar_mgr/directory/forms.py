"""Directory forms. Rules (uniqueness, sectors, zones) are checked in services; the forms only
parse the request."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional

from webinar_mgr import csvio
from webinar_mgr.forms_common import int_or_none
from webinar_mgr.i18n import offered_languages, timezone_choices

from .models import SECTORS
from .organisations import country_choices, member_government_choices


def _zone_choices() -> dict[str, list[tuple[str, str]]]:
    """ "Not known", then the zones grouped by region (i18n.timezone_choices)."""
    return {str(_l("Not known")): [("", str(_l("(not known)")))], **timezone_choices()}


def _language_choices() -> list[tuple[str, str]]:
    return [("", _l("(not set: English)"))] + list(offered_languages().items())


class ContactForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    organisation_id = SelectField(_l("Organisation"), coerce=int, validate_choice=False)
    position = StringField(_l("Position"), validators=[Optional(), Length(max=200)])
    focal_point = BooleanField(_l("Focal point of the organisation"))
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=64)])
    timezone = SelectField(
        _l("Time zone"),
        choices=_zone_choices,
        validate_choice=False,
        render_kw={"data-filterable": _l("Search: a city or UTC+07")},
    )
    language = SelectField(
        _l("Language of their mails"),
        choices=_language_choices,
        validate_choice=False,
        description=_l("Invitations, reminders and calendar entries are written to them in this language."),
    )
    tags = StringField(_l("Tags"), validators=[Optional(), Length(max=1000)])
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=5000)])


def _sector_choices() -> list[tuple[str, str]]:
    return [(k, str(v)) for k, v in SECTORS.items()]


def _country_choices() -> list[tuple[str, str]]:
    return [("", _l("(none)"))] + country_choices()


def _member_choices() -> list[tuple[int | None, str]]:
    return [(None, _l("(none)"))] + member_government_choices()


class OrganisationForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    short_name = StringField(_l("Short name"), validators=[Optional(), Length(max=64)])
    sector = SelectField(_l("Sector"), choices=_sector_choices, validate_choice=False)
    country_code = SelectField(_l("Country"), choices=_country_choices, validate_choice=False)
    member_government_id = SelectField(
        _l("Member government (for a government agency)"),
        choices=_member_choices,
        coerce=int_or_none,
        validate_choice=False,
    )
    working_group_member = BooleanField(_l("Member of the Working Group"))
    website = StringField(_l("Website"), validators=[Optional(), Length(max=500)])
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=5000)])


def encoding_field() -> SelectField:
    """ "Read the file as": detected unless the organiser chooses (the region's legacy encodings)."""
    return SelectField(
        _l("Encoding"),
        choices=lambda: [("", _l("Detect automatically"))] + csvio.encoding_choices(),
        validators=[Optional()],
        default="",
    )


class ImportForm(FlaskForm):
    file = FileField(_l("Contacts file (CSV)"), validators=[FileRequired(_l("Choose a CSV file."))])
    encoding = encoding_field()


class EncodingForm(FlaskForm):
    """Read a staged file again in another encoding (from the preview)."""

    encoding = encoding_field()


class ConfirmImportForm(FlaskForm):
    upload_id = HiddenField(validators=[DataRequired()])


class ReviewForm(FlaskForm):
    """One row of "New organisations to review": fix the sector, country and member government."""

    sector = SelectField(_l("Sector"), choices=_sector_choices, validate_choice=False)
    country_code = SelectField(_l("Country"), validate_choice=False)
    member_government_id = SelectField(_l("Member government"), coerce=int_or_none, validate_choice=False)
    save = SubmitField(_l("Save"))
    review = SubmitField(_l("Save and mark reviewed"))


class MergeForm(FlaskForm):
    target = StringField(
        _l("Merge into"),
        validators=[DataRequired(_l("Type the name of the organisation to merge into.")), Length(max=200)],
        render_kw={"list": "organisation-names", "autocomplete": "off"},
    )
    merge = SubmitField(_l("Merge"))


class MembershipForm(FlaskForm):
    """A period of Working Group membership with its dates (organisation page, organisers)."""

    joined_on = DateField(_l("Joined the Working Group on"), validators=[Optional()])
    left_on = DateField(_l("Left on"), validators=[Optional()])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=500)])
