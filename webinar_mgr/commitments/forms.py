from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from webinar_mgr.forms_common import CheckboxListField, int_or_none

from .models import KINDS


class PledgeForm(FlaskForm):
    kind = RadioField(
        _l("Kind of commitment"),
        choices=[(k, v) for k, v in KINDS.items()],
        default="social_media_post",
        validators=[DataRequired()],
    )
    platforms = CheckboxListField(_l("Platforms"), validate_choice=False)
    languages = StringField(_l("Language(s)"), validators=[Optional(), Length(max=400)])
    audience = StringField(_l("Audience"), validators=[Optional(), Length(max=300)])
    description = TextAreaField(_l("What will you do?"), validators=[DataRequired(), Length(max=5000)])
    target_date = DateField(_l("Target date"), validators=[Optional()])
    public = BooleanField(
        _l(
            "Once delivered, this commitment may be shown on the public page "
            "(name, organisation and links; never your email)"
        )
    )

    def set_platforms(self, platforms) -> None:
        self.platforms.choices = [(p.code, p.label) for p in platforms]


class OnBehalfForm(PledgeForm):
    registration_id = SelectField(
        _l("Registrant"),
        coerce=int_or_none,
        validate_choice=False,
        validators=[DataRequired(message=_l("Choose a registrant of this event."))],
    )


class UpdateForm(FlaskForm):
    """Move a commitment on: in progress, delivered (with links), withdrawn, or just a note."""

    action = RadioField(_l("What happened?"), validators=[DataRequired()], validate_choice=False)
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=5000)])
    links = TextAreaField(
        _l("Links to the post or campaign (one per line, http:// or https://)"),
        validators=[Optional(), Length(max=20000)],
    )
    published_on = DateField(_l("Publication date"), validators=[Optional()])
    views = IntegerField(_l("Views"), validators=[Optional(), NumberRange(min=0)])
    impressions = IntegerField(_l("Impressions"), validators=[Optional(), NumberRange(min=0)])
    shares = IntegerField(_l("Shares"), validators=[Optional(), NumberRange(min=0)])


class PlatformForm(FlaskForm):
    label = StringField(_l("New platform"), validators=[DataRequired(), Length(max=100)])
