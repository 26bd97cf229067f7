from collections import OrderedDict
from contextlib import suppress
from threading import Lock
from typing import NamedTuple

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import BooleanField, EmailField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length, Optional
from wtforms.widgets import Select, html_params

from webinar_mgr.directory.models import SECTORS
from webinar_mgr.forms_common import TimezoneField, int_or_none


class _Written(NamedTuple):
    pieces: tuple[str, ...]  # the list's markup, every option unselected
    positions: tuple[int, ...]  # where each option sits in ``pieces``
    flat: tuple  # the options (WTForms' Choice), in order
    chosen_at: dict  # coerced value -> the options with that value


class OptionsOnce(Select):
    """A ``<select>`` whose options are written once per process for each list (the time zones in
    the reader's language, the countries, the organisations): each page only marks the chosen one
    (issue 19: the registration page wrote some 650 options on every request, most of its time).
    The list itself is the key, so a changed list (another language, a new organisation, a new day's
    UTC offsets) is written anew; the output is Select's, byte for byte.

    The key is one pass over the field's own ``choices`` (values and labels, without WTForms'
    normalisation, which made a new object per option three times a list); the chosen option is
    found by its coerced value in a table made when the list was written."""

    _written: OrderedDict = OrderedDict()
    _lock = Lock()
    KEEP = 64  # lists kept per process

    def __call__(self, field, **kwargs):
        raw = field.choices
        if self.multiple or not isinstance(raw, (list, tuple, dict)):
            return super().__call__(field, **kwargs)
        kwargs.setdefault("id", field.id)
        flags = getattr(field, "flags", {})
        for k in dir(flags):
            if k in self.validation_attrs and k not in kwargs:
                kwargs[k] = getattr(flags, k)
        written = self._find(raw, field)
        try:
            chosen = written.chosen_at.get(field.data, ())
        except TypeError:  # unhashable data (a list): no single option's value equals it
            chosen = ()
        pieces = written.pieces
        if chosen:
            pieces = list(pieces)
            for i in chosen:
                pieces[written.positions[i]] = self.render_option(written.flat[i]._replace(selected=True))
        return Markup(f"<select {html_params(name=field.name, **kwargs)}>" + "".join(pieces) + "</select>")

    @staticmethod
    def _key(raw, coerce) -> tuple:
        def item(c):
            if isinstance(c, tuple):
                return tuple(x if x is None or isinstance(x, (str, int)) else str(x) for x in c)
            if isinstance(c, str):
                return c
            return (c.value, str(c.label), repr(c.render_kw), c.optgroup)  # a SelectChoice

        if isinstance(raw, dict):
            body = tuple(
                (str(g), tuple(map(item, v)) if isinstance(v, (list, tuple)) else str(v)) for g, v in raw.items()
            )
            return ("groups", body, coerce)
        return ("list", tuple(map(item, raw)), coerce)

    def _find(self, raw, field) -> _Written:
        key = self._key(raw, getattr(field, "coerce", None))
        with self._lock:
            written = self._written.get(key)
            if written is not None:
                self._written.move_to_end(key)
                return written
        written = self._write(field)
        with self._lock:
            self._written[key] = written
            while len(self._written) > self.KEEP:
                self._written.popitem(last=False)
        return written

    def _write(self, field) -> _Written:
        if field.has_groups():
            groups = [(group, list(choices)) for group, choices in field._iter_groups_normalized()]
        else:
            groups = [(None, list(field._iter_choices_normalized()))]
        pieces: list[str] = []
        positions: list[int] = []
        flat: list = []
        chosen_at: dict = {}
        coerce = getattr(field, "coerce", str)
        for group, choices in groups:
            if group is not None:
                pieces.append(f"<optgroup {html_params(label=group)}>")
            for c in choices:
                positions.append(len(pieces))
                pieces.append(self.render_option(c._replace(selected=False)))
                with suppress(TypeError, ValueError):  # chosen when coerce(its value) == field.data
                    chosen_at.setdefault(coerce(c.value), []).append(len(flat))
                flat.append(c)
            if group is not None:
                pieces.append("</optgroup>")
        return _Written(tuple(pieces), tuple(positions), tuple(flat), chosen_at)


class OrganisationForm(FlaskForm):
    """The organisation a person gives: a known one picked from the list, or a new one with its
    sector and country (templates/macros/organisation.html shows them together; the service
    resolves them with directory.resolve_organisation)."""

    organisation_id = SelectField(
        _l("Pick it from the list"),
        coerce=int_or_none,
        validators=[Optional()],
        validate_choice=False,
        widget=OptionsOnce(),
    )
    organisation_name = StringField(_l("Its name"), validators=[Optional(), Length(max=200)])
    sector = SelectField(_l("Its sector"), validators=[Optional()], validate_choice=False)
    country_code = SelectField(_l("Its country"), validators=[Optional()], validate_choice=False, widget=OptionsOnce())
    member_government_id = SelectField(
        _l("For a government agency: the member government"),
        coerce=int_or_none,
        validators=[Optional()],
        validate_choice=False,
        widget=OptionsOnce(),
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
    timezone = TimezoneField(widget=OptionsOnce())
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
