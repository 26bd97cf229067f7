"""Shared form pieces."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import SelectField
from wtforms.validators import ValidationError

from .i18n import all_timezones, is_valid_timezone


class TimezoneField(SelectField):
    """An IANA time zone chosen from the list."""

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("choices", [(z, z.replace("_", " ")) for z in all_timezones()])
        kwargs.setdefault("validate_choice", False)
        super().__init__(label or _l("Time zone"), validators, **kwargs)

    def pre_validate(self, form):
        if not is_valid_timezone(self.data):
            raise ValidationError(_l("Unknown time zone."))
