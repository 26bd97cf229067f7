"""The co-chairs' statement form (one text area per section) and the membership review's span."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, TextAreaField

from .statement import MAX_SECTION_CHARS, SECTIONS


class StatementForm(FlaskForm):
    base_version = HiddenField()


for _key, _label in SECTIONS:
    setattr(StatementForm, _key, TextAreaField(_label, render_kw={"rows": 10, "maxlength": MAX_SECTION_CHARS}))

# "refresh from the data" buttons name the section they refresh; "save" saves every section.
ACTIONS = ("save", "refresh_all")
