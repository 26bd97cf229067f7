from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length

from .models import KINDS
from .services import KIND_LABELS, MAX_NOTICE_CHARS


class NoticeForm(FlaskForm):
    body = TextAreaField(
        _l("The privacy notice (plain text; a blank line starts a new paragraph)"),
        validators=[DataRequired(), Length(max=MAX_NOTICE_CHARS)],
    )


class RetentionForm(FlaskForm):
    """One field per kind of data, in days. Text fields, so that the service's messages (zero days,
    100 years...) are the ones shown rather than a generic "not a number"."""


for _kind in KINDS:
    setattr(RetentionForm, _kind, StringField(KIND_LABELS[_kind], validators=[DataRequired(), Length(max=12)]))


class PersonForm(FlaskForm):
    email = EmailField(_l("Email address"), validators=[DataRequired(), Email(), Length(max=254)])


class EraseForm(FlaskForm):
    email = HiddenField(validators=[DataRequired(), Length(max=254)])
    confirm_email = StringField(
        _l("Type the address again to confirm the erasure"), validators=[DataRequired(), Length(max=254)]
    )


class PublicConsentForm(FlaskForm):
    public = BooleanField(
        _l("I agree to appear on the working group's public pages (public commitments, published participant lists).")
    )
