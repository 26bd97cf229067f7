"""People and their organisations: the one way an organisation a person gave becomes a row.

Every person who reaches an event (invited, registered, walked in, imported) is a contact with an
organisation, and every organisation has a sector and, for a government agency, the member
government it belongs to (docs/architecture.md, "People and their organisations"). A person may
pick a known organisation or type a new one: :func:`resolve_organisation` finds the known one (by
id, or by name or short name, case- and space-insensitively) or creates the new one, marked with
how it came in (``added_via``) and ``needs_review`` for the secretariat. It never drops what the
person gave and refuses only what cannot be true (a name of 2,000 characters, a sector or a
country that does not exist, a member government for a company).

Callers use these through ``directory.services`` (which re-exports them).
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import sqlalchemy as sa
from babel import Locale
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from webinar_mgr.audit import services as audit
from webinar_mgr.errors import Conflict, ValidationFailed
from webinar_mgr.extensions import db
from webinar_mgr.persistence import unit_of_work

from .models import (
    ADDED_VIA,
    SECTOR_CIVIL,
    SECTOR_IO,
    SECTOR_MEMBER,
    SECTOR_PRIVATE,
    SECTORS,
    Organisation,
)

NAME_MAX = 200


@dataclass
class OrganisationChoice:
    """What a person gave for their organisation: a known one picked from a list, or a new one typed."""

    organisation_id: int | None = None  # a known organisation picked from the list
    name: str | None = None  # or a new one typed
    sector: str | None = None  # its sector (required with a new name, unless inferred)
    country_code: str | None = None  # ISO 3166-1 alpha-2 (a country's English name is read too), optional
    member_government_id: int | None = None  # for a government agency: the member government it belongs to

    @property
    def given(self) -> bool:
        return bool(
            self.organisation_id
            or _squash(self.name)
            or _squash(self.sector)
            or _squash(self.country_code)
            or self.member_government_id
        )


def _text(value) -> str:
    return str(value or "").replace("\x00", "")


def _squash(value) -> str:
    """Spaces collapsed, ends trimmed, NUL characters dropped."""
    return " ".join(_text(value).split())


def name_key(name: str | None) -> str:
    """The form two organisation names are compared in: case- and space-insensitive."""
    return _squash(name).casefold()


# Sectors ------------------------------------------------------------------------------------------

# A guess from the name, for the secretariat to review (the organisation is marked needs_review).
# Checked in this order: a company's legal form, then international organisations, then government
# words, then weaker company words; anything else is taken for civil society.
_COMPANY_FORM = re.compile(
    r"\b(ltd|limited|inc|incorporated|plc|llc|llp|pte|pty|gmbh|s\.?a|tbk|sdn\.? bhd|bhd|berhad|co\.?,? ltd|k\.?k)\b\.?",
    re.IGNORECASE,
)
# Acronyms of international organisations; UN and WHO also are English words, so they count only
# in a name that is not written all in capitals ("WHO CARES FOUNDATION").
_IO_ACRONYMS = {
    "IOM", "ILO", "OHCHR", "ASEAN", "INTERPOL", "OECD", "OSCE", "ESCAP", "UNODC", "UNHCR", "UNICEF",
    "UNDP", "UNFPA", "UNESCO", "UNESCAP", "UNAIDS", "UNOPS", "UNEP", "UNIDO", "UNCTAD", "UNITAR",
    "UNRWA", "UNWOMEN", "UNOHCHR",
}  # fmt: skip
_IO_AMBIGUOUS = {"UN", "WHO"}
_UN_ACRONYM = re.compile(r"UN[A-Z]{1,6}")
_NON_GOVERNMENT = re.compile(r"\bnon[- ]?government(al)?\b", re.IGNORECASE)
_IO_WORDS = re.compile(
    r"\b(united nations|organi[sz]ation for|international organi[sz]ation|world bank|asian development bank"
    r"|european union|un women)\b",
    re.IGNORECASE,
)
_GOVERNMENT_WORDS = re.compile(
    r"\b(ministry|ministries|minist[eè]re|ministerio|kementerian|department|dept|police|government|gov't"
    r"|embassy|consulate|immigration|customs|attorney[- ]general)\b",
    re.IGNORECASE,
)
_COMPANY_WORDS = re.compile(r"\b(company|corporation|corp|bank|group|holdings?)\b", re.IGNORECASE)


def infer_sector(name: str) -> str:
    """The sector an organisation's name suggests: a GUESS, to be reviewed (never a fact).

    Ministry, Department, Police, Government... -> member_government; Ltd, Inc, Company,
    Corporation, Bank, Group, PLC... -> private_sector; UN*, IOM, UNODC, "Organization for ...",
    "United Nations" -> international_organisation; anything else -> civil_society.
    """
    text = _squash(name)
    if _COMPANY_FORM.search(text):
        return SECTOR_PRIVATE
    if _io_acronym(text) or _IO_WORDS.search(text):
        return SECTOR_IO
    if _GOVERNMENT_WORDS.search(_NON_GOVERNMENT.sub(" ", text)):
        return SECTOR_MEMBER
    if _COMPANY_WORDS.search(text):
        return SECTOR_PRIVATE
    return SECTOR_CIVIL


def _io_acronym(text: str) -> bool:
    shouting = text.isupper()
    for word in re.findall(r"[A-Za-z]+", text):
        if word in _IO_ACRONYMS or (not shouting and (word in _IO_AMBIGUOUS or _UN_ACRONYM.fullmatch(word))):
            return True
    return False


def sector_from_text(value: str | None) -> str | None:
    """A sector's code from its code or its English label ("Civil society", "civil-society"),
    None when blank; ValueError when it is no sector."""
    text = _squash(value)
    if not text:
        return None
    key = re.sub(r"[\s\-]+", "_", text.casefold())
    if key in SECTORS:
        return key
    for code in SECTORS:
        if key == code.replace("_", "") or key == re.sub(r"[\s\-]+", "_", str(SECTORS[code]).casefold()):
            return code
    aliases = {
        "government": SECTOR_MEMBER,
        "private": SECTOR_PRIVATE,
        "company": SECTOR_PRIVATE,
        "ngo": SECTOR_CIVIL,
        "cso": SECTOR_CIVIL,
        "io": SECTOR_IO,
        "international_organization": SECTOR_IO,
    }
    if key in aliases:
        return aliases[key]
    raise ValueError(text)


# Countries ----------------------------------------------------------------------------------------

# Babel's territories that are not countries or territories with an ISO 3166-1 alpha-2 code.
_NOT_COUNTRIES = {"EU", "EZ", "UN", "QO", "XA", "XB", "XK", "ZZ"}
# Names people write that Babel's English list spells otherwise.
_COUNTRY_ALIASES = {
    "viet nam": "VN",
    "republic of korea": "KR",
    "korea": "KR",
    "south korea": "KR",
    "democratic people's republic of korea": "KP",
    "dprk": "KP",
    "lao pdr": "LA",
    "lao people's democratic republic": "LA",
    "lao": "LA",
    "brunei darussalam": "BN",
    "turkey": "TR",
    "turkiye": "TR",
    "iran (islamic republic of)": "IR",
    "islamic republic of iran": "IR",
    "hong kong": "HK",
    "hong kong sar": "HK",
    "macau": "MO",
    "macao": "MO",
    "macau sar china": "MO",
    "syrian arab republic": "SY",
    "united states": "US",
    "usa": "US",
    "uae": "AE",
    "png": "PG",
    "east timor": "TL",
    "france (new caledonia)": "NC",
    "burma": "MM",
}


@lru_cache(maxsize=1)
def _countries() -> dict[str, str]:
    territories = Locale("en").territories
    return {
        code: name
        for code, name in territories.items()
        if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES
    }


def country_choices() -> list[tuple[str, str]]:
    """(ISO code, English name) of every country and territory, sorted by name."""
    return sorted(_countries().items(), key=lambda item: _fold(item[1]))


def _fold(text: str) -> str:
    """Lower case, accents and punctuation other than apostrophes and brackets dropped."""
    text = unicodedata.normalize("NFKD", _squash(text)).encode("ascii", "ignore").decode()
    text = re.sub(r"[^\w'() ]+", " ", text.casefold().replace("’", "'"))
    text = " ".join(text.split())
    return text[4:] if text.startswith("the ") else text


@lru_cache(maxsize=1)
def _country_names() -> dict[str, str]:
    names = {_fold(name): code for code, name in _countries().items()}
    names.update(_COUNTRY_ALIASES)
    return names


def country_code_for(value: str | None) -> str | None:
    """The ISO code for "TH", "th", "Thailand", "Viet Nam", "Korea, Republic of"...; None when
    blank; ValueError when no country is known by that code or name."""
    text = _squash(value)
    if not text:
        return None
    if len(text) == 2 and text.isalpha():
        code = text.upper()
        if code in _countries():
            return code
        raise ValueError(text)
    folded = _fold(text)
    candidates = [folded]
    if "," in text:  # "Korea, Republic of" -> "Republic of Korea"
        head, _sep, tail = text.partition(",")
        candidates.append(_fold(f"{tail} {head}"))
    for candidate in candidates:
        code = _country_names().get(candidate)
        if code:
            return code
    raise ValueError(text)


def member_government_for_country(country: str) -> Organisation | None:
    """The member government of this country ("Thailand", "TH", "Viet Nam", "Vietnam",
    "Korea, Republic of"), or None when the country is unknown or not a member."""
    try:
        code = country_code_for(country)
    except ValueError:
        code = None
    if code is None:
        return _member_by_name(country)
    return db.session.scalar(
        sa.select(Organisation)
        .where(Organisation.is_member_government, Organisation.country_code == code)
        .order_by(Organisation.id)
        .limit(1)
    ) or _member_by_name(country)


def _member_by_name(name: str | None) -> Organisation | None:
    key = name_key(name)
    if not key:
        return None
    for org in db.session.scalars(sa.select(Organisation).where(Organisation.is_member_government)):
        if key in (name_key(org.name), name_key(org.short_name)):
            return org
    return None


def member_government_of(org: Organisation | None) -> Organisation | None:
    """The member government a person of this organisation counts under: the organisation itself
    when it is one of the member governments, its member government for a government agency,
    else None."""
    if org is None:
        return None
    if org.is_member_government:
        return org
    if org.member_government_id is not None:
        return org.member_government or db.session.get(Organisation, org.member_government_id)
    return None


def member_government_choices() -> list[tuple[int, str]]:
    """(id, name) of the member governments themselves (not their agencies), by name."""
    stmt = sa.select(Organisation.id, Organisation.name).where(Organisation.is_member_government)
    return [(oid, name) for oid, name in db.session.execute(stmt.order_by(Organisation.name))]


def _member_in_name(name: str) -> Organisation | None:
    """A member government named in an agency's name ("Ministry of Labour, Cambodia"), longest
    name first; a guess like the sector, reviewed with it."""

    def words(text: str) -> str:
        return " ".join(_fold(text).replace("(", " ").replace(")", " ").split())

    folded = f" {words(name)} "
    best: tuple[int, Organisation] | None = None
    for org in db.session.scalars(sa.select(Organisation).where(Organisation.is_member_government)):
        for label in (org.name, org.short_name, _countries().get(org.country_code or "")):
            key = words(label or "")
            if len(key) >= 4 and f" {key} " in folded and (best is None or len(key) > best[0]):
                best = (len(key), org)
    return best[1] if best else None


# Finding or adding --------------------------------------------------------------------------------


def find_organisation(name: str | None) -> Organisation | None:
    """The known organisation with this name or short name, case- and space-insensitively (a full
    name wins over another organisation's short name)."""
    key = name_key(name)
    if not key:
        return None
    lowered = key.lower()
    stmt = sa.select(Organisation).where(
        sa.or_(sa.func.lower(Organisation.name) == lowered, sa.func.lower(Organisation.short_name) == lowered)
    )
    candidates = db.session.scalars(stmt.order_by(Organisation.id)).all()
    if not candidates and not key.isascii():
        # SQLite's lower() folds only ASCII letters: compare the rest here.
        candidates = db.session.scalars(sa.select(Organisation).order_by(Organisation.id)).all()
    for attr in ("name", "short_name"):
        for org in candidates:
            if name_key(getattr(org, attr)) == key:
                return org
    return None


def _field(errors: dict[str, list[str]], name: str, message: str) -> None:
    errors.setdefault(name, []).append(message)


def _fail(errors: dict[str, list[str]]) -> None:
    if errors:
        first = next(iter(errors.values()))[0]
        raise ValidationFailed(_("Please correct the organisation: %(first)s", first=first), field_errors=errors)


def _check_choice(choice: OrganisationChoice) -> tuple[str, str | None, str | None, Organisation | None]:
    """The cleaned name, sector, country code and member government, or ValidationFailed."""
    errors: dict[str, list[str]] = {}
    name = _squash(choice.name)
    if len(name) > NAME_MAX:
        _field(
            errors,
            "organisation_name",
            _("The organisation's name has %(n)d characters; at most %(max)d.", n=len(name), max=NAME_MAX),
        )
    sector = None
    try:
        sector = sector_from_text(choice.sector)
    except ValueError:
        _field(
            errors,
            "sector",
            _(
                "Unknown sector: %(sector)s (use one of: %(known)s).",
                sector=_squash(choice.sector)[:60],
                known=", ".join(SECTORS),
            ),
        )
    code = None
    try:
        code = country_code_for(choice.country_code)
    except ValueError:
        _field(
            errors,
            "country_code",
            _(
                "Unknown country: %(country)s (use the two-letter ISO code, e.g. TH).",
                country=_squash(choice.country_code)[:60],
            ),
        )
    member = None
    if choice.member_government_id:
        member = db.session.get(Organisation, choice.member_government_id)
        if member is None or not member.is_member_government:
            _field(errors, "member_government_id", _("This is not one of the member governments."))
            member = None
        elif sector is not None and sector != SECTOR_MEMBER:
            _field(
                errors,
                "member_government_id",
                _(
                    "Only a government agency belongs to a member government; a %(sector)s organisation does not.",
                    sector=str(SECTORS[sector]).lower(),
                ),
            )
    _fail(errors)
    return name, sector, code, member


def resolve_organisation(
    choice: OrganisationChoice, *, added_via: str, actor=None, infer: bool = False
) -> Organisation | None:
    """The organisation a person gave: the known one (by id, or by name or short name), else a
    new one created for review. None only when nothing was given.

    ``added_via`` says how a new one came in ("registration", "invitation", "import",
    "walk_in"). A new name needs its sector, unless ``infer`` is True (then :func:`infer_sector`
    guesses it). Only a member_government organisation (an agency) may name a member government;
    with none given, it is taken from the country, or else from a member named in the name.
    Validation errors are keyed organisation_id, organisation_name, sector, country_code,
    member_government_id. Runs in the caller's unit of work (or its own).
    """
    if added_via not in ADDED_VIA:
        raise ValueError(f"added_via must be one of {sorted(ADDED_VIA)}, not {added_via!r}")
    if choice.organisation_id:
        org = db.session.get(Organisation, choice.organisation_id) if isinstance(choice.organisation_id, int) else None
        if org is None:
            msg = _("Unknown organisation: choose one from the list, or type its name.")
            raise ValidationFailed(msg, field_errors={"organisation_id": [msg]})
        return org
    if not choice.given:
        return None
    name, sector, code, member = _check_choice(choice)
    if not name:
        if member is not None and sector in (None, SECTOR_MEMBER) and code is None:
            return member  # "my member government", no agency named: counted under it
        msg = _("Give the organisation's name.")
        raise ValidationFailed(msg, field_errors={"organisation_name": [msg]})
    known = find_organisation(name)
    if known is not None:
        return known
    if sector is None:
        if member is not None:
            sector = SECTOR_MEMBER
        elif infer:
            sector = infer_sector(name)
        else:
            msg = _("Choose the sector of %(name)s.", name=name)
            raise ValidationFailed(msg, field_errors={"sector": [msg]})
    if sector == SECTOR_MEMBER and member is None:
        member = (member_government_for_country(code) if code else None) or _member_in_name(name)
    return _add(name, sector, code, member, added_via=added_via, actor=actor)


def _savepoint():
    """A savepoint on PostgreSQL: when two people add the same new name at the same moment, the
    second insert fails alone and takes the organisation the first one saved. Not on SQLite:
    pysqlite starts no transaction before a SAVEPOINT, so releasing it would COMMIT the new
    organisation on its own, even when the caller's unit of work later rolls back (there the
    loser of the race gets a Conflict instead)."""
    return db.session.begin_nested() if _has_savepoints() else contextlib.nullcontext()


def _has_savepoints() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _add(name, sector, code, member, *, added_via: str, actor) -> Organisation:
    try:
        with unit_of_work(), _savepoint():
            org = Organisation(
                name=name,
                sector=sector,
                country_code=code or (member.country_code if member is not None else None),
                member_government_id=member.id if member is not None else None,
                added_via=added_via,
                needs_review=True,
            )
            db.session.add(org)
            db.session.flush()
            audit.record(
                actor,
                "organisation.add",
                org,
                summary=_("%(name)s added by %(via)s, to review", name=org.name, via=org.added_via_label),
                changes={
                    "name": [None, org.name],
                    "sector": [None, org.sector],
                    "country_code": [None, org.country_code],
                    "member_government": [None, member.name if member is not None else None],
                    "added_via": [None, added_via],
                },
            )
    except IntegrityError:
        # Only after a savepoint may the session read on (without one, the caller's unit of work
        # must roll back first).
        known = find_organisation(name) if _has_savepoints() else None
        if known is not None:
            return known
        msg = _("An organisation with this name was saved at the same moment; nothing was changed. Try again.")
        raise Conflict(msg, field_errors={"organisation_name": [msg]}) from None
    return org
