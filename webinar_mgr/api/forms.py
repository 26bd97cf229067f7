from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from webinar_mgr.forms_common import CheckboxListField

from .services import DEFAULT_DAYS, MAX_DAYS


class TokenForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    scopes = CheckboxListField(_l("Scopes"), choices=[])
    days = IntegerField(_l("Valid for (days)"), default=DEFAULT_DAYS, validators=[NumberRange(1, MAX_DAYS)])


class WebhookForm(FlaskForm):
    url = StringField(_l("URL"), validators=[DataRequired(), Length(max=1000)])
    description = StringField(_l("Description"), validators=[Optional(), Length(max=200)])
    event_types = CheckboxListField(_l("Events"), choices=[])


class ConfirmForm(FlaskForm):
    """A button (revoke, delete, send test): the CSRF token only."""
