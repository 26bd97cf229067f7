"""Shared form pieces and the one form-handling flow of every page.

``handle_form(form, action, render=..., done=...)``: a valid submission calls ``action()`` (one
service call); a DomainError from the service puts its field errors next to their fields and its
message at the top of the form (``form.form_errors``, shown by the ``error_summary`` macro in
templates/macros/forms.html), and the page answers with the error's status code; success returns
``done(result)`` (usually a redirect with a flash message). A page shown for the first time
answers 200, an invalid submission 400.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_babel import get_translations, ngettext
from flask_babel import lazy_gettext as _l
from flask_wtf import form as flask_wtf_form
from wtforms import SelectField, SelectMultipleField
from wtforms.validators import ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from .errors import DomainError
from .i18n import canonical_zone, is_valid_timezone, timezone_choices


class TimezoneField(SelectField):
    """An IANA time zone, picked from the zones grouped by region with their UTC offset and city in
    the reader's language, the member governments' zones first (i18n.timezone_choices); a search
    box filters it (``data-filterable``, static/js/app.js). A legacy name ("Asia/Rangoon") is
    shown and saved as its current one ("Asia/Yangon")."""

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("choices", timezone_choices)
        kwargs.setdefault("validate_choice", False)
        render_kw = dict(kwargs.pop("render_kw", None) or {})
        render_kw.setdefault("data-filterable", _l("Search: a city or UTC+07"))
        super().__init__(label or _l("Time zone"), validators, render_kw=render_kw, **kwargs)

    def process_data(self, value):
        super().process_data(canonical_zone(value) if value else value)

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if self.data:
            self.data = canonical_zone(self.data)

    def pre_validate(self, form):
        if not is_valid_timezone(self.data):
            raise ValidationError(_l("Unknown time zone."))


# WTForms' own messages, in this app's catalogue so that every offered language has them (WTForms
# ships no Thai, Vietnamese or Indonesian): FormTranslations below looks a message up in WTForms'
# catalogue first, then in ours. Listed (never called) so that `make translations` extracts them.
WTFORMS_MESSAGES = (
    _l("This field is required."),
    _l("Invalid input."),
    _l("Invalid email address."),
    _l("Invalid URL."),
    _l("Not a valid choice."),
    _l("Not a valid integer value."),
    _l("Not a valid decimal value."),
    _l("Not a valid float value."),
    _l("Not a valid datetime value."),
    _l("Not a valid date value."),
    _l("Not a valid time value."),
    _l("Field must be equal to %(other_name)s."),
    _l("Field must be between %(min)d and %(max)d characters long."),
    _l("Number must be at least %(min)s."),
    _l("Number must be at most %(max)s."),
    _l("Number must be between %(min)s and %(max)s."),
    _l("Date must be at least %(min)s."),
    _l("Date must be at most %(max)s."),
    _l("The CSRF token is missing."),
    _l("The CSRF token has expired."),
    _l("The CSRF token is invalid."),
    _l("Invalid Choice: could not coerce."),
)


def _wtforms_plural_markers() -> None:  # never called: marks the plural messages for extraction
    ngettext("Field must be at least %(min)d character long.", "Field must be at least %(min)d characters long.", 1)
    ngettext("Field cannot be longer than %(max)d character.", "Field cannot be longer than %(max)d characters.", 1)
    ngettext("Field must be exactly %(max)d character long.", "Field must be exactly %(max)d characters long.", 1)


class FormTranslations:
    """The translations WTForms uses for its messages (Flask-WTF's, with this app's catalogue as
    the fallback): "This field is required." in Thai, Vietnamese and Indonesian too."""

    def __init__(self, wtforms_translations):
        self._wtforms = wtforms_translations

    def gettext(self, string):
        translated = self._wtforms.gettext(string)
        return translated if translated != string else get_translations().ugettext(string)

    def ngettext(self, singular, plural, n):
        translated = self._wtforms.ngettext(singular, plural, n)
        if translated not in (singular, plural):
            return translated
        return get_translations().ungettext(singular, plural, n)


# Flask-WTF hands its module's ``translations`` to every form (FlaskForm.Meta.get_translations).
if flask_wtf_form.translations is not None:
    flask_wtf_form.translations = FormTranslations(flask_wtf_form.translations)


class CheckboxListField(SelectMultipleField):
    """A multiple choice shown as a list of checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


#: The largest id or number a query may carry: PostgreSQL's INTEGER (SQLite's is wider).
DB_INT_MAX = 2**31 - 1


def db_int(value) -> int:
    """``int()`` for numbers that go into a query: ValueError also beyond the database's INTEGER
    (``request.args.get(name, type=int)`` uses it: see ``webinar_mgr.BoundedParams``)."""
    number = int(value)
    if not -DB_INT_MAX <= number <= DB_INT_MAX:
        raise ValueError(f"{number} is out of range")
    return number


def int_or_none(value) -> int | None:
    """Coerce for optional id choices: "", "None", anything not a number and numbers no row can
    have (beyond the database's INTEGER) become None."""
    try:
        return db_int(value) if value not in (None, "", "None") else None
    except (TypeError, ValueError):
        return None


def apply_domain_error(form, exc: DomainError) -> None:
    """Field errors next to their fields; the message (and errors for fields the form does not
    have) in the form's error summary."""
    summary = [exc.message] if exc.message else []
    for name, errors in exc.field_errors.items():
        field = form._fields.get(name)
        if field is not None:
            field.errors = list(field.errors) + list(errors)
        else:
            summary.extend(e for e in errors if e not in summary)
    form.form_errors = list(form.form_errors or []) + summary


def form_status(form) -> int:
    """200 for a form shown, 400 for a submission that did not validate."""
    return 400 if form.errors else 200


def handle_form(
    form,
    action: Callable[[], Any],
    *,
    render: Callable[[], Any],
    done: Callable[[Any], Any],
    check: Callable[[], Any] | None = None,
):
    """The one form flow (see the module's docstring). ``render()`` returns the page's body.

    ``check()``, when given, runs the service's own validation without saving anything (it raises
    the DomainError that ``action()`` would): a submission the form refuses then shows the service's
    errors too, on the fields the form found no fault with, so that every error shows in one pass.
    """
    if form.validate_on_submit():
        try:
            result = action()
        except DomainError as exc:
            apply_domain_error(form, exc)
            return render(), exc.status_code
        return done(result)
    if check is not None and form.is_submitted():
        try:
            check()
        except DomainError as exc:
            add_missing_errors(form, exc)
    return render(), form_status(form)


def add_missing_errors(form, exc: DomainError) -> None:
    """The service's field errors on the fields that have none yet (the form's own come first)."""
    for name, errors in exc.field_errors.items():
        field = form._fields.get(name)
        if field is not None and not field.errors:
            field.errors = list(errors)
