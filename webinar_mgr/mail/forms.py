from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField
from wtforms.validators import Optional


class RetryFailedForm(FlaskForm):
    """Queue the failed messages again: all of them, or those whose last attempt ended on or
    after a day (in the reader's time zone)."""

    since = DateField(_l("Failed on or after (optional)"), validators=[Optional()])
