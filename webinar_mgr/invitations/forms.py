from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Optional

from webinar_mgr.directory.forms import encoding_field
from webinar_mgr.directory.models import SECTORS
from webinar_mgr.forms_common import int_or_none

from .models import CATEGORIES


class DirectoryForm(FlaskForm):
    member_government_id = SelectField(
        _l("Member government"), coerce=int_or_none, validators=[Optional()], validate_choice=False
    )
    sector = SelectField(
        _l("Sector"), validators=[Optional()], choices=[("", _l("Any"))] + [(k, v) for k, v in SECTORS.items()]
    )
    tag = SelectField(_l("Tag"), validators=[Optional()], validate_choice=False)
    focal_points_only = BooleanField(_l("Focal points only"))
    category = SelectField(_l("Category"), choices=list(CATEGORIES.items()), validators=[DataRequired()])


class GuestsForm(FlaskForm):
    pasted = TextAreaField(
        _l("Guests, one per line"),
        validators=[Optional()],
        render_kw={"rows": 6, "placeholder": _l("Ana Cruz <ana.cruz@example.org>")},
    )
    upload = FileField(_l("…or a CSV file (the directory's columns: name, email, organisation, position, timezone …)"))
    encoding = encoding_field()
    category = SelectField(_l("Category"), choices=list(CATEGORIES.items()), validators=[DataRequired()])


class ConfirmGuestsForm(FlaskForm):
    """The confirmation button of a guest-list preview (CSRF only)."""
